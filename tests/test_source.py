"""The paper sources, against recorded API answers served offline through httpx.MockTransport."""

from __future__ import annotations

import copy
import json
import logging
import shutil
from collections.abc import Callable
from datetime import date
from pathlib import Path

import httpx
import pytest

from bot import __version__
from bot.source import (
    FileSource,
    HuggingFaceSource,
    SourceError,
    open_source,
    parse_items,
)

FIXTURES = Path(__file__).parent / "fixtures"
DAY_2026 = date(2026, 8, 21)
DAY_2024 = date(2024, 10, 25)


def recorded(name: str) -> list[dict]:
    return json.loads((FIXTURES / name).read_text())


Handler = Callable[[httpx.Request], httpx.Response]


class Sleeps(list[float]):
    """Records the delays asked for instead of waiting them."""

    async def __call__(self, delay: float) -> None:
        self.append(delay)


def source(handler: Handler, sleeps: Sleeps | None = None, **kwargs: object) -> HuggingFaceSource:
    return HuggingFaceSource(
        transport=httpx.MockTransport(handler),
        sleep=sleeps if sleeps is not None else Sleeps(),
        jitter=lambda: 0.5,
        **kwargs,
    )


def scripted(*answers: httpx.Response | Exception) -> tuple[Handler, list[httpx.Request]]:
    """A handler giving `answers` in order, and the requests it saw."""
    seen: list[httpx.Request] = []

    def handle(request: httpx.Request) -> httpx.Response:
        answer = answers[len(seen)]
        seen.append(request)
        if isinstance(answer, Exception):
            raise answer
        return answer

    return handle, seen


async def test_2026_schema() -> None:
    handle, seen = scripted(httpx.Response(200, json=recorded("2026-08-21.json")))
    papers = await source(handle).fetch_day(DAY_2026)

    assert len(papers) == 17
    assert seen[0].url.params["date"] == "2026-08-21"
    first = papers[0]
    assert first.id == "2608.19880"
    assert first.title == "EnvHarness: Awakening Static Worlds for Agent Learning"
    assert first.upvotes == 163
    assert first.featured_day == DAY_2026
    assert first.published_day == date(2026, 8, 20)
    assert first.ai_summary and first.ai_keywords
    assert first.github_repo == "https://github.com/google-research/envharness"
    assert first.github_stars == 8
    assert first.project_page == "https://envharness.com/"
    assert first.organization == "Google"
    assert len(first.authors) == 17
    by_id = {p.id: p for p in papers}
    assert by_id["2608.19861"].ai_summary is None
    assert by_id["2608.19861"].github_stars == 0
    assert by_id["2608.13120"].github_repo is None
    assert by_id["2608.18580"].organization == "university of science and technology of china"


async def test_2024_schema_takes_the_day_asked_for() -> None:
    handle, _ = scripted(httpx.Response(200, json=recorded("2024-10-25.json")))
    papers = await source(handle).fetch_day(DAY_2024)

    assert len(papers) == 25
    by_id = {p.id: p for p in papers}
    wrapped = by_id["2410.17243"]
    assert wrapped.title == (
        "Breaking the Memory Barrier: Near Infinite Batch Size Scaling for "
        "Contrastive Loss"
    )
    assert "\n" not in wrapped.abstract
    assert wrapped.upvotes == 39
    assert wrapped.featured_day == DAY_2024
    assert wrapped.published_day == date(2024, 10, 22)
    assert wrapped.ai_summary is None and wrapped.ai_keywords == ()
    assert wrapped.github_repo is None and wrapped.organization is None
    hidden = by_id["2410.17897"]
    assert hidden.authors == ("Tianyi Wu", "Zhiyun Jiang", "Zhenzhong Lan")


async def test_pages_while_a_full_page_comes_back() -> None:
    template = recorded("2026-08-21.json")[0]
    full = []
    for n in range(100):
        item = copy.deepcopy(template)
        item["paper"]["id"] = f"2608.{n:05d}"
        full.append(item)
    handle, seen = scripted(
        httpx.Response(200, json=full), httpx.Response(200, json=recorded("2026-08-21.json"))
    )
    papers = await source(handle).fetch_day(DAY_2026)

    assert [r.url.params["p"] for r in seen] == ["0", "1"]
    assert {r.url.params["limit"] for r in seen} == {"100"}
    assert len(papers) == 117


async def test_a_paper_on_two_pages_is_kept_once() -> None:
    day = recorded("2026-08-21.json")
    handle, _ = scripted(httpx.Response(200, json=day + day[:1]))
    papers = await source(handle).fetch_day(DAY_2026)
    assert [p.id for p in papers].count("2608.19880") == 1


async def test_headers_carry_token_and_user_agent() -> None:
    handle, seen = scripted(httpx.Response(200, json=[]))
    await source(handle, token="hf_secret").fetch_day(DAY_2026)
    assert seen[0].headers["Authorization"] == "Bearer hf_secret"
    assert seen[0].headers["User-Agent"] == f"paperboy/{__version__}"


async def test_no_token_no_authorization_header() -> None:
    handle, seen = scripted(httpx.Response(200, json=[]))
    assert await source(handle).fetch_day(DAY_2026) == []
    assert "Authorization" not in seen[0].headers


@pytest.mark.parametrize(
    ("fault", "reason"),
    [(httpx.ReadTimeout("slow"), "timeout"), (httpx.ConnectError("refused"), "connection error: refused")],
)
async def test_transport_fault_then_success(
    fault: Exception, reason: str, caplog: pytest.LogCaptureFixture
) -> None:
    sleeps = Sleeps()
    handle, seen = scripted(fault, httpx.Response(200, json=recorded("api_samples.json")))
    papers = await source(handle, sleeps, token="hf_secret").fetch_day(DAY_2026)

    assert len(papers) == 3 and len(seen) == 2
    assert sleeps == [2.5]  # BACKOFF * 2**0 + jitter
    assert f"{reason} for 2026-08-21 page 0 (attempt 1/4); retrying in 2.5 s" in caplog.text
    assert "hf_secret" not in caplog.text


async def test_429_honours_retry_after() -> None:
    sleeps = Sleeps()
    handle, _ = scripted(
        httpx.Response(429, headers={"Retry-After": "7"}), httpx.Response(200, json=[])
    )
    assert await source(handle, sleeps).fetch_day(DAY_2026) == []
    assert sleeps == [7.0]


async def test_retry_after_is_capped() -> None:
    sleeps = Sleeps()
    handle, _ = scripted(
        httpx.Response(503, headers={"Retry-After": "86400"}), httpx.Response(200, json=[])
    )
    await source(handle, sleeps).fetch_day(DAY_2026)
    assert sleeps == [300.0]


async def test_500_every_time_gives_up_with_backoff() -> None:
    sleeps = Sleeps()
    handle, seen = scripted(*[httpx.Response(500)] * 4)
    with pytest.raises(SourceError, match=r"^huggingface.co unreachable after 4 attempts .*HTTP 500$"):
        await source(handle, sleeps).fetch_day(DAY_2026)
    assert len(seen) == 4
    assert sleeps == [2.5, 4.5, 8.5]


async def test_400_is_not_retried() -> None:
    sleeps = Sleeps()
    handle, seen = scripted(httpx.Response(400, json={"error": "Invalid date"}))
    with pytest.raises(SourceError, match=r"^huggingface.co answered 400 for 2026-08-21: .*Invalid date"):
        await source(handle, sleeps).fetch_day(DAY_2026)
    assert len(seen) == 1 and sleeps == []


async def test_truncated_json_is_retried_then_fails() -> None:
    sleeps = Sleeps()
    body = (FIXTURES / "2026-08-21.json").read_bytes()[:5000]
    handle, seen = scripted(*[httpx.Response(200, content=body)] * 4)
    with pytest.raises(SourceError, match="malformed JSON"):
        await source(handle, sleeps).fetch_day(DAY_2026)
    assert len(seen) == 4 and len(sleeps) == 3


async def test_truncated_json_then_good_body() -> None:
    handle, _ = scripted(
        httpx.Response(200, content=b'[{"paper": {"id"'),
        httpx.Response(200, json=recorded("2026-08-21.json")),
    )
    assert len(await source(handle).fetch_day(DAY_2026)) == 17


async def test_endless_full_pages_give_up(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("bot.source.MAX_ITEMS_PER_DAY", 250)
    page = [recorded("2026-08-21.json")[0]] * 100
    source_ = source(lambda request: httpx.Response(200, json=page))
    with pytest.raises(SourceError, match="more than 250 papers"):
        await source_.fetch_day(DAY_2026)


async def test_item_missing_title_is_skipped(caplog: pytest.LogCaptureFixture) -> None:
    items = recorded("2026-08-21.json")
    del items[1]["paper"]["title"]
    handle, _ = scripted(httpx.Response(200, json=items))
    with caplog.at_level(logging.WARNING):
        papers = await source(handle).fetch_day(DAY_2026)
    assert len(papers) == 16
    assert "2608.18580" not in {p.id for p in papers}
    assert "skipping paper 2608.18580: no title" in caplog.text


async def test_aclose_releases_the_connection_pool() -> None:
    handle, _ = scripted(httpx.Response(200, json=[]))
    live = source(handle)
    await live.fetch_day(date(2026, 8, 21))
    await live.aclose()
    with pytest.raises(RuntimeError, match="client has been closed"):
        await live.fetch_day(date(2026, 8, 21))


def sample(**paper: object) -> dict:
    """One minimal 2026-schema item with `paper` fields overridden (None deletes one)."""
    fields = {
        "id": "2608.00001",
        "title": "A title",
        "summary": "An abstract.",
        "authors": [{"name": "Ada"}],
        "upvotes": 3,
        "submittedOnDailyAt": "2026-08-21T00:00:00.000Z",
        "publishedAt": "2026-08-19T00:00:00.000Z",
    }
    fields.update(paper)
    return {
        "paper": {k: v for k, v in fields.items() if v is not None},
        "publishedAt": "2026-08-18T20:00:00.000Z",
        "organization": {"name": "outer-org"},
    }


def test_parse_strips_version_and_reads_paper_dates_not_outer_ones() -> None:
    [paper] = parse_items([sample(id="2608.00001v3")], None)
    assert paper.id == "2608.00001"
    assert paper.published_day == date(2026, 8, 19)
    assert paper.organization == "outer-org"


def test_parse_defaults_and_skips(caplog: pytest.LogCaptureFixture) -> None:
    items = [
        sample(id="2608.00001", upvotes=None),
        sample(id="2608.00002", upvotes="many"),
        sample(id="../../x"),
        sample(id="2608.00003", submittedOnDailyAt=None),
        "not an item",
        sample(id="2608.00004", githubRepo="javascript:alert(1)", githubStars=True),
    ]
    with caplog.at_level(logging.WARNING):
        papers = parse_items(items, None)
    assert [p.id for p in papers] == ["2608.00001", "2608.00004"]
    assert papers[0].upvotes == 0
    assert papers[1].github_repo is None and papers[1].github_stars is None
    assert "skipping paper 2608.00002: upvotes is not a count from 0 to 1,000,000,000" in caplog.text
    assert "skipping paper 2608.00003: no featured day" in caplog.text
    assert "../../x" not in caplog.text


def test_parse_rejects_a_non_list() -> None:
    with pytest.raises(SourceError, match="got a dict"):
        parse_items({"error": "nope"}, DAY_2026)


async def test_file_source_serves_every_day_in_the_file(caplog: pytest.LogCaptureFixture) -> None:
    samples = FileSource(FIXTURES / "api_samples.json")
    # The 2024 item has no featured day and the file name none to lend it: it is skipped.
    assert "skipping paper 2410.17243: no featured day" in caplog.text
    assert samples.current_days(date(2030, 1, 1)) == [date(2026, 6, 12), DAY_2026]
    assert [p.id for p in await samples.fetch_day(DAY_2026)] == ["2608.20335"]
    assert [p.id for p in await samples.fetch_day(date(2026, 6, 12))] == ["2606.00467"]
    assert await samples.fetch_day(DAY_2024) == []


async def test_file_source_dates_old_items_from_the_file_name() -> None:
    old = FileSource(FIXTURES / "2024-10-25.json")
    assert old.current_days(date(2030, 1, 1)) == [DAY_2024]
    assert len(await old.fetch_day(DAY_2024)) == 25
    await old.aclose()


def test_file_source_broken_file(tmp_path: Path) -> None:
    broken = tmp_path / "day.json"
    broken.write_text('[{"paper": ')
    with pytest.raises(SourceError, match="cannot read"):
        FileSource(broken)


async def test_folder_source(tmp_path: Path) -> None:
    shutil.copy(FIXTURES / "2026-08-21.json", tmp_path)
    folder = FileSource(tmp_path)
    assert folder.current_days(date(2026, 8, 22)) == [date(2026, 8, 22), DAY_2026]
    assert len(await folder.fetch_day(DAY_2026)) == 17
    assert await folder.fetch_day(date(2026, 8, 22)) == []


async def test_open_source(tmp_path: Path) -> None:
    live = open_source("https://huggingface.co/api/daily_papers", "t")
    assert isinstance(live, HuggingFaceSource)
    await live.aclose()
    assert isinstance(open_source(str(FIXTURES / "2026-08-21.json")), FileSource)
    assert isinstance(open_source(str(tmp_path)), FileSource)
    missing = str(tmp_path / "nope")
    with pytest.raises(ValueError, match=f"PAPERBOY_SOURCE must be an http.*{missing} does not exist"):
        open_source(missing)


async def test_fetch_paper_reads_one_paper_by_id_with_retries() -> None:
    flat = recorded("api_samples.json")[0]["paper"]
    handle, seen = scripted(
        httpx.Response(503), httpx.Response(200, json=flat),  # a retried fault, then the paper
        httpx.Response(404, json={"error": "Paper not found"}),
    )
    sleeps = Sleeps()
    hf = source(handle, sleeps)
    paper = await hf.fetch_paper("2608.20335")
    assert paper is not None and paper.id == "2608.20335" and paper.title.startswith("4DAnyone")
    assert seen[1].url == "https://huggingface.co/api/papers/2608.20335" and sleeps == [2.5]
    assert await hf.fetch_paper("2608.99999") is None  # unknown: no error


async def test_fetch_paper_gives_up_with_one_line_when_unreachable() -> None:
    handle, _ = scripted(*[httpx.Response(500)] * 4)
    with pytest.raises(SourceError, match=r"^huggingface.co unreachable after 4 attempts for paper 2608.20335: HTTP 500$"):
        await source(handle).fetch_paper("2608.20335")


async def test_file_source_finds_a_paper_in_its_recorded_days(tmp_path: Path) -> None:
    for name in ("2024-10-25.json", "2026-08-21.json"):
        shutil.copy(FIXTURES / name, tmp_path / name)
    folder = FileSource(tmp_path)
    assert (await folder.fetch_paper("2608.19880")).featured_day == DAY_2026  # type: ignore[union-attr]
    assert await folder.fetch_paper("2608.99999") is None
    assert (await FileSource(FIXTURES / "2026-08-21.json").fetch_paper("2608.19880")) is not None
