"""The fake Slack as a distributed app: workspaces install it through OAuth, each with its own bot token.

`FakeSlackApp` adds to `FakeSlack` what an app installed in many workspaces meets: the
authorize page (`GET /oauth/v2/authorize`, where the installer approves and Slack sends
the browser to the app's redirect URL with a one-time code), `oauth.v2.access` answering
in Slack's shape, and a bot token and bot user per workspace, each checked on every call.
`uninstall` revokes a workspace's token; `event_callback` builds the Events API request
Slack sends about it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from dataclasses import dataclass
from itertools import count
from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from tests.fakes.slack_api import JSON, FakeSlack, _Abort

SCOPES = "commands,chat:write,channels:history,groups:history,users:read"


@dataclass
class Installed:
    team_id: str
    name: str
    bot_token: str
    bot_user: str
    installer: str
    revoked: bool = False


class FakeSlackApp(FakeSlack):
    """Use as `async with FakeSlackApp(redirect_url=...) as slack:`; the base workspace is not installed."""

    APP_ID = "A0PAPERBOY"

    def __init__(self, *, client_id: str = "1111.2222", client_secret: str = "fake-client-secret", **kwargs: Any):
        super().__init__(**kwargs)
        self.client_id = client_id
        self.client_secret = client_secret
        self.redirect_url = ""  # the app's Redirect URL, as set on its OAuth & Permissions page
        self.installed: dict[str, Installed] = {}  # team id -> its installation
        self._codes: dict[str, tuple[str, str]] = {}  # one-time code -> (team id, installer)
        self._serial = count(1)

    async def __aenter__(self) -> FakeSlackApp:
        await super().__aenter__()
        return self

    def routes(self, app: web.Application) -> None:
        super().routes(app)
        app.router.add_get("/oauth/v2/authorize", self._authorize)

    @property
    def authorize_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/oauth/v2/authorize"

    def uninstall(self, team_id: str) -> None:
        """An admin removes the app: its token in that workspace stops working."""
        self.installed[team_id].revoked = True

    # The installer's browser at slack.com

    async def _authorize(self, request: web.Request) -> web.Response:
        """The installer picks the workspace in `team` and approves: back to the app with a code and the state."""
        query = request.query
        if query.get("client_id") != self.client_id or not query.get("state"):
            return web.Response(status=400, text="invalid_client_id or missing state")
        team, installer = query["team"], query.get("user", "U0INSTALLER")
        code = f"code-{next(self._serial)}"
        self._codes[code] = (team, installer)
        raise web.HTTPFound(f"{self.redirect_url}?{urlencode({'code': code, 'state': query['state']})}")

    # The Web API, with a token per workspace

    def bot_user_of(self, token: str | None) -> str:
        found = self._by_token(token)
        return found.bot_user if found else self.bot_user

    def _by_token(self, token: str | None) -> Installed | None:
        return next((i for i in self.installed.values() if i.bot_token == token), None)

    def _check_token(self, method: str, token: str | None) -> None:
        if method == "oauth.v2.access":
            expected = base64.b64encode(f"{self.client_id}:{self.client_secret}".encode()).decode()
            if token != f"Basic {expected}":
                raise _Abort("invalid_client_id")
            return
        found = self._by_token(token)
        if found is None:
            raise _Abort("not_authed" if not token else "invalid_auth")
        if found.revoked:
            raise _Abort("token_revoked")

    def _dispatch(self, method: str, args: JSON) -> JSON:
        if method == "oauth.v2.access":
            return self._access(args)
        if method == "auth.test":
            found = self._by_token(self.caller)
            assert found is not None
            return {**self._auth_test(args), "team": found.name, "team_id": found.team_id, "user_id": found.bot_user,
                    "url": f"https://{found.team_id.lower()}.slack.com/"}
        return super()._dispatch(method, args)

    def _access(self, args: JSON) -> JSON:
        """oauth.v2.access: the code, once, for the workspace's bot token, in Slack's response shape."""
        if args.get("redirect_uri") not in (None, self.redirect_url):
            raise _Abort("bad_redirect_uri")
        if args.get("code") not in self._codes:
            raise _Abort("invalid_code")
        team, installer = self._codes.pop(str(args["code"]))
        serial = next(self._serial)
        bot_user = self.installed[team].bot_user if team in self.installed else f"U0BOT{team}"
        self.installed[team] = Installed(team, f"Workspace {team}", f"xoxb-{team}-{serial}-secret", bot_user, installer)
        installed = self.installed[team]
        return {
            "access_token": installed.bot_token, "token_type": "bot", "scope": SCOPES,
            "bot_user_id": installed.bot_user, "app_id": self.APP_ID,
            "team": {"id": team, "name": installed.name}, "enterprise": None, "is_enterprise_install": False,
            "authed_user": {"id": installer},
        }


def event_callback(team_id: str, event: JSON) -> JSON:
    """The Events API body Slack posts to the app's request URL about a workspace."""
    return {
        "token": "deprecated-verification-token", "team_id": team_id, "api_app_id": FakeSlackApp.APP_ID,
        "event": {**event, "event_ts": f"{time.time():.6f}"}, "type": "event_callback",
        "event_id": f"Ev{abs(hash((team_id, json.dumps(event)))):010d}", "event_time": int(time.time()),
    }


def signed_json(secret: str, payload: JSON) -> tuple[str, dict[str, str]]:
    """A JSON body and the headers of a request signed the way Slack signs it (v0, HMAC-SHA256)."""
    body, stamp = json.dumps(payload), str(int(time.time()))
    digest = hmac.new(secret.encode(), f"v0:{stamp}:{body}".encode(), hashlib.sha256).hexdigest()
    return body, {"Content-Type": "application/json", "X-Slack-Request-Timestamp": stamp,
                  "X-Slack-Signature": f"v0={digest}"}
