"""Telegram's errors as the core's: a chat gone for the bot, a refused token, or a failure to retry.

python-telegram-bot raises by HTTP status: 403 Forbidden, 400 BadRequest, 401/404
InvalidToken, 429 RetryAfter, and NetworkError for everything else (5xx, timeouts,
connection errors). Which 400s and 403s mean "this chat is gone for us" is only in the
description, so those are matched by their words.
"""

from __future__ import annotations

import warnings
from datetime import timedelta

import httpx
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
)
from telegram.warnings import PTBDeprecationWarning

from bot.adapter import AdapterStopped, ChannelGone, SendFailed

# Never the library's message: it quotes the token.
REFUSED = (
    "Telegram refused TELEGRAM_BOT_TOKEN (401/404): check it with @BotFather (/token), "
    "and TELEGRAM_API_URL if you set it"
)
_NO_RIGHTS = "Telegram says the bot may not send messages in this chat: allow it to, or make it an admin"
# Words of Telegram's descriptions, and what /papers list shows for them.
GONE = (
    ("bot was kicked", "Telegram says the bot was removed from this chat"),
    ("bot is not a member", "Telegram says the bot is not a member of this chat"),
    ("bot was blocked by the user", "Telegram says the user blocked the bot"),
    ("user is deactivated", "Telegram says this user's account was deleted"),
    ("group chat was deactivated", "Telegram says this group was deleted"),
    ("chat not found", "Telegram says this chat does not exist, or the bot is not in it"),
    ("have no rights to send", _NO_RIGHTS),
    ("not enough rights to send", _NO_RIGHTS),
    ("chat_write_forbidden", _NO_RIGHTS),
    ("can't initiate conversation", "Telegram says the user has not started a chat with the bot"),
)
# Failures before the request reached Telegram: nothing can have been posted.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


def retry_after(err: RetryAfter) -> float:
    with warnings.catch_warnings():  # the attribute is moving from int to timedelta; both are read here
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        value = err.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


def fault(err: TelegramError) -> ChannelGone | AdapterStopped | SendFailed:
    """The core's exception for a failed call of the Bot API."""
    if isinstance(err, RetryAfter):
        seconds = retry_after(err)
        return SendFailed(f"Telegram asks to wait {seconds:.0f} s (429)", retry_after=seconds)
    if isinstance(err, InvalidToken):
        return AdapterStopped(REFUSED)
    if isinstance(err, ChatMigrated):
        return ChannelGone(
            f"this group became a supergroup with the new chat id {err.new_chat_id}: subscribe again there"
        )
    if isinstance(err, BadRequest | Forbidden):
        described = err.message.lower()
        reason = next((reason for words, reason in GONE if words in described), None)
        if reason is not None:
            return ChannelGone(reason)
        if isinstance(err, Forbidden):
            return ChannelGone(f"Telegram does not let the bot post here ({err.message})")
        return SendFailed(f"Telegram refused the message: {err.message}")
    if isinstance(err, NetworkError):  # TimedOut too: the message may have been stored
        return SendFailed(f"Telegram did not answer: {err.message}", uncertain=not isinstance(err.__cause__, _NOT_SENT))
    return SendFailed(f"Telegram answered: {err.message}", uncertain=True)
