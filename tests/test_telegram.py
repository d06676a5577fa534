"""The Telegram adapter against the fake Bot API, through a real core on the recorded days."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import AsyncIterator
from datetime import date

import pytest

from adapters import REGISTRY
from adapters.telegram import TelegramAdapter, TelegramConfig, create
from adapters.telegram.commands import DESCRIPTION, channel_key
from adapters.telegram.render import WORD_JOINER, digest_parts
from bot.backoff import Backoff
from bot.commandset import COMMANDS
from bot.config import ConfigError
from bot.core import Core
from bot.models import Digest, DigestItem, Paper, Reason
from tests.conftest import add_busy_day
from tests.contract.harness_telegram import seen
from tests.fakes.telegram_api import ADA, BOB, TOKEN, FakeTelegram, Fault, ask, shown
from tests.support import MemoryAdapter, VirtualTime, running

GROUP = -1_001_234_567_890
KICKED = (403, "Forbidden: bot was kicked from the supergroup chat")


@pytest.fixture
async def telegram() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram() as fake:
        fake.add_chat(GROUP, "supergroup", members={ADA.id: "administrator", BOB.id: "member"})
        fake.add_chat(ADA.id, "private")
        yield fake


def adapter_for(fake: FakeTelegram, clock: VirtualTime) -> TelegramAdapter:
    return TelegramAdapter(TelegramConfig(fake.token, fake.api_url), timing=clock.timing,
                           backoff=Backoff(base=1.0, cap=60.0, draw=lambda: 0.0))


# Configuration


@pytest.mark.parametrize(("env", "named"), [
    ({"TELEGRAM_BOT_TOKEN": "not a token"}, "TELEGRAM_BOT_TOKEN"),
    ({"TELEGRAM_BOT_TOKEN": "123:abc", "TELEGRAM_API_URL": "ftp://example.com"}, "TELEGRAM_API_URL"),
    ({"TELEGRAM_BOT_TOKEN": "123:abc", "TELEGRAM_API_URL": "http://127.0.0.1:8081/bot123:abc"}, "TELEGRAM_API_URL"),
])
def test_bad_settings_name_the_variable_in_one_line(env: dict[str, str], named: str) -> None:
    with pytest.raises(ConfigError) as raised:
        TelegramConfig.from_env(env)
    assert str(raised.value).startswith(named) and "\n" not in str(raised.value)
    assert "123:abc" not in str(raised.value)


def test_the_token_switches_telegram_on() -> None:
    spec = next(spec for spec in REGISTRY if spec.name == "telegram")
    assert [s.name for s in REGISTRY][-2:] == ["telegram", "console"]
    assert spec.enabled({"TELEGRAM_BOT_TOKEN": "123:abc"}) and not spec.enabled({})
    adapter = create({"TELEGRAM_BOT_TOKEN": " 123:abc ", "TELEGRAM_API_URL": "http://127.0.0.1:8081/"})
    assert adapter.app.bot.base_url == "http://127.0.0.1:8081/bot123:abc"
    assert "123:abc" not in repr(adapter.config)


# Commands


async def test_start_registers_the_papers_command_from_the_table(core: Core, telegram: FakeTelegram,
                                                                 clock: VirtualTime) -> None:
    async with running(core, adapter_for(telegram, clock)):
        assert telegram.commands == [{"command": "papers", "description": DESCRIPTION}]
        assert all(spec.name in DESCRIPTION for spec in COMMANDS)
        assert telegram.count("deleteWebhook") == 1


async def test_group_admins_change_the_chat_and_members_may_only_look(core: Core, telegram: FakeTelegram,
                                                                       clock: VirtualTime) -> None:
    async with running(core, adapter_for(telegram, clock)):
        refused = shown(await ask(telegram, GROUP, BOB, "/papers subscribe diffusion"))
        assert refused.startswith("You need permission to manage this channel to use /papers subscribe.")
        assert (await ask(telegram, GROUP, BOB, "/papers list"))[0].shown.text.startswith("This channel has no")

        [answer] = await ask(telegram, GROUP, ADA, "/papers subscribe diffusion")
        assert answer.shown.text.startswith("Subscribed as #1: diffusion\n")
        assert answer.shown.text.endswith("\nAda subscribed this channel to #1: diffusion")
        assert answer.parse_mode == "HTML" and not answer.previews and seen(answer).problems == ()

        listed = shown(await ask(telegram, GROUP, BOB, "/papers list"))
        assert listed.startswith("#1  diffusion  (by Ada, 2026-08-21)")
        helped = shown(await ask(telegram, GROUP, BOB, "/papers help"))
        assert all(f"/papers {spec.name}" in helped for spec in COMMANDS)
    assert telegram.count("getChatMember") == 5  # every command in a group asks who is an admin


async def test_a_private_chat_is_managed_by_its_user(core: Core, telegram: FakeTelegram, clock: VirtualTime) -> None:
    async with running(core, adapter_for(telegram, clock)):
        [answer] = await ask(telegram, ADA.id, ADA, "/papers subscribe agent")
        assert answer.shown.text.startswith("Subscribed as #1: agent\n")
        assert "Ada subscribed" not in answer.shown.text  # nobody else is there to tell
    assert telegram.count("getChatMember") == 0


async def test_commands_addressed_to_the_bot_by_name(core: Core, telegram: FakeTelegram, clock: VirtualTime) -> None:
    async with running(core, adapter_for(telegram, clock)):
        other = telegram.command(GROUP, BOB, "/papers@another_bot help")
        helped = shown(await ask(telegram, GROUP, BOB, "/papers@paperboy_bot help"))
        assert helped.startswith("Paperboy posts the Hugging Face Daily Papers")
        assert telegram.replies(GROUP, other) == []


async def test_preview_answers_with_the_papers(core: Core, telegram: FakeTelegram, clock: VirtualTime) -> None:
    async with running(core, adapter_for(telegram, clock)):
        replies = await ask(telegram, GROUP, BOB, "/papers preview agent")
    assert re.match(r"\d+ papers? of the last 7 days match agent", replies[0].shown.text)
    assert all(seen(reply).problems == () and seen(reply).size <= 4096 for reply in replies)
    assert sum(seen(reply).items for reply in replies) >= 1


# Digests


def hostile_digest() -> Digest:
    paper = Paper(
        "2408.00001", "<b>Bold</b> & <a href='javascript:alert(1)'>click</a> @everyone", "An abstract.",
        ("@someuser", "Eve &amp; Mallory"), 12, date(2026, 8, 21),
        ai_summary="Pings @channel_admins <i>now</i> \u202eesrever",
        github_repo="javascript:alert(1)", project_page='https://example.com/"><b>x</b>',
    )
    return Digest("Daily Papers, Fri 21 Aug 2026: 1 paper", (DigestItem(paper, (Reason(1, "bold", ("bold",)),)),))


async def test_paper_text_can_neither_format_link_nor_mention(telegram: FakeTelegram, clock: VirtualTime) -> None:
    adapter = adapter_for(telegram, clock)
    running_adapter = asyncio.create_task(adapter.run(_NoHost()))
    try:
        await asyncio.wait_for(adapter.connected.wait(), 10)
        [part] = adapter.render_digest(hostile_digest())
        await adapter.post(channel_key(GROUP), part, "pb.1.0", None)
    finally:
        await adapter.close()
        await running_adapter
    [message] = telegram.messages[GROUP]
    reader = seen(message)
    assert message.parse_mode == "HTML" and not message.previews
    assert reader.problems == ()
    assert "<b>Bold</b> & <a href='javascript:alert(1)'>click</a> @everyone" in reader.text
    assert "@someuser, Eve &amp; Mallory" in reader.text
    assert "Pings @channel_admins <i>now</i> esrever" in reader.text  # no bidi override
    assert f"@{WORD_JOINER}everyone" in message.shown.text
    assert [href for href, _ in message.shown.links] == [
        "https://huggingface.co/papers/2408.00001", "https://arxiv.org/abs/2408.00001", "https://arxiv.org/pdf/2408.00001",
    ]


class _NoHost:
    async def handle(self, ctx: object, text: str) -> object:
        raise AssertionError("no commands here")

    async def subscription_choices(self, key: object) -> list[tuple[str, str]]:
        return []

    async def pace(self, key: object) -> None:
        return None

    async def wait_started(self) -> None:
        return None


async def test_a_long_digest_is_split_and_later_parts_reply_to_the_first(
    core: Core, telegram: FakeTelegram, clock: VirtualTime
) -> None:
    await add_busy_day(core, clock())
    async with running(core, adapter_for(telegram, clock)):
        await ask(telegram, GROUP, ADA, "/papers subscribe the OR a OR of")
        await ask(telegram, GROUP, ADA, "/papers settings max-papers 50")
        done = await ask(telegram, GROUP, ADA, "/papers digest")
    digest = [m for m in telegram.messages[GROUP] if m.shown.text.startswith("Daily Papers")]
    assert len(digest) > 1
    readers = [seen(m) for m in digest]
    assert all(r.problems == () and r.size <= 4096 and r.items <= 10 for r in readers)
    assert all(m.reply_to == digest[0].message_id for m in digest[1:]) and digest[0].reply_to is None
    posted = sum(r.items for r in readers)
    assert shown(done) == f"Posted {posted} papers."
    assert digest[1].shown.text.startswith(f"Daily Papers, Fri 21 Aug 2026: {posted} papers for this channel (2/")


def test_splitting_is_a_pure_function_of_the_digest() -> None:
    digest = hostile_digest()
    many = Digest(digest.title, digest.items * 30, more=4, more_url="https://huggingface.co/papers/date/2026-08-21")
    assert digest_parts(many) == digest_parts(many)
    assert len(digest_parts(many)) == 3 and digest_parts(many)[-1].endswith("on Hugging Face Daily Papers</a>")


async def test_a_rate_limit_is_waited_out(core: Core, telegram: FakeTelegram, clock: VirtualTime) -> None:
    async with running(core, adapter_for(telegram, clock)):
        await ask(telegram, GROUP, ADA, "/papers subscribe agent")
        telegram.faults.append(Fault("sendMessage", 429, "Too Many Requests: retry after 17", retry_after=17))
        done = await ask(telegram, GROUP, ADA, "/papers digest")
    assert 17 in clock.sleeps
    assert re.fullmatch(r"Posted \d+ papers?\.", shown(done))
    assert len([m for m in telegram.messages[GROUP] if m.shown.text.startswith("Daily Papers")]) == 1


async def test_a_kicked_bot_pauses_the_chat_and_says_why(core: Core, telegram: FakeTelegram, clock: VirtualTime) -> None:
    async with running(core, adapter_for(telegram, clock)):
        await ask(telegram, GROUP, ADA, "/papers subscribe agent")
        telegram.gone[GROUP] = KICKED
        channel = await core.store.channel(channel_key(GROUP))
        assert channel is not None
        assert await core.delivery.deliver([channel]) == 0
    paused = await core.store.channel(channel_key(GROUP))
    assert paused is not None and paused.paused_reason == "Telegram says the bot was removed from this chat"


async def test_an_answer_lost_after_posting_is_not_posted_again(core: Core, telegram: FakeTelegram,
                                                                 clock: VirtualTime) -> None:
    async with running(core, adapter_for(telegram, clock)):
        await ask(telegram, GROUP, ADA, "/papers subscribe agent")
        telegram.faults.append(Fault("sendMessage", 502, "Bad Gateway", commit=True))
        await ask(telegram, GROUP, ADA, "/papers digest")
        await core.delivery.send_open()
    digests = [m for m in telegram.messages[GROUP] if m.shown.text.startswith("Daily Papers")]
    assert len(digests) == 1  # stored once, its answer lost: at most once
    assert await core.store.open_digests() == []


# Stopping and starting


async def test_a_revoked_token_stops_telegram_and_the_others_go_on(
    core: Core, telegram: FakeTelegram, clock: VirtualTime, caplog: pytest.LogCaptureFixture
) -> None:
    adapter, other = adapter_for(telegram, clock), MemoryAdapter(serve=True)
    with caplog.at_level(logging.INFO):
        async with running(core, adapter, other) as core_task:
            telegram.token = "123456789:revoked"
            telegram.command(GROUP, BOB, "/papers help")  # ends the long poll in flight: the next one is refused
            await asyncio.wait_for(adapter.stopped.wait(), 10)
            async with asyncio.timeout(10):
                while not (errors := [r for r in caplog.records if r.levelno >= logging.ERROR]):
                    await asyncio.sleep(0)  # the line follows the stop within a few turns of the loop
            assert not core_task.done() and not other.finish.is_set()  # the memory platform still serves
    [stopped] = errors
    assert stopped.getMessage().startswith("Telegram adapter stopped: Telegram refused TELEGRAM_BOT_TOKEN")
    assert TOKEN not in caplog.text


async def test_a_post_refused_with_401_stops_the_adapter(core: Core, telegram: FakeTelegram, clock: VirtualTime) -> None:
    adapter = adapter_for(telegram, clock)
    async with running(core, adapter):
        await ask(telegram, GROUP, ADA, "/papers subscribe agent")
        telegram.faults.append(Fault("sendMessage", 401, "Unauthorized"))
        channel = await core.store.channel(channel_key(GROUP))
        assert channel is not None
        assert await core.delivery.deliver([channel]) == 0
        await asyncio.wait_for(adapter.stopped.wait(), 10)
    assert (await core.store.open_digests())  # kept for when Telegram is back


async def test_start_up_waits_for_telegram_with_backoff(
    telegram: FakeTelegram, clock: VirtualTime, caplog: pytest.LogCaptureFixture
) -> None:
    telegram.faults += [Fault("getMe", disconnect=True, times=2), Fault("setMyCommands", 502, "Bad Gateway")]
    adapter = adapter_for(telegram, clock)
    with caplog.at_level(logging.WARNING, logger="adapters.telegram"):
        task = asyncio.create_task(adapter.run(_NoHost()))
        await asyncio.wait_for(adapter.connected.wait(), 10)
        await adapter.close()
        await task
    assert clock.sleeps == [1.0, 2.0, 1.0]
    waits = [r.getMessage() for r in caplog.records if "trying again" in r.getMessage()]
    assert waits[0].startswith("Telegram: getMe failed (") and waits[0].endswith("trying again in 1 s")
    assert waits[2] == "Telegram: setMyCommands failed (Bad Gateway); trying again in 1 s"


async def test_a_refused_token_at_start_stops_with_one_line(
    telegram: FakeTelegram, clock: VirtualTime, caplog: pytest.LogCaptureFixture
) -> None:
    adapter = TelegramAdapter(TelegramConfig("42:wrong", telegram.api_url), timing=clock.timing)
    with caplog.at_level(logging.INFO):
        await asyncio.wait_for(adapter.run(_NoHost()), 10)
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert [r.name for r in errors] == ["adapters.telegram.adapter"]
    assert "42:wrong" not in caplog.text


async def test_close_stops_polling_and_confirms_the_updates(core: Core, telegram: FakeTelegram,
                                                             clock: VirtualTime) -> None:
    adapter = adapter_for(telegram, clock)
    async with running(core, adapter):
        await ask(telegram, GROUP, BOB, "/papers help")
    await adapter.close()
    assert not adapter.app.running
    last = [m for m, _ in telegram.calls].count("getUpdates")
    for _ in range(20):  # turns of the loop in which a poller left running would ask again
        await asyncio.sleep(0)
    assert [m for m, _ in telegram.calls].count("getUpdates") == last
    assert telegram.unconfirmed() == []


# Rating buttons


async def test_digest_buttons_rate_papers_and_answer_the_presser_alone(core: Core, telegram: FakeTelegram,
                                                                       clock: VirtualTime) -> None:
    async with running(core, adapter_for(telegram, clock)):
        await ask(telegram, GROUP, ADA, "/papers subscribe agent")
        await ask(telegram, GROUP, ADA, "/papers digest")
        [digest] = [m for m in telegram.messages[GROUP] if m.keyboard]
        assert digest.keyboard[0] == [
            {"text": "👍 1", "callback_data": "pb:+:2608.19880"},
            {"text": "👎 1", "callback_data": "pb:-:2608.19880"},
        ]
        assert len(digest.keyboard) == 6
        sent = len(telegram.messages[GROUP])

        async def press(user: object, data: str) -> str:
            query = telegram.press(GROUP, user, digest, data)  # type: ignore[arg-type]
            await telegram.wait_for(lambda: query in telegram.answers)
            return str(telegram.answers[query].get("text", ""))

        assert (await press(BOB, "pb:+:2608.19880")).startswith("👍 You liked 2608.19880 (EnvHarness")
        assert (await press(BOB, "pb:-:2608.19880")).startswith("👎 You disliked 2608.19880")
        assert (await press(BOB, "pb:-:2608.19880")).startswith("Took back your rating of 2608.19880")
        assert (await press(ADA, "pb:-:2608.18580")).startswith("👎 You disliked 2608.18580")
        channel = await core.store.channel(channel_key(GROUP))
        assert channel is not None and await core.store.ratings(channel.id) == [("2608.18580", -1)]
        assert len(telegram.messages[GROUP]) == sent  # nothing posted in the group
