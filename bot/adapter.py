"""The contract between the core and a chat platform.

An adapter turns platform events into `CommandContext` + text for the core's command
handler, and turns a neutral `Digest` into platform messages. It declares its
platform's limits as data and raises the errors below so the core can react the
same way whatever the platform.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from bot.models import ChannelKey, Digest

if TYPE_CHECKING:
    from bot.core import Core


@dataclass(frozen=True, slots=True)
class PlatformLimits:
    """Hard limits of one platform's messages, used by renderers and checked in tests."""

    text_chars: int
    items_per_message: int
    chars_per_message: int


@dataclass(slots=True)
class Outbox:
    """One digest's send state, so a send can resume after a crash without posting twice.

    A digest may become several platform messages ("parts"). `sent` holds the parts
    already recorded with their platform reference. When `uncertain` is true an earlier
    attempt may have posted parts beyond `sent` before the process died: the adapter
    must check the platform (Slack message metadata, Discord nonce) before re-posting.
    `key` is stable for the digest across restarts; use `part_key(i)` on the wire.
    """

    key: str
    sent: dict[int, str]
    uncertain: bool
    record: Callable[[int, str], Awaitable[None]]

    def part_key(self, part: int) -> str:
        return f"{self.key}.{part}"


class ChannelGone(Exception):
    """The platform says we can no longer post here (removed, archived, no permission)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class AdapterStopped(Exception):
    """The adapter's credentials are no longer valid: stop this adapter, keep the others."""


class SendFailed(Exception):
    """A transient failure after retries: the digest stays planned and is retried later."""


class Adapter(Protocol):
    platform: str
    limits: PlatformLimits

    async def run(self, core: Core) -> None:
        """Serve commands until stopped; returning means this adapter is finished."""

    async def send_digest(self, key: ChannelKey, digest: Digest, outbox: Outbox) -> None:
        """Post the digest, calling `outbox.record` after each part the platform accepted."""

    async def close(self) -> None:
        """Release connections; called once on shutdown."""
