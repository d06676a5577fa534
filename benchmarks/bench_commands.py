"""How fast `/papers` is acknowledged while large digests are going out, by one worker and by two.

Run `python benchmarks/bench_commands.py` (about 70 s). The real `paperboy run` runs as
its own process with Slack (HTTP mode) and Discord, against the fakes in tests/fakes, which
enforce the platforms' rate limits in real time. Once it is up, `/papers digest` starts
50-paper digests in 5 Slack and 40 Discord channels; with those going out, 200 commands per
platform arrive at once (help, list, preview, subscribe, spread over 20 channels):

- Slack: signed requests to /slack/events, over 200 keep-alive connections opened beforehand
  (as between Slack and a busy bot), from a process of their own (benchmarks/slack_sender.py),
  so that serving the fakes here delays no ack's reading; the time runs from the request's
  last byte on the wire until its HTTP 200 came back;
- Discord: interactions over the fake gateway; the time runs from sending the event until
  the bot's interaction callback (the defer) reached the fake.

Three setups, each on a fresh database: one worker on SQLite (the default deployment), one
worker on PostgreSQL (the baseline), and two workers on that PostgreSQL sharing Slack's PORT
(SO_REUSEPORT: the kernel spreads the keep-alive connections over them; the table shows how
many each held) and splitting Discord's gateway into two shards (the burst's server is on one).
The PostgreSQL server is started for the run (tests/postgres_server.py), or PAPERBOY_TEST_POSTGRES
names one. "vs 1" is a p99 against the same platform's one-worker PostgreSQL run, measured in
the same run.

Slack (like Discord) gives up on a command not acknowledged within 3 seconds; the target
here is a Slack p99 under 150 ms with two workers. Answers come later and are reported as one
time: until the last one arrived. Exits 1 when a command was refused or never answered, or
when a worker of a shared port held none of the connections.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass
from datetime import UTC, date, datetime
from itertools import count
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from adapters.slack import EVENTS_PATH  # noqa: E402
from bot.config import Settings  # noqa: E402
from bot.core import Core  # noqa: E402
from bot.models import ChannelKey  # noqa: E402
from tests.conftest import add_busy_day  # noqa: E402
from tests.fakes.discord_api import FakeDiscord, Interaction  # noqa: E402
from tests.fakes.slack_api import FakeSlack, signed, slash_command  # noqa: E402
from tests.postgres_server import PostgresServer, new_database  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures"
DAY = FIXTURES / "2026-08-21.json"
AUG21 = date(2026, 8, 21)
PAPERBOY = Path(sys.executable).parent / "paperboy"
SECRET = "bench-signing-secret"
GUILD = 1_300_000_000_000_000_000
COMMANDS = 200  # per platform, all at once
ROOMS = 20  # channels the commands are spread over
DIGESTS = {"slack": 5, "discord": 40}  # channels getting a 50-paper digest during the burst
MIX: tuple[tuple[str, dict[str, str]], ...] = (
    ("help", {}), ("list", {}), ("preview", {"query": "agent"}), ("subscribe", {"query": '"diffusion model"'})
)
WAIT = 60.0  # seconds; only a guard against a hang
TARGET_MS = 150.0  # Slack's p99 with two workers
_names = count(1)


@dataclass(frozen=True)
class Setup:
    name: str
    workers: int
    postgres: bool


SETUPS = (Setup("1 worker, SQLite", 1, False), Setup("1 worker, PostgreSQL", 1, True),
          Setup("2 workers, PostgreSQL", 2, True))
BASELINE = SETUPS[1]


@dataclass(frozen=True)
class Result:
    setup: Setup
    platform: str
    timings: list[tuple[float, float]]  # (sent, acknowledged) on the monotonic clock, per command acknowledged
    refused: int
    digest_posts: int  # digest messages (on either platform) that went out from the burst to its last ack
    answered: int
    last_answer: float  # seconds from the burst until the last answer arrived
    held: tuple[int, ...] = ()  # Slack: the keep-alive connections each worker held as the burst began

    @property
    def acks(self) -> list[float]:
        return [acked - sent for sent, acked in self.timings]

    def percentile(self, p: int) -> float:
        return statistics.quantiles(self.acks, n=100, method="inclusive")[p - 1] * 1000

    @property
    def rate(self) -> float:
        """Acknowledgements per second, from the first command sent to the last one acknowledged."""
        return len(self.timings) / (max(a for _, a in self.timings) - min(s for s, _ in self.timings))


async def seed(db: str, keys: list[ChannelKey]) -> None:
    """59 papers on one day; the channels follow all of them, 50 a digest, today's already run."""
    core = await Core.open(Settings(db=db, source=str(DAY)))
    try:
        now = datetime.now(UTC)
        await core.fetch([AUG21])
        await add_busy_day(core, now)
        for key in keys:
            channel = await core.store.ensure_channel(key, "09:00", "UTC", now)
            await core.store.add_subscription(channel, "upvotes:>=0", "U0BENCH", "bench", now, 25)
            await core.store.update_channel(channel, max_papers=50, last_run_at=now)  # due only on /papers digest
    finally:
        await core.close()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def held(pid: int, port: int) -> int:
    """The established TCP connections to local `port` that process `pid` holds (Linux: /proc)."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] == "01" and int(fields[1].rsplit(":", 1)[1], 16) == port:  # 01: ESTABLISHED
                inodes.add(fields[9])
    links = []
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            links.append(os.readlink(fd))
        except OSError:
            continue  # closed meanwhile
    return sum(link.startswith("socket:[") and link[8:-1] in inodes for link in links)


class SlackUser:
    """Types `/papers ...` in Slack: signed requests to the bot's HTTP endpoint, as Slack sends them.

    They go out from benchmarks/slack_sender.py, a process of its own holding the keep-alive
    connections, so that neither building them nor the fakes' work here delays reading an ack:
    the time runs from a request's last byte on the wire to its answer's headers.
    """

    def __init__(self, slack: FakeSlack, sender: asyncio.subprocess.Process) -> None:
        self.slack = slack
        self.user = slack.add_user("ada")
        self._sender = sender

    @classmethod
    async def start(cls, slack: FakeSlack, port: int) -> SlackUser:
        sender = await asyncio.create_subprocess_exec(
            sys.executable, ROOT / "benchmarks" / "slack_sender.py", str(port), EVENTS_PATH,
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        )
        return cls(slack, sender)

    async def send(self, commands: list[tuple[str, str]]) -> list[tuple[int, tuple[float, float], str]]:
        """Each (text, channel) at once: the HTTP status, when it was sent and answered, and the name of
        the command's response_url."""
        assert self._sender.stdin is not None and self._sender.stdout is not None
        names = [f"r{next(_names)}" for _ in commands]
        batch = [signed(SECRET, slash_command(self.slack, text, channel=channel, user=self.user, reply_to=name))
                 for (text, channel), name in zip(commands, names)]
        self._sender.stdin.write(json.dumps(batch).encode() + b"\n")
        await self._sender.stdin.drain()
        timed = json.loads(await asyncio.wait_for(self._sender.stdout.readline(), WAIT))
        return [(status, (sent, acked), name) for (status, sent, acked), name in zip(timed, names)]

    async def close(self) -> None:
        assert self._sender.stdin is not None
        self._sender.stdin.close()
        await asyncio.wait_for(self._sender.wait(), WAIT)


def _text(subcommand: str, options: dict[str, str]) -> str:
    return " ".join([subcommand, *options.values()])


async def slack_burst(user: SlackUser, rooms: list[str]) -> list[tuple[int, tuple[float, float], str]]:
    return await user.send([(_text(*MIX[n % len(MIX)]), rooms[n % len(rooms)]) for n in range(COMMANDS)])


async def discord_burst(fake: FakeDiscord, rooms: list[int]) -> list[tuple[Interaction, float]]:
    """Every interaction with the time it was sent, once the bot has acknowledged them all."""

    async def one(n: int) -> tuple[Interaction, float]:
        subcommand, options = MIX[n % len(MIX)]
        sent = time.monotonic()
        return await fake.slash(GUILD, rooms[n % len(rooms)], subcommand, options), sent

    sent = await asyncio.gather(*(one(n) for n in range(COMMANDS)))
    await fake.wait_for(lambda: all(i.acked_at for i, _ in sent), WAIT)
    return list(sent)


async def listening(logs: list[Path]) -> None:
    """Until every worker says it serves Slack: only then do new connections spread over all of them."""
    deadline = time.monotonic() + WAIT
    while not all("HTTP mode on" in log.read_text() for log in logs):
        if time.monotonic() > deadline:
            raise TimeoutError("a worker never served Slack: " + " | ".join(log.read_text()[-500:] for log in logs))
        await asyncio.sleep(0.1)


async def warm_up(user: SlackUser, room: str) -> None:
    """Wait until the workers have caught up (Slack commands are answered only then), with a
    keep-alive connection open for each command of the burst, as between Slack and a busy bot."""
    sent = await user.send([("help", room)] * COMMANDS)
    names = {name for status, _, name in sent if status == 200}
    assert len(names) == COMMANDS
    await user.slack.wait_for(lambda: names <= {r.name for r in user.slack.responses}, WAIT)


async def answered(wait: Callable[[], Awaitable[object]], started: float) -> float:
    """Seconds from `started` until `wait` is over."""
    await wait()
    return time.monotonic() - started


async def run(tmp: Path, setup: Setup, db: str) -> list[Result]:
    async with AsyncExitStack() as stack:
        slack = await stack.enter_async_context(FakeSlack(channel_rate=True, workspace_per_minute=120))
        discord = FakeDiscord(global_limit=50, channel_limit=(5, 5.0))
        await discord.start()
        stack.push_async_callback(discord.close)
        slack_digests = [slack.add_channel(f"digest-{n}") for n in range(DIGESTS["slack"])]
        slack_rooms = [slack.add_channel(f"room-{n}") for n in range(ROOMS)]
        discord_digests = [GUILD + 1 + n for n in range(DIGESTS["discord"])]
        discord_rooms = [GUILD + 1_000 + n for n in range(ROOMS)]
        await seed(db, [ChannelKey("slack", slack.team_id, c) for c in slack_digests]
                   + [ChannelKey("discord", str(GUILD), str(c)) for c in discord_digests])
        port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith(("DISCORD_", "SLACK_", "PAPERBOY_"))} | {
            "PAPERBOY_DB": db, "PAPERBOY_SOURCE": str(DAY),
            "SLACK_BOT_TOKEN": slack.bot_token, "SLACK_SIGNING_SECRET": SECRET, "PORT": str(port),
            "SLACK_API_URL": slack.api_url, "DISCORD_TOKEN": discord.token, "DISCORD_API_URL": discord.api_url,
            "DISCORD_GATEWAY_URL": discord.gateway_url, "DISCORD_GUILD_IDS": str(GUILD),
        }
        if setup.workers > 1:
            env["DISCORD_SHARD_COUNT"] = str(setup.workers)
        logs = [tmp / f"{setup.name} {n}.log".replace(",", "").replace(" ", "-") for n in range(setup.workers)]
        bots = []
        for n, log in enumerate(logs):
            with log.open("ab") as out:
                shard = {"DISCORD_SHARD_IDS": str(n)} if setup.workers > 1 else {}
                bots.append(await asyncio.create_subprocess_exec(
                    PAPERBOY, "run", cwd=tmp, env=env | shard, stdin=asyncio.subprocess.DEVNULL, stdout=out, stderr=out
                ))
        user = await SlackUser.start(slack, port)
        try:
            await discord.wait_for(lambda: GUILD in discord.commands and discord.identified >= setup.workers, WAIT)
            await listening(logs)
            await warm_up(user, slack_rooms[0])

            # The large digests start going out: /papers digest in each of their channels.
            assert {status for status, _, _ in await user.send([("digest", c) for c in slack_digests])} == {200}
            for room in discord_digests:
                await discord.slash(GUILD, room, "digest")
            await slack.wait_for(lambda: any(slack.posts(c) for c in slack_digests), WAIT)
            await discord.wait_for(lambda: any(discord.posts(c) for c in discord_digests), WAIT)

            def digest_posts() -> int:
                return sum(len(slack.posts(c)) for c in slack_digests) + sum(
                    len(discord.posts(c)) for c in discord_digests
                )

            before, started = digest_posts(), time.monotonic()
            discord_sent = await discord_burst(discord, discord_rooms)
            interactions = [i for i, _ in discord_sent]
            discord_last = await answered(
                lambda: discord.wait_for(lambda: all(i.ephemeral for i in interactions), WAIT), started
            )
            connections = tuple(held(bot.pid, port) for bot in bots)
            discord_posts, before, started = digest_posts() - before, digest_posts(), time.monotonic()
            slack_sent = await slack_burst(user, slack_rooms)
            names = {name for _, _, name in slack_sent}
            slack_posts = digest_posts() - before
            slack_last = await answered(
                lambda: slack.wait_for(lambda: names <= {r.name for r in slack.responses}, WAIT), started
            )
        finally:
            await user.close()
            for bot in bots:
                bot.send_signal(signal.SIGINT)
            for bot in bots:
                await asyncio.wait_for(bot.wait(), WAIT)
    return [
        Result(setup, "Slack", [timing for status, timing, _ in slack_sent if status == 200],
               sum(status != 200 for status, _, _ in slack_sent), slack_posts,
               len(names & {r.name for r in slack.responses}), slack_last, connections),
        Result(setup, "Discord", [(sent, i.acked_at) for i, sent in discord_sent if i.acked_at is not None],
               sum(i.acked_at is None for i in interactions), discord_posts,
               sum(bool(i.ephemeral) for i in interactions), discord_last),
    ]


def report(results: list[Result]) -> bool:
    baseline = {r.platform: r.percentile(99) for r in results if r.setup == BASELINE}
    print(f"{'setup':<22} {'platform':<8} {'commands':>8} {'p50 ack ms':>10} {'p99 ack ms':>10} {'max ms':>7} "
          f"{'vs 1':>5} {'acks/s':>6} {'refused':>7} {'digest msgs meanwhile':>21} {'answered':>8} "
          f"{'last answer s':>13}  connections per worker")
    for r in results:
        print(f"{r.setup.name:<22} {r.platform:<8} {COMMANDS:>8} {r.percentile(50):>10.1f} {r.percentile(99):>10.1f} "
              f"{max(r.acks) * 1000:>7.1f} {r.percentile(99) / baseline[r.platform]:>4.2f}x {r.rate:>6.0f} "
              f"{r.refused:>7} {r.digest_posts:>21} {r.answered:>8} {r.last_answer:>13.1f}  "
              f"{' + '.join(map(str, r.held))}")
    print(f"vs 1: p99 against the same platform's run with {BASELINE.name} (the baseline, measured above)")
    print("acks/s: commands / (last acknowledged - first sent); 200 sent at once are all acknowledged")
    print(f"within {TARGET_MS:.0f} ms only at {COMMANDS / TARGET_MS * 1000:,.0f} acks/s or more")
    print(f"target: Slack's p99 time to acknowledgement under {TARGET_MS:.0f} ms with two workers")
    for r in results:
        if r.platform == "Slack" and r.setup.workers > 1:
            print(f"  {r.setup.name}: p99 {r.percentile(99):.1f} ms {'met' if r.percentile(99) < TARGET_MS else 'MISSED'}")
    spread = all(min(r.held) > 0 for r in results if r.held)
    if not spread:
        print("a worker held no Slack connection: that row did not measure several workers")
    return spread and all(r.refused == 0 and r.answered == COMMANDS for r in results)


async def measure(tmp: Path) -> list[Result]:
    server = None if os.environ.get("PAPERBOY_TEST_POSTGRES") else PostgresServer.start()
    try:
        admin = os.environ.get("PAPERBOY_TEST_POSTGRES") or (server.url if server else "")
        results = []
        for setup in SETUPS:
            db = await new_database(admin) if setup.postgres else str(tmp / f"{setup.workers}.db")
            results += await run(tmp, setup, db)
        return results
    finally:
        if server:
            server.stop()


def main() -> int:
    with tempfile.TemporaryDirectory() as folder:
        results = asyncio.run(measure(Path(folder)))
    return 0 if report(results) else 1


if __name__ == "__main__":
    sys.exit(main())
