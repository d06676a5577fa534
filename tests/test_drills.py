"""Drills: the bot under a multi-day source outage, hostile input and concurrent writers.

Each drill plays out what an operator would live through and checks what users see:
which papers reach which channel, how often, and that the database stays sound.
"""

from __future__ import annotations

import asyncio
import copy
import io
import json
import re
import sqlite3
from contextlib import closing
import unicodedata
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapters.console import ConsoleAdapter
from bot.commandset import COMMANDS
from bot.config import Settings
from bot.core import Core
from bot.matcher import explain
from bot.models import ChannelKey, CommandContext, DigestItem, Reason
from bot.plaintext import render_item
from bot.query import parse
from bot.source import FileSource, HuggingFaceSource, SourceError, parse_items
from bot.store import Store
from tests.conftest import FIXTURES
from tests.support import MemoryAdapter, VirtualTime

# --- Shared helpers


def Posts() -> MemoryAdapter:  # noqa: N802 - reads as the class it stands for
    """A chat platform that records every digest by channel and acknowledges each part."""
    return MemoryAdapter("drill")


def ctx(channel: str, user: str = "ops", can_manage: bool = True) -> CommandContext:
    return CommandContext(ChannelKey("drill", "ws", channel), user, can_manage=can_manage)


Item = dict[str, Any]  # one element of the Daily Papers API's answer


def recorded_items() -> list[Item]:
    """The API items of both recorded days: 42 distinct papers."""
    return [item for day in ("2026-08-21", "2024-10-25") for item in json.loads((FIXTURES / f"{day}.json").read_text())]


def at(day: date, hour: int) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC)


# --- Drill 1: the source down for three days, then back


MON = date(2026, 8, 24)
WEEK = [MON + timedelta(days=n) for n in range(5)]  # Mon..Fri; down Tue, Wed, Thu
OUTAGE = {WEEK[1]: "timeout", WEEK[2]: "HTTP 500", WEEK[3]: "truncated body"}
CHANNELS = {  # channel -> (subscription, commands to set it up)
    "agents": ("agent OR agents OR agentic", ["settings max-papers 3"]),
    "vision": ("video OR image OR diffusion", ["settings max-papers 10", "schedule 12:00 America/New_York"]),
    "llm": ('llm OR llms OR "language model"', ["settings max-papers 2", "mode instant"]),
    "popular": ("model OR models", ["settings min-upvotes 20", "settings max-papers 4", "schedule 18:00 Asia/Tokyo"]),
}


def featured_week() -> dict[date, list[Item]]:
    """The recorded papers re-dated over Mon..Fri, about eight a day, as the API would list them."""
    items = recorded_items()
    days: dict[date, list[Item]] = {day: [] for day in WEEK}
    for n, item in enumerate(items):
        day = WEEK[n % len(WEEK)]
        item = copy.deepcopy(item)
        item["paper"]["submittedOnDailyAt"] = f"{day.isoformat()}T08:00:00.000Z"
        days[day].append(item)
    return days


class FlakyHub:
    """The Daily Papers API, broken in a different way on each outage day."""

    def __init__(self, clock: VirtualTime) -> None:
        self.clock = clock
        self.days = featured_week()
        self.requests: Counter[str] = Counter()

    def __call__(self, request: httpx.Request) -> httpx.Response:
        fault = OUTAGE.get(self.clock().date())
        self.requests[fault or "ok"] += 1
        if fault == "timeout":
            raise httpx.ReadTimeout("timed out", request=request)
        if fault == "HTTP 500":
            return httpx.Response(500, text="upstream error")
        day = date.fromisoformat(request.url.params["date"])
        body = json.dumps(self.days.get(day, [])).encode()
        return httpx.Response(200, content=body[: len(body) // 2] if fault else body)


async def test_three_day_outage_then_each_missed_paper_once_within_each_cap(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    clock = VirtualTime(at(MON, 7))
    hub = FlakyHub(clock)
    sleeps: list[float] = []

    async def no_sleep(delay: float) -> None:
        sleeps.append(delay)

    source = HuggingFaceSource(transport=httpx.MockTransport(hub), sleep=no_sleep, jitter=lambda: 0.0)
    core = await Core.open(Settings(db=str(tmp_path / "drill.db")), source, clock)
    posts = Posts()
    core.delivery.attach({"drill": posts})
    try:
        await core.poll()
        for channel, (query, setup) in CHANNELS.items():
            assert (await core.commands.handle(ctx(channel), f"subscribe {query}")).ok
            for command in setup:
                assert (await core.commands.handle(ctx(channel), command)).ok, command

        posted_by_day: dict[date, int] = {}
        for day in WEEK:
            for hour in range(7, 24, 3):  # a poll and the scheduler's jobs every three hours
                clock.now = at(day, hour)
                await core.poll()
                await core.delivery.run_due()
            posted_by_day[day] = sum(len(d) for d in posts.by_channel.values())

        # Nothing was posted while the source was down, and the bot said why in its log.
        assert posted_by_day[WEEK[1]] == posted_by_day[WEEK[2]] == posted_by_day[WEEK[3]] == posted_by_day[MON]
        assert set(hub.requests) == {"ok", "timeout", "HTTP 500", "truncated body"}
        assert "could not fetch 2026-08-26, will try again at the next poll" in caplog.text
        assert sleeps and clock.now.date() == WEEK[-1]  # retries waited on the injected sleep only

        papers = {p.id: p for p in await core.store.papers_since(MON)}
        assert len(papers) == len(recorded_items())  # every day of the outage was fetched once back
        for channel, (query, _) in CHANNELS.items():
            stored = await core.store.channel(ctx(channel).key)
            assert stored is not None
            wanted = {
                p.id for p in papers.values()
                if p.upvotes >= stored.min_upvotes and explain(parse(query), p) is not None
            }
            digests = posts.by_channel[channel]
            shown = [item.paper.id for digest in digests for item in digest.items]
            # Each paper at most once, no post over the channel's cap, and every match accounted
            # for exactly once: shown, or counted in a single "and N more".
            assert len(shown) == len(set(shown)), channel
            assert all(len(d.items) <= stored.max_papers for d in digests), channel
            assert set(shown) <= wanted and len(shown) + sum(d.more for d in digests) == len(wanted), channel
            # One digest for Monday, then one catch-up with the missed days: no flood.
            assert len(digests) == 2, (channel, [d.title for d in digests])
            catch_up = digests[-1]
            missed = {p for p in wanted if papers[p].featured_day > MON}
            assert catch_up.title.endswith(f": {len(missed)} papers for this channel")
            assert len(catch_up.items) == min(len(missed), stored.max_papers)
            best = sorted(missed, key=lambda p: (-papers[p].upvotes, p))[: stored.max_papers]
            assert [i.paper.id for i in catch_up.items] == best
            subscription_id = (await core.store.subscriptions(stored.id))[0].id
            assert all(r.subscription_id == subscription_id for i in catch_up.items for r in i.reasons)

        # The next days bring nothing twice.
        before = {c: len(d) for c, d in posts.by_channel.items()}
        clock.advance(days=1)
        await core.poll()
        await core.delivery.run_due()
        assert {c: len(d) for c, d in posts.by_channel.items()} == before
    finally:
        await core.close()


async def test_a_lone_surrogate_in_one_paper_does_not_cost_the_day(core: Core) -> None:
    """JSON may escape half an emoji ("\\ud83d", as a cut-off JS string gives): that paper must not lose the day."""
    items = copy.deepcopy(recorded_items()[:2])
    items[0]["paper"]["title"] += " \ud83d"

    def hub(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=json.dumps(items).encode())  # ASCII JSON, the surrogate escaped

    core.source = HuggingFaceSource(transport=httpx.MockTransport(hub))
    assert await core.fetch([MON]) == {MON: 2}


# --- Drill 2: hostile input


QUERYISH = [
    "agent", "diffusion", '"', "“", "(", ")", "OR", "AND", "-", "-survey", "title:", "author:", "keyword:",
    "abstract:", "upvotes:>=", "upvotes:", "has:code", "has:nothing", "colour:", "@everyone", "<!channel>",
    "<@U123>", "#1", "all", "0", "25", "51", "9999999999999999999999", "٣", "²", "09:00", "24:00",
    "Europe/Berlin", "Mars/Olympus", "min-upvotes", "max-papers", "daily", "instant", "'",
]
ODD = "\ud83d\udc00\t\n\r\x00\x85\u2028\u202e\x1b"  # lone surrogates too: JSON payloads can carry them
any_text = st.text(st.one_of(st.characters(), st.sampled_from(ODD)), max_size=60)
long_text = st.tuples(st.text(min_size=1, max_size=8), st.integers(500, 6000)).map(lambda t: (t[0] * t[1])[: t[1]])
VALID = [  # commands that change the database, to be spoiled by an odd character and a random tail
    "subscribe agent", 'subscribe "reinforcement learning" -survey', "subscribe (video OR image) has:code",
    "unsubscribe 1", "unsubscribe all", "schedule 10:30 Asia/Tokyo", "settings max-papers 3", "mode instant",
    "pause", "resume", "digest",
]
arguments = st.one_of(
    any_text,
    long_text,
    st.lists(st.one_of(st.sampled_from(QUERYISH), any_text), max_size=12).map(" ".join),
    st.builds("{} {}".format, st.sampled_from(["min-upvotes", "max-papers"]), st.text("0123456789٣²", max_size=7)),
    st.builds("{}:{:02d} {}".format, st.integers(0, 99), st.integers(0, 99), st.sampled_from(["", "UTC", "Mars/Base"])),
    st.integers().map(str),
)
commands = st.one_of(
    any_text,
    long_text,
    st.builds("{}{}{}".format, st.sampled_from(VALID), st.sampled_from(["", " ", *ODD]), any_text),
    st.builds(
        "{}{} {}".format,
        st.sampled_from(["", "/papers ", "papers ", "/PAPERS  "]),
        st.sampled_from([*(spec.name for spec in COMMANDS), "Subscribe", "UNSUBSCRIBE", "frobnicate", ""]),
        arguments,
    ),
)
contexts = st.sampled_from([ctx("one"), ctx("one", "guest", can_manage=False), ctx("two", "bob")])
STATE = ("channels", "subscriptions", "digests", "deliveries", "digest_parts")


def snapshot(db: sqlite3.Connection) -> dict[str, list[tuple]]:  # type: ignore[type-arg]
    return {table: db.execute(f"SELECT * FROM {table} ORDER BY 1, 2").fetchall() for table in STATE}


def test_a_thousand_random_commands_never_raise_and_bad_ones_change_nothing(tmp_path: Path) -> None:
    """Random verbs, arguments and unicode through the command handler, on one live database."""
    with asyncio.Runner() as runner:  # one loop and one database for all examples, as in a live bot
        clock = VirtualTime(datetime(2026, 8, 21, 7, 0, tzinfo=UTC))
        path = str(tmp_path / "fuzz.db")
        source = FileSource(FIXTURES / "api_samples.json")  # two papers: cheap to match, enough to post
        core = runner.run(Core.open(Settings(db=path, max_subscriptions=5), source, clock))
        out = io.StringIO()
        core.delivery.attach({"drill": ConsoleAdapter(stdin=io.StringIO(""), stdout=out, user="ops")})
        runner.run(core.poll())
        reader = sqlite3.connect(path)
        seen: Counter[bool] = Counter()

        @settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
        @given(context=contexts, text=commands)
        def check(context: CommandContext, text: str) -> None:
            before = snapshot(reader)
            reply = runner.run(core.commands.handle(context, text))
            assert isinstance(reply.text, str) and reply.text.strip(), text
            assert len(reply.text) < 4000, (text[:80], reply.text[:200])
            seen[reply.ok] += 1
            if not reply.ok:
                assert reply.announcement is None
                assert snapshot(reader) == before, (text, reply.text)

        try:
            check()
        finally:
            reader.close()
            runner.run(core.close())
        assert seen[True] and seen[False]  # both paths were exercised


junk = st.one_of(  # a wrong-typed JSON value where a field was expected
    st.none(), st.booleans(), st.integers(-(2**63), 2**63), st.floats(allow_nan=False), any_text,
    st.lists(st.integers(), max_size=2), st.dictionaries(st.text(max_size=4), st.integers(), max_size=2),
)
CONTROL = "\x1b[\x07\x00\r\n\t\x85\x9b\u202e\u2066\u2028"  # escapes, bells, line breaks, bidi overrides
hostile = st.text(st.one_of(st.characters(), st.sampled_from(CONTROL)), max_size=24)
days = st.sampled_from(["2026-08-21T08:00:00.000Z", "2026-02-30T00:00:00Z", "0000-01-01", "2026-08-21"]) | any_text


API_FIELDS = (
    "id", "title", "summary", "upvotes", "authors", "ai_keywords", "ai_summary", "githubRepo", "githubStars",
    "projectPage", "organization", "submittedOnDailyAt", "publishedAt",
)


def api_item(
    paper_id: str, title: str, summary: str, authors: list[str], keywords: list[str], link: str, upvotes: int,
    day: str, broken: set[str], wrong: object,
) -> dict[str, object]:
    """An API item built from hostile text, with the `broken` fields given a wrong value or left out."""
    paper: dict[str, object] = {
        "id": paper_id, "title": title, "summary": summary, "upvotes": upvotes,
        "authors": [{"name": name, "hidden": len(name) == 3} for name in authors], "ai_keywords": keywords,
        "ai_summary": summary[::-1], "githubRepo": link, "githubStars": upvotes, "projectPage": link,
        "organization": {"fullname": title[:12]}, "submittedOnDailyAt": day, "publishedAt": day,
    }
    for n, field in enumerate(sorted(broken)):
        if n % 2:
            del paper[field]
        else:
            paper[field] = wrong
    return {"paper": paper}


links = st.sampled_from(["https://github.com/a/b", "javascript:alert(1)", "http://x.org/\x1b]8;;"]) | hostile
api_items = st.builds(
    api_item,
    st.builds("{:04d}.{:05d}{}".format, st.integers(0, 9999), st.integers(0, 99999), st.sampled_from(["", "v2"])),
    hostile, hostile, st.lists(hostile, max_size=2), st.lists(hostile, max_size=2), links,
    st.integers(-(2**31), 2**31), days, st.lists(st.sampled_from(API_FIELDS), max_size=3).map(set), junk,
)
NOT_ITEMS: list[object] = [None, 7, "x", [], {}, {"paper": None}, {"paper": []}, {"paper": {"id": 5}}]
_TERMINAL_CONTROL = re.compile(r"[\u202a-\u202e\u2066-\u2069]")


@settings(max_examples=1000, deadline=None)
@given(item=api_items, words=st.lists(hostile.map(lambda w: " ".join(w.split())), max_size=2))
def test_random_api_items_parse_and_render_safely(item: dict[str, object], words: list[str]) -> None:
    """Whatever the API sends, a bad item is skipped and the console shows no control characters.

    The matched words are query labels, which come from one-line commands (`handle` joins lines).
    """
    for paper in parse_items([*NOT_ITEMS, item], date(2026, 8, 21)):
        lines = render_item(1, DigestItem(paper, (Reason(1, "q", tuple(words)),))).split("\n")
        assert len(lines) == 5  # no injected line breaks: a paper cannot fake a line of its own
        for line in lines:
            assert not any(unicodedata.category(c) == "Cc" for c in line), line
            assert not _TERMINAL_CONTROL.search(line), line


@settings(max_examples=50, deadline=None)
@given(data=st.one_of(st.none(), st.booleans(), st.integers(), any_text, api_items))
def test_an_api_answer_that_is_not_a_list_is_a_source_error(data: object) -> None:
    with pytest.raises(SourceError):
        parse_items(data, None)


# --- Drill 3: fifty concurrent writers on one database


WRITERS = 50


async def one_channel(core: Core, n: int) -> tuple[set[int], set[int]]:
    """A channel's burst: subscribe twice, drop one, cap it, and ask for its digest twice at once.

    Returns the subscription ids acknowledged and those acknowledged as removed.
    """
    here = ctx(f"c{n}", f"user{n}")
    kept: set[int] = set()
    for query in (f'"language model" OR title:c{n}', "agent OR video OR diffusion"):
        reply = await core.commands.handle(here, f"subscribe {query}")
        assert reply.ok, reply.text
        kept.add(int(re.match(r"Subscribed as #(\d+):", reply.text)[1]))  # type: ignore[index]
    dropped = min(kept)
    assert (await core.commands.handle(here, f"unsubscribe {dropped}")).ok
    assert (await core.commands.handle(here, f"settings max-papers {1 + n % 5}")).ok
    channel = await core.store.channel(here.key)
    assert channel is not None
    await asyncio.gather(core.delivery.deliver([channel]), core.delivery.deliver([channel]))  # job and /papers digest
    return kept - {dropped}, {dropped}


async def check_ledger(store: Store, path: str, posts: MemoryAdapter, acknowledged: set[int], removed: set[int]) -> None:
    if store.backend.name == "sqlite":
        with closing(sqlite3.connect(path)) as db:
            assert db.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    sent = {channel: count for channel, count in await store._all(
        "SELECT d.channel_id, count(*) FROM deliveries d JOIN digests g ON g.id = d.digest_id"
        " WHERE d.shown = 1 AND g.state = 'sent' GROUP BY d.channel_id"
    )}
    subscriptions = {s.id for s in await store.subscriptions()}
    assert acknowledged <= subscriptions and not removed & subscriptions
    assert len(posts.by_channel) == WRITERS
    for n in range(WRITERS):
        channel = await store.channel(ctx(f"c{n}").key)
        assert channel is not None
        [digest] = posts.by_channel[f"c{n}"]  # the second digest call found nothing new
        assert len(digest.items) == 1 + n % 5
        shown = [item.paper.id for item in digest.items]
        assert len(set(shown)) == len(shown)
        assert sent[channel.id] == len(shown)  # each marked sent exactly once
    assert await store.open_digests() == []


async def test_fifty_concurrent_writers_on_one_connection(core: Core) -> None:
    posts = Posts()
    core.delivery.attach({"drill": posts})
    await core.poll()
    results = await asyncio.gather(*(one_channel(core, n) for n in range(WRITERS)))
    kept = set().union(*(k for k, _ in results))
    removed = set().union(*(r for _, r in results))
    assert len(kept) == WRITERS
    await check_ledger(core.store, core.settings.db, posts, kept, removed)


async def test_fifty_concurrent_writers_on_two_connections_to_one_file(tmp_path: Path, days_dir: Path) -> None:
    """Two processes on one file (a `paperboy fetch` beside `paperboy run`): SQLite's busy timeout serialises them."""
    clock = VirtualTime(datetime(2026, 8, 21, 7, 0, tzinfo=UTC))
    path = tmp_path / "shared.db"
    empty = sqlite3.connect(path)  # a new file already in WAL mode, as the first process leaves it
    empty.execute("PRAGMA journal_mode=WAL")
    empty.close()
    settings_ = Settings(db=str(path), source=str(days_dir))
    opened = await asyncio.gather(  # both find an unmigrated database and start at once
        Core.open(settings_, FileSource(days_dir), clock), Core.open(settings_, FileSource(days_dir), clock),
        return_exceptions=True,
    )
    cores = [core for core in opened if isinstance(core, Core)]
    posts = Posts()
    try:
        assert len(cores) == 2, opened
        for core in cores:
            core.delivery.attach({"drill": posts})
        await asyncio.gather(*(core.poll() for core in cores))
        results = await asyncio.gather(*(one_channel(cores[n % 2], n) for n in range(WRITERS)))
        kept = set().union(*(k for k, _ in results))
        removed = set().union(*(r for _, r in results))
        assert len(kept) == WRITERS
        for core in cores:
            await check_ledger(core.store, core.settings.db, posts, kept, removed)
    finally:
        for core in cores:  # an open connection's thread would keep the test process alive
            await core.close()
