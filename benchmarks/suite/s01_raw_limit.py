"""Raw limit: the best rate one Python process can POST to the nginx sink on loopback."""

from __future__ import annotations

import asyncio
import threading
import time

import aiohttp
import httpx

from .common import fmt, median

BODY = b'{"event": "benchmark", "padding": "' + b"x" * 100 + b'"}'
HEADERS = {"Content-Type": "application/json"}


async def _aiohttp(url: str, total: int, concurrency: int) -> tuple[int, float]:
    connector = aiohttp.TCPConnector(limit=concurrency, force_close=False)
    async with aiohttp.ClientSession(connector=connector) as session:
        remaining = [total]
        ok = [0]

        async def one_connection() -> None:
            while remaining[0] > 0:
                remaining[0] -= 1
                async with session.post(url, data=BODY, headers=HEADERS) as response:
                    await response.read()
                    ok[0] += response.status == 200

        started = time.perf_counter()
        await asyncio.gather(*(one_connection() for _ in range(concurrency)))
        return ok[0], time.perf_counter() - started


async def _httpx(url: str, total: int, concurrency: int) -> tuple[int, float]:
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(limits=limits, timeout=30) as client:
        remaining = [total]
        ok = [0]

        async def one_connection() -> None:
            while remaining[0] > 0:
                remaining[0] -= 1
                response = await client.post(url, content=BODY, headers=HEADERS)
                ok[0] += response.status_code == 200

        started = time.perf_counter()
        await asyncio.gather(*(one_connection() for _ in range(concurrency)))
        return ok[0], time.perf_counter() - started


async def _httpx_threads(url: str, total: int, concurrency: int) -> tuple[int, float]:
    """Blocking httpx.Client, one per thread, ``concurrency`` threads (the engine's model)."""
    remaining = [total]
    ok = [0]
    lock = threading.Lock()

    def one_thread() -> None:
        with httpx.Client(timeout=30) as client:
            while True:
                with lock:
                    if remaining[0] <= 0:
                        return
                    remaining[0] -= 1
                response = client.post(url, content=BODY, headers=HEADERS)
                with lock:
                    ok[0] += response.status_code == 200

    started = time.perf_counter()
    threads = [threading.Thread(target=one_thread) for _ in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return ok[0], time.perf_counter() - started


def _run(coroutine, use_uvloop: bool):
    if use_uvloop:
        import uvloop

        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            return runner.run(coroutine)
    return asyncio.run(coroutine)


VARIANTS = [
    # (label, client, uvloop, requests per run, concurrency)
    ("aiohttp + uvloop", _aiohttp, True, 30_000, 64),
    ("aiohttp (asyncio loop)", _aiohttp, False, 20_000, 64),
    # httpx's async pool slows down as connections grow (~270 req/s at 64): its best is ~4.
    ("httpx.AsyncClient (asyncio loop)", _httpx, False, 5_000, 4),
    ("httpx.Client, one per thread", _httpx_threads, False, 10_000, 32),
]


def run(ctx) -> dict:
    sink, runs = ctx.sink, ctx.quick_runs
    url = sink.url + "/raw"
    lines, rates = [], {}
    for label, client, use_uvloop, total, concurrency in VARIANTS:
        _run(client(url, 500, concurrency), use_uvloop)  # warm-up: connections, caches
        samples = []
        for _ in range(runs):
            before = sink.requests()
            ok, elapsed = _run(client(url, total, concurrency), use_uvloop)
            arrived = sink.requests() - before
            if ok != total or arrived != total:
                raise RuntimeError(f"{label}: {ok} ok answers, {arrived} arrivals of {total}")
            samples.append(total / elapsed)
        rates[label] = median(samples)
        lines.append(f"| {label} | {total:,} | {concurrency} | "
                     f"{', '.join(fmt(s) for s in samples)} | **{fmt(rates[label])}** |")
    best_label = max(rates, key=rates.get)
    ctx.limit_rate = rates[best_label]
    details = ("| client (one process, keep-alive) | requests per run | concurrent | "
               "runs (req/s) | median req/s |\n|---|---|---|---|---|\n" + "\n".join(lines))
    return {
        "rows": [("Raw limit: one Python process POSTing to nginx",
                  f"{fmt(ctx.limit_rate)} req/s ({best_label})", "reference", "1.00× limit", None)],
        "details": details,
        "notes": [f"nginx {ctx.versions.get('nginx', '?')}, 1 worker process, `return 200`, "
                  "access log off, arrivals counted with `stub_status`."],
    }
