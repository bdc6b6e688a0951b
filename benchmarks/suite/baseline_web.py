"""The plain-Celery web side: a Django view that enqueues one `post_webhook.delay()` per request.

Settings, URLs and the view in one module (DJANGO_SETTINGS_MODULE points here). The URL has the
same shape as the server's `/v2/publish/<destination>` so one load generator drives both, and
`Upstash-Forward-X-*` request headers travel as the webhook's `X-*` headers, as there.
"""

from __future__ import annotations

import uuid

from django.http import HttpRequest, JsonResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt

SECRET_KEY = "plain-celery-baseline-web"  # nothing to protect: loopback benchmark only
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
ROOT_URLCONF = __name__
USE_TZ = True
DATABASES: dict = {}  # the baseline keeps nothing: Redis holds the tasks
INSTALLED_APPS = ["django.contrib.auth", "django.contrib.contenttypes",
                  "django.contrib.sessions", "django.contrib.messages"]
# The same middleware a stock Django project (and example_project) runs every request through.
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]
FORWARD = "HTTP_UPSTASH_FORWARD_"


@csrf_exempt
def enqueue(request: HttpRequest, destination: str) -> JsonResponse:
    from .baseline_app import post_webhook

    if request.method != "POST":
        return JsonResponse({"error": "POST only"}, status=405)
    if destination.startswith(("http:/", "https:/")) and "://" not in destination:
        destination = destination.replace(":/", "://", 1)  # a proxy may merge the slashes
    headers = {key[len(FORWARD):].replace("_", "-").title(): value
               for key, value in request.META.items() if key.startswith(FORWARD)}
    post_webhook.delay(destination, request.body.decode(), headers)
    return JsonResponse({"messageId": uuid.uuid4().hex})


urlpatterns = [path("v2/publish/<path:destination>", enqueue)]
