"""The console against a captured terminal: each print is one message."""

from __future__ import annotations

import io
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from adapters.console import KEY, ConsoleAdapter
from bot.models import ChannelKey
from tests.contract.harness import Fault, Seen
from tests.support import VirtualTime

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


class Terminal(io.StringIO):
    """A terminal that keeps each flushed print apart."""

    def __init__(self) -> None:
        super().__init__()
        self.printed: list[str] = []

    def flush(self) -> None:
        if self.getvalue():
            self.printed.append(self.getvalue().removesuffix("\n"))
            self.seek(0)
            self.truncate()


@dataclass
class ConsoleHarness:
    adapter: ConsoleAdapter
    terminal: Terminal
    time: VirtualTime = field(default_factory=VirtualTime)
    key: ChannelKey = KEY
    faults: frozenset[Fault] = frozenset()

    def messages(self, key: ChannelKey) -> list[Seen]:
        return [
            Seen(
                ref="printed",
                text=text,
                size=len(text),
                items=len(re.findall(r"^\d+\. ", text, re.M)),
                problems=("terminal control characters",) if _CONTROL.search(text.replace("\n", "")) else (),
            )
            for text in self.terminal.printed
        ]

    def fail_next_post(self, fault: Fault) -> None:
        raise AssertionError(f"the console has no {fault} fault")


@asynccontextmanager
async def harness() -> AsyncIterator[ConsoleHarness]:
    terminal = Terminal()
    yield ConsoleHarness(ConsoleAdapter(stdin=io.StringIO(""), stdout=terminal, user="ada"), terminal)
