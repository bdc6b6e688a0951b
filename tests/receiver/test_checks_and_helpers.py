"""Receiver system checks, the public test helpers, and import hygiene."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from types import ModuleType

import pytest
from asgiref.sync import async_to_sync
from django.http import JsonResponse
from django.test import AsyncClient
from django.urls import include, path
from django.utils.decorators import method_decorator
from django.views import View
from rest_framework.views import APIView

from django_qstash.receiver import QStashSignaturePermission, qstash_verified
from django_qstash.receiver.checks import check_receiver_settings, register_receiver_checks
from django_qstash.testing import QStashTestClient, sign_request, signature_headers

pytestmark = pytest.mark.urls("tests.receiver.urls")
MIDDLEWARE = "django_qstash.receiver.middleware.QStashSignatureMiddleware"


def ids(settings, monkeypatch, **qstash):
    monkeypatch.delenv("QSTASH_CURRENT_SIGNING_KEY", raising=False)
    monkeypatch.delenv("QSTASH_NEXT_SIGNING_KEY", raising=False)
    if "*" in settings.ALLOWED_HOSTS:  # W103 has tests of its own, below
        settings.ALLOWED_HOSTS = ["testserver"]
    settings.QSTASH = {**settings.QSTASH, **qstash}
    return sorted(message.id for message in check_receiver_settings())


@pytest.mark.parametrize(
    ("qstash", "expected"),
    [
        ({"CURRENT_SIGNING_KEY": "sig_x", "PROTECTED_PATHS": [r"^/hooks/"]}, []),
        ({"CURRENT_SIGNING_KEY": b"sig_x"}, ["django_qstash.E101"]),
        ({"NEXT_SIGNING_KEY": 5}, ["django_qstash.E101"]),
        ({"PROTECTED_PATHS": "/hooks/"}, ["django_qstash.E102"]),
        ({"PROTECTED_PATHS": [r"/hooks/(", "/ok/"]}, ["django_qstash.E102"]),
        ({"CANONICAL_BASE_URL": "example.com"}, ["django_qstash.E103"]),
        ({"CANONICAL_BASE_URL": "ftp://example.com"}, ["django_qstash.E103"]),
        ({"CANONICAL_BASE_URL": "https://example.com/?a=1"}, ["django_qstash.E103"]),
        ({"CANONICAL_BASE_URL": "https://example.com/api"}, []),
        ({"CLOCK_TOLERANCE_SECONDS": -1}, ["django_qstash.E104"]),
        ({"CLOCK_TOLERANCE_SECONDS": "5"}, ["django_qstash.E104"]),
        ({"REPLAY_PROTECTION": "yes"}, ["django_qstash.E105"]),
        ({"REPLAY_CACHE_ALIAS": "nope"}, ["django_qstash.E106"]),
        ({"REPLAY_CACHE_ALIAS": "nope", "REPLAY_PROTECTION": False}, []),
    ],
)
def test_checks(settings, monkeypatch, qstash, expected):
    assert ids(settings, monkeypatch, **qstash) == expected


def test_middleware_warnings(settings, monkeypatch):
    settings.MIDDLEWARE = [MIDDLEWARE, *settings.MIDDLEWARE]
    assert ids(settings, monkeypatch, CURRENT_SIGNING_KEY=None, NEXT_SIGNING_KEY=None,
               PROTECTED_PATHS=[]) == ["django_qstash.W101", "django_qstash.W102"]
    assert ids(settings, monkeypatch, CURRENT_SIGNING_KEY="sig_x",
               PROTECTED_PATHS=["/hooks/"]) == []


def _urlconf(*views) -> ModuleType:
    module = ModuleType("receiver_urls_under_check")
    module.urlpatterns = [path("api/", include([path(f"v{i}/", view) for i, view in
                                                 enumerate(views)]))]
    return module


def _plain(request):
    return JsonResponse({})


class _PlainView(View):
    def post(self, request):
        return JsonResponse({})


@method_decorator(qstash_verified, name="dispatch")
class _MethodDecorated(View):
    def post(self, request):
        return JsonResponse({})


class _Permitted(APIView):
    permission_classes = [QStashSignaturePermission]


@pytest.mark.parametrize("receiver", [
    qstash_verified(_plain), qstash_verified(type("Decorated", (View,), {})).as_view(),
    _MethodDecorated.as_view(), _Permitted.as_view()],
    ids=["function", "class", "method_decorator", "drf_permission"])
def test_any_host_with_a_protected_view_warns(settings, receiver):
    settings.ALLOWED_HOSTS = ["*"]
    settings.QSTASH = {**settings.QSTASH, "CURRENT_SIGNING_KEY": "sig_x"}
    settings.ROOT_URLCONF = _urlconf(_plain, receiver)
    [warning] = [m for m in check_receiver_settings() if m.id == "django_qstash.W103"]
    assert "ALLOWED_HOSTS" in warning.msg and "CANONICAL_BASE_URL" in warning.hint


@pytest.mark.parametrize(("hosts", "qstash", "urlconf", "middleware", "warned"), [
    (["*"], {}, "plain", False, False),  # nothing verifies signatures
    (["*"], {"PROTECTED_PATHS": ["^/hooks/"]}, "plain", True, True),  # the middleware does
    (["*"], {"PROTECTED_PATHS": ["^/hooks/"]}, "plain", False, False),  # not installed
    (["*"], {"CANONICAL_BASE_URL": "https://hooks.example.com"}, "protected", True, False),
    (["hooks.example.com", ".example.org"], {}, "protected", True, False),
    (["*"], {}, "protected", False, True),
])
def test_host_trust_warning(settings, hosts, qstash, urlconf, middleware, warned):
    settings.ALLOWED_HOSTS = hosts
    settings.QSTASH = {**settings.QSTASH, "CURRENT_SIGNING_KEY": "sig_x", **qstash}
    settings.ROOT_URLCONF = (_urlconf(_plain, _PlainView.as_view()) if urlconf == "plain"
                             else _urlconf(qstash_verified(_plain)))
    if middleware:
        settings.MIDDLEWARE = [MIDDLEWARE, *settings.MIDDLEWARE]
    found = [m.id for m in check_receiver_settings() if m.id == "django_qstash.W103"]
    assert found == (["django_qstash.W103"] if warned else [])


EXAMPLE_HOSTS_SCRIPT = """
import json, os
import django
from django.core.checks import run_checks
from django.test import Client
from django_qstash.testing import sign_request

django.setup()


def post(host):
    body = b"{}"
    headers = sign_request(f"http://{host}/example/hook", body)
    return Client().post("/example/hook", body, content_type="application/json",
                         HTTP_HOST=host, **headers).status_code


print(json.dumps({"attacker": post("attacker.example"), "local": post("127.0.0.1:8080"),
                  "checks": sorted(m.id for m in run_checks() if "qstash" in m.id)}))
"""


@pytest.mark.parametrize(("allowed", "attacker", "checks"), [
    (None, 400, []), ("hooks.example.com", 400, []), ("*", 200, ["django_qstash.W103"])])
def test_example_settings_refuse_a_token_retargeted_by_host(allowed, attacker, checks):
    from django_qstash.core.signing import generate_signing_key

    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "QSTASH_"))}
    env.update(DJANGO_SETTINGS_MODULE="example_project.settings",
               QSTASH_CURRENT_SIGNING_KEY=generate_signing_key(),
               DATABASE_URL="sqlite:///:memory:")
    if allowed:
        env["DJANGO_ALLOWED_HOSTS"] = allowed
    result = subprocess.run([sys.executable, "-c", EXAMPLE_HOSTS_SCRIPT], env=env,
                            capture_output=True, text=True, timeout=120, check=True)
    found = json.loads(result.stdout.strip().splitlines()[-1])
    assert found == {"attacker": attacker, "local": 200, "checks": checks}


def test_register_receiver_checks_is_idempotent():
    from django.core.checks.registry import registry

    register_receiver_checks()
    register_receiver_checks()
    assert check_receiver_settings in registry.get_checks()
    assert sum(c is check_receiver_settings for c in registry.get_checks()) == 1


def test_sign_request_with_the_plain_client(keys, client):
    body = b'{"a": 1}'
    extra = sign_request("http://testserver/fn/", body)
    assert sorted(extra) == ["HTTP_UPSTASH_MESSAGE_ID", "HTTP_UPSTASH_RETRIED",
                             "HTTP_UPSTASH_SIGNATURE", "HTTP_USER_AGENT"]
    response = client.post("/fn/", body, content_type="application/json", **extra)
    assert response.status_code == 200
    wrong_key = sign_request("http://testserver/fn/", body, key=keys.unknown)
    assert client.post("/fn/", body, content_type="application/json",
                       **wrong_key).status_code == 401


def test_signature_headers_with_async_client(keys):
    headers = signature_headers("http://testserver/hooks/async/", "text body")
    response = async_to_sync(AsyncClient().post)(
        "/hooks/async/", b"text body", content_type="text/plain", headers=headers
    )
    assert response.status_code == 200


def test_sign_request_needs_a_key(settings, monkeypatch):
    monkeypatch.delenv("QSTASH_CURRENT_SIGNING_KEY", raising=False)
    settings.QSTASH = {**settings.QSTASH, "CURRENT_SIGNING_KEY": None}
    with pytest.raises(ValueError, match="signing key"):
        sign_request("http://testserver/fn/")


@pytest.mark.parametrize(
    ("path", "data", "content_type"),
    [
        ("/fn/", {"a": [1, 2], "b": "ü"}, "application/json"),
        ("/fn/?page=2&q=x", {"a": 1}, "application/json"),
        ("/cbv/", {"field": "value", "other": "2"}, None),  # multipart (Client default)
        ("/hooks/sync/", "raw text", "text/plain"),
        ("/drf/", {"n": 1}, "application/json"),
    ],
)
def test_qstash_test_client_signs_what_the_receiver_sees(keys, path, data, content_type):
    kwargs = {"content_type": content_type} if content_type else {}
    response = QStashTestClient().post_signed(path, data, **kwargs)
    assert response.status_code == 200, response.content
    assert response.json()["sub"] == "http://testserver" + path


def test_qstash_test_client_behind_proxy_and_canonical_url(keys, settings):
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    client = QStashTestClient(HTTP_HOST="testserver")
    response = client.post_signed("/fn/", {"a": 1}, content_type="application/json",
                                  HTTP_X_FORWARDED_PROTO="https")
    assert response.json()["sub"] == "https://testserver/fn/"
    assert client.post_signed("/fn/", {}, content_type="application/json",
                              secure=True).status_code == 200
    settings.QSTASH = {**settings.QSTASH, "CANONICAL_BASE_URL": "https://hooks.example.com"}
    response = client.post_signed("/fn/", {}, content_type="application/json")
    assert response.json()["sub"] == "https://hooks.example.com/fn/"


def _run_isolated(code: str) -> dict:
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True)
    return json.loads(result.stdout)


def test_signing_module_needs_no_django():
    loaded = _run_isolated(
        "import sys, json; import django_qstash.core.signing; "
        "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))"
    )
    assert "django" not in loaded and "rest_framework" not in loaded


def test_receiver_works_without_drf_celery_or_redis():
    # Block the optional dependencies outright, then use the decorator and middleware.
    code = """
import json, sys
for name in ("rest_framework", "celery", "redis"):
    sys.modules[name] = None
from django.conf import settings
settings.configure(ALLOWED_HOSTS=["*"], ROOT_URLCONF=__name__, SECRET_KEY="x",
                   QSTASH={"CURRENT_SIGNING_KEY": "sig_" + "a" * 28,
                           "PROTECTED_PATHS": ["/hooks/"]},
                   MIDDLEWARE=["django_qstash.receiver.middleware.QStashSignatureMiddleware"])
import django
django.setup()
from django.http import HttpResponse
from django.test import Client
from django.urls import path
import django_qstash.receiver as receiver
from django_qstash.testing import sign_request

@receiver.qstash_verified
def view(request):
    return HttpResponse("ok")

urlpatterns = [path("fn/", view), path("hooks/x/", lambda request: HttpResponse("ok"))]
client = Client()
good = client.post("/fn/", b"{}", content_type="application/json",
                   **sign_request("http://testserver/fn/", b"{}"))
bad = client.post("/hooks/x/", b"{}", content_type="application/json")
print(json.dumps({"good": good.status_code, "bad": bad.status_code,
                  "drf": sys.modules.get("rest_framework") is not None,
                  "middleware": receiver.QStashSignatureMiddleware.__name__}))
"""
    assert _run_isolated(code) == {"good": 200, "bad": 401, "drf": False,
                                   "middleware": "QStashSignatureMiddleware"}


def test_receiver_only_install_with_the_admin_imports_no_server_dependency():
    code = """
import json, sys
SERVER = ("rest_framework", "celery", "redis", "croniter", "aiohttp", "httpx", "prometheus_client")
for name in SERVER:
    sys.modules[name] = None
from django.conf import settings
settings.configure(
    SECRET_KEY="x", ROOT_URLCONF=__name__,
    DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}},
    INSTALLED_APPS=["django.contrib.admin", "django.contrib.auth",
                    "django.contrib.contenttypes", "django.contrib.sessions",
                    "django.contrib.messages", "django_qstash"],
    QSTASH={"CURRENT_SIGNING_KEY": "sig_" + "a" * 28})
import django
django.setup()
from django.contrib import admin
admin.autodiscover()
urlpatterns = []
registered = sorted(m._meta.label for m in admin.site._registry)
print(json.dumps({"qstash": [r for r in registered if r.startswith("django_qstash")],
                  "loaded": sorted(n for n in SERVER if sys.modules.get(n) is not None)}))
"""
    assert _run_isolated(code) == {"qstash": [], "loaded": []}


def test_qstash_test_client_keeps_its_defaults(keys):
    client = QStashTestClient(query_params={"source": "qstash"}, headers={"X-Trace": "1"})
    response = client.post_signed("/fn/", {"a": 1}, content_type="application/json")
    assert response.status_code == 200
    response = client.post_signed("/fn/", {}, content_type="application/json",
                                  query_params={"page": "2"})
    assert response.json()["sub"] == "http://testserver/fn/?page=2"


def test_checks_run_on_a_receiver_only_install():
    code = """
import json, sys
SERVER = ("rest_framework", "celery", "redis", "croniter", "aiohttp", "httpx", "prometheus_client")
for name in SERVER:
    sys.modules[name] = None
from django.conf import settings
settings.configure(
    SECRET_KEY="x", ROOT_URLCONF=__name__,
    DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}},
    INSTALLED_APPS=["django.contrib.auth", "django.contrib.contenttypes", "django_qstash"],
    QSTASH={"CURRENT_SIGNING_KEY": "sig_" + "a" * 28, "CLOCK_TOLERANCE_SECONDS": "5",
            "PROTECTED_PATH": ["/hooks/"]})
import django
django.setup()
from django.core.checks import run_checks
urlpatterns = []
print(json.dumps({"ids": sorted(m.id for m in run_checks() if m.id.startswith("django_qstash")),
                  "loaded": sorted(n for n in SERVER if sys.modules.get(n) is not None)}))
"""
    assert _run_isolated(code) == {"ids": ["django_qstash.E104", "django_qstash.W001"],
                                   "loaded": []}
