"""Pacing posts under a platform's published rates, so fanning a digest out meets no 429.

A platform declares its rates as data (`Rate`): so many posts per window for the whole
bot, per workspace or per channel. `Pacer` reserves for each post the first moment every
applicable window has room, spacing posts evenly inside a window. Waits go through an
injectable `Timing`, so tests and benchmarks run on virtual time.

Several workers on one PostgreSQL database share the limits of the whole bot and of a
workspace through `SharedSlots` (the store's `rate_slots`), so N workers post no faster than
one; per-channel limits stay in each process, as one worker at a time holds a channel. With
no `SharedSlots` (SQLite, one process) pacing never leaves the process.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

from bot.models import ChannelKey

Scope = Literal["bot", "workspace", "channel"]


@dataclass(frozen=True, slots=True)
class Timing:
    """The clock and sleep behind pacing and backoff; tests pass virtual ones."""

    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    wall: Callable[[], float] = time.time  # the clock other processes share


REAL_TIME = Timing()


@dataclass(frozen=True, slots=True)
class Rate:
    """At most `count` posts in any `seconds` (plus `margin`, for network jitter) per `scope`."""

    scope: Scope
    count: int
    seconds: float
    margin: float = 0.0

    def key(self, channel: ChannelKey) -> tuple[str, ...]:
        if self.scope == "bot":
            return ()
        if self.scope == "workspace":
            return (channel.workspace,)
        return (channel.workspace, channel.channel)


class SharedSlots(Protocol):
    async def reserve(self, slots: Sequence[tuple[str, float]], after: float) -> float | None:
        """Take the first moment (wall-clock seconds) at or after `after` when each named slot
        (name, seconds between posts) is free; None when it cannot be reached now."""
        ...


class _Window:
    """One rate's bookkeeping for one key: the next even slot, and the last `count` slots taken."""

    def __init__(self, rate: Rate) -> None:
        self.gap = rate.seconds / rate.count
        self.span = rate.seconds + rate.margin
        self.free = float("-inf")
        self.recent: deque[float] = deque(maxlen=rate.count)

    def earliest(self, now: float) -> float:
        at = max(now, self.free)
        if len(self.recent) == self.recent.maxlen:
            at = max(at, self.recent[0] + self.span)
        return at

    def take(self, at: float) -> None:
        self.recent.append(at)
        self.free = at + self.gap


class Pacer:
    """Reserves a slot under every rate, then sleeps until it (reservation first, so callers never race).

    With `shared`, the bot-wide and workspace-wide rates are reserved there, under `name`."""

    def __init__(
        self, rates: Sequence[Rate], timing: Timing = REAL_TIME, shared: SharedSlots | None = None, name: str = ""
    ) -> None:
        self._rates = tuple(rates)
        self._timing = timing
        self._shared = shared
        self._name = name
        self._windows: dict[tuple[int, tuple[str, ...]], _Window] = {}

    async def wait(self, channel: ChannelKey) -> None:
        numbered = list(enumerate(self._rates))
        common = [(n, r) for n, r in numbered if r.scope != "channel"] if self._shared else []
        at: float | None = None
        if common:
            assert self._shared is not None
            slots = [(f"{self._name}/{n}/{'/'.join(r.key(channel))}", (r.seconds + r.margin) / r.count) for n, r in common]
            start, wall = self._timing.clock(), self._timing.wall()
            shared_at = await self._shared.reserve(slots, wall)
            if shared_at is not None:
                at = start + shared_at - wall
                numbered = [(n, r) for n, r in numbered if r.scope == "channel"]
        now = self._timing.clock()
        windows = [self._windows.setdefault((n, r.key(channel)), _Window(r)) for n, r in numbered]
        at = max([window.earliest(now) for window in windows] + [now if at is None else at])
        for window in windows:
            window.take(at)
        if at > now:
            await self._timing.sleep(at - now)
