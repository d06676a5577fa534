"""`/healthz` and `/metrics`: aiohttp routes, served on their own listener or mounted on an adapter's server.

`/healthz` answers 200 while the scheduler runs and the last poll finished within
STALE_POLLS poll intervals, else 503 with a JSON reason. `/metrics` is Prometheus text from
the core's `Telemetry` and the store, in its own CollectorRegistry (never the global one);
prometheus_client is imported only when the first route is built.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from aiohttp import web

from bot.config import ConfigError
from bot.telemetry import Telemetry

STALE_POLLS = 3  # /healthz fails once the last poll is older than this many poll intervals


class Running(Protocol):
    """What the routes read of the core."""

    telemetry: Telemetry
    ready: asyncio.Event  # set once the start-up catch-up is done

    @property
    def scheduling(self) -> bool: ...

    @property
    def poll_seconds(self) -> float: ...

    def clock(self) -> datetime: ...

    async def open_digests(self) -> int: ...


@dataclass(frozen=True, slots=True)
class Snapshot:
    telemetry: Telemetry
    open_digests: int
    last_poll_age: float | None
    loop_lag: float


async def loop_lag() -> float:
    """How long a callback queued now waits for the event loop, in seconds."""
    loop = asyncio.get_running_loop()
    start = loop.time()
    ran: asyncio.Future[None] = loop.create_future()
    loop.call_soon(ran.set_result, None)
    await ran
    return loop.time() - start


def health(core: Running) -> tuple[int, dict[str, Any]]:
    """(HTTP status, JSON body) of /healthz."""
    if not core.ready.is_set():
        return 503, {"status": "starting", "reason": "the start-up fetch and catch-up have not finished yet"}
    last = core.telemetry.last_poll
    if not core.scheduling or last is None:
        return 503, {"status": "unhealthy", "reason": "the scheduler is not running"}
    age = (core.clock() - last).total_seconds()
    if age > STALE_POLLS * core.poll_seconds:
        return 503, {
            "status": "unhealthy",
            "reason": f"the last poll finished {age:.0f} s ago, more than {STALE_POLLS} poll intervals",
            "last_poll_age_seconds": round(age, 3),
        }
    return 200, {"status": "ok", "last_poll_age_seconds": round(age, 3)}


def routes(core: Running) -> list[web.RouteDef]:
    from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

    registry = CollectorRegistry(auto_describe=False)
    collector = _Collector()
    registry.register(collector)  # type: ignore[arg-type]

    async def healthz(request: web.Request) -> web.Response:
        status, body = health(core)
        return web.json_response(body, status=status, dumps=json.dumps)

    async def metrics(request: web.Request) -> web.Response:
        last = core.telemetry.last_poll
        collector.snapshot = Snapshot(
            core.telemetry,
            await core.open_digests(),
            (core.clock() - last).total_seconds() if last else None,
            await loop_lag(),
        )
        return web.Response(body=generate_latest(registry), headers={"Content-Type": CONTENT_TYPE_LATEST})

    return [web.get("/healthz", healthz), web.get("/metrics", metrics)]


class _Collector:
    snapshot: Snapshot | None = None

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

        if self.snapshot is None:
            return
        seen = self.snapshot.telemetry
        yield CounterMetricFamily("paperboy_papers_fetched", "Papers the source returned, over all fetches",
                                  value=seen.papers_fetched)
        yield CounterMetricFamily("paperboy_polls", "Polls finished", value=seen.polls)
        for name, text, counts in (
            ("paperboy_digests_sent", "Digests sent, by platform", seen.sent),
            ("paperboy_digests_failed", "Digest sends that failed (retried later), by platform", seen.failed),
            ("paperboy_rate_limited", "Rate-limit answers (429) that reached the core, by platform", seen.rate_limited),
        ):
            family = CounterMetricFamily(name, text, labels=["platform"])
            for platform, count in sorted(counts.items()):
                family.add_metric([platform], count)
            yield family
        yield GaugeMetricFamily("paperboy_open_digests", "Digests planned and not yet sent",
                                value=self.snapshot.open_digests)
        if self.snapshot.last_poll_age is not None:
            yield GaugeMetricFamily("paperboy_last_poll_age_seconds", "Seconds since the last poll finished",
                                    value=self.snapshot.last_poll_age)
        yield GaugeMetricFamily("paperboy_event_loop_lag_seconds", "How long a callback waited for the event loop",
                                value=self.snapshot.loop_lag)


async def serve(core: Running, host: str, port: int) -> tuple[web.AppRunner, int]:
    """Listen on host:port with the routes; the runner and the port bound (port 0 picks one)."""
    app = web.Application()
    app.add_routes(routes(core))
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port).start()
    except OSError as err:
        await runner.cleanup()
        raise ConfigError(f"PAPERBOY_HTTP_PORT: cannot listen on {host}:{port} ({err.strerror or err})") from None
    return runner, int(runner.addresses[0][1])

