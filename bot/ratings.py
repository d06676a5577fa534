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

from bot.models import Paper
from bot.likes import seed_ids
from bot.source import Source
from bot.store import Channel, Store

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
        self._models: dict[int, tuple[object, Taste | None]] = {}  # channel id -> (what it learned from, model)
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

    async def labels(self, channel: Channel) -> Labels:
        """What the channel told us. Papers delivered and not rated are weak negatives; before its
        first digest, the recent papers stand in for them (as the benchmark's protocol treats every
        paper of its training days), so ratings alone teach a taste from the first day."""
        from bot.relevance import labels

        shown = await self._store.delivered_recently(channel.id, WEAK_NEGATIVES)
        if not shown:
            shown = [p.id for p in await self._store.recent_papers(VOCABULARY_DAYS)][:WEAK_NEGATIVES]
        return labels(await self._store.ratings(channel.id), await self.seeds(channel.id), shown)

    async def taste(self, channel: Channel) -> Taste | None:
        """The channel's learned taste, trained again (off the event loop) when what it learns from changed."""
        labels = await self.labels(channel)
        if not labels.positives:  # nothing liked: nothing to learn, and no reason to load scikit-learn
            self._models.pop(channel.id, None)
            return None
        recent = await self._store.recent_papers(VOCABULARY_DAYS)
        key = (labels, tuple(p.id for p in recent))
        cached = self._models.get(channel.id)
        if cached is not None and cached[0] == key:
            return cached[1]
        known = await self._store.papers_by_id([*labels.positives, *labels.negatives, *labels.unrated])
        taste = await asyncio.to_thread(_train, [*known.values(), *recent], labels, str(channel.key))
        self._models[channel.id] = (key, taste)
        return taste

    async def tastes(
        self, channels: Sequence[Channel], subscriptions: Mapping[int, Sequence[tuple[int, str]]]
    ) -> dict[int, Taste]:
        """The learned taste of each channel of a wave that has one: only channels with ratings or
        `like:` seeds are looked at. A taste that cannot be had is logged, and that channel keeps
        upvote order."""
        rated = await self._store.rated_channels([channel.id for channel in channels])
        found: dict[int, Taste] = {}
        for channel in channels:
            if channel.id in rated or seed_ids(query for _, query in subscriptions.get(channel.id, ())):
                try:
                    taste = await self.taste(channel)
                except Exception:
                    log.exception("could not learn the taste of %s; its digest goes out in upvote order", channel.key)
                    continue
                if taste is not None:
                    found[channel.id] = taste
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


def _train(papers: Sequence[Paper], labels: Labels, where: str) -> Taste | None:
    """Vectorise and fit; a failure is logged and gives no model (upvote order)."""
    from bot.relevance import Corpus, Taste

    try:
        corpus = Corpus.build(papers)
        return Taste.train(corpus, labels) if corpus is not None else None
    except Exception:
        log.exception("could not build the taste of %s; its digests stay in upvote order", where)
        return None
