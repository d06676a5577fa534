"""Plain-text rendering of papers, digests and replies: the console's format, and the CLI's.

Paper text is untrusted: terminal control characters and bidi overrides are removed so a
title cannot move the cursor, recolour the terminal or reorder what follows.
"""

from __future__ import annotations

import re

from bot.models import Digest, DigestItem, Reply
from bot.text import plural

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def clean(text: str) -> str:
    """Untrusted text without terminal control sequences (no escape codes, no bidi tricks)."""
    return _CONTROL.sub("", text)


def render_item(number: int, item: DigestItem) -> str:
    paper = item.paper
    stats = plural(paper.upvotes, "upvote")
    if paper.github_stars:
        stats += f", {plural(paper.github_stars, 'GitHub star')}"
    lines = [
        f"{number}. {clean(paper.title)}  [{stats}]",
        f"   {clean(paper.short_authors())}",
        f"   {clean(paper.tldr)}",
        f"   {'also for you' if item.suggested else 'why'}: {clean(item.why)}",
        "   " + "  ".join(f"{label}: {clean(url)}" for label, url in paper.links()),
    ]
    return "\n".join(lines)


def render_digest(digest: Digest) -> str:
    lines = [f"== {clean(digest.title)} =="]
    for n, item in enumerate(digest.items, start=1):
        if item.suggested and (n == 1 or not digest.items[n - 2].suggested):
            lines.append("-- Also for you --")
        lines.append(render_item(n, item))
    if digest.more:
        lines.append(f"... and {digest.more} more: {digest.more_url}")
    return "\n".join(lines)


def render_reply(reply: Reply) -> str:
    lines = [clean(reply.text)]
    lines += [render_item(n, item) for n, item in enumerate(reply.items, start=1)]
    return "\n".join(lines)
