"""A database that cannot be used is one line naming PAPERBOY_DB and why, and never a hang."""

from __future__ import annotations

import os
import re
import sqlite3
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from bot.store.schema import MIGRATIONS
from bot.store import Store, StoreError

ROOT = Path(__file__).parent.parent


def newer(path: Path) -> None:
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA user_version = 99")


def junk(path: Path) -> None:
    path.write_bytes(b"junk" * 1000)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (junk, "file is not a database"),
        (newer, f"made by a newer Paperboy (schema 99, this one knows {len(MIGRATIONS)}): upgrade Paperboy"),
        (lambda path: path.mkdir(), "is a folder, not a database file"),
    ],
)
async def test_an_unusable_database_is_one_clear_error(tmp_path: Path, make: object, message: str) -> None:
    path = tmp_path / "paperboy.db"
    make(path)  # type: ignore[operator]
    with pytest.raises(StoreError, match=re.escape(message)) as raised:
        await Store.open(str(path))
    assert "\n" not in str(raised.value)


async def test_a_missing_folder_is_named(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match=f"the folder {tmp_path / 'nope'} does not exist"):
        await Store.open(str(tmp_path / "nope" / "paperboy.db"))


async def test_the_null_device_is_refused(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="cannot use /dev/null"):
        await Store.open("/dev/null")


async def test_a_new_database_is_readable_by_its_owner_only(tmp_path: Path) -> None:
    store = await Store.open(str(tmp_path / "paperboy.db"))
    await store.close()
    assert stat.S_IMODE((tmp_path / "paperboy.db").stat().st_mode) == 0o600


@pytest.mark.parametrize("make", [junk, newer])
def test_paperboy_run_on_a_bad_database_exits_1_with_one_line(tmp_path: Path, make: object) -> None:
    path = tmp_path / "bad.db"
    make(path)  # type: ignore[operator]
    env = {**os.environ, "PAPERBOY_DB": str(path), "PAPERBOY_SOURCE": str(ROOT / "tests/fixtures/2026-08-21.json")}
    done = subprocess.run(
        [sys.executable, "-m", "adapters", "run"], env=env, cwd=tmp_path, stdin=subprocess.DEVNULL,
        capture_output=True, text=True, timeout=60,
    )
    assert done.returncode == 1
    assert done.stderr.startswith("paperboy: PAPERBOY_DB: ") and done.stderr.count("\n") == 1, done.stderr
