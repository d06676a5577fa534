"""How well a channel's learned taste ranks and suggests papers, and what it costs.

Run `python benchmarks/bench_relevance.py`. Quality: for each hand-labelled taste in
benchmarks/data/tastes.json, a channel rates 5 👍 and 5 👎 drawn (seeded) from the labels of
the earlier days of benchmarks/data/hf_corpus.jsonl (three days, 120 papers); the later days
(five days, 84 papers) are ranked by (a) the learned taste, (b) upvote order and (c) chance, and
scored by precision@5 and nDCG@10 against the labels, averaged over tastes and seeds. The
corpus kept no upvotes, so there upvote order is id order; the two recorded API days in
tests/fixtures, which do have upvotes and were labelled by the same rules, are ranked too.

"Also for you": each later day on its own, the taste suggests up to 3 papers above the default
threshold; reported are the precision of what was suggested, how many per day, and how often a
day with no paper of the taste got a suggestion anyway.

Cost: retraining one channel with 200 ratings over 2,000 papers, and scoring 500 papers for
1,000 channels, each against the naive way measured in the same run. Exits 1 if a target is
missed.
"""

from __future__ import annotations

import gc
import itertools
import json
import math
import random
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot import relevance
from bot.models import Paper
from bot.relevance import Corpus, Labels, Taste, rank, score_tastes, suggest, upvote_order
from bot.similarity import LIKE_THRESHOLD
from bot.source import parse_items

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "benchmarks" / "data"
SEEDS = 20
RATED = 5  # 👍 and as many 👎 per channel
TARGET_P5, TARGET_RATIO, TARGET_SUGGEST = 0.6, 2.0, 0.5
TARGET_RETRAIN_MS, TARGET_SCORE_MS = 100.0, 1000.0
BLENDS = (0.1, 0.25, 0.5)  # upvote weights tried on the recorded days
THRESHOLDS = tuple(sorted({0.15, 0.2, 0.25, 0.35, relevance.SUGGEST_THRESHOLD}))  # the default among others


def load_corpus() -> list[Paper]:
    papers = []
    for line in (DATA / "hf_corpus.jsonl").read_text().splitlines():
        row = json.loads(line)
        papers.append(
            Paper(
                id=row["id"],
                title=row["title"],
                abstract=row["abstract"],
                authors=tuple(row["authors"]),
                upvotes=int(row["upvotes"]),
                featured_day=date.fromisoformat(row["submittedOnDailyAt"][:10]),
                github_repo=row.get("githubRepo"),
            )
        )
    return papers


def load_recorded(files: Sequence[str]) -> list[Paper]:
    papers: list[Paper] = []
    for name in files:
        path = ROOT / name
        papers += parse_items(json.loads(path.read_text()), date.fromisoformat(path.stem))
    return papers


# Metrics


def precision_at(order: Sequence[Paper], good: set[str], k: int) -> float:
    return sum(p.id in good for p in order[:k]) / k


def ndcg_at(order: Sequence[Paper], good: set[str], k: int) -> float:
    dcg = sum(1 / math.log2(i + 2) for i, p in enumerate(order[:k]) if p.id in good)
    ideal = sum(1 / math.log2(i + 2) for i in range(min(k, len(good))))
    return dcg / ideal if ideal else 0.0


@dataclass
class Scores:
    p5: list[float]
    ndcg: list[float]

    def add(self, order: Sequence[Paper], good: set[str]) -> None:
        self.p5.append(precision_at(order, good, 5))
        self.ndcg.append(ndcg_at(order, good, 10))


def new_scores() -> Scores:
    return Scores([], [])


# The quality protocol


def draw_labels(rng: random.Random, train: Sequence[Paper], good: set[str]) -> Labels:
    """5 👍 and 5 👎 from the earlier days; everything else there was delivered and not rated."""
    liked = rng.sample(sorted(p.id for p in train if p.id in good), RATED)
    disliked = rng.sample(sorted(p.id for p in train if p.id not in good), RATED)
    ratings = [(i, 1) for i in liked] + [(i, -1) for i in disliked]
    return relevance.labels(ratings, delivered=[p.id for p in train])


def taste_order(taste: Taste, papers: Sequence[Paper]) -> list[Paper]:
    return rank(papers, taste, blend=0.0)


@dataclass
class Suggested:
    suggested: int = 0
    good: int = 0
    days: int = 0
    empty_days: int = 0
    empty_days_suggesting: int = 0


@dataclass
class Quality:
    learned: Scores
    upvotes: Scores
    chance: Scores
    suggestions: dict[float, Suggested]


def evaluate(corpus: Corpus, tastes: dict[str, dict], weak: bool) -> dict[str, Quality]:
    train_days = {date.fromisoformat(d) for d in TASTES["split"]["train_days"]}
    train = [p for p in corpus.papers if p.featured_day in train_days]
    test = [p for p in corpus.papers if p.featured_day not in train_days]
    days = sorted({p.featured_day for p in test})
    results = {}
    for name, taste_data in tastes.items():
        good = set(taste_data["positives"])
        q = Quality(new_scores(), new_scores(), new_scores(), {t: Suggested() for t in THRESHOLDS})
        for seed in range(SEEDS):
            rng = random.Random(f"{name}/{seed}")
            taste = Taste.train(corpus, draw_labels(rng, train, good), weak_negatives=weak)
            assert taste is not None
            q.learned.add(taste_order(taste, test), good)
            q.upvotes.add(upvote_order(test), good)
            q.chance.add(rng.sample(test, len(test)), good)
            for day, threshold in itertools.product(days, THRESHOLDS):
                papers = [p for p in test if p.featured_day == day]
                picks = suggest(taste, papers, threshold=threshold)
                stats = q.suggestions[threshold]
                stats.days += 1
                stats.suggested += len(picks)
                stats.good += sum(s.paper.id in good for s in picks)
                if not any(p.id in good for p in papers):
                    stats.empty_days += 1
                    stats.empty_days_suggesting += bool(picks)
        results[name] = q
    return results


def recorded_quality(corpus: Corpus, recorded: list[Paper], tastes: dict[str, dict]) -> dict[str, dict[object, Scores]]:
    """The recorded days, pooled, for tastes with at least 5 positives there: real upvotes."""
    train_days = {date.fromisoformat(d) for d in TASTES["split"]["train_days"]}
    train = [p for p in corpus.papers if p.featured_day in train_days]
    results = {}
    for name, taste_data in tastes.items():
        good = set(taste_data["recorded_positives"])
        if len(good) < 5:
            continue
        rows: dict[object, Scores] = {k: new_scores() for k in ("learned", "blended", "upvotes", "chance", *BLENDS)}
        for seed in range(SEEDS):
            rng = random.Random(f"{name}/{seed}")
            taste = Taste.train(corpus, draw_labels(rng, train, set(taste_data["positives"])))
            assert taste is not None
            rows["learned"].add(taste_order(taste, recorded), good)
            rows["blended"].add(rank(recorded, taste), good)
            rows["upvotes"].add(upvote_order(recorded), good)
            rows["chance"].add(rng.sample(recorded, len(recorded)), good)
            for blend in BLENDS:
                rows[blend].add(rank(recorded, taste, blend=blend), good)
        results[name] = rows
    return results


def like_threshold_check(corpus: Corpus, tastes: dict[str, dict]) -> tuple[float, int]:
    """Of all pairs at or above LIKE_THRESHOLD, the share whose papers share a taste, and how many."""
    topics: dict[str, set[str]] = {}
    for name, taste_data in tastes.items():
        for i in taste_data["positives"]:
            topics.setdefault(i, set()).add(name)
    sims = (corpus.matrix @ corpus.matrix.T).toarray()
    ids = [p.id for p in corpus.papers]
    hits = same = 0
    for a in range(len(ids)):
        for b in range(a + 1, len(ids)):
            if sims[a, b] >= LIKE_THRESHOLD:
                hits += 1
                same += bool(topics.get(ids[a], set()) & topics.get(ids[b], set()))
    return (same / hits if hits else 0.0), hits


# Cost


def replicate(papers: Sequence[Paper], n: int, rng: random.Random) -> list[Paper]:
    """n papers from the corpus's, with new ids, shuffled sentences and a few words dropped."""
    out = []
    for k in range(n):
        base = papers[k % len(papers)]
        sentences = base.abstract.split(". ")
        rng.shuffle(sentences)
        words = [w for w in ". ".join(sentences).split() if rng.random() > 0.05]
        out.append(replace(base, id=f"9{k:04d}.{k:05d}", abstract=" ".join(words), upvotes=rng.randrange(200)))
    return out


def median_ms(fn: Callable[[], object], repeats: int = 5) -> float:
    times = []
    for _ in range(repeats):
        gc.collect()
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def cost(papers: list[Paper]) -> list[tuple[str, float, float | None, float]]:
    rng = random.Random(20260821)
    big = replicate(papers, 2000, rng)
    build_ms = median_ms(lambda: Corpus.build(big), repeats=3)
    corpus = Corpus.build(big)
    assert corpus is not None
    ids = [p.id for p in big]
    rated = rng.sample(ids, 200)
    labels = relevance.labels([(i, 1 if n < 60 else -1) for n, i in enumerate(rated)], delivered=ids)

    def naive_retrain() -> object:  # what one writes without a shared corpus: vectorise, then fit
        own = Corpus.build(big)
        assert own is not None
        return Taste.train(own, labels)

    retrain_ms = median_ms(lambda: Taste.train(corpus, labels))
    naive_ms = median_ms(naive_retrain, repeats=3)

    tastes = []
    for _ in range(1000):
        sample = rng.sample(ids, 30)
        channel = relevance.labels(
            [(i, 1 if n < 10 else -1) for n, i in enumerate(sample[:20])], delivered=rng.sample(ids, 300)
        )
        taste = Taste.train(corpus, channel)
        assert taste is not None
        tastes.append(taste)
    rows = corpus.rows(big[:500])
    score_ms = median_ms(lambda: score_tastes(tastes, rows))
    loop_ms = median_ms(lambda: [t.scores(rows) for t in tastes], repeats=3)
    return [
        ("vectorise 2,000 papers (once per wave)", build_ms, None, math.inf),
        ("retrain: 200 ratings + 2,000 delivered, 2,000 papers", retrain_ms, naive_ms, TARGET_RETRAIN_MS),
        ("score 500 papers for 1,000 channels", score_ms, loop_ms, TARGET_SCORE_MS),
    ]


# Report


def mean(values: Sequence[float]) -> float:
    return statistics.fmean(values) if values else 0.0


def main() -> int:
    papers = load_corpus()
    corpus = Corpus.build(papers)
    assert corpus is not None
    tastes = TASTES["tastes"]
    failures = []

    print(
        f"Quality: {len(tastes)} hand-labelled tastes x {SEEDS} seeds, {RATED} 👍 + {RATED} 👎 from the earlier days,"
    )
    print("ranking the later days (84 papers). Corpus upvotes are all 0, so upvote order there is id order.\n")
    by_weak = {weak: evaluate(corpus, tastes, weak) for weak in (True, False)}
    print(
        "| taste | positives (test) | P@5 learned | P@5 upvotes | P@5 random | nDCG@10 learned | nDCG@10 upvotes | nDCG@10 random |"
    )
    print("|---|---|---|---|---|---|---|---|")
    train_days = set(TASTES["split"]["train_days"])
    for name, q in by_weak[True].items():
        n_test = sum(
            1 for i in tastes[name]["positives"] if str(corpus.papers[corpus.index[i]].featured_day) not in train_days
        )
        print(
            f"| {name} | {n_test} | {mean(q.learned.p5):.2f} | {mean(q.upvotes.p5):.2f} | {mean(q.chance.p5):.2f} "
            f"| {mean(q.learned.ndcg):.2f} | {mean(q.upvotes.ndcg):.2f} | {mean(q.chance.ndcg):.2f} |"
        )
    summary = {}
    for weak, results in by_weak.items():
        qs = list(results.values())
        summary[weak] = {
            "p5": mean([mean(q.learned.p5) for q in qs]),
            "ndcg": mean([mean(q.learned.ndcg) for q in qs]),
            "up_p5": mean([mean(q.upvotes.p5) for q in qs]),
            "rand_p5": mean([mean(q.chance.p5) for q in qs]),
            "up_ndcg": mean([mean(q.upvotes.ndcg) for q in qs]),
            "rand_ndcg": mean([mean(q.chance.ndcg) for q in qs]),
        }
        for t in THRESHOLDS:
            st = [q.suggestions[t] for q in qs]
            summary[weak][t] = {
                "prec": sum(x.good for x in st) / max(1, sum(x.suggested for x in st)),
                "per_day": sum(x.suggested for x in st) / sum(x.days for x in st),
                "false_alarm": sum(x.empty_days_suggesting for x in st) / max(1, sum(x.empty_days for x in st)),
                "empty_days": sum(x.empty_days for x in st),
            }
    s = summary[True]
    print(
        f"| **mean** | | **{s['p5']:.2f}** | {s['up_p5']:.2f} | {s['rand_p5']:.2f} "
        f"| **{s['ndcg']:.2f}** | {s['up_ndcg']:.2f} | {s['rand_ndcg']:.2f} |"
    )
    ratio = s["p5"] / s["up_p5"] if s["up_p5"] else math.inf
    print(
        f"\nLearned vs upvote order, precision@5: {ratio:.1f}x (target >= {TARGET_RATIO}x, and >= {TARGET_P5} absolute)"
    )
    if s["p5"] < TARGET_P5 or ratio < TARGET_RATIO:
        failures.append("ranking precision")

    print(f'\n"Also for you": each later day alone, up to {relevance.SUGGESTIONS} papers above a relevance threshold')
    print(f"(default {relevance.SUGGEST_THRESHOLD}); delivered-but-unrated papers as weak negatives or ignored:")
    print(
        "| unrated deliveries | P@5 | nDCG@10 | threshold | suggestion precision | suggested per day | days without the taste that got one |"
    )
    print("|---|---|---|---|---|---|---|")
    for weak, t in itertools.product((True, False), THRESHOLDS):
        w = summary[weak]
        label = f"weak negatives (weight {relevance.WEAK_NEGATIVE_WEIGHT})" if weak else "ignored (explicit 👎 only)"
        mark = " (default)" if t == relevance.SUGGEST_THRESHOLD else ""
        print(
            f"| {label} | {w['p5']:.2f} | {w['ndcg']:.2f} | {t}{mark} | {w[t]['prec']:.2f} | {w[t]['per_day']:.2f} "
            f"| {w[t]['false_alarm']:.0%} of {w[t]['empty_days']} |"
        )
    if s[relevance.SUGGEST_THRESHOLD]["prec"] < TARGET_SUGGEST:
        failures.append("suggestion precision")

    recorded = load_recorded(TASTES["recorded"]["files"])
    wave = Corpus.build([*papers, *recorded])
    assert wave is not None
    rec = recorded_quality(wave, recorded, tastes)
    print(
        f"\nRecorded days (2024-10-25 + 2026-08-21 pooled, {len(recorded)} papers, real upvotes), tastes with >= 5 positives there:"
    )
    print(
        f"| taste | P@5 learned | P@5 blended ({relevance.UPVOTE_BLEND} upvotes) | P@5 upvotes | P@5 random | nDCG@10 learned | nDCG@10 blended | nDCG@10 upvotes | nDCG@10 random |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for name, rows in rec.items():
        cells = " | ".join(f"{mean(rows[k].p5):.2f}" for k in ("learned", "blended", "upvotes", "chance"))
        cells2 = " | ".join(f"{mean(rows[k].ndcg):.2f}" for k in ("learned", "blended", "upvotes", "chance"))
        print(f"| {name} | {cells} | {cells2} |")

    sweep = ", ".join(
        f"{b}: {mean([mean(r[b].p5) for r in rec.values()]):.2f} / {mean([mean(r[b].ndcg) for r in rec.values()]):.2f}"
        for b in BLENDS
    )
    learned = f"{mean([mean(r['learned'].p5) for r in rec.values()]):.2f} / {mean([mean(r['learned'].ndcg) for r in rec.values()]):.2f}"
    print(f"Mean P@5 / nDCG@10 by upvote weight: 0: {learned}, {sweep}")

    share, pairs = like_threshold_check(corpus, tastes)
    print(
        f"\nlike: threshold {LIKE_THRESHOLD}: {pairs} corpus pairs at or above it, {share:.0%} of them share a labelled taste"
    )

    print("\nCost (median of repeats):")
    print("| operation | time | naive way | ratio | target |")
    print("|---|---|---|---|---|")
    for label, ms, baseline, target in cost(papers):
        base = f"{baseline:.0f} ms" if baseline is not None else "-"
        times = f"{baseline / ms:.0f}x" if baseline is not None else "-"
        goal = f"< {target:.0f} ms" if target != math.inf else "-"
        print(f"| {label} | {ms:.1f} ms | {base} | {times} | {goal} |")
        if ms >= target:
            failures.append(label)

    if failures:
        print(f"\nMISSED: {', '.join(failures)}")
        return 1
    print("\nAll targets met.")
    return 0


TASTES = json.loads((DATA / "tastes.json").read_text())

if __name__ == "__main__":
    sys.exit(main())
