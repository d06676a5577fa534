"""What the adapter contract suite needs from each platform: its adapter, running against
its fake, and a way to read back what a user of that platform would see.

Each platform has one module here, `harness_<platform>.py`, with an async context
manager `harness()` yielding a `Harness`. `tests/contract/test_contract.py` runs the same
tests over all of them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

from bot.adapter import Adapter
from bot.models import ChannelKey
from tests.support import VirtualTime

Fault = Literal["gone", "unauthorized", "transient", "lost_answer"]


@dataclass(frozen=True, slots=True)
class Seen:
    """One message as the platform stored it.

    `text`: what a reader sees, markup rendered away (link labels, no escapes, no bold marks).
    `size`: the message's size as the platform counts it against `limits.chars_per_message`.
    `items`: papers in it, counted as the platform would (blocks, embeds, entries).
    `problems`: what the platform would do wrong with it: a mention that would ping
    (`@everyone`, `<!channel>`, a user mention without allowed_mentions), markup from paper
    text that would format or link, a limit broken. Empty for a clean message.
    `reply_to`: the ref of the message it continues (a thread, a reply), or None.
    """

    ref: str
    text: str
    size: int
    items: int
    problems: tuple[str, ...] = ()
    reply_to: str | None = None


class Harness(Protocol):
    adapter: Adapter
    time: VirtualTime  # pass `time.timing` to pacing and backoff: nothing waits on real time
    key: ChannelKey  # a channel the bot can post to
    gone: ChannelKey  # a channel the platform says is gone for the bot (kicked, deleted, no access)

    def messages(self, key: ChannelKey) -> list[Seen]:
        """Every message the bot has in that channel, oldest first."""

    def fail_next_post(self, fault: Fault) -> None:
        """Make the next post to `key` fail so:
        gone: the platform's "channel gone" answer; unauthorized: the token is refused;
        transient: a rate limit or 5xx that certainly stored nothing, then success on retry;
        lost_answer: the platform stores the message but the answer never arrives (a 5xx
        after storing, or a dropped connection)."""
