"""The Discord adapter's settings, read from the environment and checked once at start-up.

discord.py reads its REST base and gateway address from class attributes, so pointing
them elsewhere (a shared rate-limit proxy, a gateway proxy, a test fake) is process-wide:
one Discord bot per process.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

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
_GUILD_IDS = re.compile(r"\s*\d+\s*(,\s*\d+\s*)*,?\s*")


@dataclass(frozen=True, slots=True)
class DiscordConfig:
    token: str
    guild_ids: tuple[int, ...] = ()
    api_url: str = API_URL
    gateway_url: str = GATEWAY_URL

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> DiscordConfig:
        token = env.get("DISCORD_TOKEN", "").strip()
        if not token:
            raise ConfigError("DISCORD_TOKEN is not set: copy the token from your application's Bot page")
        if token.lower().startswith("bot ") or any(c.isspace() for c in token):
            raise ConfigError("DISCORD_TOKEN must be the bot token alone, as the Bot page shows it (no 'Bot ' prefix)")
        raw_ids = env.get("DISCORD_GUILD_IDS", "").strip()
        if raw_ids and not _GUILD_IDS.fullmatch(raw_ids):
            raise ConfigError(f"DISCORD_GUILD_IDS must be server ids separated by commas, got '{raw_ids}'")
        return cls(
            token=token,
            guild_ids=tuple(int(part) for part in raw_ids.split(",") if part.strip()),
            api_url=_url(env, "DISCORD_API_URL", API_URL, ("http", "https")),
            gateway_url=_url(env, "DISCORD_GATEWAY_URL", GATEWAY_URL, ("ws", "wss")),
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


def invite_url(application_id: int) -> str:
    return discord.utils.oauth_url(application_id, permissions=PERMISSIONS, scopes=SCOPES)
