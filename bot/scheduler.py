"""APScheduler wiring: one poll job, one recovery job, and one digest job per distinct (time, time zone,
day of the week) of the channels: every day for daily channels, one day for weekly ones.

A digest job runs every channel that is due as one wave (`Delivery.run_due`), so channels
sharing a time are planned in one matcher pass. Jobs live in memory and are rebuilt at
start-up; correctness lives in the ledger, so a job that fires twice or late, or a job left
behind by a channel that moved to another time, does no harm.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from datetime import datetime
from typing import Protocol
from zoneinfo import ZoneInfo

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

# A job missed while the bot was down runs once on return, within a day.
_JOB_DEFAULTS = {"coalesce": True, "misfire_grace_time": 24 * 3600, "max_instances": 1}


class Timed(Protocol):
    """When digests are due: a channel, or one of the store's distinct schedules."""

    @property
    def time(self) -> str: ...
    @property
    def tz(self) -> str: ...
    @property
    def mode(self) -> str: ...
    @property
    def weekday(self) -> str: ...


def digest_trigger(channel: Timed) -> CronTrigger:
    """Every day at the channel's time, or once a week on its day in weekly mode."""
    hour, minute = map(int, channel.time.split(":"))
    return CronTrigger(day_of_week=_day(channel), hour=hour, minute=minute, timezone=ZoneInfo(channel.tz))


def _day(channel: Timed) -> str:
    return channel.weekday[:3] if channel.mode == "weekly" else "*"


def next_digest(channel: Timed, now: datetime) -> datetime | None:
    return digest_trigger(channel).get_next_fire_time(None, now)


class Scheduler:
    def __init__(
        self,
        poll: Callable[[], Awaitable[object]],
        run_due: Callable[[], Awaitable[object]],
        poll_minutes: int,
        recover: Callable[[], Awaitable[object]],
        recover_seconds: float,
    ) -> None:
        self._scheduler = AsyncIOScheduler(job_defaults=_JOB_DEFAULTS, timezone="UTC")
        self._run_due = run_due
        self._scheduler.add_job(poll, IntervalTrigger(minutes=poll_minutes), id="poll")
        self._scheduler.add_job(recover, IntervalTrigger(seconds=recover_seconds), id="recover")

    def schedule(self, channel: Timed) -> None:
        """Make sure a job fires at the channel's time (and day, in weekly mode), after its settings changed."""
        if channel.mode not in ("daily", "weekly"):
            return
        job_id = f"digest-{channel.tz}-{channel.time}-{_day(channel)}"
        if self._scheduler.get_job(job_id) is None:
            self._scheduler.add_job(self._run_due, digest_trigger(channel), id=job_id)

    def sync(self, schedules: Iterable[Timed]) -> None:
        """Jobs for every schedule the channels have, including those another worker's commands set."""
        for when in schedules:
            self.schedule(when)

    def start(self) -> None:
        self._scheduler.start()

    @property
    def running(self) -> bool:
        return bool(self._scheduler.running)

    def shutdown(self) -> None:
        if self._scheduler.running:
            self._scheduler.shutdown(wait=False)
