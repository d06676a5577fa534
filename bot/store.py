"""SQLite persistence: papers, channels, subscriptions and the delivery ledger.

One connection, one writer: every write runs in `BEGIN IMMEDIATE` under a lock, with
`synchronous=FULL`, because a lost commit of a "sent" mark would mean a second post.
The ledger's primary key (channel, paper) is what makes a duplicate delivery impossible.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from datetime import date, datetime

import aiosqlite

from bot.models import ChannelKey, DigestItem, Paper, Reason

MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE papers (
        id TEXT PRIMARY KEY,
        title TEXT NOT NULL,
        abstract TEXT NOT NULL,
        authors TEXT NOT NULL,
        upvotes INTEGER NOT NULL,
        featured_day TEXT NOT NULL,
        published_day TEXT,
        ai_summary TEXT,
        ai_keywords TEXT NOT NULL,
        github_repo TEXT,
        github_stars INTEGER,
        project_page TEXT,
        organization TEXT,
        updated_at TEXT NOT NULL
    );
    CREATE INDEX papers_by_day ON papers (featured_day);
    CREATE TABLE channels (
        id INTEGER PRIMARY KEY,
        platform TEXT NOT NULL,
        workspace TEXT NOT NULL,
        channel TEXT NOT NULL,
        time TEXT NOT NULL,
        tz TEXT NOT NULL,
        mode TEXT NOT NULL DEFAULT 'daily',
        min_upvotes INTEGER NOT NULL DEFAULT 0,
        max_papers INTEGER NOT NULL DEFAULT 10,
        paused_reason TEXT,
        since_day TEXT,
        last_run_at TEXT,
        created_at TEXT NOT NULL,
        UNIQUE (platform, workspace, channel)
    );
    CREATE TABLE subscriptions (
        id INTEGER PRIMARY KEY,
        channel_id INTEGER NOT NULL REFERENCES channels (id) ON DELETE CASCADE,
        query TEXT NOT NULL,
        created_by TEXT NOT NULL,
        created_by_name TEXT,
        created_at TEXT NOT NULL
    );
    CREATE INDEX subscriptions_by_channel ON subscriptions (channel_id);
    CREATE TABLE digests (
        id INTEGER PRIMARY KEY,
        channel_id INTEGER NOT NULL REFERENCES channels (id) ON DELETE CASCADE,
        title TEXT NOT NULL,
        more INTEGER NOT NULL DEFAULT 0,
        more_url TEXT,
        state TEXT NOT NULL DEFAULT 'planned' CHECK (state IN ('planned', 'sending', 'sent')),
        planned_at TEXT NOT NULL,
        sent_at TEXT
    );
    CREATE INDEX digests_open ON digests (state) WHERE state != 'sent';
    CREATE TABLE deliveries (
        channel_id INTEGER NOT NULL REFERENCES channels (id) ON DELETE CASCADE,
        paper_id TEXT NOT NULL REFERENCES papers (id),
        digest_id INTEGER NOT NULL REFERENCES digests (id) ON DELETE CASCADE,
        position INTEGER NOT NULL,
        shown INTEGER NOT NULL,
        reasons TEXT NOT NULL,
        PRIMARY KEY (channel_id, paper_id)
    );
    CREATE INDEX deliveries_by_digest ON deliveries (digest_id, position);
    CREATE TABLE meta (
        name TEXT PRIMARY KEY,
        value TEXT NOT NULL
    );
    INSERT INTO meta (name, value) VALUES ('install_id', lower(hex(randomblob(4))));
    CREATE TABLE digest_parts (
        digest_id INTEGER NOT NULL REFERENCES digests (id) ON DELETE CASCADE,
        part INTEGER NOT NULL,
        ref TEXT NOT NULL,
        PRIMARY KEY (digest_id, part)
    );
    """,
)


@dataclass(frozen=True, slots=True)
class Channel:
    id: int
    key: ChannelKey
    time: str
    tz: str
    mode: str
    min_upvotes: int
    max_papers: int
    paused_reason: str | None
    since_day: date | None
    last_run_at: datetime | None


@dataclass(frozen=True, slots=True)
class Subscription:
    id: int
    channel_id: int
    query: str
    created_by: str
    created_at: datetime
    created_by_name: str | None = None

    @property
    def author(self) -> str:
        """Who made it, as people know them (platform ids are kept for permission checks)."""
        return self.created_by_name or self.created_by


@dataclass(frozen=True, slots=True)
class PlannedDigest:
    """A digest row with its papers, rebuilt from the ledger so a send can resume."""

    id: int
    channel: Channel
    title: str
    items: tuple[DigestItem, ...]
    more: int
    more_url: str | None
    state: str
    parts: dict[int, str]


def _day(value: str | None) -> date | None:
    return date.fromisoformat(value) if value else None


def _time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


_PAPER_COLUMNS = (
    "id, title, abstract, authors, upvotes, featured_day, published_day, ai_summary,"
    " ai_keywords, github_repo, github_stars, project_page, organization"
)
_CHANNEL_COLUMNS = (
    "id, platform, workspace, channel, time, tz, mode, min_upvotes, max_papers,"
    " paused_reason, since_day, last_run_at"
)


def _paper(row: Sequence[object]) -> Paper:
    return Paper(
        id=str(row[0]),
        title=str(row[1]),
        abstract=str(row[2]),
        authors=tuple(json.loads(str(row[3]))),
        upvotes=int(row[4]),  # type: ignore[call-overload]
        featured_day=date.fromisoformat(str(row[5])),
        published_day=_day(row[6]),  # type: ignore[arg-type]
        ai_summary=row[7],  # type: ignore[arg-type]
        ai_keywords=tuple(json.loads(str(row[8]))),
        github_repo=row[9],  # type: ignore[arg-type]
        github_stars=row[10],  # type: ignore[arg-type]
        project_page=row[11],  # type: ignore[arg-type]
        organization=row[12],  # type: ignore[arg-type]
    )


def _channel(row: Sequence[object]) -> Channel:
    return Channel(
        id=int(row[0]),  # type: ignore[call-overload]
        key=ChannelKey(str(row[1]), str(row[2]), str(row[3])),
        time=str(row[4]),
        tz=str(row[5]),
        mode=str(row[6]),
        min_upvotes=int(row[7]),  # type: ignore[call-overload]
        max_papers=int(row[8]),  # type: ignore[call-overload]
        paused_reason=row[9],  # type: ignore[arg-type]
        since_day=_day(row[10]),  # type: ignore[arg-type]
        last_run_at=_time(row[11]),  # type: ignore[arg-type]
    )


def _reasons_json(reasons: Iterable[Reason]) -> str:
    return json.dumps([[r.subscription_id, r.query, list(r.words)] for r in reasons])


def _reasons(text: str) -> tuple[Reason, ...]:
    return tuple(Reason(int(i), str(q), tuple(w)) for i, q, w in json.loads(text))


class Store:
    """Async access to the database; open with `await Store.open(path)`."""

    def __init__(self, db: aiosqlite.Connection) -> None:
        self._db = db
        self._write_lock = asyncio.Lock()
        self.install_id = ""

    @classmethod
    async def open(cls, path: str) -> Store:
        db = await aiosqlite.connect(path, isolation_level=None)
        for pragma in (
            "journal_mode=WAL",
            "busy_timeout=10000",
            "synchronous=FULL",
            "foreign_keys=ON",
        ):
            await db.execute(f"PRAGMA {pragma}")
        store = cls(db)
        await store._migrate()
        row = await store._one("SELECT value FROM meta WHERE name = 'install_id'")
        assert row is not None
        # Part of every delivery key, so a fresh database never reuses a key an old one posted.
        store.install_id = str(row[0])
        return store

    async def close(self) -> None:
        await self._db.close()

    async def _migrate(self) -> None:
        """Bring the schema up to date. Each step reads the version again under the write
        lock, so two processes starting on a fresh file migrate it once."""
        for number, script in enumerate(MIGRATIONS, start=1):
            if await self._version() >= number:
                continue
            async with self.transaction() as db:
                if await self._version() >= number:  # another process got there first
                    continue
                for statement in filter(str.strip, script.split(";")):
                    await db.execute(statement)
                await db.execute(f"PRAGMA user_version = {number}")

    async def _version(self) -> int:
        row = await self._one("PRAGMA user_version")
        return int(row[0]) if row else 0

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        async with self._write_lock:
            await self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                await self._db.rollback()
                raise
            await self._db.commit()

    async def _all(self, sql: str, params: Sequence[object] = ()) -> list[aiosqlite.Row]:
        # Run and fetched in one step: a cursor left open across an await would pin an old
        # snapshot, and another task's BEGIN IMMEDIATE would then fail at once with
        # "database is locked" (no busy wait) after another process wrote.
        return list(await self._db.execute_fetchall(sql, params))

    async def _one(self, sql: str, params: Sequence[object] = ()) -> aiosqlite.Row | None:
        rows = await self._all(sql, params)
        return rows[0] if rows else None

    async def integrity_check(self) -> str:
        row = await self._one("PRAGMA integrity_check")
        return str(row[0]) if row else "no answer"

    # Papers

    async def upsert_papers(self, papers: Iterable[Paper], now: datetime) -> int:
        """Insert or refresh papers; a paper keeps the first day it was featured."""
        rows = [
            (
                p.id,
                p.title,
                p.abstract,
                json.dumps(list(p.authors)),
                p.upvotes,
                p.featured_day.isoformat(),
                p.published_day.isoformat() if p.published_day else None,
                p.ai_summary,
                json.dumps(list(p.ai_keywords)),
                p.github_repo,
                p.github_stars,
                p.project_page,
                p.organization,
                now.isoformat(),
            )
            for p in papers
        ]
        async with self.transaction() as db:
            await db.executemany(
                f"INSERT INTO papers ({_PAPER_COLUMNS}, updated_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (id) DO UPDATE SET title = excluded.title, abstract = excluded.abstract,"
                " authors = excluded.authors, upvotes = excluded.upvotes,"
                " featured_day = min(featured_day, excluded.featured_day),"
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
            f"SELECT {_PAPER_COLUMNS} FROM papers WHERE featured_day >= ?"
            " ORDER BY upvotes DESC, id",
            (day.isoformat(),),
        )
        return [_paper(r) for r in rows]

    async def recent_papers(self, days: int) -> list[Paper]:
        """Papers of the newest `days` featured days in the store, best first."""
        found = await self.featured_days(days)
        return await self.papers_since(found[-1]) if found else []

    async def count_papers(self, day: date) -> int:
        row = await self._one("SELECT count(*) FROM papers WHERE featured_day = ?", (day.isoformat(),))
        return int(row[0]) if row else 0

    # Channels

    async def channel(self, key: ChannelKey) -> Channel | None:
        row = await self._one(
            f"SELECT {_CHANNEL_COLUMNS} FROM channels WHERE platform = ? AND workspace = ? AND channel = ?",
            (key.platform, key.workspace, key.channel),
        )
        return _channel(row) if row else None

    async def channel_by_id(self, channel_id: int) -> Channel | None:
        row = await self._one(f"SELECT {_CHANNEL_COLUMNS} FROM channels WHERE id = ?", (channel_id,))
        return _channel(row) if row else None

    async def ensure_channel(self, key: ChannelKey, time: str, tz: str, now: datetime) -> Channel:
        async with self.transaction() as db:
            await db.execute(
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
            f"SELECT {_CHANNEL_COLUMNS} FROM channels"
            " WHERE EXISTS (SELECT 1 FROM subscriptions s WHERE s.channel_id = channels.id) ORDER BY id"
        )
        return [_channel(r) for r in rows]

    _SETTABLE = frozenset(
        {"time", "tz", "mode", "min_upvotes", "max_papers", "paused_reason", "since_day", "last_run_at"}
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
        async with self.transaction() as db:
            await db.execute(
                f"UPDATE channels SET {assignments} WHERE id = ?", (*values.values(), channel.id)
            )
        return replace(channel, **changes)  # type: ignore[arg-type]

    # Subscriptions

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
        async with self.transaction() as db:
            async with db.execute(
                "SELECT count(*) FROM subscriptions WHERE channel_id = ?", (channel.id,)
            ) as cursor:
                row = await cursor.fetchone()
            if row and row[0] >= limit:
                return None
            async with db.execute(
                "INSERT INTO subscriptions (channel_id, query, created_by, created_by_name, created_at)"
                " VALUES (?, ?, ?, ?, ?) RETURNING id",
                (channel.id, query, user, user_name, now.isoformat()),
            ) as cursor:
                inserted = await cursor.fetchone()
        assert inserted is not None
        return Subscription(int(inserted[0]), channel.id, query, user, now, user_name)

    async def remove_subscriptions(self, channel_id: int, ids: Sequence[int]) -> int:
        marks = ", ".join("?" for _ in ids)
        async with self.transaction() as db:
            cursor = await db.execute(
                f"DELETE FROM subscriptions WHERE channel_id = ? AND id IN ({marks})",
                (channel_id, *ids),
            )
            return cursor.rowcount

    # The delivery ledger

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
        channel's planning lock, so the (channel, paper) key is never hit twice.
        """
        async with self.transaction() as db:
            async with db.execute(
                "INSERT INTO digests (channel_id, title, more, more_url, planned_at)"
                " VALUES (?, ?, ?, ?, ?) RETURNING id",
                (channel.id, title, len(held_back), more_url, now.isoformat()),
            ) as cursor:
                row = await cursor.fetchone()
            assert row is not None
            digest_id = int(row[0])
            rows = [
                (channel.id, item.paper.id, digest_id, position, int(position < len(shown)),
                 _reasons_json(item.reasons))
                for position, item in enumerate([*shown, *held_back])
            ]
            await db.executemany(
                "INSERT INTO deliveries (channel_id, paper_id, digest_id, position, shown, reasons)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                rows,
            )
            if since_day is not None:
                await db.execute(
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
                f"SELECT {', '.join('p.' + c.strip() for c in _PAPER_COLUMNS.split(','))}, d.reasons"
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
                    items=tuple(DigestItem(_paper(r[:-1]), _reasons(r[-1])) for r in items),
                    more=more,
                    more_url=more_url,
                    state=state,
                    parts={int(p): str(ref) for p, ref in parts},
                )
            )
        return found

    async def mark_sending(self, digest_id: int) -> None:
        """Note that a post is in flight, so a restart knows the platform may already have it."""
        async with self.transaction() as db:
            await db.execute("UPDATE digests SET state = 'sending' WHERE id = ?", (digest_id,))

    async def settle(self, digest_id: int) -> None:
        """No post is in flight: the last one certainly failed."""
        async with self.transaction() as db:
            await db.execute("UPDATE digests SET state = 'planned' WHERE id = ? AND state = 'sending'", (digest_id,))

    async def record_part(self, digest_id: int, part: int, ref: str) -> None:
        """Record a part the platform accepted; nothing is in flight any more."""
        async with self.transaction() as db:
            await db.execute(
                "INSERT OR REPLACE INTO digest_parts (digest_id, part, ref) VALUES (?, ?, ?)",
                (digest_id, part, ref),
            )
            await db.execute("UPDATE digests SET state = 'planned' WHERE id = ? AND state = 'sending'", (digest_id,))

    async def mark_sent(self, digest_id: int, now: datetime) -> None:
        async with self.transaction() as db:
            await db.execute(
                "UPDATE digests SET state = 'sent', sent_at = ? WHERE id = ?", (now.isoformat(), digest_id)
            )

    async def delivered_count(self, channel_id: int) -> int:
        row = await self._one(
            "SELECT count(*) FROM deliveries d JOIN digests g ON g.id = d.digest_id"
            " WHERE d.channel_id = ? AND d.shown = 1 AND g.state = 'sent'",
            (channel_id,),
        )
        return int(row[0]) if row else 0

