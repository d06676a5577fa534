"""Slack: `/papers` in any channel, digests in Block Kit with 👍/👎 buttons, through slack-bolt's `AsyncApp`.

Socket Mode when SLACK_APP_TOKEN is set (no public URL needed), else HTTP mode on PORT
at /slack/events, where bolt checks every request's signature. A refused token stops
this adapter only: `run` returns with one log line and the other platforms go on.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, replace

import aiohttp
from aiohttp import web
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.app.async_app import AsyncApp
from slack_bolt.app.async_server import AsyncSlackAppServer
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.web.async_slack_response import AsyncSlackResponse

from adapters.slack.commands import SlashCommand
from adapters.slack.config import SlackConfig
from adapters.slack.pacing import WORKSPACE_PER_MINUTE, RetryAfter, rates
from adapters.slack.post import Poster, TokenRefused, checked
from adapters.slack.render import LIMITS, SlackMessage, render_digest
from bot.adapter import RATE_PREFIX, AdapterStopped, Host, SendFailed
from bot.backoff import Backoff
from bot.models import ChannelKey, Digest
from bot.pacing import REAL_TIME, Timing

log = logging.getLogger(__name__)

EVENTS_PATH = "/slack/events"
TIMEOUT = 30.0  # seconds for one Web API call
READY_WAIT = 60.0  # how long after start-up digests wait for the connection, then they are left for the next poll


def create(env: Mapping[str, str]) -> SlackAdapter:
    return SlackAdapter(SlackConfig.from_env(env))


@dataclass(frozen=True, slots=True)
class _Identity:
    """Who the bot token belongs to, from auth.test."""

    team: str
    team_name: str
    bot_user: str
    bot_name: str


class SlackAdapter:
    platform = "slack"
    limits = LIMITS
    verifies_sends = True  # every part carries its key in message metadata

    def __init__(
        self,
        config: SlackConfig,
        *,
        timing: Timing = REAL_TIME,
        host: str = "0.0.0.0",
        per_minute: int = WORKSPACE_PER_MINUTE,
    ) -> None:
        self.config = config
        self.port: int | None = None  # the HTTP mode port actually bound, once connected
        self.connected = asyncio.Event()  # set once Slack took the tokens and commands can arrive
        self._timing = timing
        self._host = host
        if per_minute != WORKSPACE_PER_MINUTE:
            self.limits = replace(LIMITS, rates=rates(per_minute))
        self._stopped = asyncio.Event()
        self._stop_reason: str | None = None
        self._ready_by: float | None = None
        self._poster: Poster | None = None
        self._session: aiohttp.ClientSession | None = None
        self._socket: AsyncSocketModeHandler | None = None
        self._web: web.AppRunner | None = None

    # Life cycle

    async def run(self, host: Host) -> None:
        self._ready_by = asyncio.get_running_loop().time() + READY_WAIT
        try:
            identity = await self._start(host)
            if identity is not None:
                mode = "Socket Mode" if self.config.socket_mode else f"HTTP mode on port {self.port} at {EVENTS_PATH}"
                log.info("Slack: connected to %s (%s) as @%s, %s, command /%s",
                         identity.team_name, identity.team, identity.bot_name, mode, self.config.command)
                self.connected.set()
                await self._stopped.wait()
            if self._stop_reason:
                log.error("Slack adapter stopped: %s. The other adapters go on; fix it and restart paperboy.",
                          self._stop_reason)
        finally:
            self._stopped.set()
            await self._release()

    async def close(self) -> None:
        self._stopped.set()
        await self._release()

    def _give_up(self, reason: AdapterStopped | str) -> None:
        """Stop serving for good (a refused token, a port in use); run() logs why."""
        if not self._stopped.is_set():
            self._stop_reason = str(reason)
            self._stopped.set()

    async def _release(self) -> None:
        """Close what is open; each handle is taken before awaiting, so `close` and `run` never close one twice."""
        socket, self._socket = self._socket, None
        web_runner, self._web = self._web, None
        session, self._session = self._session, None
        if socket is not None:
            await socket.close_async()  # type: ignore[no-untyped-call]
        if web_runner is not None:
            await web_runner.cleanup()
        if session is not None:
            await session.close()

    async def _start(self, host: Host) -> _Identity | None:
        """Authenticate, register the command and connect; None when Slack refuses."""
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=TIMEOUT))
        client = AsyncWebClient(
            token=self.config.bot_token,
            base_url=self.config.api_url,
            session=self._session,
            retry_handlers=[RetryAfter(self._timing.sleep)],  # and no connection-error retry: it could post twice
        )
        try:
            found = await self._patiently(client.auth_test)
        except TokenRefused as refused:
            self._give_up(refused)
            return None
        except SendFailed as failed:
            self._give_up(f"auth.test failed: {failed}")
            return None
        identity = _Identity(str(found["team_id"]), str(found.get("team") or found["team_id"]),
                             str(found["user_id"]), str(found.get("user") or "paperboy"))
        self._poster = Poster(client, identity.bot_user)
        app = AsyncApp(
            name="paperboy",
            client=client,
            signing_secret=self.config.signing_secret or "",
            request_verification_enabled=not self.config.socket_mode,
        )
        command = SlashCommand(host, self.config, client, self._poster, identity.bot_name, self._give_up)
        app.command(f"/{self.config.command}")(command.handle)
        app.action(re.compile(f"^{re.escape(RATE_PREFIX)}"))(command.rate)
        connected = await (self._open_socket(app, client) if self.config.socket_mode else self._listen(app))
        return identity if connected else None

    async def _patiently(self, call: Callable[[], Awaitable[AsyncSlackResponse]]) -> AsyncSlackResponse:
        """A start-up call, retried with backoff while Slack cannot be reached."""
        backoff = Backoff(base=1.0, jitter=0.0)
        attempt = 0
        while True:
            try:
                return await checked(call())
            except SendFailed as failed:
                attempt += 1
                delay = backoff.delay(attempt, failed.retry_after)
                log.warning("Slack: cannot reach the Web API yet (%s); trying again in %.0f s", failed, delay)
                await self._timing.sleep(delay)

    async def _open_socket(self, app: AsyncApp, client: AsyncWebClient) -> bool:
        token = self.config.app_token
        assert token is not None
        try:  # asked here, not by the handler, which would retry a refused token forever
            opened = await self._patiently(lambda: client.apps_connections_open(app_token=token))
        except TokenRefused as refused:
            self._give_up(f"Slack refused SLACK_APP_TOKEN ({refused.code})")
            return False
        except SendFailed as failed:
            self._give_up(f"apps.connections.open failed: {failed}")
            return False
        self._socket = AsyncSocketModeHandler(app, token, web_client=client)
        self._socket.client.wss_uri = str(opened["url"])
        await self._socket.connect_async()  # type: ignore[no-untyped-call]
        return True

    async def _listen(self, app: AsyncApp) -> bool:
        server = AsyncSlackAppServer(port=self.config.port, path=EVENTS_PATH, app=app)
        self._web = web.AppRunner(server.web_app, access_log=None)
        await self._web.setup()
        try:
            await web.TCPSite(self._web, self._host, self.config.port).start()
        except OSError as err:
            self._give_up(f"cannot listen on PORT {self.config.port} ({err.strerror or err})")
            return False
        self.port = int(self._web.addresses[0][1])
        return True

    # Digests

    def render_digest(self, digest: Digest) -> Sequence[SlackMessage]:
        return render_digest(digest)

    async def post(self, key: ChannelKey, message: SlackMessage, part_key: str, reply_to: str | None) -> str:
        poster = await self._ready()
        try:
            return await poster.post(key.channel, message, key=part_key, thread_ts=reply_to)
        except AdapterStopped as refused:
            self._give_up(refused)
            raise

    async def find(self, key: ChannelKey, part_keys: Sequence[str], reply_to: str | None) -> dict[str, str]:
        return await (await self._ready()).find(key.channel, part_keys, reply_to)

    async def _ready(self) -> Poster:
        """The poster once connected. Digests due at start-up wait for the connection, until READY_WAIT."""
        if not (self.connected.is_set() or self._stopped.is_set()):
            loop = asyncio.get_running_loop()
            left = READY_WAIT if self._ready_by is None else max(0.0, self._ready_by - loop.time())
            waits = [asyncio.ensure_future(self.connected.wait()), asyncio.ensure_future(self._stopped.wait())]
            await asyncio.wait(waits, timeout=left, return_when=asyncio.FIRST_COMPLETED)
            for waiting in waits:
                waiting.cancel()
        if self._stopped.is_set():
            raise AdapterStopped(self._stop_reason or "the Slack adapter is stopped")
        if self._poster is None or not self.connected.is_set():
            raise SendFailed("Slack is not connected yet")
        return self._poster
