"""A throwaway PostgreSQL server for the tests and benchmarks, and fresh databases on it.

`PostgresServer.start()` runs initdb and pg_ctl from `pg_config --bindir` in a new temporary
folder, on a free loopback port (as the `postgres` user when running as root, since the
server refuses root), with durability off (fsync, full pages): nothing here must survive a
power cut, and tests create many databases. `stop()` ends it and removes the folder;
`restart()` stops and starts it on the same port, as an operator's restart would. The folder
goes under PAPERBOY_PG_ROOT when set (.ci/run sets it, to stop leftovers of its own run only).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg

USER = "paperboy"
OPTIONS = "-c fsync=off -c full_page_writes=off -c synchronous_commit=off -c max_connections=300"


class PostgresUnavailable(RuntimeError):
    """PostgreSQL cannot be started here; the message says why."""


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _as_server_user() -> list[str]:
    return ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []


class PostgresServer:
    def __init__(self, folder: Path, bindir: Path, port: int) -> None:
        self.folder = folder
        self.bindir = bindir
        self.port = port
        self.url = f"postgresql://{USER}@127.0.0.1:{port}/postgres"

    @classmethod
    def start(cls) -> PostgresServer:
        try:
            bindir = Path(subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True, check=True).stdout.strip())
        except (OSError, subprocess.CalledProcessError) as err:
            raise PostgresUnavailable(f"pg_config not found or failed ({err}): install PostgreSQL") from None
        folder = Path(tempfile.mkdtemp(prefix="paperboy-pg-", dir=os.environ.get("PAPERBOY_PG_ROOT")))
        if os.geteuid() == 0:
            shutil.chown(folder, "postgres", "postgres")
        server = cls(folder, bindir, _free_port())
        server._run("initdb", "-D", str(folder / "data"), "-A", "trust", "-U", USER, "-E", "UTF8", "--no-sync")
        server._pg_ctl("start")
        return server

    def _run(self, program: str, *args: str) -> None:
        done = subprocess.run(
            [*_as_server_user(), str(self.bindir / program), *args], capture_output=True, text=True, timeout=120
        )
        if done.returncode != 0:
            log = self.folder / "log"
            tail = log.read_text()[-2000:] if log.exists() else ""
            raise PostgresUnavailable(f"{program} {' '.join(args[:1])} failed: {done.stderr.strip()} {tail}".strip())

    def _pg_ctl(self, action: str) -> None:
        data = str(self.folder / "data")
        if action == "start":
            options = f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 {OPTIONS}"
            self._run("pg_ctl", "-D", data, "-o", options, "-l", str(self.folder / "log"), "-w", "start")
        else:
            self._run("pg_ctl", "-D", data, "-m", "fast", "-w", "stop")

    def restart(self) -> None:
        self._pg_ctl("stop")
        self._pg_ctl("start")

    def stop(self) -> None:
        try:
            self._pg_ctl("stop")
        finally:
            shutil.rmtree(self.folder, ignore_errors=True)


def database_url(admin_url: str, name: str) -> str:
    parts = urlsplit(admin_url)
    return urlunsplit(parts._replace(path=f"/{name}"))


async def _admin(admin_url: str, sql: str) -> None:
    conn = await asyncpg.connect(admin_url)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def new_database(admin_url: str) -> str:
    """A new empty database on the server; its URL."""
    name = f"test_{uuid.uuid4().hex[:12]}"
    await _admin(admin_url, f'CREATE DATABASE "{name}"')
    return database_url(admin_url, name)


def create_database(admin_url: str) -> str:
    return asyncio.run(new_database(admin_url))


def drop_database(admin_url: str, url: str) -> None:
    name = urlsplit(url).path.lstrip("/")
    asyncio.run(_admin(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def server_for_tests() -> PostgresServer:
    """A started server, or the test skipped locally (no PostgreSQL here); under CI, where nothing
    may be skipped, the test fails instead."""
    import pytest

    try:
        return PostgresServer.start()
    except PostgresUnavailable as err:
        if os.environ.get("CI"):
            pytest.fail(f"CI needs PostgreSQL and it could not be started: {err}")
        pytest.skip(f"PostgreSQL could not be started: {err}")
