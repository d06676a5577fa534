"""Digests and replies as Discord messages: limits, escaping, links, and a split that never changes."""

from __future__ import annotations

import json
import re
from datetime import date
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.discord.render import LIMITS, announcement, digest_parts, escape, fit, paper_embed, reply_parts
from bot.models import Digest, DigestItem, Paper, Reason, Reply
from bot.source import parse_items

FIXTURES = Path(__file__).parent / "fixtures"
DAY = date(2026, 8, 21)


def recorded_items(count: int) -> tuple[DigestItem, ...]:
    papers = parse_items(json.loads((FIXTURES / "2026-08-21.json").read_text()), DAY)[:count]
    return tuple(DigestItem(p, (Reason(3, "diffusion OR agents", ("diffusion",)),)) for p in papers)


def seen(text: str) -> str:
    """What Discord shows for escaped markdown: the backslashes disappear."""
    return re.sub(r"\\(.)", r"\1", text)


def paper(**changes: object) -> Paper:
    base = Paper(
        id="2608.00001", title="A Title", abstract="First sentence. Second one.", authors=("Ada", "Alan"),
        upvotes=12, featured_day=DAY,
    )
    return Paper(**{**{f: getattr(base, f) for f in base.__slots__}, **changes})  # type: ignore[arg-type]


def embed_limits_hold(embed: dict[str, Any]) -> bool:
    return (
        len(embed.get("title", "")) <= 256
        and len(embed.get("description", "")) <= 4096
        and len(embed.get("fields", [])) <= 25
        and all(len(f["name"]) <= 256 and 0 < len(f["value"]) <= 1024 for f in embed.get("fields", []))
        and len(embed.get("footer", {}).get("text", "")) <= 2048
    )


def test_a_paper_is_one_embed_titled_and_linked_to_its_own_page() -> None:
    item = recorded_items(1)[0]
    embed = paper_embed(item).to_dict()
    p = item.paper
    assert embed["title"] == " ".join(p.title.split())
    assert embed["url"] == f"https://huggingface.co/papers/{p.id}"
    assert embed["description"].startswith(p.tldr)
    assert f"[arXiv](https://arxiv.org/abs/{p.id})" in embed["description"]
    assert f"[PDF](https://arxiv.org/pdf/{p.id})" in embed["description"]
    fields = {f["name"]: f["value"] for f in embed["fields"]}
    assert fields["Authors"] == p.short_authors()
    assert fields["Upvotes"] == f"▲ {p.upvotes:,}"
    assert fields["Matched"] == "diffusion (#3)"
    assert p.id in embed["footer"]["text"]


def test_summary_falls_back_to_the_abstracts_first_sentence_and_stars_show_when_known() -> None:
    embed = paper_embed(DigestItem(paper(github_repo="https://github.com/a/b", github_stars=1234), ())).to_dict()
    assert embed["description"].splitlines()[0] == "First sentence."
    assert "[Code](https://github.com/a/b)" in embed["description"]
    assert {"name": "GitHub stars", "value": "★ 1,234", "inline": True} in embed["fields"]


def test_titles_cannot_ping_format_or_hide_links() -> None:
    title = "@everyone look <@123456789012345678> **bold** [free](https://evil.example) `code`"
    embed = paper_embed(DigestItem(paper(title=title), ())).to_dict()
    assert "@everyone" not in embed["title"]
    assert "<@123456789012345678>" not in embed["title"]
    assert not re.search(r"(?<!\\)[*`\[]", embed["title"])  # every *, ` and [ is escaped
    assert seen(embed["title"]).replace("\u200b", "") == title  # a reader sees the text as written


def test_links_from_paper_data_must_be_plain_http_urls() -> None:
    hostile = paper(github_repo="javascript:alert(1)", project_page="https://ok.example/x) [evil](https://e.example")
    description = paper_embed(DigestItem(hostile, ())).to_dict()["description"]
    assert "Code" not in description and "Project" not in description and "evil" not in description


def test_a_long_digest_splits_into_messages_of_ten_embeds_with_the_title_first_and_more_last() -> None:
    digest = Digest("Daily Papers, Fri 21 Aug 2026: 30 papers", recorded_items(12), more=18,
                    more_url="https://huggingface.co/papers/date/2026-08-21")
    parts = digest_parts(digest)
    assert [len(p.embeds) for p in parts] == [10, 2]
    assert parts[0].content == "**Daily Papers, Fri 21 Aug 2026: 30 papers**"
    assert parts[1].content == "…and 18 more: <https://huggingface.co/papers/date/2026-08-21>"
    urls = [e.url for p in parts for e in p.embeds]
    assert urls == [i.paper.hf_url for i in digest.items] and len(set(urls)) == 12


def test_a_short_digest_is_one_message_with_its_more_line() -> None:
    parts = digest_parts(Digest("Daily Papers", recorded_items(2), more=1, more_url=None))
    assert len(parts) == 1 and parts[0].content == "**Daily Papers**\n…and 1 more"


_text = st.text(st.characters(codec="utf-8"), max_size=700)
_papers = st.builds(
    Paper,
    id=st.from_regex(r"2[0-9]{3}\.[0-9]{5}", fullmatch=True),
    title=_text,
    abstract=_text,
    authors=st.lists(st.text(max_size=300), max_size=8).map(tuple),
    upvotes=st.integers(0, 10**6),
    featured_day=st.just(DAY),
    ai_summary=st.none() | _text,
    github_repo=st.none() | _text | st.just("https://github.com/" + "x" * 400),
    github_stars=st.none() | st.integers(0, 10**6),
    project_page=st.none() | st.just("https://" + "p" * 480 + ".example"),
)
_items = st.builds(
    DigestItem, _papers,
    st.lists(st.builds(Reason, st.integers(1, 10**6), _text, st.lists(_text, max_size=4).map(tuple)),
             max_size=6).map(tuple),
)
_digests = st.builds(Digest, _text, st.lists(_items, max_size=50).map(tuple), st.integers(0, 500), st.none() | _text)


@settings(max_examples=60, deadline=None)
@given(_digests)
def test_every_digest_fits_discords_limits_and_splits_the_same_way_twice(digest: Digest) -> None:
    parts = digest_parts(digest)
    again = digest_parts(digest)
    assert [(p.content, [e.to_dict() for e in p.embeds]) for p in parts] == [
        (p.content, [e.to_dict() for e in p.embeds]) for p in again
    ]
    assert sum(len(p.embeds) for p in parts) == len(digest.items)
    for part in parts:
        assert part.content or part.embeds
        assert len(part.content or "") <= LIMITS.text_chars
        assert len(part.embeds) <= LIMITS.items_per_message
        assert sum(len(e) for e in part.embeds) <= LIMITS.chars_per_message
        assert all(embed_limits_hold(dict(e.to_dict())) for e in part.embeds)


@settings(max_examples=200, deadline=None)
@given(_text, st.integers(1, 300))
def test_fit_escapes_and_never_exceeds_the_limit(text: str, limit: int) -> None:
    fitted = fit(text, limit)
    assert len(fitted) <= limit
    if len(escape(text)) <= limit:
        assert fitted == escape(text)
    assert not re.search(r"@(everyone|here)", fitted)


def test_replies_split_on_lines_within_2000_characters_and_carry_papers() -> None:
    text = "\n".join(f"#{n}  query number {n} " + "x" * 80 for n in range(60))
    parts = reply_parts(Reply(text, items=recorded_items(3)))
    assert len(parts) > 1 and all(len(p.content or "") <= 2000 for p in parts)
    assert "\n".join(seen(p.content or "") for p in parts) == text
    assert len(parts[-1].embeds) == 3


def test_announcements_name_who_and_escape_the_rest() -> None:
    assert announcement("<@42>", "subscribed this channel to #1: @everyone *x*") == (
        "<@42> subscribed this channel to #1: @\u200beveryone \\*x\\*"
    )
