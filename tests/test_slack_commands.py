"""`/papers` in Slack (HTTP mode): signed requests in, what the caller and the channel see out."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass, replace
from itertools import count
from typing import Any

import aiohttp
import pytest

from adapters.slack import EVENTS_PATH, SlackAdapter
from adapters.slack.config import SlackConfig
from bot.core import Core
from bot.models import ChannelKey, CommandContext, Reply
from tests.fakes.slack_api import FakeSlack, block_action, controls, shown, signed, slash_command
from tests.support import VirtualTime, running

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
_names = count(1)


@dataclass
class Workspace:
    """A Slack workspace with the bot installed: people type commands, and read what Slack shows."""

    slack: FakeSlack
    adapter: SlackAdapter
    http: aiohttp.ClientSession
    channel: str
    ada: str
    bob: str

    async def send(
        self, text: str, *, user: str | None = None, channel: str | None = None, command: str = "/papers",
        secret: str = SECRET, timestamp: int | None = None,
    ) -> tuple[int, str]:
        """POST the command as Slack does; returns the HTTP status and the name of its response_url."""
        name = f"r{next(_names)}"
        fields = slash_command(
            self.slack, text, channel=channel or self.channel, user=user or self.ada, command=command, reply_to=name
        )
        body, headers = signed(secret, fields, timestamp)
        url = f"http://127.0.0.1:{self.adapter.port}{EVENTS_PATH}"
        async with self.http.post(url, data=body, headers=headers) as answer:
            return answer.status, name

    async def click(self, action_id: str, *, user: str | None = None, secret: str = SECRET) -> tuple[int, str]:
        """Click a button of the channel's digest as Slack reports it (a signed block_actions form)."""
        name = f"r{next(_names)}"
        [digest] = [m for m in self.slack.posts(self.channel) if m.metadata]
        fields = block_action(self.slack, action_id, channel=self.channel, user=user or self.ada,
                              message_ts=digest.ts, reply_to=name)
        body, headers = signed(secret, fields)
        async with self.http.post(f"http://127.0.0.1:{self.adapter.port}{EVENTS_PATH}", data=body, headers=headers) as answer:
            if answer.status == 200:
                await self.slack.wait_for(lambda: any(r.name == name for r in self.slack.responses))
            return answer.status, next((r.body["text"] for r in self.slack.responses if r.name == name), "")

    async def ask(self, text: str, **kwargs: Any) -> dict[str, Any]:
        """Run a command and return the (first) answer its caller sees."""
        status, name = await self.send(text, **kwargs)
        assert status == 200
        await self.slack.wait_for(lambda: any(r.name == name for r in self.slack.responses))
        return next(r.body for r in self.slack.responses if r.name == name)

    async def says(self, text: str, **kwargs: Any) -> str:
        answer = await self.ask(text, **kwargs)
        assert answer["response_type"] == "ephemeral"
        return shown(answer["blocks"])

    def notes(self, channel: str | None = None) -> list[str]:
        """The visible notes in the channel (everything the bot posted that is not a digest)."""
        return [shown(m.blocks) for m in self.slack.posts(channel or self.channel) if not m.metadata]


@pytest.fixture
async def slack() -> AsyncIterator[FakeSlack]:
    async with FakeSlack() as fake:
        yield fake


@pytest.fixture
async def start(core: Core, slack: FakeSlack, clock: VirtualTime) -> AsyncIterator[Callable[..., Awaitable[Workspace]]]:
    vt = clock
    async with AsyncExitStack() as stack:
        http = await stack.enter_async_context(aiohttp.ClientSession())

        async def starting(**settings: Any) -> Workspace:
            config = SlackConfig(
                bot_token=slack.bot_token, signing_secret=SECRET, port=0, api_url=slack.api_url, host="127.0.0.1",
                **settings,
            )
            adapter = SlackAdapter(config, timing=vt.timing)
            await stack.enter_async_context(running(core, adapter))
            people = slack.add_user("ada"), slack.add_user("bob")
            return Workspace(slack, adapter, http, slack.add_channel("papers"), *people)

        yield starting


@pytest.fixture
async def ws(start: Callable[..., Awaitable[Workspace]]) -> Workspace:
    return await start()


async def test_every_subcommand_answers_the_caller_and_changes_are_noted_in_channel(ws: Workspace) -> None:
    ada = ws.ada
    steps = [
        ("", "Paperboy posts the Hugging Face Daily Papers that match this channel's subscriptions.\n"
             "/papers subscribe QUERY"),
        ("help", "Paperboy posts the Hugging Face Daily Papers"),
        ("subscribe agent", "Subscribed as #1: agent\nIt would have matched 6 papers in the last 7 days"),
        ("list", "#1  agent  (by ada, 2026-08-21)\nDelivery: daily at 09:00 UTC"),
        ("preview agent", "6 papers of the last 7 days match agent:\n1. EnvHarness: Awakening Static Worlds"),
        ("schedule 10:30 Europe/Berlin", "The daily digest now arrives at 10:30 Europe/Berlin."),
        ("mode instant", "Mode set to instant: new matches after each poll."),
        ("mode daily", "Mode set to daily: one digest a day at 10:30 Europe/Berlin."),
        ("settings max-papers 3", "max-papers is now 3."),
        ("digest", "Posted 3 papers."),
        ("pause", "Paused: no digests here until /papers resume."),
        ("resume", "Resumed: digests will arrive here again."),
        ("unsubscribe 1", "Unsubscribed #1 (agent)."),
        ("frobnicate", "Unknown command 'frobnicate'."),
    ]
    for text, expected in steps:
        assert (await ws.says(text)).startswith(expected), text
    assert ws.notes() == [
        f"@{ada} subscribed this channel to #1: agent",
        f"@{ada} set the daily digest to 10:30 Europe/Berlin",
        f"@{ada} set delivery to instant",
        f"@{ada} set delivery to daily",
        f"@{ada} set max-papers to 3",
        f"@{ada} paused the digest here",
        f"@{ada} resumed the digest here",
        f"@{ada} unsubscribed this channel from #1 (agent)",
    ]
    [digest] = [m for m in ws.slack.posts(ws.channel) if m.metadata]
    text = shown(digest.blocks)
    assert text.startswith("Daily Papers, Fri 21 Aug 2026: 6 papers for this channel\n1. EnvHarness")
    assert text.endswith("…and 3 more matches on Hugging Face Daily Papers")


async def test_bad_or_stale_signature_is_refused_and_runs_nothing(core: Core, ws: Workspace) -> None:
    status, _ = await ws.send("subscribe agent", secret="not-the-signing-secret")
    assert status == 401
    status, _ = await ws.send("subscribe agent", timestamp=int(time.time()) - 600)
    assert status == 401
    assert ws.slack.responses == [] and ws.slack.calls_to("chat.postMessage") == []
    assert await core.store.channels() == []


async def test_ack_is_immediate_whatever_the_core_is_doing(
    core: Core, ws: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    busy = asyncio.Event()
    handle = core.commands.handle

    async def slow(ctx: CommandContext, text: str) -> Reply:
        await busy.wait()  # a long write, a catch-up at start-up...
        return await handle(ctx, text)

    monkeypatch.setattr(core.commands, "handle", slow)
    status, _ = await ws.send("subscribe agent")
    assert status == 200  # Slack got its ack while the command is still waiting
    assert ws.slack.responses == []
    busy.set()
    await ws.slack.wait_for(lambda: ws.slack.responses)
    assert shown(ws.slack.responses[0].body["blocks"]).startswith("Subscribed as #1: agent")


async def test_answers_share_one_connection(ws: Workspace) -> None:
    for _ in range(3):
        await ws.says("help")
    assert len({r.peer for r in ws.slack.responses}) == 1  # not a new connection (with TLS, in Slack) for each


async def test_admins_only_limits_changes_to_admins_and_subscription_owners(
    start: Callable[..., Awaitable[Workspace]],
) -> None:
    ws = await start(admins_only=True)
    boss = ws.slack.add_user("boss", admin=True)
    refused = await ws.says("subscribe agent", user=ws.bob)
    assert refused.startswith("You need permission to manage this channel to use /papers subscribe.")
    assert (await ws.says("subscribe agent", user=boss)).startswith("Subscribed as #1")
    assert (await ws.says("list", user=ws.bob)).startswith("#1  agent")

    ws.slack.users[ws.bob] = replace(ws.slack.users[ws.bob], is_admin=True)
    assert (await ws.says("subscribe video", user=ws.bob)).startswith("Subscribed as #2")
    ws.slack.users[ws.bob] = replace(ws.slack.users[ws.bob], is_admin=False)  # demoted later
    assert (await ws.says("unsubscribe 1", user=ws.bob)).startswith("You need permission")
    assert (await ws.says("unsubscribe 2", user=ws.bob)) == "Unsubscribed #2 (video)."


async def test_typed_symbols_reach_the_query_and_come_back_inert(ws: Workspace) -> None:
    said = await ws.says('subscribe upvotes:>=10 "<!channel>" OR agent')
    assert said.startswith('Subscribed as #1: upvotes:>=10 "<!channel>" OR agent')
    [note] = [m for m in ws.slack.posts(ws.channel) if not m.metadata]
    assert controls(note.blocks) == [f"@{ws.ada}"]  # the only mention is of who did it
    assert shown(note.blocks) == f'@{ws.ada} subscribed this channel to #1: upvotes:>=10 "<!channel>" OR agent'


async def test_change_in_a_channel_without_the_app_says_how_to_add_it(ws: Workspace) -> None:
    outside = ws.slack.add_channel("random", member=False)
    said = await ws.says("subscribe agent", channel=outside)
    assert said.endswith(
        "Note: nobody else saw this change, and digests cannot arrive here until this is fixed: "
        "the Slack app is not in this channel (not_in_channel); invite it back. To add the app: /invite @paperboy"
    )


async def test_renamed_command_is_the_one_the_replies_name(start: Callable[..., Awaitable[Workspace]]) -> None:
    ws = await start(command="paper")
    said = await ws.says("help", command="/paper")
    assert "/paper subscribe QUERY" in said and "/papers" not in said


async def test_a_failing_command_answers_sorry_and_is_logged(
    core: Core, ws: Workspace, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    async def broken(ctx: CommandContext, text: str) -> Reply:
        raise RuntimeError("database is locked")

    monkeypatch.setattr(core.commands, "handle", broken)
    assert await ws.says("list") == "Sorry, that failed on Paperboy's side and was logged. Please try again later."
    assert "/papers list failed" in caplog.text and "database is locked" in caplog.text


async def test_a_failure_after_the_ack_is_logged_with_its_traceback(
    ws: Workspace, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    rendering = asyncio.Event()

    def broken(reply: Reply) -> list[object]:
        rendering.set()
        raise RuntimeError("cannot render")

    monkeypatch.setattr("adapters.slack.commands.render_reply", broken)
    assert (await ws.send("help"))[0] == 200
    await rendering.wait()
    for _ in range(10):  # the command's task ends, then its done callback runs, within a few turns of the loop
        await asyncio.sleep(0)
    assert "Slack: /papers failed" in caplog.text and "RuntimeError: cannot render" in caplog.text


async def test_status_explains_an_empty_day(ws: Workspace) -> None:
    await ws.says('subscribe "quantum chromodynamics"')
    answer = await ws.says("status")
    assert answer.startswith("Last fetch: Fri 21 Aug 07:00 UTC: 17 papers featured on 2026-08-21")
    assert "Next digest: Fri 21 Aug 09:00 UTC." in answer
    assert "Papers featured on Fri 21 Aug 2026: 17, 0 delivered here." in answer
    assert "- 17 no subscription matched: EnvHarness: Awakening Static Worlds for Agent Learning;" in answer


async def test_digest_buttons_rate_the_paper_for_the_clicker_only(core: Core, ws: Workspace) -> None:
    await ws.says("subscribe agent")
    await ws.says("digest")
    [digest] = [m for m in ws.slack.posts(ws.channel) if m.metadata]
    buttons = [e["action_id"] for b in digest.blocks if b["type"] == "actions" for e in b["elements"]]
    assert buttons[:2] == ["pb:+:2608.19880", "pb:-:2608.19880"] and len(buttons) == 12
    channel = await core.store.channel(ChannelKey("slack", ws.slack.team_id, ws.channel))
    assert channel is not None

    status, said = await ws.click("pb:+:2608.19880")
    assert status == 200 and said.startswith("👍 You liked 2608.19880 (EnvHarness: Awakening Static Worlds")
    assert await core.store.ratings(channel.id) == [("2608.19880", 1)]
    _, said = await ws.click("pb:-:2608.19880", user=ws.bob)  # anyone may rate; each member has one rating
    assert said.startswith("👎 You disliked 2608.19880")
    _, said = await ws.click("pb:+:2608.19880")  # the same button again takes it back
    assert said.startswith("Took back your rating of 2608.19880")
    _, said = await ws.click("pb:-:2608.19880", user=ws.bob)
    _, said = await ws.click("pb:+:2608.19880", user=ws.bob)  # the other button replaces it
    assert said.startswith("👍 You liked 2608.19880")
    assert await core.store.ratings(channel.id) == [("2608.19880", 1)]
    assert all(r.body["response_type"] == "ephemeral" and r.body["replace_original"] is False
               for r in ws.slack.responses if r.body.get("text", "").startswith(("👍", "👎", "Took")))
    assert ws.notes() == [f"@{ws.ada} subscribed this channel to #1: agent"]  # nothing public

    status, _ = await ws.click("pb:-:2608.19880", secret="forged")
    assert status == 401
    assert await core.store.ratings(channel.id) == [("2608.19880", 1)]
