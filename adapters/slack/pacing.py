"""Slack's published pace as data, and slack_sdk's 429 handler waiting out Retry-After.

Slack allows about one post per second per channel, and publishes no workspace-wide
figure: 120 a minute keeps well clear, and 429s tell us if it is too many. The core's
`Pacer` enforces both (`bot.pacing`).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.http_retry.state import RetryState

from bot.backoff import parse_retry_after
from bot.pacing import Rate

log = logging.getLogger(__name__)

WORKSPACE_PER_MINUTE = 120
RATE_LIMIT_RETRIES = 3


def rates(per_minute: int = WORKSPACE_PER_MINUTE) -> tuple[Rate, ...]:
    """One post a second per channel; `per_minute` per workspace, with a second's margin for network jitter."""
    return (Rate("channel", 1, 1.0), Rate("workspace", per_minute, 60.0, margin=1.0))


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
        values = {name.lower(): value for name, value in response.headers.items()}.get("retry-after") or [None]
        delay = parse_retry_after(values[0])
        delay = 1.0 if delay is None else delay
        log.info("Slack rate limit: waiting %.0f s as asked", delay)
        await self._sleep(delay)
        state.increment_current_attempt()
