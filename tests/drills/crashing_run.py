"""`paperboy run` that SIGKILLs itself at one named point of delivery: for the crash drills only.

DRILL_KILL="METHOD WHEN CHANNEL [PART]" wraps that `Store` method (plan_digests, mark_sending,
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


async def _channels_of(store: Store, method: str, args: tuple[Any, ...]) -> set[str]:
    """The platform channel ids the call is about (a wave plans several at once)."""
    if method == "plan_digests":
        return {str(plan.channel.key.channel) for plan in args[0]}
    digest_id = args[0]
    return {str(d.channel.key.channel) for d in await store.open_digests() if d.id == digest_id}


def arm(spec: str) -> None:
    method, when, channel, *part = spec.split()
    original: Callable[..., Awaitable[Any]] = getattr(Store, method)

    async def dying(self: Store, *args: Any) -> Any:
        hit = channel in await _channels_of(self, method, args) and (not part or str(args[1]) == part[0])
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
