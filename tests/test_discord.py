"""The Discord adapter end to end: discord.py's real client against the loopback fake.

Slash commands arrive as gateway INTERACTION_CREATE events and run through the real
command tree; what a member sees is read back from what the fake recorded.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import discord
import pytest
from discord.gateway import DiscordWebSocket

from adapters.discord import DiscordAdapter, command, create
from adapters.discord.config import PERMISSIONS, DiscordConfig
from adapters.discord.guard import InvalidRequests
from bot.adapter import AdapterStopped, ChannelGone, PlatformLimits, SendFailed
from bot.commandset import COMMANDS, help_text
from bot.config import ConfigError
from bot.core import Core
from bot.models import ChannelKey, CommandContext, Digest, DigestItem, Reason
from bot.source import parse_items
from tests.fakes.discord_api import ADA, MEMBER, NONCE_SECONDS, FakeDiscord, Fault, Interaction, Json, Member
from tests.support import MemoryAdapter, VirtualTime, send
from tests.support import MemoryOutbox as Ledger

GUILD = 1_100_000_000_000_000_001
CHANNEL = 1_100_000_000_000_000_002
OTHER = 1_100_000_000_000_000_003
USER = ADA.id
BOB = Member(4_000_000_000_000_000_002, "bob", MEMBER)  # may not manage the channel
KEY = ChannelKey("discord", str(GUILD), str(CHANNEL))
FIXTURES = Path(__file__).parent / "fixtures"
WAIT = 10.0  # seconds; only a guard against a hang, never a sleep


def seen(text: str | None) -> str:
    """What Discord shows: escapes dropped, and the zero-width space that breaks a mention."""
    return re.sub(r"\\(.)", r"\1", text or "").replace("\u200b", "")


def texts(messages: list[Json]) -> list[str]:
    return [seen(m["content"]) for m in messages]


def digest_of(count: int, title: str = "Daily Papers, Fri 21 Aug 2026") -> Digest:
    papers = parse_items(json.loads((FIXTURES / "2026-08-21.json").read_text()), date(2026, 8, 21))
    return Digest(title, tuple(DigestItem(p, (Reason(1, "model", ("model",)),)) for p in papers[:count]))


class Waiter(logging.Handler):
    """Wakes a test when a matching log record is emitted (no polling, no sleeping)."""

    def __init__(self, text: str) -> None:
        super().__init__(logging.ERROR)
        self.text = text
        self.records: list[logging.LogRecord] = []
        self.event = asyncio.Event()

    def emit(self, record: logging.LogRecord) -> None:
        if self.text in record.getMessage():
            self.records.append(record)
            self.event.set()


@pytest.fixture
def env(fake: FakeDiscord, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    return discord_env(fake, monkeypatch)


def discord_env(fake: FakeDiscord, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The environment the README sets; discord.py's process-wide addresses are restored afterwards."""
    monkeypatch.setattr(discord.http.Route, "BASE", discord.http.Route.BASE)
    monkeypatch.setattr(DiscordWebSocket, "DEFAULT_GATEWAY", DiscordWebSocket.DEFAULT_GATEWAY)
    return {
        "DISCORD_TOKEN": fake.token,
        "DISCORD_GUILD_IDS": str(GUILD),
        "DISCORD_API_URL": fake.api_url,
        "DISCORD_GATEWAY_URL": fake.gateway_url,
    }


async def started(adapter: DiscordAdapter, core: Core, fake: FakeDiscord) -> asyncio.Task[None]:
    connected = fake.identified
    task = asyncio.create_task(adapter.run(core.host(adapter)))
    await fake.wait_for(lambda: fake.identified > connected or task.done(), WAIT)
    return task


async def stopped(task: asyncio.Task[None]) -> None:
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


@dataclass
class Bot:
    core: Core
    adapter: DiscordAdapter
    fake: FakeDiscord

    async def papers(
        self, subcommand: str, *, channel: int = CHANNEL, member: Member = ADA, **options: str | int
    ) -> Interaction:
        """Run `/papers subcommand` as a member would, and wait until the bot has finished with it."""
        done = asyncio.ensure_future(self.adapter.client.wait_for("app_command_completion", timeout=WAIT))
        await asyncio.sleep(0)  # let the listener register before the event can arrive
        interaction = await self.fake.slash(GUILD, channel, subcommand, options, member=member)
        await done
        return interaction


@pytest.fixture
async def bot(core: Core, fake: FakeDiscord, env: dict[str, str]) -> AsyncIterator[Bot]:
    adapter = create(env)
    task = asyncio.create_task(core.run([adapter]))
    await fake.wait_for(lambda: fake.identified and GUILD in fake.commands, WAIT)
    await asyncio.wait_for(core.ready.wait(), WAIT)
    yield Bot(core, adapter, fake)
    await stopped(task)
    shown = [m for ms in fake.messages.values() for m in ms]
    shown += [m for i in fake.interactions.values() for m in i.ephemeral]
    assert all(m["allowed_mentions"] == {"parse": []} for m in shown)  # every message pings nobody


# Commands


async def test_papers_is_registered_in_the_configured_server_for_channel_managers(bot: Bot) -> None:
    (papers,) = bot.fake.commands[GUILD]
    assert papers["name"] == "papers"
    assert [option["name"] for option in papers["options"]] == [spec.name for spec in COMMANDS]
    assert int(papers["default_member_permissions"]) == discord.Permissions(manage_channels=True).value
    assert papers["contexts"] == [0]  # servers only, not DMs


async def test_subscribe_answers_the_caller_privately_and_notes_the_change_in_the_channel(bot: Bot) -> None:
    interaction = await bot.papers("subscribe", query="diffusion")
    (reply,) = texts(interaction.ephemeral)
    assert reply.startswith("Subscribed as #1: diffusion\nIt would have matched")
    assert texts(interaction.public) == [f"<@{USER}> subscribed this channel to #1: diffusion"]
    assert all(m["allowed_mentions"] == {"parse": []} for m in interaction.ephemeral + interaction.public)


async def test_a_member_without_manage_channels_is_refused_changes_but_may_list_preview_and_help(bot: Bot) -> None:
    await bot.papers("subscribe", query="diffusion")
    changes: list[tuple[str, dict[str, Any]]] = [
        ("subscribe", {"query": "agents"}),
        ("unsubscribe", {"subscription": "all"}),
        ("schedule", {"time": "08:00"}),
        ("mode", {"mode": "instant"}),
        ("settings", {"setting": "max-papers", "value": 5}),
        ("pause", {}),
        ("resume", {}),
    ]
    for name, options in changes:
        interaction = await bot.papers(name, member=BOB, **options)
        assert texts(interaction.ephemeral) == [
            f"You need permission to manage this channel to use /papers {name}. "
            "Ask a channel manager, or use list, preview or help."
        ], name
        assert interaction.public == []

    listed = await bot.papers("list", member=BOB)
    assert texts(listed.ephemeral)[0].startswith("#1  diffusion  (by ada, ")
    help_ = await bot.papers("help", member=BOB)
    assert texts(help_.ephemeral) == [help_text()]
    preview = await bot.papers("preview", member=BOB, query="diffusion")
    (answer,) = preview.ephemeral
    assert seen(answer["content"]) == "1 paper of the last 7 days match diffusion:"
    assert answer["embeds"][0]["url"].startswith("https://huggingface.co/papers/")


async def test_unsubscribe_autocompletes_this_channels_subscriptions_and_all(bot: Bot) -> None:
    await bot.papers("subscribe", query="diffusion")
    await bot.papers("subscribe", query="agents")
    await bot.papers("subscribe", channel=OTHER, query="robots")

    choices = await bot.fake.autocomplete(GUILD, CHANNEL, "unsubscribe", "subscription", "")
    assert choices == [
        {"name": "all (2 subscriptions)", "value": "all"},
        {"name": "#1 diffusion", "value": "1"},
        {"name": "#2 agents", "value": "2"},
    ]
    assert await bot.fake.autocomplete(GUILD, CHANNEL, "unsubscribe", "subscription", "AGE") == [
        {"name": "#2 agents", "value": "2"}
    ]

    interaction = await bot.papers("unsubscribe", subscription="2")
    assert texts(interaction.ephemeral) == ["Unsubscribed #2 (agents)."]
    assert texts(interaction.public) == [f"<@{USER}> unsubscribed this channel from #2 (agents)"]


async def test_schedule_autocompletes_time_zones_and_sets_the_daily_time(bot: Bot) -> None:
    berlin = await bot.fake.autocomplete(GUILD, CHANNEL, "schedule", "timezone", "berl", {"time": "07:30"})
    assert berlin[0] == {"name": "Europe/Berlin", "value": "Europe/Berlin"}
    new_york = await bot.fake.autocomplete(GUILD, CHANNEL, "schedule", "timezone", "new y", {"time": "07:30"})
    assert new_york[0]["value"] == "America/New_York"
    assert len(await bot.fake.autocomplete(GUILD, CHANNEL, "schedule", "timezone", "a", {"time": "07:30"})) == 25

    interaction = await bot.papers("schedule", time="7:30", timezone="Europe/Berlin")
    assert texts(interaction.ephemeral) == ["The daily digest now arrives at 07:30 Europe/Berlin."]
    assert texts(interaction.public) == [f"<@{USER}> set the daily digest to 07:30 Europe/Berlin"]
    bad = await bot.papers("schedule", time="25:00")
    assert texts(bad.ephemeral)[0].startswith("'25:00' is not a time")


async def test_mode_and_settings_choices_reach_the_core(bot: Bot) -> None:
    instant = await bot.papers("mode", mode="instant")
    assert texts(instant.ephemeral) == ["Mode set to instant: new matches after each poll."]
    assert texts((await bot.papers("settings", setting="max-papers", value=5)).ephemeral) == ["max-papers is now 5."]
    assert texts((await bot.papers("settings", setting="max-papers", value=0)).ephemeral) == [
        "max-papers takes a whole number from 1 to 50, got '0'."
    ]
    await bot.papers("subscribe", query="diffusion")
    listed = texts((await bot.papers("list")).ephemeral)[0]
    assert "Delivery: as they appear; at most 5 papers a post; minimum upvotes 0; up to 3 suggestions." in listed
    weekly = await bot.papers("mode", mode="weekly", day="friday")
    assert texts(weekly.ephemeral) == ["Mode set to weekly: one digest a week, every Friday at 09:00 UTC."]


async def test_pause_shows_in_list_until_resume(bot: Bot) -> None:
    await bot.papers("subscribe", query="diffusion")
    paused = await bot.papers("pause")
    assert texts(paused.ephemeral) == ["Paused: no digests here until /papers resume."]
    assert texts(paused.public) == [f"<@{USER}> paused the digest here"]
    assert "Paused: paused by ada. /papers resume restarts it." in texts((await bot.papers("list")).ephemeral)[0]
    resumed = await bot.papers("resume")
    assert texts(resumed.ephemeral) == ["Resumed: digests will arrive here again."]


async def test_markdown_and_mentions_in_a_query_ping_and_format_nothing(bot: Bot) -> None:
    interaction = await bot.papers("subscribe", query='"@everyone" <@123456789012345678> **loud**')
    (note,) = interaction.public
    assert "@everyone" not in note["content"] and "<@123456789012345678>" not in note["content"]
    assert "\\*\\*loud\\*\\*" in note["content"]
    assert seen(note["content"]) == (
        f'<@{USER}> subscribed this channel to #1: "@everyone" <@123456789012345678> **loud**'
    )
    assert note["allowed_mentions"] == {"parse": []}


async def test_a_command_that_fails_inside_the_bot_tells_the_caller(
    bot: Bot, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    async def broken(ctx: CommandContext, text: str) -> None:
        raise RuntimeError("database is locked")

    monkeypatch.setattr(bot.core.commands, "handle", broken)
    interaction = await bot.fake.slash(GUILD, CHANNEL, "list")
    await bot.fake.wait_for(lambda: interaction.ephemeral, WAIT)
    assert texts(interaction.ephemeral) == ["Sorry, that failed on Paperboy's side and was logged. Please try again later."]
    assert "database is locked" in caplog.text


async def test_without_server_ids_papers_is_registered_globally(
    core: Core, fake: FakeDiscord, env: dict[str, str]
) -> None:
    adapter = create({k: v for k, v in env.items() if k != "DISCORD_GUILD_IDS"})
    task = await started(adapter, core, fake)
    assert list(fake.commands) == [None] and fake.commands[None][0]["name"] == "papers"
    interaction = await fake.slash(GUILD, CHANNEL, "help")
    await fake.wait_for(lambda: interaction.ephemeral, WAIT)
    assert texts(interaction.ephemeral) == [help_text()]
    await stopped(task)


async def test_a_server_that_refuses_the_commands_is_logged_and_digests_still_go(
    core: Core, fake: FakeDiscord, env: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    fake.faults.append(Fault.error(r"PUT /applications/\d+/guilds/\d+/commands", 403, 50001, "Missing Access"))
    adapter = create(env)
    task = await started(adapter, core, fake)
    assert f"could not register /papers for server {GUILD} (403 Missing Access)" in caplog.text
    ledger = Ledger()
    await send(adapter, KEY, digest_of(1), ledger)
    assert ledger.sent.keys() == {0}
    await stopped(task)


# Digests


async def test_digest_posts_one_embed_per_paper_in_messages_within_limits(bot: Bot) -> None:
    await bot.papers("settings", setting="max-papers", value=15)
    await bot.papers("subscribe", query="model")
    interaction = await bot.papers("digest")
    posts = bot.fake.posts(CHANNEL)
    shown = sum(len(p["embeds"]) for p in posts)
    assert texts(interaction.ephemeral) == [f"Posted {shown} papers."]
    assert shown > 10 and [len(p["embeds"]) for p in posts] == [10, shown - 10]
    assert seen(posts[0]["content"]).startswith("**Daily Papers, Fri 21 Aug 2026:")
    limits: PlatformLimits = bot.adapter.limits
    for post in posts:
        assert post["allowed_mentions"] == {"parse": []}
        assert post["enforce_nonce"] is True
        assert len(post["embeds"]) <= limits.items_per_message
        assert len(post.get("content") or "") <= limits.text_chars
    install = bot.core.store.install_id
    assert [p["nonce"] for p in posts] == [f"pb{install}-1.0", f"pb{install}-1.1"]
    urls = [e["url"] for p in posts for e in p["embeds"]]
    assert len(set(urls)) == shown


@pytest.mark.parametrize(
    ("status", "code", "message", "reason"),
    [
        (403, 50001, "Missing Access", "the bot cannot see this channel (Missing Access)"),
        (403, 50013, "Missing Permissions", "the bot may not post here (Missing Permissions)"),
        (404, 10003, "Unknown Channel", "this channel no longer exists (Unknown Channel)"),
    ],
)
async def test_a_channel_discord_refuses_is_paused_with_the_reason(
    bot: Bot, status: int, code: int, message: str, reason: str
) -> None:
    await bot.papers("subscribe", query="diffusion")
    bot.fake.channel_errors[CHANNEL] = (status, code, message)
    await bot.papers("digest")
    assert bot.fake.posts(CHANNEL) == []
    listed = texts((await bot.papers("list")).ephemeral)[0]
    assert f"Paused: Discord says {reason}" in listed


async def crash_then_resend(core: Core, fake: TimedFake, env: dict[str, str], *, later: float = 0.0) -> Ledger:
    """Discord accepts part 1 of a two-part digest, the process dies before recording it, and a new
    process resends the digest `later` seconds after (on the fake's clock)."""
    digest = digest_of(12)
    ledger = Ledger(crash_after=1)
    first = create(env)
    task = await started(first, core, fake)
    with pytest.raises(RuntimeError):
        await send(first, KEY, digest, ledger)
    await stopped(task)
    await first.close()
    assert ledger.sent.keys() == {0}
    fake.time.advance(seconds=later)

    ledger.crash_after = None
    restarted = create(env)  # a new process: a new client, the same ledger
    task = await started(restarted, core, fake)
    await send(restarted, KEY, digest, ledger.outbox(uncertain=True))
    await stopped(task)
    await restarted.close()
    return ledger


class TimedFake(FakeDiscord):
    """A fake Discord whose nonce window runs on a virtual clock, `time`."""

    def __init__(self) -> None:
        self.time = VirtualTime()
        super().__init__(clock=self.time.clock)


@pytest.fixture
async def timed_fake() -> AsyncIterator[TimedFake]:
    server = TimedFake()
    await server.start()
    yield server
    await server.close()


@pytest.mark.parametrize("later", [0.0, NONCE_SECONDS + 3600])
async def test_a_resend_after_a_crash_finds_the_part_in_the_history_and_posts_nothing_twice(
    core: Core, timed_fake: TimedFake, monkeypatch: pytest.MonkeyPatch, later: float
) -> None:
    fake = timed_fake
    env = discord_env(fake, monkeypatch)
    ledger = await crash_then_resend(core, fake, env, later=later)  # within the nonce window, and long after it
    posts = fake.posts(CHANNEL)
    assert [p["nonce"] for p in posts] == ["pb7.0", "pb7.1"]  # each part once
    assert [p["embeds"][-1]["footer"]["text"].rsplit(" · ", 1)[1] for p in posts] == ["pb7.0", "pb7.1"]
    sends = [r for r in fake.requests if r[:2] == ("POST", f"/channels/{CHANNEL}/messages")]
    looks = [r for r in fake.requests if r[:2] == ("GET", f"/channels/{CHANNEL}/messages")]
    assert (len(sends), len(looks)) == (2, 1)  # part 1 was found in the history, not posted again
    assert ledger.sent == {0: posts[0]["id"], 1: posts[1]["id"]}


async def test_without_read_message_history_the_nonce_still_catches_a_quick_resend(
    core: Core, timed_fake: TimedFake, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    fake = timed_fake
    fake.history_errors[CHANNEL] = (403, 50001, "Missing Access")
    ledger = await crash_then_resend(core, fake, discord_env(fake, monkeypatch))
    posts = fake.posts(CHANNEL)
    assert [p["nonce"] for p in posts] == ["pb7.0", "pb7.1"]
    sends = [r for r in fake.requests if r[:2] == ("POST", f"/channels/{CHANNEL}/messages")]
    assert len(sends) == 3  # part 1 again: answered by Discord with the first message
    assert ledger.sent == {0: posts[0]["id"], 1: posts[1]["id"]}
    assert "allow the bot Read Message History" in caplog.text


async def test_a_digest_sent_before_login_waits_for_it(core: Core, fake: FakeDiscord, env: dict[str, str]) -> None:
    adapter = create(env)
    ledger = Ledger()
    sending = asyncio.create_task(send(adapter, KEY, digest_of(1), ledger))
    await asyncio.sleep(0)
    assert not sending.done() and fake.requests == []
    task = await started(adapter, core, fake)
    await asyncio.wait_for(sending, WAIT)
    await stopped(task)
    assert len(fake.posts(CHANNEL)) == 1 and ledger.sent.keys() == {0}


async def test_rate_limits_cloudflare_429s_and_server_errors_are_retried_and_post_once(
    core: Core, fake: FakeDiscord, env: dict[str, str]
) -> None:
    adapter = create(env)
    task = await started(adapter, core, fake)
    route = r"POST /channels/\d+/messages"

    fake.faults.append(Fault.rate_limited(route, retry_after=0.0, times=2))  # discord.py waits these out itself
    ledger = Ledger()
    await send(adapter, KEY, digest_of(1), ledger.outbox("pb1"))
    assert [r[2] for r in fake.requests if r[0] == "POST"] == [429, 429, 200]

    fake.requests.clear()
    fake.faults.append(Fault.rate_limited(route, retry_after=0.0, via=False))  # no Via: discord.py gives up at once
    fake.faults.append(Fault.error(route, 503, 0, "Service Unavailable"))
    await send(adapter, KEY, digest_of(1), Ledger().outbox("pb2"))  # the core backs off and tries again
    assert [r[2] for r in fake.requests if r[0] == "POST"] == [429, 503, 200]
    await stopped(task)
    assert [p["nonce"] for p in fake.posts(CHANNEL)] == ["pb1.0", "pb2.0"]


async def test_sending_stops_before_invalid_requests_reach_discords_ban_threshold(
    core: Core, fake: FakeDiscord, env: dict[str, str]
) -> None:
    adapter = DiscordAdapter(DiscordConfig.from_env(env), guard=InvalidRequests(stop_at=2))
    DiscordConfig.from_env(env).apply()
    task = await started(adapter, core, fake)
    gone = [ChannelKey("discord", str(GUILD), str(n)) for n in (21, 22)]
    for key in gone:
        fake.channel_errors[int(key.channel)] = (403, 50013, "Missing Permissions")
        with pytest.raises(ChannelGone):
            await send(adapter, key, digest_of(1), Ledger().outbox())
    before = len(fake.requests)
    with pytest.raises(SendFailed, match="2 invalid requests"):
        await send(adapter, KEY, digest_of(1), Ledger().outbox())
    assert len(fake.requests) == before  # nothing more went out
    await stopped(task)


def test_invalid_requests_are_counted_over_ten_minutes_and_shared_429s_do_not_count() -> None:
    now = [0.0]
    guard = InvalidRequests(stop_at=3, clock=lambda: now[0])
    for status, scope in [(401, None), (403, None), (429, "shared"), (429, "user"), (404, None), (200, None)]:
        guard.note(status, scope)
    assert guard.count() == 3 and guard.tripped()
    now[0] = 600.0
    assert guard.count() == 0 and not guard.tripped()


# Credentials


async def test_a_revoked_token_stops_discord_with_one_log_line_and_the_others_go_on(
    core: Core, fake: FakeDiscord, env: dict[str, str]
) -> None:
    waiter = Waiter("Discord rejected DISCORD_TOKEN")
    logging.getLogger("adapters.discord").addHandler(waiter)
    adapter, other = create(env), MemoryAdapter("console", serve=True)
    running = asyncio.create_task(core.run([adapter, other]))
    await fake.wait_for(lambda: fake.identified, WAIT)
    await asyncio.wait_for(core.ready.wait(), WAIT)
    for key in (KEY, ChannelKey("console", "local", "console")):
        await core.commands.handle(CommandContext(key, "ada"), "subscribe diffusion")
    discord_channel, console_channel = await core.store.channels()

    fake.token = "reset-in-the-developer-portal"
    assert await core.delivery.deliver([discord_channel]) == 0
    await asyncio.wait_for(waiter.event.wait(), WAIT)
    assert [r.getMessage() for r in waiter.records] == [
        "the Discord adapter stopped; the other adapters go on: "
        "Discord rejected DISCORD_TOKEN (401 Unauthorized): reset it on the application's Bot page"
    ]
    assert await core.delivery.deliver([console_channel]) == 1
    assert len(other.posted) == 1 and not running.done()
    assert await core.store.open_digests(discord_channel.id)  # kept for when the token is fixed
    other.finish.set()
    await asyncio.wait_for(running, WAIT)
    logging.getLogger("adapters.discord").removeHandler(waiter)


async def test_a_rejected_token_at_login_ends_run_with_one_log_line(
    core: Core, fake: FakeDiscord, env: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    adapter = create({**env, "DISCORD_TOKEN": "not.the.token"})
    await asyncio.wait_for(adapter.run(core.host(adapter)), WAIT)
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert [r.getMessage() for r in errors] == [
        "the Discord adapter stopped; the other adapters go on: "
        "Discord rejected DISCORD_TOKEN (401 Unauthorized): reset it on the application's Bot page"
    ]
    with pytest.raises(AdapterStopped):
        await send(adapter, KEY, digest_of(1), Ledger().outbox())
    await adapter.close()


# Configuration and the invite


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"DISCORD_TOKEN": "Bot abc.def"}, "DISCORD_TOKEN must be the bot token alone"),
        ({"DISCORD_GUILD_IDS": "my server"}, "DISCORD_GUILD_IDS must be server ids separated by commas"),
        ({"DISCORD_API_URL": "discord.com/api"}, "DISCORD_API_URL must be an http:// or https:// URL"),
        ({"DISCORD_GATEWAY_URL": "https://gateway.example"}, "DISCORD_GATEWAY_URL must be a ws:// or wss:// URL"),
    ],
)
def test_bad_settings_fail_at_start_with_one_line(
    env: dict[str, str], changes: dict[str, str], message: str
) -> None:
    with pytest.raises(ConfigError, match=message) as failure:
        create({**env, **changes})
    assert "\n" not in str(failure.value)


def test_settings_accept_several_servers_and_default_to_discord() -> None:
    config = DiscordConfig.from_env({"DISCORD_TOKEN": "a.b.c", "DISCORD_GUILD_IDS": " 12, 34 ,"})
    assert config.guild_ids == (12, 34)
    assert (config.api_url, config.gateway_url) == ("https://discord.com/api/v10", "wss://gateway.discord.gg/")


async def test_discord_invite_prints_the_oauth_url_with_scopes_and_permissions(
    fake: FakeDiscord, env: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert await asyncio.to_thread(command, "discord-invite", env) == 0
    url = urlsplit(capsys.readouterr().out.strip())
    query = {k: v[0] for k, v in parse_qs(url.query).items()}
    assert (url.netloc, url.path) == ("discord.com", "/oauth2/authorize")
    assert query["client_id"] == str(fake.application_id)
    assert query["scope"] == "bot applications.commands"
    granted = discord.Permissions(int(query["permissions"]))
    assert granted == PERMISSIONS
    assert granted.view_channel and granted.send_messages and granted.embed_links


async def test_discord_invite_with_a_wrong_token_says_so(
    env: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert await asyncio.to_thread(command, "discord-invite", {**env, "DISCORD_TOKEN": "wrong"}) == 1
    out, err = capsys.readouterr()
    assert out == "" and err.startswith("paperboy discord-invite: Discord rejected DISCORD_TOKEN (401")


async def test_status_explains_an_empty_day_to_anyone(bot: Bot) -> None:
    await bot.papers("subscribe", query='"quantum chromodynamics"')
    interaction = await bot.papers("status", member=BOB)
    answer = "\n".join(texts(interaction.ephemeral))
    assert answer.startswith("Last fetch: Fri 21 Aug 07:00 UTC: 17 papers featured on 2026-08-21")
    assert "Papers featured on Fri 21 Aug 2026: 17, 0 delivered here." in answer
    assert "- 17 no subscription matched: EnvHarness: Awakening Static Worlds for Agent Learning;" in answer


# Rating buttons


async def click(fake: FakeDiscord, message: Json, custom_id: str, member: Member = ADA) -> str:
    """Press a digest's button as a member; what the bot told them (privately)."""
    interaction = await fake.click(GUILD, message, custom_id, member=member)
    await fake.wait_for(lambda: interaction.callback_type is not None, WAIT)
    assert interaction.callback_type == 4 and interaction.public == []
    (answer,) = interaction.ephemeral
    assert answer["flags"] & 64 and answer["allowed_mentions"] == {"parse": []}
    return seen(answer["content"])


async def test_digest_buttons_rate_papers_and_still_work_after_a_restart(
    core: Core, fake: FakeDiscord, env: dict[str, str]
) -> None:
    adapter = create(env)
    core.delivery.attach({"discord": adapter})
    await core.poll()
    task = await started(adapter, core, fake)
    bot = Bot(core, adapter, fake)
    await bot.papers("subscribe", query="agent")
    await bot.papers("digest")
    (message,) = fake.posts(CHANNEL)
    rows = message["components"]
    ids = [c["custom_id"] for row in rows for c in row["components"]]
    assert len(rows) == 3 and ids[:4] == ["pb:+:2608.19880", "pb:-:2608.19880", "pb:+:2608.18580", "pb:-:2608.18580"]
    assert [c["label"] for c in rows[0]["components"][:2]] == ["👍 2608.19880", "👎 2608.19880"]
    assert all(len(i) <= 100 for i in ids)

    said = await click(fake, message, "pb:+:2608.19880")
    assert said.startswith("👍 You liked 2608.19880 (EnvHarness: Awakening Static Worlds for Agent Learning).")
    assert (await click(fake, message, "pb:+:2608.19880")).startswith("Took back your rating of 2608.19880")
    channel = await core.store.channel(KEY)
    assert channel is not None and await core.store.ratings(channel.id) == []

    await stopped(task)  # a restart: a new client, and the old message's buttons still answer
    again = create(env)
    task = await started(again, core, fake)
    assert (await click(fake, message, "pb:-:2608.18580", member=BOB)).startswith("👎 You disliked 2608.18580")
    assert await core.store.ratings(channel.id) == [("2608.18580", -1)]
    await stopped(task)
