"""The execution endpoint: verify a task message, run the task, record and answer the outcome."""

from __future__ import annotations

from django.db import transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from django_qstash.conf import qstash_settings
from django_qstash.core import strict_json
from django_qstash.core.signing import SignatureError
from django_qstash.models import Message, SigningKeyPair, Tenant
from django_qstash.receiver.verification import SigningKeys, reject, verify_request
from django_qstash.tasks_backend.answers import permanent_failure


# Written on every attempt this process runs (a result's worker_ids).
@csrf_exempt  # QStash sends no CSRF token; the signature proves the origin
@transaction.non_atomic_requests  # RUNNING must be visible while the task runs
@require_POST
def run_task_view(request: HttpRequest, alias: str) -> HttpResponse:
    # The task API is an optional dependency: imported here, never by django_qstash.urls.
    from django_qstash.tasks_backend.backend import QStashTaskBackend
    from django_qstash.tasks_backend.compat import task_backends

    try:
        backend = task_backends[alias]
    except Exception:  # noqa: BLE001 — InvalidTaskBackend(Error), whichever the API names it
        backend = None
    tenant = None
    if isinstance(backend, QStashTaskBackend):
        tenant = Tenant.objects.filter(name=backend.task_options.tenant).first()
    if tenant is None:
        return JsonResponse({"error": f"no QStash task backend {alias!r}"}, status=404)
    pair = SigningKeyPair.for_tenant(tenant)
    try:
        # Signed by this tenant's keys, for exactly the URL the backend publishes to.
        verify_request(request, SigningKeys(backend.endpoint_url(), pair.current, pair.next))
    except SignatureError as error:
        return reject(request, error)
    try:
        payload = strict_json.loads(request.body)
        result_id, step = str(payload["id"]), payload.get("step", "run")
    except (ValueError, KeyError, TypeError):
        return permanent_failure("the body is not a task message")
    message_id = request.headers.get("Upstash-Message-Id", "")
    try:
        retried = max(int(request.headers.get("Upstash-Retried") or 0), 0)
    except ValueError:
        return permanent_failure("Upstash-Retried is not a number")
    from django_qstash.tasks_backend.running import release, run

    if step == "release":
        return release(backend, result_id, message_id)
    return run(backend, result_id, message_id, retried,
               final=retried >= max_retries(message_id, backend))


def max_retries(message_id: str, backend) -> int:
    """The retries of the message being delivered (a DLQ retry or an edit may have changed
    them); the backend's option when the message is gone."""
    found = Message.objects.filter(pk=message_id).values_list("max_retries", flat=True).first()
    if found is not None:
        return found
    configured = backend.task_options.retries
    return qstash_settings.DEFAULT_RETRIES if configured is None else configured

