"""A fake Slack on 127.0.0.1: the Web API, `response_url`s and a Socket Mode websocket.

The real slack_sdk / slack-bolt code talks to it through `base_url`. It records every
call, keeps channels, threads and message metadata the way Slack reports them, answers
scripted faults (errors, 5xx, dropped connections after the post was stored, 429), and
can enforce Slack's posting limits when asked: one post per second per channel and a
workspace-wide budget per minute, both answered with 429 + Retry-After. The limits read
an injectable clock, so a test can share one virtual clock with the code under test.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import html
import json
import math
import re
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import count
from typing import Any
from urllib.parse import urlencode

from aiohttp import WSMsgType, web

JSON = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Fault:
    """A scripted answer to the next call of a method.

    `commit` applies the call before failing (Slack accepted the post, the answer was
    lost); `disconnect` drops the connection instead of answering.
    """

    status: int = 200
    error: str | None = None
    retry_after: int | None = None
    commit: bool = False
    disconnect: bool = False


@dataclass(frozen=True, slots=True)
class Call:
    method: str
    args: JSON
    token: str | None
    status: int
    error: str | None
    at: float


@dataclass(slots=True)
class Message:
    ts: str
    user: str
    text: str
    blocks: list[JSON]
    metadata: JSON | None
    thread_ts: str | None

    def to_api(self, with_metadata: bool) -> JSON:
        found: JSON = {"type": "message", "ts": self.ts, "user": self.user, "bot_id": FakeSlack.BOT_ID,
                       "text": self.text, "blocks": self.blocks}
        if self.thread_ts:
            found["thread_ts"] = self.thread_ts
        if with_metadata and self.metadata:
            found["metadata"] = self.metadata
        return found


@dataclass(slots=True)
class Channel:
    id: str
    name: str
    member: bool
    archived: bool = False
    messages: list[Message] = field(default_factory=list)

    def top_level(self) -> list[Message]:
        return [m for m in self.messages if m.thread_ts in (None, m.ts)]

    def thread(self, ts: str) -> list[Message]:
        return [m for m in self.messages if m.ts == ts or m.thread_ts == ts]


@dataclass(frozen=True, slots=True)
class User:
    id: str
    name: str
    is_admin: bool = False
    is_owner: bool = False


@dataclass(frozen=True, slots=True)
class Response:
    """A message an app sent to a `response_url` (an ephemeral or in-channel reply)."""

    name: str
    body: JSON
    peer: tuple[str, int] | None = None  # the client's address and port: one per connection


class _Abort(Exception):
    """Answer the current request with this Slack error."""

    def __init__(self, error: str, status: int = 200, retry_after: int | None = None) -> None:
        super().__init__(error)
        self.error = error
        self.status = status
        self.retry_after = retry_after


def _truthy(value: object) -> bool:
    return value in (True, 1, "1", "true")


class FakeSlack:
    """One workspace with one bot. Use as `async with FakeSlack() as slack:`.

    `channel_rate` enforces one post per second per channel; `workspace_per_minute`
    a workspace-wide budget of posts per rolling minute. Both are off by default.
    """

    BOT_ID = "B0PAPERBOY"

    def __init__(
        self,
        *,
        bot_token: str = "xoxb-fake-bot-token",
        app_token: str = "xapp-fake-app-token",
        team_id: str = "T0PAPERS",
        bot_user: str = "U0PAPERBOY",
        clock: Callable[[], float] = time.monotonic,
        channel_rate: bool = False,
        workspace_per_minute: int | None = None,
    ) -> None:
        self.bot_token = bot_token
        self.app_token = app_token
        self.team_id = team_id
        self.bot_user = bot_user
        self.clock = clock
        self.channel_rate = channel_rate
        self.workspace_per_minute = workspace_per_minute
        self.calls: list[Call] = []
        self.responses: list[Response] = []
        self.acks: dict[str, JSON] = {}
        self.channels: dict[str, Channel] = {}
        self.users: dict[str, User] = {}
        self.revoked: str | None = None
        self.caller: str | None = None  # the token of the Web API call being answered
        self._faults: dict[str, deque[Fault]] = {}
        self._ts = count(1)
        self._ids = count(1)
        self._last_post: dict[str, float] = {}
        self._window: deque[float] = deque()
        self._sockets: list[web.WebSocketResponse] = []
        self._changed = asyncio.Condition()
        self._runner: web.AppRunner | None = None
        self.port = 0

    # Lifecycle

    async def __aenter__(self) -> FakeSlack:
        app = web.Application()
        self.routes(app)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = self._runner.addresses[0][1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        for ws in list(self._sockets):
            await ws.close()
        assert self._runner is not None
        await self._runner.cleanup()

    def routes(self, app: web.Application) -> None:
        app.router.add_route("*", "/api/{method}", self._api)
        app.router.add_post("/respond/{name}", self._respond)
        app.router.add_get("/socket", self._socket)

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/"

    def response_url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.port}/respond/{name}"

    # Arranging the workspace

    def add_channel(self, name: str, *, member: bool = True, archived: bool = False) -> str:
        channel_id = f"C{next(self._ids):08d}"
        self.channels[channel_id] = Channel(channel_id, name, member, archived)
        return channel_id

    def add_user(self, name: str, *, admin: bool = False, owner: bool = False) -> str:
        user_id = f"U{next(self._ids):08d}"
        self.users[user_id] = User(user_id, name, admin, owner)
        return user_id

    def invite(self, channel_id: str) -> None:
        self.channels[channel_id].member = True

    def kick(self, channel_id: str) -> None:
        self.channels[channel_id].member = False

    def archive(self, channel_id: str) -> None:
        self.channels[channel_id].archived = True

    def revoke(self, error: str = "token_revoked") -> None:
        """Every later call with the bot token answers `error` (as when an admin uninstalls the app)."""
        self.revoked = error

    def script(self, method: str, *faults: Fault) -> None:
        """Answer the next calls of `method` with `faults`, in order, then normally again."""
        self._faults.setdefault(method, deque()).extend(faults)

    # Inspecting what happened

    def posts(self, channel_id: str | None = None) -> list[Message]:
        """Every message stored, oldest first (one channel's, or the whole workspace's)."""
        channels = [self.channels[channel_id]] if channel_id else self.channels.values()
        return sorted((m for c in channels for m in c.messages), key=lambda m: float(m.ts))

    def calls_to(self, method: str) -> list[Call]:
        return [c for c in self.calls if c.method == method]

    async def wait_for(self, predicate: Callable[[], object], timeout: float = 10.0) -> None:
        """Wait until `predicate()` holds; it is checked after every request the fake serves."""
        async with self._changed:
            await asyncio.wait_for(self._changed.wait_for(predicate), timeout)

    async def _touch(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    # Socket Mode

    async def send_envelope(self, kind: str, payload: JSON) -> str:
        """Push an envelope to the connected Socket Mode client; returns its envelope id."""
        await self.wait_for(lambda: self._sockets)
        envelope_id = f"env-{next(self._ids)}"
        envelope = {"envelope_id": envelope_id, "type": kind, "payload": payload, "accepts_response_payload": True}
        await self._sockets[-1].send_str(json.dumps(envelope))
        return envelope_id

    async def _socket(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        self._sockets.append(ws)
        await ws.send_str(json.dumps({"type": "hello", "num_connections": 1}))
        await self._touch()
        try:
            async for message in ws:
                if message.type == WSMsgType.TEXT:
                    data = json.loads(message.data)
                    self.acks[data["envelope_id"]] = data
                    await self._touch()
        finally:
            self._sockets.remove(ws)
        return ws

    # HTTP handlers

    async def _respond(self, request: web.Request) -> web.Response:
        peer = request.transport.get_extra_info("peername") if request.transport else None
        self.responses.append(Response(request.match_info["name"], await request.json(), peer))
        await self._touch()
        return web.Response(text="ok")

    async def _api(self, request: web.Request) -> web.StreamResponse:
        method = request.match_info["method"]
        args: JSON = dict(request.query)
        if request.content_type == "application/json":
            args.update(await request.json())
        elif request.can_read_body:
            args.update(await request.post())
        auth = request.headers.get("Authorization", "")
        token = auth.removeprefix("Bearer ") or args.get("token")
        self.caller = token
        fault = self._faults.get(method, deque()).popleft() if self._faults.get(method) else None
        status, headers, body = 200, {}, None
        try:
            self._check_token(method, token)
            if fault and not fault.commit and not fault.disconnect:
                raise _Abort(fault.error or "fatal_error", fault.status, fault.retry_after)
            body = {"ok": True, **self._dispatch(method, args)}
            if fault:
                raise _Abort(fault.error or "fatal_error", fault.status, fault.retry_after)
        except _Abort as abort:
            status, body = abort.status, {"ok": False, "error": abort.error}
            if abort.retry_after is not None:
                headers["Retry-After"] = str(abort.retry_after)
        self.calls.append(Call(method, args, token, status, None if body["ok"] else body["error"], self.clock()))
        await self._touch()
        if fault and fault.disconnect:
            assert request.transport is not None
            request.transport.close()
            return web.Response()
        if status >= 500:
            return web.Response(status=status, text="<html>Bad Gateway</html>", content_type="text/html")
        return web.json_response(body, status=status, headers=headers)

    def bot_user_of(self, token: str | None) -> str:
        """The bot user that posts with this token (one bot here)."""
        return self.bot_user

    def _check_token(self, method: str, token: str | None) -> None:
        expected = self.app_token if method == "apps.connections.open" else self.bot_token
        if not token:
            raise _Abort("not_authed")
        if token != expected:
            raise _Abort("invalid_auth")
        if self.revoked and token == self.bot_token:
            raise _Abort(self.revoked)

    def _dispatch(self, method: str, args: JSON) -> JSON:
        handler = {
            "auth.test": self._auth_test,
            "apps.connections.open": self._connections_open,
            "chat.postMessage": self._post_message,
            "conversations.history": self._history,
            "conversations.replies": self._replies,
            "users.info": self._users_info,
        }.get(method)
        if handler is None:
            raise _Abort("unknown_method")
        return handler(args)

    # Web API methods

    def _auth_test(self, args: JSON) -> JSON:
        return {"url": "https://papers-fake.slack.com/", "team": "Papers Fake", "user": "paperboy",
                "team_id": self.team_id, "user_id": self.bot_user, "bot_id": self.BOT_ID,
                "is_enterprise_install": False}

    def _connections_open(self, args: JSON) -> JSON:
        return {"url": f"ws://127.0.0.1:{self.port}/socket"}

    def _channel(self, args: JSON) -> Channel:
        channel = self.channels.get(str(args.get("channel", "")))
        if channel is None:
            raise _Abort("channel_not_found")
        if not channel.member:
            raise _Abort("not_in_channel")
        return channel

    def _post_message(self, args: JSON) -> JSON:
        channel = self._channel(args)
        if channel.archived:
            raise _Abort("is_archived")
        if not args.get("text") and not args.get("blocks"):
            raise _Abort("no_text")
        self._rate_limit(channel.id)
        blocks = args.get("blocks") or []
        metadata = args.get("metadata")
        message = Message(
            ts=f"{1_800_000_000 + next(self._ts)}.000100",
            user=self.bot_user_of(self.caller),
            text=str(args.get("text", "")),
            blocks=json.loads(blocks) if isinstance(blocks, str) else blocks,
            metadata=json.loads(metadata) if isinstance(metadata, str) else metadata,
            thread_ts=args.get("thread_ts"),
        )
        channel.messages.append(message)
        return {"channel": channel.id, "ts": message.ts, "message": message.to_api(False)}

    def _rate_limit(self, channel_id: str) -> None:
        now = self.clock()
        if self.channel_rate and channel_id in self._last_post:
            wait = self._last_post[channel_id] + 1.0 - now
            if wait > 1e-9:
                raise _Abort("ratelimited", 429, max(1, math.ceil(wait)))
        if self.workspace_per_minute is not None:
            while self._window and self._window[0] <= now - 60.0:
                self._window.popleft()
            if len(self._window) >= self.workspace_per_minute:
                raise _Abort("ratelimited", 429, max(1, math.ceil(self._window[0] + 60.0 - now)))
            self._window.append(now)
        self._last_post[channel_id] = now

    def _page(self, messages: list[Message], args: JSON) -> JSON:
        start = int(str(args.get("cursor") or "0"))
        limit = int(args.get("limit") or 100)
        chunk = messages[start : start + limit]
        with_metadata = _truthy(args.get("include_all_metadata"))
        more = start + limit < len(messages)
        return {
            "messages": [m.to_api(with_metadata) for m in chunk],
            "has_more": more,
            "response_metadata": {"next_cursor": str(start + limit) if more else ""},
        }

    def _history(self, args: JSON) -> JSON:
        return self._page(self._channel(args).top_level()[::-1], args)

    def _replies(self, args: JSON) -> JSON:
        thread = self._channel(args).thread(str(args.get("ts", "")))
        if not thread:
            raise _Abort("thread_not_found")
        return self._page(thread, args)

    def _users_info(self, args: JSON) -> JSON:
        user = self.users.get(str(args.get("user", "")))
        if user is None:
            raise _Abort("user_not_found")
        return {"user": {"id": user.id, "name": user.name, "is_admin": user.is_admin,
                         "is_owner": user.is_owner, "is_primary_owner": False, "is_bot": False}}


# Building requests the way Slack sends them


def slash_command(
    slack: FakeSlack, text: str, *, channel: str, user: str, command: str = "/papers", reply_to: str = "r"
) -> dict[str, str]:
    """The fields of a slash-command invocation, as Slack posts them (text HTML-escaped)."""
    return {
        "token": "deprecated-verification-token",
        "team_id": slack.team_id,
        "team_domain": "papers-fake",
        "channel_id": channel,
        "channel_name": slack.channels[channel].name if channel in slack.channels else "unknown",
        "user_id": user,
        "user_name": slack.users[user].name if user in slack.users else "someone",
        "command": command,
        "text": text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;"),
        "api_app_id": "A0PAPERBOY",
        "is_enterprise_install": "false",
        "response_url": slack.response_url(reply_to),
        "trigger_id": "13345224609.738474920.8088930838d88f008e0",
    }


def block_action(
    slack: FakeSlack, action_id: str, *, channel: str, user: str, message_ts: str, reply_to: str = "r"
) -> dict[str, str]:
    """The form of a button click (`block_actions`) as Slack posts it: one `payload` field of JSON."""
    payload = {
        "type": "block_actions",
        "team": {"id": slack.team_id, "domain": "papers-fake"},
        "user": {"id": user, "username": slack.users[user].name if user in slack.users else "someone",
                 "team_id": slack.team_id},
        "api_app_id": "A0PAPERBOY",
        "container": {"type": "message", "message_ts": message_ts, "channel_id": channel, "is_ephemeral": False},
        "channel": {"id": channel, "name": slack.channels[channel].name if channel in slack.channels else "unknown"},
        "message": {"type": "message", "ts": message_ts},
        "response_url": slack.response_url(reply_to),
        "trigger_id": "13345224609.738474920.8088930838d88f008e1",
        "actions": [{"type": "button", "action_id": action_id, "block_id": "b1", "value": action_id[5:],
                     "text": {"type": "plain_text", "text": "👍", "emoji": True}, "action_ts": "1724227200.1"}],
    }
    return {"payload": json.dumps(payload)}


def signed(secret: str, fields: dict[str, str], timestamp: int | None = None) -> tuple[str, dict[str, str]]:
    """A form body and the headers of a request signed the way Slack signs it (v0, HMAC-SHA256)."""
    body = urlencode(fields)
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    digest = hmac.new(secret.encode(), f"v0:{stamp}:{body}".encode(), hashlib.sha256).hexdigest()
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Slack-Request-Timestamp": stamp,
        "X-Slack-Signature": f"v0={digest}",
    }
    return body, headers


# Reading messages the way a user sees them

_LINK = re.compile(r"<([^<>|]*)(?:\|([^<>]*))?>")
_BOLD = re.compile(r"\*([^*\n]+)\*")


def _texts(blocks: list[JSON], kinds: tuple[str, ...] = ("plain_text", "mrkdwn")) -> list[str]:
    objects = []
    for block in blocks:
        if isinstance(block.get("text"), dict):
            objects.append(block["text"])
        objects += [e for e in block.get("elements", []) if isinstance(e, dict) and "text" in e]
    return [str(o["text"]) for o in objects if o.get("type") in kinds]


def controls(blocks: list[JSON]) -> list[str]:
    """The mrkdwn control sequences Slack would act on: links, @mentions, channel pings.

    Only mrkdwn is parsed for them; plain_text never is.
    """
    return [match[1] for text in _texts(blocks, ("mrkdwn",)) for match in _LINK.finditer(text)]


def shown(blocks: list[JSON]) -> str:
    """Roughly the text a reader sees: links show their label, bold loses its stars, entities are decoded."""
    lines = [_BOLD.sub(r"\1", _LINK.sub(lambda m: m[2] if m[2] is not None else m[1], text)) for text in _texts(blocks)]
    return html.unescape("\n".join(lines))
