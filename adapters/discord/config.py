"""The Discord adapter's settings, read from the environment and checked once at start-up.

discord.py reads its REST base and gateway address from class attributes, so pointing
them elsewhere (a shared rate-limit proxy, a gateway proxy, a test fake) is process-wide:
one Discord bot per process. Shards split the gateway across processes (workers): each
runs `shard_ids` of `shard_count`; unset, discord.py picks the count and runs them all.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import discord
import yarl

from bot.config import ConfigError, parse_url

API_URL = "https://discord.com/api/v10"
GATEWAY_URL = "wss://gateway.discord.gg/"
SCOPES = ("bot", "applications.commands")
# What posting digests needs (and, after a crash, finding a part already posted); the invite asks for nothing more.
PERMISSIONS = discord.Permissions(
    view_channel=True, send_messages=True, send_messages_in_threads=True, embed_links=True, read_message_history=True
)
_NUMBERS = re.compile(r"\s*\d+\s*(,\s*\d+\s*)*,?\s*")
_SHARD_COUNT_MAX = 65_536  # far above any bot's needs; keeps a typo from launching millions of shards


@dataclass(frozen=True, slots=True)
class DiscordConfig:
    token: str
    guild_ids: tuple[int, ...] = ()
    api_url: str = API_URL
    gateway_url: str = GATEWAY_URL
    shard_count: int | None = None  # None: as many as Discord recommends, all in this process
    shard_ids: tuple[int, ...] | None = None  # None: every shard of shard_count

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> DiscordConfig:
        token = env.get("DISCORD_TOKEN", "").strip()
        if not token:
            raise ConfigError("DISCORD_TOKEN is not set: copy the token from your application's Bot page")
        if token.lower().startswith("bot ") or any(c.isspace() for c in token):
            raise ConfigError("DISCORD_TOKEN must be the bot token alone, as the Bot page shows it (no 'Bot ' prefix)")
        raw_ids = env.get("DISCORD_GUILD_IDS", "").strip()
        if raw_ids and not _NUMBERS.fullmatch(raw_ids):
            raise ConfigError(f"DISCORD_GUILD_IDS must be server ids separated by commas, got '{raw_ids}'")
        return cls(
            token=token,
            guild_ids=tuple(int(part) for part in raw_ids.split(",") if part.strip()),
            api_url=_url(env, "DISCORD_API_URL", API_URL, ("http", "https")),
            gateway_url=_url(env, "DISCORD_GATEWAY_URL", GATEWAY_URL, ("ws", "wss")),
            **_shards(env),
        )

    def apply(self) -> None:
        """Point discord.py at this configuration's REST API and gateway."""
        discord.http.Route.BASE = self.api_url
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(self.gateway_url)
        # Paperboy has no voice: spare every start two warnings about voice libraries.
        discord.VoiceClient.warn_nacl = discord.VoiceClient.warn_dave = False


def _url(env: Mapping[str, str], name: str, default: str, schemes: tuple[str, ...]) -> str:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    return parse_url(name, raw, schemes, default).rstrip("/")


def _shards(env: Mapping[str, str]) -> dict[str, Any]:
    """shard_count and shard_ids from DISCORD_SHARD_COUNT and DISCORD_SHARD_IDS, checked together."""
    raw_count = env.get("DISCORD_SHARD_COUNT", "").strip()
    raw_ids = env.get("DISCORD_SHARD_IDS", "").strip()
    if not raw_count:
        if raw_ids:
            raise ConfigError("DISCORD_SHARD_IDS needs DISCORD_SHARD_COUNT, the number of shards across all workers")
        return {}
    if not raw_count.isdecimal() or not 1 <= int(raw_count) <= _SHARD_COUNT_MAX:
        raise ConfigError(f"DISCORD_SHARD_COUNT must be a whole number of shards from 1 to {_SHARD_COUNT_MAX}, "
                          f"got '{raw_count}'")
    count = int(raw_count)
    if not raw_ids:
        return {"shard_count": count}
    ids = {int(part) for part in raw_ids.split(",") if part.strip()} if _NUMBERS.fullmatch(raw_ids) else set()
    if not ids or max(ids) >= count:
        raise ConfigError(f"DISCORD_SHARD_IDS must be shard numbers from 0 to {count - 1} separated by commas "
                          f"(DISCORD_SHARD_COUNT is {count}), got '{raw_ids}'")
    return {"shard_count": count, "shard_ids": tuple(sorted(ids))}


def invite_url(application_id: int) -> str:
    return discord.utils.oauth_url(application_id, permissions=PERMISSIONS, scopes=SCOPES)
