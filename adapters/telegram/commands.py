"""`/papers ...` in a Telegram chat, and a digest's 👍/👎 buttons: ask the core, answer the sender.

The words after `/papers` (or `/papers@botname`) go to the core as typed, so the
subcommands, their checks and the help come from the core's command table. In a group
the answer is visible to everyone and hangs under the command, so a change to the chat
also names who made it in a closing line. Changing a group needs a chat administrator
(Telegram's getChatMember); in a private chat the user manages their own chat.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from telegram import Message, Update, User
from telegram.constants import ChatMemberStatus, ChatType
from telegram.error import TelegramError
from telegram.ext import ContextTypes

from adapters.telegram.faults import fault
from adapters.telegram.render import reply_parts
from bot.adapter import AdapterStopped, ChannelGone, Host, SendFailed, parse_rate_id
from bot.commandset import COMMANDS
from bot.models import ChannelKey, CommandContext

log = logging.getLogger(__name__)

COMMAND = "papers"
# The one entry of the bot's command menu; the subcommands' names come from the table.
DESCRIPTION = f"Hugging Face Daily Papers digests: {', '.join(spec.name for spec in COMMANDS)}"
WORKSPACE = "telegram"  # chat ids are unique across Telegram: one namespace
MANAGERS = (ChatMemberStatus.OWNER, ChatMemberStatus.ADMINISTRATOR)

Send = Callable[[int, str, int | None], Awaitable[str]]
ANSWER_CHARS = 200  # the most text answerCallbackQuery shows


def channel_key(chat_id: int) -> ChannelKey:
    return ChannelKey("telegram", WORKSPACE, str(chat_id))


class PapersCommand:
    """The `CommandHandler` callback of `/papers`."""

    def __init__(self, host: Host, send: Send, give_up: Callable[[AdapterStopped], None]) -> None:
        self._host = host
        self._send = send
        self._give_up = give_up

    async def __call__(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.message
        if message is None or message.text is None:
            return
        words = message.text.split(maxsplit=1)[1:]  # what follows /papers or /papers@botname
        ctx = CommandContext(
            channel_key(message.chat.id),
            user=self._who_id(message),
            can_manage=await self._can_manage(message),
            user_name=self._who_name(message),
            command=COMMAND,
        )
        reply = await self._host.handle(ctx, "".join(words))
        group = message.chat.type != ChatType.PRIVATE
        note = f"{ctx.user_name} {reply.announcement}" if reply.announcement and group else None
        for part in reply_parts(reply, note):
            try:
                await self._host.pace(ctx.key)
                await self._send(message.chat.id, part, message.message_id)
            except (ChannelGone, AdapterStopped, SendFailed) as failed:
                log.warning("Telegram: could not answer /%s in %s: %s", COMMAND, ctx.key, failed)
                return

    @staticmethod
    def _who_id(message: Message) -> str:
        """The sender, or the chat they posted as (an anonymous admin posts as the group itself)."""
        if message.sender_chat is not None:
            return str(message.sender_chat.id)
        return str(message.from_user.id) if message.from_user else "unknown"

    @staticmethod
    def _who_name(message: Message) -> str:
        if message.sender_chat is not None:
            return message.sender_chat.title or str(message.sender_chat.id)
        return message.from_user.full_name if message.from_user else "someone"

    async def _can_manage(self, message: Message) -> bool:
        chat = message.chat
        if chat.type == ChatType.PRIVATE:
            return True
        if message.sender_chat is not None:
            return message.sender_chat.id == chat.id  # only a chat's admins can post as the chat
        if message.from_user is None:
            return False
        try:
            member = await chat.get_member(message.from_user.id)
        except TelegramError as err:
            failed = fault(err)
            if isinstance(failed, AdapterStopped):
                self._give_up(failed)
            log.warning("Telegram: cannot tell whether %s administers %s (%s); treating them as a member",
                        message.from_user.id, chat.id, failed)
            return False
        return member.status in MANAGERS


class RateButton:
    """The `CallbackQueryHandler` callback of a digest's 👍/👎: rate, and tell the clicker alone
    (answerCallbackQuery shows a short notice to the one who pressed)."""

    def __init__(self, host: Host) -> None:
        self._host = host

    async def __call__(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        if query is None:
            return
        found = parse_rate_id(query.data or "")
        chat = query.message.chat if query.message is not None else None
        if found is None or chat is None:
            await query.answer()
            return
        user: User = query.from_user
        ctx = CommandContext(channel_key(chat.id), str(user.id), user_name=user.full_name, command=COMMAND)
        reply = await self._host.rate(ctx, found[1], found[0])
        text = reply.text if len(reply.text) <= ANSWER_CHARS else reply.text[: ANSWER_CHARS - 1] + "…"
        try:
            await query.answer(text)
        except TelegramError as err:
            log.warning("Telegram: could not confirm a rating in %s: %s", ctx.key, fault(err))
