"""The README's Telegram section, followed step by step against the fake Telegram."""

from __future__ import annotations

import logging
import re

import pytest

from adapters.telegram import TelegramAdapter, create
from adapters.telegram.config import TelegramConfig
from bot.core import Core
from tests.conftest import readme_section
from tests.contract.harness_telegram import seen
from tests.fakes.telegram_api import ADA, BOT_ID, BOT_USERNAME, FakeTelegram, ask, shown
from tests.support import VirtualTime, running

DOC = readme_section("Telegram")
GROUP = -1_009_000_000_001


def blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", DOC, re.S)


def test_the_variables_table_is_the_adapters_settings() -> None:
    rows = dict(re.findall(r"^\| `([A-Z_]+)` \| `?([^|`]+)`? \|", DOC, re.M))
    assert list(rows) == ["TELEGRAM_BOT_TOKEN", "TELEGRAM_API_URL"]
    assert rows["TELEGRAM_API_URL"] == TelegramConfig.from_env({"TELEGRAM_BOT_TOKEN": "1:a"}).api_url


async def test_the_readme_steps_work_as_written(core: Core, clock: VirtualTime, caplog: pytest.LogCaptureFixture) -> None:
    async with FakeTelegram() as telegram:
        # 1. BotFather made the bot: the fake is that bot. 4. It is in a group where Ada is an admin.
        telegram.add_chat(GROUP, "group", members={ADA.id: "administrator"})

        # 2. The token goes into .env.
        [dotenv] = [b for b in blocks("sh") if "TELEGRAM_BOT_TOKEN=" in b]
        name, _, example = dotenv.strip().partition("=")
        assert name == "TELEGRAM_BOT_TOKEN"
        TelegramConfig.from_env({name: example})  # the example has the right shape
        env = {name: telegram.token, "TELEGRAM_API_URL": telegram.api_url}
        config = create(env).config  # what `paperboy run` builds from them

        # 3. paperboy run
        assert blocks("sh")[1].strip() == "paperboy run"
        adapter = TelegramAdapter(config, timing=clock.timing)
        with caplog.at_level(logging.INFO, logger="adapters.telegram"):
            async with running(core, adapter):
                [connected] = re.findall(r"`(Telegram: connected as .*?)`", DOC)
                assert connected.replace("@paperboy_bot (id ...)", f"@{BOT_USERNAME} (id {BOT_ID})") in caplog.text
                assert telegram.commands and telegram.commands[0]["command"] == "papers"

                # 5. Each line of the block, as Ada, in the group; each answered with a reply to it.
                answers = {}
                for line in blocks("text")[0].splitlines():
                    assert line.startswith("/papers ")
                    answers[line.split()[1]] = await ask(telegram, GROUP, ADA, line)

    assert shown(answers["subscribe"]).startswith('Subscribed as #1: "diffusion model" OR agent\n')
    [example] = re.findall(r"`(Ada subscribed this channel[^`]*)`", DOC)
    assert shown(answers["subscribe"]).endswith("\n" + example)
    assert re.match(r"\d+ papers? of the last 7 days match agent", shown(answers["preview"]))
    assert shown(answers["list"]).startswith('#1  "diffusion model" OR agent  (by Ada, ')
    digest = [m for m in telegram.messages[GROUP] if m.shown.text.startswith("Daily Papers, Fri 21 Aug 2026: ")]
    papers = sum(seen(m).items for m in digest)
    assert shown(answers["digest"]) == f"Posted {papers} paper{'s' * (papers != 1)}."
    assert digest and all(seen(m).problems == () for m in digest)
    assert telegram.token not in caplog.text
