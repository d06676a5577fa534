"""Slack for many workspaces: the real bolt OAuth flow against the fake Slack, tokens encrypted in the database."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from urllib.parse import parse_qs, urlencode, urlsplit

import aiohttp
import pytest
from cryptography.fernet import Fernet
from slack_sdk.oauth.installation_store.models.installation import Installation

from adapters.slack import EVENTS_PATH, SlackAdapter
from adapters.slack.config import SlackConfig, SlackOAuth
from adapters.slack.installations import EncryptedInstallations, cipher
from adapters.slack.oauth import UNINSTALLED, SignedState
from bot.core import Core
from bot.models import ChannelKey
from tests.conftest import readme_section
from tests.fakes.slack_api import shown, signed, slash_command
from tests.fakes.slack_oauth import FakeSlackApp, event_callback, signed_json
from tests.support import VirtualTime, running

SIGNING = "8f742231b10e8888abcd99yyyzzz85a5"
STATE = "s" * 40
KEY = Fernet.generate_key().decode()


class Gone(logging.Handler):
    """Wakes the test when the core has paused a workspace's channels (no polling, no sleeping)."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.event = asyncio.Event()

    def emit(self, record: logging.LogRecord) -> None:
        if "is gone" in record.getMessage():
            self.event.set()


@dataclass
class Install:
    """The installer's browser and Slack's requests to Paperboy, over real HTTP."""

    slack: FakeSlackApp
    adapter: SlackAdapter
    http: aiohttp.ClientSession

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.adapter.port}"

    async def install(self, team: str) -> int:
        """/slack/install, approve at Slack, back to /slack/oauth_redirect with the state cookie; its status."""
        async with self.http.get(f"{self.base}/slack/install?team={team}", allow_redirects=False) as started:
            assert started.status == 302
            to_slack = urlsplit(started.headers["Location"])
            cookie = started.headers["Set-Cookie"].split(";")[0]
        assert (to_slack.netloc, to_slack.path) == ("slack.com", "/oauth/v2/authorize")
        query = parse_qs(to_slack.query)
        assert query["client_id"] == [self.slack.client_id] and query["state"] and cookie.endswith(query["state"][0])
        async with self.http.get(f"{self.slack.authorize_url}?{to_slack.query}", allow_redirects=False) as approved:
            back = approved.headers["Location"]
        assert back.startswith(f"{self.base}/slack/oauth_redirect?code=")
        async with self.http.get(back, headers={"Cookie": cookie}, allow_redirects=False) as finished:
            return finished.status

    async def command(self, team: str, channel: str, text: str) -> str:
        """A signed /papers from a workspace; what its caller sees."""
        name = f"{team}-{len(self.slack.responses)}"
        fields = {**slash_command(self.slack, text, channel=channel, user="U0ADA", reply_to=name), "team_id": team}
        body, headers = signed(SIGNING, fields)
        async with self.http.post(f"{self.base}{EVENTS_PATH}", data=body, headers=headers) as answer:
            assert answer.status == 200
        await self.slack.wait_for(lambda: any(r.name == name for r in self.slack.responses))
        return shown(next(r.body for r in self.slack.responses if r.name == name)["blocks"])

    async def event(self, team: str, event: dict[str, object]) -> None:
        body, headers = signed_json(SIGNING, event_callback(team, event))
        async with self.http.post(f"{self.base}{EVENTS_PATH}", data=body, headers=headers) as answer:
            assert answer.status == 200


@pytest.fixture
async def slack() -> AsyncIterator[FakeSlackApp]:
    async with FakeSlackApp() as fake:
        yield fake


@pytest.fixture
async def app(
    core: Core, slack: FakeSlackApp, clock: VirtualTime, caplog: pytest.LogCaptureFixture
) -> AsyncIterator[Install]:
    oauth = SlackOAuth(slack.client_id, slack.client_secret, STATE, KEY)
    config = SlackConfig(signing_secret=SIGNING, port=0, api_url=slack.api_url, oauth=oauth, host="127.0.0.1")
    adapter = SlackAdapter(config, timing=clock.timing)
    caplog.set_level(logging.INFO, logger="adapters.slack")
    async with running(core, adapter), aiohttp.ClientSession() as http:
        [serving] = re.findall(r"`(Slack: serving .*?)`", readme_section("Slack").replace("\n   ", " "))
        shown = serving.replace("0.0.0.0 port 3000", f"127.0.0.1 port {adapter.port}")
        assert shown in caplog.text  # the README's log line
        slack.redirect_url = f"http://127.0.0.1:{adapter.port}/slack/oauth_redirect"
        yield Install(slack, adapter, http)


async def stored(core: Core) -> list[tuple[object, ...]]:
    """The installations table as it is stored, on either database."""
    rows = await core.store._all("SELECT * FROM installations ORDER BY workspace, kind, user_id")
    return [tuple(row) for row in rows]


async def test_two_workspaces_install_post_with_their_own_tokens_and_an_uninstall_pauses_one(
    core: Core, slack: FakeSlackApp, app: Install
) -> None:
    assert await app.install("T1") == 200
    assert await app.install("T2") == 200
    one, two = slack.installed["T1"], slack.installed["T2"]
    assert [c.token for c in slack.calls_to("auth.test")] == [one.bot_token, two.bot_token]  # bolt's check

    rows = (await stored(core))
    assert {(r[1], r[2], r[3]) for r in rows} == {
        (team, kind, user) for team in ("T1", "T2") for kind, user in (("bot", ""), ("installation", ""),
                                                                        ("installation", "U0INSTALLER"))
    }
    assert not any(secret in str(rows) for secret in ("xoxb-", one.bot_token, two.bot_token, slack.client_secret))

    rooms = {"T1": slack.add_channel("papers-1"), "T2": slack.add_channel("papers-2")}
    for team, room in rooms.items():
        assert (await app.command(team, room, "subscribe agent")).startswith("Subscribed as #")
        assert (await app.command(team, room, "digest")) == "Posted 6 papers."
    for team, room in rooms.items():  # the note of the change, then the digest, each with its workspace's token
        bot = slack.installed[team]
        posts = [c for c in slack.calls_to("chat.postMessage") if c.args["channel"] == room]
        assert [c.token for c in posts] == [bot.bot_token, bot.bot_token]
        assert {m.user for m in slack.posts(room)} == {bot.bot_user}

    gone = Gone()
    logging.getLogger("bot.host").addHandler(gone)
    try:
        slack.uninstall("T1")
        await app.event("T1", {"type": "app_uninstalled"})
        await asyncio.wait_for(gone.event.wait(), 10)
    finally:
        logging.getLogger("bot.host").removeHandler(gone)
    assert {r[1] for r in (await stored(core))} == {"T2"}
    paused = {team: (await core.store.channel(ChannelKey("slack", team, room))) for team, room in rooms.items()}
    assert paused["T1"] is not None and paused["T1"].paused_reason == UNINSTALLED
    assert paused["T2"] is not None and paused["T2"].paused_reason is None
    assert (await app.command("T2", rooms["T2"], "list")).startswith("#2  agent")


async def test_no_token_reaches_the_log_even_at_debug(
    slack: FakeSlackApp, app: Install, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    assert await app.install("T1") == 200
    assert await app.command("T1", slack.add_channel("papers"), "help")
    assert slack.installed["T1"].bot_token not in caplog.text and "xoxb-" not in caplog.text
    assert "installed in Workspace T1 (T1)" in caplog.text


async def test_a_revoked_bot_token_is_forgotten_and_its_channels_paused(
    core: Core, slack: FakeSlackApp, app: Install
) -> None:
    await app.install("T1")
    room = slack.add_channel("papers")
    await app.command("T1", room, "subscribe agent")
    gone = Gone()
    logging.getLogger("bot.host").addHandler(gone)
    try:
        bots = [slack.installed["T1"].bot_user]
        await app.event("T1", {"type": "tokens_revoked", "tokens": {"oauth": [], "bot": bots}})
        await asyncio.wait_for(gone.event.wait(), 10)
    finally:
        logging.getLogger("bot.host").removeHandler(gone)
    assert [(r[2], r[3]) for r in (await stored(core))] == [("installation", ""), ("installation", "U0INSTALLER")]
    channel = await core.store.channel(ChannelKey("slack", "T1", room))
    assert channel is not None and channel.paused_reason and "revoked" in channel.paused_reason


async def test_a_forged_or_replayed_state_installs_nothing(slack: FakeSlackApp, app: Install) -> None:
    forged = {"code": "code-x", "state": "9999999999.nonce.0000"}
    async with app.http.get(f"{app.base}/slack/oauth_redirect?{urlencode(forged)}",
                            headers={"Cookie": f"slack-app-oauth-state={forged['state']}"}) as answer:
        assert answer.status == 401  # bolt's invalid_state
    assert slack.calls_to("oauth.v2.access") == [] and slack.installed == {}


async def test_signed_states_expire_and_cannot_be_altered() -> None:
    now = [1_000.0]
    store = SignedState(STATE, seconds=600, clock=lambda: now[0])
    state = await store.async_issue()
    assert await store.async_consume(state)
    expires, nonce, signature = state.split(".")
    assert not await store.async_consume(f"{int(expires) + 600}.{nonce}.{signature}")
    assert not await SignedState("t" * 40, clock=lambda: now[0]).async_consume(state)
    now[0] += 601
    assert not await store.async_consume(state)


def test_the_readme_manifest_subscribes_to_the_events_paperboy_handles() -> None:
    doc = readme_section("Slack")
    [manifest] = [block for block in re.findall(r"```yaml\n(.*?)```", doc, re.S) if "bot_events" in block]
    assert re.findall(r"^\s+- (\w+)$", manifest.split("bot_events:")[1], re.M) == ["app_uninstalled", "tokens_revoked"]
    assert "socket_mode_enabled: false" in manifest and "/slack/oauth_redirect" in manifest


async def test_installations_saved_under_another_key_cannot_be_read(caplog: pytest.LogCaptureFixture) -> None:
    class Rows(dict[tuple[str, str, str, str], str]):
        async def save_installation(self, platform: str, workspace: str, secrets: dict[tuple[str, str], str],
                                    now: object) -> None:
            self.update({(platform, workspace, kind, user): secret for (kind, user), secret in secrets.items()})

        async def installation(self, platform: str, workspace: str, kind: str, user_id: str = "") -> str | None:
            return self.get((platform, workspace, kind, user_id))

    rows = Rows()
    saved = Installation(team_id="T1", bot_token="xoxb-T1-secret", bot_user_id="U0BOT", user_id="U0ADA")
    await EncryptedInstallations(rows, cipher(KEY)).async_save(saved)  # type: ignore[arg-type]
    found = await EncryptedInstallations(rows, cipher(KEY)).async_find_bot(enterprise_id=None, team_id="T1")  # type: ignore[arg-type]
    assert found is not None and found.bot_token == "xoxb-T1-secret"
    other = EncryptedInstallations(rows, cipher(Fernet.generate_key().decode()))  # type: ignore[arg-type]
    assert await other.async_find_bot(enterprise_id=None, team_id="T1") is None
    assert "PAPERBOY_SECRET_KEY is not the key it was saved with" in caplog.text
