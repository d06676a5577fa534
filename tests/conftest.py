"""Shared test fixtures: a core on a temporary database, fed from recorded days, on a fake clock.

The `core` (and `db`) fixture runs each test on both backends: a SQLite file, and a fresh
database on a PostgreSQL server. That server is started once per session by `postgres`
(tests/postgres_server.py) and stopped at the end, unless PAPERBOY_TEST_POSTGRES names one.
Without PostgreSQL its tests are skipped, except under CI, where that is a failure.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from hypothesis import settings

# CI replays the same examples every run (derandomized); locally each run explores new ones.
settings.register_profile("ci", derandomize=True, print_blob=True)
settings.load_profile("ci" if os.environ.get("CI") else "default")

from bot.backoff import Backoff
from bot.config import Settings
from bot.core import Core
from bot.source import FileSource
from tests.fakes.discord_api import FakeDiscord
from tests.postgres_server import create_database, drop_database, server_for_tests
from tests.support import VirtualTime

FIXTURES = Path(__file__).parent / "fixtures"
AUG21 = date(2026, 8, 21)
README = Path(__file__).parent.parent / "README.md"


def readme_section(title: str) -> str:
    """One `## title` section of the README, as a user reads it."""
    text = README.read_text()
    start = text.index(f"\n## {title}\n") + 1
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else None]


@pytest.fixture
def clock() -> VirtualTime:
    """The core's wall clock and the time its pacing and backoff sleep on: tests move it instead of sleeping."""
    return VirtualTime(datetime(2026, 8, 21, 7, 0, tzinfo=UTC))


@pytest.fixture
def days_dir(tmp_path: Path) -> Path:
    """A folder source holding the two recorded days, as the Hugging Face API would serve them."""
    folder = tmp_path / "days"
    folder.mkdir()
    for name in ("2024-10-25.json", "2026-08-21.json"):
        shutil.copy(FIXTURES / name, folder / name)
    return folder


@pytest.fixture(scope="session")
def postgres() -> Iterator[str]:
    """The URL of a PostgreSQL server's admin database, for the whole session."""
    if url := os.environ.get("PAPERBOY_TEST_POSTGRES", "").strip():
        yield url
        return
    server = server_for_tests()
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture
def postgres_db(postgres: str) -> Iterator[str]:
    """A fresh, empty database for one test; dropped afterwards."""
    url = create_database(postgres)
    yield url
    drop_database(postgres, url)


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """`PAPERBOY_DB` for one test, on each backend in turn."""
    if request.param == "sqlite":
        return str(tmp_path / "paperboy.db")
    return str(request.getfixturevalue("postgres_db"))


@pytest.fixture
async def core(db: str, days_dir: Path, clock: VirtualTime) -> AsyncIterator[Core]:
    settings = Settings(db=db, source=str(days_dir))
    opened = await Core.open(settings, FileSource(days_dir), clock, clock.timing, Backoff(jitter=0.0))
    yield opened
    await opened.close()


async def add_busy_day(core: Core, now: datetime) -> None:
    """The 2024 day's 25 papers as if featured on 21 Aug too: with that day's 17, a digest too long for one message."""
    older = await FileSource(FIXTURES / "2024-10-25.json").fetch_day(date(2024, 10, 25))
    await core.store.upsert_papers([replace(p, id=f"9{p.id}", featured_day=AUG21) for p in older], now)


@pytest.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    """A fake Discord REST API and gateway on 127.0.0.1."""
    server = FakeDiscord()
    await server.start()
    yield server
    await server.close()
