"""The SQLite backend: one file, one connection, one writer.

Every write runs in `BEGIN IMMEDIATE` under a lock, with `synchronous=FULL`; other processes
on the same file wait on SQLite's busy timeout. Migrations are counted by `PRAGMA user_version`.
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

from bot.store.database import Row, StoreError, Tx

PRAGMAS = ("journal_mode=WAL", "busy_timeout=10000", "synchronous=FULL", "foreign_keys=ON")


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


class _Tx:
    def __init__(self, db: aiosqlite.Connection) -> None:
        self._db = db

    async def all(self, sql: str, params: Sequence[object] = ()) -> list[Row]:
        return list(await self._db.execute_fetchall(sql, params))

    async def one(self, sql: str, params: Sequence[object] = ()) -> Row | None:
        rows = await self.all(sql, params)
        return rows[0] if rows else None

    async def execute(self, sql: str, params: Sequence[object] = ()) -> int:
        cursor = await self._db.execute(sql, params)
        changed = cursor.rowcount
        await cursor.close()
        return changed

    async def executemany(self, sql: str, rows: Sequence[Sequence[object]]) -> None:
        await self._db.executemany(sql, rows)


class SqliteBackend:
    name = "sqlite"
    shared = False
    row_locks = False  # BEGIN IMMEDIATE already makes every write transaction the only one
    errors = (sqlite3.Error,)

    def __init__(self, db: aiosqlite.Connection, path: str) -> None:
        self._db = db
        self._write_lock = asyncio.Lock()
        self.described = path

    @classmethod
    async def connect(cls, path: str) -> Self:
        _prepare(path)
        db = await aiosqlite.connect(path, isolation_level=None)
        backend = cls(db, path)
        try:
            for pragma in PRAGMAS:
                await db.execute(f"PRAGMA {pragma}")
            await backend.version()
        except sqlite3.Error as err:
            await db.close()
            raise StoreError(f"cannot use {path}: {err}") from None
        return backend

    async def close(self) -> None:
        await self._db.close()

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Tx]:
        async with self._write_lock:
            await self._db.execute("BEGIN IMMEDIATE")
            try:
                yield _Tx(self._db)
            except BaseException:
                await self._db.rollback()
                raise
            await self._db.commit()

    async def all(self, sql: str, params: Sequence[object] = ()) -> list[Row]:
        # Run and fetched in one step: a cursor left open across an await would pin an old
        # snapshot, and another task's BEGIN IMMEDIATE would then fail at once with
        # "database is locked" (no busy wait) after another process wrote.
        return list(await self._db.execute_fetchall(sql, params))

    async def version(self, tx: Tx | None = None) -> int:
        rows = await (tx.all if tx else self.all)("PRAGMA user_version")
        return int(rows[0][0]) if rows else 0

    async def begin_migration(self, tx: Tx) -> None:
        return None  # BEGIN IMMEDIATE: no other process writes until this one commits

    async def set_version(self, tx: Tx, number: int) -> None:
        await tx.execute(f"PRAGMA user_version = {int(number)}")

    def ddl(self, script: str) -> list[str]:
        return [statement for statement in script.split(";") if statement.strip()]

    @asynccontextmanager
    async def exclusive(self, name: str) -> AsyncIterator[bool]:
        yield True  # one process per file polls; several are safe, as the claims keep them apart

    async def tables(self) -> list[str]:
        rows = await self.all("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
        return [str(r[0]) for r in rows]

    async def columns(self, table: str) -> list[str]:
        return [str(r[1]) for r in await self.all(f"PRAGMA table_info({table})")]

    async def after_copy(self, tx: Tx, table: str) -> None:
        return None  # INTEGER PRIMARY KEY continues after the largest id by itself
