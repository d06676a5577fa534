"""Start-up time of `paperboy --help` and resident memory of an idle `paperboy run`.

Run `python benchmarks/bench_footprint.py`. Each configuration is an environment to run
the bot with (`idle_rss(env)`), so other adapters are measured by adding an entry to
`configurations()`. The bot reads a recorded day (PAPERBOY_SOURCE) into a temporary
database; its standard input stays open so it idles as it would when deployed.
"""

from __future__ import annotations

import asyncio
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Awaitable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.fakes.discord_api import FakeDiscord  # noqa: E402
from tests.fakes.slack_api import FakeSlack  # noqa: E402

T = TypeVar("T")
GUILD = "1100000000000000001"
FIXTURE = ROOT / "tests" / "fixtures" / "2026-08-21.json"
HELP_RUNS = 7
IDLE_SECONDS = 4.0
HELP_TARGET_S = 0.5
RSS_TARGET_MB = 120.0


def base_env(db: Path) -> dict[str, str]:
    """The environment without any chat token, so the adapters under test are exactly those added."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PAPERBOY_", "SLACK_", "DISCORD_", "HF_"))}
    env.update(PAPERBOY_DB=str(db), PAPERBOY_SOURCE=str(FIXTURE), PAPERBOY_LOG_LEVEL="WARNING")
    return env


def help_seconds(env: Mapping[str, str], runs: int = HELP_RUNS) -> float:
    """Median wall time of `python -m adapters --help`, imports included."""
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "adapters", "--help"], env=env, cwd=ROOT, check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _memory_mb(pid: int, field: str) -> float:
    """A /proc/<pid>/status memory line (VmRSS: now, VmHWM: the peak so far) in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no {field} for process {pid}")


def idle_rss(env: Mapping[str, str], idle: float = IDLE_SECONDS) -> tuple[float, float, str]:
    """Resident and peak MB of `paperboy run` after it started and idled `idle` s; how it then ended."""
    process = subprocess.Popen(
        [sys.executable, "-m", "adapters", "run"], env=env, cwd=ROOT,
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        time.sleep(idle)
        if process.poll() is not None:
            _, err = process.communicate()
            raise RuntimeError(f"paperboy run exited early ({process.returncode}): {err}")
        rss, peak = _memory_mb(process.pid, "VmRSS"), _memory_mb(process.pid, "VmHWM")
        process.stdin.close()  # type: ignore[union-attr]  # end of input ends the console...
        process.send_signal(signal.SIGINT)  # ...and Ctrl-C the chat adapters
        process.wait(timeout=30)
        err = process.stderr.read()  # type: ignore[union-attr]
        ended = f"exit {process.returncode}" + (f": {err.strip().splitlines()[-1]}" if process.returncode else "")
        return rss, peak, ended
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


@contextmanager
def fakes() -> Iterator[tuple[FakeSlack, FakeDiscord]]:
    """The Slack and Discord fakes, served from a background event loop while the bot runs."""
    loop = asyncio.new_event_loop()
    threading.Thread(target=loop.run_forever, daemon=True).start()

    def call(coroutine: Awaitable[T]) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, loop).result(10)  # type: ignore[arg-type]

    slack, discord = FakeSlack(), FakeDiscord()
    call(slack.__aenter__())
    call(discord.start())
    try:
        yield slack, discord
    finally:
        call(discord.close())
        call(slack.__aexit__(None, None, None))
        loop.call_soon_threadsafe(loop.stop)


def configurations(workdir: Path, slack: FakeSlack, discord: FakeDiscord) -> dict[str, dict[str, str]]:
    """Name -> the environment to run with."""
    return {
        "console": base_env(workdir / "console.db"),
        "all three": base_env(workdir / "all.db") | {
            "PAPERBOY_CONSOLE": "true",
            "SLACK_BOT_TOKEN": slack.bot_token, "SLACK_APP_TOKEN": slack.app_token, "SLACK_API_URL": slack.api_url,
            "DISCORD_TOKEN": discord.token, "DISCORD_API_URL": discord.api_url,
            "DISCORD_GATEWAY_URL": discord.gateway_url, "DISCORD_GUILD_IDS": GUILD,
        },
    }


def main() -> int:
    rows = []
    with tempfile.TemporaryDirectory() as tmp, fakes() as (slack, discord):
        for name, env in configurations(Path(tmp), slack, discord).items():
            start_up = help_seconds(env)
            rss, peak, ended = idle_rss(env)
            rows.append((name, start_up, rss, peak, ended))
        if not (discord.identified and slack.calls_to("apps.connections.open")):
            raise SystemExit("the chat adapters never connected to the fakes: the 'all three' row is not valid")
    print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs; --help median of {HELP_RUNS}, "
          f"RSS after {IDLE_SECONDS:.0f} s idle")
    header = (f"{'adapters':<10} {'--help s':>9} {'target':>7} {'idle RSS MB':>12} {'target':>7} {'peak MB':>8}"
              "  after end of input")
    print(header)
    print("-" * len(header))
    for name, start_up, rss, peak, ended in rows:
        print(f"{name:<10} {start_up:>9.3f} {'met' if start_up < HELP_TARGET_S else 'MISSED':>7} {rss:>12.1f} "
              f"{'met' if rss < RSS_TARGET_MB else 'MISSED':>7} {peak:>8.1f}  {ended}")
    print(f"targets: --help under {HELP_TARGET_S} s, idle RSS under {RSS_TARGET_MB:.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
