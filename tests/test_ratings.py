"""Ratings end to end through the core: rating, like: subscriptions, ranking, suggestions, taste, weekly."""

from __future__ import annotations

import logging
from datetime import date

import pytest

from adapters.console import KEY
from bot.core import Core
from bot.models import ChannelKey, CommandContext, Paper
from bot.source import SourceError
from tests.support import MemoryAdapter, VirtualTime

CTX = CommandContext(KEY, "ada", can_manage=True)
BOB = CommandContext(KEY, "bob", can_manage=False)
AGENT_PAPERS = ("2608.19880", "2608.19799", "2608.18580")  # three agent papers of 21 Aug 2026


class Elsewhere:
    """The source's paper lookup: one paper only the API knows, or a source that cannot be reached."""

    def __init__(self, real: object, paper: Paper | None = None, down: bool = False) -> None:
        self._real, self._paper, self._down = real, paper, down
        self.asked: list[str] = []

    def __getattr__(self, name: str) -> object:
        return getattr(self._real, name)

    async def fetch_paper(self, paper_id: str) -> Paper | None:
        self.asked.append(paper_id)
        if self._down:
            raise SourceError("huggingface.co unreachable after 4 attempts for paper: timeout")
        return self._paper if self._paper and self._paper.id == paper_id else None


async def ready(core: Core) -> MemoryAdapter:
    adapter = MemoryAdapter("console")
    core.delivery.attach({"console": adapter})
    await core.poll()
    return adapter


async def say(core: Core, text: str, ctx: CommandContext = CTX) -> str:
    reply = await core.commands.handle(ctx, text)
    return reply.text


async def test_a_paper_only_hugging_face_knows_may_be_rated_and_stays_out_of_the_digest(core: Core) -> None:
    await ready(core)
    outside = Paper("2410.18978", "World models for agents", "We study world models.", ("Ada",), 5, date(2024, 10, 25))
    core.ratings._source = Elsewhere(core.source, outside)  # type: ignore[assignment]
    host = core.host(MemoryAdapter("console"))
    assert (await host.rate(CTX, "2410.18978v2", 1)).text.startswith("👍 You liked 2410.18978 (World models for agents).")
    assert (await core.store.papers_by_id(["2410.18978"]))["2410.18978"] == outside
    assert "2410.18978" not in {p.id for p in await core.store.recent_papers(7)}
    assert (await host.rate(CTX, "2410.18978", -1)).text.startswith("👎 You disliked")
    assert (await host.rate(CTX, "2410.18978", -1)).text.startswith("Took back your rating of 2410.18978")
    assert (await say(core, "unrate 2410.18978")) == "You had not rated 2410.18978."


async def test_unknown_or_unreachable_ids_are_one_line_and_change_nothing(core: Core) -> None:
    await ready(core)
    core.ratings._source = Elsewhere(core.source, down=True)  # type: ignore[assignment]
    for text in ("like 2410.18978", "subscribe like:2410.18978", "preview like:2410.18978 OR agent"):
        reply = await core.commands.handle(CTX, text)
        assert not reply.ok and reply.text == (
            "Could not reach Hugging Face to look up 2410.18978; nothing changed. Try again later."
        )
    channel = await core.store.channel(KEY)
    assert channel is None or (await core.store.ratings(channel.id) == [] and not await core.store.subscriptions(channel.id))


async def test_like_subscription_previews_similarity_and_delivers_similar_papers(core: Core) -> None:
    adapter = await ready(core)
    preview = await core.commands.handle(CTX, "preview like:2608.19880 -survey")
    assert preview.text == "3 papers of the last 7 days match like:2608.19880 -survey:"
    assert {i.paper.id: i.why for i in preview.items} == {  # in upvote order, each with its similarity
        "2608.18580": "like:2608.19880 (0.23)", "2608.19891": "like:2608.19880 (0.19)", "2608.19861": "like:2608.19880 (0.28)",
    }
    assert (await say(core, 'subscribe like:2608.19880 OR "world model"')).startswith(
        'Subscribed as #1: like:2608.19880 OR "world model"\nIt would have matched 4 papers'
    )
    assert await say(core, "digest") == "Posted 4 papers."
    [digest] = adapter.posted
    assert {i.paper.id: i.why for i in digest.items} == {
        "2608.18580": "like:2608.19880 (#1)", "2608.14022": '"world model" (#1)',
        "2608.19891": "like:2608.19880 (#1)", "2608.19861": "like:2608.19880 (#1)",
    }
    assert "2608.19880" not in {i.paper.id for i in digest.items}  # the seed is not similar to itself


async def test_three_likes_rank_the_digest_and_suggest_papers_once(core: Core) -> None:
    adapter = await ready(core)
    await say(core, "subscribe video")
    for paper_id in AGENT_PAPERS[:2]:
        await say(core, f"like {paper_id}")
    assert (await core.commands.handle(BOB, f"like {AGENT_PAPERS[2]}")).text.endswith(  # any member may rate
        "Terminal Task Synthesis)."
    )
    await core.ratings.settle()
    assert await say(core, "digest") == "Posted 4 papers."
    [digest] = adapter.posted
    assert [i.paper.id for i in digest.items] == ["2608.13210", "2608.20335", "2608.14022", "2608.19861"]
    suggestion = digest.items[-1]
    assert suggestion.suggested and suggestion.label == "Also for you"
    assert suggestion.why == "like 2608.19880, which this channel liked: llm agents, policy, domain, agent"
    assert digest.title == "Daily Papers, Fri 21 Aug 2026: 3 papers for this channel"
    channel = await core.store.channel(KEY)
    assert channel is not None and (channel.id, "2608.19861") in await core.store.delivered([channel.id], ["2608.19861"])
    assert (await say(core, "digest")).startswith("Nothing new")  # never suggested twice


async def test_one_wave_ranks_each_channel_by_its_own_taste(core: Core, clock: VirtualTime) -> None:
    adapter = await ready(core)
    other = CommandContext(ChannelKey("console", "local", "reading-group"), "cy", can_manage=True)
    for ctx in (CTX, other):
        await say(core, "subscribe video", ctx)
    for paper_id in AGENT_PAPERS:
        await say(core, f"like {paper_id}")
    await core.ratings.settle()
    clock.advance(hours=2)  # 09:00: both daily digests fall due in one wave
    assert await core.delivery.run_due() == 7
    [learned], [plain] = (adapter.by_channel[ctx.key.channel] for ctx in (CTX, other))
    assert [i.paper.id for i in learned.items] == ["2608.13210", "2608.20335", "2608.14022", "2608.19861"]
    assert [i.paper.id for i in plain.items] == ["2608.20335", "2608.14022", "2608.13210"]  # no ratings: upvotes


async def test_suggestions_setting_and_upvote_order_below_three_likes(core: Core) -> None:
    adapter = await ready(core)
    await say(core, "subscribe video")
    await say(core, "settings suggestions 0")
    for paper_id in AGENT_PAPERS[:2]:
        await say(core, f"like {paper_id}")
    assert "1 more 👍 and this channel's digests are ranked by its taste" in await say(core, f"dislike {AGENT_PAPERS[2]}")
    await say(core, "digest")
    [digest] = adapter.posted
    assert [i.paper.id for i in digest.items] == ["2608.20335", "2608.14022", "2608.13210"]  # upvotes


async def test_a_model_that_cannot_be_built_leaves_the_digest_in_upvote_order(
    core: Core, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from bot import relevance

    def broken(*args: object, **kwargs: object) -> None:
        raise MemoryError("no room for a vocabulary")

    adapter = await ready(core)
    await say(core, "subscribe video")
    for paper_id in AGENT_PAPERS:
        await say(core, f"like {paper_id}")
    monkeypatch.setattr(relevance.Corpus, "build", broken)
    with caplog.at_level(logging.ERROR):
        assert await say(core, "digest") == "Posted 3 papers."
    assert [i.paper.id for i in adapter.posted[0].items] == ["2608.20335", "2608.14022", "2608.13210"]
    assert "could not vectorise" in caplog.text and "console:local:console (1 channel) stay in upvote order" in caplog.text


async def test_taste_reports_and_reset_is_for_managers(core: Core) -> None:
    await ready(core)
    assert (await say(core, "taste")).startswith("No ratings here yet.")
    for paper_id in AGENT_PAPERS:
        await say(core, f"like {paper_id}")
    await say(core, "dislike 2608.20335")
    taste = await say(core, "taste", BOB)
    lines = taste.splitlines()
    assert lines[:2] == [
        "4 ratings here: 3 papers liked, 1 disliked (like: subscriptions count as liked).",
        "Digests are ranked by this taste, blended with upvotes.",
    ]
    assert lines[2].startswith("Pulls papers up: ") and "agents" in lines[2]
    assert lines[3].startswith("Pulls papers down: ")
    assert lines[4] == "Most liked:" and len(lines) == 8
    refused = await core.commands.handle(BOB, "taste reset")
    assert not refused.ok and "permission to manage this channel" in refused.text
    reset = await core.commands.handle(CTX, "taste reset")
    assert reset.text.startswith("Forgot this channel's 4 ratings") and reset.announcement == "reset this channel's taste"
    assert (await say(core, "taste")).startswith("No ratings here yet.")


async def test_weekly_digest_arrives_on_its_day_with_the_weeks_papers(core: Core, clock: VirtualTime) -> None:
    adapter = await ready(core)
    await say(core, "subscribe agent")
    assert await say(core, "mode weekly friday") == "Mode set to weekly: one digest a week, every Friday at 09:00 UTC."
    assert "every Friday at 09:00 UTC" in await say(core, "list")
    channel = await core.store.channel(KEY)
    assert channel is not None and channel.weekday == "friday"
    clock.advance(hours=3)  # Friday 10:00
    assert await core.delivery.run_due() == 6
    [digest] = adapter.posted
    assert digest.title == "Weekly Papers, Fri 21 Aug 2026: 6 papers for this channel"
    clock.advance(days=1)  # Saturday: the week's digest already ran
    assert await core.delivery.run_due() == 0
