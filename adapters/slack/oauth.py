"""Slack for many workspaces: bolt's OAuth install, a token per workspace, and uninstalls.

Workspaces install the app at /slack/install; Slack sends the installer back to
/slack/oauth_redirect, where bolt trades the code for the workspace's bot token
(oauth.v2.access) and saves it through `EncryptedInstallations`. Bolt's authorize then
answers each command with its workspace's token, and `Workspaces.poster` posts digests
with it. An uninstall (app_uninstalled, tokens_revoked) forgets the tokens and pauses
the workspace's channels through the host.

The OAuth `state` is stateless: an expiry time and a nonce signed with SLACK_STATE_SECRET
(HMAC-SHA256). It needs no table and no clean-up, and works whichever worker serves the
redirect. It is not single-use, which bolt covers the way Slack recommends: the state
must also match the cookie bolt set in the installer's browser, and Slack's code itself
is single-use.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import time
from collections.abc import Callable
from typing import Any

from slack_bolt.app.async_app import AsyncApp
from slack_bolt.context.async_context import AsyncBoltContext
from slack_bolt.oauth.async_oauth_settings import AsyncOAuthSettings
from slack_sdk.oauth.state_store.async_state_store import AsyncOAuthStateStore
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack.config import SlackOAuth
from adapters.slack.installations import EncryptedInstallations, cipher
from adapters.slack.post import Poster
from bot.adapter import ChannelGone, Host, Installations

log = logging.getLogger(__name__)

# The bot scopes of slack-manifest.yml, asked for at install.
SCOPES = ("commands", "chat:write", "channels:history", "groups:history", "users:read")
STATE_SECONDS = 600
NOT_INSTALLED = "Paperboy is not installed in this Slack workspace (any more): install it again"
UNINSTALLED = "the Paperboy app was uninstalled from this Slack workspace: install it again"
REVOKED = "Slack revoked Paperboy's token in this workspace: install the app again"


class SignedState(AsyncOAuthStateStore):
    """OAuth states that carry their own expiry, signed with SLACK_STATE_SECRET."""

    def __init__(self, secret: str, seconds: int = STATE_SECONDS, clock: Callable[[], float] = time.time) -> None:
        self._secret = secret.encode()
        self._seconds = seconds
        self._clock = clock

    @property
    def logger(self) -> logging.Logger:
        return log

    def _sign(self, body: str) -> str:
        return hmac.new(self._secret, body.encode(), hashlib.sha256).hexdigest()

    async def async_issue(self, *args: Any, **kwargs: Any) -> str:
        body = f"{int(self._clock()) + self._seconds}.{secrets.token_urlsafe(16)}"
        return f"{body}.{self._sign(body)}"

    async def async_consume(self, state: str) -> bool:
        body, _, signature = state.rpartition(".")
        expires = body.partition(".")[0]
        if not hmac.compare_digest(signature.encode(), self._sign(body).encode()) or not expires.isdecimal():
            return False
        return self._clock() <= int(expires)


class Workspaces:
    """The installed workspaces: the OAuth settings bolt serves, and a poster per workspace."""

    def __init__(self, settings: SlackOAuth, rows: Installations, client: Callable[[str], AsyncWebClient]) -> None:
        self.installations = EncryptedInstallations(rows, cipher(settings.secret_key))
        self._settings = settings
        self._client = client

    def oauth_settings(self) -> AsyncOAuthSettings:
        return AsyncOAuthSettings(
            client_id=self._settings.client_id,
            client_secret=self._settings.client_secret,
            scopes=list(SCOPES),
            user_scopes=[],
            install_page_rendering_enabled=False,  # /slack/install sends the browser straight to Slack
            installation_store=self.installations,
            installation_store_bot_only=True,  # Paperboy acts as its bot only
            state_store=SignedState(self._settings.state_secret),
        )

    async def poster(self, workspace: str) -> Poster:
        """A poster with the workspace's own bot token; ChannelGone when it is not installed there."""
        bot = await self.installations.async_find_bot(enterprise_id=None, team_id=workspace)
        if bot is None or not bot.bot_token:
            raise ChannelGone(NOT_INSTALLED)
        return Poster(self._client(bot.bot_token), bot.bot_user_id or "")

    def listen(self, app: AsyncApp, host: Host) -> None:
        """Forget a workspace's tokens and pause its channels when the app is uninstalled or its token revoked."""
        revoked, uninstalled = app.default_tokens_revoked_event_listener(), app.default_app_uninstalled_event_listener()

        async def on_uninstalled(context: AsyncBoltContext) -> None:
            await uninstalled(context=context)
            await host.workspace_gone("slack", context.team_id or "", UNINSTALLED)

        async def on_revoked(event: dict[str, Any], context: AsyncBoltContext) -> None:
            await revoked(event=event, context=context)
            if (event.get("tokens") or {}).get("bot"):
                await host.workspace_gone("slack", context.team_id or "", REVOKED)

        app.event("app_uninstalled")(on_uninstalled)
        app.event("tokens_revoked")(on_revoked)
