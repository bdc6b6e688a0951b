"""Views and URLconf exercising every way a receiver can be protected."""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from django.urls import path
from django.utils.decorators import method_decorator
from django.views import View
from rest_framework.response import Response
from rest_framework.views import APIView

from django_qstash.receiver import QStashSignaturePermission, qstash_verified


def _echo(request: HttpRequest) -> JsonResponse:
    claims = getattr(request, "qstash_claims", None)
    return JsonResponse({"ok": True, "sub": claims and claims["sub"], "size": len(request.body)})


@qstash_verified
def sync_view(request):
    return _echo(request)


@qstash_verified()
async def async_view(request):
    return _echo(request)


@qstash_verified
class SyncClassView(View):
    def post(self, request):
        return _echo(request)


@qstash_verified
class AsyncClassView(View):
    async def post(self, request):
        return _echo(request)


@method_decorator(qstash_verified, name="dispatch")
class SyncMethodDecoratedView(View):
    def post(self, request):
        return _echo(request)


@method_decorator(qstash_verified, name="dispatch")
class AsyncMethodDecoratedView(View):
    async def post(self, request):
        return _echo(request)


def plain_view(request):
    return _echo(request)


async def plain_async_view(request):
    return _echo(request)


class SignedApiView(APIView):
    permission_classes = [QStashSignaturePermission]

    def post(self, request):
        # request.data must still parse after the permission read the raw body.
        claims = request.qstash_claims
        return Response({"ok": True, "sub": claims["sub"], "data": request.data})


urlpatterns = [
    path("fn/", sync_view),
    path("afn/", async_view),
    path("cbv/", SyncClassView.as_view()),
    path("acbv/", AsyncClassView.as_view()),
    path("md/", SyncMethodDecoratedView.as_view()),
    path("amd/", AsyncMethodDecoratedView.as_view()),
    path("hooks/sync/", plain_view),
    path("hooks/async/", plain_async_view),
    path("hooks/both/", sync_view),
    path("open/", plain_view),
    path("drf/", SignedApiView.as_view()),
]
