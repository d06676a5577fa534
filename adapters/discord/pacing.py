"""Discord's global rate limit, kept from our side, so fanning a digest out meets no 429.

Discord allows a bot 50 requests per second across its routes. discord.py only reacts to
the 429s past that, and each one counts toward the IP ban (see guard.py), holds back every
request while it is waited out (command answers too), and after five in a row fails the
send. Digest messages are the bulk of a bot's requests, so they go out evenly spaced.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable

GLOBAL_PER_SECOND = 50
WINDOW_MARGIN = 0.05  # seconds added to Discord's second, so network jitter cannot squeeze in one request too many


class GlobalPace:
    """At most `per_second` sends in any `1 + WINDOW_MARGIN` seconds, spaced evenly."""

    def __init__(
        self,
        per_second: int = GLOBAL_PER_SECOND,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._gap = 1.0 / per_second
        self._clock = clock
        self._sleep = sleep
        self._free = float("-inf")
        self._recent: deque[float] = deque(maxlen=per_second)  # the last `per_second` slots, oldest first

    async def wait(self) -> None:
        """Reserve the next free slot and sleep until it (reservation first, so callers never race)."""
        now = self._clock()
        at = max(now, self._free)
        if len(self._recent) == self._recent.maxlen:
            at = max(at, self._recent[0] + 1.0 + WINDOW_MARGIN)
        self._recent.append(at)
        self._free = at + self._gap
        if at > now:
            await self._sleep(at - now)
