"""Why nothing arrived: the status report of `/papers status` and `paperboy status`.

Everything comes from the database (the fetch log, the ledger, the channel's settings),
so another process (`paperboy status` beside a running bot) reads the same answer. The
report says what the source last brought and what failed; when the channel's next digest
is due, in its own time zone; its last digest and any still open; why it is paused; and,
for the newest featured day, why each paper that was not posted here was left out.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from bot.matcher import Matcher
from bot.models import Paper
from bot.query import QueryError, parse
from bot.scheduler import next_digest
from bot.store import Channel, Store
from bot.text import clip, plural

TITLES_SHOWN = 5  # titles listed per reason; the rest are counted
TITLE_CHARS = 80

POSTED = "already delivered here"
OPEN = "in a digest not yet sent (retried at the next poll)"
HELD = 'over the cap: held for "and N more"'
NO_MATCH = "no subscription matched"
DUE = "matched: due in the next digest"


def _when(moment: datetime, tz: str = "UTC") -> str:
    return f"{moment.astimezone(ZoneInfo(tz)):%a %d %b %H:%M} {tz}"


async def source_report(store: Store, now: datetime) -> list[str]:
    """What the source last brought, and what failed in the last day."""
    lines = []
    poll = await store.last_poll()
    if not poll:
        lines.append("Source: no successful fetch recorded yet.")
    else:
        parts = [f"{plural(f.papers or 0, 'paper')} featured on {f.day}" for f in poll if f.papers]
        empty = sorted(f.day for f in poll if not f.papers)
        if len(empty) == 1:
            parts.append(f"no papers featured on {empty[0]}")
        elif empty:
            parts.append(f"none on the {len(empty)} days {empty[0]} to {empty[-1]}")
        brought = ", ".join(parts)
        lines.append(f"Last fetch: {_when(max(f.at for f in poll))}: {brought}.")
    errors = await store.fetch_errors(now - timedelta(days=1))
    if errors:
        lines.append(
            f"Source errors in the last day: {len(errors)}, the last at {_when(errors[0].at)} "
            f"for {errors[0].day}: {errors[0].error}"
        )
    else:
        lines.append("No source errors in the last day.")
    return lines


async def channel_report(store: Store, channel: Channel | None, now: datetime, command: str = "papers") -> list[str]:
    """The channel's schedule, its digests, and why the newest day's papers were or were not posted."""
    subs = await store.subscriptions(channel.id) if channel else []
    if channel is None or not subs:
        return [f"This channel has no subscriptions, so nothing is posted here. Start with /{command} subscribe QUERY."]
    lines = []
    if channel.paused_reason:
        lines.append(f"Paused: {channel.paused_reason}. Nothing is posted until /{command} resume.")
    if channel.mode == "instant":
        lines.append("Next digest: after each poll (instant mode).")
    else:
        ran = channel.last_run_at + timedelta(microseconds=1) if channel.last_run_at else now
        upcoming = next_digest(channel, max(now, ran))  # an occurrence that already ran is not next
        lines.append(f"Next digest: {_when(upcoming, channel.tz)}." if upcoming else "Next digest: not scheduled.")
    last = await store.last_sent(channel.id)
    if last is None:
        lines.append("Last digest: none posted here yet.")
    else:
        at, shown, held = last
        more = f" and {held} more" if held else ""
        lines.append(f"Last digest: {_when(at, channel.tz)}, {plural(shown, 'paper')}{more}.")
    for digest in await store.open_digests(channel.id):
        doubt = " (a post was in flight: it is looked up before being sent again)" if digest.state == "sending" else ""
        lines.append(f"Open digest #{digest.id}: {plural(len(digest.items), 'paper')}, not yet sent{doubt}.")
    lines += await _day_report(store, channel, [(s.id, s.query) for s in subs])
    return lines


async def _day_report(store: Store, channel: Channel, subs: list[tuple[int, str]]) -> list[str]:
    newest = await store.featured_days(1)
    if not newest:
        return ["No papers stored yet: the digest has not been fetched."]
    day = newest[0]
    papers = [p for p in await store.papers_since(day) if p.featured_day == day]
    queries = []
    for sub_id, text in subs:
        try:
            queries.append((sub_id, parse(text)))
        except QueryError:
            continue
    matched = Matcher(queries).match(papers)
    claims = await store.claims(channel.id, [p.id for p in papers])
    by_reason: defaultdict[str, list[Paper]] = defaultdict(list)
    for paper in papers:
        by_reason[_reason(paper, channel, paper.id in matched, claims.get(paper.id))].append(paper)
    posted = len(by_reason.pop(POSTED, []))
    lines = [f"Papers featured on {day:%a %d %b %Y}: {len(papers)}, {posted} delivered here."]
    order = [OPEN, DUE, HELD, f"below min-upvotes {channel.min_upvotes}", NO_MATCH]
    for reason in sorted(by_reason, key=order.index):
        group = by_reason[reason]
        titles = "; ".join(clip(" ".join(p.title.split()), TITLE_CHARS) for p in group[:TITLES_SHOWN])
        rest = f"; and {len(group) - TITLES_SHOWN} more" if len(group) > TITLES_SHOWN else ""
        lines.append(f"- {len(group)} {reason}: {titles}{rest}")
    return lines


def _reason(paper: Paper, channel: Channel, matched: bool, claim: tuple[bool, str] | None) -> str:
    if claim is not None:
        shown, state = claim
        if not shown:
            return HELD
        return POSTED if state == "sent" else OPEN
    if not matched:
        return NO_MATCH
    if paper.upvotes < channel.min_upvotes:
        return f"below min-upvotes {channel.min_upvotes}"
    return DUE
