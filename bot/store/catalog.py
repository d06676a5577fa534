"""The papers of the Daily Papers list, as fetched: one row per arXiv id, refreshed at each poll."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime

from bot.models import Paper
from bot.store.database import Database
from bot.store.rows import PAPER_COLUMNS, paper_from, paper_row


class PaperCatalog(Database):
    async def upsert_papers(self, papers: Iterable[Paper], now: datetime) -> int:
        """Insert or refresh papers; a paper keeps the first day it was featured."""
        rows = [(*paper_row(p), now.isoformat()) for p in papers]
        async with self.transaction() as tx:
            await tx.executemany(
                f"INSERT INTO papers ({PAPER_COLUMNS}, updated_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (id) DO UPDATE SET title = excluded.title, abstract = excluded.abstract,"
                " authors = excluded.authors, upvotes = excluded.upvotes,"
                " featured_day = CASE WHEN excluded.featured_day < papers.featured_day"
                " THEN excluded.featured_day ELSE papers.featured_day END,"
                " published_day = excluded.published_day, ai_summary = excluded.ai_summary,"
                " ai_keywords = excluded.ai_keywords, github_repo = excluded.github_repo,"
                " github_stars = excluded.github_stars, project_page = excluded.project_page,"
                " organization = excluded.organization, updated_at = excluded.updated_at",
                rows,
            )
        return len(rows)

    async def featured_days(self, most: int) -> list[date]:
        """The newest `most` days that have papers, newest first."""
        rows = await self._all(
            "SELECT DISTINCT featured_day FROM papers ORDER BY featured_day DESC LIMIT ?", (most,)
        )
        return [date.fromisoformat(r[0]) for r in rows]

    async def papers_since(self, day: date) -> list[Paper]:
        rows = await self._all(
            f"SELECT {PAPER_COLUMNS} FROM papers WHERE featured_day >= ?"
            " ORDER BY upvotes DESC, id",
            (day.isoformat(),),
        )
        return [paper_from(r) for r in rows]

    async def recent_papers(self, days: int) -> list[Paper]:
        """Papers of the newest `days` featured days in the store, best first."""
        found = await self.featured_days(days)
        return await self.papers_since(found[-1]) if found else []
