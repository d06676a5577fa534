"""Ratings: each member's 👍 or 👎 on a paper in a channel, and papers looked up by id.

A rating belongs to (channel, user, paper). Papers rated or named by a `like:` subscription
may not be in any stored daily list; they are kept apart (`looked_up_papers`), so the lists,
their featured days and the digests never see them.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import datetime

from bot.models import Paper
from bot.store.channels import ChannelBook
from bot.store.database import chunked, marks
from bot.store.rows import PAPER_COLUMNS, paper_from, paper_row


class RatingBook(ChannelBook):
    async def rating(self, channel_id: int, user: str, paper_id: str) -> int | None:
        row = await self._one(
            "SELECT vote FROM ratings WHERE channel_id = ? AND user_id = ? AND paper_id = ?",
            (channel_id, user, paper_id),
        )
        return int(row[0]) if row else None

    async def set_rating(self, channel_id: int, user: str, paper_id: str, vote: int | None, now: datetime) -> None:
        """Record the user's vote (+1 or -1) on the paper, or forget it (None)."""
        async with self.transaction() as tx:
            await tx.execute(
                "DELETE FROM ratings WHERE channel_id = ? AND user_id = ? AND paper_id = ?",
                (channel_id, user, paper_id),
            )
            if vote is not None:
                await tx.execute(
                    "INSERT INTO ratings (channel_id, user_id, paper_id, vote, rated_at) VALUES (?, ?, ?, ?, ?)",
                    (channel_id, user, paper_id, vote, now.isoformat()),
                )

    async def rated_channels(self, channel_ids: Sequence[int]) -> set[int]:
        """Those of the channels with at least one rating."""
        found: set[int] = set()
        for chunk in chunked(channel_ids):
            rows = await self._all(f"SELECT DISTINCT channel_id FROM ratings WHERE channel_id IN ({marks(chunk)})", chunk)
            found.update(int(r[0]) for r in rows)
        return found

    async def ratings(self, channel_id: int) -> list[tuple[str, int]]:
        """(paper id, vote) of every rating in the channel, oldest first."""
        rows = await self._all(
            "SELECT paper_id, vote FROM ratings WHERE channel_id = ? ORDER BY rated_at, paper_id, user_id",
            (channel_id,),
        )
        return [(str(r[0]), int(r[1])) for r in rows]

    async def forget_ratings(self, channel_id: int) -> int:
        async with self.transaction() as tx:
            return await tx.execute("DELETE FROM ratings WHERE channel_id = ?", (channel_id,))

    async def delivered_recently(self, channel_id: int, most: int) -> list[str]:
        """Ids of the papers last delivered to the channel, newest digest first."""
        rows = await self._all(
            "SELECT paper_id FROM deliveries WHERE channel_id = ? ORDER BY digest_id DESC, position LIMIT ?",
            (channel_id, most),
        )
        return [str(r[0]) for r in rows]

    async def papers_by_id(self, ids: Iterable[str]) -> dict[str, Paper]:
        """The papers with these ids, from the daily lists or else from those looked up."""
        wanted = list(dict.fromkeys(ids))
        found: dict[str, Paper] = {}
        for chunk in chunked(wanted):
            rows = await self._all(f"SELECT {PAPER_COLUMNS} FROM papers WHERE id IN ({marks(chunk)})", chunk)
            found.update((paper.id, paper) for paper in map(paper_from, rows))
            missing = [i for i in chunk if i not in found]
            if missing:
                rows = await self._all(
                    f"SELECT paper FROM looked_up_papers WHERE id IN ({marks(missing)})", missing
                )
                found.update((paper.id, paper) for paper in (paper_from(json.loads(r[0])) for r in rows))
        return found

    async def keep_looked_up(self, paper: Paper, now: datetime) -> None:
        """Keep a paper found by id outside the daily lists, for its text."""
        async with self.transaction() as tx:
            await tx.execute(
                "INSERT INTO looked_up_papers (id, paper, fetched_at) VALUES (?, ?, ?)"
                " ON CONFLICT (id) DO UPDATE SET paper = excluded.paper, fetched_at = excluded.fetched_at",
                (paper.id, json.dumps(paper_row(paper)), now.isoformat()),
            )
