"""The running bot: source, store, delivery, commands and scheduler wired together.

Adapters never see the `Core`: each gets a `CoreHost` (commands, autocomplete, pacing),
and the core sends digests through them with `Delivery`. The core imports no adapter.

`run` serves until every adapter has finished or `stop` is called (SIGTERM, SIGINT): then
commands are refused, the post in flight finishes (at most STOP_SECONDS), and every
connection is closed. It returns the platforms whose adapter ended on its own, so the CLI
can tell a clean stop from "every adapter gave up".
"""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, date, datetime, timedelta
from functools import partial
from typing import TYPE_CHECKING, Any, TypeVar

from bot.adapter import Adapter
from bot.backoff import Backoff, persevere
from bot.commands import Commands
from bot.config import Settings
from bot.delivery import Clock, Delivery
from bot.host import CoreHost
from bot.pacing import REAL_TIME, Timing
from bot.ratings import Ratings
from bot.scheduler import Scheduler
from bot.source import Source, SourceError, open_source
from bot.store import Store, StoreUnavailable

if TYPE_CHECKING:
    from aiohttp import web

log = logging.getLogger(__name__)

CATCH_UP_DAYS = 7
STOP_SECONDS = 10.0  # how long a stop waits for the work in flight
T = TypeVar("T")


def utcnow() -> datetime:
    return datetime.now(UTC)


class Core:
    def __init__(
        self,
        settings: Settings,
        store: Store,
        source: Source,
        clock: Clock = utcnow,
        timing: Timing = REAL_TIME,
        backoff: Backoff | None = None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.source = source
        self.clock = clock
        self._timing = timing
        self._backoff = backoff or Backoff()
        self.ratings = Ratings(store, source, clock)
        self.delivery = Delivery(store, self.ratings, clock, timing, self._backoff)
        self.telemetry = self.delivery.telemetry
        # Partials of a coroutine function, which APScheduler awaits (a lambda it would run in a thread).
        self.scheduler = Scheduler(
            partial(self._persevere, "poll", self.poll),
            partial(self._persevere, "due digests", self.delivery.run_due),
            settings.poll_minutes,
            partial(self._persevere, "recovery", self.delivery.recover),
            store.lease.total_seconds(),
        )
        self.ready = asyncio.Event()
        self.stop_reason: str | None = None
        self.http_port: int | None = None  # the health listener's port, once bound
        self._stop = asyncio.Event()
        self.commands = Commands(
            store, self.delivery, settings, clock, self.scheduler.schedule, self.ready, self.ratings
        )

    @classmethod
    async def open(
        cls,
        settings: Settings,
        source: Source | None = None,
        clock: Clock = utcnow,
        timing: Timing = REAL_TIME,
        backoff: Backoff | None = None,
    ) -> Core:
        source = source or open_source(settings.source, settings.hf_token)
        store = await Store.open(settings.db, clock, timedelta(seconds=settings.lease_seconds))
        return cls(settings, store, source, clock, timing, backoff)

    def host(self, adapter: Adapter) -> CoreHost:
        """What the adapter may use of the core."""
        return CoreHost(
            self.commands, self.store, self.delivery.pacer(adapter), self.ready, self.delivery.work, self._web_routes
        )

    # What /healthz and /metrics read (bot.health.Running)

    @property
    def scheduling(self) -> bool:
        return self.scheduler.running

    @property
    def poll_seconds(self) -> float:
        return self.settings.poll_minutes * 60.0

    async def open_digests(self) -> int:
        return await self.store.open_count()

    def _web_routes(self, port: int) -> list[Any]:
        """Health and metrics routes for an adapter's own server on `port`, when PAPERBOY_HTTP_PORT is that port."""
        if self.settings.http_port != port:
            return []
        from bot.health import routes

        return routes(self)

    async def _listen(self, adapters: Sequence[Adapter]) -> web.AppRunner | None:
        """The health listener on PAPERBOY_HOST:PAPERBOY_HTTP_PORT, unless it is off or an adapter
        serves HTTP on that port itself (Slack's HTTP mode), which then mounts the routes."""
        port = self.settings.http_port
        if port is None or any(getattr(a, "http_port", None) == port for a in adapters):
            return None
        from bot.health import serve

        runner, self.http_port = await serve(self, self.settings.http_host, port)
        log.info("health and metrics on http://%s:%d/healthz and /metrics", self.settings.http_host, self.http_port)
        return runner

    async def close(self) -> None:
        self.scheduler.shutdown()
        await self.ratings.aclose()
        await self.source.aclose()
        try:
            await self.store.release_all()
        except StoreUnavailable:
            pass  # its leases run out by themselves
        await self.store.close()

    async def _persevere(self, what: str, job: Callable[[], Awaitable[T]]) -> T:
        """A job that outlives a lost database connection: logged, then run again with backoff."""
        return await persevere(what, job, (StoreUnavailable,), self._backoff, self._timing.sleep)

    async def fetch(self, days: Sequence[date]) -> dict[date, int]:
        """Fetch and store the given days; a day that fails is logged and skipped.

        Anything one day raises is caught, not only SourceError: whatever the source
        serves must never stop start-up or the poll's digests.
        """
        counts: dict[date, int] = {}
        for day in days:
            try:
                counts[day] = await self.store.upsert_papers(await self.source.fetch_day(day), self.clock())
            except Exception as err:  # noqa: BLE001 - one day's failure, whatever it is, is that day's alone
                reason = str(err) if isinstance(err, SourceError) else f"{type(err).__name__}: {err}"
                log.error("could not fetch %s, will try again at the next poll: %s", day, reason)
                await self.store.record_fetch(day, self.clock(), None, reason)
                continue
            await self.store.record_fetch(day, self.clock(), counts[day])
            self.telemetry.papers_fetched += counts[day]
        return counts

    async def poll(self) -> dict[date, int]:
        """The poll job: refresh the current days, retry unsent digests, post instant matches, and
        make sure this worker has a job for every channel's time.

        With several workers on one PostgreSQL database one polls at a time; a worker that finds
        another polling skips its turn (and counts as having polled: the other one did)."""
        counts: dict[date, int] = {}
        self.scheduler.sync(await self.store.schedules())  # times other workers' commands set
        async with self.delivery.work.working(), self.store.exclusive("poll") as mine:
            if mine:
                counts = await self.fetch(await self._due_days())
                await self.delivery.send_open()
                await self.delivery.run_instant()
            else:
                log.info("another worker is polling; skipping this poll")
        self.telemetry.polls += 1
        self.telemetry.last_poll = self.clock()
        return counts

    async def _due_days(self) -> list[date]:
        """The source's current days, and every day since the newest stored one.

        After a source outage or downtime longer than a day, the days in between are
        fetched once it is back (at most CATCH_UP_DAYS), so their papers are not lost.
        """
        today = self.clock().date()
        due = set(self.source.current_days(today))
        newest = await self.store.featured_days(1)
        if newest:
            first = max(newest[0] + timedelta(days=1), today - timedelta(days=CATCH_UP_DAYS))
            due.update(recent_days(today, (today - first).days + 1))
        return sorted(due)

    async def start(self) -> None:
        """Catch up after downtime: poll once, then run every channel's missed digest once, as one
        wave, and anything a dead worker left."""
        await self._persevere("poll", self.poll)
        await self._persevere("due digests", self.delivery.run_due)
        await self._persevere("recovery", self.delivery.recover)
        settle_heap()
        self.scheduler.start()
        self.ready.set()

    def stop(self, reason: str) -> None:
        """Ask `run` to stop cleanly (a signal handler calls this)."""
        if self.stop_reason is None:
            self.stop_reason = reason
            self._stop.set()

    async def run(self, adapters: Sequence[Adapter]) -> list[str]:
        """Serve until every adapter has finished (the console at end of input, others when they
        give up) or until `stop`; returns the platforms whose adapter ended on its own."""
        listener = await self._listen(adapters)
        self.delivery.attach({adapter.platform: adapter for adapter in adapters})
        tasks = {asyncio.create_task(self._run_adapter(adapter)): adapter.platform for adapter in adapters}
        stopping = asyncio.create_task(self._stop.wait())
        starting = asyncio.create_task(self.start())
        try:
            await asyncio.wait([starting, stopping], return_when=asyncio.FIRST_COMPLETED)
            if starting.done():
                starting.result()  # a start-up that failed ends the run with its error
                serving = asyncio.gather(*tasks, return_exceptions=True)  # _run_adapter logs what went wrong
                await asyncio.wait([serving, stopping], return_when=asyncio.FIRST_COMPLETED)
        finally:
            await self._wind_down(starting, list(tasks), adapters)
            stopping.cancel()
            if listener is not None:
                await listener.cleanup()
        if self.stop_reason is not None:
            return []
        return [platform for task, platform in tasks.items() if not task.cancelled()]

    async def _wind_down(self, starting: asyncio.Task[None], tasks: list[asyncio.Task[None]],
                         adapters: Sequence[Adapter]) -> None:
        """Refuse new work, let the post in flight finish (bounded), then close every connection."""
        self.scheduler.shutdown()
        drained = await self.delivery.work.drain(STOP_SECONDS)
        for task in [starting, *tasks]:
            task.cancel()
        await asyncio.gather(starting, *tasks, return_exceptions=True)
        for adapter in adapters:
            await adapter.close()
        if self.stop_reason is not None:
            log.info(
                "stopped on %s: %s; connections closed", self.stop_reason,
                "the work in flight finished" if drained else
                f"work still in flight after {STOP_SECONDS:.0f} s was cut off and resumes at the next start",
            )

    async def _run_adapter(self, adapter: Adapter) -> None:
        try:
            await adapter.run(self.host(adapter))
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("the %s adapter stopped; the others go on", adapter.platform)
        finally:
            self.delivery.detach(adapter.platform)


def settle_heap() -> None:
    """Move what start-up built (modules, the libraries' objects, the stores' caches) out of the
    garbage collector's way: objects that live as long as the process would otherwise be walked
    by every full collection, a pause of 50+ ms on the event loop. They are still freed as
    usual when nothing refers to them; only their reference cycles, if any, are never collected.
    """
    gc.collect()
    gc.freeze()


def recent_days(today: date, count: int) -> list[date]:
    return [today - timedelta(days=offset) for offset in range(count)]
