"""Hostile text from users and operators: one clear line, and nothing changed."""

from __future__ import annotations

import io

import pytest

from adapters.console import ConsoleAdapter
from bot.config import ConfigError, Settings, parse_url
from bot.core import Core
from bot.query import QueryError, parse
from tests.test_core import CTX

# Queries


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("agent\x00", "character U+0000 at column 6 is not allowed: queries take visible text only"),
        ("a\x1b[31mb", "character U+001B at column 2 is not allowed: queries take visible text only"),
        ("agent \u202edesrever", "character U+202E (RIGHT-TO-LEFT OVERRIDE) at column 7 is not allowed: "
                                 "queries take visible text only"),
        ("\u2066agent", "character U+2066 (LEFT-TO-RIGHT ISOLATE) at column 1 is not allowed: "
                        "queries take visible text only"),
        ("age\u200bnt", "character U+200B (ZERO WIDTH SPACE) at column 4 is not allowed: queries take visible text only"),
        ("\ufeffagent", "character U+FEFF (ZERO WIDTH NO-BREAK SPACE) at column 1 is not allowed: "
                        "queries take visible text only"),
    ],
)
def test_control_and_invisible_characters_are_named_with_their_column(text: str, message: str) -> None:
    with pytest.raises(QueryError) as caught:
        parse(text)
    assert str(caught.value) == message


def test_ordinary_whitespace_and_accents_still_parse() -> None:
    assert parse("réseau\tneuronal\n").terms == ("réseau", "neuronal")


@pytest.mark.parametrize("value", ["99999999999999999999", ">=100001", "<" + "9" * 5000])
def test_upvote_numbers_are_capped(value: str) -> None:
    with pytest.raises(QueryError) as caught:
        parse(f"agent upvotes:{value}", max_length=10_000)
    assert str(caught.value) == (
        f'upvotes value "{value[:29] + "…" if len(value) > 30 else value}" too large at column 15: '
        "use a number up to 100,000"
    )


def test_upvote_cap_itself_parses() -> None:
    assert parse("agent upvotes:>=100000").terms == ("agent", "upvotes:>=100000")


async def test_a_bidi_subscription_is_refused_and_nothing_is_stored(core: Core) -> None:
    reply = await core.commands.handle(CTX, "/papers subscribe agent \u202esurvey")
    assert not reply.ok
    assert reply.text == (
        "That query does not parse: character U+202E (RIGHT-TO-LEFT OVERRIDE) at column 7 is not allowed: "
        "queries take visible text only"
    )
    assert "no subscriptions" in (await core.commands.handle(CTX, "/papers list")).text


# Settings


@pytest.mark.parametrize("name", ["PAPERBOY_DEFAULT_TIME", "PAPERBOY_DEFAULT_TZ"])
def test_empty_default_time_and_zone_mean_the_default(name: str) -> None:
    settings = Settings.from_env({name: "  "})
    assert (settings.default_time, settings.default_tz) == ("09:00", "UTC")


def test_bad_default_time_is_still_refused() -> None:
    with pytest.raises(ConfigError, match="PAPERBOY_DEFAULT_TIME: '25:00' is not a time"):
        Settings.from_env({"PAPERBOY_DEFAULT_TIME": "25:00"})


# The console


async def test_console_answers_a_line_that_is_not_utf8_and_reads_on(core: Core) -> None:
    out = io.StringIO()
    script = b"/papers subscribe \xff\n/papers subscribe agent\n"
    stdin = io.TextIOWrapper(io.BytesIO(script), encoding="utf-8", errors="strict")
    console = ConsoleAdapter(stdin=stdin, stdout=out, user="ada")
    core.ready.set()
    await console.run(core.host(console))  # returns: end of input still ends the session
    lines = out.getvalue().splitlines()
    assert lines[0] == "Line 1 is not valid utf-8 (byte 0xff at byte 19), so it was ignored."
    assert lines[1].startswith("Subscribed as #1: agent")


@pytest.mark.parametrize("url", ["http://h/\x7f", "http://h/a b", "http://h:-1/", "ftp://h/", "http://[::1"])
def test_urls_the_http_client_would_refuse_are_refused_here(url: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_url("PAPERBOY_SOURCE", url, ("http", "https"), "https://example.org/")
    assert str(caught.value) == (
        f"PAPERBOY_SOURCE must be an http:// or https:// URL such as https://example.org/, got '{url}'"
    )


def test_good_urls_pass_unchanged() -> None:
    for url in ("https://huggingface.co/api/daily_papers", "http://[::1]:8080/api", "http://127.0.0.1:9/x?y=1"):
        assert parse_url("X", url, ("http", "https"), "e") == url
