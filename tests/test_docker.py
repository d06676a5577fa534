"""The container: the Dockerfile's entrypoint and health check are the README's, and the health check works.

The health check's own Python line is run against a live `/healthz`. The image itself is built only
where a Docker engine answers (skipped otherwise, with the reason).
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bot.config import Settings
from bot.core import Core
from bot.source import FileSource
from tests.conftest import readme_section
from tests.support import MemoryAdapter, VirtualTime, running

ROOT = Path(__file__).parent.parent
DOCKERFILE = (ROOT / "Dockerfile").read_text()


def instructions() -> dict[str, list[str]]:
    """Dockerfile instructions by keyword, continuation lines joined, comments dropped."""
    joined = re.sub(r"\\\n\s*", " ", DOCKERFILE)
    found: dict[str, list[str]] = {}
    for line in joined.splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            keyword, _, rest = line.strip().partition(" ")
            found.setdefault(keyword.upper(), []).append(rest.strip())
    return found


def exec_form(text: str) -> list[str]:
    return list(json.loads(text))


def healthcheck_command() -> list[str]:
    [check] = instructions()["HEALTHCHECK"]
    return exec_form(check.split(" CMD ", 1)[1])


def test_the_image_runs_paperboy_run_as_a_non_root_user_with_its_database_on_data() -> None:
    found = instructions()
    assert found["FROM"] == ["python:3.12-slim"]
    assert exec_form(found["ENTRYPOINT"][0]) == ["paperboy"] and exec_form(found["CMD"][0]) == ["run"]
    assert found["USER"] == ["paperboy"]
    assert found["VOLUME"] == ['["/data"]']
    assert "PAPERBOY_DB=/data/paperboy.db" in found["ENV"][0] and "PAPERBOY_HTTP_PORT=8080" in found["ENV"][0]
    assert found["STOPSIGNAL"] == ["SIGTERM"]
    assert not any("curl" in rest for rests in found.values() for rest in rests)  # outside comments


def test_the_readme_shows_the_dockerfiles_entrypoint_and_health_check() -> None:
    docker = readme_section("Deploying").split("### Docker", 1)[1]
    [shown] = re.findall(r"```dockerfile\n(.*?)```", docker, re.S)
    for line in shown.strip().split("\n"):
        assert line in DOCKERFILE, line
    assert "docker compose up -d" in docker


def test_compose_runs_one_bot_with_its_volume_and_env_file() -> None:
    compose = (ROOT / "docker-compose.yml").read_text()
    assert re.search(r"^services:\n  paperboy:\n", compose, re.M)
    assert "env_file: .env" in compose and "- paperboy-data:/data" in compose
    assert re.search(r"^volumes:\n  paperboy-data:", compose, re.M)


async def test_the_health_check_passes_on_200_and_fails_on_503(tmp_path: Path, days_dir: Path) -> None:
    command = healthcheck_command()
    assert command[:2] == ["python", "-c"]
    clock = VirtualTime()
    settings = Settings(db=str(tmp_path / "paperboy.db"), source=str(days_dir), http_port=0)
    core = await Core.open(settings, FileSource(days_dir), clock, clock.timing)

    async def check() -> int:
        env = {**os.environ, "PAPERBOY_HTTP_PORT": str(core.http_port)}
        done = await asyncio.to_thread(
            subprocess.run, [sys.executable, *command[1:]], env=env, capture_output=True, timeout=30
        )
        return done.returncode

    try:
        async with running(core, MemoryAdapter(serve=True)):
            assert await check() == 0
            clock.advance(hours=2)  # the last poll is now more than 3 intervals old: 503
            assert await check() != 0
    finally:
        await core.close()


def _docker_runs() -> str | None:
    if shutil.which("docker") is None:
        return "no docker command here"
    probe = subprocess.run(["docker", "info"], capture_output=True, text=True, timeout=30)
    return None if probe.returncode == 0 else "no Docker engine answers here"


@pytest.mark.skipif(_docker_runs() is not None, reason=str(_docker_runs()))
def test_the_image_builds_and_its_entrypoint_answers() -> None:
    subprocess.run(["docker", "build", "-t", "paperboy-test", str(ROOT)], check=True, timeout=900)
    done = subprocess.run(["docker", "run", "--rm", "paperboy-test", "--version"], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0 and done.stdout.startswith("paperboy ")
