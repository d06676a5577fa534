"""A hostile or broken Daily Papers source: one bad item, body or day never costs the rest."""

from __future__ import annotations

import asyncio
import json
import logging
import zlib
from collections.abc import AsyncIterator, Sequence
from datetime import date, timedelta
from pathlib import Path

import httpx
import pytest

from bot.core import Core
from bot.source import MAX_BODY_BYTES, MAX_ITEMS_PER_DAY, FileSource, HuggingFaceSource, SourceError, parse_items
from tests.support import MemoryAdapter
from tests.test_core import CTX
from tests.test_source import DAY_2026, Sleeps, recorded, sample

DEEP = b"[" * 5000 + b"]" * 5000


def test_huge_counts_skip_the_item_or_drop_the_stars(caplog: pytest.LogCaptureFixture) -> None:
    items = [
        sample(id="2608.00001", upvotes=10**30),
        sample(id="2608.00002", upvotes=-1),
        sample(id="2608.00003", githubStars=10**30),
        sample(id="2608.00004", upvotes=7),
    ]
    with caplog.at_level(logging.WARNING):
        papers = parse_items(items, DAY_2026)
    assert [(p.id, p.upvotes, p.github_stars) for p in papers] == [("2608.00003", 3, None), ("2608.00004", 7, None)]
    assert "skipping paper 2608.00001: upvotes is not a count from 0 to 1,000,000,000" in caplog.text


async def test_huge_counts_from_the_source_are_stored_without_overflow(core: Core, days_dir: Path) -> None:
    (days_dir / "2026-08-21.json").write_text(
        json.dumps([sample(id="2608.00001", upvotes=10**30), sample(id="2608.00002", githubStars=10**30)])
    )
    assert (await core.fetch([DAY_2026]))[DAY_2026] == 1


def test_deeply_nested_file_is_one_line_source_error(tmp_path: Path) -> None:
    deep = tmp_path / "deep.json"
    deep.write_bytes(DEEP)
    with pytest.raises(SourceError, match=r"cannot read .*deep.json: JSON nested too deep"):
        FileSource(deep)


class Broken:
    """A source whose fetch of `bad` raises `error` (as any bug or hostile body might)."""

    def __init__(self, good: FileSource, bad: date, error: Exception) -> None:
        self.good, self.bad, self.error = good, bad, error

    async def fetch_day(self, day: date) -> list:
        if day == self.bad:
            raise self.error
        return await self.good.fetch_day(day)

    def current_days(self, today: date) -> list[date]:
        return [today - timedelta(days=1), today]

    async def aclose(self) -> None:
        return None


@pytest.mark.parametrize("error", [RecursionError("maximum recursion depth exceeded"), OverflowError("int too big")])
async def test_a_day_that_raises_anything_is_logged_and_the_poll_goes_on(
    core: Core, days_dir: Path, error: Exception, caplog: pytest.LogCaptureFixture
) -> None:
    core.source = Broken(FileSource(days_dir), date(2026, 8, 20), error)
    adapter = MemoryAdapter("console")
    core.delivery.attach({adapter.platform: adapter})
    await core.commands.handle(CTX, "/papers subscribe agent")
    await core.commands.handle(CTX, "/papers mode instant")
    with caplog.at_level(logging.ERROR):
        counts = await core.poll()
    assert counts == {DAY_2026: 17}
    assert len(adapter.posted) == 1  # the instant delivery still ran
    [record] = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert record.getMessage() == f"could not fetch 2026-08-20, will try again at the next poll: {type(error).__name__}: {error}"
    assert record.exc_info is None


# The live source: size, count and time limits


def live(handler, **kwargs: object) -> HuggingFaceSource:  # type: ignore[no-untyped-def]
    return HuggingFaceSource(transport=httpx.MockTransport(handler), sleep=Sleeps(), jitter=lambda: 0.0, **kwargs)


def gzip_bomb(size: int) -> bytes:
    """`size` bytes of a JSON list's filling, gzipped to a body a thousand times smaller."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    chunk = b" " * (1 << 20)
    parts = [packer.compress(b"[")]
    parts += [packer.compress(chunk) for _ in range(size >> 20)]
    return b"".join([*parts, packer.compress(b"]"), packer.flush()])


async def test_gzip_bomb_is_refused_at_the_decompressed_cap() -> None:
    body = gzip_bomb(MAX_BODY_BYTES + (1 << 20))
    assert len(body) < MAX_BODY_BYTES // 100
    seen: list[httpx.Request] = []

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, content=body, headers={"Content-Encoding": "gzip"})

    with pytest.raises(SourceError, match=r"sent more than 16 MB for 2026-08-21"):
        await live(handle).fetch_day(DAY_2026)
    assert len(seen) == 1  # a body that big is not asked for again


class Endless(httpx.AsyncByteStream):
    """A body that never ends: 1 MB chunks, counted as they are read."""

    def __init__(self) -> None:
        self.read = 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        yield b"["
        while True:
            self.read += 1
            yield b" " * (1 << 20)


async def test_endless_body_is_read_only_up_to_the_cap() -> None:
    stream = Endless()
    with pytest.raises(SourceError, match="sent more than 16 MB"):
        await live(lambda request: httpx.Response(200, stream=stream)).fetch_day(DAY_2026)
    assert stream.read <= MAX_BODY_BYTES >> 20


async def test_server_ignoring_the_page_limit_stops_at_the_item_cap() -> None:
    page = [recorded("2026-08-21.json")[0]] * 300
    seen: list[httpx.Request] = []

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=page)

    with pytest.raises(SourceError, match=f"sent more than {MAX_ITEMS_PER_DAY:,} papers for 2026-08-21"):
        await live(handle).fetch_day(DAY_2026)
    assert len(seen) == MAX_ITEMS_PER_DAY // 300 + 1


class Drip(httpx.AsyncByteStream):
    """A body that sends one byte and then nothing, each read well inside the per-read timeout."""

    async def __aiter__(self) -> AsyncIterator[bytes]:
        yield b"["
        await asyncio.Event().wait()


async def test_dripping_body_hits_the_total_deadline_and_is_retried(caplog: pytest.LogCaptureFixture) -> None:
    answers: Sequence[httpx.Response] = [httpx.Response(200, stream=Drip()), httpx.Response(200, json=[sample()])]
    calls: list[int] = []

    def handle(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        return answers[len(calls) - 1]

    with caplog.at_level(logging.WARNING):
        papers = await live(handle, deadline=0.01).fetch_day(DAY_2026)
    assert [p.id for p in papers] == ["2608.00001"]
    assert "no complete answer within 0.01 s for 2026-08-21 page 0 (attempt 1/4)" in caplog.text


async def test_deeply_nested_body_is_one_source_error() -> None:
    with pytest.raises(SourceError, match="JSON nested too deep"):
        await live(lambda request: httpx.Response(200, content=DEEP)).fetch_day(DAY_2026)
