"""Ratings and what a channel's taste learns from them (bot/relevance.py), for commands and digests.

A channel's model is cache: rebuilt from the stored ratings, its `like:` seeds and its recent
deliveries whenever they changed, never the only copy. Training runs in `asyncio.to_thread`,
kicked off in the background as soon as a rating changes, so the event loop never waits on
it. A model that cannot be built is logged and the channel keeps upvote order.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from bot.likes import seed_ids
from bot.models import Paper
from bot.source import Source
from bot.store import Channel, Store
from bot.text import plural

if TYPE_CHECKING:
    from bot.relevance import Labels, Taste

log = logging.getLogger(__name__)

WEAK_NEGATIVES = 500  # recent deliveries nobody rated that a taste learns from
VOCABULARY_DAYS = 7  # recent featured days whose words a taste knows, beside its rated papers


class Ratings:
    def __init__(self, store: Store, source: Source, clock: Callable[[], datetime]) -> None:
        self._store = store
        self._source = source
        self._clock = clock
        # channel id -> (what its model learned from: labels and the recent papers' ids, the model)
        self._models: dict[int, tuple[tuple[Labels, tuple[str, ...]], Taste | None]] = {}
        self._training: set[asyncio.Task[object]] = set()

    async def find_paper(self, paper_id: str) -> Paper | None:
        """The paper from the store, else from the source (kept for its text); None when neither has it.

        Raises SourceError when the source cannot be asked."""
        found = (await self._store.papers_by_id([paper_id])).get(paper_id)
        if found is not None:
            return found
        paper = await self._source.fetch_paper(paper_id)
        if paper is not None:
            await self._store.keep_looked_up(paper, self._clock())
        return paper

    async def seeds(self, channel_id: int) -> list[str]:
        """The papers the channel's `like:` subscriptions name: they count as liked."""
        return seed_ids(sub.query for sub in await self._store.subscriptions(channel_id))

    async def labels(
        self, channel: Channel, recent: Sequence[Paper] | None = None, seeds: Sequence[str] | None = None
    ) -> Labels:
        """What the channel told us. Papers delivered and not rated are weak negatives; before its
        first digest, the `recent` papers stand in for them (as the benchmark's protocol treats every
        paper of its training days), so ratings alone teach a taste from the first day. `seeds`: its
        `like:` seeds when the caller has them already (a wave read every subscription)."""
        from bot.relevance import labels

        shown = await self._store.delivered_recently(channel.id, WEAK_NEGATIVES)
        if not shown:
            if recent is None:
                recent = await self._store.recent_papers(VOCABULARY_DAYS)
            shown = [p.id for p in recent][:WEAK_NEGATIVES]
        if seeds is None:
            seeds = await self.seeds(channel.id)
        return labels(await self._store.ratings(channel.id), seeds, shown)

    async def taste(self, channel: Channel) -> Taste | None:
        """The channel's learned taste, trained again (off the event loop) when what it learns from changed."""
        return (await self._learn([channel])).get(channel.id)

    async def tastes(
        self, channels: Sequence[Channel], subscriptions: Mapping[int, Sequence[tuple[int, str]]]
    ) -> dict[int, Taste]:
        """The learned taste of each channel of a wave that has one: only channels with ratings or
        `like:` seeds are looked at. A taste that cannot be had is logged, and that channel keeps
        upvote order."""
        rated = await self._store.rated_channels([channel.id for channel in channels])
        seeds = {channel.id: seed_ids(query for _, query in subscriptions.get(channel.id, ())) for channel in channels}
        return await self._learn([channel for channel in channels if channel.id in rated or seeds[channel.id]], seeds)

    async def _learn(
        self, channels: Sequence[Channel], seeds: Mapping[int, Sequence[str]] | None = None
    ) -> dict[int, Taste]:
        """Tastes of these channels: those cached for what they learn from now as they are, the rest
        trained in one worker-thread call over one shared corpus (vectorising is the costly part).
        `seeds`, by channel id, saves reading their subscriptions again."""
        recent = await self._store.recent_papers(VOCABULARY_DAYS)
        recent_ids = tuple(p.id for p in recent)
        found: dict[int, Taste] = {}
        stale: dict[int, tuple[Channel, Labels]] = {}
        for channel in channels:
            try:
                labels = await self.labels(channel, recent, seeds[channel.id] if seeds is not None else None)
            except Exception:
                log.exception("could not read the ratings of %s; its digest goes out in upvote order", channel.key)
                continue
            if not labels.positives:  # nothing liked: nothing to learn, and no reason to load scikit-learn
                self._models.pop(channel.id, None)
                continue
            cached = self._models.get(channel.id)
            if cached is not None and cached[0] == (labels, recent_ids):
                if cached[1] is not None:
                    found[channel.id] = cached[1]
            else:
                stale[channel.id] = (channel, labels)
        if stale:
            known = await self._store.papers_by_id(
                {i: None for _, labels in stale.values() for i in (*labels.positives, *labels.negatives, *labels.unrated)}
            )
            trained = await asyncio.to_thread(_train, [*known.values(), *recent], stale)
            for channel_id, (_, labels) in stale.items():
                taste = trained.get(channel_id)
                self._models[channel_id] = ((labels, recent_ids), taste)
                if taste is not None:
                    found[channel_id] = taste
        return found

    def changed(self, channel: Channel) -> None:
        """Ratings changed: retrain in the background, so the next digest finds the model ready."""
        task = asyncio.create_task(self._retrain(channel))
        self._training.add(task)
        task.add_done_callback(self._training.discard)

    async def _retrain(self, channel: Channel) -> None:
        try:
            await self.taste(channel)
        except Exception:
            log.exception("could not retrain the taste of %s; its digests keep their last order", channel.key)

    async def settle(self) -> None:
        """Until background retraining is done (for tests and shutdown)."""
        while self._training:
            await asyncio.gather(*self._training, return_exceptions=True)

    async def aclose(self) -> None:
        for task in self._training:
            task.cancel()
        await asyncio.gather(*self._training, return_exceptions=True)


def _train(papers: Sequence[Paper], channels: Mapping[int, tuple[Channel, Labels]]) -> dict[int, Taste]:
    """Vectorise once and fit each channel; a failure is logged and leaves that channel (or all,
    when the corpus cannot be built) without a model: upvote order."""
    from bot.relevance import Corpus, Taste

    try:
        corpus = Corpus.build(papers)
    except Exception:
        where = ", ".join(str(channel.key) for channel, _ in list(channels.values())[:3])
        log.exception("could not vectorise %d papers; %s (%s) stay in upvote order", len(papers), where,
                      plural(len(channels), "channel"))
        return {}
    if corpus is None:
        return {}
    found: dict[int, Taste] = {}
    for channel_id, (channel, labels) in channels.items():
        try:
            taste = Taste.train(corpus, labels)
        except Exception:
            log.exception("could not build the taste of %s; its digests stay in upvote order", channel.key)
            continue
        if taste is not None:
            found[channel_id] = taste
    return found
