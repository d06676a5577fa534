"""A console channel: type `/papers ...` lines, read replies and digests in the terminal.

Like errbot's text backend or Hubot's shell, it is the way to try Paperboy with no
chat account, and the way to script it: with standard input not a terminal it reads
commands line by line, waits for the start-up fetch so a script sees the day's papers,
and finishes at end of input.
"""

from __future__ import annotations

import asyncio
import getpass
import sys
import threading
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import TextIO

from bot.adapter import Host, PlatformLimits
from bot.models import ChannelKey, CommandContext, Digest
from bot.plaintext import render_digest, render_reply

KEY = ChannelKey("console", "local", "console")


def create(env: Mapping[str, str]) -> ConsoleAdapter:
    return ConsoleAdapter()


class ConsoleAdapter:
    platform = "console"
    limits = PlatformLimits(text_chars=100_000, items_per_message=1_000, chars_per_message=1_000_000)
    verifies_sends = False  # a printed line cannot be looked up again

    def __init__(self, stdin: TextIO = sys.stdin, stdout: TextIO = sys.stdout, user: str | None = None) -> None:
        self._stdin = stdin
        self._stdout = stdout
        self._user = user or getpass.getuser()
        self._interactive = stdin.isatty()

    def _print(self, text: str) -> None:
        print(text, file=self._stdout, flush=True)

    async def run(self, host: Host) -> None:
        if self._interactive:
            self._print("Paperboy console. Type /papers help; Ctrl-D to quit.")
        else:
            await host.wait_started()
        ctx = CommandContext(KEY, self._user, can_manage=True, user_name=self._user)
        number = 0
        async for line in self._lines():
            number += 1
            if isinstance(line, UnicodeDecodeError):
                bad = line.object[line.start]
                self._print(f"Line {number} is not valid {line.encoding} (byte 0x{bad:02x} at byte {line.start + 1}), "
                            "so it was ignored.")
                continue
            text = line.strip()
            if not text or text.startswith("#"):
                continue
            if text in {"quit", "exit"}:
                break
            self._print(render_reply(await host.handle(ctx, text)))

    async def _lines(self) -> AsyncIterator[str | UnicodeDecodeError]:
        """Lines from a daemon thread, so a blocked read never keeps the process alive.

        Lines are read as bytes and decoded one by one, so a line that is not valid text
        is answered and skipped instead of ending the reader with no end-of-input marker.
        """
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[str | UnicodeDecodeError | None] = asyncio.Queue()
        raw = getattr(self._stdin, "buffer", None)
        encoding = getattr(self._stdin, "encoding", None) or "utf-8"

        def decode(line: bytes) -> str | UnicodeDecodeError:
            try:
                return line.decode(encoding)
            except UnicodeDecodeError as err:
                return err

        def read() -> None:
            try:
                for line in raw if raw is not None else self._stdin:
                    loop.call_soon_threadsafe(queue.put_nowait, decode(line) if isinstance(line, bytes) else line)
            finally:
                loop.call_soon_threadsafe(queue.put_nowait, None)

        threading.Thread(target=read, name="console-input", daemon=True).start()
        while (line := await queue.get()) is not None:
            yield line

    def render_digest(self, digest: Digest) -> Sequence[str]:
        return [render_digest(digest)]

    async def post(self, key: ChannelKey, message: str, part_key: str, reply_to: str | None) -> str:
        self._print(message)
        return "printed"

    async def find(self, key: ChannelKey, part_keys: Sequence[str], reply_to: str | None) -> dict[str, str]:
        return {}

    async def close(self) -> None:
        self._stdout.flush()
