"""``@qstash_verified``: only requests signed by QStash reach the decorated view."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar, overload

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.http import HttpRequest, HttpResponseBase
from django.views import View

from django_qstash.core.signing import SignatureError
from django_qstash.receiver.verification import averify_request, reject, verify_request

ViewT = TypeVar("ViewT", bound=Callable[..., Any])


def _is_async(func: Callable[..., Any]) -> bool:
    if iscoroutinefunction(func):
        return True
    # method_decorator(qstash_verified, name="dispatch") hands over a partial of the bound
    # dispatch, which is a plain function even on async views; the view instance knows.
    bound = getattr(func, "func", None)
    owner = getattr(bound, "__self__", None)
    return isinstance(owner, View) and bool(owner.view_is_async)


def _wrap_function(view: ViewT) -> ViewT:
    if _is_async(view):

        @functools.wraps(view)
        async def async_wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
            try:
                await averify_request(request)
            except SignatureError as error:
                return reject(request, error)
            return await view(request, *args, **kwargs)

        wrapper: Callable[..., Any] = markcoroutinefunction(async_wrapper)
    else:

        @functools.wraps(view)
        def sync_wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            try:
                verify_request(request)
            except SignatureError as error:
                return reject(request, error)
            return view(request, *args, **kwargs)

        wrapper = sync_wrapper
    # QStash cannot send a CSRF token; the signature is the proof of origin instead.
    wrapper.csrf_exempt = True  # type: ignore[attr-defined]
    wrapper.qstash_verified = True  # type: ignore[attr-defined]  # found by the system checks
    return wrapper  # type: ignore[return-value]


def _wrap_class(view_class: type[View]) -> type[View]:
    original = view_class.dispatch
    if view_class.view_is_async:

        async def dispatch(self: View, request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
            try:
                await averify_request(request)
            except SignatureError as error:
                return reject(request, error)
            return await original(self, request, *args, **kwargs)

    else:

        def dispatch(  # type: ignore[misc]
            self: View, request: HttpRequest, *args: Any, **kwargs: Any
        ) -> Any:
            try:
                verify_request(request)
            except SignatureError as error:
                return reject(request, error)
            return original(self, request, *args, **kwargs)

    functools.update_wrapper(dispatch, original)
    # as_view() copies dispatch's attributes onto the view function CSRF middleware sees.
    dispatch.csrf_exempt = True  # type: ignore[attr-defined]
    dispatch.qstash_verified = True  # type: ignore[attr-defined]
    view_class.dispatch = dispatch  # type: ignore[method-assign]
    return view_class


@overload
def qstash_verified(view: ViewT) -> ViewT: ...
@overload
def qstash_verified(view: None = None) -> Callable[[ViewT], ViewT]: ...


def qstash_verified(view: Any = None) -> Any:
    """Reject requests without a valid Upstash-Signature with a 401 before the view runs.

    Works as ``@qstash_verified`` or ``@qstash_verified()`` on sync and async function views,
    and directly on a class-based view (``View`` subclass, sync or async handlers), where it
    wraps ``dispatch``. ``method_decorator(qstash_verified, name="dispatch")`` works too.
    Verified claims are available as ``request.qstash_claims``; the view is CSRF-exempt.
    """
    if view is None:
        return qstash_verified
    if isinstance(view, type) and issubclass(view, View):
        return _wrap_class(view)
    return _wrap_function(view)
