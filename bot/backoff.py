"""Backoff and Retry-After, once for every caller that retries an upstream fault.

The source, start-up connections and digest posts all wait the same way: exponential
delays with jitter, capped, or exactly what the server asked for when it said so.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

MAX_DELAY = 300.0
T = TypeVar("T")

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Backoff:
    """Delays `base`, 2x, 4x ... capped at `cap`, plus up to `jitter` seconds drawn by `draw`."""

    base: float = 2.0
    cap: float = MAX_DELAY
    jitter: float = 1.0
    draw: Callable[[], float] = random.random

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        """The wait before retry number `attempt` (1-based); the server's Retry-After wins, capped."""
        if retry_after is not None:
            return min(retry_after, self.cap)
        return min(self.cap, self.base * 2.0 ** min(attempt - 1, 64)) + self.jitter * self.draw()  # retry forever: no overflow


def parse_retry_after(value: str | None) -> float | None:
    """Retry-After as seconds; None when absent, negative or an HTTP date (then back off as usual)."""
    try:
        seconds = float(value or "")
    except ValueError:
        return None
    return seconds if 0 <= seconds < float("inf") else None


async def persevere(
    what: str,
    job: Callable[[], Awaitable[T]],
    transient: tuple[type[BaseException], ...],
    backoff: Backoff,
    sleep: Callable[[float], Awaitable[None]],
) -> T:
    """Run `job` until it gets through: after a `transient` fault, log it, wait with backoff, run it again.

    For jobs that are safe to run again from the start (the ledger makes every delivery job so)."""
    attempt = 0
    while True:
        try:
            return await job()
        except transient as err:
            attempt += 1
            delay = backoff.delay(attempt)
            log.warning("%s: %s; trying again in %.1f s", what, err, delay)
            await sleep(delay)
