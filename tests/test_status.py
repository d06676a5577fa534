"""`/papers status` and `paperboy status`: why nothing arrived, from what the database holds."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import sqlite3
from contextlib import closing
from datetime import UTC, datetime

from adapters.console import KEY
from bot.core import Core
from bot.models import ChannelKey, CommandContext
from bot.source import SourceError
from bot.store import Store
from bot.store.schema import MIGRATIONS
from tests.support import MemoryAdapter, VirtualTime
from tests.test_cli import paperboy

CTX = CommandContext(KEY, "ada", can_manage=True)
AUG21 = date(2026, 8, 21)


async def status(core: Core, ctx: CommandContext = CTX) -> list[str]:
    reply = await core.commands.handle(ctx, "/papers status")
    assert reply.ok
    return reply.text.splitlines()


async def test_an_empty_day_is_explained_paper_by_paper(core: Core) -> None:
    await core.poll()
    await core.commands.handle(CTX, 'subscribe "quantum chromodynamics"')
    await core.commands.handle(CTX, "schedule 09:00 Europe/Berlin")
    lines = await status(core)
    assert lines[0] == "Last fetch: Fri 21 Aug 07:00 UTC: 17 papers featured on 2026-08-21, no papers featured on 2026-08-20."
    assert lines[1] == "No source errors in the last day."
    assert lines[2] == "Next digest: Sat 22 Aug 09:00 Europe/Berlin."  # 07:00 UTC is already 09:00 in Berlin
    assert lines[3] == "Last digest: none posted here yet."
    assert lines[4] == "Papers featured on Fri 21 Aug 2026: 17, 0 delivered here."
    assert lines[5].startswith("- 17 no subscription matched: EnvHarness: Awakening Static Worlds for Agent Learning; ")
    assert lines[5].endswith("; and 12 more")
    assert len(lines) == 6


async def test_each_left_out_paper_has_its_reason(core: Core, clock: VirtualTime) -> None:
    adapter = MemoryAdapter("console")
    core.delivery.attach({"console": adapter})
    await core.poll()
    await core.commands.handle(CTX, "subscribe llms OR agent")
    await core.commands.handle(CTX, "settings min-upvotes 10")
    await core.commands.handle(CTX, "settings max-papers 2")
    assert (await core.commands.handle(CTX, "digest")).text == "Posted 2 papers."
    lines = await status(core)
    assert lines[3] == "Last digest: Fri 21 Aug 07:00 UTC, 2 papers and 2 more."
    assert lines[4] == "Papers featured on Fri 21 Aug 2026: 17, 2 delivered here."
    reasons = [line.split(":")[0] for line in lines[5:]]
    assert reasons[0] == "- 2 over the cap"
    assert reasons[1].endswith(" below min-upvotes 10") and reasons[2].endswith(" no subscription matched")
    counts = [int(reason.split()[1]) for reason in reasons]
    assert counts[1] > 0 and sum(counts) == 17 - 2
    assert lines[5].startswith('- 2 over the cap: held for "and N more": ')


async def test_open_and_uncertain_digests_pauses_and_source_errors_show(core: Core, clock: VirtualTime) -> None:
    await core.poll()
    await core.commands.handle(CTX, "subscribe agent")
    channel = await core.store.channel(KEY)
    assert channel is not None
    await core.delivery.deliver([channel])  # no adapter attached: the digest stays open
    [digest] = await core.store.open_digests()
    await core.store.claim([channel.id])  # as a worker cut off mid-post leaves it
    await core.store.mark_sending(digest.id, 0)
    await core.commands.handle(CTX, "pause")

    async def failing(day: date) -> list[object]:
        raise SourceError("Hugging Face answered 503 three times")

    core.source.fetch_day = failing  # type: ignore[method-assign]
    clock.advance(hours=1)
    await core.poll()
    lines = await status(core)
    assert lines[0].startswith("Last fetch: Fri 21 Aug 07:00 UTC: 17 papers")
    assert lines[1] == (
        "Source errors in the last day: 2, the last at Fri 21 Aug 08:00 UTC for 2026-08-21: "
        "Hugging Face answered 503 three times"
    )
    assert lines[2] == "Paused: paused by ada. Nothing is posted until /papers resume."
    assert f"Open digest #{digest.id}: 6 papers, not yet sent (a post was in flight: it is looked up before being sent again)." in lines
    assert "- 6 in a digest not yet sent (retried at the next poll): " in "\n".join(lines)


async def test_a_channel_without_subscriptions_says_so(core: Core) -> None:
    lines = await status(core, CommandContext(ChannelKey("console", "local", "other"), "bob"))
    assert lines[-1] == "This channel has no subscriptions, so nothing is posted here. Start with /papers subscribe QUERY."


def test_paperboy_status_reads_what_another_process_recorded(tmp_path: Path) -> None:
    script = '/papers subscribe "quantum chromodynamics"\n'
    assert paperboy(tmp_path, "run", stdin=script).returncode == 0
    every = paperboy(tmp_path, "status")
    assert every.returncode == 0, every.stderr
    assert "17 papers featured on 2026-08-21" in every.stdout.splitlines()[0]
    assert "\n== console:local:console ==\n" in every.stdout
    assert "- 17 no subscription matched: " in every.stdout
    one = paperboy(tmp_path, "status", "--channel", "console:local:console")
    assert one.returncode == 0 and one.stdout == every.stdout

    missing = paperboy(tmp_path, "status", "--channel", "slack:T1:C1")
    assert missing.returncode == 1
    assert missing.stderr == f"paperboy: no channel slack:T1:C1 in {tmp_path / 'cli.db'}: 'paperboy status' lists the channels\n"
    bad = paperboy(tmp_path, "status", "--channel", "slack")
    assert bad.returncode == 2 and "'slack' is not a channel: use PLATFORM:WORKSPACE:CHANNEL" in bad.stderr


async def test_a_database_of_the_previous_schema_gains_the_fetch_log_and_keeps_its_data(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    with closing(sqlite3.connect(path)) as old:
        old.executescript(MIGRATIONS[0])
        old.execute("INSERT INTO channels (platform, workspace, channel, time, tz, created_at)"
                    " VALUES ('console', 'local', 'console', '09:00', 'UTC', '2026-08-20T00:00:00+00:00')")
        old.execute("PRAGMA user_version = 1")
        old.commit()
    store = await Store.open(str(path))
    try:
        assert await store.channel(KEY) is not None
        assert await store.last_poll() == []
        await store.record_fetch(date(2026, 8, 10), datetime(2026, 8, 10, 7, tzinfo=UTC), None, "timeout")
        assert len(await store.fetch_errors(datetime(2026, 8, 1, tzinfo=UTC))) == 1
        await store.record_fetch(AUG21, datetime(2026, 8, 21, 7, tzinfo=UTC), 17)
        assert await store.fetch_errors(datetime(2026, 8, 1, tzinfo=UTC)) == []  # kept a week
        [fetch] = await store.last_poll()
        assert (fetch.day, fetch.papers, fetch.error) == (AUG21, 17, None)
    finally:
        await store.close()
    with closing(sqlite3.connect(path)) as again:
        assert again.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
