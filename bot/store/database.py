"""The database behind the store: a SQLite file (the default) or a PostgreSQL server, one interface.

`PAPERBOY_DB` picks the backend: `postgresql://...` or `postgres://...` is PostgreSQL (asyncpg,
imported only then), anything else a SQLite file (a path, or `sqlite:///path`). Queries are
written once, with `?` placeholders, in the SQL both accept; the backend's dialect translates
the rest (placeholders, the DDL rules in `bot.store.schema`, row locks). Every write runs in
`transaction()`: on SQLite one writer (`BEGIN IMMEDIATE` under a lock, `synchronous=FULL`, as a
lost commit of a "sent" mark would mean a second post), on PostgreSQL a READ COMMITTED
transaction on a pooled connection, with the row locks the claims take.
"""

from __future__ import annotations

import os
import re
import secrets
import socket
from collections.abc import Callable, Iterator, Sequence, Sized
from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol, Self, TypeVar
from urllib.parse import urlsplit

from bot.store.schema import MIGRATIONS

Row = Sequence[Any]
T = TypeVar("T")
Clock = Callable[[], datetime]
DEFAULT_LEASE = timedelta(seconds=300)


class StoreError(ValueError):
    """The database cannot be used; the message says which one and why, on one line."""


class StoreUnavailable(StoreError):
    """The database server cannot be reached (now): the operation may be retried later."""


class Tx(Protocol):
    """One open transaction."""

    async def all(self, sql: str, params: Sequence[object] = ()) -> list[Row]: ...

    async def one(self, sql: str, params: Sequence[object] = ()) -> Row | None: ...

    async def execute(self, sql: str, params: Sequence[object] = ()) -> int:
        """Run one statement; the number of rows it changed."""
        ...

    async def executemany(self, sql: str, rows: Sequence[Sequence[object]]) -> None: ...


class Backend(Protocol):
    """What differs between SQLite and PostgreSQL, behind one face."""

    name: str  # "sqlite" or "postgresql"
    shared: bool  # several processes may work on it at once, and should pace together
    row_locks: bool  # SELECT ... FOR UPDATE exists (PostgreSQL); SQLite's BEGIN IMMEDIATE locks everything
    described: str  # the database as a message may name it (never a password)
    errors: tuple[type[Exception], ...]  # what its driver raises for a database it cannot use

    def transaction(self) -> AbstractAsyncContextManager[Tx]: ...

    async def all(self, sql: str, params: Sequence[object] = ()) -> list[Row]: ...

    async def version(self, tx: Tx | None = None) -> int: ...

    async def begin_migration(self, tx: Tx) -> None:
        """Serialise migrations between processes for the rest of `tx`."""
        ...

    async def set_version(self, tx: Tx, number: int) -> None: ...

    def ddl(self, script: str) -> list[str]:
        """A migration script as this backend's statements."""
        ...

    def exclusive(self, name: str) -> AbstractAsyncContextManager[bool]:
        """Held by one process at a time: True inside when this one got it, False when another has it."""
        ...

    async def tables(self) -> list[str]: ...

    async def columns(self, table: str) -> list[str]: ...

    async def after_copy(self, tx: Tx, table: str) -> None:
        """Make identity columns continue after the ids copied in."""
        ...

    async def close(self) -> None: ...


def is_postgres(target: str) -> bool:
    return re.match(r"postgres(ql)?://", target.strip()) is not None


def redacted(target: str) -> str:
    """The database as a log line or an error may name it: a URL loses its password and query string."""
    if not is_postgres(target):
        return target
    parts = urlsplit(target.strip())
    try:
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        port = ""
    user = f"{parts.username}@" if parts.username else ""
    return f"{parts.scheme}://{user}{parts.hostname or ''}{port}{parts.path}"


async def connect(target: str) -> Backend:
    if is_postgres(target):
        from bot.store.postgres import PostgresBackend

        return await PostgresBackend.connect(target)
    from bot.store.sqlite import SqliteBackend

    return await SqliteBackend.connect(target.removeprefix("sqlite:///"))


IN_CHUNK = 400  # ids per `IN (...)` list, two lists to a query within SQLite's oldest limit of 999 parameters


def chunked(items: Sequence[T], size: int = IN_CHUNK) -> Iterator[Sequence[T]]:
    """`items` in slices short enough for one `IN (...)` list."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


def marks(items: Sized) -> str:
    """The placeholders of an `IN (...)` list of these items."""
    return ", ".join("?" * len(items))


def stamp(moment: datetime) -> str:
    """A moment as fixed-width UTC text, so that text order is time order."""
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


class Database:
    """Async access to the database; open with `await <Store>.open(target)`.

    `worker` names this process in the claims it takes; `clock` and `lease` time them.
    """

    def __init__(self, backend: Backend, clock: Clock, lease: timedelta) -> None:
        self._backend = backend
        self.clock = clock
        self.lease = lease
        self.worker = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"
        self.install_id = ""

    @classmethod
    async def open(
        cls, target: str, clock: Clock = lambda: datetime.now(UTC), lease: timedelta = DEFAULT_LEASE
    ) -> Self:
        """The database, migrated; StoreError naming it and the problem otherwise.

        Whatever fails, the connection is closed, so it never keeps the process alive.
        """
        backend = await connect(target)
        store = cls(backend, clock, lease)
        try:
            await store._migrate()
            row = await store._one("SELECT value FROM meta WHERE name = 'install_id'")
            if row is None:
                raise StoreError(f"{backend.described} is not a Paperboy database (it has no install id)")
            # Part of every delivery key, so a fresh database never reuses a key an old one posted.
            store.install_id = str(row[0])
        except backend.errors as err:
            await backend.close()
            raise StoreError(f"cannot use {backend.described}: {' '.join(str(err).split())}") from None
        except BaseException:
            await backend.close()
            raise
        return store

    @property
    def backend(self) -> Backend:
        return self._backend

    async def close(self) -> None:
        await self._backend.close()

    async def _migrate(self) -> None:
        """Bring the schema up to date. Each step reads the version again under the backend's
        migration lock, so two processes starting on a fresh database migrate it once."""
        version = await self._backend.version()
        if version > len(MIGRATIONS):
            raise StoreError(
                f"the database was made by a newer Paperboy (schema {version}, this one knows "
                f"{len(MIGRATIONS)}): upgrade Paperboy"
            )
        for number, script in enumerate(MIGRATIONS, start=1):
            if version >= number:
                continue
            async with self.transaction() as tx:
                await self._backend.begin_migration(tx)
                if await self._backend.version(tx) >= number:  # another process got there first
                    continue
                for statement in self._backend.ddl(script):
                    await tx.execute(statement)
                await self._backend.set_version(tx, number)

    def transaction(self) -> AbstractAsyncContextManager[Tx]:
        return self._backend.transaction()

    @property
    def _row_lock(self) -> str:
        """Appended to a SELECT in a transaction: lock the rows it reads until the commit."""
        return " FOR UPDATE" if self._backend.row_locks else ""

    @property
    def _skip_locked(self) -> str:
        """Appended to a SELECT in a transaction: lock the rows it reads, leaving out rows another holds."""
        return " FOR UPDATE SKIP LOCKED" if self._backend.row_locks else ""

    async def _all(self, sql: str, params: Sequence[object] = ()) -> list[Row]:
        return await self._backend.all(sql, params)

    async def _one(self, sql: str, params: Sequence[object] = ()) -> Row | None:
        rows = await self._all(sql, params)
        return rows[0] if rows else None

    def exclusive(self, name: str) -> AbstractAsyncContextManager[bool]:
        """One worker at a time (PostgreSQL: an advisory lock); on SQLite always this one."""
        return self._backend.exclusive(name)
