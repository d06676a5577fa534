"""Slack: the real slack_sdk client, connected through bolt, against the loopback fake."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from adapters.slack import SlackAdapter
from adapters.slack.config import SlackConfig
from adapters.slack.render import HEADER_CHARS, MAX_BLOCKS, MESSAGE_CHARS, SECTION_CHARS
from bot.models import ChannelKey
from tests.contract.harness import Fault, Seen
from tests.fakes.slack_api import FakeSlack, Fault as SlackFault, Message, controls, shown
from tests.support import StubHost, VirtualTime

_PINGS = ("<!channel", "<!here", "<!everyone", "<@", "<#", "<!subteam")


def problems(message: Message) -> tuple[str, ...]:
    found = []
    if len(message.blocks) > MAX_BLOCKS:
        found.append(f"{len(message.blocks)} blocks")
    if len(json.dumps(message.blocks, ensure_ascii=False)) > MESSAGE_CHARS:
        found.append("message too long")
    for block in message.blocks:
        text = (block.get("text") or {}).get("text", "")
        if len(text) > (HEADER_CHARS if block["type"] == "header" else SECTION_CHARS):
            found.append(f"{block['type']} too long")
        if block["type"] == "section" and any(ping in text for ping in _PINGS):
            found.append("a mention Slack would notify")
    if any(not link.startswith("https://") or "evil" in link for link in controls(message.blocks)):
        found.append("a link made from paper text")
    if not message.text.strip():
        found.append("no notification text")
    return tuple(found)


@dataclass
class SlackHarness:
    adapter: SlackAdapter
    slack: FakeSlack
    key: ChannelKey
    time: VirtualTime
    faults: frozenset[Fault] = field(default=frozenset({"gone", "unauthorized", "transient", "lost_answer"}))

    def messages(self, key: ChannelKey) -> list[Seen]:
        return [
            Seen(
                ref=message.ts,
                text=shown(message.blocks),
                size=len(json.dumps(message.blocks, ensure_ascii=False)),
                items=sum(1 for block in message.blocks if "arxiv.org/abs" in json.dumps(block)),
                problems=problems(message),
                reply_to=message.thread_ts,
            )
            for message in self.slack.posts(key.channel)
        ]

    def fail_next_post(self, fault: Fault) -> None:
        if fault == "gone":
            self.slack.kick(self.key.channel)
        elif fault == "unauthorized":
            self.slack.revoke("token_revoked")
        elif fault == "transient":
            self.slack.script("chat.postMessage", SlackFault(status=429, error="ratelimited", retry_after=3))
        else:
            self.slack.script("chat.postMessage", SlackFault(status=502, commit=True))


@asynccontextmanager
async def harness() -> AsyncIterator[SlackHarness]:
    time = VirtualTime()
    async with FakeSlack(clock=time.clock, channel_rate=True, workspace_per_minute=120) as slack:
        config = SlackConfig(
            bot_token=slack.bot_token, signing_secret="s", port=0, api_url=slack.api_url, host="127.0.0.1"
        )
        adapter = SlackAdapter(config, timing=time.timing)
        running = asyncio.create_task(adapter.run(StubHost()))
        await asyncio.wait_for(adapter.connected.wait(), 10)
        key = ChannelKey("slack", slack.team_id, slack.add_channel("papers"))
        try:
            yield SlackHarness(adapter, slack, key, time)
        finally:
            await adapter.close()
            await asyncio.wait_for(running, 10)
