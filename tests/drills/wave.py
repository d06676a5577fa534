"""`paperboy run` as one of several workers, posting to a platform that is a shared file: for the worker drills only.

The "wave" platform appends one line per post to the file DRILL_POSTS ("channel part_key
paper,paper,... pid"), in one write, so every worker and the test see every post; `find`
reads it back, as Slack's metadata lookup would. Its only rate is WAVE_RATE posts a second
for the whole bot, which the workers share through the database. Run as a script, this is
`paperboy run` with the wave platform as the one registered.
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Mapping, Sequence

from bot.adapter import AdapterSpec, Host, PlatformLimits
from bot.cli import main
from bot.models import ChannelKey, Digest
from bot.pacing import Rate

WAVE_RATE = 100


class WaveAdapter:
    platform = "wave"
    limits = PlatformLimits(text_chars=4000, items_per_message=50, chars_per_message=100_000,
                            rates=(Rate("bot", WAVE_RATE, 1.0),))
    verifies_sends = True

    def __init__(self, path: str) -> None:
        self._path = path

    async def run(self, host: Host) -> None:
        await asyncio.Event().wait()  # serves until the process is stopped

    def render_digest(self, digest: Digest) -> Sequence[Digest]:
        return [digest]

    async def post(self, key: ChannelKey, message: Digest, part_key: str, reply_to: str | None) -> str:
        papers = ",".join(item.paper.id for item in message.items)
        line = f"{key.channel} {part_key} {papers} {os.getpid()}\n".encode()
        descriptor = os.open(self._path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(descriptor, line)
        finally:
            os.close(descriptor)
        return part_key

    async def find(self, key: ChannelKey, part_keys: Sequence[str], reply_to: str | None) -> dict[str, str]:
        with open(self._path) as posts:
            found = {line.split()[1] for line in posts if line.split()[0] == key.channel}
        return {part_key: part_key for part_key in part_keys if part_key in found}

    async def close(self) -> None:
        return None


def create(env: Mapping[str, str]) -> WaveAdapter:
    return WaveAdapter(env["DRILL_POSTS"])


if __name__ == "__main__":
    sys.exit(main((AdapterSpec("wave", "tests.drills.wave", "DRILL_POSTS"),), ["run"]))
