"""A loopback Discord for tests and benchmarks: the REST routes and gateway events a bot uses.

It speaks the wire format discord.py checks (exactly `Content-Type: application/json`;
429s carry `Via` and a JSON `retry_after`, else discord.py takes them for a Cloudflare
ban; interaction callbacks answer JSON) and records what people would see: each
channel's messages, and what each interaction showed only to its caller.

Rate limits are off unless asked for, so tests never wait: `global_limit` (requests
per second across bot-token requests; Discord's is 50) and `channel_limit` (messages per
window per channel, about 5 per 5 s on Discord) answer 429 like Discord, with bucket
headers, and `Fault` injects any answer, such as a 429 without `Via` or a 403.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import time
from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiohttp import WSMsgType, web

Json = dict[str, Any]

API = "/api/v10"
EPHEMERAL = 1 << 6
MANAGE_CHANNELS = 1 << 4
VIEW_CHANNEL = 1 << 10
SEND_MESSAGES = 1 << 11
EMBED_LINKS = 1 << 14
USE_APPLICATION_COMMANDS = 1 << 31
MEMBER = VIEW_CHANNEL | SEND_MESSAGES | USE_APPLICATION_COMMANDS
MANAGER = MEMBER | MANAGE_CHANNELS
BOT_PERMISSIONS = VIEW_CHANNEL | SEND_MESSAGES | EMBED_LINKS
NONCE_SECONDS = 300.0  # Discord dedupes an enforced nonce for "a few minutes"
_SNOWFLAKES = itertools.count(1_300_000_000_000_000_000)


def snowflake() -> int:
    return next(_SNOWFLAKES)


def _answer(data: object, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    """JSON with the exact content type discord.py wants (a charset makes it read text)."""
    return web.Response(
        status=status, body=json.dumps(data).encode(), headers={**(headers or {}), "Content-Type": "application/json"}
    )


def _error(status: int, code: int, message: str) -> web.Response:
    return _answer({"message": message, "code": code}, status)


@dataclass
class Fault:
    """A canned answer for the next `times` requests whose "METHOD /path" fully matches `route`.

    The path is the API path without `/api/v10`, e.g. `route=r"POST /channels/\\d+/messages"`.
    """

    route: str
    status: int
    body: Json
    headers: dict[str, str] = field(default_factory=dict)
    times: int = 1

    @classmethod
    def error(cls, route: str, status: int, code: int, message: str, times: int = 1) -> Fault:
        return cls(route, status, {"message": message, "code": code}, times=times)

    @classmethod
    def rate_limited(
        cls, route: str, retry_after: float = 0.0, *, via: bool = True, is_global: bool = False, times: int = 1
    ) -> Fault:
        headers = {"Retry-After": str(retry_after), "X-RateLimit-Scope": "global" if is_global else "user"}
        if via:
            headers["Via"] = "1.1 google"
        body = {"message": "You are being rate limited.", "retry_after": retry_after, "global": is_global}
        return cls(route, 429, body, headers, times)


class _Window:
    """At most `limit` hits per fixed window of `per` seconds, on an injectable clock."""

    def __init__(self, limit: int, per: float, clock: Callable[[], float]) -> None:
        self.limit, self.per, self._clock = limit, per, clock
        self._start = -per
        self._count = 0

    def hit(self) -> float | None:
        """None when allowed, else the seconds until the window resets."""
        now = self._clock()
        if now - self._start >= self.per:
            self._start, self._count = now, 0
        if self._count >= self.limit:
            return self.per - (now - self._start)
        self._count += 1
        return None

    def headers(self, bucket: str) -> dict[str, str]:
        reset_after = max(0.0, self.per - (self._clock() - self._start))
        return {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(self.limit - self._count),
            "X-RateLimit-Reset": f"{time.time() + reset_after:.3f}",
            "X-RateLimit-Reset-After": f"{reset_after:.3f}",
            "X-RateLimit-Bucket": bucket,
        }


def _rate_limited(retry_after: float, *, is_global: bool, headers: dict[str, str] | None = None) -> web.Response:
    fault = Fault.rate_limited("", round(retry_after, 3), is_global=is_global)
    return _answer(fault.body, 429, {**(headers or {}), **fault.headers})


@dataclass(frozen=True)
class Member:
    """Who runs a command, with their resolved permission bits in the channel."""

    id: int
    name: str
    permissions: int = MANAGER


ADA = Member(4_000_000_000_000_000_001, "ada")  # manages the channel


@dataclass
class Interaction:
    """One slash command or autocomplete as the fake sent it, and what the bot answered."""

    id: int
    token: str
    guild_id: int
    channel_id: int
    user_id: int
    payload: Json
    callback_type: int | None = None
    acked_at: float | None = None  # when the first callback arrived, on the fake's clock
    deferred_flags: int | None = None  # set while a deferred ("thinking") answer is open
    ephemeral: list[Json] = field(default_factory=list)  # messages only the caller saw
    public: list[Json] = field(default_factory=list)  # messages it posted in the channel
    choices: list[Json] | None = None  # an autocomplete's answer


class FakeDiscord:
    """Serve with `await fake.start()`; point discord.py at `api_url` and `gateway_url`."""

    def __init__(
        self,
        *,
        token: str = "fake.bot.token",
        global_limit: int | None = None,
        channel_limit: tuple[int, float] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.token = token
        self.application_id = snowflake()
        self.bot = {"id": str(self.application_id), "username": "Paperboy", "discriminator": "0",
                    "global_name": None, "avatar": None, "bot": True}
        self.clock = clock
        self.faults: list[Fault] = []
        self.channel_errors: dict[int, tuple[int, int, str]] = {}
        self.history_errors: dict[int, tuple[int, int, str]] = {}  # e.g. no Read Message History
        self.lost_answers = 0  # posts still to store and then answer 503, as if the answer were lost
        self.messages: defaultdict[int, list[Json]] = defaultdict(list)  # channel id -> what people see
        self.commands: dict[int | None, list[Json]] = {}  # guild id (None: global) -> synced commands
        self.interactions: dict[int, Interaction] = {}
        self.requests: list[tuple[str, str, int]] = []  # method, path, status
        self.invalid_requests = 0  # 401, 403 and 429 answers: what Discord's IP ban counts
        self.identified = 0
        self.shards: list[tuple[int, int] | None] = []  # the `shard` of each IDENTIFY, in order
        self.recommended_shards = 1  # what GET /gateway/bot advises
        self._global = _Window(global_limit, 1.0, clock) if global_limit else None
        self._channel_limit = channel_limit
        self._channel_windows: dict[int, _Window] = {}
        self._nonces: dict[tuple[int, str], tuple[float, Json]] = {}
        self._sockets: dict[web.WebSocketResponse, tuple[int, int] | None] = {}  # identified, with its shard
        self._sequence = 0
        self._changed = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self.base = ""

    # Serving

    async def start(self) -> None:
        app = web.Application(middlewares=[self._middleware])
        app.router.add_get("/gateway", self._gateway)
        app.router.add_get(f"{API}/gateway/bot", self._gateway_bot)
        app.router.add_get(f"{API}/users/@me", self._me)
        app.router.add_get(f"{API}/oauth2/applications/@me", self._application)
        app.router.add_put(f"{API}/applications/{{app}}/commands", self._sync)
        app.router.add_put(f"{API}/applications/{{app}}/guilds/{{guild}}/commands", self._sync)
        app.router.add_post(f"{API}/channels/{{channel}}/messages", self._post_message)
        app.router.add_get(f"{API}/channels/{{channel}}/messages", self._history)
        app.router.add_post(f"{API}/interactions/{{id}}/{{token}}/callback", self._callback)
        app.router.add_post(f"{API}/webhooks/{{app}}/{{token}}", self._followup)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.base = f"http://127.0.0.1:{port}"

    async def close(self) -> None:
        for socket in list(self._sockets):
            await socket.close()
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def connections(self) -> int:
        """Gateway connections open now (identified ones)."""
        return len(self._sockets)

    @property
    def api_url(self) -> str:
        return self.base + API

    @property
    def gateway_url(self) -> str:
        return self.base.replace("http://", "ws://") + "/gateway"

    async def wait_for(self, predicate: Callable[[], object], timeout: float = 10.0) -> None:
        """Wake on every request until `predicate()` holds; the timeout only guards against a hang."""
        async with asyncio.timeout(timeout):
            while not predicate():
                changed = self._changed
                await changed.wait()

    def _notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Callable[..., Any]) -> web.StreamResponse:
        path = request.path.removeprefix(API)
        response = self._preempt(request, path) or await handler(request)
        if request.path != "/gateway":
            self.requests.append((request.method, path, response.status))
            if response.status in (401, 403) or (
                response.status == 429 and response.headers.get("X-RateLimit-Scope") != "shared"
            ):
                self.invalid_requests += 1
        self._notify()
        return response  # type: ignore[no-any-return]

    def _preempt(self, request: web.Request, path: str) -> web.Response | None:
        """Faults, authentication and the global limit, in Discord's order."""
        if request.path == "/gateway":
            return None
        for fault in self.faults:
            if fault.times > 0 and re.fullmatch(fault.route, f"{request.method} {path}"):
                fault.times -= 1
                return _answer(fault.body, fault.status, fault.headers)
        if path.startswith(("/interactions/", "/webhooks/")):
            return None  # interaction tokens, not the bot token; not under the global limit
        if request.headers.get("Authorization") != f"Bot {self.token}":
            return _error(401, 0, "401: Unauthorized")
        if self._global is not None and (wait := self._global.hit()) is not None:
            return _rate_limited(wait, is_global=True, headers={"X-RateLimit-Global": "true"})
        return None

    # REST routes

    async def _gateway_bot(self, request: web.Request) -> web.Response:
        return _answer({"url": self.gateway_url, "shards": self.recommended_shards, "session_start_limit": {
            "total": 1000, "remaining": 999, "reset_after": 14_400_000, "max_concurrency": 1}})

    async def _me(self, request: web.Request) -> web.Response:
        return _answer({**self.bot, "verified": True, "mfa_enabled": False, "flags": 0})

    async def _application(self, request: web.Request) -> web.Response:
        return _answer({
            "id": str(self.application_id), "name": "Paperboy", "icon": None, "description": "",
            "bot_public": True, "bot_require_code_grant": False, "owner": self.bot,
            "verify_key": "0" * 64, "flags": 0,
        })

    async def _sync(self, request: web.Request) -> web.Response:
        guild = request.match_info.get("guild")
        synced = [
            {**command, "id": str(snowflake()), "application_id": str(self.application_id), "version": "1",
             **({"guild_id": guild} if guild else {})}
            for command in await request.json()
        ]
        self.commands[int(guild) if guild else None] = synced
        return _answer(synced)

    async def _post_message(self, request: web.Request) -> web.Response:
        channel = int(request.match_info["channel"])
        if channel in self.channel_errors:
            return _error(*self.channel_errors[channel])
        headers: dict[str, str] = {}
        if self._channel_limit is not None:
            window = self._channel_windows.setdefault(channel, _Window(*self._channel_limit, self.clock))
            wait = window.hit()
            headers = window.headers("messages-create")
            if wait is not None:
                return _rate_limited(wait, is_global=False, headers=headers)
        payload = await request.json()
        nonce = payload.get("nonce")
        if nonce is not None and payload.get("enforce_nonce"):
            seen = self._nonces.get((channel, nonce))
            if seen is not None and self.clock() - seen[0] < NONCE_SECONDS:
                return _answer(seen[1], headers=headers)
        message = self._message(channel, payload)
        if nonce is not None:
            self._nonces[(channel, nonce)] = (self.clock(), message)
        self.messages[channel].append(message)
        if self.lost_answers:
            self.lost_answers -= 1
            return _error(503, 0, "Service Unavailable")
        return _answer(message, headers=headers)

    async def _history(self, request: web.Request) -> web.Response:
        """GET /channels/{id}/messages: newest first, `limit` 1-100 (default 50), `before` a message id.
        As on Discord, what only the sender knew (nonce, allowed_mentions) is not in the history."""
        channel = int(request.match_info["channel"])
        if channel in self.channel_errors:
            return _error(*self.channel_errors[channel])
        if channel in self.history_errors:
            return _error(*self.history_errors[channel])
        try:
            limit = int(request.query.get("limit", "50"))
            before = int(request.query["before"]) if "before" in request.query else None
        except ValueError:
            return _error(400, 50035, "Invalid Form Body")
        if not 1 <= limit <= 100:
            return _error(400, 50035, "Invalid Form Body")
        shown = [m for m in reversed(self.messages[channel]) if before is None or int(m["id"]) < before]
        private = ("nonce", "enforce_nonce", "allowed_mentions")
        return _answer([{k: v for k, v in m.items() if k not in private} for m in shown[:limit]])

    async def _callback(self, request: web.Request) -> web.Response:
        interaction = self.interactions.get(int(request.match_info["id"]))
        if interaction is None or interaction.token != request.match_info["token"]:
            return _error(404, 10062, "Unknown interaction")
        if interaction.callback_type is not None:
            return _error(400, 40060, "Interaction has already been acknowledged.")
        body = await request.json()
        kind, data = body["type"], body.get("data") or {}
        interaction.callback_type, interaction.acked_at = kind, self.clock()
        resource: Json = {"type": kind}
        if kind == 4:  # a message
            resource["message"] = self._show(interaction, data, ephemeral=bool(data.get("flags", 0) & EPHEMERAL))
        elif kind == 5:  # "thinking": the first followup resolves it, with these flags
            interaction.deferred_flags = int(data.get("flags", 0))
        elif kind == 8:  # autocomplete choices
            interaction.choices = data.get("choices", [])
        return _answer({
            "interaction": {
                "id": str(interaction.id), "type": interaction.payload["type"],
                "response_message_loading": kind == 5,
                "response_message_ephemeral": bool(data.get("flags", 0) & EPHEMERAL),
            },
            "resource": resource,
        })

    async def _followup(self, request: web.Request) -> web.Response:
        token = request.match_info["token"]
        interaction = next((i for i in self.interactions.values() if i.token == token), None)
        if interaction is None or interaction.callback_type is None:
            return _error(404, 10015, "Unknown Webhook")
        data = await request.json()
        if interaction.deferred_flags is not None:
            # Discord: the first followup after a defer keeps the defer's visibility
            ephemeral, interaction.deferred_flags = bool(interaction.deferred_flags & EPHEMERAL), None
        else:
            ephemeral = bool(data.get("flags", 0) & EPHEMERAL)
        return _answer(self._show(interaction, data, ephemeral=ephemeral))

    def _show(self, interaction: Interaction, data: Json, *, ephemeral: bool) -> Json:
        message = self._message(interaction.channel_id, data, flags=EPHEMERAL if ephemeral else 0)
        message["webhook_id"] = str(self.application_id)  # as Discord marks interaction messages
        if ephemeral:
            interaction.ephemeral.append(message)
        else:
            interaction.public.append(message)
            self.messages[interaction.channel_id].append(message)
        return message

    def _message(self, channel: int, payload: Json, flags: int = 0) -> Json:
        return {
            **payload,
            "id": str(snowflake()), "channel_id": str(channel), "type": 0, "author": self.bot,
            "content": payload.get("content") or "", "embeds": payload.get("embeds", []),
            "timestamp": datetime.now(UTC).isoformat(), "edited_timestamp": None, "tts": False,
            "mention_everyone": False, "mentions": [], "mention_roles": [], "attachments": [],
            "pinned": False, "flags": flags | int(payload.get("flags", 0)),
        }

    # The gateway

    async def _gateway(self, request: web.Request) -> web.WebSocketResponse:
        socket = web.WebSocketResponse()
        await socket.prepare(request)
        await socket.send_json({"op": 10, "d": {"heartbeat_interval": 41_250}})
        async for frame in socket:
            if frame.type is not WSMsgType.TEXT:
                continue
            message = json.loads(frame.data)
            if message["op"] == 1:  # heartbeat
                await socket.send_json({"op": 11})
            elif message["op"] == 2:  # identify
                if message["d"]["token"] != self.token:
                    await socket.close(code=4004, message=b"Authentication failed.")
                    break
                shard = message["d"].get("shard")
                if shard is not None and not 0 <= shard[0] < shard[1]:
                    await socket.close(code=4010, message=b"Invalid shard.")
                    break
                self.identified += 1
                self.shards.append((int(shard[0]), int(shard[1])) if shard is not None else None)
                self._sockets[socket] = self.shards[-1]
                await self._send(socket, "READY", {
                    "v": 10, "user": self.bot, "guilds": [], "session_id": f"session-{self.identified}",
                    "resume_gateway_url": self.gateway_url,
                    "application": {"id": str(self.application_id), "flags": 0},
                    **({"shard": shard} if shard is not None else {}),
                })
                self._notify()
        if self._sockets.pop(socket, False) is not False:
            self._notify()
        return socket

    async def _send(self, socket: web.WebSocketResponse, event: str, data: Json) -> None:
        self._sequence += 1
        await socket.send_json({"op": 0, "t": event, "s": self._sequence, "d": data})

    async def dispatch(self, event: str, data: Json) -> None:
        """Send an event on every connection, or, for a guild's event, on the connection of its shard only."""
        guild = data.get("guild_id")
        for socket, shard in list(self._sockets.items()):
            if guild is None or shard is None or (int(guild) >> 22) % shard[1] == shard[0]:
                await self._send(socket, event, data)

    # Driving the bot as a member would

    async def slash(
        self,
        guild_id: int,
        channel_id: int,
        subcommand: str,
        options: Mapping[str, str | int] | None = None,
        *,
        member: Member = ADA,
        focused: str | None = None,
        command: str = "papers",
    ) -> Interaction:
        """Send `/command subcommand options...` over the gateway; with `focused`, an autocomplete."""
        synced = self.commands.get(guild_id) or self.commands.get(None) or []
        registered = next((c for c in synced if c["name"] == command), None)
        if registered is None:
            raise AssertionError(f"/{command} was not synced to guild {guild_id} or globally")
        values = [
            {"type": 4 if isinstance(value, int) else 3, "name": name, "value": value,
             **({"focused": True} if name == focused else {})}
            for name, value in (options or {}).items()
        ]
        data: Json = {"id": registered["id"], "name": command, "type": 1,
                      "options": [{"type": 1, "name": subcommand, "options": values}]}
        if "guild_id" in registered:
            data["guild_id"] = registered["guild_id"]
        user = {"id": str(member.id), "username": member.name, "discriminator": "0", "global_name": member.name,
                "avatar": None}
        interaction = Interaction(snowflake(), f"interaction-token-{snowflake()}", guild_id, channel_id, member.id, {
            "id": "", "application_id": str(self.application_id), "type": 4 if focused else 2, "data": data,
            "guild_id": str(guild_id), "channel_id": str(channel_id),
            "channel": {"id": str(channel_id), "type": 0, "guild_id": str(guild_id), "name": "papers",
                        "position": 0, "permission_overwrites": [], "nsfw": False, "parent_id": None},
            "member": {"user": user, "roles": [], "permissions": str(member.permissions), "nick": None,
                       "joined_at": "2024-01-01T00:00:00+00:00", "deaf": False, "mute": False, "flags": 0},
            "token": "", "version": 1, "app_permissions": str(BOT_PERMISSIONS), "locale": "en-US",
            "guild_locale": "en-US", "entitlements": [], "authorizing_integration_owners": {"0": str(guild_id)},
            "context": 0, "attachment_size_limit": 10_485_760,
        })
        interaction.payload["id"], interaction.payload["token"] = str(interaction.id), interaction.token
        self.interactions[interaction.id] = interaction
        await self.dispatch("INTERACTION_CREATE", interaction.payload)
        return interaction

    async def click(self, guild_id: int, message: Json, custom_id: str, *, member: Member = ADA) -> Interaction:
        """Press the button `custom_id` of a message the bot posted (an INTERACTION_CREATE of type 3)."""
        channel_id = int(message["channel_id"])
        found = [c for row in message.get("components", []) for c in row.get("components", [])
                 if c.get("custom_id") == custom_id]
        if not found:
            raise AssertionError(f"the message has no button {custom_id}")
        interaction = Interaction(snowflake(), f"interaction-token-{snowflake()}", guild_id, channel_id, member.id, {})
        interaction.payload = {
            "id": str(interaction.id), "application_id": str(self.application_id), "type": 3,
            "token": interaction.token, "version": 1,
            "data": {"custom_id": custom_id, "component_type": 2},
            "message": message, "guild_id": str(guild_id), "channel_id": str(channel_id),
            "channel": {"id": str(channel_id), "type": 0, "guild_id": str(guild_id), "name": "papers",
                        "position": 0, "permission_overwrites": [], "nsfw": False, "parent_id": None},
            "member": {"user": {"id": str(member.id), "username": member.name, "discriminator": "0",
                                "global_name": member.name, "avatar": None},
                       "roles": [], "permissions": str(member.permissions), "nick": None,
                       "joined_at": "2024-01-01T00:00:00+00:00", "deaf": False, "mute": False, "flags": 0},
            "app_permissions": str(BOT_PERMISSIONS), "locale": "en-US", "guild_locale": "en-US",
            "entitlements": [], "authorizing_integration_owners": {"0": str(guild_id)}, "context": 0,
            "attachment_size_limit": 10_485_760,
        }
        self.interactions[interaction.id] = interaction
        await self.dispatch("INTERACTION_CREATE", interaction.payload)
        return interaction

    async def autocomplete(
        self,
        guild_id: int,
        channel_id: int,
        subcommand: str,
        option: str,
        current: str,
        others: Mapping[str, str | int] | None = None,
        *,
        member: Member = ADA,
    ) -> list[Json]:
        """The choices the bot offers while a member types `current` into `option`."""
        options = {**(others or {}), option: current}
        interaction = await self.slash(guild_id, channel_id, subcommand, options, member=member, focused=option)
        await self.wait_for(lambda: interaction.choices is not None)
        assert interaction.choices is not None
        return interaction.choices

    def posts(self, channel_id: int) -> list[Json]:
        """Messages the bot posted with its token (not interaction answers), oldest first."""
        return [m for m in self.messages[channel_id] if "webhook_id" not in m]
