"""The neutral parts every platform shares: pacing under declared rates, packing, clipping, backoff."""

from __future__ import annotations

import pytest

from adapters.discord.render import LIMITS as DISCORD
from adapters.slack.pacing import rates as slack_rates
from bot.backoff import Backoff, parse_retry_after
from bot.models import ChannelKey
from bot.packing import chunk_lines, pack
from bot.pacing import Pacer, Rate, Timing
from bot.text import clip, plural


def still(waits: list[float]) -> Timing:
    """Time stands still and every post is asked for at once: the waits are the schedule."""

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    return Timing(lambda: 0.0, sleep)


def channel(name: str, workspace: str = "T1") -> ChannelKey:
    return ChannelKey("slack", workspace, name)


async def test_slack_pace_spaces_posts_per_channel_and_across_the_workspace() -> None:
    waits: list[float] = []
    pacer = Pacer(slack_rates(120), still(waits))
    for name in "AABA":
        await pacer.wait(channel(name))
    # A at 0; A at 1 (a second per channel); B at 1.5 (the workspace: one slot every 0.5 s, in turn); A at 2
    assert waits == [1.0, 1.5, 2.0]


async def test_slack_pace_never_fills_the_workspace_budget_within_a_minute() -> None:
    waits: list[float] = []
    pacer = Pacer(slack_rates(2), still(waits))
    for name in "ABCD":
        await pacer.wait(channel(name))
    # A at 0, B at 30; C at 61, not 60: had A reached Slack a little late, one minute would hold three; D at 91
    assert waits == [30.0, 61.0, 91.0]


async def test_workspaces_are_paced_apart() -> None:
    waits: list[float] = []
    pacer = Pacer(slack_rates(2), still(waits))
    for workspace in ("T1", "T2", "T1", "T2"):
        await pacer.wait(channel("A" + workspace, workspace))
    assert waits == [30.0, 30.0]


async def test_discord_digests_stay_under_the_global_limit_with_room_for_jitter() -> None:
    waits: list[float] = []
    (rate,) = DISCORD.rates
    assert (rate.scope, rate.count, rate.seconds) == ("bot", 50, 1.0)
    pacer = Pacer([Rate("bot", 2, 1.0, margin=rate.margin)], still(waits))
    for name in "ABCD":
        await pacer.wait(ChannelKey("discord", "G", name))
    # 0 and 0.5; the third once the first is 1.05 s old, not 1 s, lest jitter put three in Discord's second
    assert waits == [0.5, 1.05, 1.55]


def test_pack_keeps_order_and_both_limits() -> None:
    groups = pack(["aaaa", "bb", "cc", "d", "eeeeee", "f"], most=3, size_limit=6, size=len)
    assert groups == [["aaaa", "bb"], ["cc", "d"], ["eeeeee"], ["f"]]
    assert pack([], most=3, size_limit=6, size=len) == []


def test_chunk_lines_joins_lines_up_to_the_limit() -> None:
    assert chunk_lines(["ab", "cd", "ef"], 5) == ["ab\ncd", "ef"]
    assert chunk_lines([], 5) == [""]


@pytest.mark.parametrize(
    ("text", "limit", "expected"),
    [("hello", 5, "hello"), ("hello world", 8, "hello w…"), ("a b   c", 4, "a b…"), ("abc", 0, "")],
)
def test_clip_ends_with_an_ellipsis_within_the_limit(text: str, limit: int, expected: str) -> None:
    assert clip(text, limit) == expected


def test_clip_never_splits_an_escape() -> None:
    def escape(text: str) -> str:
        return text.replace("&", "&amp;")

    assert clip("a&&&&", 8, escape) == "a&amp;…"
    assert all(len(clip("&" * n, 9, escape)) <= 9 for n in range(20))


def test_plural() -> None:
    assert [plural(1, "paper"), plural(1204, "upvote"), plural(2, "match", "matches")] == [
        "1 paper", "1,204 upvotes", "2 matches"
    ]


def test_backoff_doubles_up_to_the_cap_and_honours_retry_after() -> None:
    backoff = Backoff(base=2.0, cap=10.0, jitter=1.0, draw=lambda: 0.5)
    assert [backoff.delay(n) for n in (1, 2, 3, 4)] == [2.5, 4.5, 8.5, 10.5]
    assert backoff.delay(1, retry_after=7.0) == 7.0 and backoff.delay(1, retry_after=900.0) == 10.0
    assert backoff.delay(5_000) == 10.5  # a start-up retried for days never overflows


@pytest.mark.parametrize(
    ("value", "seconds"), [("7", 7.0), ("0.5", 0.5), (None, None), ("", None), ("-1", None), ("inf", None),
                           ("Wed, 21 Oct 2015 07:28:00 GMT", None)],
)
def test_retry_after_is_seconds_or_nothing(value: str | None, seconds: float | None) -> None:
    assert parse_retry_after(value) == seconds
