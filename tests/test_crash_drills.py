"""Crash drills: the real `paperboy run` SIGKILLed at each point of delivery, then started again.

Each drill is one channel, on Slack or on Discord, subscribed beforehand to a day whose
digest takes two messages. A first process (tests/drills/crashing_run.py) is killed at the
named point of its start-up catch-up; a second one, on the same database and against the
same fake platform, catches up in turn. The channel must then show every paper exactly
once, in two messages, and the database must be sound. The drills run side by side.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sqlite3
import sys
from contextlib import closing
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from bot.config import Settings
from bot.core import Core
from bot.models import ChannelKey
from tests.conftest import FIXTURES, add_busy_day
from tests.fakes.discord_api import FakeDiscord
from tests.fakes.slack_api import FakeSlack

RUNNER = Path(__file__).parent / "drills" / "crashing_run.py"
DAY = FIXTURES / "2026-08-21.json"
AUG21 = date(2026, 8, 21)
SHOWN = 20  # papers in the digest: two messages on both platforms
GUILD = 1_100_000_000_000_000_001
DISCORD_CHANNEL = "1100000000000000002"
WAIT = 20.0  # seconds; only a guard against a hang
PLATFORMS = ("slack", "discord")
POINTS = {  # drill -> what tests/drills/crashing_run.py is told: "METHOD WHEN", and the part for record_part
    "after planning": ("plan_digests after", ""),
    "after claiming": ("mark_sending after", ""),
    "after posting part 0, before recording it": ("record_part before", "0"),
    "after posting part 1 in its thread, before recording it": ("record_part before", "1"),
    "after marking sent": ("mark_sent after", ""),
}
_SLACK_PAPER = re.compile(r"^\*\d+\. <https://huggingface\.co/papers/([^|>]+)\|")


@dataclass(frozen=True)
class Drill:
    """What one drill left behind: exit codes, what the channel shows, and the ledger."""

    codes: list[int | None]
    key: str  # the digest's delivery key
    parts: list[str]  # each message's delivery key, as the channel shows them
    refs: list[str]  # each message's platform id
    threaded: bool  # Slack: every later message is in the first one's thread (Discord has no threads here)
    papers: list[str]  # the paper ids the channel shows, message by message
    expected: list[str]
    recorded: list[str]  # the platform ids the ledger holds for the digest's parts
    unsent: int
    integrity: str
    log: str


async def seed(db: Path, key: ChannelKey) -> list[str]:
    """A stored day of 59 papers (the 2024 day's re-dated to it) and the channel subscribed to all.

    Returns the ids its digest must show, best first.
    """
    core = await Core.open(Settings(db=str(db), source=str(DAY)))
    try:
        now = datetime.now(UTC)
        await core.fetch([AUG21])
        await add_busy_day(core, now)
        channel = await core.store.ensure_channel(key, "09:00", "UTC", now)
        await core.store.add_subscription(channel, "upvotes:>=0", "U0ADA", "ada", now, 25)
        await core.store.update_channel(channel, max_papers=SHOWN)
        return [p.id for p in (await core.store.papers_since(AUG21))[:SHOWN]]
    finally:
        await core.close()


def environment(db: Path, slack: FakeSlack, discord: FakeDiscord) -> dict[str, str]:
    """`paperboy run` with Slack (Socket Mode), Discord and the console, all on this database."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DISCORD_", "SLACK_", "PAPERBOY_", "DRILL_"))}
    return env | {
        "PAPERBOY_DB": str(db), "PAPERBOY_SOURCE": str(DAY), "PAPERBOY_LOG_LEVEL": "INFO", "PAPERBOY_CONSOLE": "true",
        "SLACK_BOT_TOKEN": slack.bot_token, "SLACK_APP_TOKEN": slack.app_token, "SLACK_API_URL": slack.api_url,
        "DISCORD_TOKEN": discord.token, "DISCORD_API_URL": discord.api_url,
        "DISCORD_GATEWAY_URL": discord.gateway_url, "DISCORD_GUILD_IDS": str(GUILD),
    }


async def paperboy(env: dict[str, str], cwd: Path) -> asyncio.subprocess.Process:
    with (cwd / "paperboy.log").open("ab") as log:
        return await asyncio.create_subprocess_exec(
            sys.executable, RUNNER, cwd=cwd, env=env,
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=log,
        )


async def crash(env: dict[str, str], cwd: Path) -> int | None:
    """Run until the kill point ends the process; its exit code."""
    process = await paperboy(env, cwd)
    try:
        return await asyncio.wait_for(process.wait(), WAIT)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


async def restart(env: dict[str, str], cwd: Path) -> int | None:
    """Start again and stop once caught up: the console answers only after the start-up catch-up."""
    process = await paperboy(env, cwd)
    assert process.stdin is not None and process.stdout is not None
    try:
        process.stdin.write(b"/papers help\n")
        await process.stdin.drain()
        await asyncio.wait_for(process.stdout.readline(), WAIT)
        process.send_signal(signal.SIGINT)
        return await asyncio.wait_for(process.wait(), WAIT)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


def ledger(db: Path) -> tuple[str, list[str], int, str]:
    """The digest's delivery key, the refs recorded for its parts, how many digests are unsent, integrity."""
    with closing(sqlite3.connect(db)) as conn:
        [(install,)] = conn.execute("SELECT value FROM meta WHERE name = 'install_id'").fetchall()
        [(digest,)] = conn.execute("SELECT id FROM digests").fetchall()
        parts = conn.execute("SELECT ref FROM digest_parts WHERE digest_id = ? ORDER BY part", (digest,))
        recorded = [ref for (ref,) in parts]
        [(unsent,)] = conn.execute("SELECT count(*) FROM digests WHERE state != 'sent'").fetchall()
        [(integrity,)] = conn.execute("PRAGMA integrity_check").fetchall()
    return f"pb{install}-{digest}", recorded, unsent, integrity


async def drill(tmp: Path, platform: str, point: str) -> Drill:
    async with FakeSlack() as slack:
        discord = FakeDiscord()
        await discord.start()
        try:
            channel = slack.add_channel("papers") if platform == "slack" else DISCORD_CHANNEL
            workspace = slack.team_id if platform == "slack" else str(GUILD)
            db = tmp / "paperboy.db"
            expected = await seed(db, ChannelKey(platform, workspace, channel))
            env = environment(db, slack, discord)
            method, part = POINTS[point]
            codes = [await crash(env | {"DRILL_KILL": f"{method} {channel} {part}"}, tmp), await restart(env, tmp)]
        finally:
            await discord.close()
    if platform == "slack":
        messages = slack.posts(channel)
        parts = [str(((m.metadata or {}).get("event_payload") or {}).get("part")) for m in messages]
        refs = [m.ts for m in messages]
        threaded = all(m.thread_ts == refs[0] for m in messages[1:])
        texts = [b["text"]["text"] for m in messages for b in m.blocks if b.get("type") == "section"]
        papers = [found[1] for text in texts if (found := _SLACK_PAPER.match(text))]
    else:
        posts = discord.posts(int(channel))
        parts, refs, threaded = [str(p.get("nonce")) for p in posts], [p["id"] for p in posts], True
        papers = [embed["url"].rsplit("/", 1)[1] for p in posts for embed in p["embeds"]]
    key, recorded, unsent, integrity = ledger(tmp / "paperboy.db")
    log = (tmp / "paperboy.log").read_text()
    return Drill(codes, key, parts, refs, threaded, papers, expected, recorded, unsent, integrity, log)


@pytest.fixture(scope="module")
def drills(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, str], Drill | BaseException]:
    """Every drill, run side by side once for the module."""
    cases = [(platform, point) for point in POINTS for platform in PLATFORMS]

    async def run_all() -> list[Drill | BaseException]:
        return await asyncio.gather(
            *(drill(tmp_path_factory.mktemp("drill"), *case) for case in cases), return_exceptions=True
        )

    return dict(zip(cases, asyncio.run(run_all()), strict=True))


@pytest.mark.parametrize("platform", PLATFORMS)
@pytest.mark.parametrize("point", list(POINTS))
def test_killed_at_each_point_the_restart_shows_every_paper_exactly_once(
    drills: dict[tuple[str, str], Drill | BaseException], point: str, platform: str
) -> None:
    drill = drills[platform, point]
    if isinstance(drill, BaseException):
        raise drill
    assert drill.codes == [-signal.SIGKILL, 0], drill.log  # killed at the point; the restart stopped cleanly
    assert drill.parts == [f"{drill.key}.0", f"{drill.key}.1"]  # two messages, each posted once
    assert drill.threaded
    assert drill.papers == drill.expected  # every paper once, best first
    assert drill.recorded == drill.refs  # the ledger holds the messages the channel shows
    assert drill.unsent == 0
    assert drill.integrity == "ok"
