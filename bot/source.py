"""Where papers come from: the Hugging Face Daily Papers API, or recorded JSON for offline runs.

Both sources share `parse_items`, which reads the API's item shape defensively: one bad
item is skipped with a warning so it never costs the rest of the day.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import re
from collections.abc import Awaitable, Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Protocol

import httpx

from bot import __version__
from bot.backoff import Backoff, parse_retry_after
from bot.models import Paper, one_line

log = logging.getLogger(__name__)

DEFAULT_URL = "https://huggingface.co/api/daily_papers"
PAGE_SIZE = 100
MAX_ITEMS_PER_DAY = 2_000  # far past any real day (about 100), so only a broken server gets here
MAX_BODY_BYTES = 16 << 20  # decompressed; a real page of 100 papers is under 1 MB
DEADLINE = 60.0  # seconds for one whole request, body included: the client's timeout is per read
MAX_COUNT = 1_000_000_000  # upvotes and stars past this are garbage, and would overflow SQLite's int64

_VERSION = re.compile(r"v\d+$")
_SAFE_ID = re.compile(r"[A-Za-z0-9._-]+")
_ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


class SourceError(Exception):
    """The source could not give a day; the message is one line saying what failed."""


class _Transient(Exception):
    """A fault worth retrying; `retry_after` is the server's requested wait, if any."""

    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.retry_after = retry_after


class Source(Protocol):
    async def fetch_day(self, day: date) -> list[Paper]:
        """The papers featured on `day`; raises SourceError when the source cannot tell."""

    def current_days(self, today: date) -> list[date]:
        """The days a poll should fetch now."""

    async def fetch_paper(self, paper_id: str) -> Paper | None:
        """One paper by its arXiv id, featured or not; None when the source does not know it.

        Raises SourceError when the source cannot tell."""

    async def aclose(self) -> None:
        """Release connections; called once on shutdown."""


class HuggingFaceSource:
    """The live API, retried with backoff because the CDN and rate limits fail transiently."""

    def __init__(
        self,
        url: str = DEFAULT_URL,
        token: str | None = None,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: float = 20.0,
        deadline: float = DEADLINE,
        attempts: int = 4,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        headers = {"User-Agent": f"paperboy/{__version__}", "Accept": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self._client = httpx.AsyncClient(
            headers=headers, timeout=timeout, transport=transport, follow_redirects=True
        )
        self._url = url
        self._deadline = deadline
        self._papers_url = url.rstrip("/").rsplit("/", 1)[0] + "/papers"  # .../api/daily_papers -> .../api/papers
        self._host = httpx.URL(url).host or url
        self._attempts = max(1, attempts)
        self._sleep = sleep
        self._backoff = Backoff(draw=jitter)

    def current_days(self, today: date) -> list[date]:
        """Today's list still grows and yesterday's upvotes still move, so poll both."""
        return [today, today - timedelta(days=1)]

    async def fetch_day(self, day: date) -> list[Paper]:
        items: list[object] = []
        page = 0
        while True:
            batch = await self._get_page(day, page)
            items.extend(batch)
            if len(items) > MAX_ITEMS_PER_DAY:
                raise SourceError(f"{self._host} sent more than {MAX_ITEMS_PER_DAY:,} papers for {day}")
            if len(batch) < PAGE_SIZE:
                return parse_items(items, day)
            page += 1

    async def aclose(self) -> None:
        await self._client.aclose()

    async def fetch_paper(self, paper_id: str) -> Paper | None:
        """One paper by its arXiv id (`GET /api/papers/{id}`), daily list or not; None when unknown."""
        if not _SAFE_ID.fullmatch(paper_id):
            return None
        data = await self._get(f"paper {paper_id}", f"{self._papers_url}/{paper_id}", {}, missing_ok=True)
        return None if data is None else parse_paper(data, paper_id)

    async def _get_page(self, day: date, page: int) -> list[object]:
        params = {"date": day.isoformat(), "limit": PAGE_SIZE, "p": page}
        data = await self._get(str(day), self._url, params, page=f" page {page}")
        assert isinstance(data, list)
        return data

    async def _get(
        self, what: str, url: str, params: dict[str, object], missing_ok: bool = False, page: str = ""
    ) -> object:
        """The JSON at `url`, retried with backoff; `what` names it in errors, `page` too in the log."""
        attempt = 1
        while True:
            try:
                return await self._request(what, url, params, missing_ok)
            except _Transient as exc:
                if attempt == self._attempts:
                    raise SourceError(
                        f"{self._host} unreachable after {attempt} attempts for {what}: {exc}"
                    ) from None
                delay = self._backoff.delay(attempt, exc.retry_after)
                log.warning(
                    "%s: %s for %s%s (attempt %d/%d); retrying in %.1f s",
                    self._host, exc, what, page, attempt, self._attempts, delay,
                )
                await self._sleep(delay)
                attempt += 1

    async def _request(self, what: str, url: str, params: dict[str, object], missing_ok: bool) -> object:
        """One GET: the JSON (a list for a day, an object for a paper; None for a missing paper when
        `missing_ok`), or _Transient for faults worth retrying, or SourceError for the rest."""
        try:
            async with asyncio.timeout(self._deadline):
                async with self._client.stream("GET", url, params=params) as response:  # type: ignore[arg-type]
                    body = await self._body(response, what)
        except TimeoutError:
            raise _Transient(f"no complete answer within {self._deadline:g} s") from None
        except httpx.TimeoutException as exc:
            raise _Transient("timeout") from exc
        except httpx.RequestError as exc:
            raise _Transient(f"connection error: {str(exc) or type(exc).__name__}") from exc
        status = response.status_code
        if status == 429 or status >= 500:
            raise _Transient(f"HTTP {status}", parse_retry_after(response.headers.get("Retry-After")))
        if missing_ok and status == 404:
            return None
        if not response.is_success:
            text = " ".join(body.decode(errors="replace").split())[:200]
            raise SourceError(f"{self._host} answered {status} for {what}: {text}")
        try:
            data = json.loads(body)
        except RecursionError:
            raise SourceError(f"{self._host} sent JSON nested too deep for {what}") from None
        except ValueError:
            raise _Transient("malformed JSON") from None  # the CDN sometimes truncates a body
        wanted = dict if missing_ok else list
        if not isinstance(data, wanted):
            raise _Transient(f"a JSON {type(data).__name__} instead of a {'object' if missing_ok else 'list'}")
        return data

    async def _body(self, response: httpx.Response, what: str) -> bytes:
        """The decompressed body, read no further than MAX_BODY_BYTES, so a bomb costs no memory."""
        chunks: list[bytes] = []
        size = 0
        async for chunk in response.aiter_bytes():
            size += len(chunk)
            if size > MAX_BODY_BYTES:
                raise SourceError(f"{self._host} sent more than {MAX_BODY_BYTES >> 20} MB for {what}")
            chunks.append(chunk)
        return b"".join(chunks)


class FileSource:
    """Recorded API answers, for demos and offline replay.

    A JSON file is one recorded answer, read once here (a broken file fails at startup
    with SourceError) and served for every featured day it holds. A folder holds one
    `YYYY-MM-DD.json` per day, read at each fetch so it can be filled while the bot runs.
    """

    def __init__(self, path: str | Path) -> None:
        self._path = Path(path)
        self._papers: list[Paper] | None = None
        if not self._path.is_dir():
            match = _ISO_DAY.search(self._path.name)
            self._papers = parse_items(_load(self._path), _iso_day(match[0]) if match else None)

    def current_days(self, today: date) -> list[date]:
        if self._papers is None:
            return [today, today - timedelta(days=1)]
        return sorted({paper.featured_day for paper in self._papers})

    async def fetch_day(self, day: date) -> list[Paper]:
        if self._papers is not None:
            return [paper for paper in self._papers if paper.featured_day == day]
        file = self._path / f"{day.isoformat()}.json"
        if not file.exists():
            return []  # a day nobody recorded is an empty day, like a weekend
        return parse_items(await asyncio.to_thread(_load, file), day)

    async def fetch_paper(self, paper_id: str) -> Paper | None:
        """The paper from the recorded days that hold it, newest file first."""
        if self._papers is not None:
            return next((paper for paper in self._papers if paper.id == paper_id), None)
        for file in sorted(self._path.glob("*.json"), reverse=True):
            match = _ISO_DAY.fullmatch(file.stem)
            if match:
                found = [p for p in parse_items(await asyncio.to_thread(_load, file), _iso_day(match[0])) if p.id == paper_id]
                if found:
                    return found[0]
        return None

    async def aclose(self) -> None:
        return None


def _load(path: Path) -> object:
    try:
        return json.loads(path.read_bytes())
    except RecursionError:
        raise SourceError(f"cannot read {path}: JSON nested too deep") from None
    except (OSError, ValueError) as exc:
        raise SourceError(f"cannot read {path}: {exc}") from exc


def open_source(spec: str, token: str | None = None) -> Source:
    """The source PAPERBOY_SOURCE names: an http(s) URL, a recorded JSON file or a folder of days."""
    if spec.lower().startswith(("http://", "https://")):
        return HuggingFaceSource(spec, token)
    path = Path(spec).expanduser()
    if path.exists():
        return FileSource(path)
    raise ValueError(
        "PAPERBOY_SOURCE must be an http(s) URL, a JSON file or a folder of "
        f"YYYY-MM-DD.json files: {spec} does not exist"
    )


class _Skip(Exception):
    """Why one item cannot become a Paper."""


def parse_items(data: object, day: date | None) -> list[Paper]:
    """Papers from an API answer, first of each id kept; `day` dates items that carry no day.

    Raises SourceError when `data` is not a list at all.
    """
    if not isinstance(data, list):
        raise SourceError(f"expected a JSON list of papers, got a {type(data).__name__}")
    papers: dict[str, Paper] = {}
    for item in data:
        paper = item.get("paper") if isinstance(item, dict) else None
        if not isinstance(paper, dict):
            log.warning("skipping an item without a paper object")
            continue
        raw_id = paper.get("id")
        paper_id = _VERSION.sub("", raw_id.strip()) if isinstance(raw_id, str) else ""
        if not _SAFE_ID.fullmatch(paper_id):
            log.warning("skipping a paper without a valid id")
            continue
        if paper_id in papers:
            continue
        try:
            papers[paper_id] = _paper(paper_id, paper, item, day)
        except _Skip as exc:
            log.warning("skipping paper %s: %s", paper_id, exc)
    return list(papers.values())


def parse_paper(data: object, paper_id: str) -> Paper:
    """A paper from `GET /api/papers/{id}` (the paper object itself, flat); its featured day, or its
    arXiv day when it was never on the daily list. SourceError when it is not a usable paper."""
    if not isinstance(data, dict):
        raise SourceError(f"expected a JSON object for paper {paper_id}")
    try:
        return _paper(paper_id, data, {}, _iso_day(data.get("publishedAt")))
    except _Skip as exc:
        raise SourceError(f"paper {paper_id} cannot be read: {exc}") from None


def _paper(paper_id: str, paper: dict[str, object], item: dict[str, object], day: date | None) -> Paper:
    title = _text(paper.get("title"))
    if not title:
        raise _Skip("no title")
    abstract = paper.get("summary")
    if not isinstance(abstract, str):
        raise _Skip("no abstract")
    upvotes = _count(paper.get("upvotes", 0))
    if upvotes is None:
        raise _Skip(f"upvotes is not a count from 0 to {MAX_COUNT:,}")
    featured_day = _iso_day(paper.get("submittedOnDailyAt")) or day
    if featured_day is None:
        raise _Skip("no featured day")
    authors = paper.get("authors", [])
    if not isinstance(authors, list):
        raise _Skip("authors is not a list")
    keywords = paper.get("ai_keywords")
    return Paper(
        id=paper_id,
        title=title,
        abstract=_text(abstract) or "",
        authors=tuple(
            name
            for author in authors
            if isinstance(author, dict) and author.get("hidden") is not True
            and (name := _text(author.get("name")))
        ),
        upvotes=upvotes,
        featured_day=featured_day,
        published_day=_iso_day(paper.get("publishedAt")),
        ai_summary=_text(paper.get("ai_summary")),
        ai_keywords=tuple(k for k in map(_text, keywords) if k) if isinstance(keywords, list) else (),
        github_repo=_url(paper.get("githubRepo")),
        github_stars=_count(paper.get("githubStars")),
        project_page=_url(paper.get("projectPage")),
        organization=_organization(paper.get("organization")) or _organization(item.get("organization")),
    )


def _count(value: object) -> int | None:
    """A whole number from 0 to MAX_COUNT, or None."""
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_COUNT:
        return value
    return None


def _text(value: object) -> str | None:
    """Text on one line, or None for anything that is not a non-blank string."""
    if not isinstance(value, str):
        return None
    return one_line(value) or None


def _url(value: object) -> str | None:
    """An http(s) link, so a hostile `javascript:` value never reaches a rendered message."""
    text = _text(value)
    return text if text and " " not in text and text.lower().startswith(("https://", "http://")) else None


def _iso_day(value: object) -> date | None:
    """The date part of an ISO timestamp like "2026-08-21T00:00:00.000Z"."""
    if not isinstance(value, str) or not _ISO_DAY.match(value):
        return None
    try:
        return date.fromisoformat(value[:10])
    except ValueError:
        return None


def _organization(value: object) -> str | None:
    if not isinstance(value, dict):
        return None
    return _text(value.get("fullname")) or _text(value.get("name"))
