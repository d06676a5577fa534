"""The core end to end through the console adapter: subscribe, poll, digest on the clock, restart."""

from __future__ import annotations

import io
from collections.abc import Sequence
from datetime import date
from pathlib import Path

from adapters.console import KEY, ConsoleAdapter
from bot.adapter import ChannelGone, SendFailed
from bot.config import Settings
from bot.core import Core
from bot.models import ChannelKey, CommandContext, Digest
from bot.source import FileSource, SourceError
from tests.support import MemoryAdapter, VirtualTime

CTX = CommandContext(KEY, "ada", can_manage=True)
AUG21 = date(2026, 8, 21)


def Recorder() -> MemoryAdapter:  # noqa: N802 - reads as the class it stands for
    """An adapter that records what it was asked to post, and can be told to fail."""
    return MemoryAdapter("console")


async def restarted(core: Core, days_dir: Path, clock: VirtualTime, adapter: MemoryAdapter, passes: int = 1) -> None:
    """Stop `core` and run the start-up of a new process on the same database."""
    await core.store.close()
    again = await Core.open(core.settings, FileSource(days_dir), clock)
    again.delivery.attach({adapter.platform: adapter})
    for _ in range(passes):
        await again.start()
        again.scheduler.shutdown()
    core.store = again.store  # the fixture closes it


def titles(digest: Digest) -> list[str]:
    return [item.paper.title for item in digest.items]


async def started(core: Core, adapter: MemoryAdapter) -> MemoryAdapter:
    core.delivery.attach({adapter.platform: adapter})
    await core.poll()
    return adapter


async def test_subscribe_reports_id_and_recent_matches(core: Core) -> None:
    await core.poll()
    reply = await core.commands.handle(CTX, "/papers subscribe agent")
    assert reply.ok
    assert reply.text.startswith("Subscribed as #1: agent")
    assert "It would have matched 6 papers in the last 7 days" in reply.text
    assert reply.announcement == "subscribed this channel to #1: agent"
    listing = await core.commands.handle(CTX, "list")
    assert "#1  agent  (by ada," in listing.text
    assert "daily at 09:00 UTC" in listing.text


async def test_daily_digest_at_the_channel_time_once_across_restart(
    core: Core, tmp_path: Path, days_dir: Path, clock: VirtualTime
) -> None:
    recorder = await started(core, Recorder())
    await core.commands.handle(CTX, "subscribe agent OR agents")
    await core.commands.handle(CTX, "schedule 10:30 Europe/Berlin")  # 08:30 UTC in August

    clock.advance(hours=1)  # 08:00 UTC: not yet
    assert await core.delivery.run_due() == 0
    assert recorder.posted == []

    clock.advance(minutes=31)  # 08:31 UTC
    assert await core.delivery.run_due() == 6
    [digest] = recorder.posted
    assert titles(digest)[0] == "EnvHarness: Awakening Static Worlds for Agent Learning"
    upvotes = [item.paper.upvotes for item in digest.items]
    assert upvotes == sorted(upvotes, reverse=True)
    assert digest.items[0].reasons[0].words == ("agent", "agents")
    assert await core.delivery.run_due() == 0  # the job firing twice posts nothing

    # Restart on the same database: the start-up catch-up must not post again.
    second = Recorder()
    await restarted(core, days_dir, clock, second)
    assert second.posted == []


async def test_missed_time_while_down_delivers_once_on_start(core: Core, days_dir: Path, clock: VirtualTime) -> None:
    await started(core, Recorder())
    await core.commands.handle(CTX, "subscribe agent")
    clock.advance(hours=5)  # the bot was down over 09:00 UTC
    recorder = Recorder()
    await restarted(core, days_dir, clock, recorder, passes=2)  # a second pass finds nothing due
    assert len(recorder.posted) == 1
    assert len(recorder.posted[0].items) == 6


async def test_crash_between_send_and_mark_resumes_without_a_second_post(core: Core) -> None:
    recorder = await started(core, Recorder())
    await core.commands.handle(CTX, "subscribe agent")
    recorder.crash_after_post = True
    channel = await core.store.channel(KEY)
    assert channel is not None
    try:
        await core.delivery.deliver([channel])
    except KeyboardInterrupt:
        pass
    [open_digest] = await core.store.open_digests()
    assert open_digest.state == "sending"

    looked_up: list[str] = []

    class Reconciler(MemoryAdapter):
        async def find(self, key: ChannelKey, part_keys: Sequence[str], reply_to: str | None) -> dict[str, str]:
            looked_up.extend(part_keys)
            return {part: "found-in-history" for part in part_keys}  # the platform already had it

    reconciler = Reconciler("console")
    core.delivery.attach({"console": reconciler})
    await core.delivery.send_open()
    assert looked_up == [f"pb{core.store.install_id}-{open_digest.id}.0"]
    assert len(f"pb{core.store.install_id}-{open_digest.id}.99") <= 25  # fits Discord's nonce
    assert await core.store.open_digests() == []
    assert len(recorder.posted) == 1 and reconciler.posted == []
    assert (await core.commands.handle(CTX, "digest")).text.startswith("Nothing new")


async def test_first_digest_is_newest_day_only_never_old_backlog(core: Core) -> None:
    recorder = await started(core, Recorder())
    await core.fetch([date(2024, 10, 25)])  # an old day in the store
    await core.commands.handle(CTX, "subscribe llms OR agent")
    reply = await core.commands.handle(CTX, "digest")
    assert reply.text == "Posted 9 papers."
    assert {item.paper.featured_day for item in recorder.posted[0].items} == {AUG21}


async def test_cap_says_and_n_more_and_leftovers_never_flood(core: Core) -> None:
    recorder = await started(core, Recorder())
    await core.commands.handle(CTX, "subscribe agent")
    assert (await core.commands.handle(CTX, "settings max-papers 2")).text == "max-papers is now 2."
    await core.commands.handle(CTX, "digest")
    digest = recorder.posted[0]
    assert len(digest.items) == 2 and digest.more == 4
    assert digest.more_url == "https://huggingface.co/papers/date/2026-08-21"
    assert digest.title == "Daily Papers, Fri 21 Aug 2026: 6 papers for this channel"
    assert (await core.commands.handle(CTX, "digest")).text.startswith("Nothing new")


async def test_min_upvotes_filters(core: Core) -> None:
    recorder = await started(core, Recorder())
    await core.commands.handle(CTX, "subscribe agent")
    await core.commands.handle(CTX, "settings min-upvotes 30")
    await core.commands.handle(CTX, "digest")
    assert all(item.paper.upvotes >= 30 for item in recorder.posted[0].items)
    assert len(recorder.posted[0].items) == 3


async def test_instant_mode_posts_after_each_poll(core: Core) -> None:
    recorder = await started(core, Recorder())
    await core.commands.handle(CTX, "subscribe agent")
    await core.commands.handle(CTX, "mode instant")
    await core.poll()
    assert len(recorder.posted) == 1
    await core.poll()
    assert len(recorder.posted) == 1


async def test_channel_gone_pauses_with_reason_and_resume_sends(core: Core) -> None:
    recorder = await started(core, Recorder())
    await core.commands.handle(CTX, "subscribe agent")
    recorder.fail = ChannelGone("the bot was removed from the channel (not_in_channel)")
    await core.commands.handle(CTX, "digest")
    listing = await core.commands.handle(CTX, "list")
    assert "Paused: the bot was removed from the channel (not_in_channel)." in listing.text
    recorder.fail = None
    assert (await core.commands.handle(CTX, "resume")).text.startswith("Resumed")
    assert len(recorder.posted) == 1



async def test_a_workspace_gone_pauses_its_channels_only(core: Core) -> None:
    recorder = await started(core, Recorder())
    keys = {name: ChannelKey("console", workspace, name) for name, workspace in
            (("a", "W1"), ("b", "W1"), ("c", "W2"), ("d", "W1"))}
    for key in keys.values():
        await core.commands.handle(CommandContext(key, "ada", can_manage=True), "subscribe agent")
    await core.commands.handle(CommandContext(keys["d"], "ada", can_manage=True), "pause")
    await core.host(recorder).workspace_gone("console", "W1", "the app was uninstalled")
    reasons = {name: (await core.store.channel(key)).paused_reason for name, key in keys.items()}  # type: ignore[union-attr]
    assert reasons == {"a": "the app was uninstalled", "b": "the app was uninstalled", "c": None, "d": "paused by ada"}
    listing = await core.commands.handle(CommandContext(keys["a"], "ada"), "list")
    assert "Paused: the app was uninstalled." in listing.text

async def test_transient_failure_keeps_digest_for_next_poll(core: Core) -> None:
    recorder = await started(core, Recorder())
    await core.commands.handle(CTX, "subscribe agent")
    recorder.fail = SendFailed("timeout")
    await core.commands.handle(CTX, "digest")
    assert len(await core.store.open_digests()) == 1
    recorder.fail = None
    await core.poll()
    assert len(recorder.posted) == 1 and await core.store.open_digests() == []


async def test_source_down_is_logged_and_bot_goes_on(core: Core, caplog) -> None:  # type: ignore[no-untyped-def]
    class Down:
        async def fetch_day(self, day: date) -> list:  # type: ignore[type-arg]
            raise SourceError("huggingface.co unreachable after 4 attempts: timeout")

        def current_days(self, today: date) -> list[date]:
            return [today]

        async def aclose(self) -> None:
            return None

    real = core.source
    core.source = Down()  # type: ignore[assignment]
    assert await core.poll() == {}
    assert "could not fetch 2026-08-21, will try again at the next poll" in caplog.text
    core.source = real
    assert (await core.poll())[AUG21] == 17


async def test_permissions_and_bad_input_change_nothing(core: Core) -> None:
    await core.poll()
    guest = CommandContext(KEY, "bob", can_manage=False)
    refused = await core.commands.handle(guest, "subscribe agent")
    assert not refused.ok and "permission to manage this channel" in refused.text
    cases = {
        "subscribe": "Usage: /papers subscribe QUERY",
        'subscribe "open': "That query does not parse: ",
        "unsubscribe x": "Usage: /papers unsubscribe ID|all",
        "unsubscribe 9": "This channel has no subscription #9. /papers list shows the ids.",
        "schedule 25:00": "'25:00' is not a time: use 24-hour HH:MM",
        "schedule 09:00 Mars/Olympus": "'Mars/Olympus' is not a time zone",
        "mode hourly": "Usage: /papers mode daily|weekly|instant [DAY]",
        "mode weekly someday": "'someday' is not a day of the week: use one of monday,",
        "mode daily friday": "Usage: /papers mode daily|weekly|instant [DAY]",
        "like": "Usage: /papers like ARXIV_ID",
        "like <b>": "'<b>' is not an arXiv id.",
        "like 2608.99999": "No paper 2608.99999 in Paperboy's store or on Hugging Face",
        "preview like:2608.99999": "No paper 2608.99999 in Paperboy's store or on Hugging Face",
        "subscribe like:2608.99999 -survey": "No paper 2608.99999 in Paperboy's store or on Hugging Face",
        "taste sweet": "Usage: /papers taste [reset]",
        "settings suggestions 11": "suggestions takes a whole number from 0 to 10, got '11'.",
        "settings max-papers 0": "max-papers takes a whole number from 1 to 50, got '0'.",
        "settings colour blue": "Usage: /papers settings min-upvotes|max-papers|suggestions N",
        "frobnicate": "Unknown command 'frobnicate'.",
        "digest": "This channel has no subscriptions yet.",
    }
    for text, expected in cases.items():
        reply = await core.commands.handle(CTX, text)
        assert not reply.ok, text
        assert reply.text.startswith(expected), (text, reply.text)
    assert await core.store.channels() == []


async def test_subscription_limit_and_duplicates(core: Core) -> None:
    core.commands._settings = Settings(db=core.settings.db, max_subscriptions=2)
    assert (await core.commands.handle(CTX, "subscribe agent")).ok
    assert (await core.commands.handle(CTX, "subscribe agent")).text == (
        "This channel already follows that query as #1."
    )
    assert (await core.commands.handle(CTX, "subscribe diffusion")).ok
    full = await core.commands.handle(CTX, "subscribe video")
    assert full.text.startswith("This channel already has 2 subscriptions, the most it can have.")
    assert len(await core.store.subscriptions()) == 2
    assert (await core.commands.handle(CTX, "unsubscribe all")).text == (
        "Unsubscribed #1 (agent), #2 (diffusion)."
    )


async def test_creator_may_remove_own_subscription_without_manage_rights(core: Core) -> None:
    await core.commands.handle(CommandContext(KEY, "bob", can_manage=True), "subscribe agent")
    await core.commands.handle(CTX, "subscribe video")
    bob = CommandContext(KEY, "bob", can_manage=False)
    assert not (await core.commands.handle(bob, "unsubscribe 2")).ok
    assert (await core.commands.handle(bob, "unsubscribe 1")).ok


async def test_preview_lists_matches_with_why(core: Core) -> None:
    await core.poll()
    reply = await core.commands.handle(CTX, 'preview "coding agents" OR title:benchmark')
    assert reply.text.startswith("3 papers of the last 7 days match")
    assert reply.items[0].paper.id == "2608.19799"


async def test_console_renders_digest_with_links(core: Core) -> None:
    out = io.StringIO()
    console = ConsoleAdapter(stdin=io.StringIO(""), stdout=out, user="ada")
    core.delivery.attach({"console": console})
    await core.poll()
    await core.commands.handle(CTX, "subscribe agent")
    await core.commands.handle(CTX, "digest")
    text = out.getvalue()
    assert "== Daily Papers, Fri 21 Aug 2026: 6 papers for this channel ==" in text
    assert "1. EnvHarness: Awakening Static Worlds for Agent Learning  [163 upvotes" in text
    assert "HF: https://huggingface.co/papers/2608.19880" in text
    assert "why: agent (#1)" in text


async def test_digest_says_why_nothing_was_posted_when_sending_failed(core: Core) -> None:
    recorder = await started(core, Recorder())
    await core.commands.handle(CTX, "subscribe agent")
    recorder.fail = SendFailed("HTTP 503")
    assert (await core.commands.handle(CTX, "digest")).text == (
        "The digest could not be posted yet; it will be retried at the next poll."
    )
    recorder.fail = ChannelGone("the bot lacks permission to post here (50013)")
    assert (await core.commands.handle(CTX, "digest")).text == (
        "Could not post here: the bot lacks permission to post here (50013). Fix that, then /papers resume."
    )


async def test_list_shows_display_names(core: Core) -> None:
    await core.commands.handle(CommandContext(KEY, "U042", user_name="Grace"), "subscribe agent")
    assert "#1  agent  (by Grace, " in (await core.commands.handle(CTX, "list")).text
