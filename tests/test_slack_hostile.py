"""Slack HTTP mode against forged and malformed requests: refused, logged on one short line, never a 500."""

from __future__ import annotations

import asyncio
import io
import logging

import pytest

from adapters.slack import EVENTS_PATH, SlackAdapter
from adapters.slack.config import SlackConfig
from bot.config import ConfigError, OneLineFormatter
from bot.core import Core
from tests.fakes.slack_api import FakeSlack, signed, slash_command
from tests.support import VirtualTime, running
from tests.test_slack_commands import SECRET, Workspace, slack, start, ws  # noqa: F401 - fixtures

FORGED_LINE = "2026-08-21T07:00:00 ERROR paperboy: forged"


async def post(ws: Workspace, body: str, headers: dict[str, str]) -> int:
    async with ws.http.post(f"http://127.0.0.1:{ws.adapter.port}{EVENTS_PATH}", data=body, headers=headers) as answer:
        return answer.status


async def test_a_forged_request_is_logged_on_one_line_without_its_body(
    ws: Workspace, caplog: pytest.LogCaptureFixture
) -> None:
    fields = slash_command(ws.slack, "subscribe agent", channel=ws.channel, user=ws.ada, command="/papers", reply_to="r")
    fields["text"] = "x" * 500_000 + "\n" + FORGED_LINE
    body, headers = signed("not-the-signing-secret", fields)
    with caplog.at_level(logging.INFO), caplog.at_level(logging.INFO, logger="slack_bolt.RequestVerification"):
        assert await post(ws, body, headers) == 401
    refusals = [r.getMessage() for r in caplog.records if r.name.startswith("slack_bolt")]
    assert refusals == [f"Slack: refused a request to {EVENTS_PATH} whose signature did not verify"]
    assert "forged" not in caplog.text and "xxxx" not in caplog.text


@pytest.mark.parametrize("stamp", ["abc", "1e10", "", "-5", "9" * 40])
async def test_a_malformed_timestamp_is_401_not_500(
    ws: Workspace, stamp: str, caplog: pytest.LogCaptureFixture
) -> None:
    fields = slash_command(ws.slack, "list", channel=ws.channel, user=ws.ada, command="/papers", reply_to="r")
    body, headers = signed(SECRET, fields)
    headers["X-Slack-Request-Timestamp"] = stamp
    with caplog.at_level(logging.INFO):
        assert await post(ws, body, headers) == 401
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING or r.exc_info]
    assert f"Slack: refused a request to {EVENTS_PATH}: malformed X-Slack-Request-Timestamp" in caplog.text


def impatient(slack: FakeSlack, clock: VirtualTime) -> SlackAdapter:
    """Slack's HTTP mode on loopback, cutting off a client after 50 ms instead of 15 s."""
    config = SlackConfig(bot_token=slack.bot_token, signing_secret=SECRET, port=0, api_url=slack.api_url,
                         host="127.0.0.1")
    return SlackAdapter(config, timing=clock.timing, read_timeout=0.05)


async def test_a_client_that_never_finishes_its_headers_is_cut_off(
    core: Core, slack: FakeSlack, clock: VirtualTime  # noqa: F811 - the fixture
) -> None:
    adapter = impatient(slack, clock)
    async with running(core, adapter):
        reader, writer = await asyncio.open_connection("127.0.0.1", adapter.port)
        writer.write(f"POST {EVENTS_PATH} HTTP/1.1\r\nHost: x\r\n".encode())  # and never the blank line
        await writer.drain()
        assert await asyncio.wait_for(reader.read(), 10) == b""  # the server closed the connection
        writer.close()


async def test_a_body_that_never_arrives_is_cut_off(
    core: Core, slack: FakeSlack, clock: VirtualTime  # noqa: F811 - the fixture
) -> None:
    adapter = impatient(slack, clock)
    async with running(core, adapter):
        reader, writer = await asyncio.open_connection("127.0.0.1", adapter.port)
        writer.write(
            f"POST {EVENTS_PATH} HTTP/1.1\r\nHost: x\r\nX-Slack-Request-Timestamp: 1\r\n"
            "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\ntext=".encode()
        )
        await writer.drain()
        status = await asyncio.wait_for(reader.readline(), 10)
        assert status.startswith(b"HTTP/1.1 408")
        writer.close()


def test_paperboy_host_chooses_the_bind_address() -> None:
    base = {"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s"}
    assert SlackConfig.from_env(base).host == "0.0.0.0"
    assert SlackConfig.from_env({**base, "PAPERBOY_HOST": " "}).host == "0.0.0.0"
    assert SlackConfig.from_env({**base, "PAPERBOY_HOST": "127.0.0.1"}).host == "127.0.0.1"
    assert SlackConfig.from_env({**base, "PAPERBOY_HOST": "::1"}).host == "::1"
    with pytest.raises(ConfigError) as caught:
        SlackConfig.from_env({**base, "PAPERBOY_HOST": "http://[::1"})
    assert str(caught.value) == (
        "PAPERBOY_HOST must be an IP address or host name to listen on, such as 127.0.0.1 or 0.0.0.0, "
        "got 'http://[::1'"
    )


async def test_the_adapter_listens_on_the_configured_host(
    core: Core, slack: FakeSlack, clock: VirtualTime, caplog: pytest.LogCaptureFixture  # noqa: F811 - the fixture
) -> None:
    config = SlackConfig(bot_token=slack.bot_token, signing_secret=SECRET, port=0, api_url=slack.api_url,
                         host="127.0.0.2")
    adapter = SlackAdapter(config, timing=clock.timing)
    with caplog.at_level(logging.INFO):
        async with running(core, adapter):
            with pytest.raises(OSError):
                await asyncio.open_connection("127.0.0.1", adapter.port)
            _, writer = await asyncio.open_connection("127.0.0.2", adapter.port)
            writer.close()
    assert f"HTTP mode on 127.0.0.2 port {adapter.port} at {EVENTS_PATH}" in caplog.text


def test_log_lines_escape_control_characters_and_tracebacks_still_print() -> None:
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(OneLineFormatter("%(levelname)s %(message)s"))
    logger = logging.Logger("hostile")
    logger.addHandler(handler)
    logger.warning("title: %s", f"a\n{FORGED_LINE}\x1b[2J\u202eevil\r")
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        logger.exception("failed")
    lines = out.getvalue().splitlines()
    assert lines[0] == "WARNING title: a\\n2026-08-21T07:00:00 ERROR paperboy: forged\\x1b[2J\\u202eevil\\r"
    assert lines[1] == "ERROR failed"
    assert lines[2] == "Traceback (most recent call last):"
    assert lines[-1] == "RuntimeError: boom"
