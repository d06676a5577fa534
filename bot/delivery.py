"""Planning digests from the ledger and handing them to adapters, exactly once.

A digest is planned in one transaction (its papers claimed for the channel), then
sent part by part (`bot.sending`), then marked sent. Anything planned and not marked
is sent again by `send_open()`, which reconciles parts that may already have gone out.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Callable, Mapping
from datetime import date, datetime, timedelta
from functools import partial
from zoneinfo import ZoneInfo

from bot.adapter import Adapter, AdapterStopped, ChannelGone, Outbox, SendFailed
from bot.backoff import Backoff
from bot.commandset import WEEKDAYS
from bot.matcher import NO_LIKES, Matcher
from bot.models import Digest, DigestItem, Paper, day_url
from bot.pacing import REAL_TIME, Pacer, Timing
from bot.likes import find_likes
from bot.query import QueryError, like_ids, parse
from bot.ranking import rank_and_suggest
from bot.ratings import Ratings
from bot.sending import Ledger, Sender
from bot.store import Channel, PlannedDigest, Store

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


async def channel_matches(store: Store, channel: Channel, since: date) -> tuple[list[DigestItem], list[Paper]]:
    """The channel's matches featured on or after `since` and not yet delivered, best first, and
    the papers of those days that matched nothing and were not delivered (suggestion candidates)."""
    queries = []
    for sub in await store.subscriptions(channel.id):
        try:
            queries.append((sub.id, parse(sub.query)))
        except QueryError:
            log.warning("subscription %s no longer parses; skipping it", sub.id)
    papers = [p for p in await store.papers_since(since) if p.upvotes >= channel.min_upvotes]
    seeds = await store.papers_by_id(i for _, query in queries for i in like_ids(query))
    likes = await asyncio.to_thread(find_likes, list(seeds.values()), papers) if seeds else NO_LIKES
    reasons = Matcher(queries, likes).match(papers)
    done = await store.delivered_ids(channel.id, [p.id for p in papers])
    fresh = [p for p in papers if p.id not in done]
    return [DigestItem(p, reasons[p.id]) for p in fresh if p.id in reasons], [p for p in fresh if p.id not in reasons]


class Delivery:
    def __init__(
        self, store: Store, ratings: Ratings, clock: Clock, timing: Timing = REAL_TIME, backoff: Backoff | None = None
    ) -> None:
        self._store = store
        self._ratings = ratings
        self._clock = clock
        self._timing = timing
        self._backoff = backoff or Backoff()
        self._senders: dict[str, Sender] = {}
        self._pacers: dict[str, Pacer] = {}
        self._locks: defaultdict[int, asyncio.Lock] = defaultdict(asyncio.Lock)
        self._slots: defaultdict[str, asyncio.Semaphore] = defaultdict(lambda: asyncio.Semaphore(CHANNELS_AT_ONCE))

    def pacer(self, adapter: Adapter) -> Pacer:
        """The one pacer of the adapter's platform, shared by digests and the adapter's other posts."""
        if adapter.platform not in self._pacers:
            self._pacers[adapter.platform] = Pacer(adapter.limits.rates, self._timing)
        return self._pacers[adapter.platform]

    def attach(self, adapters: Mapping[str, Adapter]) -> None:
        """Send through these adapters, each paced by its own platform's declared rates."""
        for platform, adapter in adapters.items():
            self._senders[platform] = Sender(adapter, self.pacer(adapter), self._backoff, self._timing.sleep)

    def detach(self, platform: str) -> None:
        self._senders.pop(platform, None)

    async def deliver(self, channel: Channel) -> int:
        """Plan what is due for the channel, then send everything open for it; returns papers posted."""
        async with self._slots[channel.key.platform], self._locks[channel.id]:
            await self._plan(channel)
            sent = 0
            for planned in await self._store.open_digests(channel.id):
                sent += await self._send(planned)
            return sent

    async def _plan(self, channel: Channel) -> None:
        newest = await self._store.featured_days(1)
        if not newest:
            return
        items, candidates = await channel_matches(self._store, channel, channel.since_day or newest[0])
        if not items:
            if channel.since_day != newest[0]:
                await self._store.update_channel(channel, since_day=newest[0])
            return
        items, suggestions = await rank_and_suggest(self._ratings, channel, items, candidates)
        shown, held = items[: channel.max_papers], items[channel.max_papers :]
        more_url = day_url(max(i.paper.featured_day for i in held)) if held else None
        title = digest_title(shown, len(items), channel.mode == "weekly")
        await self._store.plan_digest(channel, title, [*shown, *suggestions], held, more_url, newest[0], self._clock())

    async def send_open(self) -> int:
        """Send every digest that was planned and not marked sent (after a crash or a failure)."""
        sent = 0
        for planned in await self._store.open_digests():
            if planned.channel.paused_reason is None:
                async with self._locks[planned.channel.id]:
                    sent += await self._send(planned)
        return sent

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
            log.error("stopping the %s adapter: %s", channel.key.platform, stopped)
            self.detach(channel.key.platform)
            return 0
        except SendFailed as failed:
            log.warning("digest %s for %s not sent, will retry: %s", planned.id, channel.key, failed)
            return 0
        await self._store.mark_sent(planned.id, self._clock())
        log.info("sent digest %s to %s: %d papers", planned.id, channel.key, len(planned.items))
        return len(planned.items)

    async def run_scheduled(self, channel_id: int) -> int:
        """The daily or weekly job of one channel; a no-op when this occurrence already ran."""
        channel = await self._store.channel_by_id(channel_id)
        if channel is None or channel.mode not in ("daily", "weekly") or channel.paused_reason is not None:
            return 0
        now = self._clock()
        due = last_occurrence(channel.time, channel.tz, now, channel.weekday if channel.mode == "weekly" else None)
        if channel.last_run_at is not None and channel.last_run_at >= due:
            return 0
        sent = await self.deliver(channel)
        await self._store.update_channel(channel, last_run_at=now)
        return sent

    async def run_instant(self) -> int:
        sent = 0
        for channel in await self._store.channels():
            if channel.mode == "instant" and channel.paused_reason is None:
                sent += await self.deliver(channel)
        return sent
