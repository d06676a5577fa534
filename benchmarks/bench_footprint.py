"""Start-up time of `paperboy --help` and resident memory of an idle `paperboy run`.

Run `python benchmarks/bench_footprint.py`. Each configuration is an environment to run
the bot with (`idle_rss(env)`), so other adapters are measured by adding an entry to
`configurations()`. The bot reads a recorded day (PAPERBOY_SOURCE) into a temporary
database; its standard input stays open so it idles as it would when deployed.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
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
    """Median wall time of `python -m bot --help`, imports included."""
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "bot", "--help"], env=env, cwd=ROOT, check=True, capture_output=True)
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
        [sys.executable, "-m", "bot", "run"], env=env, cwd=ROOT,
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        time.sleep(idle)
        if process.poll() is not None:
            _, err = process.communicate()
            raise RuntimeError(f"paperboy run exited early ({process.returncode}): {err}")
        rss, peak = _memory_mb(process.pid, "VmRSS"), _memory_mb(process.pid, "VmHWM")
        _, err = process.communicate("", timeout=30)  # end of input: the console finishes and exits
        ended = f"exit {process.returncode}" + (f": {err.strip().splitlines()[-1]}" if process.returncode else "")
        return rss, peak, ended
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def configurations(workdir: Path) -> dict[str, dict[str, str]]:
    """Name -> the environment to run with; add the Slack and Discord fakes here."""
    return {"console": base_env(workdir / "console.db")}


def main() -> int:
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, env in configurations(Path(tmp)).items():
            start_up = help_seconds(env)
            rss, peak, ended = idle_rss(env)
            rows.append((name, start_up, rss, peak, ended))
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
