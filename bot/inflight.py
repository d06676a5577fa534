"""Work in progress, counted so a stop can let it finish (bounded) and refuse new work.

A SIGTERM should not cut a digest off in the middle of a post: the core marks itself
stopping, each send finishes the part it is posting and leaves the rest for the next start
(the ledger resumes it), and the stop waits for that, at most a bound, before it closes
connections.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager


class InFlight:
    def __init__(self) -> None:
        self.stopping = False
        self._count = 0
        self._idle = asyncio.Event()
        self._idle.set()

    @asynccontextmanager
    async def working(self) -> AsyncIterator[None]:
        self._count += 1
        self._idle.clear()
        try:
            yield
        finally:
            self._count -= 1
            if self._count == 0:
                self._idle.set()

    async def drain(self, timeout: float) -> bool:
        """Stop taking work, then wait until none is left or `timeout` passed; True when none is left."""
        self.stopping = True
        try:
            await asyncio.wait_for(self._idle.wait(), timeout)
        except TimeoutError:
            return False
        return True
