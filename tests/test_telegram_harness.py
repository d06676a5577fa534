"""The Telegram contract harness does what tests/contract/harness.py promises, and Telegram's
errors map to the contract's."""

from __future__ import annotations

import httpx
import pytest
from telegram.error import BadRequest, ChatMigrated, Forbidden, InvalidToken, NetworkError, RetryAfter, TimedOut

from adapters.telegram.faults import fault
from bot.adapter import AdapterStopped, ChannelGone, SendFailed
from tests.contract.harness import Fault
from tests.contract.harness_telegram import harness
from tests.test_telegram import hostile_digest


async def test_messages_read_back_as_a_member_sees_them() -> None:
    async with harness() as h:
        [part] = h.adapter.render_digest(hostile_digest())
        first = await h.adapter.post(h.key, part, "k.0", None)
        await h.adapter.post(h.key, part, "k.1", first)
        one, two = h.messages(h.key)
    assert one.problems == () and one.items == 1 and one.size <= 4096
    assert "<b>Bold</b> & <a href='javascript:alert(1)'>click</a> @everyone" in one.text
    assert (one.reply_to, two.reply_to) == (None, first)


@pytest.mark.parametrize(("fault_name", "raised", "stored"), [
    ("gone", ChannelGone, 0), ("unauthorized", AdapterStopped, 0), ("transient", SendFailed, 0),
    ("lost_answer", SendFailed, 1),
])
async def test_each_fault_fails_the_next_post(fault_name: Fault, raised: type[Exception], stored: int) -> None:
    async with harness() as h:
        [part] = h.adapter.render_digest(hostile_digest())
        h.fail_next_post(fault_name)
        with pytest.raises(raised) as failed:
            await h.adapter.post(h.key, part, "k.0", None)
        assert len(h.messages(h.key)) == stored
        if isinstance(failed.value, SendFailed):
            assert failed.value.uncertain == (fault_name == "lost_answer")
            assert failed.value.retry_after == (3.0 if fault_name == "transient" else None)
        if fault_name == "unauthorized":
            return  # the adapter has stopped
        await h.adapter.post(h.key, part, "k.1", None)  # the next one goes through
        assert len(h.messages(h.key)) == stored + 1
        with pytest.raises(ChannelGone):
            await h.adapter.post(h.gone, part, "k.2", None)


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
