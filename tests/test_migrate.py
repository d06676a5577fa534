"""`paperboy migrate`: a lab's SQLite file moved into PostgreSQL, verified, and PAPERBOY_DB errors on PostgreSQL."""

from __future__ import annotations

import subprocess
import sys
from datetime import timedelta
from pathlib import Path

from bot.backoff import Backoff
from bot.config import Settings
from bot.core import Core
from bot.models import ChannelKey
from bot.source import FileSource
from bot.store import Store
from bot.store.copy import schema_tables
from tests.conftest import AUG21
from tests.support import MemoryAdapter, VirtualTime
from tests.test_cli import paperboy


async def lab(path: Path, days_dir: Path, clock: VirtualTime) -> tuple[str, dict[str, int]]:
    """A SQLite database as a lab leaves it: papers, two channels, digests sent; its install id and counts."""
    core = await Core.open(Settings(db=str(path), source=str(days_dir)), FileSource(days_dir), clock, clock.timing,
                           Backoff(jitter=0.0))
    try:
        core.delivery.attach({"memory": MemoryAdapter()})
        await core.fetch([AUG21])
        for name in ("a", "b"):
            channel = await core.store.ensure_channel(ChannelKey("memory", "W", name), "09:00", "UTC", clock())
            await core.store.add_subscription(channel, "upvotes:>=0", "U1", "ada", clock(), 25)
            await core.delivery.deliver([channel])
        counts = {t: int((await core.store._one(f"SELECT count(*) FROM {t}") or [0])[0]) for t in schema_tables()}
        return core.store.install_id, counts
    finally:
        await core.close()


async def test_migrate_copies_every_table_and_checks_the_counts(
    tmp_path: Path, days_dir: Path, clock: VirtualTime, postgres_db: str
) -> None:
    source = tmp_path / "lab.db"
    install_id, counts = await lab(source, days_dir, clock)
    assert counts["deliveries"] == 34 and counts["digest_parts"] == 2 and counts["claims"] == 2
    done = paperboy(tmp_path, "migrate", "--from", str(source), "--to", postgres_db)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].split() == ["table", str(source), postgres_db]
    assert [line.split() for line in lines[1:-1]] == [[t, str(counts[t]), str(counts[t])] for t in schema_tables()]
    assert lines[-1] == f"copied {len(schema_tables())} tables; every count matches"

    store = await Store.open(postgres_db, clock, timedelta(seconds=300))
    try:
        assert store.install_id == install_id  # delivery keys continue, so a post is never mistaken for another
        assert await store.open_digests() == []
        assert [c.key.channel for c in await store.channels()] == ["a", "b"]
        fresh = await store.ensure_channel(ChannelKey("memory", "W", "c"), "09:00", "UTC", clock())
        assert fresh.id == 3  # ids go on after the copied ones
    finally:
        await store.close()

    again = paperboy(tmp_path, "migrate", "--from", str(source), "--to", postgres_db)
    assert again.returncode == 1
    assert again.stderr == (
        f"paperboy: migrate: {postgres_db} already has data (17 rows in papers): migrate into an empty database\n"
    )


def test_migrate_from_a_missing_file_is_one_line(tmp_path: Path, postgres_db: str) -> None:
    done = paperboy(tmp_path, "migrate", "--from", str(tmp_path / "nope.db"), "--to", postgres_db)
    assert (done.returncode, done.stderr) == (1, f"paperboy: migrate: {tmp_path / 'nope.db'} does not exist or is not a file\n")


def test_an_unreachable_server_is_one_line_naming_paperboy_db_without_the_password(tmp_path: Path) -> None:
    done = paperboy(tmp_path, "run", PAPERBOY_DB="postgresql://ada:s3cret@127.0.0.1:1/paperboy")
    assert done.returncode == 1
    assert done.stderr.startswith("paperboy: PAPERBOY_DB: cannot connect to postgresql://ada@127.0.0.1:1/paperboy: ")
    assert done.stderr.count("\n") == 1 and "s3cret" not in done.stderr + done.stdout


def test_help_does_not_load_the_postgresql_driver() -> None:
    probe = subprocess.run(
        [sys.executable, "-c", "import sys\ntry:\n    from adapters import main; main(['--help'])\n"
         "except SystemExit: pass\nprint('postgres driver loaded:', 'asyncpg' in sys.modules)"],
        capture_output=True, text=True, timeout=60,
    )
    assert probe.stdout.splitlines()[-1] == "postgres driver loaded: False", probe.stderr
