"""The `paperboy` command as a user runs it: real subprocesses on a temporary database."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import FIXTURES

DAY_FILE = str(FIXTURES / "2026-08-21.json")


def paperboy(tmp_path: Path, *args: str, stdin: str = "", **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("PAPERBOY_", "SLACK_", "DISCORD_"))}
    clean.update({"PAPERBOY_DB": str(tmp_path / "cli.db"), "PAPERBOY_SOURCE": DAY_FILE, **env})
    return subprocess.run(
        [sys.executable, "-m", "adapters", *args],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=clean,
        timeout=60,
    )


def test_fetch_then_preview_prints_the_right_papers(tmp_path: Path) -> None:
    fetched = paperboy(tmp_path, "fetch")
    assert fetched.returncode == 0, fetched.stderr
    assert "2026-08-21  17 papers" in fetched.stdout
    shown = paperboy(tmp_path, "preview", '"reinforcement learning" -survey')
    assert shown.returncode == 0, shown.stderr
    lines = shown.stdout.splitlines()
    assert lines[0] == '2 of 17 papers (2026-08-21 to 2026-08-21) match "reinforcement learning" -survey'
    assert lines[1].startswith("1. EnvHarness: Awakening Static Worlds for Agent Learning  [163 upvotes")
    assert "HF: https://huggingface.co/papers/2608.19880" in shown.stdout
    assert '   why: "reinforcement learning"\n' in shown.stdout
    assert "2. EXIMO: VLM Guided Exploration of VLA Policies  [3 upvotes]" in shown.stdout


def test_piped_console_session_subscribes_and_posts(tmp_path: Path) -> None:
    script = "/papers subscribe llms\n/papers settings max-papers 4\n/papers digest\n/papers digest\n"
    done = paperboy(tmp_path, "run", stdin=script)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "Subscribed as #1: llms" in out
    assert "== Daily Papers, Fri 21 Aug 2026: 6 papers for this channel ==" in out
    assert "... and 2 more: https://huggingface.co/papers/date/2026-08-21" in out
    assert "Posted 4 papers." in out
    assert out.rstrip().endswith("Nothing new: no paper featured since the last digest matches this channel's subscriptions.")

    again = paperboy(tmp_path, "run", stdin="/papers digest\n")  # a restart posts nothing twice
    assert again.returncode == 0, again.stderr
    assert "== Daily Papers" not in again.stdout


@pytest.mark.parametrize(
    ("args", "env", "code", "message"),
    [
        (("frobnicate",), {}, 2, "invalid choice: 'frobnicate'"),
        (("fetch", "--date", "2024-13-01"), {}, 2, "'2024-13-01' is not a date: use YYYY-MM-DD"),
        (("preview", '"open'), {}, 2, "paperboy preview: unclosed quote"),
        (("run",), {"PAPERBOY_POLL_MINUTES": "soon"}, 1,
         "paperboy: PAPERBOY_POLL_MINUTES must be a whole number of minutes from 1 to 1440, got 'soon'"),
        (("run",), {"PAPERBOY_DEFAULT_TZ": "Mars/Olympus"}, 1, "paperboy: PAPERBOY_DEFAULT_TZ: 'Mars/Olympus'"),
        (("fetch",), {"PAPERBOY_SOURCE": "/nowhere/days"}, 1, "paperboy: PAPERBOY_SOURCE must be an http(s) URL"),
        (("preview", "agent"), {}, 1, "paperboy: no papers stored in"),
    ],
)
def test_bad_usage_and_bad_settings_exit_with_one_line(
    tmp_path: Path, args: tuple[str, ...], env: dict[str, str], code: int, message: str
) -> None:
    done = paperboy(tmp_path, *args, **env)
    assert done.returncode == code
    assert message in done.stderr
    if code == 1:
        assert done.stderr.count("\n") == 1


def test_version_and_help(tmp_path: Path) -> None:
    from bot import __version__

    assert paperboy(tmp_path, "--version").stdout.strip() == f"paperboy {__version__}"
    shown = paperboy(tmp_path, "--help")
    assert shown.returncode == 0
    for command in ("run", "fetch", "preview", "discord-invite"):
        assert command in shown.stdout


def test_dotenv_file_is_read(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("PAPERBOY_POLL_MINUTES=0\n")
    done = paperboy(tmp_path, "fetch")
    assert done.returncode == 1
    assert "PAPERBOY_POLL_MINUTES must be a whole number of minutes from 1 to 1440, got '0'" in done.stderr


def test_console_ratings_reorder_the_digest_and_add_also_for_you(tmp_path: Path) -> None:
    def digest_lines(out: str) -> list[str]:
        digest = out[out.index("== Daily Papers") :].splitlines()
        return [line for line in digest if line[:1].isdigit() or line.startswith(("==", "--", "   also"))]

    for name in ("plain", "rated"):
        (tmp_path / name).mkdir()
    plain = paperboy(tmp_path / "plain", "run", stdin="/papers subscribe video\n/papers digest\n")
    assert plain.returncode == 0, plain.stderr
    before = digest_lines(plain.stdout)
    assert before[0] == "== Daily Papers, Fri 21 Aug 2026: 3 papers for this channel =="
    assert before[1].startswith("1. 4DAnyone")  # upvote order
    assert "-- Also for you --" not in plain.stdout

    script = "\n".join([
        "/papers subscribe video",
        "/papers like 2608.19880", "/papers like 2608.19799", "/papers like https://huggingface.co/papers/2608.18580",
        "/papers taste",
        "/papers digest",
    ]) + "\n"
    rated = paperboy(tmp_path / "rated", "run", stdin=script)
    assert rated.returncode == 0, rated.stderr
    out = rated.stdout
    assert "👍 You liked 2608.18580 (FACET: Preserving Source Intent and Executable State in Terminal Task Synthesis)." in out
    assert "3 ratings here: 3 papers liked, 0 disliked" in out and "Digests are ranked by this taste" in out
    after = digest_lines(out)
    assert after[0] == before[0]
    titles = [[line.split(". ", 1)[1] for line in lines[1:4]] for lines in (before, after)]
    assert sorted(titles[0]) == sorted(titles[1]) and titles[0] != titles[1]  # the same papers, reordered
    assert titles[1][0].startswith("NARU")
    assert after[4] == "-- Also for you --"
    assert after[5].startswith("4. PolicyGuide")
    assert after[6] == "   also for you: like 2608.19880, which this channel liked: llm agents, policy, domain, agent"
