"""Packing a digest's pieces into as few messages as a platform's limits allow.

Every platform splits the same way: pieces in order, a new message when the next piece
would pass the message's piece count or size. The split depends only on its input, so a
resumed send numbers its parts exactly as the first attempt did.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import TypeVar

T = TypeVar("T")


def pack(pieces: Iterable[T], *, most: int, size_limit: int, size: Callable[[T], int], start: int = 0) -> list[list[T]]:
    """`pieces` grouped in order into lists of at most `most` pieces and `size_limit` total size.

    `start` is the size every message has before its first piece (framing, a header). A
    piece larger than the limit on its own still gets a message of its own: renderers clip
    pieces to fit, so that only happens when a platform's limits are declared inconsistently.
    """
    groups: list[list[T]] = []
    used = start
    for piece in pieces:
        cost = size(piece)
        if not groups or len(groups[-1]) >= most or (groups[-1] and used + cost > size_limit):
            groups.append([])
            used = start
        groups[-1].append(piece)
        used += cost
    return groups


def chunk_lines(lines: Sequence[str], limit: int) -> list[str]:
    """Lines joined with newlines into chunks of at most `limit` characters (each line already fits)."""
    texts = pack(lines, most=len(lines) or 1, size_limit=limit + 1, size=lambda line: len(line) + 1)
    return ["\n".join(group) for group in texts] or [""]
