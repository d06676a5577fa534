"""Telegram: `/papers` in groups, supergroups and private chats, and digests as HTML messages,
through python-telegram-bot.

Long polling (getUpdates), so no public URL is needed: the token is enough. TELEGRAM_API_URL
points it at another Bot API server, such as a local one. A refused token stops this adapter
only: `run` returns with one log line and the other platforms go on.
"""

from __future__ import annotations

from collections.abc import Mapping

from adapters.telegram.adapter import TelegramAdapter
from adapters.telegram.config import TelegramConfig

__all__ = ["TelegramAdapter", "TelegramConfig", "create"]


def create(env: Mapping[str, str]) -> TelegramAdapter:
    return TelegramAdapter(TelegramConfig.from_env(env))
