"""The SQLite connection: opening it safely, migrating it, and the one-writer transaction.

One connection, one writer: every write runs in `BEGIN IMMEDIATE` under a lock, with
`synchronous=FULL`, because a lost commit of a "sent" mark would mean a second post.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Self

import aiosqlite

from bot.store.schema import MIGRATIONS

PRAGMAS = ("journal_mode=WAL", "busy_timeout=10000", "synchronous=FULL", "foreign_keys=ON")


class StoreError(ValueError):
    """The database cannot be used; the message says which file and why, on one line."""


def _prepare(path: str) -> None:
    """Refuse what SQLite would fail on obscurely, and create a new file readable by its owner only."""
    if path == ":memory:":
        return
    file = Path(path)
    if file.is_dir():
        raise StoreError(f"{path} is a folder, not a database file")
    if not file.parent.is_dir():
        raise StoreError(f"the folder {file.parent} does not exist: create it, or choose another path")
    if not file.exists():
        try:
            os.close(os.open(file, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
        except FileExistsError:
            pass  # another process created it first
        except OSError as err:
            raise StoreError(f"cannot create {path}: {err.strerror or err}") from None


class Database:
    """Async access to one SQLite file; open with `await <Store>.open(path)`."""

    def __init__(self, db: aiosqlite.Connection) -> None:
        self._db = db
        self._write_lock = asyncio.Lock()
        self.install_id = ""

    @classmethod
    async def open(cls, path: str) -> Self:
        """The database, migrated; StoreError naming the file and the problem otherwise.

        Whatever fails, the connection is closed, so its worker thread never keeps the process alive.
        """
        _prepare(path)
        db = await aiosqlite.connect(path, isolation_level=None)
        store = cls(db)
        try:
            for pragma in PRAGMAS:
                await db.execute(f"PRAGMA {pragma}")
            await store._migrate()
            row = await store._one("SELECT value FROM meta WHERE name = 'install_id'")
            if row is None:
                raise StoreError(f"{path} is not a Paperboy database (it has no install id)")
            # Part of every delivery key, so a fresh database never reuses a key an old one posted.
            store.install_id = str(row[0])
        except sqlite3.Error as err:
            await db.close()
            raise StoreError(f"cannot use {path}: {err}") from None
        except BaseException:
            await db.close()
            raise
        return store

    async def close(self) -> None:
        await self._db.close()

    async def _migrate(self) -> None:
        """Bring the schema up to date. Each step reads the version again under the write
        lock, so two processes starting on a fresh file migrate it once."""
        if await self._version() > len(MIGRATIONS):
            raise StoreError(
                f"the database was made by a newer Paperboy (schema {await self._version()}, this one knows "
                f"{len(MIGRATIONS)}): upgrade Paperboy"
            )
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
