"""Slack rendering: digests and replies in Block Kit, within Slack's limits, with paper text inert."""

from __future__ import annotations

import json
import re
from datetime import date
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from slack_sdk.models.blocks import Block

from adapters.slack.render import (
    HEADER_CHARS,
    LIMITS,
    MAX_BLOCKS,
    MESSAGE_CHARS,
    SECTION_CHARS,
    SlackMessage,
    escape,
    render_digest,
    render_note,
    render_reply,
)
from bot.models import Digest, DigestItem, Paper, Reason, Reply
from bot.source import parse_items
from tests.fakes.slack_api import controls, shown

FIXTURES = Path(__file__).parent / "fixtures"
DAY = date(2026, 8, 21)
EVIL = "<!channel> @here <https://evil|click>"


def recorded() -> list[Paper]:
    return parse_items(json.loads((FIXTURES / "2026-08-21.json").read_text()), DAY)


def item(paper: Paper, *words: str) -> DigestItem:
    return DigestItem(paper, (Reason(1, " OR ".join(words) or "x", words),))


def paper(**fields: object) -> Paper:
    base: dict[str, object] = {
        "id": "2608.00001", "title": "A paper", "abstract": "It works. More text.", "authors": ("Ada",),
        "upvotes": 3, "featured_day": DAY,
    }
    return Paper(**{**base, **fields})  # type: ignore[arg-type]


def assert_within_limits(message: SlackMessage) -> None:
    """What Slack would accept: block count, total size, and each block valid per slack_sdk's models."""
    assert 1 <= len(message.blocks) <= MAX_BLOCKS
    assert len(json.dumps(list(message.blocks), ensure_ascii=False)) <= MESSAGE_CHARS
    assert message.text and len(message.text) <= SECTION_CHARS
    for raw in message.blocks:
        block = Block.parse(raw)
        assert block is not None
        block.validate_json()  # raises on text too long, too many elements, ...
        assert block.to_dict() == raw
        for text in _text_objects(raw):
            assert text["type"] == "plain_text" or text.get("verbatim") is True


def _text_objects(block: dict[str, Any]) -> list[dict[str, Any]]:
    found = [block["text"]] if isinstance(block.get("text"), dict) else []
    return found + [e for e in block.get("elements", []) if isinstance(e, dict) and e.get("type") in ("plain_text", "mrkdwn")]


def test_limits_are_declared_as_data() -> None:
    assert LIMITS.text_chars == 3000 and LIMITS.chars_per_message == 12_000
    assert LIMITS.items_per_message < MAX_BLOCKS


def test_digest_header_and_paper_as_a_reader_sees_them() -> None:
    papers = {p.id: p for p in recorded()}
    top = papers["2608.19880"]
    digest = Digest("Daily Papers, Fri 21 Aug 2026: 6 papers for this channel", (item(top, "agent", "agents"),))
    [message] = render_digest(digest)
    assert_within_limits(message)
    header, section, buttons = message.blocks
    assert buttons == {
        "type": "actions",
        "elements": [
            {"type": "button", "text": {"type": "plain_text", "text": "👍", "emoji": True},
             "action_id": "pb:+:2608.19880", "value": "2608.19880"},
            {"type": "button", "text": {"type": "plain_text", "text": "👎", "emoji": True},
             "action_id": "pb:-:2608.19880", "value": "2608.19880"},
        ],
    }
    assert header == {"type": "header", "text": {"type": "plain_text", "text": digest.title, "emoji": False}}
    assert message.text == digest.title
    text = shown([section])
    assert text.splitlines() == [
        "1. EnvHarness: Awakening Static Worlds for Agent Learning",
        "Chengsong Huang, Zifeng Wang, Rujun Han et al. (+14) · 163 upvotes · 8 GitHub stars",
        top.tldr,
        "Matched: agent, agents (#1)",
        "HF · arXiv · PDF · Code · Project",
    ]
    assert "Matched: agent, agents (#1)" in section["text"]["text"]  # the words, and the subscription
    assert controls([section]) == [
        "https://huggingface.co/papers/2608.19880",
        "https://huggingface.co/papers/2608.19880",
        "https://arxiv.org/abs/2608.19880",
        "https://arxiv.org/pdf/2608.19880",
        top.github_repo,
        top.project_page,
    ]


def test_tldr_falls_back_to_first_sentence_and_stars_only_when_linked() -> None:
    plain = paper(abstract="We study cats. Then dogs.", ai_summary=None, upvotes=1, project_page="https://cats.example/")
    [message] = render_digest(Digest("t", (item(plain),)))
    lines = shown([message.blocks[1]]).splitlines()
    assert lines[1] == "Ada · 1 upvote"
    assert lines[2] == "We study cats."
    assert lines[3:] == ["Matched: #1", "HF · arXiv · PDF · Project"]


def test_hostile_paper_is_inert() -> None:
    hostile = paper(
        title=EVIL,
        authors=("<@U123ABC>", "Eve & <#C0GENERAL>"),
        ai_summary="Visit https://evil.example now <!everyone> *bold* &amp;",
        github_repo="https://github.com/x|<!channel>",
        project_page="javascript:alert(1)",
    )
    [message] = render_digest(Digest("Daily Papers", (item(hostile, "<!here>"),), more=2, more_url="https://huggingface.co/papers/date/2026-08-21"))
    assert_within_limits(message)
    # Slack acts only on <...> sequences: the only ones left are our own links.
    assert controls(list(message.blocks)) == [
        "https://huggingface.co/papers/2608.00001",
        "https://huggingface.co/papers/2608.00001",
        "https://arxiv.org/abs/2608.00001",
        "https://arxiv.org/pdf/2608.00001",
        "https://huggingface.co/papers/date/2026-08-21",
    ]
    text = shown(list(message.blocks))
    assert f"1. {EVIL}" in text  # shown literally, as typed
    assert "<@U123ABC>, Eve & <#C0GENERAL>" in text
    assert "Visit https://evil.example now <!everyone> \u2217bold\u2217 &amp;" in text  # a look-alike: not bold
    assert "…and 2 more matches on Hugging Face Daily Papers" in text
    raw = json.dumps(message.blocks)
    assert "<!channel>" not in raw and "<!here>" not in raw and "<@U123ABC>" not in raw


def test_long_digest_threads_in_parts_numbered_the_same_every_time() -> None:
    long_tldr = "word " * 130
    papers = [paper(id=f"2608.{n:05d}", title=f"Paper {n}", ai_summary=long_tldr, upvotes=100 - n) for n in range(50)]
    digest = Digest("Daily Papers, Fri 21 Aug 2026: 60 papers for this channel", tuple(item(p, "w") for p in papers),
                    more=10, more_url="https://huggingface.co/papers/date/2026-08-21")
    parts = render_digest(digest)
    assert len(parts) > 2
    assert parts == render_digest(digest)  # deterministic, so a resumed send finds the same parts
    for part in parts:
        assert_within_limits(part)
    assert parts[0].blocks[0]["type"] == "header"
    assert all(b["type"] != "header" for part in parts[1:] for b in part.blocks)
    numbers = [int(m) for part in parts for m in re.findall(r"^(\d+)\. ", shown(list(part.blocks)), re.M)]
    assert numbers == list(range(1, 51))
    assert parts[0].text == f"{digest.title} (part 1 of {len(parts)})"
    assert "…and 10 more matches" in shown(list(parts[-1].blocks))


def test_header_is_clipped_to_block_kit_limit() -> None:
    [message] = render_digest(Digest("T" * 400, (item(paper()),)))
    assert_within_limits(message)
    assert len(message.blocks[0]["text"]["text"]) == HEADER_CHARS


_text = st.text(st.characters(codec="utf-8"), max_size=400) | st.sampled_from(
    [EVIL, "&&&&<<<>>>" * 200, "https://x.example/<|>", "*_~`" * 50]
)
_url = st.none() | _text | st.sampled_from(
    ["https://github.com/a/b", "http://x.example/?a=1&b=2", "javascript:x", "https://a|b"]
)


@st.composite
def papers(draw: st.DrawFn, number: int) -> Paper:
    return paper(
        id=f"2608.{number:05d}",
        title=draw(_text),
        abstract=draw(_text),
        authors=tuple(draw(st.lists(_text, max_size=6))),
        upvotes=draw(st.integers(0, 10**6)),
        ai_summary=draw(st.none() | _text),
        github_repo=draw(_url),
        github_stars=draw(st.none() | st.integers(0, 10**6)),
        project_page=draw(_url),
    )


@st.composite
def digests(draw: st.DrawFn) -> Digest:
    count = draw(st.integers(1, 50))
    items = tuple(DigestItem(draw(papers(n)), (Reason(1, "q", tuple(draw(st.lists(_text, max_size=4)))),))
                  for n in range(count))
    return Digest(draw(_text) or "Daily Papers", items, more=draw(st.integers(0, 100)),
                  more_url="https://huggingface.co/papers/date/2026-08-21")


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(digests())
@example(Digest(" \n\t", (DigestItem(paper(), (Reason(1, "q", ()),)),)))  # a blank title once rendered an empty header
def test_any_digest_fits_block_kit_and_links_only_where_we_link(digest: Digest) -> None:
    parts = render_digest(digest)
    assert parts[0].text.strip() and parts[0].blocks[0]["text"]["text"].strip()
    ours = {"https://huggingface.co/papers/date/2026-08-21"}
    for entry in digest.items:
        ours.update(url.replace("&", "&amp;") for _, url in entry.paper.links())
    for part in parts:
        assert_within_limits(part)
        for control in controls(list(part.blocks)):
            assert control in ours
    assert sum(1 for part in parts for b in part.blocks if b["type"] == "section") == len(digest.items)


def test_reply_text_escaped_and_split() -> None:
    lines = [f"#{n}  {'<q> & ' * 60}  (by <@U0ADA>, 2026-08-21)" for n in range(25)]
    reply = Reply("\n".join([*lines, "Paused: by ada. /papers resume restarts it."]))
    messages = render_reply(reply)
    for message in messages:
        assert_within_limits(message)
    text = shown([b for m in messages for b in m.blocks])
    assert "/papers resume restarts it" in text
    assert "<q> & <q>" in text and "(by <@U0ADA>, 2026-08-21)" in text
    assert controls([b for m in messages for b in m.blocks]) == []


def test_reply_with_papers_numbers_them() -> None:
    found = recorded()[:3]
    [message] = render_reply(Reply("3 papers match agent:", items=tuple(item(p, "agent") for p in found)))
    assert_within_limits(message)
    assert shown([message.blocks[0]]) == "3 papers match agent:"
    titles = [f"{n}. {' '.join(p.title.split())}" for n, p in enumerate(found, 1)]
    assert [shown([b]).splitlines()[0] for b in message.blocks[1:]] == titles


def test_note_names_who_and_escapes_what() -> None:
    note = render_note("U0ADA", 'subscribed this channel to #1: "<!channel>" & diffusion')
    assert controls(list(note.blocks)) == ["@U0ADA"]
    assert shown(list(note.blocks)) == '@U0ADA subscribed this channel to #1: "<!channel>" & diffusion'
    assert note.text == "<@U0ADA> subscribed this channel to #1: \"&lt;!channel&gt;\" &amp; diffusion"


def test_escape_clips_without_cutting_an_entity() -> None:
    assert escape("a<b&c>d") == "a&lt;b&amp;c&gt;d"
    assert escape("<<<<", 10) == "&lt;&lt;…"
    assert escape("abc", 3) == "abc"
