"""Block Kit rendering of digests, command replies and channel notes, within Slack's limits.

Every string that came from a paper or a user is untrusted: it is escaped (`&`, `<`, `>`)
and sits in `verbatim` text, so Slack neither parses mentions in it nor turns URLs in it
into links. The only links in a message are the ones built here from checked URLs.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ContextBlock,
    HeaderBlock,
    MarkdownTextObject,
    PlainTextObject,
    SectionBlock,
)

from adapters.slack.pacing import rates
from bot.adapter import PlatformLimits, rate_id
from bot.models import Digest, DigestItem, Reply, one_line
from bot.packing import chunk_lines, pack
from bot.text import clip, plural

MAX_BLOCKS = 50
SECTION_CHARS = 3000
HEADER_CHARS = 150
MESSAGE_CHARS = 12_000  # msg_blocks_too_long comes at about this many; counted as the blocks' JSON
# A digest's paper is two blocks (its section and its 👍/👎 buttons), and a message has a header.
LIMITS = PlatformLimits(
    text_chars=SECTION_CHARS, items_per_message=MAX_BLOCKS // 2 - 1, chars_per_message=MESSAGE_CHARS, rates=rates()
)

# Budgets per field, in escaped characters, so one paper's section stays far below 3,000.
TITLE_CHARS = 300
AUTHORS_CHARS = 200
TLDR_CHARS = 700
WORDS_CHARS = 200
URL_CHARS = 250

_ENTITIES = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}
# mrkdwn has no escape character: a formatting mark from a paper becomes a look-alike, so it
# cannot bold, strike or code-format what follows. `_` inside a word (not_in_channel) formats nothing.
_MARKS = re.compile(r"[*~`]|(?<!\w)_|_(?!\w)")
_LOOK_ALIKES = {"*": "\u2217", "~": "\u223c", "`": "\u02cb", "_": "\u02cd"}
_SAFE_URL = re.compile(r"https?://[^\s<>|\"`]+")
_USER_ID = re.compile(r"[UW][A-Z0-9]{2,20}")

JSON = dict[str, Any]


@dataclass(frozen=True, slots=True)
class SlackMessage:
    """One chat message: Block Kit blocks and the plain fallback shown in notifications."""

    text: str
    blocks: tuple[JSON, ...]


def _mrkdwn_safe(text: str) -> str:
    text = _MARKS.sub(lambda mark: _LOOK_ALIKES[mark[0]], text)
    return "".join(_ENTITIES.get(char, char) for char in text)


def escape(text: str, limit: int | None = None) -> str:
    """`text` safe in mrkdwn, clipped to `limit` escaped characters (never inside an entity)."""
    return _mrkdwn_safe(text) if limit is None else clip(text, limit, _mrkdwn_safe)


def link(url: str, label: str) -> str | None:
    """A mrkdwn link, or None when `url` is not a plain http(s) URL that cannot break out."""
    if len(url) > URL_CHARS or not _SAFE_URL.fullmatch(url):
        return None
    return f"<{url.replace('&', '&amp;')}|{escape(label, TITLE_CHARS)}>"


def _mrkdwn(text: str) -> MarkdownTextObject:
    return MarkdownTextObject(text=text, verbatim=True)


def paper_text(number: int, item: DigestItem) -> str:
    """One paper as mrkdwn: linked title, authors and counts, TL;DR, matched words, links."""
    paper = item.paper
    title = escape(one_line(paper.title), TITLE_CHARS)
    titled = link(paper.hf_url, one_line(paper.title)) or title
    stats = [escape(one_line(paper.short_authors()), AUTHORS_CHARS), plural(paper.upvotes, "upvote")]
    if paper.github_stars:
        stats.append(plural(paper.github_stars, "GitHub star"))
    lines = [f"*{number}. {titled}*", " · ".join(s for s in stats if s)]
    if tldr := one_line(paper.tldr):
        lines.append(escape(tldr, TLDR_CHARS))
    if why := item.why:
        lines.append(f"{item.label}: {escape(why, WORDS_CHARS)}")
    links = [found for label, url in paper.links() if (found := link(url, label))]
    if links:
        lines.append(" · ".join(links))
    return "\n".join(lines)


def paper_block(number: int, item: DigestItem) -> JSON:
    return SectionBlock(text=_mrkdwn(paper_text(number, item))).to_dict()


def rating_block(item: DigestItem) -> list[JSON]:
    """The paper's 👍 and 👎 buttons (an `actions` block); none when its id cannot ride in a button."""
    ids = [(label, found) for label, vote in (("👍", 1), ("👎", -1)) if (found := rate_id(vote, item.paper.id))]
    if len(ids) < 2:
        return []
    buttons = [ButtonElement(text=PlainTextObject(text=label, emoji=True), action_id=found, value=item.paper.id)
               for label, found in ids]
    return _blocks(ActionsBlock(elements=buttons))


def pack_blocks(blocks: Iterable[JSON]) -> list[list[JSON]]:
    """Blocks split, in order, into as few messages as Slack's per-message limits allow.

    Size is counted as the blocks' JSON, a little more than the text Slack counts.
    """
    return pack_units([[block] for block in blocks], MAX_BLOCKS)


def pack_units(units: Iterable[list[JSON]], most: int = MAX_BLOCKS // 2) -> list[list[JSON]]:
    """Like `pack_blocks`, for runs of up to two blocks that stay in one message (a paper and its buttons)."""

    def size(unit: list[JSON]) -> int:
        return sum(len(json.dumps(block, ensure_ascii=False)) + 2 for block in unit)

    groups = pack(units, most=most, size_limit=MESSAGE_CHARS, start=2, size=size)
    return [[block for unit in group for block in unit] for group in groups] or [[]]


def _blocks(*blocks: Block) -> list[JSON]:
    return [block.to_dict() for block in blocks]


def render_digest(digest: Digest) -> list[SlackMessage]:
    """The digest as messages: part 0 has the header, later parts go in its thread.

    The split depends only on the digest, so a resumed send numbers its parts the same way.
    """
    title = one_line(digest.title) or "Daily Papers"
    header = _blocks(HeaderBlock(text=PlainTextObject(text=clip(title, HEADER_CHARS), emoji=False)))
    body = [[paper_block(n, item), *rating_block(item)] for n, item in enumerate(digest.items, start=1)]
    tail: list[JSON] = []
    if digest.more:
        more = f"…and {digest.more:,} more {'match' if digest.more == 1 else 'matches'}"
        where = link(digest.more_url, "on Hugging Face Daily Papers") if digest.more_url else None
        tail = _blocks(ContextBlock(elements=[_mrkdwn(f"{more} {where}" if where else more)]))
    parts = pack_units([header, *body, *([tail] if tail else [])])
    fallback = escape(title, HEADER_CHARS)
    if len(parts) == 1:
        return [SlackMessage(fallback, tuple(parts[0]))]
    return [
        SlackMessage(f"{fallback} (part {n} of {len(parts)})", tuple(blocks))
        for n, blocks in enumerate(parts, start=1)
    ]


def _text_sections(text: str) -> list[JSON]:
    """Plain reply text as sections of at most 3,000 characters, split at line ends."""
    chunks = chunk_lines([escape(line, SECTION_CHARS) or " " for line in text.splitlines() or [""]], SECTION_CHARS)
    return _blocks(*(SectionBlock(text=_mrkdwn(chunk)) for chunk in chunks))


def render_reply(reply: Reply) -> list[SlackMessage]:
    """A command's answer, with its papers, as one or more messages for the caller only."""
    text = reply.text
    body = [*_text_sections(text), *(paper_block(n, item) for n, item in enumerate(reply.items, start=1))]
    fallback = escape(one_line(text), HEADER_CHARS)
    return [SlackMessage(fallback, tuple(blocks)) for blocks in pack_blocks(body)]


def render_note(user: str, announcement: str) -> SlackMessage:
    """The visible note for a channel change, naming who made it."""
    who = f"<@{user}>" if _USER_ID.fullmatch(user) else escape(user, 100)
    text = f"{who} {escape(announcement, SECTION_CHARS - 200)}"
    return SlackMessage(text, tuple(_blocks(SectionBlock(text=_mrkdwn(text)))))
