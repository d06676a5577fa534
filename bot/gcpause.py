"""Holding off the garbage collector's full collections while a wave of work builds up objects.

A full collection walks the whole heap, holding the GIL for 100+ ms once a wave has built a
few million objects (parsed queries, matches, digests): it would stall the event loop, even
for work done in `asyncio.to_thread`. Young collections still run, and a wave's objects die by
reference counting when it ends, so the full collection that follows is short again.
"""

from __future__ import annotations

import gc
import threading
from contextlib import ContextDecorator


class NoFullCollections(ContextDecorator):
    """Holds off the garbage collector's full collections, for callers on any thread.

    A full collection walks the whole heap (100k parsed queries and more), holding the GIL for
    100+ ms: it would slow matching and stall the event loop of a caller in `asyncio.to_thread`.
    Young collections still run, each over a few hundred new objects, so none grows long either.
    Overlapping calls nest: the threshold comes back when the last of them ends.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._depth = 0
        self._threshold = gc.get_threshold()

    def __enter__(self) -> None:
        with self._lock:
            if not self._depth:
                self._threshold = gc.get_threshold()
                gc.set_threshold(*self._threshold[:2], 1 << 30)
            self._depth += 1

    def __exit__(self, *_: object) -> None:
        with self._lock:
            self._depth -= 1
            if not self._depth:
                gc.set_threshold(*self._threshold)



no_full_collections = NoFullCollections()
