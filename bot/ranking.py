"""A digest in the channel's taste: its matches ranked, and "also for you" papers after them.

Called where a wave is planned (a worker thread), with the taste `Ratings.tastes` learned;
channels without one keep upvote order. Any failure is logged and the digest goes out in
upvote order without suggestions: a digest never fails because of ranking.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

from bot.models import SUGGESTED, DigestItem, Paper, Reason
from bot.store import Channel

if TYPE_CHECKING:
    from bot.relevance import Taste

log = logging.getLogger(__name__)


def rank_and_suggest(
    taste: Taste, channel: Channel, items: Sequence[DigestItem], candidates: Sequence[Paper]
) -> tuple[list[DigestItem], list[DigestItem]]:
    """The items best first for the channel, and up to `channel.suggestions` of the candidates
    (papers of the same days that matched no subscription) that its taste scores above the threshold."""
    if not taste.ready:
        return list(items), []
    try:
        from bot.relevance import rank, suggest

        ranked = rank([item.paper for item in items], taste)
        found = suggest(taste, candidates, most=channel.suggestions) if channel.suggestions else []
    except Exception:
        log.exception("could not rank the digest of %s; it goes out in upvote order", channel.key)
        return list(items), []
    by_id = {item.paper.id: item for item in items}
    return [by_id[paper.id] for paper in ranked], [
        DigestItem(s.paper, (Reason(SUGGESTED, s.like.id, s.words),)) for s in found
    ]
