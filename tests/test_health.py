"""`/healthz` and `/metrics`, over HTTP on 127.0.0.1: on their own listener, and on Slack's server in HTTP mode."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from adapters.slack import SlackAdapter
from adapters.slack.config import SlackConfig
from bot.config import ConfigError, Settings
from bot.core import Core
from bot.models import ChannelKey, CommandContext
from bot.source import FileSource
from tests.fakes.slack_api import FakeSlack
from tests.support import MemoryAdapter, VirtualTime, running

WAIT = 10.0


async def get(url: str) -> tuple[int, str, Any]:
    async with aiohttp.ClientSession() as http, http.get(url) as answer:
        text = await answer.text()
        body = await answer.json() if answer.content_type == "application/json" else None
        return answer.status, text, body


@pytest.fixture
async def served(tmp_path: Path, days_dir: Path, clock: VirtualTime) -> Core:
    settings = Settings(db=str(tmp_path / "paperboy.db"), source=str(days_dir), http_port=0)
    opened = await Core.open(settings, FileSource(days_dir), clock, clock.timing)
    yield opened  # type: ignore[misc]
    await opened.close()


async def test_healthz_is_ok_while_polls_are_recent_and_503_with_a_reason_otherwise(
    served: Core, clock: VirtualTime
) -> None:
    adapter = MemoryAdapter(serve=True)
    async with running(served, adapter):
        url = f"http://127.0.0.1:{served.http_port}/healthz"
        status, _, body = await get(url)
        assert (status, body) == (200, {"status": "ok", "last_poll_age_seconds": 0.0})
        clock.advance(minutes=3 * 30 + 1)  # three poll intervals and a minute without a poll
        status, _, body = await get(url)
        assert status == 503
        assert body["reason"] == "the last poll finished 5460 s ago, more than 3 poll intervals"
        await served.poll()
        assert (await get(url))[0] == 200
        served.scheduler.shutdown()  # as when stopping
        status, _, body = await get(url)
        assert (status, body["reason"]) == (503, "the scheduler is not running")


async def test_healthz_says_starting_until_the_first_catch_up_is_done(served: Core) -> None:
    from bot.health import health

    assert health(served) == (
        503, {"status": "starting", "reason": "the start-up fetch and catch-up have not finished yet"}
    )


async def test_metrics_count_papers_digests_failures_and_429s_per_platform(served: Core) -> None:
    from bot.adapter import SendFailed

    adapter = MemoryAdapter(serve=True)
    key = ChannelKey("memory", "w", "c")
    async with running(served, adapter):
        await served.commands.handle(CommandContext(key, "ada", can_manage=True), "subscribe agent")
        [channel] = await served.store.channels()
        adapter.fail = SendFailed("slow down", retry_after=1.0)
        await served.delivery.deliver([channel])  # four 429s, then left open
        adapter.fail = None
        await served.delivery.send_open()
        status, text, _ = await get(f"http://127.0.0.1:{served.http_port}/metrics")
    assert status == 200
    lines = set(text.splitlines())
    assert "paperboy_papers_fetched_total 17.0" in lines
    assert 'paperboy_digests_sent_total{platform="memory"} 1.0' in lines
    assert 'paperboy_digests_failed_total{platform="memory"} 1.0' in lines
    assert 'paperboy_rate_limited_total{platform="memory"} 4.0' in lines
    assert "paperboy_open_digests 0.0" in lines
    assert "paperboy_last_poll_age_seconds 3.0" in lines  # the virtual clock waited out three Retry-After: 1
    assert any(line.startswith("paperboy_event_loop_lag_seconds ") for line in lines)
    assert "# TYPE paperboy_digests_sent_total counter" in lines


async def test_metrics_live_in_their_own_registry(served: Core) -> None:
    from prometheus_client import REGISTRY

    async with running(served, MemoryAdapter(serve=True)):
        await get(f"http://127.0.0.1:{served.http_port}/metrics")
    assert REGISTRY.get_sample_value("paperboy_papers_fetched_total") is None


async def test_a_port_in_use_is_one_line_naming_the_variable(served: Core) -> None:
    async with running(served, MemoryAdapter(serve=True)):
        taken = served.http_port
        second = Core(replace(served.settings, http_port=taken), served.store, served.source)
        with pytest.raises(ConfigError, match=rf"^PAPERBOY_HTTP_PORT: cannot listen on 127.0.0.1:{taken} \(") as err:
            await second.run([MemoryAdapter(serve=True)])
    assert "\n" not in str(err.value)


async def test_slack_in_http_mode_on_the_same_port_serves_them_on_its_own_server(
    served: Core, clock: VirtualTime
) -> None:
    async with FakeSlack() as slack:
        config = SlackConfig(bot_token=slack.bot_token, signing_secret="s" * 32, port=0, api_url=slack.api_url,
                             host="127.0.0.1")
        adapter = SlackAdapter(config, timing=clock.timing)
        async with running(served, adapter):
            assert served.http_port is None  # no listener of its own: Slack's server has the routes
            status, _, body = await get(f"http://127.0.0.1:{adapter.port}/healthz")
            assert (status, body["status"]) == (200, "ok")
            status, text, _ = await get(f"http://127.0.0.1:{adapter.port}/metrics")
            assert status == 200 and "paperboy_papers_fetched_total 17.0" in text


def test_settings_read_the_port_host_and_log_format() -> None:
    settings = Settings.from_env({"PAPERBOY_HTTP_PORT": "8080", "PAPERBOY_HOST": "0.0.0.0", "PAPERBOY_LOG_FORMAT": "JSON"})
    assert (settings.http_port, settings.http_host, settings.log_format) == (8080, "0.0.0.0", "json")
    assert (Settings.from_env({}).http_port, Settings.from_env({}).http_host) == (None, "127.0.0.1")
    for env, message in [
        ({"PAPERBOY_HTTP_PORT": "70000"}, "PAPERBOY_HTTP_PORT must be a port number from 1 to 65535, got '70000'"),
        ({"PAPERBOY_LOG_FORMAT": "xml"}, "PAPERBOY_LOG_FORMAT must be text or json, got 'xml'"),
    ]:
        with pytest.raises(ConfigError) as err:
            Settings.from_env(env)
        assert str(err.value) == message


async def test_no_listener_and_no_prometheus_without_the_setting(tmp_path: Path) -> None:
    import subprocess
    import sys

    code = (
        "import asyncio, sys\n"
        "from bot.config import Settings\nfrom bot.core import Core\nfrom tests.support import MemoryAdapter\n"
        f"async def main():\n    core = await Core.open(Settings(db={str(tmp_path / 'x.db')!r}, "
        "source='tests/fixtures/2026-08-21.json'))\n"
        "    await core.run([MemoryAdapter()])\n    await core.close()\n"
        "    print(core.http_port, 'prometheus_client' in sys.modules)\n"
        "asyncio.run(main())\n"
    )
    done = await asyncio.to_thread(
        subprocess.run, [sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
        cwd=Path(__file__).parent.parent,
    )
    assert done.stdout.strip() == "None False", done.stderr
