"""Telegram messages (HTML parse mode) for digests and command replies, within Telegram's limits.

Every string that came from a paper or a user is untrusted. It is HTML-escaped, so it can
neither format text nor make a link (the only tags and links are the ones built here, from
checked http(s) URLs), and every `@` in it is followed by a WORD JOINER (U+2060): Telegram
turns `@name` into a mention and notifies that user, even inside bold or in a bot's
message, and any character after `@` that cannot be in a username stops that, while the
reader still sees `@name`. Bidi overrides and control characters are dropped so a title
cannot reorder what follows it.

Telegram counts a message's 4,096 characters after parsing the markup, in UTF-16 code
units (an emoji counts two). Sizes here are the escaped HTML's UTF-16 length, always at
least what Telegram counts, and the field budgets below keep one paper far under the limit
even when every character is an emoji. Splitting depends only on the digest, so a resumed
send numbers its parts as the first attempt did.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from dataclasses import dataclass

from bot.adapter import PlatformLimits, rate_id
from bot.models import Digest, DigestItem, Reply, one_line
from bot.pacing import Rate
from bot.packing import pack
from bot.plaintext import clean
from bot.text import clip, plural

MESSAGE_CHARS = 4_096
# 30 messages a second for the whole bot, 20 a minute to one group (private chats allow more,
# but one per-chat rate is simpler and a private chat rarely gets more than one digest a day).
LIMITS = PlatformLimits(
    text_chars=MESSAGE_CHARS,
    items_per_message=10,  # a message is read on a phone: ten papers is already a long scroll
    chars_per_message=MESSAGE_CHARS,
    rates=(Rate("bot", 30, 1.0), Rate("channel", 20, 60.0, margin=1.0)),
)
# Budgets in characters before escaping (an emoji doubles in UTF-16): one paper stays under 3,500.
HEADER_CHARS = 200
TITLE_CHARS = 250
AUTHORS_CHARS = 150
TLDR_CHARS = 500
WHY_CHARS = 150
URL_CHARS = 200
LINE_CHARS = 2_000  # a reply line; two lines always fit one message
PART_MARK = " (99/99)"  # room kept in every header for a later part's number

WORD_JOINER = "\u2060"
_SAFE_URL = re.compile(r"https?://[A-Za-z0-9.-]+(?::\d+)?(?:/[^\s<>\"'`\\]*)?")


@dataclass(frozen=True, slots=True)
class Message:
    """One digest message: its HTML, and an inline keyboard row (👍, 👎) per paper as (label, callback data)."""

    text: str
    keyboard: tuple[tuple[tuple[str, str], ...], ...] = ()


def rating_row(number: int, item: DigestItem) -> tuple[tuple[str, str], ...]:
    """The paper's 👍 and 👎, numbered like the paper in the text; none when its id cannot ride along."""
    found = [(f"{mark} {number}", data) for mark, vote in (("👍", 1), ("👎", -1))
             if (data := rate_id(vote, item.paper.id))]
    return tuple(found) if len(found) == 2 else ()


def size(text: str) -> int:
    """Length as Telegram counts it: UTF-16 code units."""
    return len(text.encode("utf-16-le")) // 2


def _safe(text: str) -> str:
    return html.escape(clean(text), quote=False).replace("@", "@" + WORD_JOINER)


def escape(text: str, limit: int) -> str:
    """`text` on one line, escaped, mentions broken, in at most `limit` characters (never inside an entity)."""
    return clip(one_line(text), limit, _safe)


def link(url: str, label: str) -> str | None:
    """An `<a>` tag around `label` (already escaped), or None when `url` is not a plain http(s) URL
    that is safe inside href."""
    if len(url) > URL_CHARS or not _SAFE_URL.fullmatch(url):
        return None
    return f'<a href="{html.escape(url, quote=True)}">{label}</a>'


def paper_html(number: int, item: DigestItem) -> str:
    """One paper: linked title, authors and counts, TL;DR, matched words, links."""
    paper = item.paper
    title = escape(paper.title, TITLE_CHARS) or escape(paper.id, TITLE_CHARS)
    title = link(paper.hf_url, title) or title
    stats = [escape(paper.short_authors(), AUTHORS_CHARS), plural(paper.upvotes, "upvote")]
    if paper.github_stars:
        stats.append(plural(paper.github_stars, "GitHub star"))
    lines = [f"<b>{number}. {title}</b>", " · ".join(s for s in stats if s)]
    if tldr := escape(paper.tldr, TLDR_CHARS):
        lines.append(tldr)
    if why := escape(item.why, WHY_CHARS):
        lines.append(f"{item.label}: <i>{why}</i>")
    links = [found for label, url in paper.links()[1:] if (found := link(url, label))]
    if links:
        lines.append(" · ".join(links))
    return "\n".join(lines)


def _more(digest: Digest) -> str:
    if not digest.more:
        return ""
    more = f"…and {digest.more:,} more {'match' if digest.more == 1 else 'matches'}"
    where = link(digest.more_url, "on Hugging Face Daily Papers") if digest.more_url else None
    return f"{more} {where}" if where else more


def _pack(pieces: Sequence[str], start: int) -> list[list[str]]:
    return pack(pieces, most=LIMITS.items_per_message, size_limit=MESSAGE_CHARS, start=start,
                size=lambda piece: size(piece) + 2)


def digest_parts(digest: Digest) -> list[str]:
    """The digest's messages as HTML (see `digest_messages`)."""
    return [message.text for message in digest_messages(digest)]


def digest_messages(digest: Digest) -> list[Message]:
    """The digest as messages: a bold header, the papers with their buttons, "and N more" at the end.

    Later parts repeat the header with their number, so each still says what it is when it
    stands alone (its reply to the first part is dropped when that part is unconfirmed).
    """
    title = escape(digest.title, HEADER_CHARS) or "Daily Papers"
    tail = _more(digest)
    start = size(f"<b>{title}{PART_MARK}</b>") + (size(tail) + 2 if tail else 0)
    pieces = [(paper_html(n, item), rating_row(n, item)) for n, item in enumerate(digest.items, start=1)]
    groups = pack(pieces, most=LIMITS.items_per_message, size_limit=MESSAGE_CHARS, start=start,
                  size=lambda piece: size(piece[0]) + 2) or [[]]
    parts = []
    for number, group in enumerate(groups, start=1):
        header = title if number == 1 else f"{title} ({number}/{len(groups)})"
        text = "\n\n".join([f"<b>{header}</b>", *(html_ for html_, _ in group)])
        parts.append(Message(text, tuple(row for _, row in group if row)))
    if tail:
        parts[-1] = Message(parts[-1].text + "\n\n" + tail, parts[-1].keyboard)
    return parts


def reply_parts(reply: Reply, note: str | None = None) -> list[str]:
    """A command's answer: its lines, a closing note when given, then any papers, in as few messages as fit."""
    lines = [clip(line, LINE_CHARS, _safe) for line in reply.text.splitlines()]  # spacing kept: help aligns
    if note:
        lines.append(f"<i>{escape(note, LINE_CHARS)}</i>")
    texts = [
        "\n".join(group)
        for group in pack(lines, most=len(lines) or 1, size_limit=MESSAGE_CHARS + 1, size=lambda line: size(line) + 1)
    ]
    papers = [paper_html(n, item) for n, item in enumerate(reply.items, start=1)]
    messages = _pack([*texts, *papers], 0) if papers else [[text] for text in texts]
    return ["\n\n".join(group) for group in messages if any(group)] or ["(no answer)"]
