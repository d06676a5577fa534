"""`like:` terms in practice: the papers similar to each seed in a batch, for the matcher.

Vectorising is the cost, so one corpus serves every seed of a batch (a preview, a wave).
CPU-bound and synchronous: callers run `find_likes` in `asyncio.to_thread`. scikit-learn is
imported only when there is a seed.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace

from bot.matcher import NO_LIKES, Likes
from bot.models import DigestItem, Paper, Reason
from bot.query import QueryError, like_ids, parse


def find_likes(seeds: Sequence[Paper], papers: Sequence[Paper]) -> Likes:
    """For each seed, the papers at least `similarity.LIKE_THRESHOLD` similar to it."""
    if not seeds or not papers:
        return NO_LIKES
    from bot.relevance import Corpus
    from bot.similarity import similar

    corpus = Corpus.build([*seeds, *papers])
    if corpus is None:
        return NO_LIKES
    return Likes(tuple(
        (seed.id, paper.id, round(similarity, 4))
        for seed in seeds for paper, similarity in similar(seed, papers, corpus=corpus)
    ))


def with_similarity(items: Iterable[DigestItem], likes: Likes) -> list[DigestItem]:
    """Items whose `like:` words say how similar the paper is, e.g. "like:2410.18978 (0.31)"."""
    if not likes.hits:
        return list(items)
    return [replace(item, reasons=tuple(_shown(reason, item.paper.id, likes) for reason in item.reasons))
            for item in items]


def _shown(reason: Reason, paper_id: str, likes: Likes) -> Reason:
    words = []
    for word in reason.words:
        similarity = likes.similarity(word[5:], paper_id) if word.startswith("like:") else None
        words.append(word if similarity is None else f"{word} ({similarity:.2f})")
    return replace(reason, words=tuple(words))


def seed_ids(queries: Iterable[str]) -> list[str]:
    """The papers the `like:` terms of these stored queries name, once each (a query that no longer
    parses names none); only queries that spell "like:" are parsed, so a wave's thousands cost nothing."""
    found: dict[str, None] = {}
    for text in queries:
        if "like:" in text.lower():
            try:
                found.update(dict.fromkeys(like_ids(parse(text))))
            except QueryError:
                continue
    return list(found)
