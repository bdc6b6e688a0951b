"""The README's "Use it in your own project", verbatim, on a fresh `startproject`: the SDK and
the Python client publish, delayed and retried messages go out, the project's own
`@qstash_verified` view accepts them all."""

from __future__ import annotations

import re
import sys
from pathlib import Path

from qstash import QStash

from tests.support import http_client
from tests.support.stack import ROOT, free_port

from .test_getting_started import ADMIN_LINE, clean_environment, orders
from .walkthrough import Walkthrough, sections

README = ROOT / "README.md"


def test_readme_own_project_section_runs_as_written(tmp_path: Path):
    [blocks] = [b for heading, b in sections(README.read_text()).items()
                if heading == "Use it in your own project"]
    port = free_port()
    # This checkout's package, as an installed one would be (the suite's own may be another).
    env = {**clean_environment(), "PYTHONPATH": str(ROOT)}
    walk = Walkthrough(tmp_path, env, substitutions={
        # The suite's interpreter stands for the reader's; a free port for the default 8080.
        "python ": f"{sys.executable} ", "qstash_dev --admin": f"qstash_dev --admin --port {port}"})
    walk.shell("python -m django startproject mysite .")
    assert [b.tag for b in blocks if b.language == "python"] == [
        "mysite/settings.py", "mysite/views.py", "mysite/urls.py", "mysite/celery.py",
        "mysite/__init__.py"]
    try:
        for block in blocks:
            walk.run(block)
        log = walk.log_of("qstash_dev")
        walk.wait_for(lambda: ADMIN_LINE.search(log.read_text()), "qstash_dev's banner")
        exported = dict(re.findall(r"^(QSTASH_\w+)=(\S+)$", log.read_text(), re.MULTILINE))
        url = exported["QSTASH_URL"]
        hook = f"{url}/hooks/paid"
        client = QStash(exported["QSTASH_TOKEN"], base_url=url)
        sent = {
            "sdk": client.message.publish_json(url=hook, body={"id": "sdk"}).message_id,
            "sdk-delayed": client.message.publish_json(url=hook, body={"id": "sdk-delayed"},
                                                       delay="2s").message_id,
            "sdk-retried": client.message.publish_json(
                url=hook, body={"id": "sdk-retried", "fail_first": True}, retries=2).message_id,
        }
        # The Python client, as the project's own code would call it (README: Publishing
        # from Django code), in a process of the project that runs no dispatcher.
        script = ("from django_qstash.client import publish_json; "
                  f"print(publish_json({hook!r}, {{'id': 'client-delayed'}}, delay='1s')); "
                  f"print(publish_json({hook!r}, {{'id': 'client-retried', 'fail_first': True}}))")
        ids = walk.shell(f'python manage.py shell -c "{script}"').split()
        sent["client-delayed"], sent["client-retried"] = ids[-2], ids[-1]

        found = walk.wait_for(lambda: (lambda o: o if set(sent) <= set(o) else None)(
            orders(log)), "every message in the view's log", timeout=120)
        assert {name: found[name][0] for name in sent} == sent
        assert {name: found[name][1] for name in sent} == {
            "sdk": 0, "sdk-delayed": 0, "sdk-retried": 1, "client-delayed": 0,
            "client-retried": 1}
        text = log.read_text()
        assert "invalid_signature" not in text and "not_configured" not in text
        assert http_client.get(f"{url}/static/admin/css/base.css", timeout=10).status_code == 200
    finally:
        walk.stop()
