"""Discord: discord.py's real client, logged in and on the gateway, against the loopback fake."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import discord
from discord.gateway import DiscordWebSocket

from adapters.discord import DiscordAdapter, create
from adapters.discord.render import LIMITS
from bot.models import ChannelKey
from tests.contract.harness import Fault, Seen
from tests.fakes.discord_api import FakeDiscord
from tests.fakes.discord_api import Fault as DiscordFault
from tests.support import StubHost, VirtualTime

GUILD, CHANNEL = 1_100_000_000_000_000_001, 1_100_000_000_000_000_002
_RAW_MENTION = re.compile(r"@(everyone|here)|<@[!&]?\d+>")


def _reader(text: str | None) -> str:
    """What Discord shows: escapes dropped, and the zero-width space that breaks a mention."""
    return re.sub(r"\\(.)", r"\1", text or "").replace("\u200b", "")


def _embed_texts(embed: dict[str, Any]) -> list[str]:
    fields = [(f.get("name"), f.get("value")) for f in embed.get("fields", [])]
    return [embed.get("title") or "", embed.get("description") or "", *(t for pair in fields for t in pair if t),
            (embed.get("footer") or {}).get("text", "")]


def problems(post: dict[str, Any]) -> tuple[str, ...]:
    found = []
    if post.get("allowed_mentions") != {"parse": []}:
        found.append("mentions allowed")
    raw = [post.get("content") or "", *(t for embed in post.get("embeds", []) for t in _embed_texts(embed))]
    if any(_RAW_MENTION.search(text) for text in raw):
        found.append("an unbroken mention")
    if len(post.get("content") or "") > LIMITS.text_chars:
        found.append("content too long")
    if len(post.get("embeds", [])) > LIMITS.items_per_message:
        found.append("too many embeds")
    if sum(len(t) for embed in post.get("embeds", []) for t in _embed_texts(embed)) > LIMITS.chars_per_message:
        found.append("embeds too long")
    if any("evil" in (embed.get("url") or "") for embed in post.get("embeds", [])):
        found.append("a link made from paper text")
    return tuple(found)


@dataclass
class DiscordHarness:
    adapter: DiscordAdapter
    fake: FakeDiscord
    time: VirtualTime
    key: ChannelKey = ChannelKey("discord", str(GUILD), str(CHANNEL))
    faults: frozenset[Fault] = field(default=frozenset({"gone", "unauthorized", "transient", "lost_answer"}))

    def messages(self, key: ChannelKey) -> list[Seen]:
        return [
            Seen(
                ref=str(post["id"]),
                text="\n".join(_reader(t) for t in [post.get("content"), *(
                    t for embed in post.get("embeds", []) for t in _embed_texts(embed))] if t),
                size=sum(len(t) for embed in post.get("embeds", []) for t in _embed_texts(embed)),
                items=len(post.get("embeds", [])),
                problems=problems(post),
            )
            for post in self.fake.posts(int(key.channel))
        ]

    def fail_next_post(self, fault: Fault) -> None:
        if fault == "gone":
            self.fake.channel_errors[CHANNEL] = (403, 50013, "Missing Permissions")
        elif fault == "unauthorized":
            self.fake.token = "reset-in-the-developer-portal"
        elif fault == "transient":  # a Cloudflare 429: discord.py gives up at once, the core retries
            self.fake.faults.append(DiscordFault.rate_limited(r"POST /channels/\d+/messages", via=False))
        else:
            self.fake.lost_answers += 1


@asynccontextmanager
async def harness() -> AsyncIterator[DiscordHarness]:
    time = VirtualTime()
    fake = FakeDiscord(clock=time.clock)
    await fake.start()
    base, gateway = discord.http.Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY
    adapter = create({"DISCORD_TOKEN": fake.token, "DISCORD_GUILD_IDS": str(GUILD),
                      "DISCORD_API_URL": fake.api_url, "DISCORD_GATEWAY_URL": fake.gateway_url})
    running = asyncio.create_task(adapter.run(StubHost()))
    try:
        await fake.wait_for(lambda: fake.identified, 10)
        yield DiscordHarness(adapter, fake, time)
    finally:
        running.cancel()
        await asyncio.gather(running, return_exceptions=True)
        await adapter.close()
        await fake.close()
        discord.http.Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY = base, gateway
