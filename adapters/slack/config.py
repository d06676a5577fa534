"""The Slack adapter's settings, read from the environment and checked once at start-up.

Two ways to run: one workspace with its bot token (SLACK_BOT_TOKEN), or an app that
workspaces install through Slack's OAuth (SLACK_CLIENT_ID, SLACK_CLIENT_SECRET,
SLACK_STATE_SECRET), which keeps each workspace's token encrypted in the database.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Mapping
from dataclasses import dataclass, field

from bot.config import ConfigError, parse_flag, parse_url
from bot.store.database import is_postgres

DEFAULT_API_URL = "https://slack.com/api/"

_COMMAND_NAME = re.compile(r"[a-z0-9_-]{1,31}")
_HOST_NAME = re.compile(r"[A-Za-z0-9]([A-Za-z0-9.-]{0,252}[A-Za-z0-9])?")
STATE_SECRET_CHARS = 32
MAKE_SECRET = 'python -c "import secrets; print(secrets.token_urlsafe(32))"'


@dataclass(frozen=True, slots=True)
class SlackOAuth:
    """The OAuth install to many workspaces; `secret_key` is a valid Fernet key."""

    client_id: str
    client_secret: str = field(repr=False)
    state_secret: str = field(repr=False)
    secret_key: str = field(repr=False)


@dataclass(frozen=True, slots=True)
class SlackConfig:
    """Secrets stay out of `repr`, so a logged config never leaks them."""

    bot_token: str | None = field(default=None, repr=False)  # None: installed through OAuth (`oauth`)
    app_token: str | None = field(default=None, repr=False)
    signing_secret: str | None = field(default=None, repr=False)
    port: int = 3000
    host: str = "0.0.0.0"
    command: str = "papers"
    admins_only: bool = False
    api_url: str = DEFAULT_API_URL
    oauth: SlackOAuth | None = None
    # HTTP mode: other workers may bind PORT too (SO_REUSEPORT). On PostgreSQL, where several workers are supported;
    # on SQLite a second one is a mistake, better refused as "port in use" than silently given half the commands.
    share_port: bool = False

    @property
    def socket_mode(self) -> bool:
        return self.app_token is not None

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> SlackConfig:
        """The settings, or ConfigError with one line naming the variable and what it accepts."""

        def get(name: str) -> str:
            return env.get(name, "").strip()

        bot_token = get("SLACK_BOT_TOKEN") or None
        oauth = _oauth(env) if get("SLACK_CLIENT_ID") else None
        if oauth is not None and bot_token is not None:
            raise ConfigError("set SLACK_BOT_TOKEN (one workspace) or SLACK_CLIENT_ID (installs to many), not both")
        if oauth is None and not (bot_token or "").startswith(("xoxb-", "xoxe.xoxb-")):
            raise ConfigError("SLACK_BOT_TOKEN must be the app's Bot User OAuth Token, which starts with xoxb-")
        app_token = get("SLACK_APP_TOKEN") or None
        if oauth is not None and app_token is not None:
            raise ConfigError("SLACK_CLIENT_ID runs in HTTP mode, where Slack can reach the install pages: "
                              "unset SLACK_APP_TOKEN")
        if app_token is not None and not app_token.startswith("xapp-"):
            raise ConfigError("SLACK_APP_TOKEN must be an app-level token starting with xapp- (or unset for HTTP mode)")
        secret = get("SLACK_SIGNING_SECRET") or None
        if app_token is None and secret is None:
            raise ConfigError(
                "SLACK_SIGNING_SECRET is required in HTTP mode (SLACK_APP_TOKEN unset): "
                "copy it from the app's Basic Information page"
            )
        port = get("PORT") or "3000"
        if not port.isdigit() or not 1 <= int(port) <= 65535:
            raise ConfigError(f"PORT must be a whole number from 1 to 65535, got '{port}'")
        host = get("PAPERBOY_HOST") or "0.0.0.0"
        if not _listenable(host):
            raise ConfigError(
                "PAPERBOY_HOST must be an IP address or host name to listen on, such as 127.0.0.1 or 0.0.0.0, "
                f"got '{host}'"
            )
        command = (get("SLACK_COMMAND") or "papers").removeprefix("/")
        if not _COMMAND_NAME.fullmatch(command):
            raise ConfigError(
                f"SLACK_COMMAND must be a command name of lowercase letters, digits, - or _, got '{command}'"
            )
        api_url = parse_url("SLACK_API_URL", get("SLACK_API_URL") or DEFAULT_API_URL, ("http", "https"), DEFAULT_API_URL)
        return cls(
            bot_token=bot_token,
            app_token=app_token,
            signing_secret=secret,
            port=int(port),
            host=host,
            command=command,
            admins_only=parse_flag("SLACK_ADMINS_ONLY", env.get("SLACK_ADMINS_ONLY", "")),
            api_url=api_url if api_url.endswith("/") else api_url + "/",
            oauth=oauth,
            share_port=is_postgres(get("PAPERBOY_DB")) and hasattr(socket, "SO_REUSEPORT"),
        )


def _listenable(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return _HOST_NAME.fullmatch(host) is not None
    return True


def _oauth(env: Mapping[str, str]) -> SlackOAuth:
    """The OAuth settings; PAPERBOY_SECRET_KEY is checked here, the only place that needs cryptography."""
    client_secret = env.get("SLACK_CLIENT_SECRET", "").strip()
    if not client_secret:
        raise ConfigError("SLACK_CLIENT_SECRET is required with SLACK_CLIENT_ID: copy it from the app's "
                          "Basic Information page")
    state_secret = env.get("SLACK_STATE_SECRET", "").strip()
    if len(state_secret) < STATE_SECRET_CHARS:
        raise ConfigError(f"SLACK_STATE_SECRET must be a random string of at least {STATE_SECRET_CHARS} characters "
                          f"(it signs the install links): make one with {MAKE_SECRET}")
    try:
        from adapters.slack.installations import cipher
    except ImportError:
        raise ConfigError("SLACK_CLIENT_ID needs the cryptography package: pip install 'paperboy-bot[slack-oauth]'") \
            from None
    key = env.get("PAPERBOY_SECRET_KEY", "").strip()
    cipher(key)
    return SlackOAuth(env["SLACK_CLIENT_ID"].strip(), client_secret, state_secret, key)
