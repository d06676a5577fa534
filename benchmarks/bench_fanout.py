"""One day's digest fanned out to 1,000 channels, against the rate limits of Slack and Discord.

Run `python benchmarks/bench_fanout.py [--channels N]` (about 3 minutes). Each channel
follows `upvotes:>=0`, so its digest is the recorded 2026-08-21 day: 10 of its 17 papers and
"and 7 more", one message on both platforms. The real adapters post over loopback HTTP to
the fakes in tests/fakes, which enforce the limits in real time and answer 429 past them:

- Slack: one post per second per channel, and a workspace budget of SLACK_PER_MINUTE posts
  in any minute. Slack publishes only "several hundred per minute"; 600 keeps the run short
  while the budget, not the channel limit, stays the bound. The adapter is given the same
  budget (its default, 120, would make this run 8 minutes long).
- Discord: 50 requests per second globally and 5 messages per 5 s per channel.

The last row runs Discord again with three workers (three cores, each with its own adapter,
gateway connection and connection pool) on one PostgreSQL database, started for the run
(tests/postgres_server.py, or PAPERBOY_TEST_POSTGRES): every worker fires every channel's
job, as their schedulers would, and they share the 50/s through the database. Its baseline is
the single-process Discord row above it, measured in the same run.

All channels fall due at once, as when their 09:00 jobs fire together. The lower bound is
the slowest limit: max over limits of posts / rate. The first post comes only once the core
has planned the digests, so the table shows that time and the posting time apart. Every
channel must get its digest exactly once: counted at the fake, and the ledger must hold that
message as the digest's only part, marked sent. Exits 1 otherwise.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from adapters import discord as discord_adapter  # noqa: E402
from adapters.slack import SlackAdapter  # noqa: E402
from adapters.slack.config import SlackConfig  # noqa: E402
from bot.adapter import Adapter  # noqa: E402
from bot.config import Settings  # noqa: E402
from bot.core import Core  # noqa: E402
from bot.models import ChannelKey  # noqa: E402
from bot.source import FileSource  # noqa: E402
from bot.store import Store  # noqa: E402
from tests.fakes.discord_api import FakeDiscord  # noqa: E402
from tests.postgres_server import PostgresServer, new_database  # noqa: E402
from tests.fakes.slack_api import FakeSlack  # noqa: E402
from tests.support import running  # noqa: E402

DAY = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "2026-08-21.json"
NINE = datetime(2026, 8, 21, 9, 0, tzinfo=UTC)  # the channels' delivery time, when the run happens
CHANNELS = 1_000
SLACK_PER_MINUTE = 600
DISCORD_GLOBAL = 50  # requests per second
DISCORD_CHANNEL = (5, 5.0)  # messages per window of seconds, per channel
GUILD = 1_200_000_000_000_000_000
LONG = 600.0  # seconds; only a guard against a hang
WORKERS = 3


@dataclass(frozen=True)
class Result:
    platform: str
    channels: int
    posts: int
    limit: str
    bound: float
    first: float  # seconds until the first post: planning the digests
    wall: float
    rate_limited: int
    exactly_once: int

    @property
    def ratio(self) -> float:
        return self.wall / self.bound

    @property
    def posting(self) -> float:
        """From the first post to the last, against the bound: the adapter's pacing alone."""
        return (self.wall - self.first) / self.bound


async def fanout(
    db: str,
    adapters: Sequence[Adapter],
    keys: list[ChannelKey],
    connected: Callable[[], Awaitable[object]],
    first_post: Callable[[], Awaitable[object]],
) -> tuple[float, float]:
    """Subscribe every channel, then run all their due digests at once, in one worker per adapter.

    Returns the seconds until `first_post` was over (the fake saw a post), and until every
    digest was marked sent.
    """

    async def posted() -> float:
        await first_post()
        return time.monotonic()

    async with AsyncExitStack() as stack:
        cores = []
        for adapter in adapters:
            core = await Core.open(Settings(db=db, source=str(DAY)), FileSource(DAY), clock=lambda: NINE)
            stack.push_async_callback(core.close)
            await core.fetch([NINE.date()])
            await stack.enter_async_context(running(core, adapter))
            cores.append(core)
        await connected()
        for key in keys:  # after start-up, so the catch-up pass finds nothing due
            channel = await cores[0].store.ensure_channel(key, "09:00", "UTC", NINE)
            await cores[0].store.add_subscription(channel, "upvotes:>=0", "U0BENCH", "bench", NINE, 25)
        started = time.monotonic()
        first = asyncio.create_task(posted())
        await asyncio.gather(*(core.delivery.run_due() for core in cores))  # 09:00 fires in every worker
        wall = time.monotonic() - started
        return await first - started, wall


async def ledger(db: str) -> dict[str, list[str]]:
    """Channel id -> the platform refs of its sent digests' parts; any unsent digest counts as a failure."""
    store = await Store.open(db)
    try:
        rows = await store._all(
            "SELECT c.channel, g.state, p.ref FROM digests g JOIN channels c ON c.id = g.channel_id"
            " LEFT JOIN digest_parts p ON p.digest_id = g.id ORDER BY g.id, p.part"
        )
    finally:
        await store.close()
    found: dict[str, list[str]] = {}
    for channel, state, ref in rows:
        found.setdefault(channel, []).append(ref if state == "sent" else "unsent")
    return found


def once(posted: dict[str, list[str]], recorded: dict[str, list[str]], channels: list[str]) -> int:
    """How many channels show exactly one message, recorded in the ledger as their sent digest's only part."""
    return sum(1 for c in channels if len(posted.get(c, [])) == 1 and recorded.get(c) == posted[c])


async def slack_run(tmp: Path, count: int) -> Result:
    async with FakeSlack(channel_rate=True, workspace_per_minute=SLACK_PER_MINUTE) as slack:
        ids = [slack.add_channel(f"papers-{n}") for n in range(count)]
        config = SlackConfig(
            bot_token=slack.bot_token, signing_secret="bench", port=0, api_url=slack.api_url, host="127.0.0.1"
        )
        adapter = SlackAdapter(config, per_minute=SLACK_PER_MINUTE)
        keys = [ChannelKey("slack", slack.team_id, c) for c in ids]
        first, wall = await fanout(
            str(tmp / "slack.db"), [adapter], keys, adapter.connected.wait,
            lambda: slack.wait_for(lambda: slack.calls_to("chat.postMessage"), LONG),
        )
        posted = {c: [m.ts for m in slack.posts(c)] for c in ids}
        limited = sum(1 for call in slack.calls_to("chat.postMessage") if call.status == 429)
    posts = sum(map(len, posted.values()))
    bound = max(posts / (SLACK_PER_MINUTE / 60), max(map(len, posted.values())) / 1.0)
    return Result("Slack", count, posts, f"{SLACK_PER_MINUTE}/min workspace, 1/s per channel", bound, first, wall,
                  limited, once(posted, await ledger(str(tmp / "slack.db")), ids))


async def discord_run(db: str, count: int, workers: int = 1) -> Result:
    fake = FakeDiscord(global_limit=DISCORD_GLOBAL, channel_limit=DISCORD_CHANNEL)
    await fake.start()
    try:
        env = {"DISCORD_TOKEN": fake.token, "DISCORD_GUILD_IDS": str(GUILD), "DISCORD_API_URL": fake.api_url,
               "DISCORD_GATEWAY_URL": fake.gateway_url}
        adapters = [discord_adapter.create(env) for _ in range(workers)]
        ids = [GUILD + 1 + n for n in range(count)]
        keys = [ChannelKey("discord", str(GUILD), str(c)) for c in ids]
        first, wall = await fanout(
            db, adapters, keys, lambda: fake.wait_for(lambda: fake.identified >= workers),
            lambda: fake.wait_for(lambda: any(fake.messages.values()), LONG),
        )
        posted = {str(c): [m["id"] for m in fake.posts(c)] for c in ids}
        limited = sum(1 for method, path, status in fake.requests if status == 429)
    finally:
        await fake.close()
    posts = sum(map(len, posted.values()))
    per_channel = max(map(len, posted.values())) / (DISCORD_CHANNEL[0] / DISCORD_CHANNEL[1])
    bound = max(posts / DISCORD_GLOBAL, per_channel)
    name = "Discord" if workers == 1 else f"Discord, {workers} workers on PostgreSQL"
    return Result(name, count, posts, f"{DISCORD_GLOBAL}/s global, 5 per 5 s per channel", bound, first, wall,
                  limited, once(posted, await ledger(db), [str(c) for c in ids]))


def report(results: list[Result]) -> bool:
    print(f"{'platform':<36} {'channels':>8} {'posts':>6}  {'limits':<34} {'bound s':>7} {'1st post s':>10} "
          f"{'wall s':>7} {'ratio':>6} {'posting':>7} {'vs 1':>5} {'429s':>5} {'exactly once':>13}")
    baseline = {r.platform.partition(",")[0]: r.wall for r in results if "," not in r.platform}
    for r in results:
        print(f"{r.platform:<36} {r.channels:>8,} {r.posts:>6,}  {r.limit:<34} {r.bound:>7.1f} {r.first:>10.1f} "
              f"{r.wall:>7.1f} {r.ratio:>5.2f}x {r.posting:>6.2f}x {r.wall / baseline[r.platform.partition(',')[0]]:>4.2f}x "
              f"{r.rate_limited:>5} {r.exactly_once:>6,}/{r.channels:,}")
    print("bound: max over limits of posts / rate. ratio: wall / bound. posting: (wall - 1st post) / bound.")
    print("vs 1: wall against the same platform's single-process SQLite run (the baseline, measured above).")
    print("targets: wall within 1.20x of the bound, a handful of 429s at most (<= 5), every channel exactly once")
    for r in results:
        print(f"  {r.platform}: {r.ratio:.2f}x {'met' if r.ratio <= 1.2 else 'MISSED'} "
              f"(posting alone {r.posting:.2f}x), {r.rate_limited} 429s {'met' if r.rate_limited <= 5 else 'MISSED'}, "
              f"exactly once {'met' if r.exactly_once == r.channels else 'MISSED'}")
    return all(r.exactly_once == r.channels for r in results)


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--channels", type=int, default=CHANNELS, help=f"channels per platform (default {CHANNELS:,})")
    count = parser.parse_args().channels
    logging.basicConfig(level=logging.ERROR)
    server = None if os.environ.get("PAPERBOY_TEST_POSTGRES") else PostgresServer.start()
    try:
        admin = os.environ.get("PAPERBOY_TEST_POSTGRES") or (server.url if server else "")
        with tempfile.TemporaryDirectory() as folder:
            tmp = Path(folder)
            results = [await slack_run(tmp, count), await discord_run(str(tmp / "discord.db"), count),
                       await discord_run(await new_database(admin), count, WORKERS)]
    finally:
        if server:
            server.stop()
    return 0 if report(results) else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
