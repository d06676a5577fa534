"""Discord messages for digests and replies: one embed per paper, within Discord's limits.

Every string that came from a paper or a user is untrusted: markdown is escaped so a
title cannot format text or hide a link, and mentions are broken up so `@everyone` or
`<@123>` show as text. Senders also pass `NO_MENTIONS`, so nobody is pinged even if
something slipped through. Splitting is a pure function of its input, so a resent
digest splits into the same parts under the same nonces.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace

import discord

from bot.adapter import PlatformLimits, rate_id
from bot.models import Digest, DigestItem, Reply
from bot.pacing import Rate
from bot.packing import chunk_lines, pack
from bot.text import clip

# 50 requests a second for the whole bot. discord.py only reacts to 429s past that, and each
# counts toward the IP ban (guard.py) and holds back every request, so digests stay under it.
LIMITS = PlatformLimits(
    text_chars=2_000, items_per_message=10, chars_per_message=6_000, rates=(Rate("bot", 50, 1.0, margin=0.05),)
)
NO_MENTIONS = discord.AllowedMentions.none()
TITLE_CHARS = 256  # Discord's embed title limit
SUMMARY_CHARS = 600  # a digest is skimmed: one line of summary, not the abstract
FIELD_CHARS = 1_024  # Discord's field value limit
URL_CHARS = 512
COLOUR = discord.Colour(0xFFD21E)  # Hugging Face yellow
KEY_ROOM = 28  # " · " and a delivery key of at most 25 characters, added to each digest message when posted
_SAFE_URL = re.compile(r"https?://[^\s<>()\[\]\"'`\\]+")


@dataclass(frozen=True, slots=True)
class Part:
    """One Discord message: text, up to ten embeds, and a 👍/👎 pair per paper as (custom id, label)."""

    content: str | None
    embeds: tuple[discord.Embed, ...] = ()
    buttons: tuple[tuple[str, str], ...] = ()


def rating_buttons(item: DigestItem) -> tuple[tuple[str, str], ...]:
    """The paper's 👍 and 👎 (labelled with its arXiv id, as its embed's footer shows it), or none."""
    found = [(custom_id, f"{mark} {item.paper.id}") for mark, vote in (("👍", 1), ("👎", -1))
             if (custom_id := rate_id(vote, item.paper.id))]
    return tuple(found) if len(found) == 2 else ()


def escape(text: str) -> str:
    return discord.utils.escape_markdown(discord.utils.escape_mentions(text))


def fit(text: str, limit: int) -> str:
    """`text` escaped and at most `limit` characters, cut before escaping so no escape is split."""
    return clip(text, limit, escape)


def _line(text: str, limit: int) -> str:
    return fit(" ".join(text.split()), limit)


def _url(url: str) -> str | None:
    """The URL when it is safe inside a markdown link and an embed, else None."""
    return url if len(url) <= URL_CHARS and _SAFE_URL.fullmatch(url) else None


def paper_embed(item: DigestItem) -> discord.Embed:
    paper = item.paper
    links = " · ".join(f"[{label}]({url})" for label, raw in paper.links()[1:] if (url := _url(raw)))
    embed = discord.Embed(
        title=_line(paper.title, TITLE_CHARS) or paper.id,
        url=_url(paper.hf_url),  # its own URL, or Discord merges embeds that share one
        description="\n".join(filter(None, [_line(paper.tldr, SUMMARY_CHARS), links])) or None,
        colour=COLOUR,
    )
    fields = [
        ("Authors", _line(paper.short_authors(), TITLE_CHARS), False),
        ("Upvotes", f"▲ {paper.upvotes:,}", True),
        ("GitHub stars", f"★ {paper.github_stars:,}" if paper.github_stars else "", True),
        (item.label, _line(item.why, FIELD_CHARS), False),
    ]
    for name, value, inline in fields:
        if value:  # Discord refuses an empty field
            embed.add_field(name=name, value=value, inline=inline)
    embed.set_footer(text=_line(f"arXiv {paper.id} · featured {paper.featured_day:%d %b %Y}", TITLE_CHARS))
    return embed


def _pack(embeds: Sequence[discord.Embed]) -> list[tuple[discord.Embed, ...]]:
    """Consecutive embeds grouped into messages of at most 10 embeds and 6,000 characters."""
    groups = pack(embeds, most=LIMITS.items_per_message, size_limit=LIMITS.chars_per_message, size=len)
    return [tuple(group) for group in groups]


def digest_parts(digest: Digest) -> list[Part]:
    """The digest as messages: a bold title, then the papers' embeds with their buttons; "and N more" closes it."""
    pairs = [(paper_embed(item), rating_buttons(item)) for item in digest.items]
    packed = pack(pairs, most=LIMITS.items_per_message, size_limit=LIMITS.chars_per_message - KEY_ROOM,
                  size=lambda pair: len(pair[0])) or [[]]
    groups = [tuple(embed for embed, _ in group) for group in packed]
    buttons = [tuple(button for _, pair in group for button in pair) for group in packed]
    contents: list[str | None] = [f"**{_line(digest.title, 300)}**"] + [None] * (len(groups) - 1)
    if digest.more:
        more = f"…and {digest.more} more"
        if digest.more_url and (url := _url(digest.more_url)):
            more += f": <{url}>"  # angle brackets: a link without a preview embed
        contents[-1] = "\n".join(filter(None, [contents[-1], more]))
    return [Part(content, group, pressed) for content, group, pressed in zip(contents, groups, buttons, strict=True)]


def with_key(part: Part, key: str) -> Part:
    """The part carrying its delivery key where it survives in the channel's history: the last
    embed's footer (or the text, for a part without embeds). The nonce is not kept by Discord."""
    if not part.embeds:
        return replace(part, content="\n".join(filter(None, [part.content, f"-# {key}"])))
    last = part.embeds[-1].copy()
    last.set_footer(text=f"{last.footer.text or ''} · {key}")
    return replace(part, embeds=(*part.embeds[:-1], last))


def key_of(message: dict[str, object]) -> str | None:
    """The delivery key a digest message carries (see `with_key`), from its wire form."""
    embeds = message.get("embeds") or []
    if isinstance(embeds, list) and embeds:
        footer = embeds[-1].get("footer") or {}
        text = str(footer.get("text") or "")
    else:
        text = str(message.get("content") or "").rsplit("\n", 1)[-1].removeprefix("-# ")
    return text.rsplit(" · ", 1)[-1] or None


def reply_parts(reply: Reply) -> list[Part]:
    """A command's reply: its text in messages of at most 2,000 characters, then any papers."""
    texts = chunk_lines([fit(line, LIMITS.text_chars) for line in reply.text.splitlines()], LIMITS.text_chars)
    parts = [Part(text or None) for text in texts]
    groups = _pack([paper_embed(item) for item in reply.items])
    if groups:
        parts[-1] = Part(parts[-1].content, groups[0])
        parts += [Part(None, group) for group in groups[1:]]
    return parts


def announcement(who: str, text: str) -> str:
    """The public note a change leaves in the channel, e.g. "@ada subscribed this channel to #3: gans"."""
    return f"{who} {fit(' '.join(text.split()), LIMITS.text_chars - len(who) - 1)}"
