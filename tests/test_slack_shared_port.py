"""Slack HTTP mode with several workers on one PORT (SO_REUSEPORT): each answers the signed requests the
kernel hands it. Only on PostgreSQL, where several workers are supported; on SQLite a second one is refused."""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

import aiohttp
import pytest

from adapters.slack import EVENTS_PATH, SlackAdapter
from adapters.slack.config import SlackConfig
from tests.fakes.slack_api import FakeSlack, signed, slash_command
from tests.support import StubHost
from tests.test_slack_commands import SECRET, slack  # noqa: F401 - the fixture

HTTP = {"SLACK_BOT_TOKEN": "xoxb-1-secret", "SLACK_SIGNING_SECRET": "signing-secret"}
TRIES = 64  # fresh connections; all of them landing on one of two workers has odds of 2**-63
WAIT = 10.0  # seconds; only a guard against a hang

linux = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="SO_REUSEPORT spreads connections on Linux")


@linux
def test_the_port_is_shared_on_postgresql_only() -> None:
    assert SlackConfig.from_env({**HTTP, "PAPERBOY_DB": "postgresql://u@db/paperboy"}).share_port
    assert SlackConfig.from_env({**HTTP, "PAPERBOY_DB": "postgres://u@db/paperboy"}).share_port
    assert not SlackConfig.from_env(HTTP).share_port
    assert not SlackConfig.from_env({**HTTP, "PAPERBOY_DB": "/data/paperboy.db"}).share_port


@asynccontextmanager
async def worker(slack: FakeSlack, port: int, share_port: bool) -> AsyncIterator[tuple[SlackAdapter, StubHost]]:
    """One worker's Slack adapter in HTTP mode on `port` (0: any), with a host recording its commands."""
    config = SlackConfig(bot_token=slack.bot_token, signing_secret=SECRET, port=port, api_url=slack.api_url,
                         host="127.0.0.1", share_port=share_port)
    adapter, host = SlackAdapter(config), StubHost()
    task = asyncio.create_task(adapter.run(host))
    connected = asyncio.ensure_future(adapter.connected.wait())
    try:
        await asyncio.wait([task, connected], timeout=WAIT, return_when=asyncio.FIRST_COMPLETED)  # or it gave up
        yield adapter, host
    finally:
        connected.cancel()
        await adapter.close()
        await asyncio.wait_for(task, WAIT)


@linux
async def test_two_workers_on_one_port_both_answer_signed_requests(slack: FakeSlack) -> None:  # noqa: F811
    async with AsyncExitStack() as stack:
        first, first_host = await stack.enter_async_context(worker(slack, 0, share_port=True))
        assert first.port is not None
        second, second_host = await stack.enter_async_context(worker(slack, first.port, share_port=True))
        assert second.port == first.port
        # A new connection for each request, as the kernel spreads connections, not requests.
        http = await stack.enter_async_context(aiohttp.ClientSession(connector=aiohttp.TCPConnector(force_close=True)))
        user, channel = slack.add_user("ada"), slack.add_channel("papers")
        names = []
        for n in range(TRIES):
            names.append(name := f"shared{n}")
            body, headers = signed(SECRET, slash_command(slack, "list", channel=channel, user=user, reply_to=name))
            async with http.post(f"http://127.0.0.1:{first.port}{EVENTS_PATH}", data=body, headers=headers) as answer:
                assert answer.status == 200
            await slack.wait_for(lambda: name in {r.name for r in slack.responses}, WAIT)
            if first_host.commands and second_host.commands:
                break
        assert first_host.commands and second_host.commands
        assert len(first_host.commands) + len(second_host.commands) == len(names)
        body, headers = signed("not-the-signing-secret", slash_command(slack, "list", channel=channel, user=user))
        async with http.post(f"http://127.0.0.1:{first.port}{EVENTS_PATH}", data=body, headers=headers) as answer:
            assert answer.status == 401


async def test_without_sharing_a_second_worker_on_the_port_stops_and_says_why(
    slack: FakeSlack, caplog: pytest.LogCaptureFixture  # noqa: F811
) -> None:
    async with worker(slack, 0, share_port=False) as (first, _):
        assert first.port is not None
        with caplog.at_level(logging.ERROR):
            async with worker(slack, first.port, share_port=False) as (second, _):
                assert not second.connected.is_set()
    assert f"cannot listen on 127.0.0.1 port {first.port}" in caplog.text
