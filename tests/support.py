"""What many tests share: one virtual clock and one in-memory chat platform.

`VirtualTime` is both the core's wall clock (call it) and the monotonic clock and sleep
behind pacing and backoff (`timing`): time moves only when a test advances it or code
sleeps on it, so nothing waits on real time.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from bot.adapter import Adapter, Host, Outbox, PlatformLimits
from bot.backoff import Backoff
from bot.models import ChannelKey, CommandContext, Digest, Reply
from bot.pacing import Pacer, Timing
from bot.sending import Ledger, Sender


class VirtualTime:
    def __init__(self, start: datetime = datetime(2026, 8, 21, 7, 0, tzinfo=UTC)) -> None:
        self.start = start
        self.now = start
        self.sleeps: list[float] = []

    def __call__(self) -> datetime:
        return self.now

    def clock(self) -> float:
        return self.now.timestamp()

    def at(self, seconds: float) -> None:
        """Move the clock to `seconds` after its start."""
        self.now = self.start + timedelta(seconds=seconds)

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += timedelta(seconds=max(0.0, seconds))
        await asyncio.sleep(0)

    @property
    def timing(self) -> Timing:
        return Timing(self.clock, self.sleep, self.clock)


@dataclass
class MemoryAdapter:
    """A chat platform in memory: each digest is one message, recorded by channel.

    `fail` makes every post raise it; `crash_after_post` makes the process "die" (a
    KeyboardInterrupt) right after the platform accepted a post; `serve` keeps `run` going
    until `finish` is set, as a connected platform would.
    """

    platform: str = "memory"
    serve: bool = False
    limits: PlatformLimits = PlatformLimits(text_chars=4000, items_per_message=50, chars_per_message=100_000)
    verifies_sends: bool = True
    fail: Exception | None = None
    crash_after_post: bool = False
    by_channel: defaultdict[str, list[Digest]] = field(default_factory=lambda: defaultdict(list))
    finish: asyncio.Event = field(default_factory=asyncio.Event)
    host: Host | None = None

    @property
    def posted(self) -> list[Digest]:
        return [digest for digests in self.by_channel.values() for digest in digests]

    async def run(self, host: Host) -> None:
        self.host = host
        if self.serve:
            await self.finish.wait()

    def render_digest(self, digest: Digest) -> Sequence[Digest]:
        return [digest]

    async def post(self, key: ChannelKey, message: Digest, part_key: str, reply_to: str | None) -> str:
        if self.fail:
            raise self.fail
        self.by_channel[key.channel].append(message)
        if self.crash_after_post:
            raise KeyboardInterrupt  # the process dies after the platform accepted the post
        return f"{key.channel}-{len(self.by_channel[key.channel])}"

    async def find(self, key: ChannelKey, part_keys: Sequence[str], reply_to: str | None) -> dict[str, str]:
        return {}

    async def close(self) -> None:
        self.finish.set()


@dataclass
class MemoryOutbox:
    """An Outbox's storage, as the core would persist it, with an optional crash after the
    platform accepted part `crash_after` and before it was recorded."""

    sent: dict[int, str] = field(default_factory=dict)
    crash_after: int | None = None
    in_flight: bool = False

    def outbox(self, key: str = "pb7", uncertain: bool | None = None) -> Outbox:
        async def record(part: int, ref: str) -> None:
            if self.crash_after == part:
                raise RuntimeError("the process died before recording the part")
            self.sent[part] = ref
            self.in_flight = False

        return Outbox(key, dict(self.sent), self.in_flight if uncertain is None else uncertain, record)

    @property
    def ledger(self) -> Ledger:
        async def begin(part: int) -> None:
            self.in_flight = True

        async def settle() -> None:
            self.in_flight = False

        return Ledger(begin, settle)


async def send(adapter: Adapter, key: ChannelKey, digest: Digest, outbox: Outbox | MemoryOutbox,
               time: VirtualTime | None = None) -> None:
    """Send a digest through the adapter as the core does: packed, paced, retried, recorded."""
    timing = (time or VirtualTime()).timing
    memory = outbox if isinstance(outbox, MemoryOutbox) else MemoryOutbox()
    box = outbox.outbox() if isinstance(outbox, MemoryOutbox) else outbox
    sender = Sender(adapter, Pacer(adapter.limits.rates, timing), Backoff(jitter=0.0), timing.sleep)
    await sender.send(key, digest, box, memory.ledger)


class StubHost:
    """A host for an adapter under test on its own: every command is answered "ok", every click "rated"."""

    def __init__(self) -> None:
        self.commands: list[tuple[CommandContext, str]] = []
        self.gone: list[tuple[str, str, str]] = []  # (platform, workspace, reason) of each workspace_gone
        self.ratings: list[tuple[CommandContext, str, int]] = []

    async def handle(self, ctx: CommandContext, text: str) -> Reply:
        self.commands.append((ctx, text))
        return Reply("ok")

    async def rate(self, ctx: CommandContext, paper_id: str, vote: int) -> Reply:
        self.ratings.append((ctx, paper_id, vote))
        return Reply("rated")

    async def subscription_choices(self, key: ChannelKey) -> list[tuple[str, str]]:
        return []

    async def pace(self, key: ChannelKey) -> None:
        return None

    async def wait_started(self) -> None:
        return None

    def web_routes(self, port: int) -> list[Any]:
        return []

    async def workspace_gone(self, platform: str, workspace: str, reason: str) -> None:
        self.gone.append((platform, workspace, reason))


@asynccontextmanager
async def running(core: Any, *adapters: Any) -> AsyncIterator[asyncio.Task[None]]:
    """`core.run(adapters)` as a task for the block: entered once the core is ready and
    every adapter with a `connected` event has connected; cancelled on exit."""
    task = asyncio.create_task(core.run(list(adapters)))
    waits = [core.ready.wait(), *(a.connected.wait() for a in adapters if hasattr(a, "connected"))]
    try:
        await asyncio.wait_for(asyncio.gather(*waits), 10)
        yield task
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
