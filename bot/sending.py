"""Posting one digest through an adapter: parts in order, paced, retried, never twice.

This is the part of sending every platform shares, written once: the adapter renders
and posts single messages; this loop decides what to post, when, and what to do when a
post fails (see the rule for uncertain sends in `bot.adapter`).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from bot.adapter import UNCONFIRMED, Adapter, AdapterStopped, ChannelGone, Outbox, SendFailed
from bot.backoff import Backoff
from bot.inflight import InFlight
from bot.models import ChannelKey, Digest
from bot.pacing import Pacer
from bot.telemetry import Telemetry

log = logging.getLogger(__name__)

ATTEMPTS = 4  # tries of one part through transient failures, with backoff between


@dataclass(slots=True)
class Ledger:
    """The store's hooks around one post: `begin` marks a post in flight, `settle` clears it
    after a failure that certainly posted nothing (`Outbox.record` clears it on success)."""

    begin: Callable[[int], Awaitable[None]]
    settle: Callable[[], Awaitable[None]]


class Sender:
    """Sends digests for one adapter under its pacer and the shared backoff."""

    def __init__(
        self,
        adapter: Adapter,
        pacer: Pacer,
        backoff: Backoff,
        sleep: Callable[[float], Awaitable[None]],
        work: InFlight | None = None,
        telemetry: Telemetry | None = None,
    ) -> None:
        self._adapter = adapter
        self._pacer = pacer
        self._backoff = backoff
        self._sleep = sleep
        self._work = work or InFlight()
        self._telemetry = telemetry or Telemetry()

    async def send(self, key: ChannelKey, digest: Digest, outbox: Outbox, ledger: Ledger) -> None:
        """Post the parts not yet recorded; later parts reply to the first (a thread, where the platform has them)."""
        parts = self._adapter.render_digest(digest)
        sent = dict(outbox.sent)

        async def record(part: int, ref: str) -> None:
            sent[part] = ref
            await outbox.record(part, ref)

        missing = [part for part in range(len(parts)) if part not in sent]
        if outbox.uncertain and missing:
            doubt = missing[0]
            if self._adapter.verifies_sends:
                found = await self._adapter.find(key, [outbox.part_key(doubt)], _reply_to(sent, doubt))
                if ref := found.get(outbox.part_key(doubt)):
                    log.info("%s: part %s reached %s before the interruption; not posting it again",
                             self._adapter.platform, outbox.part_key(doubt), key)
                    await record(doubt, ref)
            else:
                log.warning("%s cannot tell whether part %s reached %s; not posting it again (at most once)",
                            self._adapter.platform, outbox.part_key(doubt), key)
                await record(doubt, UNCONFIRMED)
        for part, message in enumerate(parts):
            if part not in sent:
                if self._work.stopping:  # the part before went out and is recorded: the rest waits for the restart
                    raise SendFailed("Paperboy is stopping; the rest of the digest goes out after the restart")
                await record(part, await self._post(key, message, part, outbox, _reply_to(sent, part), ledger))

    async def _post(
        self, key: ChannelKey, message: Any, part: int, outbox: Outbox, reply_to: str | None, ledger: Ledger
    ) -> str:
        """One part, retried through transient failures; a part that may have gone out is looked up
        first where the platform can tell, and never retried where it cannot."""
        part_key = outbox.part_key(part)
        checking = False
        failure = SendFailed("not tried")
        attempt = 0
        for attempt in range(1, ATTEMPTS + 1):
            try:
                if checking:
                    found = await self._adapter.find(key, [part_key], reply_to)
                    if part_key in found:
                        log.info("%s: %s reached %s despite the error", self._adapter.platform, part_key, key)
                        return found[part_key]
                    checking = False
                await self._pacer.wait(key)
                await ledger.begin(part)
                return await self._adapter.post(key, message, part_key, reply_to)
            except SendFailed as failed:
                failure = failed
                if failed.retry_after is not None:
                    self._telemetry.rate_limited[self._adapter.platform] += 1
                if failed.uncertain and not self._adapter.verifies_sends:
                    raise  # left in flight: the next attempt follows the at-most-once rule
                checking = checking or failed.uncertain
                if not checking:
                    await ledger.settle()
                log.warning("%s: posting %s to %s failed (%s), attempt %d of %d",
                            self._adapter.platform, part_key, key, failed, attempt, ATTEMPTS)
                if self._work.stopping:
                    break  # no backoff while stopping: the restart retries it
                if attempt < ATTEMPTS:
                    await self._sleep(self._backoff.delay(attempt, failed.retry_after))
            except (ChannelGone, AdapterStopped):
                if not checking:
                    await ledger.settle()
                raise
        raise SendFailed(f"{failure} after {attempt} attempts", uncertain=checking)


def _reply_to(sent: dict[int, str], part: int) -> str | None:
    """Later parts continue the first, unless the first is unconfirmed (then they stand alone)."""
    first = sent.get(0)
    return first if part and first not in (None, UNCONFIRMED) else None
