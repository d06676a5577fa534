"""Channels, with their delivery settings, and the subscriptions each one follows."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import replace
from datetime import date, datetime

from bot.models import ChannelKey
from bot.store.database import Database, chunked, marks
from bot.store.rows import CHANNEL_COLUMNS, Channel, Schedule, Subscription, channel_from


class ChannelBook(Database):
    async def channel(self, key: ChannelKey) -> Channel | None:
        row = await self._one(
            f"SELECT {CHANNEL_COLUMNS} FROM channels WHERE platform = ? AND workspace = ? AND channel = ?",
            (key.platform, key.workspace, key.channel),
        )
        return channel_from(row) if row else None

    async def channel_by_id(self, channel_id: int) -> Channel | None:
        row = await self._one(f"SELECT {CHANNEL_COLUMNS} FROM channels WHERE id = ?", (channel_id,))
        return channel_from(row) if row else None

    async def ensure_channel(self, key: ChannelKey, time: str, tz: str, now: datetime) -> Channel:
        async with self.transaction() as tx:
            await tx.execute(
                "INSERT INTO channels (platform, workspace, channel, time, tz, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                (key.platform, key.workspace, key.channel, time, tz, now.isoformat()),
            )
        channel = await self.channel(key)
        assert channel is not None
        return channel

    async def channels(self) -> list[Channel]:
        """Every channel that has at least one subscription."""
        rows = await self._all(
            f"SELECT {CHANNEL_COLUMNS} FROM channels"
            " WHERE EXISTS (SELECT 1 FROM subscriptions s WHERE s.channel_id = channels.id) ORDER BY id"
        )
        # Ten thousand records take tens of milliseconds to build: in a worker thread, which
        # gives the event loop the GIL every few milliseconds, not in one stretch on the loop.
        return await asyncio.to_thread(lambda: [channel_from(r) for r in rows])

    async def schedules(self) -> list[Schedule]:
        """Each distinct time (and day) of the channels with daily or weekly digests."""
        rows = await self._all("SELECT DISTINCT time, tz, mode, weekday FROM channels WHERE mode IN ('daily', 'weekly')")
        return [Schedule(*map(str, row)) for row in rows]

    async def channels_by_id(self, channel_ids: Sequence[int]) -> list[Channel]:
        """These channels as they are now, in id order (those since deleted left out)."""
        rows = []
        for chunk in chunked(channel_ids):
            rows += await self._all(f"SELECT {CHANNEL_COLUMNS} FROM channels WHERE id IN ({marks(chunk)}) ORDER BY id", chunk)
        return await asyncio.to_thread(lambda: [channel_from(r) for r in rows])

    _SETTABLE = frozenset(
        {"time", "tz", "mode", "min_upvotes", "max_papers", "paused_reason", "since_day", "last_run_at", "suggestions",
         "weekday"}
    )

    async def update_channel(self, channel: Channel, **changes: object) -> Channel:
        unknown = set(changes) - self._SETTABLE
        if unknown:
            raise ValueError(f"not a channel setting: {', '.join(sorted(unknown))}")
        values = {
            name: value.isoformat() if isinstance(value, date | datetime) else value
            for name, value in changes.items()
        }
        assignments = ", ".join(f"{name} = ?" for name in values)
        async with self.transaction() as tx:
            await tx.execute(
                f"UPDATE channels SET {assignments} WHERE id = ?", (*values.values(), channel.id)
            )
        return replace(channel, **changes)  # type: ignore[arg-type]

    async def subscription_queries(self) -> list[tuple[int, int, str]]:
        """(channel id, subscription id, query) of every subscription: a wave's input, without
        building a record per row on the event loop."""
        return [(int(r[0]), int(r[1]), str(r[2])) for r in await self._all(
            "SELECT channel_id, id, query FROM subscriptions ORDER BY id"
        )]

    async def subscriptions(self, channel_id: int | None = None) -> list[Subscription]:
        where, params = ("WHERE channel_id = ?", (channel_id,)) if channel_id is not None else ("", ())
        rows = await self._all(
            "SELECT id, channel_id, query, created_by, created_at, created_by_name"
            f" FROM subscriptions {where} ORDER BY id",
            params,
        )
        return [Subscription(r[0], r[1], r[2], r[3], datetime.fromisoformat(r[4]), r[5]) for r in rows]

    async def add_subscription(
        self, channel: Channel, query: str, user: str, user_name: str | None, now: datetime, limit: int
    ) -> Subscription | None:
        """Store a subscription unless the channel already has `limit`; None when full."""
        async with self.transaction() as tx:
            # The channel's row lock (PostgreSQL) keeps two workers from both adding the last one.
            await tx.all(f"SELECT id FROM channels WHERE id = ?{self._row_lock}", (channel.id,))
            row = await tx.one("SELECT count(*) FROM subscriptions WHERE channel_id = ?", (channel.id,))
            if row and row[0] >= limit:
                return None
            inserted = await tx.one(
                "INSERT INTO subscriptions (channel_id, query, created_by, created_by_name, created_at)"
                " VALUES (?, ?, ?, ?, ?) RETURNING id",
                (channel.id, query, user, user_name, now.isoformat()),
            )
        assert inserted is not None
        return Subscription(int(inserted[0]), channel.id, query, user, now, user_name)

    async def remove_subscriptions(self, channel_id: int, ids: Sequence[int]) -> int:
        async with self.transaction() as tx:
            return await tx.execute(
                f"DELETE FROM subscriptions WHERE channel_id = ? AND id IN ({marks(ids)})",
                (channel_id, *ids),
            )
