"""Middleware that requires a valid Upstash-Signature on the paths in PROTECTED_PATHS."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.http import HttpRequest, HttpResponseBase

from django_qstash.conf import qstash_settings
from django_qstash.core.signing import SignatureError
from django_qstash.receiver.verification import averify_request, reject, verify_request


def is_protected(path_info: str) -> bool:
    """Whether PROTECTED_PATHS covers this path.

    PROTECTED_PATHS is a list of regular expressions matched with ``re.match`` (anchored at
    the start, so ``r"^/hooks/"`` and ``r"/hooks/"`` both mean "everything under /hooks/")
    against ``request.path_info``, the path without the script prefix.
    """
    return any(re.match(pattern, path_info) for pattern in qstash_settings.PROTECTED_PATHS)


class QStashSignatureMiddleware:
    """Answer 401 to unsigned or badly signed requests on protected paths; exempt them from CSRF.

    Place it before any middleware that reads ``request.POST`` (the raw body must be intact).
    """

    # Django runs it natively in both WSGI (sync) and ASGI (async) stacks.
    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Callable[[HttpRequest], Any]) -> None:
        self.get_response = get_response
        self.async_mode = iscoroutinefunction(get_response)
        if self.async_mode:
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest) -> Any:
        if self.async_mode:
            return self.__acall__(request)
        if is_protected(request.path_info):
            try:
                verify_request(request)
            except SignatureError as error:
                return reject(request, error)
            self._exempt_from_csrf(request)
        return self.get_response(request)

    async def __acall__(self, request: HttpRequest) -> HttpResponseBase:
        if is_protected(request.path_info):
            try:
                await averify_request(request)
            except SignatureError as error:
                return reject(request, error)
            self._exempt_from_csrf(request)
        response: Awaitable[HttpResponseBase] = self.get_response(request)
        return await response

    @staticmethod
    def _exempt_from_csrf(request: HttpRequest) -> None:
        # QStash cannot send a CSRF token; a verified signature proves the origin instead.
        # CsrfViewMiddleware honours this flag whatever the middleware order.
        request._dont_enforce_csrf_checks = True  # type: ignore[attr-defined]
