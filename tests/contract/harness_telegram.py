"""The Telegram adapter for the contract suite: running against the fake Bot API, read back
as a member of the chat would see it."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from adapters.telegram import TelegramAdapter, TelegramConfig
from adapters.telegram.commands import channel_key
from adapters.telegram.render import WORD_JOINER
from bot.backoff import Backoff
from bot.models import ChannelKey
from tests.contract.harness import Fault, Seen
from tests.fakes.telegram_api import ADA, MESSAGE_CHARS, TOKEN, FakeTelegram, Sent
from tests.fakes.telegram_api import Fault as Answer
from tests.support import StubHost, VirtualTime

CHAT = -1_001_000_000_001
GONE_CHAT = -1_001_000_000_002
KICKED = (403, "Forbidden: bot was kicked from the group chat")
FAULTS: dict[Fault, Answer] = {
    "gone": Answer("sendMessage", *KICKED),
    "unauthorized": Answer("sendMessage", 401, "Unauthorized"),
    "transient": Answer("sendMessage", 429, "Too Many Requests: retry after 3", retry_after=3),
    "lost_answer": Answer("sendMessage", 502, "Bad Gateway", commit=True),
}
# Telegram notifies the user of any @username it finds in a message.
_MENTION = re.compile(r"(?<![A-Za-z0-9_])@[A-Za-z0-9_]")
_PAPER = re.compile(r"<b>\d+\. ")  # how the renderer opens a paper; paper text cannot contain a tag


def seen(message: Sent) -> Seen:
    shown = message.shown
    problems = []
    if shown.size > MESSAGE_CHARS:
        problems.append(f"{shown.size} characters, more than Telegram's {MESSAGE_CHARS}")
    if message.parse_mode != "HTML":
        problems.append(f"parse mode {message.parse_mode}: the text was not escaped for it")
    if found := _MENTION.search(shown.text):
        problems.append(f"a mention that would notify: {shown.text[found.start():found.start() + 20]!r}")
    problems += [f"a link to {href!r}" for href, _ in shown.links if not href.startswith(("https://", "http://"))]
    problems += [f"a <{tag}> tag the renderer never writes" for tag in shown.tags if tag not in ("a", "b", "i")]
    if message.previews:
        problems.append("link previews are on")
    return Seen(
        ref=str(message.message_id),
        text=shown.text.replace(WORD_JOINER, ""),  # invisible: it only keeps @name from being a mention
        size=shown.size,
        items=len(_PAPER.findall(message.text)),
        problems=tuple(problems),
        reply_to=str(message.reply_to) if message.reply_to else None,
    )


@dataclass
class TelegramHarness:
    adapter: TelegramAdapter
    time: VirtualTime
    key: ChannelKey
    gone: ChannelKey
    fake: FakeTelegram
    faults: frozenset[Fault] = frozenset(FAULTS)

    def messages(self, key: ChannelKey) -> list[Seen]:
        return [seen(message) for message in self.fake.messages[int(key.channel)]]

    def fail_next_post(self, fault: Fault) -> None:
        answer = FAULTS[fault]
        self.fake.faults.append(Answer(answer.method, answer.status, answer.description, answer.retry_after,
                                       answer.commit, chat_id=int(self.key.channel)))


@asynccontextmanager
async def harness() -> AsyncIterator[TelegramHarness]:
    time = VirtualTime()
    async with FakeTelegram() as fake:
        fake.add_chat(CHAT, "supergroup", members={ADA.id: "creator"})
        fake.add_chat(GONE_CHAT, "group")
        fake.gone[GONE_CHAT] = KICKED
        adapter = TelegramAdapter(TelegramConfig(TOKEN, fake.api_url), timing=time.timing,
                                  backoff=Backoff(draw=lambda: 0.0))
        running = asyncio.create_task(adapter.run(StubHost()))
        try:
            await asyncio.wait_for(adapter.connected.wait(), 10)
            yield TelegramHarness(adapter, time, channel_key(CHAT), channel_key(GONE_CHAT), fake)
        finally:
            await adapter.close()
            await asyncio.wait_for(running, 10)
