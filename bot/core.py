"""The running bot: source, store, delivery, commands and scheduler wired together.

Adapters never see the `Core`: each gets a `CoreHost` (commands, autocomplete, pacing),
and the core sends digests through them with `Delivery`. The core imports no adapter.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta

from bot.adapter import Adapter
from bot.backoff import Backoff
from bot.commands import Commands
from bot.config import Settings
from bot.delivery import Clock, Delivery
from bot.host import CoreHost
from bot.pacing import REAL_TIME, Timing
from bot.ratings import Ratings
from bot.scheduler import Scheduler
from bot.source import Source, SourceError, open_source
from bot.store import Store

log = logging.getLogger(__name__)

CATCH_UP_DAYS = 7


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
        self.ratings = Ratings(store, source, clock)
        self.delivery = Delivery(store, self.ratings, clock, timing, backoff)
        self.scheduler = Scheduler(self.poll, self.delivery.run_scheduled, settings.poll_minutes)
        self.ready = asyncio.Event()
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
        return cls(settings, await Store.open(settings.db), source, clock, timing, backoff)

    def host(self, adapter: Adapter) -> CoreHost:
        """What the adapter may use of the core."""
        return CoreHost(self.commands, self.store, self.delivery.pacer(adapter), self.ready)

    async def close(self) -> None:
        self.scheduler.shutdown()
        await self.ratings.aclose()
        await self.source.aclose()
        await self.store.close()

    async def fetch(self, days: Sequence[date]) -> dict[date, int]:
        """Fetch and store the given days; a day the source cannot give is logged and skipped."""
        counts: dict[date, int] = {}
        for day in days:
            try:
                papers = await self.source.fetch_day(day)
            except SourceError as err:
                log.error("could not fetch %s, will try again at the next poll: %s", day, err)
                continue
            counts[day] = await self.store.upsert_papers(papers, self.clock())
        return counts

    async def poll(self) -> dict[date, int]:
        """The poll job: refresh the current days, retry unsent digests, post instant matches."""
        counts = await self.fetch(await self._due_days())
        await self.delivery.send_open()
        await self.delivery.run_instant()
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
        """Catch up after downtime: poll once, then run each channel's missed digest once."""
        await self.poll()
        for channel in await self.store.channels():
            self.scheduler.schedule(channel)
            await self.delivery.run_scheduled(channel.id)
        self.scheduler.start()
        self.ready.set()

    async def run(self, adapters: Sequence[Adapter]) -> None:
        """Serve until every adapter has finished (the console at end of input, others when stopped)."""
        self.delivery.attach({adapter.platform: adapter for adapter in adapters})
        tasks = [asyncio.create_task(self._run_adapter(adapter)) for adapter in adapters]
        try:
            await self.start()
            await asyncio.gather(*tasks)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            for adapter in adapters:
                await adapter.close()

    async def _run_adapter(self, adapter: Adapter) -> None:
        try:
            await adapter.run(self.host(adapter))
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("the %s adapter stopped; the others go on", adapter.platform)
        finally:
            self.delivery.detach(adapter.platform)


def recent_days(today: date, count: int) -> list[date]:
    return [today - timedelta(days=offset) for offset in range(count)]
