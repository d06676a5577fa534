"""Slack digests through the core: threads, pacing, 429s, uncertain posts, crashes, removed channels, revoked tokens."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from datetime import date
from itertools import pairwise
from typing import Any

import pytest

from adapters.slack import SlackAdapter
from adapters.slack.config import SlackConfig
from adapters.slack.post import EVENT_TYPE
from bot.adapter import SendFailed
from bot.core import Core
from bot.models import ChannelKey, CommandContext, Digest
from bot.store import Channel
from tests.conftest import add_busy_day
from tests.fakes.slack_api import FakeSlack, Fault, controls, shown
from tests.support import MemoryAdapter, MemoryOutbox, VirtualTime, running, send

AUG21 = date(2026, 8, 21)


@pytest.fixture
def vt(clock: VirtualTime) -> VirtualTime:
    """The core's clock: pacing, backoff and the fake's rate limits all see the same time."""
    return clock


@pytest.fixture
async def slack(vt: VirtualTime) -> AsyncIterator[FakeSlack]:
    async with FakeSlack(clock=vt.clock, channel_rate=True, workspace_per_minute=120) as fake:
        yield fake


def adapter_for(slack: FakeSlack, vt: VirtualTime, token: str | None = None) -> SlackAdapter:
    config = SlackConfig(
        bot_token=token or slack.bot_token, signing_secret="s", port=0, api_url=slack.api_url, host="127.0.0.1"
    )
    return SlackAdapter(config, timing=vt.timing)


@pytest.fixture
async def bot(core: Core, slack: FakeSlack, vt: VirtualTime) -> AsyncIterator[SlackAdapter]:
    adapter = adapter_for(slack, vt)
    async with running(core, adapter):
        yield adapter


class Room:
    """One Slack channel seen through the core's command handler."""

    def __init__(self, core: Core, slack: FakeSlack, name: str = "papers") -> None:
        self.core = core
        self.slack = slack
        self.id = slack.add_channel(name)
        self.ctx = CommandContext(ChannelKey("slack", slack.team_id, self.id), "U0ADA", user_name="ada")

    async def do(self, text: str) -> str:
        return (await self.core.commands.handle(self.ctx, text)).text

    async def channel(self) -> Channel:
        found = await self.core.store.channel(self.ctx.key)
        assert found is not None
        return found

    def digests(self) -> list[Any]:
        return [m for m in self.slack.posts(self.id) if m.metadata]


async def test_digest_is_a_header_message_with_metadata(core: Core, slack: FakeSlack, bot: SlackAdapter) -> None:
    room = Room(core, slack)
    await room.do("subscribe agent")
    assert await room.do("digest") == "Posted 6 papers."
    [digest] = room.digests()
    assert digest.metadata == {"event_type": EVENT_TYPE, "event_payload": {"part": f"pb{core.store.install_id}-1.0"}}
    assert digest.text == "Daily Papers, Fri 21 Aug 2026: 6 papers for this channel"
    text = shown(digest.blocks)
    assert text.startswith("Daily Papers, Fri 21 Aug 2026: 6 papers for this channel\n1. EnvHarness")
    [call] = [c for c in slack.calls_to("chat.postMessage") if c.args.get("metadata")]
    assert call.args["unfurl_links"] is False and "link_names" not in call.args


async def test_long_digest_goes_on_in_the_thread_paced_without_429(
    core: Core, slack: FakeSlack, vt: VirtualTime, bot: SlackAdapter
) -> None:
    await add_busy_day(core, core.clock())
    room = Room(core, slack)
    await room.do("subscribe upvotes:>=0")
    await room.do("settings max-papers 50")
    assert await room.do("digest") == "Posted 42 papers."
    head, *rest = room.digests()
    assert len(rest) >= 1 and all(m.thread_ts == head.ts for m in rest)
    assert [m.metadata["event_payload"]["part"] for m in [head, *rest]] == [
        f"pb{core.store.install_id}-1.{n}" for n in range(len(rest) + 1)
    ]
    assert all(c.status == 200 for c in slack.calls_to("chat.postMessage"))  # pacing kept within the fake's limits
    times = [c.at for c in slack.calls_to("chat.postMessage")]
    assert all(b - a >= 1.0 for a, b in pairwise(times))


async def test_429_then_success_posts_once(core: Core, slack: FakeSlack, vt: VirtualTime, bot: SlackAdapter) -> None:
    room = Room(core, slack)
    await room.do("subscribe agent")
    slack.script("chat.postMessage", Fault(status=429, error="ratelimited", retry_after=7))
    assert await room.do("digest") == "Posted 6 papers."
    assert len(room.digests()) == 1
    assert [c.status for c in slack.calls_to("chat.postMessage")][-2:] == [429, 200]
    assert 7.0 in vt.sleeps  # Retry-After honoured


@pytest.mark.parametrize("lost", [Fault(commit=True, disconnect=True), Fault(status=502, commit=True)])
async def test_uncertain_post_is_looked_up_not_posted_again(
    core: Core, slack: FakeSlack, bot: SlackAdapter, lost: Fault
) -> None:
    room = Room(core, slack)
    await room.do("subscribe agent")
    slack.script("chat.postMessage", lost)  # Slack stored the post, the answer never came back
    assert await room.do("digest") == "Posted 6 papers."
    assert len(room.digests()) == 1
    assert len(slack.calls_to("conversations.history")) == 1
    assert await core.store.open_digests() == []


async def test_5xx_is_retried_with_backoff(core: Core, slack: FakeSlack, vt: VirtualTime, bot: SlackAdapter) -> None:
    room = Room(core, slack)
    await room.do("subscribe agent")
    slack.script("chat.postMessage", Fault(status=500), Fault(status=503))
    assert await room.do("digest") == "Posted 6 papers."
    assert len(room.digests()) == 1
    assert [s for s in vt.sleeps if s >= 2] == [2.0, 4.0]


async def test_lasting_outage_keeps_the_digest_for_the_next_poll(
    core: Core, slack: FakeSlack, bot: SlackAdapter, caplog: pytest.LogCaptureFixture
) -> None:
    room = Room(core, slack)
    await room.do("subscribe agent")
    slack.script("chat.postMessage", *[Fault(status=500)] * 4)
    assert await room.do("digest") == "The digest could not be posted yet; it will be retried at the next poll."
    assert room.digests() == [] and len(await core.store.open_digests()) == 1
    assert "not sent, will retry" in caplog.text
    await core.poll()
    assert len(room.digests()) == 1 and await core.store.open_digests() == []


@pytest.mark.parametrize("crash_at_part", [0, 1])
async def test_crash_between_send_and_mark_posts_nothing_twice(
    core: Core, slack: FakeSlack, bot: SlackAdapter, monkeypatch: pytest.MonkeyPatch, crash_at_part: int
) -> None:
    await add_busy_day(core, core.clock())
    room = Room(core, slack)
    await room.do("subscribe upvotes:>=0")
    await room.do("settings max-papers 50")
    record = core.store.record_part

    async def dies(digest_id: int, part: int, ref: str) -> None:
        if part == crash_at_part:
            raise KeyboardInterrupt  # the process dies after Slack took the part, before it was recorded
        await record(digest_id, part, ref)

    monkeypatch.setattr(core.store, "record_part", dies)
    with pytest.raises(KeyboardInterrupt):
        await core.delivery.deliver([await room.channel()])
    monkeypatch.setattr(core.store, "record_part", record)
    assert len(room.digests()) == crash_at_part + 1

    await core.delivery.send_open()  # the next start-up
    assert slack.calls_to("conversations.history" if crash_at_part == 0 else "conversations.replies")
    head, *rest = room.digests()
    parts = [m.metadata["event_payload"]["part"] for m in [head, *rest]]
    assert parts == [f"pb{core.store.install_id}-1.{n}" for n in range(len(parts))]  # each part once, in order
    assert all(m.thread_ts == head.ts for m in rest)
    numbers = [int(n) for m in [head, *rest] for n in re.findall(r"^(\d+)\. ", shown(m.blocks), re.M)]
    assert numbers == list(range(1, 43))  # every paper shown exactly once
    assert await core.store.open_digests() == []


@pytest.mark.parametrize(
    ("remove", "reason"),
    [
        (FakeSlack.kick, "the Slack app is not in this channel (not_in_channel); invite it back"),
        (FakeSlack.archive, "this channel was archived (is_archived)"),
        (lambda slack, channel: slack.channels.pop(channel), "Slack cannot find this channel (channel_not_found)"),
    ],
)
async def test_removed_channel_is_paused_and_list_says_why(
    core: Core, slack: FakeSlack, bot: SlackAdapter, caplog: pytest.LogCaptureFixture, remove: Any, reason: str
) -> None:
    room = Room(core, slack)
    await room.do("subscribe agent")
    remove(slack, room.id)
    assert await room.do("digest") == f"Could not post here: {reason}. Fix that, then /papers resume."
    assert f"Paused: {reason}. /papers resume restarts it." in await room.do("list")
    assert f"pausing slack:{slack.team_id}:{room.id}: {reason}" in caplog.text
    assert len(await core.store.open_digests()) == 1  # kept for when the app is invited back


async def test_invited_back_and_resumed_gets_its_digest(core: Core, slack: FakeSlack, bot: SlackAdapter) -> None:
    room = Room(core, slack)
    await room.do("subscribe agent")
    slack.kick(room.id)
    await room.do("digest")
    slack.invite(room.id)
    assert (await room.do("resume")).startswith("Resumed")
    assert len(room.digests()) == 1


class Errors(logging.Handler):
    """The Slack adapter's error lines, with an event to wait on instead of sleeping."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.lines: list[str] = []
        self.seen = asyncio.Event()

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())
        self.seen.set()


@pytest.fixture
def slack_errors() -> Iterator[Errors]:
    handler = Errors()
    logger = logging.getLogger("adapters.slack")
    logger.addHandler(handler)
    yield handler
    logger.removeHandler(handler)


async def test_revoked_token_stops_slack_and_the_others_go_on(
    core: Core, slack: FakeSlack, vt: VirtualTime, slack_errors: Errors
) -> None:
    adapter, other = adapter_for(slack, vt), MemoryAdapter("console", serve=True)
    async with running(core, adapter, other) as task:
        room = Room(core, slack)
        await room.do("subscribe agent")
        slack.revoke("token_revoked")
        await room.do("digest")
        await asyncio.wait_for(slack_errors.seen.wait(), 5)
        assert slack_errors.lines == [
            "Slack adapter stopped: Slack refused SLACK_BOT_TOKEN (token_revoked). "
            "The other adapters go on; fix it and restart paperboy."
        ]
        assert not task.done()
        console = CommandContext(ChannelKey("console", "local", "console"), "ada")
        await core.commands.handle(console, "subscribe agent")
        assert (await core.commands.handle(console, "digest")).text == "Posted 6 papers."
        assert len(other.posted) == 1


async def test_refused_token_at_start_is_one_clear_line(
    core: Core, slack: FakeSlack, vt: VirtualTime, caplog: pytest.LogCaptureFixture
) -> None:
    adapter = adapter_for(slack, vt, token="xoxb-not-the-right-one")
    await asyncio.wait_for(adapter.run(core.host(adapter)), 5)
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors == [
        "Slack adapter stopped: Slack refused SLACK_BOT_TOKEN (invalid_auth). "
        "The other adapters go on; fix it and restart paperboy."
    ]
    assert "xoxb-not-the-right-one" not in caplog.text


async def test_refused_app_token_is_one_clear_line(
    core: Core, slack: FakeSlack, vt: VirtualTime, caplog: pytest.LogCaptureFixture
) -> None:
    config = SlackConfig(bot_token=slack.bot_token, app_token="xapp-revoked", api_url=slack.api_url)
    adapter = SlackAdapter(config, timing=vt.timing)
    await asyncio.wait_for(adapter.run(core.host(adapter)), 5)
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == [
        "Slack adapter stopped: Slack refused SLACK_APP_TOKEN (invalid_auth). "
        "The other adapters go on; fix it and restart paperboy."
    ]


async def test_slack_down_at_start_is_waited_for_and_due_digests_follow(
    core: Core, slack: FakeSlack, vt: VirtualTime, clock: Any
) -> None:
    await core.poll()
    room = Room(core, slack)
    await room.do("subscribe agent")
    clock.advance(hours=3)  # 10:00 UTC: the 09:00 digest is due when the bot starts
    slack.script("auth.test", Fault(status=503), Fault(disconnect=True))
    async with running(core, adapter_for(slack, vt)):
        assert len(room.digests()) == 1  # the start-up catch-up waited for the connection
    assert [s for s in vt.sleeps if s >= 1] == [1.0, 2.0]


async def test_digest_before_any_connection_is_left_for_the_next_poll(
    slack: FakeSlack, vt: VirtualTime, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("adapters.slack.READY_WAIT", 0.0)
    outbox = MemoryOutbox()
    with pytest.raises(SendFailed, match="not connected yet"):
        await send(adapter_for(slack, vt), ChannelKey("slack", "T", "C"), Digest("t", ()), outbox, vt)
    assert outbox.sent == {} and not outbox.in_flight


async def test_hostile_paper_reaches_the_channel_inert(core: Core, slack: FakeSlack, bot: SlackAdapter) -> None:
    [real] = [p for p in await core.store.papers_since(AUG21) if p.id == "2608.19880"]
    evil = replace(real, id="2608.99999", title="<!channel> @here <https://evil|click>", upvotes=999,
                   ai_summary="<@U0ADA> see https://evil.example", github_repo="https://evil.example/|<!here>")
    await core.store.upsert_papers([evil], core.clock())
    room = Room(core, slack)
    await room.do("subscribe agent")
    await room.do("digest")
    [digest] = room.digests()
    first = digest.blocks[1]
    assert shown([first]).splitlines()[0] == "1. <!channel> @here <https://evil|click>"
    assert controls([first]) == [evil.hf_url, evil.hf_url, evil.arxiv_url, evil.pdf_url, evil.project_page]
    assert first["text"]["verbatim"] is True  # Slack will not auto-link https://evil.example either
