"""`paperboy migrate`: copy one Paperboy database into another (a SQLite file into PostgreSQL), verified.

A SQLite source is first copied with SQLite's online backup, so a bot may keep running on it:
what moves is one consistent moment of it. Both sides are brought to the current schema, then
every table the migrations create (whatever they are at the time) is copied in one transaction
on the target, in creation order (which is the order foreign keys need), install id included.
The target must hold no data yet.
"""

from __future__ import annotations

import re
import sqlite3
import tempfile
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

from bot.store import Store, StoreError
from bot.store.database import is_postgres, marks
from bot.store.schema import MIGRATIONS

_CREATED = re.compile(r"CREATE TABLE (\w+)")
BATCH = 1000


@dataclass(frozen=True, slots=True)
class Count:
    table: str
    source: int
    target: int


def schema_tables() -> list[str]:
    """Every table of the schema, in the order the migrations create them."""
    return [name for script in MIGRATIONS for name in _CREATED.findall(script)]


def _snapshot(path: str, folder: Path) -> str:
    file = Path(path.removeprefix("sqlite:///"))
    if not file.is_file():
        raise StoreError(f"{file} does not exist or is not a file")
    copy = folder / "snapshot.db"
    try:
        with closing(sqlite3.connect(f"file:{file}?mode=ro", uri=True)) as src, closing(sqlite3.connect(copy)) as dst:
            src.backup(dst)
    except sqlite3.Error as err:
        raise StoreError(f"cannot read {file}: {err}") from None
    return str(copy)


async def _count(store: Store, table: str) -> int:
    row = await store._one(f"SELECT count(*) FROM {table}")
    return int(row[0]) if row else 0


async def copy_database(source: str, target: str) -> list[Count]:
    """Copy `source` into the empty `target`; the rows of each table on both sides afterwards."""
    with tempfile.TemporaryDirectory(prefix="paperboy-migrate-") as folder:
        src = await Store.open(source if is_postgres(source) else _snapshot(source, Path(folder)))
        try:
            dst = await Store.open(target)
            try:
                return await _copy(src, dst)
            finally:
                await dst.close()
        finally:
            await src.close()


async def _copy(src: Store, dst: Store) -> list[Count]:
    present = set(await src.backend.tables())
    tables = [table for table in schema_tables() if table in present]
    for table in tables:
        if table != "meta" and (rows := await _count(dst, table)):
            raise StoreError(
                f"{dst.backend.described} already has data ({rows} rows in {table}): migrate into an empty database"
            )
    async with dst.transaction() as tx:
        await tx.execute("DELETE FROM meta")  # the target's fresh install id gives way to the source's
        for table in tables:
            wanted = set(await dst.backend.columns(table))
            columns = [column for column in await src.backend.columns(table) if column in wanted]
            rows = await src._all(f"SELECT {', '.join(columns)} FROM {table}")
            insert = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks(columns)})"
            for start in range(0, len(rows), BATCH):
                await tx.executemany(insert, [tuple(row) for row in rows[start : start + BATCH]])
            await dst.backend.after_copy(tx, table)
    return [Count(table, await _count(src, table), await _count(dst, table)) for table in tables]
