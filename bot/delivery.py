"""Planning digests from the ledger and handing them to adapters, exactly once.

A digest is planned in one transaction (its papers claimed for the channel), then
sent part by part (`bot.sending`), then marked sent. Anything planned and not marked
is sent again by `send_open()`, which reconciles parts that may already have gone out.

All of it happens under the worker's claim on each channel (`bot.store.workers`), so when
several workers share a database each due channel is planned and sent by exactly one, and
`recover()` resumes the channels of a worker that died once its lease has run out.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict, deque
from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime, timedelta
from functools import partial
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from bot.adapter import Adapter, AdapterStopped, ChannelGone, Outbox, SendFailed
from bot.backoff import Backoff
from bot.commandset import WEEKDAYS
from bot.gcpause import no_full_collections
from bot.inflight import InFlight
from bot.likes import find_likes, seed_ids
from bot.matcher import NO_LIKES, Likes, match_channels
from bot.models import Digest, DigestItem, Paper, day_url
from bot.pacing import REAL_TIME, Pacer, Timing
from bot.query import Query, QueryError, parse
from bot.ranking import rank_and_suggest
from bot.ratings import Ratings
from bot.sending import Ledger, Sender
from bot.store import Channel, DigestPlan, LeaseLost, PlannedDigest, Store, StoreUnavailable
from bot.telemetry import Telemetry

if TYPE_CHECKING:
    from bot.relevance import Taste

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]

# Channels of one platform planned and sent at once. When a thousand channels fall due together,
# this lets the first digests go out while the rest wait, instead of all planning first; one
# bound per platform, so a platform pacing its posts never holds back another.
CHANNELS_AT_ONCE = 32


def last_occurrence(time: str, tz: str, now: datetime, weekday: str | None = None) -> datetime:
    """The latest moment at or before `now` when the channel's local clock read `time` (on `weekday`,
    e.g. "monday", when given)."""
    hour, minute = map(int, time.split(":"))
    local_now = now.astimezone(ZoneInfo(tz))
    candidate = local_now.replace(hour=hour, minute=minute, second=0, microsecond=0)
    back = 0 if weekday is None else (candidate.weekday() - WEEKDAYS.index(weekday)) % 7
    if back == 0 and candidate > local_now:
        back = 1 if weekday is None else 7
    if back:
        candidate = (candidate - timedelta(days=back)).replace(hour=hour, minute=minute)
    return candidate


def digest_title(items: list[DigestItem], total: int, weekly: bool = False) -> str:
    days = sorted({item.paper.featured_day for item in items})
    when = days[-1].strftime("%a %d %b %Y") if len(days) == 1 else (
        f"{days[0].strftime('%d %b')} to {days[-1].strftime('%d %b %Y')}"
    )
    noun = "paper" if total == 1 else "papers"
    return f"{'Weekly' if weekly else 'Daily'} Papers, {when}: {total} {noun} for this channel"


def plan_wave(
    channels: Sequence[Channel],
    subscriptions: Mapping[int, Sequence[tuple[int, str]]],
    papers: Sequence[Paper],
    done: set[tuple[int, str]],
    newest: date,
    seeds: Sequence[Paper] = (),
    tastes: Mapping[int, Taste] | None = None,
) -> tuple[list[DigestPlan], list[Channel]]:
    """The digest of each channel with something new, and the channels with nothing new: queries
    parsed and matched in one pass over `papers` (best first), `like:` terms against `seeds`, and
    each channel with a learned taste ranked by it and ending with its suggestions.

    CPU-bound and synchronous: the caller runs it in a worker thread.
    """
    queries: dict[int, list[tuple[int, Query]]] = {}
    for channel_id, subs in subscriptions.items():
        queries[channel_id] = []
        for sub_id, text in subs:
            try:
                queries[channel_id].append((sub_id, parse(text)))
            except QueryError:
                log.warning("subscription %s no longer parses; skipping it", sub_id)
    likes = _likes(seeds, papers)
    by_id = {channel.id: channel for channel in channels}
    plans, unplanned = [], []
    for channel_id, hits in match_channels(queries, papers, likes):
        channel = by_id[channel_id]
        since = channel.since_day or newest
        fresh = [
            paper for paper in papers
            if (channel_id, paper.id) not in done and paper.featured_day >= since and paper.upvotes >= channel.min_upvotes
        ] if hits else []
        items = [DigestItem(paper, hits[paper.id]) for paper in fresh if paper.id in hits]
        if items:
            suggestions: list[DigestItem] = []
            if tastes and (taste := tastes.get(channel_id)) is not None:
                candidates = [paper for paper in fresh if paper.id not in hits]
                items, suggestions = rank_and_suggest(taste, channel, items, candidates)
            shown, held = items[: channel.max_papers], items[channel.max_papers :]
            more_url = day_url(max(i.paper.featured_day for i in held)) if held else None
            title = digest_title(shown, len(items), channel.mode == "weekly")
            plans.append(DigestPlan.of(channel, title, [*shown, *suggestions], held, more_url))
        else:
            unplanned.append(channel)
    return plans, unplanned


def _likes(seeds: Sequence[Paper], papers: Sequence[Paper]) -> Likes:
    """The wave's `like:` similarities; when they cannot be worked out, `like:` terms match nothing
    this wave (logged) and the rest of every query still does."""
    try:
        return find_likes(seeds, papers)
    except Exception:
        log.exception("could not work out the papers similar to %d like: seeds", len(seeds))
        return NO_LIKES


class Delivery:
    def __init__(
        self, store: Store, ratings: Ratings, clock: Clock, timing: Timing = REAL_TIME, backoff: Backoff | None = None
    ) -> None:
        self.work = InFlight()  # what a stop waits for
        self.telemetry = Telemetry()
        self._store = store
        self._ratings = ratings
        self._clock = clock
        self._timing = timing
        self._backoff = backoff or Backoff()
        self._senders: dict[str, Sender] = {}
        self._pacers: dict[str, Pacer] = {}
        self._locks: defaultdict[int, asyncio.Lock] = defaultdict(asyncio.Lock)  # one sender per channel
        self._planning = asyncio.Lock()  # one wave planned at a time, so no paper is claimed twice
        self._slots: defaultdict[str, asyncio.Semaphore] = defaultdict(lambda: asyncio.Semaphore(CHANNELS_AT_ONCE))

    def pacer(self, adapter: Adapter) -> Pacer:
        """The one pacer of the adapter's platform, shared by digests and the adapter's other posts."""
        if adapter.platform not in self._pacers:
            shared = self._store if self._store.backend.shared else None
            self._pacers[adapter.platform] = Pacer(adapter.limits.rates, self._timing, shared, adapter.platform)
        return self._pacers[adapter.platform]

    def attach(self, adapters: Mapping[str, Adapter]) -> None:
        """Send through these adapters, each paced by its own platform's declared rates."""
        for platform, adapter in adapters.items():
            self._senders[platform] = Sender(
                adapter, self.pacer(adapter), self._backoff, self._timing.sleep, self.work, self.telemetry
            )

    def detach(self, platform: str) -> None:
        self._senders.pop(platform, None)

    async def deliver(self, channels: Sequence[Channel]) -> int:
        """Plan what is due for the channels in one pass, then send everything open for them;
        returns the papers posted."""
        return await self._wave(channels, scheduled=False)

    async def _wave(self, channels: Sequence[Channel], scheduled: bool) -> int:
        """Claim the channels, plan those this worker got in one pass, and send them, each handed
        back as soon as it is sent.

        A `scheduled` wave skips a channel whose digest another worker ran meanwhile and notes
        the run of the others once they are planned.
        """
        if self.work.stopping or not channels:
            return 0
        claimed = await self._store.claim([channel.id for channel in channels])
        try:
            fresh = await self._store.channels_by_id(claimed)
            if scheduled:
                fresh = [channel for channel in fresh if self._due(channel)]
            async with self._planning:
                with no_full_collections:
                    await self._plan(fresh, ran=self._clock() if scheduled else None)
        except BaseException:
            await self._release(claimed)
            raise
        await self._release(sorted(set(claimed) - {channel.id for channel in fresh}))
        return await self._send_all(fresh)

    async def _release(self, channel_ids: Sequence[int]) -> None:
        try:
            await self._store.release(channel_ids)
        except StoreUnavailable:
            pass  # the leases run out by themselves

    async def _send_all(self, channels: Sequence[Channel]) -> int:
        """Send what is open for these claimed channels, a few at a time per platform, handing each back when done."""
        queues: defaultdict[str, deque[Channel]] = defaultdict(deque)
        for channel in channels:
            queues[channel.key.platform].append(channel)
        workers = [
            self._send_queue(queue) for queue in queues.values() for _ in range(min(len(queue), CHANNELS_AT_ONCE))
        ]
        try:
            if len(workers) == 1:  # one channel (`/papers digest`): sent in this task, no other to start
                return await workers[0]
            return sum(await asyncio.gather(*workers))
        finally:
            # Channels a stop or a failure kept from being reached: their claims go back at once.
            await self._release([channel.id for queue in queues.values() for channel in queue])

    async def _send_queue(self, queue: deque[Channel]) -> int:
        """One of a platform's senders: channels are taken in turn, so a wave of thousands keeps
        only a few sends (and their objects) alive at once."""
        sent = 0
        while queue:
            sent += await self._send_channel(queue.popleft())
        return sent

    async def _send_channel(self, channel: Channel) -> int:
        """Everything open for the channel, which this worker has claimed; the claim is handed back
        after, except when the database was lost: then its lease runs out and `recover` (here or in
        another worker) resumes the channel, where a claim handed back would wait for the next poll."""
        sent = 0
        try:
            if not self.work.stopping:
                async with self.work.working(), self._slots[channel.key.platform], self._locks[channel.id]:
                    for planned in await self._store.open_digests(channel.id):
                        sent += await self._send(planned)
        except LeaseLost as lost:
            log.warning("%s: %s", channel.key, lost)
        except StoreUnavailable:
            raise
        except BaseException:
            await self._release([channel.id])
            raise
        await self._release([channel.id])
        return sent

    async def _plan(self, channels: Sequence[Channel], ran: datetime | None = None) -> None:
        """One matcher pass for the whole wave, off the event loop; one transaction records it
        (and, for a scheduled wave, that each channel's digest ran at `ran`)."""
        newest = await self._store.featured_days(1)
        if not newest or not channels:
            return
        papers = await self._store.papers_since(min(channel.since_day or newest[0] for channel in channels))
        subscriptions: dict[int, list[tuple[int, str]]] = {channel.id: [] for channel in channels}
        for channel_id, sub_id, query in await self._store.subscription_queries():
            if channel_id in subscriptions:
                subscriptions[channel_id].append((sub_id, query))
        done = await self._store.delivered(subscriptions, [paper.id for paper in papers])
        seeds = await self._store.papers_by_id(seed_ids(query for subs in subscriptions.values() for _, query in subs))
        tastes = await self._ratings.tastes(channels, subscriptions)
        plans, unplanned = await asyncio.to_thread(
            plan_wave, channels, subscriptions, papers, done, newest[0], list(seeds.values()), tastes
        )
        await self._store.plan_digests(plans, unplanned, newest[0], self._clock(), ran)

    async def send_open(self, channel_ids: Sequence[int] | None = None) -> int:
        """Send every digest that was planned and not marked sent (after a crash or a failure),
        of these channels or of all."""
        if self.work.stopping:
            return 0
        open_digests = await self._store.open_digests()
        wanted = {d.channel.id for d in open_digests if d.channel.paused_reason is None}
        claimed = await self._store.claim(sorted(wanted if channel_ids is None else wanted & set(channel_ids)))
        fresh = await self._store.channels_by_id(claimed)
        await self._release(sorted(set(claimed) - {channel.id for channel in fresh}))
        return await self._send_all(fresh)

    async def recover(self) -> int:
        """Take over the channels of workers that stopped renewing their claims: send what they
        left open, and run their digests that fell due meanwhile."""
        stale = await self._store.stale_claims()
        if not stale:
            return 0
        log.info("resuming %d channel(s) whose worker stopped", len(stale))
        taken = await self._store.claim(stale)  # all of them, so those with nothing left to do are handed back too
        try:
            return await self.send_open(taken) + await self.run_due()
        finally:
            await self._release(taken)

    async def _send(self, planned: PlannedDigest) -> int:
        channel = planned.channel
        sender = self._senders.get(channel.key.platform)
        if sender is None:
            log.info("digest %s for %s waits: the %s adapter is not running", planned.id, channel.key, channel.key.platform)
            return 0
        digest = Digest(planned.title, planned.items, planned.more, planned.more_url)
        outbox = Outbox(
            key=f"pb{self._store.install_id}-{planned.id}",
            sent=dict(planned.parts),
            uncertain=planned.state == "sending",
            record=partial(self._store.record_part, planned.id),
        )
        ledger = Ledger(partial(self._store.mark_sending, planned.id), partial(self._store.settle, planned.id))
        try:
            await sender.send(channel.key, digest, outbox, ledger)
        except ChannelGone as gone:
            log.warning("pausing %s: %s", channel.key, gone.reason)
            await self._store.update_channel(channel, paused_reason=gone.reason)
            return 0
        except AdapterStopped as stopped:
            self.telemetry.failed[channel.key.platform] += 1
            log.error("stopping the %s adapter: %s", channel.key.platform, stopped)
            self.detach(channel.key.platform)
            return 0
        except SendFailed as failed:
            self.telemetry.failed[channel.key.platform] += 1
            log.warning("digest %s for %s not sent, will retry: %s", planned.id, channel.key, failed)
            return 0
        await self._store.mark_sent(planned.id, self._clock())
        self.telemetry.sent[channel.key.platform] += 1
        log.info("sent digest %s to %s: %d papers", planned.id, channel.key, len(planned.items))
        return len(planned.items)

    async def run_due(self) -> int:
        """Every daily or weekly channel whose time has come since its last run, as one wave; a no-op
        when each has run for its latest occurrence (a job firing twice or late, in any worker,
        posts nothing more)."""
        return await self._wave([channel for channel in await self._store.channels() if self._due(channel)], True)

    def _due(self, channel: Channel) -> bool:
        if channel.mode not in ("daily", "weekly") or channel.paused_reason is not None:
            return False
        weekday = channel.weekday if channel.mode == "weekly" else None
        due = last_occurrence(channel.time, channel.tz, self._clock(), weekday)
        return channel.last_run_at is None or channel.last_run_at < due

    async def run_instant(self) -> int:
        """Every instant channel, as one wave: new matches after each poll."""
        channels = await self._store.channels()
        return await self.deliver([c for c in channels if c.mode == "instant" and c.paused_reason is None])
