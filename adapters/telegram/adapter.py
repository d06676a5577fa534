"""The Telegram adapter's life cycle and posting: connect, long-poll for updates, send, shut down.

python-telegram-bot's `Application` parses updates and dispatches `/papers` (also
`/papers@botname`) to `commands.PapersCommand`; the adapter fetches the updates itself with
`getUpdates` instead of the library's `Updater`, whose retry loop sleeps on its own clock
and ends quietly in a background task when the token is refused. Here a refused token
stops this adapter with one log line, and every wait goes through the injected `Timing`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

from telegram import BotCommand, InlineKeyboardButton, InlineKeyboardMarkup, LinkPreviewOptions, ReplyParameters
from telegram.constants import ParseMode
from telegram.error import InvalidToken, RetryAfter, TelegramError
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    filters,
)

from adapters.telegram.commands import COMMAND, DESCRIPTION, PapersCommand, RateButton
from adapters.telegram.config import TelegramConfig
from adapters.telegram.faults import REFUSED, fault, retry_after
from adapters.telegram.render import LIMITS, Message, digest_messages
from bot.adapter import RATE_ID, AdapterStopped, Host, SendFailed
from bot.backoff import Backoff
from bot.models import ChannelKey, Digest
from bot.pacing import REAL_TIME, Timing

log = logging.getLogger(__name__)

T = TypeVar("T")
POLL_SECONDS = 30  # long-poll timeout of one getUpdates
READY_WAIT = 60.0  # how long digests due at start-up wait for the connection before waiting for the next poll
NO_PREVIEW = LinkPreviewOptions(is_disabled=True)


class _Redact(logging.Filter):
    """httpx logs every request's URL at INFO, and the Bot API's URLs hold the token: take it out."""

    def __init__(self, token: str) -> None:
        super().__init__()
        self._token = token

    def filter(self, record: logging.LogRecord) -> bool:
        text = record.getMessage()
        if self._token in text:
            record.msg, record.args = text.replace(self._token, "<TELEGRAM_BOT_TOKEN>"), ()
        return True


class TelegramAdapter:
    platform = "telegram"
    limits = LIMITS
    # Bots cannot read a chat's history, so a message whose answer was lost cannot be looked up:
    # the core posts such a part at most once (see bot.adapter).
    verifies_sends = False

    def __init__(
        self, config: TelegramConfig, *, timing: Timing = REAL_TIME, backoff: Backoff | None = None,
        poll_seconds: int = POLL_SECONDS,
    ) -> None:
        self.config = config
        self.connected = asyncio.Event()  # set once Telegram took the token and commands can arrive
        self.app: Application = (  # type: ignore[type-arg]
            ApplicationBuilder().token(config.token).base_url(config.base_url)
            .updater(None).job_queue(None).concurrent_updates(True).build()
        )
        self._redact = _Redact(config.token)
        logging.getLogger("httpx").addFilter(self._redact)
        self._timing = timing
        self._backoff = backoff or Backoff(base=1.0, cap=60.0)
        self._poll_seconds = poll_seconds
        self.stopped = asyncio.Event()  # set once this adapter is done, for good
        self._stop_reason: str | None = None
        self._ready_by: float | None = None
        self._offset: int | None = None  # the next update to ask for; Telegram forgets the earlier ones when asked
        self._confirmed = True  # whether Telegram was asked for `_offset` since the last updates arrived
        self._release_lock = asyncio.Lock()

    # Life cycle

    async def run(self, host: Host) -> None:
        self._ready_by = asyncio.get_running_loop().time() + READY_WAIT
        try:
            if await self._start(host):
                log.info("Telegram: connected as @%s (id %s), long polling, command /%s",
                         self.app.bot.username, self.app.bot.id, COMMAND)
                self.connected.set()
                poller = asyncio.create_task(self._poll())
                stopped = asyncio.create_task(self.stopped.wait())
                try:
                    await asyncio.wait([poller, stopped], return_when=asyncio.FIRST_COMPLETED)
                finally:
                    for task in (poller, stopped):
                        task.cancel()
                    await asyncio.gather(poller, stopped, return_exceptions=True)
        finally:
            self.stopped.set()
            await self._release()
        if self._stop_reason:
            log.error("Telegram adapter stopped: %s. The other adapters go on; fix it and restart paperboy.",
                      self._stop_reason)

    async def close(self) -> None:
        self.stopped.set()
        await self._release()

    def give_up(self, reason: AdapterStopped | str) -> None:
        """Stop serving for good (a refused token); run() logs why."""
        if not self.stopped.is_set():
            self._stop_reason = str(reason)
            self.stopped.set()

    async def _start(self, host: Host) -> bool:
        """Check the token, register the command menu, make sure no webhook holds the updates; False if refused."""
        command = PapersCommand(host, self.send, self.give_up)
        self.app.add_handler(CommandHandler(COMMAND, command, filters=filters.UpdateType.MESSAGE))
        self.app.add_handler(CallbackQueryHandler(RateButton(host), pattern=RATE_ID))
        self.app.add_error_handler(self._on_error)
        bot = self.app.bot
        try:
            await self._patiently("getMe", self.app.initialize)
            await self._patiently("setMyCommands", lambda: bot.set_my_commands([BotCommand(COMMAND, DESCRIPTION)]))
            await self._patiently("deleteWebhook", bot.delete_webhook)
        except InvalidToken:
            self.give_up(REFUSED)
            return False
        if self.stopped.is_set():  # closed while connecting
            return False
        await self.app.start()
        return True

    async def _patiently(self, method: str, call: Callable[[], Awaitable[T]]) -> T:
        """A start-up call, retried with backoff while Telegram cannot be reached or is failing."""
        attempt = 0
        while True:
            try:
                return await call()
            except InvalidToken:
                raise
            except TelegramError as err:
                attempt += 1
                delay = self._backoff.delay(attempt, retry_after(err) if isinstance(err, RetryAfter) else None)
                log.warning("Telegram: %s failed (%s); trying again in %.0f s", method, err.message, delay)
                await self._timing.sleep(delay)

    async def _poll(self) -> None:
        """Long-poll getUpdates and hand each update to the Application, until stopped."""
        bot = self.app.bot
        attempt = 0
        while True:
            try:
                updates = await bot.get_updates(
                    offset=self._offset, timeout=self._poll_seconds, allowed_updates=["message", "callback_query"]
                )
            except InvalidToken:
                self.give_up(REFUSED)
                return
            except TelegramError as err:
                attempt += 1
                delay = self._backoff.delay(attempt, retry_after(err) if isinstance(err, RetryAfter) else None)
                log.warning("Telegram: getUpdates failed (%s); trying again in %.0f s", err.message, delay)
                await self._timing.sleep(delay)
                continue
            attempt = 0
            for update in updates:
                await self.app.update_queue.put(update)
            self._confirmed = not updates
            if updates:
                self._offset = updates[-1].update_id + 1

    async def _release(self) -> None:
        """Stop the Application (it finishes the commands it is running) and close its connections."""
        async with self._release_lock:
            if self.app.running:
                await self.app.stop()
            if not self._confirmed and self._stop_reason is None:
                self._confirmed = True
                with contextlib.suppress(TelegramError):  # confirm the last updates, or they come again at start
                    await self.app.bot.get_updates(offset=self._offset, timeout=0)
            await self.app.shutdown()
            await self.app.bot.shutdown()  # Application.shutdown skips the bot when initialize never finished
            logging.getLogger("httpx").removeFilter(self._redact)

    async def _on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        log.error("Telegram: handling an update failed", exc_info=context.error)

    # Posting

    async def send(
        self, chat_id: int, text: str, reply_to: int | None,
        keyboard: tuple[tuple[tuple[str, str], ...], ...] = (),
    ) -> str:
        """Post one HTML message, as a reply when `reply_to` is given, with an inline keyboard of
        (label, callback data) rows when given; its message id.

        Raises ChannelGone, AdapterStopped (and stops this adapter) or SendFailed.
        """
        try:
            sent = await self.app.bot.send_message(
                chat_id=chat_id,
                text=text,
                parse_mode=ParseMode.HTML,
                link_preview_options=NO_PREVIEW,
                reply_parameters=ReplyParameters(reply_to, allow_sending_without_reply=True) if reply_to else None,
                reply_markup=InlineKeyboardMarkup(
                    [[InlineKeyboardButton(label, callback_data=data) for label, data in row] for row in keyboard]
                ) if keyboard else None,
            )
        except TelegramError as err:
            failed = fault(err)
            if isinstance(failed, AdapterStopped):
                self.give_up(failed)
            raise failed from err
        return str(sent.message_id)

    def render_digest(self, digest: Digest) -> Sequence[Message]:
        return digest_messages(digest)

    async def post(self, key: ChannelKey, message: Message, part_key: str, reply_to: str | None) -> str:
        await self._ready()
        return await self.send(int(key.channel), message.text, int(reply_to) if reply_to else None, message.keyboard)

    async def find(self, key: ChannelKey, part_keys: Sequence[str], reply_to: str | None) -> dict[str, str]:
        """Never called (`verifies_sends` is False): a bot cannot read a chat's history."""
        return {}

    async def _ready(self) -> None:
        """Until connected. Digests due at start-up wait for the connection, until READY_WAIT."""
        if not (self.connected.is_set() or self.stopped.is_set()):
            loop = asyncio.get_running_loop()
            left = READY_WAIT if self._ready_by is None else max(0.0, self._ready_by - loop.time())
            waits = [asyncio.ensure_future(self.connected.wait()), asyncio.ensure_future(self.stopped.wait())]
            await asyncio.wait(waits, timeout=left, return_when=asyncio.FIRST_COMPLETED)
            for waiting in waits:
                waiting.cancel()
        if self.stopped.is_set():
            raise AdapterStopped(self._stop_reason or "the Telegram adapter is stopped")
        if not self.connected.is_set():
            raise SendFailed("Telegram is not connected yet")
