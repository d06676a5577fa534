"""Telegram's errors map to the contract's (the contract suite drives each through the fake)."""

from __future__ import annotations

import httpx
import pytest
from telegram.error import BadRequest, ChatMigrated, Forbidden, InvalidToken, NetworkError, RetryAfter, TimedOut

from adapters.telegram.faults import fault
from bot.adapter import AdapterStopped, ChannelGone, SendFailed


def _caused(err: NetworkError, cause: Exception) -> NetworkError:
    err.__cause__ = cause
    return err


@pytest.mark.parametrize(("err", "expected"), [
    (Forbidden("Forbidden: bot was blocked by the user"), ChannelGone("Telegram says the user blocked the bot")),
    (BadRequest("Bad Request: chat not found"), ChannelGone("Telegram says this chat does not exist, or the bot is not in it")),
    (BadRequest("Bad Request: have no rights to send a message"), ChannelGone(
        "Telegram says the bot may not send messages in this chat: allow it to, or make it an admin")),
    (ChatMigrated(-1009), ChannelGone("this group became a supergroup with the new chat id -1009: subscribe again there")),
    (BadRequest("Bad Request: can't parse entities"), SendFailed("Telegram refused the message: Bad Request: can't parse entities")),
    (RetryAfter(5), SendFailed("Telegram asks to wait 5 s (429)", retry_after=5.0)),
    (InvalidToken("The token `1:x` was rejected by the server."), AdapterStopped()),
    (TimedOut(), SendFailed("", uncertain=True)),
    (_caused(NetworkError("httpx.ConnectError: refused"), httpx.ConnectError("refused")), SendFailed("")),
    (NetworkError("Internal Server Error (500)"), SendFailed("", uncertain=True)),
])
def test_telegram_errors_as_the_contracts(err: Exception, expected: Exception) -> None:
    found = fault(err)  # type: ignore[arg-type]
    assert type(found) is type(expected)
    if isinstance(expected, ChannelGone):
        assert str(found) == str(expected)
    if isinstance(found, SendFailed) and isinstance(expected, SendFailed):
        assert (found.uncertain, found.retry_after) == (expected.uncertain, expected.retry_after)
    assert "1:x" not in str(found)
