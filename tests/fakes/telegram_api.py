"""A loopback Telegram Bot API for tests: the methods Paperboy's bot calls, on 127.0.0.1.

python-telegram-bot talks to it through `base_url`, over HTTP as to the real server:
`POST /bot<token>/<method>` with a form body (each value JSON-encoded, as the library
sends it) or a JSON body, answered `{"ok": true, "result": ...}` or `{"ok": false,
"error_code": ..., "description": ..., "parameters": {...}}`. It keeps chats, their
members and the bot's messages, checks an HTML message as Telegram does (supported tags
only, `<`, `>` and `&` escaped, at most 4,096 characters after parsing), serves updates
by long polling, and answers scripted faults: an error, a 429 with `retry_after`, a 5xx
or a dropped connection after the message was stored.

Tests play users with `command()`: it queues a message update the bot's getUpdates takes.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any

from aiohttp import web

Json = dict[str, Any]

TOKEN = "123456789:TEST-fake-telegram-token_0123456789"
BOT_ID = 123456789
BOT_USERNAME = "paperboy_bot"
MESSAGE_CHARS = 4096
# Tags of Telegram's HTML parse mode (https://core.telegram.org/bots/api#html-style).
TAGS = {"b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "span", "tg-spoiler", "a", "code", "pre",
        "blockquote", "tg-emoji"}
_FORM_JSON = {"reply_parameters", "link_preview_options", "commands", "allowed_updates", "scope", "reply_markup"}
_FORM_INT = {"chat_id", "user_id", "offset", "timeout", "limit", "reply_to_message_id"}
_ENTITY = re.compile(r"&(?!(?:lt|gt|amp|quot|#\d+|#x[0-9a-fA-F]+);)")
_TAG = re.compile(r"</?([a-zA-Z-]+)((?:\s+[a-z-]+=\"[^\"<>]*\")*)\s*/?>")


@dataclass(frozen=True, slots=True)
class User:
    id: int
    first_name: str
    username: str | None = None

    def json(self) -> Json:
        found: Json = {"id": self.id, "is_bot": False, "first_name": self.first_name}
        return found | ({"username": self.username} if self.username else {})


ADA = User(1001, "Ada", "ada_lovelace")  # administers the test group
BOB = User(1002, "Bob", "bob_member")  # an ordinary member


@dataclass
class Chat:
    id: int
    type: str  # private, group, supergroup
    title: str | None = None
    members: dict[int, str] = field(default_factory=dict)  # user id -> creator, administrator, member, left

    def json(self) -> Json:
        return {"id": self.id, "type": self.type, **({"title": self.title} if self.title else {})}


@dataclass
class Sent:
    """A message the bot sent, as stored: the text as written and how Telegram shows it."""

    message_id: int
    chat_id: int
    text: str
    parse_mode: str | None
    reply_to: int | None
    previews: bool
    shown: Rendered
    keyboard: list[list[Json]] = field(default_factory=list)  # inline keyboard rows of buttons


@dataclass(frozen=True, slots=True)
class Rendered:
    """HTML as a reader sees it: the text, its links and formatting tags."""

    text: str
    links: tuple[tuple[str, str], ...]  # (href, label)
    tags: tuple[str, ...]

    @property
    def size(self) -> int:
        return len(self.text.encode("utf-16-le")) // 2


@dataclass
class Fault:
    """The next `times` calls of `method` answer this error. `commit`: the call takes effect first
    (the answer is lost); `disconnect`: the connection drops instead of an answer."""

    method: str
    status: int = 502
    description: str = "Bad Gateway"
    retry_after: int | None = None
    commit: bool = False
    disconnect: bool = False
    times: int = 1
    chat_id: int | None = None  # only calls for this chat


class _Refused(Exception):
    def __init__(self, status: int, text: str) -> None:
        super().__init__(text)
        self.status, self.text = status, text


class ParseError(ValueError):
    pass


class _Reader(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.text: list[str] = []
        self.links: list[tuple[str, str]] = []
        self.tags: list[str] = []
        self._open: list[tuple[str, str | None, int]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in TAGS:
            raise ParseError(f'Unsupported start tag "{tag}"')
        self.tags.append(tag)
        self._open.append((tag, dict(attrs).get("href"), len("".join(self.text))))

    def handle_endtag(self, tag: str) -> None:
        if not self._open or self._open[-1][0] != tag:
            raise ParseError(f'Unexpected end tag "{tag}"')
        _, href, start = self._open.pop()
        if tag == "a":
            self.links.append((href or "", "".join(self.text)[start:]))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def render_html(text: str) -> Rendered:
    """What Telegram shows for an HTML message; ParseError where Telegram answers "can't parse entities"."""
    if _ENTITY.search(text):
        raise ParseError("Can't parse entities: unescaped &")
    if re.search(r"[<>]", _TAG.sub("", text)):
        raise ParseError("Can't parse entities: unescaped < or >")
    reader = _Reader()
    reader.feed(text)
    reader.close()
    if reader._open:
        raise ParseError(f'Can\'t find end tag corresponding to start tag "{reader._open[-1][0]}"')
    return Rendered("".join(reader.text), tuple(reader.links), tuple(reader.tags))


class FakeTelegram:
    """`async with FakeTelegram() as telegram:`; point the bot at `telegram.api_url`."""

    def __init__(self, *, token: str = TOKEN, clock: Callable[[], float] = time.monotonic) -> None:
        self.token = token
        self.clock = clock
        self.chats: dict[int, Chat] = {}
        self.messages: defaultdict[int, list[Sent]] = defaultdict(list)  # chat id -> the bot's messages
        self.commands: list[Json] | None = None  # what setMyCommands registered
        self.calls: list[tuple[str, int]] = []  # method, HTTP status
        self.faults: list[Fault] = []
        self.gone: dict[int, tuple[int, str]] = {}  # chat id -> (status, description) for sendMessage
        self.answers: dict[str, Json] = {}  # callback query id -> what answerCallbackQuery showed
        self._updates: list[Json] = []
        self._update_ids = itertools.count(1)
        self._message_ids: defaultdict[int, itertools.count[int]] = defaultdict(lambda: itertools.count(1))
        self._arrived = asyncio.Event()
        self._closing = False
        self._changed = asyncio.Condition()
        self._runner: web.AppRunner | None = None
        self.base = ""

    async def __aenter__(self) -> FakeTelegram:
        app = web.Application()
        app.router.add_post("/bot{token}/{method}", self._call)
        self._runner = web.AppRunner(app, access_log=None)  # its lines would show the token
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.base = f"http://127.0.0.1:{port}"
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._closing = True
        self._arrived.set()  # long polls answer at once
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def api_url(self) -> str:
        """What TELEGRAM_API_URL would hold: the server's address."""
        return self.base

    async def wait_for(self, predicate: Callable[[], object], timeout: float = 10.0) -> None:
        """Until `predicate()` holds, checked after every call served; the timeout only guards a hang."""
        async with self._changed:
            await asyncio.wait_for(self._changed.wait_for(predicate), timeout)

    # Scenery

    def add_chat(self, chat_id: int, type: str = "group", title: str | None = "Papers club",
                 members: dict[int, str] | None = None) -> Chat:
        self.chats[chat_id] = Chat(chat_id, type, title if type != "private" else None, dict(members or {}))
        return self.chats[chat_id]

    def command(self, chat_id: int, user: User, text: str, *, sender_chat: Json | None = None) -> int:
        """`user` sends `text` (starting with a /command) in the chat; the update's message id."""
        chat = self.chats[chat_id]
        message_id = next(self._message_ids[chat_id])
        command = text.split(maxsplit=1)[0]
        message: Json = {
            "message_id": message_id, "date": int(time.time()), "chat": chat.json(), "from": user.json(),
            "text": text, "entities": [{"type": "bot_command", "offset": 0, "length": len(command)}],
        }
        if sender_chat is not None:
            message["sender_chat"] = sender_chat
        self._updates.append({"update_id": next(self._update_ids), "message": message})
        self._arrived.set()
        return message_id

    def press(self, chat_id: int, user: User, message: Sent, data: str) -> str:
        """`user` presses the inline button carrying `data` under the bot's `message`; the query's id."""
        if not any(button.get("callback_data") == data for row in message.keyboard for button in row):
            raise AssertionError(f"the message has no button {data}")
        query_id = f"q{next(self._update_ids)}"
        shown = {"message_id": message.message_id, "date": int(time.time()), "chat": self.chats[chat_id].json(),
                 "from": {"id": BOT_ID, "is_bot": True, "first_name": "Paperboy", "username": BOT_USERNAME},
                 "text": message.shown.text}
        query = {"id": query_id, "from": user.json(), "message": shown, "chat_instance": "-1", "data": data}
        self._updates.append({"update_id": int(query_id[1:]), "callback_query": query})
        self._arrived.set()
        return query_id

    def replies(self, chat_id: int, message_id: int) -> list[Sent]:
        return [m for m in self.messages[chat_id] if m.reply_to == message_id]

    def unconfirmed(self) -> list[Json]:
        """Updates the bot has not confirmed by asking for a later offset: it would get them again."""
        return list(self._updates)

    def count(self, method: str) -> int:
        return sum(1 for called, _ in self.calls if called == method)

    # The Bot API

    async def _call(self, request: web.Request) -> web.StreamResponse:
        method = request.match_info["method"]
        args = await self._args(request)
        fault = next((f for f in self.faults if f.method == method and f.times > 0
                      and f.chat_id in (None, args.get("chat_id"))), None)
        if fault is not None:
            fault.times -= 1
        status, body = 200, None
        if request.match_info["token"] != self.token:
            status, body = 401, {"ok": False, "error_code": 401, "description": "Unauthorized"}
        elif fault is not None and not (fault.commit or fault.disconnect):
            status, body = fault.status, self._error(fault)
        else:
            try:
                handler = getattr(self, f"api_{method}", None)
                if handler is None:
                    raise _Refused(404, "Not Found: method not found")
                body = {"ok": True, "result": await handler(args)}
            except _Refused as refused:
                status, body = refused.status, {"ok": False, "error_code": refused.status, "description": refused.text}
            if fault is not None and fault.commit:
                status, body = fault.status, self._error(fault)
        self.calls.append((method, status))
        async with self._changed:
            self._changed.notify_all()
        if fault is not None and fault.disconnect:
            assert request.transport is not None
            request.transport.close()
            return web.Response()
        return web.json_response(body, status=status)

    @staticmethod
    def _error(fault: Fault) -> Json:
        body: Json = {"ok": False, "error_code": fault.status, "description": fault.description}
        if fault.retry_after is not None:
            body["parameters"] = {"retry_after": fault.retry_after}
        return body

    @staticmethod
    async def _args(request: web.Request) -> Json:
        if request.content_type == "application/json":
            return dict(await request.json())
        args: Json = {}
        for name, value in (await request.post()).items():
            text = str(value)
            args[name] = json.loads(text) if name in _FORM_JSON else int(text) if name in _FORM_INT else text
        return args

    async def api_getMe(self, args: Json) -> Json:
        return {"id": BOT_ID, "is_bot": True, "first_name": "Paperboy", "username": BOT_USERNAME,
                "can_join_groups": True, "can_read_all_group_messages": False, "supports_inline_queries": False}

    async def api_setMyCommands(self, args: Json) -> bool:
        for command in args["commands"]:
            if not re.fullmatch(r"[a-z0-9_]{1,32}", command["command"]) or not 1 <= len(command["description"]) <= 256:
                raise _Refused(400, "Bad Request: BOT_COMMAND_INVALID")
        self.commands = list(args["commands"])
        return True

    async def api_deleteWebhook(self, args: Json) -> bool:
        return True

    async def api_getUpdates(self, args: Json) -> list[Json]:
        offset = int(args.get("offset") or 0)
        self._updates = [u for u in self._updates if u["update_id"] >= offset]  # older ones are confirmed
        if not self._updates and not self._closing:
            self._arrived.clear()
            try:
                await asyncio.wait_for(self._arrived.wait(), float(args.get("timeout") or 0))
            except TimeoutError:
                pass
        allowed = args.get("allowed_updates")
        return [u for u in self._updates if not allowed or any(kind in u for kind in allowed)][:100]

    async def api_answerCallbackQuery(self, args: Json) -> bool:
        if len(str(args.get("text", ""))) > 200:
            raise _Refused(400, "Bad Request: MESSAGE_TOO_LONG")
        self.answers[str(args["callback_query_id"])] = args
        return True

    async def api_getChatMember(self, args: Json) -> Json:
        chat = self._chat(args["chat_id"])
        user_id = int(args["user_id"])
        if user_id not in chat.members and chat.type != "private":
            raise _Refused(400, "Bad Request: user not found")
        status = chat.members.get(user_id, "member")
        member: Json = {"status": status, "user": {"id": user_id, "is_bot": False, "first_name": f"user{user_id}"}}
        if status == "administrator":
            member |= {"can_be_edited": False, "is_anonymous": False, "can_manage_chat": True,
                       "can_delete_messages": True, "can_manage_video_chats": True, "can_restrict_members": True,
                       "can_promote_members": False, "can_change_info": True, "can_invite_users": True,
                       "can_post_stories": False, "can_edit_stories": False, "can_delete_stories": False}
        elif status == "creator":
            member |= {"is_anonymous": False}
        return member

    async def api_sendMessage(self, args: Json) -> Json:
        chat = self._chat(args["chat_id"])
        if chat.id in self.gone:
            raise _Refused(*self.gone[chat.id])
        text = str(args.get("text", ""))
        try:
            shown = render_html(text) if args.get("parse_mode") == "HTML" else Rendered(text, (), ())
        except ParseError as err:
            raise _Refused(400, f"Bad Request: can't parse entities: {err}") from None
        if not shown.text.strip():
            raise _Refused(400, "Bad Request: message text is empty")
        if shown.size > MESSAGE_CHARS:
            raise _Refused(400, "Bad Request: message is too long")
        reply = args.get("reply_parameters") or {}
        reply_to = reply.get("message_id") or args.get("reply_to_message_id")
        ids = {m.message_id for m in self.messages[chat.id]}
        if reply_to and reply_to not in ids and not reply.get("allow_sending_without_reply"):
            raise _Refused(400, "Bad Request: message to be replied not found")
        previews = not (args.get("link_preview_options") or {}).get("is_disabled")
        keyboard = (args.get("reply_markup") or {}).get("inline_keyboard", [])
        if any(len(button.get("callback_data", "").encode()) > 64 for row in keyboard for button in row):
            raise _Refused(400, "Bad Request: BUTTON_DATA_INVALID")
        sent = Sent(next(self._message_ids[chat.id]), chat.id, text, args.get("parse_mode"), reply_to, previews, shown,
                    keyboard)
        self.messages[chat.id].append(sent)
        return {"message_id": sent.message_id, "date": int(time.time()), "chat": chat.json(),
                "from": {"id": BOT_ID, "is_bot": True, "first_name": "Paperboy", "username": BOT_USERNAME},
                "text": shown.text}

    def _chat(self, chat_id: object) -> Chat:
        chat = self.chats.get(int(str(chat_id)))
        if chat is None:
            raise _Refused(400, "Bad Request: chat not found")
        return chat


async def ask(fake: FakeTelegram, chat: int, user: object, text: str) -> list[Sent]:
    """Send a command as `user`; the bot's replies to it, once there are some."""
    message = fake.command(chat, user, text)
    await fake.wait_for(lambda: fake.replies(chat, message))
    return fake.replies(chat, message)


def shown(replies: list[Sent]) -> str:
    return "\n\n".join(reply.shown.text for reply in replies)
