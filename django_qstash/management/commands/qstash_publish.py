"""Publish a message from the shell, with the same options as the Upstash-* headers."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from django_qstash.delivery.runtime import current
from django_qstash.engine.publishing import prepare, publish_specs
from django_qstash.engine.tenants import DEFAULT_TENANT
from django_qstash.exceptions import ApiError
from django_qstash.management.tenant_option import tenant_named

# option -> the header it stands for; each takes one value.
HEADER_OPTIONS = {
    "method": "Upstash-Method", "delay": "Upstash-Delay", "not_before": "Upstash-Not-Before",
    "retries": "Upstash-Retries", "retry_delay": "Upstash-Retry-Delay",
    "timeout": "Upstash-Timeout", "callback": "Upstash-Callback",
    "failure_callback": "Upstash-Failure-Callback",
    "deduplication_id": "Upstash-Deduplication-Id",
    "flow_control_key": "Upstash-Flow-Control-Key",
    "flow_control_value": "Upstash-Flow-Control-Value", "content_type": "Content-Type",
    "redact_fields": "Upstash-Redact-Fields",
}


def header_pair(text: str) -> tuple[str, str]:
    name, sep, value = text.partition(":")
    if not sep or not name.strip():
        raise CommandError(f"write headers as 'Name: value', got {text!r}")
    return name.strip(), value.strip()


class Command(BaseCommand):
    help = ("Publish to a URL or URL group (or enqueue with --queue). Every option is an "
            "Upstash-* header; -H passes any header as is. Prints the API's JSON answer.")

    def add_arguments(self, parser):
        parser.add_argument("destination", help="a URL or the name of a URL group")
        parser.add_argument("--tenant", default=DEFAULT_TENANT,
                            help="tenant name (the default tenant is created on first use)")
        body = parser.add_mutually_exclusive_group()
        body.add_argument("--body", default=None, help="the body as text")
        body.add_argument("--body-file", default=None, help="read the body from a file, - = stdin")
        parser.add_argument("-H", "--header", action="append", default=[], metavar="'NAME: VALUE'",
                            help="any header, e.g. -H 'Upstash-Forward-X: 1' (repeatable)")
        parser.add_argument("--queue", default="", help="enqueue into this queue")
        for option, header in HEADER_OPTIONS.items():
            parser.add_argument(f"--{option.replace('_', '-')}", dest=option, default=None,
                                help=f"sets {header}")
        parser.add_argument("--label", action="append", default=[],
                            help="Upstash-Label (repeatable)")
        parser.add_argument("--forward", action="append", default=[], metavar="'NAME: VALUE'",
                            help="a header for the destination: Upstash-Forward-NAME (repeatable)")
        parser.add_argument("--content-based-deduplication", action="store_true",
                            help="sets Upstash-Content-Based-Deduplication: true")
        parser.add_argument("--no-wait", action="store_true",
                            help="with the in-process transport, do not wait for delivery")

    def handle(self, *args, **options):
        tenant = tenant_named(options["tenant"])
        pairs = [header_pair(h) for h in options["header"]]
        pairs += [(header, options[o]) for o, header in HEADER_OPTIONS.items()
                  if options[o] is not None]
        pairs += [(f"Upstash-Forward-{n}", v) for n, v in map(header_pair, options["forward"])]
        if options["label"]:
            pairs.append(("Upstash-Label", ",".join(options["label"])))
        if options["content_based_deduplication"]:
            pairs.append(("Upstash-Content-Based-Deduplication", "true"))
        try:
            spec = prepare(tenant, options["destination"], self._body(options), pairs,
                           queue_name=options["queue"])
            [result] = publish_specs(tenant, [spec])
        except ApiError as exc:
            raise CommandError(exc.message) from None
        answer = [r.as_json() for r in result] if isinstance(result, list) else result.as_json()
        self.stdout.write(json.dumps(answer))
        # Through a broker: return once the message is with it, not merely accepted.
        # In-process deliveries run on this process's threads: let them finish before exit.
        current().wait_idle(timeout=10 if options["no_wait"] else 60)

    def _body(self, options) -> bytes:
        if options["body_file"] == "-":
            return sys.stdin.buffer.read()
        if options["body_file"]:
            try:
                return Path(options["body_file"]).read_bytes()
            except OSError as exc:
                raise CommandError(f"cannot read {options['body_file']}: {exc}") from None
        return (options["body"] or "").encode()
