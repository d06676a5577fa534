"""The delivery ledger: which papers went to which channel, in which digest, in which parts.

Its primary key (channel, paper) is what makes a duplicate delivery impossible. A digest is
planned in one transaction, each part is recorded as the platform accepts it, and the
state says whether a post may be in flight when the process stopped. Every write here
needs this worker's claim on the channel (`bot.store.workers`) and renews its lease.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import date, datetime

from bot.models import DigestItem
from bot.store.database import chunked, marks
from bot.store.rows import PAPER_COLUMNS, Channel, DigestPlan, PlannedDigest, paper_from, reasons_from
from bot.store.workers import Claims, LeaseLost


class Ledger(Claims):
    async def delivered(self, channel_ids: Iterable[int], paper_ids: Iterable[str]) -> set[tuple[int, str]]:
        """The (channel, paper) pairs among these that the ledger already holds."""
        channels, papers = list(channel_ids), list(paper_ids)
        found: set[tuple[int, str]] = set()
        for chunk in chunked(channels):
            for some in chunked(papers):
                rows = await self._all(
                    f"SELECT channel_id, paper_id FROM deliveries WHERE channel_id IN ({marks(chunk)})"
                    f" AND paper_id IN ({marks(some)})",
                    (*chunk, *some),
                )
                found.update((int(r[0]), str(r[1])) for r in rows)
        return found

    async def plan_digests(self, plans: Sequence[DigestPlan], unplanned: Sequence[Channel], newest: date,
                           now: datetime, ran: datetime | None = None) -> None:
        """Record a wave's digests and claim their papers, in one transaction.

        Papers past a channel's cap are claimed too (`shown = 0`): the digest says "and N
        more" once, and they never flood a later digest. Every channel of the wave, planned or
        `unplanned` (nothing new for it), now looks for papers from `newest` on, and with `ran`
        its scheduled digest is noted as run. The caller holds each channel's claim and plans
        one wave at a time, so the (channel, paper) key is never hit twice; a channel whose
        claim another worker took over meanwhile is left, untouched, to that worker.
        """
        async with self.transaction() as tx:
            held = []
            for plan in plans:
                if not await self._renew(tx, channel_id=plan.channel.id):
                    continue
                held.append(plan.channel.id)
                row = await tx.one(
                    "INSERT INTO digests (channel_id, title, more, more_url, planned_at)"
                    " VALUES (?, ?, ?, ?, ?) RETURNING id",
                    (plan.channel.id, plan.title, plan.count - plan.shown, plan.more_url, now.isoformat()),
                )
                assert row is not None
                await tx.executemany(
                    "INSERT INTO deliveries (channel_id, paper_id, digest_id, position, shown, reasons)"
                    " VALUES (?, ?, ?, ?, ?, ?)",
                    [
                        (plan.channel.id, paper_id, int(row[0]), position, int(position < plan.shown), reasons)
                        for position, (paper_id, reasons) in enumerate(json.loads(plan.entries))
                    ],
                )
            held += [channel.id for channel in unplanned if await self._renew(tx, channel_id=channel.id)]
            await tx.executemany(
                "UPDATE channels SET since_day = ? WHERE id = ?", [(newest.isoformat(), c) for c in held]
            )
            if ran is not None:
                await tx.executemany(
                    "UPDATE channels SET last_run_at = ? WHERE id = ?", [(ran.isoformat(), c) for c in held]
                )

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

    async def mark_sending(self, digest_id: int, part: int) -> None:
        """Note that a post of `part` is in flight, so a restart knows the platform may already have it.

        The ledger must still lack the part: a worker that loaded the digest before another one
        took the channel over, posted and handed it back must not post it again on its stale copy.
        """
        async with self.transaction() as tx:
            await self._hold(tx, digest_id=digest_id)
            changed = await tx.execute(
                "UPDATE digests SET state = 'sending' WHERE id = ? AND state != 'sent' AND NOT EXISTS"
                " (SELECT 1 FROM digest_parts WHERE digest_id = ? AND part = ?)",
                (digest_id, digest_id, part),
            )
            if not changed:
                raise LeaseLost(f"part {part} of digest {digest_id} was posted meanwhile by another worker")

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

    async def last_sent(self, channel_id: int) -> tuple[datetime, int, int] | None:
        """The channel's last digest sent: when, papers shown, papers held for "and N more"."""
        row = await self._one(
            "SELECT sent_at, (SELECT count(*) FROM deliveries d WHERE d.digest_id = digests.id AND d.shown = 1), more"
            " FROM digests WHERE channel_id = ? AND state = 'sent' ORDER BY sent_at DESC, id DESC LIMIT 1",
            (channel_id,),
        )
        return (datetime.fromisoformat(str(row[0])), int(row[1]), int(row[2])) if row else None

    async def claims(self, channel_id: int, paper_ids: Iterable[str]) -> dict[str, tuple[bool, str]]:
        """For papers claimed by the channel: (shown, the state of their digest), by paper id."""
        wanted = list(paper_ids)
        found: dict[str, tuple[bool, str]] = {}
        for chunk in chunked(wanted):
            rows = await self._all(
                "SELECT d.paper_id, d.shown, g.state FROM deliveries d JOIN digests g ON g.id = d.digest_id"
                f" WHERE d.channel_id = ? AND d.paper_id IN ({marks(chunk)})",
                (channel_id, *chunk),
            )
            found.update({str(r[0]): (bool(r[1]), str(r[2])) for r in rows})
        return found

    async def open_count(self) -> int:
        """Digests planned and not yet marked sent, in every channel."""
        row = await self._one("SELECT count(*) FROM digests WHERE state != 'sent'")
        return int(row[0]) if row else 0
