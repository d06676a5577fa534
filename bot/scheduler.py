"""APScheduler wiring: one poll job, one daily (or weekly) job per channel at its local time.

Jobs live in memory and are rebuilt at start-up; correctness lives in the ledger, so
a job that fires twice or late does no harm (`Delivery.run_scheduled` is idempotent).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from zoneinfo import ZoneInfo

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from bot.store import Channel

# A job missed while the bot was down runs once on return, within a day.
_JOB_DEFAULTS = {"coalesce": True, "misfire_grace_time": 24 * 3600, "max_instances": 1}


def digest_trigger(channel: Channel) -> CronTrigger:
    """Every day at the channel's time, or once a week on its day in weekly mode."""
    hour, minute = map(int, channel.time.split(":"))
    day = channel.weekday[:3] if channel.mode == "weekly" else "*"
    return CronTrigger(day_of_week=day, hour=hour, minute=minute, timezone=ZoneInfo(channel.tz))


def next_digest(channel: Channel, now: datetime) -> datetime | None:
    return digest_trigger(channel).get_next_fire_time(None, now)


class Scheduler:
    def __init__(
        self,
        poll: Callable[[], Awaitable[object]],
        run_channel: Callable[[int], Awaitable[object]],
        poll_minutes: int,
    ) -> None:
        self._scheduler = AsyncIOScheduler(job_defaults=_JOB_DEFAULTS, timezone="UTC")
        self._run_channel = run_channel
        self._scheduler.add_job(poll, IntervalTrigger(minutes=poll_minutes), id="poll")

    def schedule(self, channel: Channel) -> None:
        """Add, move or drop the channel's daily or weekly job after its settings changed."""
        job_id = f"digest-{channel.id}"
        if channel.mode not in ("daily", "weekly"):
            if self._scheduler.get_job(job_id):
                self._scheduler.remove_job(job_id)
            return
        self._scheduler.add_job(
            self._run_channel, digest_trigger(channel), args=[channel.id], id=job_id, replace_existing=True
        )

    def start(self) -> None:
        self._scheduler.start()

    def shutdown(self) -> None:
        if self._scheduler.running:
            self._scheduler.shutdown(wait=False)
