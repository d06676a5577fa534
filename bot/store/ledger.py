"""The delivery ledger: which papers went to which channel, in which digest, in which parts.

Its primary key (channel, paper) is what makes a duplicate delivery impossible. A digest is
planned in one transaction, each part is recorded as the platform accepts it, and the
state says whether a post may be in flight when the process stopped. Every write here
needs this worker's claim on the channel (`bot.store.workers`) and renews its lease.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime

from bot.models import DigestItem
from bot.store.rows import Channel, PAPER_COLUMNS, PlannedDigest, paper_from, reasons_from, reasons_json
from bot.store.workers import Claims


class Ledger(Claims):
    async def delivered_ids(self, channel_id: int, paper_ids: Iterable[str]) -> set[str]:
        wanted = list(paper_ids)
        found: set[str] = set()
        for start in range(0, len(wanted), 500):
            chunk = wanted[start : start + 500]
            marks = ", ".join("?" for _ in chunk)
            rows = await self._all(
                f"SELECT paper_id FROM deliveries WHERE channel_id = ? AND paper_id IN ({marks})",
                (channel_id, *chunk),
            )
            found.update(r[0] for r in rows)
        return found

    async def plan_digest(
        self,
        channel: Channel,
        title: str,
        shown: Sequence[DigestItem],
        held_back: Sequence[DigestItem],
        more_url: str | None,
        since_day: date | None,
        now: datetime,
    ) -> int:
        """Record a digest and claim its papers for the channel in one transaction.

        Papers past the channel's cap are claimed too (`shown = 0`): the digest says
        "and N more" once, and they never flood a later digest. The caller holds the
        channel's claim, so the (channel, paper) key is never hit twice.
        """
        async with self.transaction() as tx:
            await self._hold(tx, channel_id=channel.id)
            row = await tx.one(
                "INSERT INTO digests (channel_id, title, more, more_url, planned_at)"
                " VALUES (?, ?, ?, ?, ?) RETURNING id",
                (channel.id, title, len(held_back), more_url, now.isoformat()),
            )
            assert row is not None
            digest_id = int(row[0])
            rows = [
                (channel.id, item.paper.id, digest_id, position, int(position < len(shown)),
                 reasons_json(item.reasons))
                for position, item in enumerate([*shown, *held_back])
            ]
            await tx.executemany(
                "INSERT INTO deliveries (channel_id, paper_id, digest_id, position, shown, reasons)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                rows,
            )
            if since_day is not None:
                await tx.execute(
                    "UPDATE channels SET since_day = ? WHERE id = ?", (since_day.isoformat(), channel.id)
                )
        return digest_id

    async def open_digests(self, channel_id: int | None = None) -> list[PlannedDigest]:
        """Digests planned and not yet marked sent, oldest first."""
        where = "state != 'sent'" + (" AND channel_id = ?" if channel_id is not None else "")
        params = (channel_id,) if channel_id is not None else ()
        rows = await self._all(
            f"SELECT id, channel_id, title, more, more_url, state FROM digests WHERE {where} ORDER BY id",
            params,
        )
        found = []
        for digest_id, chan_id, title, more, more_url, state in rows:
            channel = await self.channel_by_id(chan_id)
            assert channel is not None
            items = await self._all(
                f"SELECT {', '.join('p.' + c.strip() for c in PAPER_COLUMNS.split(','))}, d.reasons"
                " FROM deliveries d JOIN papers p ON p.id = d.paper_id"
                " WHERE d.digest_id = ? AND d.shown = 1 ORDER BY d.position",
                (digest_id,),
            )
            parts = await self._all(
                "SELECT part, ref FROM digest_parts WHERE digest_id = ?", (digest_id,)
            )
            found.append(
                PlannedDigest(
                    id=digest_id,
                    channel=channel,
                    title=title,
                    items=tuple(DigestItem(paper_from(r[:-1]), reasons_from(r[-1])) for r in items),
                    more=more,
                    more_url=more_url,
                    state=state,
                    parts={int(p): str(ref) for p, ref in parts},
                )
            )
        return found

    async def mark_sending(self, digest_id: int) -> None:
        """Note that a post is in flight, so a restart knows the platform may already have it."""
        async with self.transaction() as tx:
            await self._hold(tx, digest_id=digest_id)
            await tx.execute("UPDATE digests SET state = 'sending' WHERE id = ?", (digest_id,))

    async def settle(self, digest_id: int) -> None:
        """No post is in flight: the last one certainly failed."""
        async with self.transaction() as tx:
            await self._hold(tx, digest_id=digest_id)
            await tx.execute("UPDATE digests SET state = 'planned' WHERE id = ? AND state = 'sending'", (digest_id,))

    async def record_part(self, digest_id: int, part: int, ref: str) -> None:
        """Record a part the platform accepted; nothing is in flight any more."""
        async with self.transaction() as tx:
            await self._hold(tx, digest_id=digest_id)
            await tx.execute(
                "INSERT INTO digest_parts (digest_id, part, ref) VALUES (?, ?, ?)"
                " ON CONFLICT (digest_id, part) DO UPDATE SET ref = excluded.ref",
                (digest_id, part, ref),
            )
            await tx.execute("UPDATE digests SET state = 'planned' WHERE id = ? AND state = 'sending'", (digest_id,))

    async def mark_sent(self, digest_id: int, now: datetime) -> None:
        async with self.transaction() as tx:
            await self._hold(tx, digest_id=digest_id)
            await tx.execute(
                "UPDATE digests SET state = 'sent', sent_at = ? WHERE id = ?", (now.isoformat(), digest_id)
            )
