"""Bad settings and hostile input to the `paperboy` command: one line on stderr, never a traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.test_cli import DAY_FILE, paperboy

SLACK = {"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "secret"}
DISCORD = {"DISCORD_TOKEN": "abc"}
BAD_URLS = ["http://[::1", "http://host:99999", "http://host:port/", "http://ho st/", "http:///path"]


def one_line(done: subprocess.CompletedProcess[str], code: int, message: str) -> None:
    assert (done.returncode, done.stderr.count("\n")) == (code, 1), done.stderr
    assert done.stderr.startswith("paperboy") and message in done.stderr, done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize("url", BAD_URLS)
@pytest.mark.parametrize(
    ("name", "base", "command", "example"),
    [
        ("SLACK_API_URL", SLACK, "run", "https://slack.com/api/"),
        ("PAPERBOY_SOURCE", {}, "fetch", "https://huggingface.co/api/daily_papers"),
        ("DISCORD_API_URL", DISCORD, "run", "https://discord.com/api/v10"),
        ("DISCORD_API_URL", DISCORD, "discord-invite", "https://discord.com/api/v10"),
    ],
)
def test_a_bad_http_url_is_one_line(
    tmp_path: Path, name: str, base: dict[str, str], command: str, example: str, url: str
) -> None:
    done = paperboy(tmp_path, command, **base, **{name: url})
    one_line(done, 1, f"{name} must be an http:// or https:// URL such as {example}, got '{url}'")


@pytest.mark.parametrize("url", [u.replace("http", "wss") for u in BAD_URLS])
@pytest.mark.parametrize("command", ["run", "discord-invite"])
def test_a_bad_gateway_url_is_one_line(tmp_path: Path, command: str, url: str) -> None:
    done = paperboy(tmp_path, command, **DISCORD, DISCORD_GATEWAY_URL=url)
    one_line(done, 1, f"DISCORD_GATEWAY_URL must be a ws:// or wss:// URL such as wss://gateway.discord.gg/, got '{url}'")


def test_a_dotenv_that_is_not_utf8_is_one_line(tmp_path: Path) -> None:
    (tmp_path / ".env").write_bytes(b"PAPERBOY_POLL_MINUTES=5\nPAPERBOY_DB=caf\xe9.db\n")
    done = paperboy(tmp_path, "fetch")
    one_line(done, 1, "paperboy: cannot read .env: it is not UTF-8 text (byte 0xe9 at position 39)")


def test_days_before_year_one_is_a_usage_error(tmp_path: Path) -> None:
    done = paperboy(tmp_path, "fetch", "--days", "366", "--date", "0001-01-05")
    assert done.returncode == 2
    assert done.stderr.splitlines()[-1] == (
        "paperboy: error: --days 366 before 0001-01-05 would start before 0001-01-01: use at most --days 5"
    )
    assert "Traceback" not in done.stderr


def test_console_input_that_is_not_utf8_does_not_hang(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PAPERBOY_", "SLACK_", "DISCORD_"))}
    env.update(PAPERBOY_DB=str(tmp_path / "cli.db"), PAPERBOY_SOURCE=DAY_FILE, PYTHONIOENCODING="utf-8:strict")
    done = subprocess.run(
        [sys.executable, "-m", "adapters", "run"], input=b"/papers subscribe \xff\n/papers list\n",
        capture_output=True, cwd=tmp_path, env=env, timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.decode().splitlines() == [
        "Line 1 is not valid utf-8 (byte 0xff at byte 19), so it was ignored.",
        "This channel has no subscriptions yet. Start with /papers subscribe QUERY.",
    ]
