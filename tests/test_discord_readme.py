"""The README's Discord section, followed as written: the real `paperboy` commands against the fake Discord."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sys
from collections.abc import Callable
from datetime import date
from pathlib import Path

import discord

from adapters.discord.config import PERMISSIONS, DiscordConfig
from bot.config import Settings
from bot.core import Core
from tests.conftest import readme_section
from tests.fakes.discord_api import ADA, FakeDiscord, Interaction, Json

ROOT = Path(__file__).parent.parent
DOC = readme_section("Discord")
PAPERBOY = Path(sys.executable).parent / "paperboy"
RECORDED_DAY = ROOT / "tests" / "fixtures" / "2026-08-21.json"
GUILD = 1_100_000_000_000_000_001
CHANNEL = 1_100_000_000_000_000_002
OPTION = re.compile(r" (query|subscription|time|timezone|mode|setting|value):")
WAIT = 20.0  # seconds; only a guard against a hang


def blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", DOC, re.S)


def seen(message: Json) -> str:
    return re.sub(r"\\(.)", r"\1", message.get("content") or "")


def slash(line: str) -> tuple[str, dict[str, str]]:
    """`/papers schedule time:08:30 timezone:Europe/Berlin` -> ("schedule", {"time": "08:30", ...})."""
    head, *pairs = OPTION.split(line)
    command, subcommand = head.split()
    assert command == "/papers"
    return subcommand, dict(zip(pairs[::2], pairs[1::2], strict=True))


def answered(interaction: Interaction, *, note: bool) -> Callable[[], bool]:
    """Whether the caller got their answer and, for a change, the channel its note."""
    return lambda: bool(interaction.ephemeral) and (bool(interaction.public) or not note)


def test_the_variables_table_is_the_adapters_settings() -> None:
    rows = dict(re.findall(r"^\| `([A-Z_]+)` \| `?([^|`]+)`? \|", DOC, re.M))
    assert list(rows) == [
        "DISCORD_TOKEN", "DISCORD_GUILD_IDS", "DISCORD_API_URL", "DISCORD_GATEWAY_URL",
        "DISCORD_SHARD_COUNT", "DISCORD_SHARD_IDS",
    ]
    config = DiscordConfig.from_env({"DISCORD_TOKEN": "a.b.c"})
    assert rows["DISCORD_API_URL"] == config.api_url and rows["DISCORD_GATEWAY_URL"] == config.gateway_url


def test_the_permissions_table_is_what_the_invite_asks_for() -> None:
    listed = re.findall(r"^\| ([A-Z][A-Za-z ]+) \| ", DOC.split("### 3.")[1].split("### 4.")[0], re.M)
    names = {"View Channels": "view_channel", "Send Messages": "send_messages",
             "Send Messages in Threads": "send_messages_in_threads", "Embed Links": "embed_links",
             "Read Message History": "read_message_history"}
    assert discord.Permissions(**{names[n]: True for n in listed}) == PERMISSIONS


async def paperboy(*args: str, cwd: Path, env: dict[str, str], log: Path) -> asyncio.subprocess.Process:
    with log.open("ab") as stderr:
        return await asyncio.create_subprocess_exec(
            PAPERBOY, *args, cwd=cwd, env=env, stdout=asyncio.subprocess.PIPE, stderr=stderr
        )


async def test_the_readme_steps_work_as_written(tmp_path: Path, fake: FakeDiscord) -> None:
    # The store already holds a recorded day, as on a machine where the bot has been polling.
    db = tmp_path / "paperboy.db"
    core = await Core.open(Settings(db=str(db), source=str(RECORDED_DAY)))
    await core.fetch(core.source.current_days(date(2026, 8, 21)))
    await core.close()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DISCORD_", "SLACK_", "PAPERBOY_"))}
    env |= {"PAPERBOY_DB": str(db), "PAPERBOY_SOURCE": str(RECORDED_DAY), "PAPERBOY_LOG_LEVEL": "INFO",
            "DISCORD_API_URL": fake.api_url, "DISCORD_GATEWAY_URL": fake.gateway_url,
            "DISCORD_GUILD_IDS": str(GUILD)}
    log = tmp_path / "paperboy.log"

    # 1-2. The application exists and its token goes into .env.
    [dotenv] = [b for b in blocks("sh") if "DISCORD_TOKEN=" in b]
    assert dotenv.strip() == "DISCORD_TOKEN=your-bot-token"
    (tmp_path / ".env").write_text(dotenv.replace("your-bot-token", fake.token))

    # 3. paperboy discord-invite
    assert blocks("sh")[1].strip() == "paperboy discord-invite"
    invite = await paperboy("discord-invite", cwd=tmp_path, env=env, log=log)
    out, _ = await asyncio.wait_for(invite.communicate(), WAIT)
    assert invite.returncode == 0, log.read_text()
    assert out.decode().strip() == (
        f"https://discord.com/oauth2/authorize?client_id={fake.application_id}"
        f"&scope=bot+applications.commands&permissions={PERMISSIONS.value}"
    )

    # 4-6. The bot is invited (the fake is that server); paperboy run
    assert blocks("sh")[2].strip() == "paperboy run"
    bot = await paperboy("run", cwd=tmp_path, env=env, log=log)
    try:
        await fake.wait_for(lambda: fake.identified and GUILD in fake.commands, WAIT)

        # 7. Each line of the block, as ada, who manages the channel.
        answers: dict[str, Interaction] = {}
        for line in blocks("text")[0].splitlines():
            subcommand, options = slash(line)
            answers[subcommand] = interaction = await fake.slash(GUILD, CHANNEL, subcommand, options)
            await fake.wait_for(answered(interaction, note=subcommand in {"subscribe", "schedule"}), WAIT)
    finally:
        bot.send_signal(signal.SIGINT)
        await asyncio.wait_for(bot.wait(), WAIT)
    assert bot.returncode == 0, log.read_text()

    subscribed = answers["subscribe"]
    assert seen(subscribed.ephemeral[0]).startswith('Subscribed as #1: "diffusion model" OR agent\n')
    assert [seen(m) for m in subscribed.public] == [
        f'<@{ADA.id}> subscribed this channel to #1: "diffusion model" OR agent'
    ]
    assert '`@ada subscribed this channel to #1: "diffusion model" OR agent`' in DOC
    preview = answers["preview"].ephemeral[0]
    assert re.fullmatch(r"\d+ papers? of the last 7 days match agent.*:", seen(preview)) and preview["embeds"]
    assert [seen(m) for m in answers["schedule"].ephemeral] == ["The daily digest now arrives at 08:30 Europe/Berlin."]
    assert seen(answers["list"].ephemeral[0]).startswith('#1  "diffusion model" OR agent  (by')

    posts = fake.posts(CHANNEL)
    papers = sum(len(p["embeds"]) for p in posts)
    assert [seen(m) for m in answers["digest"].ephemeral] == [f"Posted {papers} paper{'s' * (papers != 1)}."]
    assert papers and seen(posts[0]).startswith("**Daily Papers, Fri 21 Aug 2026:")
    assert all(p["allowed_mentions"] == {"parse": []} and p["enforce_nonce"] for p in posts)

    logged = log.read_text()
    assert f"logged in to Discord as Paperboy (application {fake.application_id})" in logged
    assert f"registered /papers for server {GUILD}" in logged
    assert fake.token not in logged
