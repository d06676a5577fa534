"""What the adapter contract suite needs from each platform: its adapter, running against
its fake, and a way to read back what a user of that platform would see.

Each registered platform has one module here, `harness_<name>.py`, with an async context
manager `harness()` yielding a `Harness`. `test_contract.py` runs the same tests over all
of them; a platform in `adapters.REGISTRY` without a harness fails the suite.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path
from typing import Literal, Protocol

from bot.adapter import Adapter
from bot.models import ChannelKey, Digest, DigestItem, Paper, Reason
from bot.source import parse_items
from tests.support import VirtualTime

Fault = Literal["gone", "unauthorized", "transient", "lost_answer"]
FIXTURES = Path(__file__).parent.parent / "fixtures"
HOSTILE = "@everyone @here <!channel> <!here> <@U0ADA> <@123456789012345678> <b>bold</b> *bold* _it_ ~s~ `code` " \
    "[click](https://evil.example) <https://evil.example|click> &amp; \x1b[31mred \u202eevil"


@dataclass(frozen=True, slots=True)
class Seen:
    """One message as the platform stored it.

    `text`: what a reader sees, markup rendered away (link labels, no escapes, no bold marks).
    `size`: the message's size as the platform counts it against `limits.chars_per_message`.
    `items`: papers in it.
    `problems`: what the platform would do wrong with it: a mention that would ping, markup
    from paper text that would format or link, a limit broken. Empty for a clean message.
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
    time: VirtualTime  # pass it to `tests.support.send`: pacing and backoff sleep on it
    key: ChannelKey  # a channel the bot can post to
    faults: frozenset[Fault]  # the faults this platform has (the console has none)

    def messages(self, key: ChannelKey) -> list[Seen]:
        """Every message the bot has in that channel, oldest first."""

    def fail_next_post(self, fault: Fault) -> None:
        """Make the next post to `key` fail so:
        gone: the platform's "channel gone" answer; unauthorized: the token is refused;
        transient: a rate limit that certainly stored nothing, then success on retry;
        lost_answer: the platform stores the message but the answer never arrives."""


def papers() -> list[Paper]:
    """The 42 recorded papers, each title marked [P00]..[P41] so a reader can count them."""
    found = [
        paper
        for day in ("2026-08-21", "2024-10-25")
        for paper in parse_items(json.loads((FIXTURES / f"{day}.json").read_text()), date.fromisoformat(day))
    ]
    return [replace(paper, title=f"[P{number:02d}] {paper.title}") for number, paper in enumerate(found)]


def digest(count: int = 42, *, hostile: bool = False, long: bool = False) -> Digest:
    """A digest of `count` papers; `long` pads every field to its worst case, `hostile` fills them with markup."""
    items = []
    for paper in papers()[:count]:
        if long:
            paper = replace(paper, title=paper.title + " and" * 120, ai_summary="tl;dr " * 300,
                            authors=tuple(f"Author Number {n}" for n in range(40)))
        if hostile:
            paper = replace(paper, title=f"{paper.title} {HOSTILE}", ai_summary=HOSTILE,
                            authors=(HOSTILE, "Ada"), github_repo="https://evil.example/|<!here>")
        items.append(DigestItem(paper, (Reason(1, "model", (HOSTILE if hostile else "model",)),)))
    return Digest("Daily Papers, Fri 21 Aug 2026", tuple(items), more=3 if count else 0,
                  more_url="https://huggingface.co/papers/date/2026-08-21")


def markers(messages: list[Seen]) -> list[str]:
    """The paper markers a reader sees, in order, as many times as they appear."""
    return [marker for message in messages for marker in re.findall(r"\[P\d\d\]", message.text)]
