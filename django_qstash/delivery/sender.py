"""The event loop thread that sends every delivery of a process, sharing one aiohttp session."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from concurrent.futures import Future
from functools import cached_property
from typing import TYPE_CHECKING

import aiohttp

from django_qstash.conf import qstash_settings
from django_qstash.core.destination_policy import GuardedResolver
from django_qstash.delivery.fair_share import FairShare
from django_qstash.delivery.runtime import current

if TYPE_CHECKING:
    from django_qstash.engine.send_gate import SendGate


def _new_loop() -> asyncio.AbstractEventLoop:
    try:  # uvloop where it is installed (the server extra, except on Windows): cheaper sends
        import uvloop
    except ImportError:
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


class SenderLoop:
    """One loop thread and its session; the process runtime starts, stops and joins it."""

    stage = 90  # stopped last: the sends of every other part use its session

    def __init__(self) -> None:
        self.loop = _new_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="qstash-sender",
                                       daemon=True)
        self.thread.start()

        async def make_session() -> aiohttp.ClientSession:
            # No DNS cache: every new connection is resolved, and so checked, again.
            connector = aiohttp.TCPConnector(
                limit=max(1, int(qstash_settings.DELIVERY_CONCURRENCY)), limit_per_host=0,
                resolver=GuardedResolver(), use_dns_cache=False)
            return aiohttp.ClientSession(connector=connector, auto_decompress=True,
                                         cookie_jar=aiohttp.DummyCookieJar())

        self.session = asyncio.run_coroutine_threadsafe(make_session(), self.loop).result()
        # This process's shares of its delivery slots; used only on the loop.
        self.share = FairShare.from_settings()

    @cached_property
    def gate(self) -> SendGate:
        """The loop's send gate; created on the loop thread, the only one that asks for it."""
        from django_qstash.engine.send_gate import SendGate

        return SendGate(self.loop)

    def submit(self, coroutine_factory) -> Future:
        coroutine: Coroutine = coroutine_factory(self.session)
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop)

    def stop(self, timeout: float = 2) -> None:
        """Once every send is done: close the session's connections cleanly, then stop the
        loop. Closing it earlier would cut the requests still out, and record them as
        failed attempts."""
        if self.loop.is_closed():
            return
        try:
            asyncio.run_coroutine_threadsafe(self.session.close(), self.loop).result(timeout)
        except Exception:  # the loop may already be gone at interpreter shutdown
            pass
        if "gate" in self.__dict__:
            self.gate.executor.shutdown(wait=False)
        self.loop.call_soon_threadsafe(self.loop.stop)

    def join(self, timeout: float | None = None) -> None:
        self.thread.join(timeout)
        if not self.thread.is_alive() and not self.loop.is_closed():
            self.loop.close()


def loop() -> SenderLoop:
    """This process's sender loop, started on first use."""
    return current().part("sender", SenderLoop)


def session() -> aiohttp.ClientSession:
    return loop().session


def fair_share() -> FairShare:
    """This process's shares of its delivery slots; used only on the sender loop."""
    return loop().share


def submit(coroutine_factory) -> Future:
    """Run ``coroutine_factory(session)`` on the sender loop; a concurrent Future of its result."""
    return loop().submit(coroutine_factory)
