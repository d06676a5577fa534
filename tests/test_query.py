"""The query language's parser: structure, labels, and the errors a user sees."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.query import DEFAULT_FIELDS, And, Has, Not, Or, Query, QueryError, Term, Upvotes, parse


def term(label: str, *words: str, fields: tuple[str, ...] = DEFAULT_FIELDS) -> Term:
    return Term(label, fields, words or (label.lower(),))


def error(text: str, **options: int) -> QueryError:
    with pytest.raises(QueryError) as caught:
        parse(text, **options)
    return caught.value


# Structure


def test_a_word_is_a_term_over_title_abstract_and_keywords() -> None:
    assert parse("  Diffusion \n") == Query("Diffusion", term("Diffusion"), ("Diffusion",))


def test_terms_side_by_side_or_with_and_all_must_hold() -> None:
    expected = And((term("gan"), term("diffusion")))
    assert parse("gan diffusion").root == expected
    assert parse("gan AND diffusion").root == expected


def test_and_binds_tighter_than_or_and_not_tighter_than_and() -> None:
    assert parse("a b OR c -d").root == Or((And((term("a"), term("b"))), And((term("c"), Not(term("d"))))))


def test_parentheses_group_and_nested_groups_flatten() -> None:
    assert parse("(a OR b) c").root == And((Or((term("a"), term("b"))), term("c")))
    assert parse("((a))").root == term("a")
    assert parse("a (b c)").root == And((term("a"), term("b"), term("c")))
    assert parse("a OR (b OR c)").root == Or((term("a"), term("b"), term("c")))


def test_lowercase_or_and_are_ordinary_words() -> None:
    assert parse("cats or dogs").root == And((term("cats", "cat"), term("or"), term("dogs", "dog")))
    assert parse("and").root == term("and")


def test_a_quoted_phrase_or_a_hyphenated_word_is_a_phrase() -> None:
    assert parse('"Reinforcement Learning"').root == term('"Reinforcement Learning"', "reinforcement", "learning")
    assert parse("self-supervised").root == term("self-supervised", "self", "supervised")
    assert parse("GPT-4o").root == term("GPT-4o", "gpt", "4o")


def test_smart_quotes_from_phones_work_like_straight_ones() -> None:
    assert parse("“flow matching”").root == term("“flow matching”", "flow", "matching")


def test_minus_excludes_only_at_the_start_of_a_term() -> None:
    assert parse("agent -survey").root == And((term("agent"), Not(term("survey"))))
    assert parse('agent -"video game"').root == And((term("agent"), Not(term('"video game"', "video", "game"))))
    assert parse("agent -(survey OR review)").root == And((term("agent"), Not(Or((term("survey"), term("review"))))))
    title_survey = term("title:survey", "survey", fields=("title",))
    assert parse("agent -title:survey").root == And((term("agent"), Not(title_survey)))
    assert parse("zero-shot").root == term("zero-shot", "zero", "shot")


def test_fields_take_a_word_a_phrase_or_a_group() -> None:
    assert parse("title:Agent").root == term("title:Agent", "agent", fields=("title",))
    assert parse('author:"Yann LeCun"').root == term('author:"Yann LeCun"', "yann", "lecun", fields=("author",))
    assert parse('Keyword:(diffusion OR "flow matching")').root == Or(
        (
            term("Keyword:diffusion", "diffusion", fields=("keyword",)),
            term('Keyword:"flow matching"', "flow", "matching", fields=("keyword",)),
        )
    )
    assert parse("abstract:x").root == term("abstract:x", "x", fields=("abstract",))


def test_upvotes_comparisons_and_has() -> None:
    assert parse("upvotes:>=20").root == Upvotes("upvotes:>=20", ">=", 20)
    assert parse("upvotes:20").root == Upvotes("upvotes:20", ">=", 20)
    for op in (">", "<=", "<", "="):
        assert parse(f"upvotes:{op}7").root == Upvotes(f"upvotes:{op}7", op, 7)
    assert parse("has:code").root == Has("has:code", "code")
    assert parse("HAS:Project").root == Has("HAS:Project", "project")


def test_terms_lists_positive_labels_once_in_query_order() -> None:
    query = parse('(diffusion OR "flow matching") -survey has:code diffusion author:"Yann LeCun"')
    assert query.terms == ("diffusion", '"flow matching"', "has:code", 'author:"Yann LeCun"')


def test_filters_alone_are_a_query() -> None:
    assert parse("has:code upvotes:>50").terms == ("has:code", "upvotes:>50")


def test_equal_terms_of_different_queries_are_one_object() -> None:
    diffusion = parse("diffusion -video").root.children[0]  # type: ignore[union-attr]
    assert parse("gan OR diffusion").root.children[1] is diffusion  # type: ignore[union-attr]  # a wave shares them
    assert parse("Diffusion").root == term("Diffusion")  # each keeps its label as written
    assert parse("title:diffusion").root == term("title:diffusion", "diffusion", fields=("title",))


# Errors, as the user reads them


@pytest.mark.parametrize(
    ("text", "message", "position"),
    [
        ("", "empty query: give at least one word to look for, e.g. diffusion", None),
        ("   ", "empty query: give at least one word to look for, e.g. diffusion", None),
        ("-survey", "needs at least one word to look for, not only -exclusions", None),
        ("-survey -(review OR overview)", "needs at least one word to look for, not only -exclusions", None),
        ("gan OR -survey", "needs at least one word to look for on each side of OR, not only -exclusions", None),
        ('agent "video game', 'unclosed quote at column 7: start the phrase with " and end it with "', 6),
        ("(agent OR game", "unclosed parenthesis at column 1: add a matching )", 0),
        ("agent)", "unmatched ) at column 6: remove it or add a matching (", 5),
        ("agent ()", "empty parentheses at column 7: put a word inside", 6),
        ("agent OR", "OR at column 7: needs a term on each side, e.g. gan OR diffusion", 6),
        ("OR agent", "OR at column 1: needs a term on each side, e.g. gan OR diffusion", 0),
        ("a OR OR b", "OR at column 3: needs a term on each side, e.g. gan OR diffusion", 2),
        ("(a OR) b", "OR at column 4: needs a term on each side, e.g. gan OR diffusion", 3),
        ("a AND", "AND at column 3: needs a term on each side, e.g. gan AND diffusion", 2),
        ("AND a", "AND at column 1: needs a term on each side, e.g. gan AND diffusion", 0),
        (
            "titel:agent",
            'unknown field "titel:" at column 1: use title:, abstract:, author:, keyword:, upvotes:, has: or like:',
            0,
        ),
        ("upvotes:lots", 'bad upvotes value "lots" at column 9: use a number, e.g. upvotes:>=20', 8),
        ("upvotes:>=", 'bad upvotes value ">=" at column 9: use a number, e.g. upvotes:>=20', 8),
        ("upvotes: 5", '"upvotes:" at column 1: put a number right after it, e.g. upvotes:>=20', 0),
        ("has:paper", 'unknown "has:paper" at column 1: use has:code or has:project', 0),
        ("has:", '"has:" at column 1: put code or project right after it, e.g. has:code', 0),
        ("x title:", '"title:" at column 3: put a word, a "phrase" or (a OR b) right after it, e.g. title:agent', 2),
        ("title: x", '"title:" at column 1: put a word, a "phrase" or (a OR b) right after it, e.g. title:agent', 0),
        ("title:-survey", '"title:-survey" at column 1: put the minus before the field, e.g. -title:survey', 0),
        ("agent - survey", '"-" at column 7: put the word to exclude right after it, e.g. -survey', 6),
        ("agent -", '"-" at column 7: put the word to exclude right after it, e.g. -survey', 6),
        ("agent &", '"&" has no letters or digits at column 7: give a word to look for', 6),
        ('agent ""', '"" has no letters or digits at column 7: give a word to look for', 6),
        ("(" * 21 + "a" + ")" * 21, "too many nested parentheses at column 21: use at most 20 levels", 20),
    ],
)
def test_errors_say_what_is_wrong_and_where(text: str, message: str, position: int | None) -> None:
    err = error(text)
    assert str(err) == err.message == message
    assert err.position == position


def test_what_the_user_wrote_is_echoed_on_one_short_line() -> None:
    assert str(error('a "\n\t"')) == '"" has no letters or digits at column 3: give a word to look for'
    assert str(error("a " + "x" * 40 + ":b")) == (
        'unknown field "xxxxxxxxxxxxxxxxxxxxxxxxxxxxx…" at column 3: '
        "use title:, abstract:, author:, keyword:, upvotes:, has: or like:"
    )


def test_too_long_names_the_limit_and_the_length() -> None:
    assert str(error("diffusion " * 31)) == "query too long: 309 characters, the limit is 300"
    assert str(error("gan diffusion", max_length=10)) == "query too long: 13 characters, the limit is 10"
    assert parse("x" * 300).text == "x" * 300


def test_query_error_is_a_value_error() -> None:
    assert isinstance(error("("), ValueError)


# Any input parses or raises QueryError, nothing else


PIECES = [
    "(", ")", '"', "“", "”", "„", "-", " ", "  ", "\t", "\n", "OR", "AND", "or", "title:", "abstract:", "author:",
    "keyword:", "upvotes:", "has:", "Title:", "titel:", "code", "project", ">=", ">", "<=", "<", "=", "5", "20",
    "gan", "GPT-4o", "policies", "x", ":", "+", "é", "\u00a0", "ﬁ", "İ", "ß", "_", "0", "\u200b", "\x00",
]


def parses_or_rejects(text: str, max_length: int = 300) -> None:
    try:
        query = parse(text, max_length=max_length)
    except QueryError as err:
        assert err.message and "\n" not in err.message
        assert err.position is None or 0 <= err.position < len(text)
    else:
        assert query.text == text.strip() and query.terms


@settings(max_examples=500)
@given(st.text(max_size=400))
def test_any_text_parses_or_raises_query_error(text: str) -> None:
    parses_or_rejects(text)


@settings(max_examples=1000)
@given(st.lists(st.sampled_from(PIECES), max_size=60).map("".join))
def test_any_mix_of_the_grammar_parses_or_raises_query_error(text: str) -> None:
    parses_or_rejects(text, max_length=10_000)


@pytest.mark.parametrize("opening", ["(", "-("])
def test_deep_nesting_is_a_query_error_even_without_a_length_limit(opening: str) -> None:
    with pytest.raises(QueryError, match="too many nested parentheses at column \\d+: use at most 20 levels"):
        parse(opening * 5000 + "a" + ")" * 5000, max_length=100_000)
