"""A console channel: type `/papers ...` lines, read replies and digests in the terminal.

Like errbot's text backend or Hubot's shell, it is the way to try Paperboy with no
chat account, and the way to script it: with standard input not a terminal it reads
commands line by line and finishes at end of input.
"""

from __future__ import annotations

import asyncio
import getpass
import re
import sys
import threading
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, TextIO

from bot.adapter import Outbox, PlatformLimits
from bot.models import ChannelKey, CommandContext, Digest, DigestItem, Reply

if TYPE_CHECKING:
    from bot.core import Core

KEY = ChannelKey("console", "local", "console")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def clean(text: str) -> str:
    """Untrusted text without terminal control sequences (no escape codes, no bidi tricks)."""
    return _CONTROL.sub("", text)


def render_item(number: int, item: DigestItem) -> str:
    paper = item.paper
    stats = f"{paper.upvotes} upvote{'' if paper.upvotes == 1 else 's'}"
    if paper.github_stars:
        stats += f", {paper.github_stars} GitHub stars"
    subs = ", ".join(f"#{r.subscription_id}" for r in item.reasons if r.subscription_id)
    lines = [
        f"{number}. {clean(paper.title)}  [{stats}]",
        f"   {clean(paper.short_authors())}",
        f"   {clean(paper.tldr)}",
        f"   why: {clean(', '.join(item.matched_words))}" + (f" ({subs})" if subs else ""),
        "   " + "  ".join(f"{label}: {clean(url)}" for label, url in paper.links()),
    ]
    return "\n".join(lines)


def render_digest(digest: Digest) -> str:
    lines = [f"== {digest.title} =="]
    lines += [render_item(n, item) for n, item in enumerate(digest.items, start=1)]
    if digest.more:
        lines.append(f"... and {digest.more} more: {digest.more_url}")
    return "\n".join(lines)


def render_reply(reply: Reply) -> str:
    lines = [clean(reply.text)]
    lines += [render_item(n, item) for n, item in enumerate(reply.items, start=1)]
    return "\n".join(lines)


class ConsoleAdapter:
    platform = "console"
    limits = PlatformLimits(text_chars=100_000, items_per_message=1_000, chars_per_message=1_000_000)

    def __init__(self, stdin: TextIO = sys.stdin, stdout: TextIO = sys.stdout, user: str | None = None) -> None:
        self._stdin = stdin
        self._stdout = stdout
        self._user = user or getpass.getuser()
        self._interactive = stdin.isatty()

    def _print(self, text: str) -> None:
        print(text, file=self._stdout, flush=True)

    async def run(self, core: Core) -> None:
        await core.ready.wait()
        if self._interactive:
            self._print("Paperboy console. Type /papers help; Ctrl-D to quit.")
        ctx = CommandContext(KEY, self._user, can_manage=True, user_name=self._user)
        async for line in self._lines():
            text = line.strip()
            if not text or text.startswith("#"):
                continue
            if text in {"quit", "exit"}:
                break
            self._print(render_reply(await core.commands.handle(ctx, text)))

    async def _lines(self) -> AsyncIterator[str]:
        """Lines from a daemon thread, so a blocked read never keeps the process alive."""
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[str | None] = asyncio.Queue()

        def read() -> None:
            for line in self._stdin:
                loop.call_soon_threadsafe(queue.put_nowait, line)
            loop.call_soon_threadsafe(queue.put_nowait, None)

        threading.Thread(target=read, name="console-input", daemon=True).start()
        while (line := await queue.get()) is not None:
            yield line

    async def send_digest(self, key: ChannelKey, digest: Digest, outbox: Outbox) -> None:
        if 0 not in outbox.sent:
            self._print(render_digest(digest))
            await outbox.record(0, "printed")

    async def close(self) -> None:
        self._stdout.flush()
