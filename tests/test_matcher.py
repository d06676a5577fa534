"""What queries match on real papers, the words given as the reason, and Matcher == match_channels == explain."""

from __future__ import annotations

import gc
import json
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.matcher import Matcher, by_paper, explain, match_channels, tokens
from bot.models import Paper, Reason
from bot.query import Query, QueryError, parse

FIXTURES = Path(__file__).parent / "fixtures"


def paper(raw: dict[str, Any], day: date) -> Paper:
    return Paper(
        id=raw["id"],
        title=raw["title"],
        abstract=raw["summary"],
        authors=tuple(author["name"] for author in raw["authors"]),
        upvotes=raw["upvotes"],
        featured_day=day,
        ai_summary=raw.get("ai_summary"),
        ai_keywords=tuple(raw.get("ai_keywords", ())),
        github_repo=raw.get("githubRepo") or None,
        project_page=raw.get("projectPage") or None,
    )


def recorded(day: str) -> list[Paper]:
    items = json.loads((FIXTURES / f"{day}.json").read_text())
    return [paper(item["paper"], date.fromisoformat(day)) for item in items]


PAPERS = recorded("2026-08-21") + recorded("2024-10-25")
BY_ID = {p.id: p for p in PAPERS}
ENVHARNESS = BY_ID["2608.19880"]  # 163 upvotes, code and a project page, keywords, authors Chengsong Huang...


def matches(text: str, papers: list[Paper] = PAPERS) -> list[str]:
    query = parse(text)
    return sorted(p.id for p in papers if explain(query, p) is not None)


def words(text: str, paper: Paper = ENVHARNESS) -> tuple[str, ...] | None:
    return explain(parse(text), paper)


# Normalising and folding


def test_tokens_fold_case_width_and_plurals_the_same_way_for_papers_and_queries() -> None:
    assert tokens("Policies, Transformers & GANs: ＬＬＭs") == ["policy", "transformer", "gan", "llm"]
    assert tokens("classes bus analysis gas its") == ["class", "bus", "analysis", "gas", "its"]
    assert tokens("self-supervised GPT-4o snake_case") == ["self", "supervised", "gpt", "4o", "snake_case"]
    assert tokens("Straße ﬁne-tuning") == ["strasse", "fine", "tuning"]


# Whole words, plurals, phrases


def test_words_match_whole_words_only() -> None:
    assert "gan" in BY_ID["2608.19799"].abstract.lower()  # inside "organized"
    assert matches("gan") == []
    organ = replace(ENVHARNESS, id="x", title="GANs segment every organ", abstract="", ai_keywords=())
    assert matches("gan", [organ]) == ["x"]
    assert matches("organ", [organ]) == ["x"]
    assert matches("organs", [organ]) == ["x"]
    assert matches("org", [organ]) == []


def test_singular_and_plural_meet_both_ways() -> None:
    assert "Transformers" in BY_ID["2410.17897"].title
    assert matches("title:transformer") == ["2410.17897"]
    assert "Policies" in BY_ID["2608.19891"].title
    assert matches("title:policy") == ["2608.19861", "2608.19891"]
    assert matches("title:policies") == matches("title:policy")


def test_phrases_need_the_words_in_order_and_side_by_side() -> None:
    assert matches('"reinforcement learning"') == ["2608.19880", "2608.19891"]
    assert matches('"Reinforcement-Learning"') == ["2608.19880", "2608.19891"]
    assert matches('"learning reinforcement"') == []
    assert matches("self-supervised") == matches('"self supervised"') == ["2608.19863"]
    assert matches("GPT-4o") == ["2410.18976"]


def test_a_phrase_never_spans_two_fields() -> None:
    assert ENVHARNESS.title.endswith("Agent Learning") and ENVHARNESS.abstract.startswith("LLM agents")
    assert words('"agent learning"') == ('"agent learning"',)
    assert words('"learning llm"') is None


# Boolean structure


def test_or_matches_either_and_lists_only_what_hit() -> None:
    assert matches("diffusion OR GPT-4o") == sorted(matches("diffusion") + matches("GPT-4o"))
    assert words("envharness OR diffusion OR policy") == ("envharness", "policy")


def test_parentheses_and_precedence() -> None:
    assert matches("(diffusion OR transformer) video") == ["2410.18538", "2410.18775", "2608.20335"]
    assert matches("diffusion OR transformer video") == matches("diffusion")  # the second side matches nothing new
    assert words("(envharness nonexistentword) OR policy") == ("policy",)


def test_exclusions_drop_papers_and_never_appear_in_the_words() -> None:
    assert matches("diffusion -video") == ["2410.18958", "2410.18977"]
    assert matches('diffusion -"video diffusion"') == ["2410.18538", "2410.18775", "2410.18958", "2410.18977"]
    assert matches("diffusion -(video OR consistency)") == ["2410.18977"]
    assert matches("diffusion -title:video") == ["2410.18538", "2410.18775", "2410.18958", "2410.18977"]
    assert words("envharness -survey") == ("envharness",)
    assert words("envharness -(survey -envharness)") == ("envharness",)


# Fields


def test_title_abstract_and_keyword_fields() -> None:
    assert matches("title:envharness") == matches("abstract:envharness") == ["2608.19880"]
    assert matches("keyword:envharness") == ["2608.19880"]
    assert matches("keyword:transformer") == ["2608.19863"]  # "causal Transformer"
    assert matches("title:memory") == ["2410.17243", "2608.20202"]
    assert words("keyword:(diffusion OR envrigger)") == ("keyword:envrigger",)


def test_default_fields_are_title_abstract_and_keywords_not_authors() -> None:
    assert matches("zifeng") == []
    assert matches("author:zifeng") == ["2608.19880"]


def test_author_matches_words_within_one_name() -> None:
    lecun = replace(ENVHARNESS, id="y", authors=("Yann LeCun", "Ishan Misra"))
    assert matches('author:"Yann LeCun"', [lecun]) == ["y"]
    assert matches("author:lecun", [lecun]) == ["y"]
    assert matches('author:"LeCun Ishan"', [lecun]) == []  # would span two authors
    assert matches('author:"Zifeng Wang"') == ["2608.19880"]


def test_a_keyword_phrase_stays_within_one_keyword() -> None:
    assert ENVHARNESS.ai_keywords[:2] == ("LLM agents", "Environment Harness")
    assert words('keyword:"environment harness"') == ('keyword:"environment harness"',)
    assert words('keyword:"agents environment"') is None


# Filters


@pytest.mark.parametrize(
    ("text", "hit"),
    [
        ("upvotes:>=163", True),
        ("upvotes:163", True),
        ("upvotes:>=164", False),
        ("upvotes:>162", True),
        ("upvotes:>163", False),
        ("upvotes:<=163", True),
        ("upvotes:<163", False),
        ("upvotes:=163", True),
        ("upvotes:=16", False),
    ],
)
def test_upvotes_comparisons(text: str, hit: bool) -> None:
    assert ENVHARNESS.upvotes == 163
    assert (words(text) is not None) is hit


def test_the_matcher_compares_upvotes_like_explain_at_and_around_every_papers_count() -> None:
    counts = {p.upvotes + step for p in PAPERS for step in (-1, 0, 1) if p.upvotes + step >= 0}
    texts = [f"upvotes:{op}{count}" for count in sorted(counts) for op in ("", ">=", ">", "<=", "<", "=")]
    subscriptions = [(i, parse(text)) for i, text in enumerate(texts)]
    assert Matcher(subscriptions).match(PAPERS) == expected(subscriptions, PAPERS)


def test_has_code_and_project() -> None:
    with_code = {p.id for p in PAPERS if p.github_repo}
    assert set(matches("has:code")) == with_code and len(with_code) == 12
    assert set(matches("has:project")) == {p.id for p in PAPERS if p.project_page}
    assert matches("agent -has:code") == ["2608.13120", "2608.19854"]


def test_filters_alone_match_every_paper_that_passes() -> None:
    assert matches("upvotes:>=100") == ["2608.19880"]
    assert words("has:code upvotes:>=20") == ("has:code", "upvotes:>=20")


# explain's words


def test_words_are_the_positive_terms_as_written_in_query_order_once() -> None:
    text = 'title:Agent "reinforcement learning" -survey author:"Zifeng Wang" has:code (EnvHarness OR survey) agent'
    assert words(text) == (
        "title:Agent",
        '"reinforcement learning"',
        'author:"Zifeng Wang"',
        "has:code",
        "EnvHarness",
        "agent",
    )
    assert words("policy policy OR policies") == ("policy", "policies")


# Matcher


def expected(subscriptions: list[tuple[int, Query]], papers: list[Paper]) -> dict[str, tuple[Reason, ...]]:
    found: dict[str, tuple[Reason, ...]] = {}
    for p in papers:
        reasons = [
            Reason(sid, query.text, hit)
            for sid, query in sorted(subscriptions, key=lambda s: s[0])
            if (hit := explain(query, p)) is not None
        ]
        if reasons:
            found[p.id] = tuple(reasons)
    return found


def test_matcher_gives_reasons_by_subscription_id_and_leaves_out_unmatched_papers() -> None:
    subscriptions = [(9, parse("diffusion -video")), (2, parse("diffusion OR GPT-4o")), (5, parse("lecun"))]
    result = Matcher(subscriptions).match(PAPERS)
    assert result["2410.18977"] == (
        Reason(2, "diffusion OR GPT-4o", ("diffusion",)),
        Reason(9, "diffusion -video", ("diffusion",)),
    )
    assert result["2410.18976"] == (Reason(2, "diffusion OR GPT-4o", ("GPT-4o",)),)
    assert set(result) == set(matches("diffusion OR GPT-4o"))
    assert result == expected(subscriptions, PAPERS)


def test_matcher_with_nothing_to_do() -> None:
    assert Matcher([]).match(PAPERS) == {}
    assert Matcher([(1, parse("diffusion"))]).match([]) == {}


def test_matcher_agrees_with_explain_on_the_examples_above() -> None:
    texts = [
        "gan", "title:transformer", '"reinforcement learning"', "self-supervised", "GPT-4o", '"agent learning"',
        "(diffusion OR transformer) video", "diffusion -(video OR consistency)", "keyword:(diffusion OR envrigger)",
        'author:"Zifeng Wang"', "upvotes:<2", "agent -has:code", "has:code upvotes:>=20", "policy policy OR policies",
        "(envharness nonexistentword) OR policy", "envharness -(survey -envharness)",
    ]
    subscriptions = [(i, parse(text)) for i, text in enumerate(texts)]
    assert Matcher(subscriptions).match(PAPERS) == expected(subscriptions, PAPERS)


# Matcher == explain for random queries over the recorded papers

TITLE_WORDS = sorted({w for p in PAPERS for w in re.findall(r"[A-Za-z][A-Za-z0-9]{2,}", p.title)} - {"AND"})
PHRASES = sorted({k for p in PAPERS for k in p.ai_keywords if '"' not in k and re.search(r"\w", k)})
SURNAMES = sorted({a.split()[-1] for p in PAPERS for a in p.authors if re.fullmatch(r"[A-Za-z]+", a.split()[-1])})

word = st.one_of(st.sampled_from(TITLE_WORDS), st.sampled_from(["model", "models", "the", "nonexistentword", "gan"]))
phrase = st.sampled_from(PHRASES).map(lambda k: f'"{k}"')
leaf = st.one_of(
    word,
    phrase,
    st.tuples(st.sampled_from(["title", "abstract", "keyword"]), st.one_of(word, phrase)).map(":".join),
    st.sampled_from(SURNAMES).map(lambda name: f"author:{name}"),
    st.sampled_from(["has:code", "has:project"]),
    st.tuples(st.sampled_from(["", ">=", ">", "<=", "<", "="]), st.sampled_from([0, 1, 3, 26, 100])).map(
        lambda t: f"upvotes:{t[0]}{t[1]}"
    ),
)


def compound(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    pair = st.tuples(inner, inner)
    return st.one_of(
        pair.map(" ".join),
        pair.map(" AND ".join),
        pair.map(" OR ".join),
        st.tuples(inner, leaf).map(lambda t: f"{t[0]} -{t[1]}"),
        pair.map(lambda t: f"{t[0]} -({t[1]})"),
        st.tuples(inner, inner, inner).map(lambda t: f"{t[0]} -({t[1]} OR -({t[2]}))"),  # a NOT inside an OR
        inner.map(lambda x: f"({x})"),
        st.tuples(st.sampled_from(["title", "keyword"]), inner).map(lambda t: f"{t[0]}:({t[1]})"),
    )


queries = st.recursive(leaf, compound, max_leaves=8)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(queries, min_size=1, max_size=6), st.randoms(use_true_random=False))
def test_matcher_agrees_with_explain_for_random_queries(texts: list[str], rng: Any) -> None:
    ids = rng.sample(range(1000), len(texts))  # ids in any order; the matcher sorts them
    subscriptions = [(i, parse(text, max_length=10_000)) for i, text in zip(ids, texts)]
    subscriptions.append((1000, subscriptions[0][1]))  # the same query twice
    assert Matcher(subscriptions).match(PAPERS) == expected(subscriptions, PAPERS)


SOUP = ["(", ")", '"', "-", " ", " ", "OR", "AND", "title:", "author:", "keyword:", "has:code", "upvotes:>3",
        "diffusion", "video", "agent", "agents", "learning", "reinforcement", "wang", "model"]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(SOUP), min_size=1, max_size=14).map("".join))
def test_matcher_agrees_with_explain_for_any_query_that_parses(text: str) -> None:
    try:
        query = parse(text)
    except QueryError:
        return
    assert Matcher([(1, query)]).match(PAPERS) == expected([(1, query)], PAPERS)


# Grouped hits, and a wave of channels in one pass


def test_hits_group_each_subscriptions_papers_by_the_words_that_hit() -> None:
    either = parse("diffusion OR GPT-4o")
    subscriptions = [(9, either), (2, parse("nonexistentword")), (4, either)]
    hits = Matcher(subscriptions).hits(PAPERS)
    assert [hit.subscription_id for hit in hits] == [4, 9]  # by id, only those that match
    assert hits[0].groups is hits[1].groups  # equal queries share their groups
    for words, indices in hits[0].groups:
        assert {explain(subscriptions[0][1], PAPERS[i]) for i in indices} == {words}
    assert sorted(i for group in hits[0].groups for i in group.papers) == [
        i for i, p in enumerate(PAPERS) if explain(subscriptions[0][1], p) is not None
    ]
    assert by_paper(hits, PAPERS) == Matcher(subscriptions).match(PAPERS) == expected(subscriptions, PAPERS)


def test_match_channels_gives_every_channel_its_own_matches() -> None:
    channels = {
        7: [(3, parse("diffusion -video")), (1, parse("GPT-4o"))],
        8: [(5, parse("diffusion -video"))],  # the same query as channel 7's, another subscription
        9: [(6, parse("nonexistentword"))],
        10: [],
    }
    plan = dict(match_channels(channels, PAPERS))
    assert plan.keys() == channels.keys()
    assert plan[7] == expected(channels[7], PAPERS)
    assert plan[8] == {p: (Reason(5, "diffusion -video", ("diffusion",)),) for p in matches("diffusion -video")}
    assert plan[9] == plan[10] == {}


def test_a_new_set_of_papers_gets_fresh_answers() -> None:
    subscriptions = [(1, parse("upvotes:>=100 OR envharness"))]
    assert Matcher(subscriptions).match(PAPERS) == expected(subscriptions, PAPERS)
    cooler = [replace(p, upvotes=0) if p is ENVHARNESS else p for p in PAPERS]
    assert Matcher(subscriptions).match(cooler) == expected(subscriptions, cooler)
    assert dict(match_channels({1: subscriptions}, PAPERS[:5]))[1] == expected(subscriptions, PAPERS[:5])


def test_matching_from_many_threads_agrees_and_restores_the_collector() -> None:
    threshold = gc.get_threshold()
    channels = {c: [(c, parse(text))] for c, text in enumerate(["diffusion", "agent -has:code", "policy OR video"])}
    with ThreadPoolExecutor(4) as pool:
        plans = list(pool.map(lambda _: dict(match_channels(channels, PAPERS)), range(8)))
    assert all(plan == {c: expected(s, PAPERS) for c, s in channels.items()} for plan in plans)
    assert gc.get_threshold() == threshold


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.lists(queries, max_size=3), min_size=1, max_size=6), st.sampled_from([PAPERS, PAPERS[::-1][:20]]))
def test_match_channels_agrees_with_explain_for_random_waves(texts: list[list[str]], papers: list[Paper]) -> None:
    parsed = {text: parse(text, max_length=10_000) for channel in texts for text in channel}
    ids = iter(range(10_000))
    channels = {100 + c: [(next(ids), parsed[text]) for text in channel] for c, channel in enumerate(texts)}
    assert dict(match_channels(channels, papers)) == {c: expected(s, papers) for c, s in channels.items()}
