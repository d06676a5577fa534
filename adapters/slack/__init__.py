"""Slack: `/papers` in any channel, digests in Block Kit with 👍/👎 buttons, through slack-bolt's `AsyncApp`.

Socket Mode when SLACK_APP_TOKEN is set (no public URL needed), else HTTP mode on PORT
at /slack/events, where bolt checks every request's signature. A refused token stops
this adapter only: `run` returns with one log line and the other platforms go on.

With SLACK_CLIENT_ID instead of a bot token, workspaces install the app themselves
(`adapters.slack.oauth`): each posts and is answered with its own token, and a refused
token pauses that workspace's channels instead of stopping the adapter.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

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
from bot.adapter import RATE_PREFIX, AdapterStopped, ChannelGone, Host, SendFailed
from bot.backoff import Backoff
from bot.models import ChannelKey, Digest
from bot.pacing import REAL_TIME, Timing

if TYPE_CHECKING:
    from adapters.slack.oauth import Workspaces

log = logging.getLogger(__name__)

EVENTS_PATH = "/slack/events"
TIMEOUT = 30.0  # seconds for one Web API call
READY_WAIT = 60.0  # how long after start-up digests wait for the connection, then they are left for the next poll
READ_TIMEOUT = 15.0  # HTTP mode: seconds a client may take to send a request's headers, and then its body
_TIMESTAMP = re.compile(r"[0-9]{1,12}")  # seconds since 1970: bolt answers anything else with a 500 and a traceback


class _WithoutBody(logging.Filter):
    """bolt logs each refused request with its whole body at INFO: anyone could fill the log. Keep only the fact."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg, record.args = "Slack: refused a request to %s whose signature did not verify", (EVENTS_PATH,)
        return True


logging.getLogger("slack_bolt.RequestVerification").addFilter(_WithoutBody())


def create(env: Mapping[str, str]) -> SlackAdapter:
    return SlackAdapter(SlackConfig.from_env(env))


class SlackAdapter:
    platform = "slack"
    limits = LIMITS
    verifies_sends = True  # every part carries its key in message metadata

    def __init__(
        self,
        config: SlackConfig,
        *,
        timing: Timing = REAL_TIME,
        per_minute: int = WORKSPACE_PER_MINUTE,
        read_timeout: float = READ_TIMEOUT,
    ) -> None:
        self.config = config
        self.port: int | None = None  # the HTTP mode port actually bound, once connected
        self.connected = asyncio.Event()  # set once Slack took the tokens and commands can arrive
        self._timing = timing
        self._read_timeout = read_timeout
        if per_minute != WORKSPACE_PER_MINUTE:
            self.limits = replace(LIMITS, rates=rates(per_minute))
        self._stopped = asyncio.Event()
        self._stop_reason: str | None = None
        self._ready_by: float | None = None
        self._poster: Poster | None = None  # one workspace's; None with OAuth, where `_workspaces` has one each
        self._workspaces: Workspaces | None = None
        self._session: aiohttp.ClientSession | None = None
        self._socket: AsyncSocketModeHandler | None = None
        self._web: web.AppRunner | None = None

    # Life cycle

    async def run(self, host: Host) -> None:
        self._ready_by = asyncio.get_running_loop().time() + READY_WAIT
        try:
            serving = await (self._start_many(host) if self.config.oauth else self._start(host))
            if serving is not None:
                mode = ("Socket Mode" if self.config.socket_mode
                        else f"HTTP mode on {self.config.host} port {self.port} at {EVENTS_PATH}")
                log.info("Slack: %s, %s, command /%s", serving, mode, self.config.command)
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

    def _client(self, token: str | None) -> AsyncWebClient:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=TIMEOUT))
        return AsyncWebClient(
            token=token,
            base_url=self.config.api_url,
            session=self._session,
            retry_handlers=[RetryAfter(self._timing.sleep)],  # and no connection-error retry: it could post twice
        )

    async def _start(self, host: Host) -> str | None:
        """Authenticate, register the command and connect; who we are, or None when Slack refuses."""
        client = self._client(self.config.bot_token)
        try:
            found = await self._patiently(client.auth_test)
        except TokenRefused as refused:
            self._give_up(refused)
            return None
        except SendFailed as failed:
            self._give_up(f"auth.test failed: {failed}")
            return None
        team, bot_name = str(found["team_id"]), str(found.get("user") or "paperboy")
        self._poster = Poster(client, str(found["user_id"]))
        app = AsyncApp(
            name="paperboy",
            client=client,
            signing_secret=self.config.signing_secret or "",
            request_verification_enabled=not self.config.socket_mode,
            process_before_response=True,  # see SlashCommand.handle: the ack goes out as soon as it returns
        )
        command = SlashCommand(host, self.config, bot_name, self._give_up)
        app.command(f"/{self.config.command}")(command.handle)
        app.action(re.compile(f"^{re.escape(RATE_PREFIX)}"))(command.rate)
        connected = await (self._open_socket(app, client) if self.config.socket_mode else self._listen(app, host))
        return f"connected to {found.get('team') or team} ({team}) as @{bot_name}" if connected else None

    async def _start_many(self, host: Host) -> str | None:
        """Serve the OAuth install and every installed workspace (HTTP mode only)."""
        from adapters.slack.oauth import Workspaces  # loads cryptography, which only this mode needs

        oauth = self.config.oauth
        assert oauth is not None
        # slack_sdk logs whole Web API answers at DEBUG, and oauth.v2.access answers with a workspace's token.
        sdk = logging.getLogger("slack_sdk")
        sdk.setLevel(max(logging.INFO, sdk.getEffectiveLevel()))
        self._workspaces = Workspaces(oauth, host.installations, self._client)
        app = AsyncApp(
            name="paperboy",
            client=self._client(None),
            signing_secret=self.config.signing_secret or "",
            oauth_settings=self._workspaces.oauth_settings(),
            process_before_response=True,  # the same; and an uninstall is recorded before Slack hears back
        )
        self._workspaces.listen(app, host)
        command = SlashCommand(host, self.config, "paperboy", self._refused_in_workspace)  # the manifest's bot name
        app.command(f"/{self.config.command}")(command.handle)
        app.action(re.compile(f"^{re.escape(RATE_PREFIX)}"))(command.rate)
        connected = await self._listen(app, host)
        return "serving the workspaces that install it at /slack/install" if connected else None

    def _refused_in_workspace(self, refused: AdapterStopped) -> None:
        """With OAuth one workspace's token refused leaves the others: the uninstall event pauses its channels."""
        log.warning("Slack: a workspace's token was refused while answering a command: %s", refused)

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

    @property
    def http_port(self) -> int | None:
        """The port this adapter serves HTTP on (HTTP mode), where the core's health routes are mounted."""
        return None if self.config.socket_mode else self.config.port

    async def _listen(self, app: AsyncApp, host: Host) -> bool:
        server = AsyncSlackAppServer(port=self.config.port, path=EVENTS_PATH, app=app)
        server.web_app.middlewares.append(self._screen)
        server.web_app.add_routes(host.web_routes(self.config.port))  # /healthz and /metrics when they share PORT
        # aiohttp's keep-alive timer also runs from the moment a connection opens: a client
        # that never finishes its headers is cut off after it, instead of in an hour.
        self._web = web.AppRunner(server.web_app, access_log=None, keepalive_timeout=self._read_timeout)
        await self._web.setup()
        try:
            # Shared (SO_REUSEPORT) by the workers on one PostgreSQL: Linux spreads new connections over them.
            await web.TCPSite(self._web, self.config.host, self.config.port, reuse_port=self.config.share_port).start()
        except OSError as err:
            self._give_up(f"cannot listen on {self.config.host} port {self.config.port} ({err.strerror or err})")
            return False
        self.port = int(self._web.addresses[0][1])
        return True

    @web.middleware
    async def _screen(self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
                      ) -> web.StreamResponse:
        """Refuse a malformed timestamp (bolt would answer 500), and a body that takes too long to arrive."""
        if request.method != "POST":
            return await handler(request)
        if not _TIMESTAMP.fullmatch(request.headers.get("X-Slack-Request-Timestamp", "")):
            log.info("Slack: refused a request to %s: malformed X-Slack-Request-Timestamp", request.path)
            return web.json_response({"error": "invalid request"}, status=401)
        try:
            async with asyncio.timeout(self._read_timeout):
                await request.read()  # kept by aiohttp for bolt's own read
        except TimeoutError:
            log.info("Slack: refused a request to %s: its body took over %g s", request.path, self._read_timeout)
            return web.json_response({"error": "request timeout"}, status=408)
        return await handler(request)

    # Digests

    def render_digest(self, digest: Digest) -> Sequence[SlackMessage]:
        return render_digest(digest)

    async def post(self, key: ChannelKey, message: SlackMessage, part_key: str, reply_to: str | None) -> str:
        poster = await self._ready(key)
        try:
            return await poster.post(key.channel, message, key=part_key, thread_ts=reply_to)
        except TokenRefused as refused:
            raise self._refused(refused) from refused

    async def find(self, key: ChannelKey, part_keys: Sequence[str], reply_to: str | None) -> dict[str, str]:
        poster = await self._ready(key)
        try:
            return await poster.find(key.channel, part_keys, reply_to)
        except TokenRefused as refused:
            raise self._refused(refused) from refused

    def _refused(self, refused: TokenRefused) -> Exception:
        """One workspace's token refused: with OAuth that workspace is gone, else the adapter stops."""
        if self._workspaces is not None:
            return ChannelGone(f"Slack refused this workspace's token ({refused.code}): install the app again")
        self._give_up(refused)
        return refused

    async def _ready(self, key: ChannelKey) -> Poster:
        """The channel's poster once connected. Digests due at start-up wait for the connection, until READY_WAIT."""
        if not (self.connected.is_set() or self._stopped.is_set()):
            loop = asyncio.get_running_loop()
            left = READY_WAIT if self._ready_by is None else max(0.0, self._ready_by - loop.time())
            waits = [asyncio.ensure_future(self.connected.wait()), asyncio.ensure_future(self._stopped.wait())]
            await asyncio.wait(waits, timeout=left, return_when=asyncio.FIRST_COMPLETED)
            for waiting in waits:
                waiting.cancel()
        if self._stopped.is_set():
            raise AdapterStopped(self._stop_reason or "the Slack adapter is stopped")
        if not self.connected.is_set():
            raise SendFailed("Slack is not connected yet")
        if self._workspaces is not None:
            return await self._workspaces.poster(key.workspace)
        assert self._poster is not None
        return self._poster
