"""Relevance that learns, as a channel sees it: on the 204 real papers of tests/fixtures/hf_corpus.jsonl."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import replace
from datetime import date

import pytest

from bot import relevance
from bot.models import Paper
from bot.relevance import Corpus, Taste, rank, score_tastes, suggest, upvote_order
from bot.similarity import LIKE_THRESHOLD, similar
from tests.conftest import FIXTURES

JUNE = date(2026, 6, 30)  # papers before this are the "delivered" past; after it, today's candidates
# Hand-picked from the corpus: image/video generation papers the channel likes.
LIKED_DIFFUSION = ("2605.30332", "2605.30349", "2605.23458", "2605.30409")
DIFFUSION_TODAY = "2607.22091"  # Spectral Prior for Reducing Exposure Bias in Diffusion Models
UNRELATED_TODAY = "2607.23370"  # Bitcoin Price Direction Prediction
# A day with nothing about image generation: finance, GPUs, security, medical imaging, Lean.
WEAK_DAY = ("2607.23370", "2607.23402", "2607.25572", "2607.22135", "2606.01356", "2607.28410")
LIKED_RL = ("2605.29198", "2605.30888", "2605.29648", "2605.27355")


def load() -> list[Paper]:
    papers = []
    for line in (FIXTURES / "hf_corpus.jsonl").read_text().splitlines():
        row = json.loads(line)
        day = date.fromisoformat(row["submittedOnDailyAt"][:10])
        papers.append(Paper(row["id"], row["title"], row["abstract"], tuple(row["authors"]), 0, day))
    return papers


PAPERS = load()
BY_ID = {p.id: p for p in PAPERS}
PAST = [p.id for p in PAPERS if p.featured_day < JUNE]
TODAY = [p for p in PAPERS if p.featured_day > JUNE]


@pytest.fixture(scope="module")
def corpus() -> Corpus:
    built = Corpus.build(PAPERS)
    assert built is not None
    return built


def taste_of(corpus: Corpus, liked: tuple[str, ...], disliked: tuple[str, ...] = ()) -> Taste:
    ratings = [(i, 1) for i in liked] + [(i, -1) for i in disliked]
    taste = Taste.train(corpus, relevance.labels(ratings, delivered=PAST))
    assert taste is not None
    return taste


def test_after_liking_diffusion_papers_a_diffusion_paper_outranks_a_more_upvoted_unrelated_one(corpus: Corpus) -> None:
    taste = taste_of(corpus, LIKED_DIFFUSION[:3])
    today = [replace(p, upvotes=500 if p.id == UNRELATED_TODAY else 1) for p in TODAY]
    order = [p.id for p in rank(today, taste)]
    assert order.index(DIFFUSION_TODAY) < order.index(UNRELATED_TODAY)
    assert upvote_order(today)[0].id == UNRELATED_TODAY


def test_with_fewer_than_three_likes_the_digest_stays_in_upvote_order(corpus: Corpus) -> None:
    taste = taste_of(corpus, LIKED_DIFFUSION[:2], disliked=("2607.23370",))
    today = [replace(p, upvotes=n % 7) for n, p in enumerate(TODAY)]
    assert not taste.ready
    assert rank(today, taste) == upvote_order(today) == rank(today, None)
    assert suggest(taste, today) == []


def test_a_weak_day_suggests_nothing_and_a_good_day_says_why(corpus: Corpus) -> None:
    taste = taste_of(corpus, LIKED_DIFFUSION)
    assert suggest(taste, [BY_ID[i] for i in WEAK_DAY]) == []
    picks = suggest(taste, TODAY)
    assert 1 <= len(picks) <= relevance.SUGGESTIONS
    for pick in picks:
        assert pick.score > relevance.SUGGEST_THRESHOLD
        assert pick.like.id in LIKED_DIFFUSION
        assert pick.words and all(w in relevance.paper_text(pick.paper).lower() for w in pick.words)
    assert any("diffusion" in p.paper.title.lower() or "video" in p.paper.title.lower() for p in picks)


def test_papers_the_channel_rated_are_never_suggested(corpus: Corpus) -> None:
    taste = taste_of(corpus, LIKED_DIFFUSION)
    assert not {s.paper.id for s in suggest(taste, PAPERS, most=50)} & set(LIKED_DIFFUSION)


def test_only_likes_and_nothing_delivered_gives_no_model_and_no_crash(corpus: Corpus) -> None:
    only_likes = relevance.labels([(i, 1) for i in LIKED_DIFFUSION])
    assert Taste.train(corpus, only_likes) is None
    assert rank(TODAY, None) == upvote_order(TODAY)
    assert suggest(None, TODAY) == []


def test_only_likes_with_deliveries_learns_from_what_was_passed_over(corpus: Corpus) -> None:
    taste = Taste.train(corpus, relevance.labels([(i, 1) for i in LIKED_DIFFUSION], delivered=PAST))
    assert taste is not None and taste.ready


def test_papers_without_words_give_no_corpus() -> None:
    blank = Paper("2601.00001", " ", "", (), 0, JUNE)
    assert Corpus.build([]) is None
    assert Corpus.build([blank, replace(blank, id="2601.00002", title="the of and")]) is None


def test_like_similarity_is_one_for_the_same_text_and_low_for_an_unrelated_paper(corpus: Corpus) -> None:
    seed = BY_ID[DIFFUSION_TODAY]
    twin = replace(seed, id="2699.99999")
    hits = {p.id: s for p, s in similar(seed, [twin, BY_ID[UNRELATED_TODAY]], corpus=corpus)}
    assert hits[twin.id] == pytest.approx(1.0, abs=1e-6)
    assert UNRELATED_TODAY not in hits
    every = similar(seed, PAPERS, corpus=corpus)
    assert all(s >= LIKE_THRESHOLD for _, s in every)
    assert seed.id not in {p.id for p, _ in every}


def test_like_similarity_without_a_corpus_builds_its_own() -> None:
    seed = BY_ID[DIFFUSION_TODAY]
    assert similar(seed, PAPERS)[0][1] >= LIKE_THRESHOLD
    assert similar(seed, []) == []


def test_taste_report_names_the_words_that_pull_up_and_down(corpus: Corpus) -> None:
    taste = taste_of(corpus, LIKED_RL, disliked=LIKED_DIFFUSION)
    report = taste.report()
    assert (report.ratings, report.positives, report.negatives) == (8, 4, 4)
    assert {"reinforcement", "reward", "rl", "policy", "reinforcement learning"} & set(report.pulls_up)
    assert {"diffusion", "video", "image", "generation"} & set(report.pulls_down)
    assert [p.id for p in report.most_liked] == sorted(LIKED_RL)


def test_labels_sum_votes_and_count_like_seeds_as_liked() -> None:
    got = relevance.labels(
        [("a", 1), ("a", 1), ("b", 1), ("b", -1), ("c", -1), ("d", 1)], seeds=["e"], delivered=["a", "f", "f"]
    )
    assert got.positives == ("a", "d", "e")  # most liked first
    assert got.negatives == ("c",)
    assert got.unrated == ("f",)
    assert got.ratings == 6


def test_scoring_all_channels_at_once_matches_one_by_one(corpus: Corpus) -> None:
    tastes = [taste_of(corpus, LIKED_DIFFUSION), taste_of(corpus, LIKED_RL)]
    rows = corpus.rows(TODAY)
    together = score_tastes(tastes, rows)
    assert together.shape == (len(TODAY), 2)
    for n, taste in enumerate(tastes):
        assert together[:, n] == pytest.approx(taste.scores(rows))
    other = Corpus.build(TODAY)
    assert other is not None
    stranger = Taste.train(other, relevance.labels([(TODAY[0].id, 1)], delivered=[p.id for p in TODAY]))
    assert stranger is not None
    with pytest.raises(ValueError):
        score_tastes([tastes[0], stranger], rows)


def test_importing_relevance_does_not_import_scikit_learn() -> None:
    code = "import sys, bot.relevance, bot.similarity; print(sorted({'numpy','scipy','sklearn'} & set(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
