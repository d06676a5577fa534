"""`paperboy run` that SIGKILLs itself at one named point of delivery: for the crash drills only.

DRILL_KILL="METHOD WHEN CHANNEL [PART]" wraps that `Store` method (plan_digest, mark_sending,
record_part or mark_sent) so that, for the digest of the channel whose platform id is
CHANNEL (and, for record_part, its part PART), the process dies by SIGKILL right BEFORE or
AFTER the call: no cleanup, no flush, as a power cut or the OOM killer would end it.
Without DRILL_KILL this is plain `paperboy run`. Production code has no crash hooks.
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Awaitable, Callable
from typing import Any

from adapters import main
from bot.store import Store


async def _channel_of(store: Store, method: str, args: tuple[Any, ...]) -> str:
    """The platform channel id the call is about."""
    if method == "plan_digest":
        return str(args[0].key.channel)
    digest_id = args[0]
    return next(str(d.channel.key.channel) for d in await store.open_digests() if d.id == digest_id)


def arm(spec: str) -> None:
    method, when, channel, *part = spec.split()
    original: Callable[..., Awaitable[Any]] = getattr(Store, method)

    async def dying(self: Store, *args: Any) -> Any:
        hit = await _channel_of(self, method, args) == channel and (not part or str(args[1]) == part[0])
        if hit and when == "before":
            os.kill(os.getpid(), signal.SIGKILL)
        result = await original(self, *args)
        if hit:
            os.kill(os.getpid(), signal.SIGKILL)
        return result

    setattr(Store, method, dying)


if __name__ == "__main__":
    if spec := os.environ.get("DRILL_KILL"):
        arm(spec)
    sys.exit(main(["run"]))
