"""Counting the answers Discord holds against our IP, to stop sending before it bans it.

Discord blocks an IP for a while after 10,000 invalid requests (401, 403 and 429, except
429s of scope "shared") in 10 minutes. A bot posting to many channels it lost access
to could get there, so the adapter stops sending digests while the count is near.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable
from types import SimpleNamespace

import aiohttp

log = logging.getLogger(__name__)

WINDOW_SECONDS = 600.0
BAN_THRESHOLD = 10_000
STOP_AT = 8_000  # leaves room for command answers and other processes on the same IP


class InvalidRequests:
    def __init__(self, stop_at: int = STOP_AT, clock: Callable[[], float] = time.monotonic) -> None:
        self.stop_at = stop_at
        self._clock = clock
        self._times: deque[float] = deque()

    def note(self, status: int, scope: str | None = None) -> None:
        if status in (401, 403) or (status == 429 and scope != "shared"):
            self._times.append(self._clock())
            if self.count() == self.stop_at:
                log.warning(
                    "Discord answered %d invalid requests in %d minutes (it bans an IP at %d): "
                    "digests wait until the count drops",
                    self.stop_at, WINDOW_SECONDS // 60, BAN_THRESHOLD,
                )

    def count(self) -> int:
        horizon = self._clock() - WINDOW_SECONDS
        while self._times and self._times[0] <= horizon:
            self._times.popleft()
        return len(self._times)

    def tripped(self) -> bool:
        return self.count() >= self.stop_at

    def trace_config(self) -> aiohttp.TraceConfig:
        """An aiohttp hook that sees every answer discord.py gets, retries included."""

        async def on_request_end(
            session: aiohttp.ClientSession, context: SimpleNamespace, params: aiohttp.TraceRequestEndParams
        ) -> None:
            self.note(params.response.status, params.response.headers.get("X-RateLimit-Scope"))

        config = aiohttp.TraceConfig()
        config.on_request_end.append(on_request_end)
        return config
