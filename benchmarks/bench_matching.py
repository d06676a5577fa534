"""How the inverted-index `Matcher` scales, against a per-paper regular-expression baseline,
and how planning a wave of channels in one pass compares with one matcher per channel.

Run `python benchmarks/bench_matching.py`. Subscriptions are generated (seeded) from the
keywords, title phrases, abstract words and authors of the recorded days in tests/fixtures,
and matched against 500 papers: the recorded papers replicated with new ids and perturbed
upvotes, word order and keywords. The baseline is what one would write without an index:
each query compiled to regular expressions and tried on each paper in turn. Both must
agree on every (subscription, paper) pair, including the words given as the reason.
The wave rows give channels 3 subscriptions each; `match_channels` must agree with a
matcher per channel. Exits 1 on any disagreement.
"""

from __future__ import annotations

import asyncio
import gc
import json
import logging
import operator
import os
import random
import re
import statistics
import sys
import time
import unicodedata
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import date
from functools import partial
from itertools import pairwise
from pathlib import Path
from typing import TypeVar

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.gcpause import no_full_collections  # noqa: E402
from bot import matcher  # noqa: E402
from bot.matcher import Hit, Matcher, by_paper, match_channels  # noqa: E402
from bot.models import Paper, Reason  # noqa: E402
from bot.query import And, Has, Node, Not, Or, Query, QueryError, Term, Upvotes, parse  # noqa: E402
from bot.source import parse_items  # noqa: E402

T = TypeVar("T")
Result = dict[str, tuple[Reason, ...]]  # paper id -> a reason per matching subscription, as Matcher.match returns
Wave = dict[int, Result]  # channel id -> its result, as match_channels returns
FIXTURES = Path(__file__).resolve().parents[1] / "tests" / "fixtures"
SEED = 20260821
PAPERS = 500
SIZES = (1_000, 10_000, 100_000)
FULL_BASELINE = 10_000  # above this the baseline runs on a sample and is extrapolated
SAMPLE = 2_000
REPEATS = 3  # the matcher's time is the median of this many runs
WAVES = ((1_000, 42), (1_000, 504), (10_000, 42), (10_000, 504))  # (channels, papers)
PER_CHANNEL = 3  # subscriptions per channel in a wave
CHANNEL_SAMPLE = 300  # channels matched one by one, the rest extrapolated: 10k x 504 would take minutes
TICK = 0.001  # the lag probe's sleep
_STOP = frozenset(
    "a an and are as at be by can for from has have how in into is it its of on or our that the their "
    "these this to via we what when which while with without not using based towards toward than more "
    "such both also each other new show shows over under via".split()
)
_QUOTES = frozenset('"“”„')
_CLEAN_WORD = re.compile(r"[A-Za-z][A-Za-z0-9]*(?:-[A-Za-z0-9]+)*")


# The recorded papers, replicated into a realistic day-sized set


def recorded_papers() -> list[Paper]:
    """Every recorded paper once; a file named after a day dates the items that carry none."""
    found: dict[str, Paper] = {}
    for file in sorted(FIXTURES.glob("*.json")):
        day = re.search(r"\d{4}-\d{2}-\d{2}", file.name)
        for paper in parse_items(json.loads(file.read_bytes()), date.fromisoformat(day[0]) if day else None):
            found.setdefault(paper.id, paper)
    return list(found.values())


def _swap_some(words: list[str], rng: random.Random, swaps: int) -> list[str]:
    words = list(words)
    for _ in range(swaps if len(words) > 1 else 0):
        i = rng.randrange(len(words) - 1)
        words[i], words[i + 1] = words[i + 1], words[i]
    return words


def replicate(base: Sequence[Paper], count: int, rng: random.Random) -> list[Paper]:
    """`count` papers: the recorded ones, then perturbed copies with distinct ids."""
    papers: list[Paper] = []
    for n in range(count):
        paper = base[n % len(base)]
        copy = n // len(base)
        if copy == 0:
            papers.append(paper)
            continue
        sentences = re.split(r"(?<=[.!?])\s+", paper.abstract)
        rng.shuffle(sentences)
        keywords = list(paper.ai_keywords)
        rng.shuffle(keywords)
        if keywords and rng.random() < 0.5:
            keywords.pop()
        papers.append(
            replace(
                paper,
                id=f"{paper.id}r{copy}",
                title=" ".join(_swap_some(paper.title.split(), rng, 2)),
                abstract=" ".join(_swap_some(" ".join(sentences).split(), rng, 8)),
                upvotes=max(0, int(paper.upvotes * rng.uniform(0.2, 2.0)) + rng.randint(-3, 3)),
                ai_keywords=tuple(keywords),
                github_repo=paper.github_repo if rng.random() < 0.8 else None,
            )
        )
    return papers


# Subscriptions built from the recorded vocabulary


@dataclass(frozen=True)
class Vocabulary:
    keywords: list[str]
    title_phrases: list[str]
    title_words: list[str]
    abstract_words: list[str]
    authors: list[str]

    @classmethod
    def of(cls, papers: Sequence[Paper]) -> Vocabulary:
        keywords: set[str] = set()
        phrases: set[str] = set()
        title_words: set[str] = set()
        authors: set[str] = set()
        df: Counter[str] = Counter()
        for paper in papers:
            keywords.update(k for k in paper.ai_keywords if not set(k) & _QUOTES)
            words = _CLEAN_WORD.findall(paper.title)
            title_words.update(w.lower() for w in words if len(w) > 3 and w.lower() not in _STOP)
            phrases.update(
                f"{a} {b}".lower() for a, b in pairwise(words) if a.lower() not in _STOP and b.lower() not in _STOP
            )
            authors.update(a for a in paper.authors if not set(a) & _QUOTES)
            df.update({w.lower() for w in _CLEAN_WORD.findall(paper.abstract)})
        rare = [w for w, n in df.items() if len(w) > 4 and w not in _STOP and n <= len(papers) // 4]
        return cls(*(sorted(s) for s in (keywords, phrases, title_words, rare, authors)))


def _quoted(text: str) -> str:
    return f'"{text}"' if " " in text or not _CLEAN_WORD.fullmatch(text) or text in ("OR", "AND") else text


class QueryMaker:
    """Random but plausible subscriptions: topics, exclusions, OR, groups, fields and filters."""

    def __init__(self, vocabulary: Vocabulary, rng: random.Random) -> None:
        self.v = vocabulary
        self.rng = rng

    def topic(self) -> str:
        pool = self.rng.choices(
            (self.v.keywords, self.v.title_phrases, self.v.title_words, self.v.abstract_words), (4, 2, 3, 3)
        )[0]
        return _quoted(self.rng.choice(pool))

    def word(self) -> str:
        return self.rng.choice(self.v.title_words + self.v.abstract_words)

    def author(self) -> str:
        name = self.rng.choice(self.v.authors)
        return f"author:{_quoted(name)}" if self.rng.random() < 0.8 else f"author:{_quoted(name.split()[-1])}"

    def field(self) -> str:
        kind = self.rng.choice(("title", "abstract", "keyword"))
        value = self.rng.choice(self.v.keywords) if kind == "keyword" else self.topic().strip('"')
        return f"{kind}:{_quoted(value)}"

    def filter(self) -> str:
        r = self.rng.random()
        if r < 0.5:
            return f"upvotes:>={self.rng.choice((5, 10, 20, 30, 50, 100))}"
        if r < 0.6:
            return f"upvotes:>{self.rng.randint(1, 60)}"
        return self.rng.choice(("has:code", "has:code", "has:project"))

    def make(self) -> str:
        r, t = self.rng.random(), self.topic
        if r < 0.20:
            return t()
        if r < 0.35:
            extra = f" -{_quoted(self.rng.choice(self.v.keywords))}" if self.rng.random() < 0.3 else ""
            return f"{t()} -{self.word()}{extra}"
        if r < 0.50:
            return " OR ".join(t() for _ in range(self.rng.randint(2, 4)))
        if r < 0.60:
            return f"({t()} OR {t()}) {t()}"
        if r < 0.70:
            return self.field() + (f" OR {self.field()}" if self.rng.random() < 0.4 else "")
        if r < 0.80:
            return self.author() + (f" OR {self.author()}" if self.rng.random() < 0.3 else "")
        if r < 0.90:
            return f"{t()} {self.filter()}"
        return f"({t()} OR {self.field()}) -({self.word()} OR {self.word()}) {self.filter()}"


def subscriptions(count: int, maker: QueryMaker) -> list[tuple[int, Query]]:
    found: list[tuple[int, Query]] = []
    while len(found) < count:
        try:
            found.append((len(found) + 1, parse(maker.make())))
        except QueryError as err:  # the generator should only write valid queries
            raise SystemExit(f"generated a query that does not parse: {err}") from None
    return found


# The baseline: each query compiled to regular expressions, tried paper by paper


def _singular(word: str) -> str:
    """The plural rule of the README ("plurals too"), written out independently of bot.query."""
    if len(word) <= 3:
        return word
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith("sses"):
        return word[:-2]
    if word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def _forms(word: str) -> str:
    """A regex for every written form whose singular is `word` (policy: policy|policies)."""
    candidates = {word, word + "s", word + "es"} | ({word[:-1] + "ies"} if word.endswith("y") else set())
    return "|".join(re.escape(c) for c in sorted(candidates) if _singular(c) == word)


def _normal(text: str) -> str:
    return unicodedata.normalize("NFKC", text).casefold()


@dataclass(frozen=True)
class Prepared:
    """A paper's searchable text, normalised once; authors and keywords stay separate strings."""

    paper: Paper
    fields: dict[str, tuple[str, ...]]

    @classmethod
    def of(cls, paper: Paper) -> Prepared:
        return cls(
            paper,
            {
                "title": (_normal(paper.title),),
                "abstract": (_normal(paper.abstract),),
                "author": tuple(map(_normal, paper.authors)),
                "keyword": tuple(map(_normal, paper.ai_keywords)),
            },
        )


Test = Callable[[Prepared], bool]
_OPS: dict[str, Callable[[int, int], bool]] = {
    ">=": operator.ge, ">": operator.gt, "<=": operator.le, "<": operator.lt, "=": operator.eq
}
_WORD_CHAR = re.compile(r"\w")


def phrase_test(words: Sequence[str]) -> Callable[[str], bool]:
    """Whether the words occur as whole, consecutive words of a text, plurals folded.

    The pattern starts with the word itself, so the regex engine can skip ahead to it; a
    leading \\b or lookbehind would make Python scan every position (30-50x slower on a
    miss), so the left boundary is checked on each candidate instead, overlapping ones too.
    """
    pattern = re.compile(r"\W+".join(f"(?:{_forms(w)})" for w in words) + r"(?!\w)")

    def found(text: str) -> bool:
        hit = pattern.search(text)
        while hit:
            if hit.start() == 0 or not _WORD_CHAR.match(text, hit.start() - 1):
                return True
            hit = pattern.search(text, hit.start() + 1)
        return False

    return found


def leaf_test(leaf: Term | Upvotes | Has) -> Test:
    if isinstance(leaf, Term):
        found, fields = phrase_test(leaf.words), leaf.fields
        return lambda p: any(found(text) for f in fields for text in p.fields[f])
    if isinstance(leaf, Upvotes):
        op, value = _OPS[leaf.op], leaf.value
        return lambda p: op(p.paper.upvotes, value)
    attribute = "github_repo" if leaf.what == "code" else "project_page"
    return lambda p: bool(getattr(p.paper, attribute))


def compile_node(node: Node, leaves: dict[int, Test]) -> Test:
    """A predicate for `node`; each leaf's own test is kept in `leaves` (by id) to explain a match."""
    if isinstance(node, Not):
        inner = compile_node(node.child, leaves)
        return lambda p: not inner(p)
    if isinstance(node, And | Or):
        children = [compile_node(c, leaves) for c in node.children]
        if isinstance(node, And):
            return lambda p: all(c(p) for c in children)
        return lambda p: any(c(p) for c in children)
    test = leaves[id(node)] = leaf_test(node)
    return test


def why(node: Node, p: Prepared, leaves: dict[int, Test]) -> list[str] | None:
    """The labels of the positive leaves that made a matching query true (run on matches only)."""
    if isinstance(node, Not):
        return [] if why(node.child, p, leaves) is None else None
    if isinstance(node, And):
        found: list[str] = []
        for child in node.children:
            more = why(child, p, leaves)
            if more is None:
                return None
            found += more
        return found
    if isinstance(node, Or):
        branches = [b for c in node.children if (b := why(c, p, leaves)) is not None]
        return [label for b in branches for label in b] if branches else None
    return [node.label] if leaves[id(node)](p) else None


def baseline(subs: Sequence[tuple[int, Query]], papers: Sequence[Paper]) -> Result:
    prepared = [Prepared.of(p) for p in papers]
    found: dict[str, list[Reason]] = {}
    for sub_id, query in subs:
        leaves: dict[int, Test] = {}
        test = compile_node(query.root, leaves)
        for p in prepared:
            if test(p):
                words = tuple(dict.fromkeys(why(query.root, p, leaves) or ()))
                found.setdefault(p.paper.id, []).append(Reason(sub_id, query.text, words))
    return {paper_id: tuple(reasons) for paper_id, reasons in found.items()}


# Measuring


@dataclass(frozen=True)
class Row:
    size: int
    matcher: float
    expand: float  # by_paper over every hit: what a caller needing all (subscription, paper) pairs adds
    baseline: float
    baseline_how: str
    parse: float
    hits_per_sub: float
    unique: int
    pairs: int  # (subscription, paper) pairs compared with the baseline
    disagreements: list[str]


def timed(run: Callable[[], T]) -> tuple[float, T]:
    """Wall time of `run()` with the garbage collector paused, so that with 100k parsed queries
    alive, collections do not tax whichever side allocates more."""
    gc.collect()
    gc.disable()
    try:
        start = time.perf_counter()
        result = run()
        return time.perf_counter() - start, result
    finally:
        gc.enable()


def compare(
    subs: Sequence[tuple[int, Query]], papers: Sequence[Paper], ours: Result, theirs: Result
) -> tuple[int, list[str]]:
    """Pairs checked, and a line per (subscription, paper) pair where the two answers differ."""
    texts = {sub_id: query.text for sub_id, query in subs}
    by_pair = [
        {
            (r.subscription_id, paper_id): r.words
            for paper_id, rs in result.items()
            for r in rs
            if r.subscription_id in texts
        }
        for result in (ours, theirs)
    ]
    bad = [
        f"  #{sub_id} {texts[sub_id]!r} on {paper_id}: matcher {by_pair[0].get((sub_id, paper_id))}"
        f" baseline {by_pair[1].get((sub_id, paper_id))}"
        for sub_id, paper_id in sorted(by_pair[0].keys() | by_pair[1].keys())
        if by_pair[0].get((sub_id, paper_id)) != by_pair[1].get((sub_id, paper_id))
    ]
    return len(subs) * len(papers), bad


def measure(subs: list[tuple[int, Query]], papers: list[Paper], rng: random.Random) -> Row:
    parse_time, _ = timed(partial(_parse_all, subs))
    runs = [timed(partial(_match, subs, papers)) for _ in range(REPEATS)]
    expand_time, ours = timed(partial(by_paper, runs[0][1], papers))
    if len(subs) <= FULL_BASELINE:
        sample, how = subs, "full"
    else:
        sample, how = rng.sample(subs, SAMPLE), f"extrapolated from {SAMPLE:,}"
    sample_time, theirs = timed(partial(baseline, sample, papers))
    pairs, bad = compare(sample, papers, ours, theirs)
    return Row(
        size=len(subs),
        matcher=statistics.median(t for t, _ in runs),
        expand=expand_time,
        baseline=sample_time * len(subs) / len(sample),
        baseline_how=how,
        parse=parse_time,
        hits_per_sub=sum(len(rs) for rs in ours.values()) / len(subs),
        unique=len({q.text for _, q in subs}),
        pairs=pairs,
        disagreements=bad,
    )


def _parse_all(subs: list[tuple[int, Query]]) -> list[Query]:
    """Reported apart: the delivery path parses a channel's subscriptions before matching."""
    return [parse(query.text) for _, query in subs]


def _match(subs: list[tuple[int, Query]], papers: list[Paper]) -> list[Hit]:
    """What is timed: building the index (not reused from a previous run) and every subscription's hits."""
    matcher._index.cache_clear()
    return Matcher(subs).hits(papers)


def report(rows: list[Row]) -> None:
    print(f"\nsubscriptions x {PAPERS} papers; matcher = Matcher(subs).hits(papers) including the index,"
          f" median of {REPEATS}; expand = by_paper(hits) into every (subscription, paper) reason;"
          " baseline = regex per query per paper")
    header = (f"{'subs':>8} {'matcher s':>10} {'expand s':>9} {'baseline s':>11} {'ratio':>7} {'growth/10x':>17}"
              f" {'baseline':>24} {'parse s':>8} {'hits/sub':>9} {'unique':>8}")
    print(header)
    print("-" * len(header))
    for before, row in zip([None, *rows], rows, strict=False):
        growth = "-"
        if before is not None:
            growth = f"{row.matcher / before.matcher:.1f}x / {row.baseline / before.baseline:.1f}x"
        print(f"{row.size:>8,} {row.matcher:>10.3f} {row.expand:>9.3f} {row.baseline:>11.2f}"
              f" {row.baseline / row.matcher:>6.0f}x {growth:>17} {row.baseline_how:>24} {row.parse:>8.2f}"
              f" {row.hits_per_sub:>9.2f} {row.unique:>8,}")
    full = sum(r.pairs for r in rows if r.baseline_how == "full")
    sampled = sum(r.pairs for r in rows if r.baseline_how != "full")
    bad = [line for r in rows for line in r.disagreements]
    print(f"\nagreement: {full:,} (subscription, paper) pairs checked in full runs, plus {sampled:,} in the"
          f" 100k sample; {len(bad)} disagreements")
    for line in bad[:20]:
        print(line)
    last, ten = rows[-1], next(r for r in rows if r.size == 10_000)
    growths = [row.matcher / before.matcher for before, row in pairwise(rows)]
    ratio = ten.baseline / ten.matcher
    targets([
        (f"100k x {PAPERS} under 0.5 s end to end: {last.matcher:.3f} s", last.matcher < 0.5),
        (f">= 300x the baseline at 10k: {ratio:.0f}x", ratio >= 300),
        (f"sublinear growth (< 10x per 10x): {', '.join(f'{g:.1f}x' for g in growths)}", all(g < 10 for g in growths)),
    ])


def targets(checks: list[tuple[str, bool]]) -> None:
    print("\ntargets:")
    for what, met in checks:
        print(f"  {what} -> {'met' if met else 'MISSED'}")


# Planning a wave: every channel due at once, 3 subscriptions each


@dataclass(frozen=True)
class WaveRow:
    channels: int
    papers: int
    per_channel: float  # a Matcher and a fresh index per channel, as delivery matched until now
    shared: float  # a Matcher per channel, the index kept across channels
    one_pass: float  # match_channels over the whole wave
    lag: float  # the event loop's longest delay while match_channels ran in asyncio.to_thread
    disagreements: int  # sampled channels where one pass and per channel differ


def per_channel(wave: dict[int, list[tuple[int, Query]]], papers: list[Paper], fresh: bool) -> Wave:
    found = {}
    for channel, subs in wave.items():
        if fresh:
            matcher._index.cache_clear()
        found[channel] = Matcher(subs).match(papers)
    return found


@no_full_collections  # as delivery plans a wave
def one_pass(wave: dict[int, list[tuple[int, Query]]], papers: list[Paper]) -> Wave:
    matcher._index.cache_clear()
    return dict(match_channels(wave, papers))


async def lagged(run: Callable[[], T]) -> tuple[float, T]:
    """The longest the event loop was late waking a ticker while `run` ran in a worker thread."""
    worst = 0.0
    running = True

    async def tick() -> None:
        nonlocal worst
        while running:
            start = time.perf_counter()
            await asyncio.sleep(TICK)
            worst = max(worst, time.perf_counter() - start - TICK)

    ticker = asyncio.create_task(tick())
    await asyncio.sleep(TICK)
    try:
        result = await asyncio.to_thread(run)
    finally:
        running = False
        await ticker
    return worst, result


def clock(run: Callable[[], T]) -> tuple[float, T]:
    """Wall time with the garbage collector running, as in production."""
    gc.collect()
    start = time.perf_counter()
    result = run()
    return time.perf_counter() - start, result


def measure_wave(channels: int, papers: list[Paper], subs: list[tuple[int, Query]], rng: random.Random) -> WaveRow:
    wave = {c: subs[c * PER_CHANNEL : (c + 1) * PER_CHANNEL] for c in range(channels)}
    sample = dict(rng.sample(sorted(wave.items()), min(CHANNEL_SAMPLE, channels)))
    scale = channels / len(sample)
    fresh_time, each = clock(partial(per_channel, sample, papers, True))
    shared_time, _ = clock(partial(per_channel, sample, papers, False))
    runs = [clock(partial(one_pass, wave, papers)) for _ in range(REPEATS)]
    matcher._index.cache_clear()
    lag, _ = asyncio.run(lagged(partial(one_pass, wave, papers)))
    together = runs[0][1]
    return WaveRow(
        channels=channels,
        papers=len(papers),
        per_channel=fresh_time * scale,
        shared=shared_time * scale,
        one_pass=statistics.median(t for t, _ in runs),
        lag=lag,
        disagreements=sum(together[c] != each[c] for c in sample),
    )


def report_waves(rows: list[WaveRow]) -> None:
    print(f"\nwave planning: channels x {PER_CHANNEL} subscriptions; per channel = Matcher(subs).match(papers) for"
          f" each channel, timed on {CHANNEL_SAMPLE} channels and extrapolated, with a fresh index (as delivery did)"
          f" or the index kept across channels; one pass = dict(match_channels(wave, papers)), median of {REPEATS};"
          " lag = the event loop's longest delay while one pass ran in asyncio.to_thread; one pass holds off full garbage"
          " collections, as delivery does (bot/gcpause.py)")
    header = (f"{'channels':>8} {'papers':>6} {'per channel s':>13} {'kept index s':>12} {'one pass s':>10}"
              f" {'ratio':>7} {'lag ms':>7} {'disagree':>8}")
    print(header)
    print("-" * len(header))
    for row in rows:
        print(f"{row.channels:>8,} {row.papers:>6} {row.per_channel:>13.2f} {row.shared:>12.2f} {row.one_pass:>10.3f}"
              f" {row.per_channel / row.one_pass:>6.0f}x {row.lag * 1000:>7.1f} {row.disagreements:>8}")
    worst = max(r.lag for r in rows if r.channels == 10_000)
    targets([(f"event-loop lag under 50 ms at 10k channels: {worst * 1000:.1f} ms", worst < 0.05)])


def main() -> int:
    logging.disable(logging.WARNING)  # parse_items names the sample item it skips (it has no day)
    rng = random.Random(SEED)
    base = recorded_papers()
    papers = replicate(base, PAPERS, rng)
    all_subs = subscriptions(max(SIZES), QueryMaker(Vocabulary.of(base), rng))
    chars = statistics.mean(len(p.title) + len(p.abstract) for p in papers)
    print(f"{len(papers)} papers ({len(base)} recorded, replicated), {chars:,.0f} characters of title and abstract"
          f" each; load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
    rows = [measure(all_subs[:size], papers, rng) for size in SIZES]
    report(rows)
    waves = [measure_wave(c, replicate(base, n, random.Random(SEED)), all_subs, rng) for c, n in WAVES]
    report_waves(waves)
    return 1 if any(r.disagreements for r in rows) or any(w.disagreements for w in waves) else 0


if __name__ == "__main__":
    sys.exit(main())
