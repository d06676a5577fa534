"""Text helpers every renderer shares: counting nouns, and clipping to a limit with "…".

Clipping happens once here for every platform: a platform passes its own escaping, and
the cut is made in the unescaped text, so an escape sequence (`&amp;`, `\\*`) is never split.
"""

from __future__ import annotations

from collections.abc import Callable

ELLIPSIS = "…"


def plural(count: int, noun: str, plural_form: str | None = None) -> str:
    """`1 paper`, `2 papers`, `1,204 upvotes`."""
    return f"{count:,} {noun if count == 1 else plural_form or noun + 's'}"


def _same(text: str) -> str:
    return text


def clip(text: str, limit: int, escape: Callable[[str], str] = _same) -> str:
    """`escape(text)` in at most `limit` characters, cut at a character boundary and ended by "…".

    The longest prefix whose escaped form still fits is found by bisection, since escaping
    can only lengthen a prefix as it grows.
    """
    escaped = escape(text)
    if len(escaped) <= limit:
        return escaped
    if limit <= 0:
        return ""
    low, high = 0, len(text)
    while low < high:
        middle = (low + high + 1) // 2
        if len(escape(text[:middle].rstrip())) + len(ELLIPSIS) <= limit:
            low = middle
        else:
            high = middle - 1
    return escape(text[:low].rstrip()) + ELLIPSIS


def echo(text: str, most: int = 40) -> str:
    """User text quoted back in an error, shortened so a pasted wall of text never becomes the reply."""
    return clip(text, most)
