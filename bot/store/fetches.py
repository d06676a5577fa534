"""The fetch log: each fetch of a day and what it brought or why it failed, kept a week.

Written by the running bot, read by `/papers status` and by `paperboy status` in another
process, so "why did nothing arrive?" has an answer that outlives the log.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from bot.store.database import Database

KEEP = timedelta(days=7)
ERROR_CHARS = 300
POLL_SPAN = timedelta(minutes=10)  # fetches this close to the newest one count as the same poll


@dataclass(frozen=True, slots=True)
class Fetch:
    day: date
    at: datetime
    papers: int | None  # None when it failed
    error: str | None


class FetchLog(Database):
    async def record_fetch(self, day: date, at: datetime, papers: int | None, error: str | None = None) -> None:
        async with self.transaction() as db:
            await db.execute(
                "INSERT INTO fetches (day, at, papers, error) VALUES (?, ?, ?, ?)",
                (day.isoformat(), at.isoformat(), papers, error[:ERROR_CHARS] if error is not None else None),
            )
            await db.execute("DELETE FROM fetches WHERE at < ?", ((at - KEEP).isoformat(),))

    async def last_poll(self) -> list[Fetch]:
        """The newest successful fetch and those of the same poll (just before it), one per day, newest day first."""
        newest = await self._one("SELECT max(at) FROM fetches WHERE error IS NULL")
        if newest is None or newest[0] is None:
            return []
        since = datetime.fromisoformat(str(newest[0])) - POLL_SPAN
        rows = await self._all(
            "SELECT day, at, papers, error FROM fetches WHERE error IS NULL AND at >= ? ORDER BY day DESC, at DESC",
            (since.isoformat(),),
        )
        newest_of_day = {str(row[0]): row for row in reversed(rows)}  # the last row of a day wins: its newest
        return [_fetch(row) for row in sorted(newest_of_day.values(), key=lambda row: str(row[0]), reverse=True)]

    async def fetch_errors(self, since: datetime) -> list[Fetch]:
        """Failed fetches since `since`, newest first."""
        rows = await self._all(
            "SELECT day, at, papers, error FROM fetches WHERE error IS NOT NULL AND at >= ?"
            " ORDER BY at DESC, id DESC",
            (since.isoformat(),),
        )
        return [_fetch(r) for r in rows]


def _fetch(row: tuple[object, ...]) -> Fetch:
    day, at, papers, error = row
    return Fetch(
        date.fromisoformat(str(day)),
        datetime.fromisoformat(str(at)),
        int(papers) if papers is not None else None,  # type: ignore[call-overload]
        str(error) if error is not None else None,
    )
