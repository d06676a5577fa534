"""The Slack adapter's settings, read from the environment and checked once at start-up."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from bot.config import ConfigError, parse_flag, parse_url

DEFAULT_API_URL = "https://slack.com/api/"

_COMMAND_NAME = re.compile(r"[a-z0-9_-]{1,31}")
_HOST_NAME = re.compile(r"[A-Za-z0-9]([A-Za-z0-9.-]{0,252}[A-Za-z0-9])?")


@dataclass(frozen=True, slots=True)
class SlackConfig:
    """Secrets stay out of `repr`, so a logged config never leaks them."""

    bot_token: str = field(repr=False)
    app_token: str | None = field(default=None, repr=False)
    signing_secret: str | None = field(default=None, repr=False)
    port: int = 3000
    host: str = "0.0.0.0"
    command: str = "papers"
    admins_only: bool = False
    api_url: str = DEFAULT_API_URL

    @property
    def socket_mode(self) -> bool:
        return self.app_token is not None

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> SlackConfig:
        """The settings, or ConfigError with one line naming the variable and what it accepts."""

        def get(name: str) -> str:
            return env.get(name, "").strip()

        bot_token = get("SLACK_BOT_TOKEN")
        if not bot_token.startswith(("xoxb-", "xoxe.xoxb-")):
            raise ConfigError("SLACK_BOT_TOKEN must be the app's Bot User OAuth Token, which starts with xoxb-")
        app_token = get("SLACK_APP_TOKEN") or None
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
        )


def _listenable(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return _HOST_NAME.fullmatch(host) is not None
    return True
