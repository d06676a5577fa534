"""Worker drills: three real `paperboy run` processes on one PostgreSQL database and 1,000 due channels.

Each drill seeds a fresh database with the recorded day and 1,000 channels subscribed to all of
it (due now: none has had its 09:00 digest), starts three workers (tests/drills/wave.py, whose
platform is a file every worker appends to), and strikes in the middle of the wave: one worker
is SIGKILLed, or the PostgreSQL server is restarted under all three. Afterwards every channel
must show its digest exactly once, with the right papers, the ledger must hold every paper of
every channel once and nothing open, and no claim may be left.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.source import FileSource
from bot.store import Store
from tests.conftest import AUG21, FIXTURES
from tests.postgres_server import PostgresServer, create_database, server_for_tests

ROOT = Path(__file__).parent.parent
DAY = FIXTURES / "2026-08-21.json"
CHANNELS = 1_000
WORKERS = 3
SHOWN = 10  # a channel's cap: the digest shows the 10 best of the day's 17 papers
GUARD = 50.0  # seconds; only a guard against a hang


@pytest.fixture(scope="module")
def server() -> Iterator[PostgresServer]:
    """A PostgreSQL server of the drills' own, which they may restart."""
    started = server_for_tests()
    yield started
    started.stop()


async def seed(url: str) -> list[str]:
    """The day's papers and 1,000 subscribed channels; the ids a digest shows, best first."""
    store = await Store.open(url)
    try:
        now = datetime.now(UTC)
        await store.upsert_papers(await FileSource(DAY).fetch_day(AUG21), now)
        async with store.transaction() as tx:
            await tx.executemany(
                "INSERT INTO channels (id, platform, workspace, channel, time, tz, created_at)"
                " VALUES (?, 'wave', 'W', ?, '00:00', 'UTC', ?)",
                [(n, f"c{n}", now.isoformat()) for n in range(1, CHANNELS + 1)],
            )
            await tx.executemany(
                "INSERT INTO subscriptions (channel_id, query, created_by, created_at) VALUES (?, 'upvotes:>=0', 'U', ?)",
                [(n, now.isoformat()) for n in range(1, CHANNELS + 1)],
            )
            await store.backend.after_copy(tx, "channels")
        return [p.id for p in (await store.papers_since(AUG21))[:SHOWN]]
    finally:
        await store.close()


def workers(url: str, posts: Path, logs: Path) -> list[subprocess.Popen[bytes]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PAPERBOY_", "SLACK_", "DISCORD_", "TELEGRAM_"))}
    env.update(PAPERBOY_DB=url, PAPERBOY_SOURCE=str(DAY), DRILL_POSTS=str(posts), PAPERBOY_LEASE_SECONDS="3",
               PYTHONPATH=str(ROOT))
    return [
        subprocess.Popen([sys.executable, str(ROOT / "tests/drills/wave.py")], env=env, cwd=logs.parent,
                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=(logs / f"worker{n}.log").open("wb"))
        for n in range(WORKERS)
    ]


def lines(posts: Path) -> list[list[str]]:
    return [line.split() for line in posts.read_text().splitlines()] if posts.exists() else []


def until(done: Callable[[], bool], what: str) -> None:
    """Wait for the processes to get somewhere; fail (not hang) if they never do."""
    deadline = time.monotonic() + GUARD
    while not done():
        assert time.monotonic() < deadline, f"gave up waiting: {what}"
        time.sleep(0.05)


async def ledger(url: str) -> dict[str, int]:
    store = await Store.open(url)
    try:
        queries = {
            "sent": "SELECT count(*) FROM digests WHERE state = 'sent'",
            "open": "SELECT count(*) FROM digests WHERE state != 'sent'",
            "deliveries": "SELECT count(*) FROM deliveries",
            "parts": "SELECT count(*) FROM digest_parts",
            "claimed": "SELECT count(*) FROM claims WHERE worker != ''",
            "ran": "SELECT count(*) FROM channels WHERE last_run_at IS NOT NULL",
        }
        return {name: int((await store._one(sql) or [0])[0]) for name, sql in queries.items()}
    finally:
        await store.close()


def drill(server: PostgresServer, tmp_path: Path, strike: Callable[[list[subprocess.Popen[bytes]]], None]) -> str:
    url = create_database(server.url)
    shown = asyncio.run(seed(url))
    posts = tmp_path / "posts.txt"
    logs = tmp_path / "logs"
    logs.mkdir()
    running = workers(url, posts, logs)
    try:
        strike(running)
        until(lambda: len({line[0] for line in lines(posts)}) >= CHANNELS, "every channel posted")
        until(lambda: asyncio.run(ledger(url))["ran"] == CHANNELS, "every daily run recorded")
        until(lambda: asyncio.run(ledger(url))["claimed"] == 0, "the stopped worker's claims taken over and handed back")
        assert [p.poll() for p in running].count(None) >= WORKERS - 1  # the others kept going
    finally:
        for process in running:  # a clean stop hands back the claims a worker holds at that moment
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in running:
            try:
                process.wait(timeout=GUARD)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
    log = "".join(f.read_text() for f in sorted(logs.iterdir()))
    per_channel = Counter(line[0] for line in lines(posts))
    assert set(per_channel) == {f"c{n}" for n in range(1, CHANNELS + 1)}, log[-3000:]
    assert set(per_channel.values()) == {1}, [c for c, n in per_channel.items() if n > 1][:10]
    assert {line[2] for line in lines(posts)} == {",".join(shown)}  # the right papers, in order
    assert asyncio.run(ledger(url)) == {
        "sent": CHANNELS, "open": 0, "deliveries": CHANNELS * 17, "parts": CHANNELS, "claimed": 0, "ran": CHANNELS,
    }
    assert "Traceback" not in log, log[-3000:]
    return log


def test_three_workers_one_killed_mid_wave_every_channel_once(server: PostgresServer, tmp_path: Path) -> None:
    posts = tmp_path / "posts.txt"

    def kill_one(running: list[subprocess.Popen[bytes]]) -> None:
        victim = running[0]
        until(lambda: sum(line[3] == str(victim.pid) for line in lines(posts)) >= 50, "the first worker posting")
        victim.send_signal(signal.SIGKILL)
        victim.wait()

    drill(server, tmp_path, kill_one)


def test_three_workers_through_a_postgresql_restart_every_channel_once(server: PostgresServer, tmp_path: Path) -> None:
    posts = tmp_path / "posts.txt"

    def restart(running: list[subprocess.Popen[bytes]]) -> None:
        until(lambda: len(lines(posts)) >= 300, "the wave under way")
        server.restart()

    log = drill(server, tmp_path, restart)
    assert "lost the connection to" in log and "trying again in" in log  # they noticed, logged and reconnected
