"""The store's records and how rows become them (and back)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import NamedTuple

from bot.models import ChannelKey, DigestItem, Paper, Reason


@dataclass(frozen=True, slots=True)
class Channel:
    id: int
    key: ChannelKey
    time: str
    tz: str
    mode: str
    min_upvotes: int
    max_papers: int
    paused_reason: str | None
    since_day: date | None
    last_run_at: datetime | None
    suggestions: int = 3  # "also for you" papers a digest ends with, once the channel's taste is learned
    weekday: str = "monday"  # the day of a weekly digest


class Schedule(NamedTuple):
    """A distinct time at which some channels' digests fall due."""

    time: str
    tz: str
    mode: str
    weekday: str


@dataclass(frozen=True, slots=True)
class Subscription:
    id: int
    channel_id: int
    query: str
    created_by: str
    created_at: datetime
    created_by_name: str | None = None

    @property
    def author(self) -> str:
        """Who made it, as people know them (platform ids are kept for permission checks)."""
        return self.created_by_name or self.created_by


@dataclass(frozen=True, slots=True)
class PlannedDigest:
    """A digest row with its papers, rebuilt from the ledger so a send can resume."""

    id: int
    channel: Channel
    title: str
    items: tuple[DigestItem, ...]
    more: int
    more_url: str | None
    state: str
    parts: dict[int, str]


@dataclass(frozen=True, slots=True)
class DigestPlan:
    """A digest to record: its papers best first, the first `shown` of them shown and the rest
    held back past the channel's cap.

    Built with `of` where the wave is planned (a worker thread). The papers and their reasons
    are kept as one JSON text of [paper id, reasons JSON] pairs: a wave holds a million such
    entries, and freeing a million objects at once would stall the event loop for 50 ms.
    """

    channel: Channel
    title: str
    entries: str
    count: int
    shown: int
    more_url: str | None

    @classmethod
    def of(cls, channel: Channel, title: str, shown: Sequence[DigestItem], held: Sequence[DigestItem],
           more_url: str | None) -> DigestPlan:
        entries = json.dumps([[item.paper.id, reasons_json(item.reasons)] for item in [*shown, *held]])
        return cls(channel, title, entries, len(shown) + len(held), len(shown), more_url)


def day(value: str | None) -> date | None:
    return date.fromisoformat(value) if value else None


def moment(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


PAPER_COLUMNS = (
    "id, title, abstract, authors, upvotes, featured_day, published_day, ai_summary,"
    " ai_keywords, github_repo, github_stars, project_page, organization"
)
CHANNEL_COLUMNS = (
    "id, platform, workspace, channel, time, tz, mode, min_upvotes, max_papers,"
    " paused_reason, since_day, last_run_at, suggestions, weekday"
)


def paper_row(p: Paper) -> tuple[object, ...]:
    """The values of PAPER_COLUMNS for a paper."""
    return (
        p.id,
        p.title,
        p.abstract,
        json.dumps(list(p.authors)),
        p.upvotes,
        p.featured_day.isoformat(),
        p.published_day.isoformat() if p.published_day else None,
        p.ai_summary,
        json.dumps(list(p.ai_keywords)),
        p.github_repo,
        p.github_stars,
        p.project_page,
        p.organization,
    )


def paper_from(row: Sequence[object]) -> Paper:
    return Paper(
        id=str(row[0]),
        title=str(row[1]),
        abstract=str(row[2]),
        authors=tuple(json.loads(str(row[3]))),
        upvotes=int(row[4]),  # type: ignore[call-overload]
        featured_day=date.fromisoformat(str(row[5])),
        published_day=day(row[6]),  # type: ignore[arg-type]
        ai_summary=row[7],  # type: ignore[arg-type]
        ai_keywords=tuple(json.loads(str(row[8]))),
        github_repo=row[9],  # type: ignore[arg-type]
        github_stars=row[10],  # type: ignore[arg-type]
        project_page=row[11],  # type: ignore[arg-type]
        organization=row[12],  # type: ignore[arg-type]
    )


def channel_from(row: Sequence[object]) -> Channel:
    return Channel(
        id=int(row[0]),  # type: ignore[call-overload]
        key=ChannelKey(str(row[1]), str(row[2]), str(row[3])),
        time=str(row[4]),
        tz=str(row[5]),
        mode=str(row[6]),
        min_upvotes=int(row[7]),  # type: ignore[call-overload]
        max_papers=int(row[8]),  # type: ignore[call-overload]
        paused_reason=row[9],  # type: ignore[arg-type]
        since_day=day(row[10]),  # type: ignore[arg-type]
        last_run_at=moment(row[11]),  # type: ignore[arg-type]
        suggestions=int(row[12]),  # type: ignore[call-overload]
        weekday=str(row[13]),
    )


def reasons_json(reasons: Iterable[Reason]) -> str:
    return json.dumps([[r.subscription_id, r.query, list(r.words)] for r in reasons])


def reasons_from(text: str) -> tuple[Reason, ...]:
    return tuple(Reason(int(i), str(q), tuple(w)) for i, q, w in json.loads(text))
