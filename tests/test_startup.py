"""Commands at start-up (defect 4): answered at once from the store while the first fetch hangs."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import httpx

from adapters.console import KEY
from bot.config import Settings
from bot.core import Core
from bot.models import CommandContext
from bot.source import HuggingFaceSource
from tests.conftest import FIXTURES
from tests.support import MemoryAdapter, VirtualTime

CTX = CommandContext(KEY, "ada", can_manage=True)
WAIT = 10.0  # only a guard against a hang


async def test_help_and_preview_are_answered_while_the_first_fetch_blocks(tmp_path: Path, clock: VirtualTime) -> None:
    day = json.loads((FIXTURES / "2026-08-21.json").read_text())
    asked = asyncio.Event()
    release = asyncio.Event()

    async def slow_hugging_face(request: httpx.Request) -> httpx.Response:
        asked.set()
        await release.wait()  # the first fetch hangs until the test lets it go
        found = day if request.url.params["date"] == "2026-08-21" and request.url.params["p"] == "0" else []
        return httpx.Response(200, json=found)

    source = HuggingFaceSource(transport=httpx.MockTransport(slow_hugging_face), sleep=clock.sleep)
    core = await Core.open(Settings(db=str(tmp_path / "paperboy.db")), source, clock, clock.timing)
    adapter = MemoryAdapter("console", serve=True)
    running = asyncio.create_task(core.run([adapter]))
    try:
        await asyncio.wait_for(asked.wait(), WAIT)  # the start-up fetch is in flight and blocked
        assert adapter.host is not None
        help_ = await asyncio.wait_for(adapter.host.handle(CTX, "/papers help"), WAIT)
        preview = await asyncio.wait_for(adapter.host.handle(CTX, "/papers preview x"), WAIT)
        assert not release.is_set() and not core.ready.is_set()  # answered while the fetch still hangs
        assert help_.ok and help_.text.startswith("Paperboy posts the Hugging Face Daily Papers")
        assert preview.text == "The digest is still being fetched after start-up; try the preview again in a minute."

        release.set()
        await asyncio.wait_for(core.ready.wait(), WAIT)
        later = await adapter.host.handle(CTX, "/papers preview agent")
        assert later.text.startswith("6 papers of the last 7 days match agent")
    finally:
        adapter.finish.set()
        await asyncio.wait_for(running, WAIT)
        await core.close()
