"""One event loop thread per process that sends every delivery, sharing one aiohttp session."""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Coroutine
from concurrent.futures import Future

import aiohttp

from django_qstash.conf import qstash_settings
from django_qstash.core.destination_policy import GuardedResolver
from django_qstash.delivery.fair_share import FairShare

_lock = threading.Lock()
_state: dict = {}


def _new_loop() -> asyncio.AbstractEventLoop:
    try:  # uvloop where it is installed (the server extra, except on Windows): cheaper sends
        import uvloop
    except ImportError:
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


def _start() -> dict:
    loop = _new_loop()
    thread = threading.Thread(target=loop.run_forever, name="qstash-sender", daemon=True)
    thread.start()

    async def make_session() -> aiohttp.ClientSession:
        # No DNS cache: every new connection is resolved, and so checked, again.
        connector = aiohttp.TCPConnector(
            limit=max(1, int(qstash_settings.DELIVERY_CONCURRENCY)), limit_per_host=0,
            resolver=GuardedResolver(), use_dns_cache=False)
        return aiohttp.ClientSession(connector=connector, auto_decompress=True,
                                     cookie_jar=aiohttp.DummyCookieJar())

    session = asyncio.run_coroutine_threadsafe(make_session(), loop).result()
    return {"pid": os.getpid(), "loop": loop, "session": session,
            "share": FairShare.from_settings()}


def close() -> None:
    """At exit, once every send is done (``transport`` calls it after its flush): close the
    session's connections cleanly instead of leaking warnings. Closing it earlier would cut
    the requests still out, and record them as failed attempts."""
    state = _state
    if state.get("pid") != os.getpid() or state["loop"].is_closed():
        return
    try:
        asyncio.run_coroutine_threadsafe(state["session"].close(), state["loop"]).result(2)
    except Exception:  # the loop may already be gone at interpreter shutdown
        pass


def _current() -> dict:
    global _state
    with _lock:
        # Created lazily, and again after a fork: a forked Celery child cannot use its
        # parent's loop thread, which does not exist in the child.
        if _state.get("pid") != os.getpid():
            _state = _start()
        return _state


def session() -> aiohttp.ClientSession:
    return _current()["session"]


def fair_share() -> FairShare:
    """This process's shares of its delivery slots; used only on the sender loop."""
    return _current()["share"]


def submit(coroutine_factory) -> Future:
    """Run ``coroutine_factory(session)`` on the sender loop; a concurrent Future of its result."""
    state = _current()
    coroutine: Coroutine = coroutine_factory(state["session"])
    return asyncio.run_coroutine_threadsafe(coroutine, state["loop"])
