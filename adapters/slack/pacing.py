"""Slack's pace: one post per second per channel, a workspace-wide budget, and 429s waited out.

Waits go through an injectable `Timing`, so tests and benchmarks run on virtual time.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.http_retry.state import RetryState

log = logging.getLogger(__name__)

CHANNEL_GAP = 1.0  # seconds between posts in one channel
WORKSPACE_PER_MINUTE = 120  # Slack publishes no figure; 429s tell us if this is too many
WINDOW_MARGIN = 1.0  # seconds added to the minute, so network jitter cannot squeeze one post too many into it
RATE_LIMIT_RETRIES = 3


@dataclass(frozen=True, slots=True)
class Timing:
    """The clock and sleep behind pacing and backoff; tests pass virtual ones."""

    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep


REAL_TIME = Timing()


def retry_after(headers: dict[str, list[str]]) -> float:
    for name, values in headers.items():
        if name.lower() == "retry-after" and values:
            try:
                return max(0.0, float(values[0]))
            except ValueError:
                break
    return 1.0


class RetryAfter(AsyncRateLimitErrorRetryHandler):
    """slack_sdk's 429 handler, waiting exactly Retry-After through an injectable sleep."""

    def __init__(self, sleep: Callable[[float], Awaitable[None]], max_retry_count: int = RATE_LIMIT_RETRIES) -> None:
        super().__init__(max_retry_count=max_retry_count)
        self._sleep = sleep

    async def prepare_for_next_attempt_async(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> None:
        assert response is not None  # this handler only retries answered 429s
        state.next_attempt_requested = True
        delay = retry_after(response.headers)  # type: ignore[arg-type]
        log.info("Slack rate limit: waiting %.0f s as asked", delay)
        await self._sleep(delay)
        state.increment_current_attempt()


class Pacer:
    """Spaces posts `channel_gap` apart in a channel and `60 / per_minute` apart in the workspace.

    Evenly spaced posts put exactly `per_minute` in every minute, so a post that reaches
    Slack a little sooner than the one `per_minute` before it would be one too many: a post
    also waits until that one is `60 + WINDOW_MARGIN` seconds old.
    """

    def __init__(
        self, timing: Timing, channel_gap: float = CHANNEL_GAP, per_minute: int = WORKSPACE_PER_MINUTE
    ) -> None:
        self._timing = timing
        self._channel_gap = channel_gap
        self._workspace_gap = 60.0 / per_minute
        self._channel_free: dict[str, float] = {}
        self._workspace_free = float("-inf")
        self._recent: deque[float] = deque(maxlen=per_minute)  # the last `per_minute` slots, oldest first

    async def wait(self, channel: str) -> None:
        """Reserve the next free slot for `channel` and sleep until it (reservation first, so callers never race)."""
        now = self._timing.clock()
        at = max(now, self._channel_free.get(channel, now), self._workspace_free)
        if len(self._recent) == self._recent.maxlen:
            at = max(at, self._recent[0] + 60.0 + WINDOW_MARGIN)
        self._recent.append(at)
        self._channel_free[channel] = at + self._channel_gap
        self._workspace_free = at + self._workspace_gap
        if at > now:
            await self._timing.sleep(at - now)
