"""The README's Slack section, followed step by step against the fake Slack (Socket Mode)."""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path
from typing import Any

import pytest

from adapters.slack import SlackAdapter, create
from adapters.slack.config import SlackConfig
from bot.core import Core
from tests.conftest import readme_section
from tests.fakes.slack_api import FakeSlack, block_action, shown, slash_command
from tests.support import VirtualTime, running

ROOT = Path(__file__).parent.parent
DOC = readme_section("Slack")
MANIFEST = (ROOT / "slack-manifest.yml").read_text()


def blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", DOC, re.S)


def test_the_manifest_declares_what_the_readme_says() -> None:
    scopes = re.findall(r"`([a-z]+:?[a-z]*)`", "".join(re.findall(r"^\| (`[a-z:]+`.*?) \|", DOC, re.M)))
    assert scopes == ["commands", "chat:write", "channels:history", "groups:history", "users:read"]
    listed = re.findall(r"^      - ([a-z:]+)", MANIFEST, re.M)
    assert listed == scopes
    for line in ("command: /papers", "should_escape: false", "socket_mode_enabled: true"):
        assert re.search(rf"^\s*-? ?{re.escape(line)}$", MANIFEST, re.M), line


def test_the_variables_table_is_the_adapters_settings() -> None:
    documented = re.findall(r"^\| `([A-Z_]+)` \|", DOC, re.M)
    assert documented == [
        "SLACK_BOT_TOKEN", "SLACK_APP_TOKEN", "SLACK_SIGNING_SECRET", "PORT", "SLACK_COMMAND",
        "SLACK_ADMINS_ONLY", "SLACK_API_URL",
        "SLACK_CLIENT_ID", "SLACK_CLIENT_SECRET", "SLACK_STATE_SECRET", "PAPERBOY_SECRET_KEY",
    ]
    defaults = dict(re.findall(r"^\| `([A-Z_]+)` \| `([^`]+)` \|", DOC, re.M))
    config = SlackConfig.from_env({"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s"})
    assert defaults == {"PORT": str(config.port), "SLACK_COMMAND": config.command,
                        "SLACK_ADMINS_ONLY": str(config.admins_only).lower(), "SLACK_API_URL": config.api_url}


async def over_socket(slack: FakeSlack, text: str, *, channel: str, user: str) -> dict[str, Any]:
    """Send a command through Socket Mode as Slack does; returns the answer once Slack got its ack."""
    name = f"socket-{len(slack.responses)}"
    envelope = await slack.send_envelope(
        "slash_commands", slash_command(slack, text, channel=channel, user=user, reply_to=name)
    )
    await slack.wait_for(lambda: envelope in slack.acks and any(r.name == name for r in slack.responses))
    return next(r.body for r in slack.responses if r.name == name)


async def test_readme_steps_work_as_written(core: Core, clock: VirtualTime, caplog: pytest.LogCaptureFixture) -> None:
    vt = clock
    async with FakeSlack(clock=vt.clock, channel_rate=True) as slack:
        # 1-2. The app is created from the manifest and installed: the fake is that workspace.
        ada = slack.add_user("ada")
        channel = slack.add_channel("papers", member=False)

        # 3. Copy the two tokens into .env.
        [dotenv] = [b for b in blocks("sh") if "SLACK_BOT_TOKEN=" in b]
        env = dict(line.split("=", 1) for line in dotenv.splitlines())
        assert set(env) == {"SLACK_BOT_TOKEN", "SLACK_APP_TOKEN"}
        env.update(SLACK_BOT_TOKEN=slack.bot_token, SLACK_APP_TOKEN=slack.app_token, SLACK_API_URL=slack.api_url)
        assert create(env).config.socket_mode  # what `paperboy run` builds from these

        # 4. paperboy run
        assert "paperboy run" in blocks("sh")[1]
        adapter = SlackAdapter(SlackConfig.from_env(env), timing=vt.timing)
        with caplog.at_level(logging.INFO, logger="adapters.slack"):
            async with running(core, adapter):
                [connected] = re.findall(r"`(Slack: connected to .*?)`", DOC)
                assert connected.replace("Your Team (T...)", f"Papers Fake ({slack.team_id})") in caplog.text

                # 5. Invite the app to the channel.
                assert blocks("text")[0].strip() == "/invite @paperboy"
                slack.invite(channel)

                # 6. Subscribe, and the rest of the block, one line at a time, each answered to ada only.
                answers = {}
                for line in blocks("text")[1].splitlines():
                    command, _, text = line.partition(" ")
                    assert command == "/papers"
                    answer = await over_socket(slack, text, channel=channel, user=ada)
                    assert answer["response_type"] == "ephemeral"
                    answers[text.split()[0]] = shown(answer["blocks"])

                # A 👍 under a paper of the digest, over Socket Mode as well.
                posted = slack.posts(channel)[-1]
                button = next(e["action_id"] for b in posted.blocks if b["type"] == "actions" for e in b["elements"])
                form = block_action(slack, button, channel=channel, user=ada, message_ts=posted.ts, reply_to="click")
                envelope = await slack.send_envelope("interactive", json.loads(form["payload"]))
                await slack.wait_for(lambda: envelope in slack.acks and any(r.name == "click" for r in slack.responses))
                clicked = next(r.body for r in slack.responses if r.name == "click")

    assert answers["subscribe"].startswith('Subscribed as #1: "diffusion model" OR agent')
    assert answers["preview"].startswith("6 papers of the last 7 days match agent:")
    assert answers["list"].startswith('#1  "diffusion model" OR agent  (by ada, ')
    assert re.fullmatch(r"Posted \d+ papers\.", answers["digest"])

    note, digest = slack.posts(channel)
    [example] = re.findall(r"`(@ada subscribed this channel[^`]*)`", DOC)
    assert shown(note.blocks) == example.replace("@ada", f"@{ada}")
    assert shown(digest.blocks).startswith("Daily Papers, Fri 21 Aug 2026: ")
    assert digest.metadata is not None
    assert clicked["response_type"] == "ephemeral" and clicked["text"].startswith(f"👍 You liked {button[5:]} (")
