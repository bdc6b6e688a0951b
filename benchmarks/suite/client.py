"""Load generators (aiohttp on uvloop, keep-alive) and a delivered-count poller."""

from __future__ import annotations

import asyncio
import json
import threading
import time

import aiohttp
import uvloop

BODY = '{"event": "benchmark", "padding": "' + "x" * 100 + '"}'


def run_async(coroutine):
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(coroutine)


def _session(limit: int) -> aiohttp.ClientSession:
    return aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=limit),
                                 timeout=aiohttp.ClientTimeout(total=120))


async def publish_batches(base: str, auth: dict, items: list[dict], batch_size: int = 100,
                          concurrency: int = 4) -> dict:
    """POST /v2/batch with ``batch_size`` items per request, ``concurrency`` requests at once."""
    batches = [json.dumps(items[i:i + batch_size]).encode()
               for i in range(0, len(items), batch_size)]
    headers = {**auth, "Content-Type": "application/json"}
    errors: list[str] = []
    accepted = [0]
    async with _session(concurrency) as session:
        position = [0]

        async def sender() -> None:
            while position[0] < len(batches):
                body = batches[position[0]]
                position[0] += 1
                async with session.post(base + "/v2/batch", data=body, headers=headers) as resp:
                    text = await resp.text()
                    if resp.status != 200:
                        errors.append(f"{resp.status}: {text[:200]}")
                        continue
                    answers = json.loads(text)
                    accepted[0] += sum(1 for a in answers if "messageId" in a)
                    errors.extend(str(a)[:200] for a in answers if "messageId" not in a)

        started = time.perf_counter()
        await asyncio.gather(*(sender() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    return {"elapsed": elapsed, "accepted": accepted[0], "errors": errors}


def publish_url(base: str, destination: str) -> str:
    return f"{base}/v2/publish/{destination}"


async def publish_closed_loop(base: str, auth: dict, destination: str, headers: dict,
                              total: int, concurrency: int) -> dict:
    """As fast as possible: ``concurrency`` keep-alive connections, each publishing in a loop."""
    url, headers = publish_url(base, destination), {**auth, **headers}
    latencies: list[float] = []
    errors: list[str] = []
    async with _session(concurrency) as session:
        remaining = [total]

        async def connection() -> None:
            while remaining[0] > 0:
                remaining[0] -= 1
                sent = time.perf_counter()
                async with session.post(url, data=BODY, headers=headers) as resp:
                    text = await resp.text()
                latencies.append(time.perf_counter() - sent)
                if resp.status != 200:
                    errors.append(f"{resp.status}: {text[:200]}")

        started = time.perf_counter()
        await asyncio.gather(*(connection() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    return {"elapsed": elapsed, "ok": total - len(errors), "latencies": latencies, "errors": errors}


async def publish_for(base: str, auth: dict, destination: str, headers: dict, seconds: float,
                      concurrency: int) -> dict:
    """Closed loop for ``seconds``: ``concurrency`` keep-alive clients, each publishing one
    message per request and sending the next as soon as the answer came."""
    url, headers = publish_url(base, destination), {**auth, **headers}
    latencies: list[float] = []
    errors: list[str] = []
    async with _session(concurrency) as session:
        started = time.perf_counter()
        until = started + seconds

        async def client() -> None:
            while time.perf_counter() < until:
                sent = time.perf_counter()
                async with session.post(url, data=BODY, headers=headers) as resp:
                    text = await resp.text()
                latencies.append(time.perf_counter() - sent)
                if resp.status != 200:
                    errors.append(f"{resp.status}: {text[:200]}")

        await asyncio.gather(*(client() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    return {"elapsed": elapsed, "ok": len(latencies) - len(errors), "latencies": latencies,
            "errors": errors}


async def get_closed_loop(url: str, total: int, concurrency: int, status: int = 200) -> float:
    """Requests/s of plain GETs of ``url`` over ``concurrency`` keep-alive connections, each
    answered with ``status``."""
    async with _session(concurrency) as session:
        remaining = [total]

        async def connection() -> None:
            while remaining[0] > 0:
                remaining[0] -= 1
                async with session.get(url) as resp:
                    await resp.read()
                    if resp.status != status:
                        raise RuntimeError(f"GET {url}: {resp.status}, expected {status}")

        started = time.perf_counter()
        await asyncio.gather(*(connection() for _ in range(concurrency)))
        return total / (time.perf_counter() - started)


async def publish_open_loop(base: str, auth: dict, rate: float, count: int, request_for,
                            connections: int = 64) -> dict:
    """A steady ``rate`` of publishes, each started on schedule whatever the others are doing.

    ``request_for(i)`` is called at send time and returns (destination, extra headers).
    Latency is measured from the scheduled start, so a stalled server cannot hide its delay.
    """
    latencies: list[float] = []
    errors: list[str] = []
    lag: list[float] = []
    async with _session(connections) as session:
        async def one(index: int, scheduled: float) -> None:
            lag.append(time.perf_counter() - scheduled)
            destination, extra = request_for(index)
            async with session.post(publish_url(base, destination), data=BODY,
                                    headers={**auth, **extra}) as resp:
                text = await resp.text()
            latencies.append(time.perf_counter() - scheduled)
            if resp.status != 200:
                errors.append(f"{resp.status}: {text[:200]}")

        tasks = []
        started = time.perf_counter() + 0.05
        for index in range(count):
            scheduled = started + index / rate
            delay = scheduled - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(index, scheduled)))
        await asyncio.gather(*tasks)
        elapsed = time.perf_counter() - started
    return {"elapsed": elapsed, "latencies": latencies, "errors": errors, "lag": lag}


class Poller(threading.Thread):
    """Polls ``count()`` until it reaches ``target`` or ``timeout``; keeps (time, count) samples."""

    def __init__(self, count, target: int, timeout: float, interval: float = 0.25) -> None:
        super().__init__(daemon=True)
        self.count, self.target, self.timeout, self.interval = count, target, timeout, interval
        self.samples: list[tuple[float, int]] = []
        self.error: Exception | None = None

    def run(self) -> None:
        deadline = time.time() + self.timeout
        try:
            while True:
                value = self.count()
                self.samples.append((time.time(), value))
                if value >= self.target or time.time() > deadline:
                    return
                time.sleep(self.interval)
        except Exception as exc:  # reported by the caller
            self.error = exc

    def time_of(self, fraction: float, base: int, total: int) -> float | None:
        """When the count first reached ``base + fraction × total``."""
        for at, value in self.samples:
            if value - base >= fraction * total:
                return at
        return None
