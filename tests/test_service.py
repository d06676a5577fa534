"""`paperboy run` as a service manager runs it: exit codes, SIGTERM and SIGINT, retries at start-up.

Real subprocesses against the recorded day and the Slack and Discord fakes; every wait is on
a line of output or an event of a fake, never a sleep (the timeouts only guard against a hang).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import socket
import sqlite3
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, closing
from pathlib import Path

import discord
import pytest
from discord.gateway import DiscordWebSocket

from adapters.discord import DiscordAdapter
from adapters.discord.config import DiscordConfig
from bot.core import Core
from tests.conftest import FIXTURES
from tests.fakes.discord_api import FakeDiscord
from tests.fakes.slack_api import FakeSlack
from tests.support import StubHost, VirtualTime

DAY = FIXTURES / "2026-08-21.json"
GUILD = 1_100_000_000_000_000_001
WAIT = 20.0  # seconds; only a guard against a hang
STOP_LINE = "stopped on SIGTERM: the work in flight finished; connections closed"


def environment(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DISCORD_", "SLACK_", "PAPERBOY_", "TELEGRAM_"))}
    return env | {"PAPERBOY_DB": str(tmp_path / "paperboy.db"), "PAPERBOY_SOURCE": str(DAY), **extra}


@asynccontextmanager
async def paperboy(tmp_path: Path, env: dict[str, str]) -> AsyncIterator[asyncio.subprocess.Process]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "adapters", "run", cwd=tmp_path, env=env,
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    try:
        yield process
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


async def line_with(stream: asyncio.StreamReader, text: str, seen: list[str]) -> str:
    """Read lines until one contains `text` (every line read goes to `seen`)."""
    async with asyncio.timeout(WAIT):
        while line := (await stream.readline()).decode():
            seen.append(line)
            if text in line:
                return line
    raise AssertionError(f"{text!r} never came; the output was:\n{''.join(seen)}")


async def finish(process: asyncio.subprocess.Process, seen: list[str]) -> int:
    assert process.stderr is not None
    rest = await asyncio.wait_for(process.stderr.read(), WAIT)
    seen.append(rest.decode())
    return await asyncio.wait_for(process.wait(), WAIT)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# Exit codes


async def test_a_refused_slack_token_as_the_only_adapter_exits_1_with_one_line(tmp_path: Path) -> None:
    async with FakeSlack() as slack:
        env = environment(tmp_path, SLACK_BOT_TOKEN="xoxb-wrong", SLACK_APP_TOKEN=slack.app_token,
                          SLACK_API_URL=slack.api_url)
        async with paperboy(tmp_path, env) as process:
            seen: list[str] = []
            code = await finish(process, seen)
    err = "".join(seen)
    assert code == 1, err
    assert "Traceback" not in err
    assert err.splitlines()[-1] == "paperboy: every adapter stopped for good (slack); the log says why"
    assert "Slack adapter stopped: Slack refused SLACK_BOT_TOKEN" in err


async def test_a_port_in_use_in_slack_http_mode_exits_1(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("0.0.0.0", 0))
        taken.listen()
        port = taken.getsockname()[1]
        async with FakeSlack() as slack:
            env = environment(tmp_path, SLACK_BOT_TOKEN=slack.bot_token, SLACK_SIGNING_SECRET="s" * 32,
                              SLACK_API_URL=slack.api_url, PORT=str(port))
            async with paperboy(tmp_path, env) as process:
                seen: list[str] = []
                code = await finish(process, seen)
    assert code == 1
    assert f"port {port}" in "".join(seen) and "cannot listen on" in "".join(seen)
    assert seen[-1].splitlines()[-1] == "paperboy: every adapter stopped for good (slack); the log says why"


async def test_a_refused_discord_token_exits_1_and_the_console_ending_its_input_exits_0(
    tmp_path: Path, fake: FakeDiscord
) -> None:
    discord_env = {"DISCORD_TOKEN": "wrong.token", "DISCORD_API_URL": fake.api_url,
                   "DISCORD_GATEWAY_URL": fake.gateway_url}
    async with paperboy(tmp_path, environment(tmp_path, **discord_env)) as process:
        seen: list[str] = []
        assert await finish(process, seen) == 1
    assert seen[-1].splitlines()[-1] == "paperboy: every adapter stopped for good (discord); the log says why"

    with_console = environment(tmp_path, PAPERBOY_CONSOLE="true", **discord_env)
    async with paperboy(tmp_path, with_console) as process:
        assert process.stdin is not None
        process.stdin.close()  # the console's input ends at once: a normal end
        assert await finish(process, seen) == 0


# SIGTERM and SIGINT


def ledger(db: Path) -> tuple[int, int, int]:
    """Digests sent, digests not yet sent, papers claimed."""
    with closing(sqlite3.connect(db)) as conn:
        [(sent,)] = conn.execute("SELECT count(*) FROM digests WHERE state = 'sent'").fetchall()
        [(unsent,)] = conn.execute("SELECT count(*) FROM digests WHERE state != 'sent'").fetchall()
        [(claimed,)] = conn.execute("SELECT count(*) FROM deliveries").fetchall()
    return sent, unsent, claimed


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
async def test_a_signal_stops_the_console_cleanly_after_the_digest_in_flight(tmp_path: Path, sig: signal.Signals) -> None:
    env = environment(tmp_path, PAPERBOY_LOG_LEVEL="INFO")
    async with paperboy(tmp_path, env) as process:
        assert process.stdin is not None and process.stdout is not None and process.stderr is not None
        process.stdin.write(b"/papers subscribe llms\n/papers digest\n")
        await process.stdin.drain()
        out: list[str] = []
        await line_with(process.stdout, "Posted", out)  # the digest went out; stdin stays open
        process.send_signal(sig)
        seen: list[str] = []
        line = await line_with(process.stderr, "stopped on", seen)
        code = await finish(process, seen)
    assert code == 0, "".join(seen)
    assert line.rstrip().endswith(STOP_LINE.replace("SIGTERM", sig.name))
    assert "Traceback" not in "".join(seen)
    assert ledger(tmp_path / "paperboy.db") == (1, 0, 6)  # nothing lost, nothing left open


async def test_sigterm_stops_slack_and_discord_and_closes_their_connections(tmp_path: Path, fake: FakeDiscord) -> None:
    async with FakeSlack() as slack:
        env = environment(
            tmp_path, SLACK_BOT_TOKEN=slack.bot_token, SLACK_APP_TOKEN=slack.app_token, SLACK_API_URL=slack.api_url,
            DISCORD_TOKEN=fake.token, DISCORD_API_URL=fake.api_url, DISCORD_GATEWAY_URL=fake.gateway_url,
            DISCORD_GUILD_IDS=str(GUILD),
        )
        async with paperboy(tmp_path, env) as process:
            assert process.stderr is not None
            seen: list[str] = []
            await line_with(process.stderr, "Slack: connected", seen)
            await fake.wait_for(lambda: fake.identified and GUILD in fake.commands, WAIT)
            process.send_signal(signal.SIGTERM)
            await line_with(process.stderr, STOP_LINE, seen)
            code = await finish(process, seen)
            await fake.wait_for(lambda: not fake.connections, WAIT)  # the gateway connection was closed
    assert code == 0, "".join(seen)
    assert "Traceback" not in "".join(seen)


# Discord at start-up


async def test_discord_unreachable_at_start_is_retried_with_backoff_and_each_wait_logged(
    core: Core, fake: FakeDiscord, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(discord.http.Route, "BASE", discord.http.Route.BASE)
    monkeypatch.setattr(DiscordWebSocket, "DEFAULT_GATEWAY", DiscordWebSocket.DEFAULT_GATEWAY)
    dead = f"http://127.0.0.1:{free_port()}/api/v10"  # nothing listens there: connection refused
    config = DiscordConfig(fake.token, (GUILD,), dead, fake.gateway_url)
    config.apply()
    time = VirtualTime()

    async def sleep(seconds: float) -> None:
        await time.sleep(seconds)
        if len(time.sleeps) == 3:
            discord.http.Route.BASE = fake.api_url  # the network is back

    adapter = DiscordAdapter(config, timing=type(time.timing)(time.clock, sleep))
    caplog.set_level(logging.WARNING, "adapters.discord")
    task = asyncio.create_task(adapter.run(StubHost()))
    try:
        await fake.wait_for(lambda: fake.identified, WAIT)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await adapter.close()
    assert time.sleeps == [1.0, 2.0, 4.0]
    waits = [r.getMessage() for r in caplog.records if "cannot reach" in r.getMessage()]
    assert len(waits) == 3 and waits[0].startswith(f"Discord: cannot reach {dead} yet (")
    assert [w.rsplit("trying again in ", 1)[1] for w in waits] == ["1 s", "2 s", "4 s"]
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


# Logs


async def test_json_logs_are_one_object_per_line(tmp_path: Path) -> None:
    env = environment(tmp_path, PAPERBOY_LOG_FORMAT="json")
    async with paperboy(tmp_path, env) as process:
        assert process.stdin is not None and process.stdout is not None
        process.stdin.write(b"/papers subscribe llms\n/papers digest\n")
        process.stdin.close()
        out = (await asyncio.wait_for(process.stdout.read(), WAIT)).decode()
        seen: list[str] = []
        assert await finish(process, seen) == 0
    assert "Posted 6 papers." in out  # what the console prints stays text
    entries = [json.loads(line) for line in "".join(seen).splitlines()]
    assert entries and all(set(e) == {"time", "level", "logger", "message"} for e in entries)
    assert {"level": "INFO", "logger": "bot.delivery", "message": "sent digest 1 to console:local:console: 6 papers"} in [
        {k: e[k] for k in ("level", "logger", "message")} for e in entries
    ]


def test_a_json_log_line_carries_the_traceback_as_a_string() -> None:
    from bot.config import JsonFormatter

    try:
        raise RuntimeError("database is locked")
    except RuntimeError:
        record = logging.LogRecord("bot.core", logging.ERROR, __file__, 1, "poll failed: %s", ("x",), sys.exc_info())
    entry = json.loads(JsonFormatter().format(record))
    assert entry["message"] == "poll failed: x" and entry["level"] == "ERROR" and entry["logger"] == "bot.core"
    assert entry["exc_info"].startswith("Traceback (most recent call last):")
    assert entry["exc_info"].endswith("RuntimeError: database is locked")
    assert entry["time"].endswith("+00:00")
