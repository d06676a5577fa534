"""The Telegram adapter's settings, read from the environment and checked once at start-up."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from bot.config import ConfigError

API_URL = "https://api.telegram.org"
_TOKEN = re.compile(r"\d+:[A-Za-z0-9_-]+")


@dataclass(frozen=True, slots=True)
class TelegramConfig:
    """The token stays out of `repr`, so a logged config never leaks it."""

    token: str = field(repr=False)
    api_url: str = API_URL

    @property
    def base_url(self) -> str:
        """The Bot API method base as python-telegram-bot wants it: `{token}` is filled in by the library."""
        return f"{self.api_url}/bot{{token}}"

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> TelegramConfig:
        """The settings, or ConfigError with one line naming the variable and what it accepts."""
        token = env.get("TELEGRAM_BOT_TOKEN", "").strip()
        if not _TOKEN.fullmatch(token):
            raise ConfigError(
                "TELEGRAM_BOT_TOKEN must be the token BotFather gave the bot, digits, a colon and letters "
                "(123456789:AAE...)"
            )
        raw = env.get("TELEGRAM_API_URL", "").strip()
        return cls(token=token, api_url=_api_url(raw) if raw else API_URL)


def _api_url(raw: str) -> str:
    """A Bot API server's address: http(s), a host, no query; without the `/bot<token>` part."""
    try:
        url = urlsplit(raw)
        port_ok = url.port is None or url.port > 0
    except ValueError:
        port_ok = False
        url = urlsplit("")
    if url.scheme not in ("http", "https") or not url.hostname or not port_ok or url.query or url.fragment:
        raise ConfigError(f"TELEGRAM_API_URL must be a Bot API server's http(s) address such as {API_URL}, got '{raw}'")
    base = raw.rstrip("/")
    if re.search(r"/bot[^/]*$", base):
        # not echoed: what follows /bot may be the token
        raise ConfigError(f"TELEGRAM_API_URL must be the server's address alone, without /bot<token>, such as {API_URL}")
    return base
