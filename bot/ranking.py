"""A digest in the channel's taste: its matches ranked, and "also for you" papers after them.

Below `relevance.MIN_POSITIVES` liked papers nothing changes (upvote order, no suggestions).
Scoring runs in `asyncio.to_thread`; any failure is logged and the digest goes out in upvote
order without suggestions: a digest never fails because of ranking.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

from bot.models import SUGGESTED, DigestItem, Paper, Reason
from bot.ratings import Ratings
from bot.store import Channel

log = logging.getLogger(__name__)


async def rank_and_suggest(
    ratings: Ratings, channel: Channel, items: Sequence[DigestItem], candidates: Sequence[Paper]
) -> tuple[list[DigestItem], list[DigestItem]]:
    """The items best first for the channel, and up to `channel.suggestions` of the candidates
    (papers of the same days that matched no subscription) that its taste scores above the threshold."""
    try:
        taste = await ratings.taste(channel)
        if taste is None or not taste.ready:
            return list(items), []
        from bot.relevance import rank, suggest

        def work() -> tuple[list[Paper], list[DigestItem]]:
            ranked = rank([item.paper for item in items], taste)
            found = suggest(taste, candidates, most=channel.suggestions) if channel.suggestions else []
            return ranked, [DigestItem(s.paper, (Reason(SUGGESTED, s.like.id, s.words),)) for s in found]

        ranked, suggestions = await asyncio.to_thread(work)
    except Exception:
        log.exception("could not rank the digest of %s; it goes out in upvote order", channel.key)
        return list(items), []
    by_id = {item.paper.id: item for item in items}
    return [by_id[paper.id] for paper in ranked], suggestions
