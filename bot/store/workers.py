"""What several workers on one database share: claims on channels, and rate-limit slots.

Before it plans or sends anything for a channel, a worker claims it: it takes the channel's
`claims` row (PostgreSQL: `FOR UPDATE SKIP LOCKED`, so it never waits on another worker's
claim) and holds it until `lease_until`. Every ledger write of the channel's digests renews the
lease in the same transaction and fails with `LeaseLost` once another worker has taken the
channel over, so a worker that stalled past its lease never posts beside the one that took
over. A worker that dies stops renewing: when its lease has run out (at once, when it ran on
this machine and its process is gone, as after a crash and restart), `stale_claims()` lists the
channel, and another worker claims it and resumes its open digests through the ledger's rule
for sends in doubt.

Rate limits that hold for the whole bot or a whole workspace are slots in `rate_slots`: the
next free moment of each limit, taken in one transaction by whichever worker posts next.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Sequence

from bot.store.channels import ChannelBook
from bot.store.database import StoreError, StoreUnavailable, Tx, chunked, marks, stamp

log = logging.getLogger(__name__)


class LeaseLost(StoreError):
    """Another worker took the channel over after this one's lease ran out."""


def gone(worker: str) -> bool:
    """The worker ran on this machine and its process has ended (worker names are host:pid:nonce)."""
    host, pid, _ = (["", "", ""] + worker.rsplit(":", 2))[-3:]
    if host != socket.gethostname() or not pid.isdigit() or int(pid) == os.getpid():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except OSError:
        return False  # it exists, as another user's process
    return False


class Claims(ChannelBook):
    async def claim(self, channel_ids: Sequence[int]) -> list[int]:
        """Take these channels for this worker (or renew its claims); those another worker's lease
        still holds, or another worker is claiming at this very moment, are left out."""
        now, claimed = self.clock(), []
        for chunk in map(list, chunked(channel_ids)):
            async with self.transaction() as tx:
                await tx.executemany(
                    "INSERT INTO claims (channel_id, worker, lease_until) VALUES (?, '', '') ON CONFLICT DO NOTHING",
                    [(channel_id,) for channel_id in chunk],
                )
                rows = await tx.all(
                    f"SELECT channel_id, worker, lease_until FROM claims WHERE channel_id IN ({marks(chunk)})"
                    f"{self._skip_locked}",
                    chunk,
                )
                mine = [
                    int(channel_id) for channel_id, worker, until in rows
                    if worker in ("", self.worker) or until < stamp(now) or gone(worker)
                ]
                await tx.executemany(
                    "UPDATE claims SET worker = ?, lease_until = ? WHERE channel_id = ?",
                    [(self.worker, stamp(now + self.lease), channel_id) for channel_id in mine],
                )
            claimed += mine
        return claimed

    async def release(self, channel_ids: Sequence[int]) -> None:
        async with self.transaction() as tx:
            await tx.executemany(
                "UPDATE claims SET worker = '', lease_until = '' WHERE channel_id = ? AND worker = ?",
                [(channel_id, self.worker) for channel_id in channel_ids],
            )

    async def release_all(self) -> None:
        """Hand back every claim of this worker (on a clean shutdown)."""
        async with self.transaction() as tx:
            await tx.execute("UPDATE claims SET worker = '', lease_until = '' WHERE worker = ?", (self.worker,))

    async def stale_claims(self) -> list[int]:
        """Channels whose worker stopped renewing its claim: it died, or lost the database."""
        now = stamp(self.clock())
        rows = await self._all("SELECT channel_id, worker, lease_until FROM claims WHERE worker != '' ORDER BY channel_id")
        return [int(channel) for channel, worker, until in rows if until < now or gone(worker)]

    async def _renew(self, tx: Tx, channel_id: int | None = None, digest_id: int | None = None) -> bool:
        """Renew this worker's lease on the channel (given, or the digest's) inside `tx`; False if it is gone."""
        channel = "?" if digest_id is None else "(SELECT channel_id FROM digests WHERE id = ?)"
        return bool(await tx.execute(
            f"UPDATE claims SET lease_until = ? WHERE worker = ? AND channel_id = {channel}",
            (stamp(self.clock() + self.lease), self.worker, channel_id if digest_id is None else digest_id),
        ))

    async def _hold(self, tx: Tx, channel_id: int | None = None, digest_id: int | None = None) -> None:
        """Renew this worker's lease on the channel (given, or the digest's) inside `tx`; LeaseLost if it is gone."""
        if not await self._renew(tx, channel_id, digest_id):
            what = f"channel {channel_id}" if digest_id is None else f"the channel of digest {digest_id}"
            raise LeaseLost(f"{what} is no longer claimed by this worker; another one resumes it")

    async def reserve(self, slots: Sequence[tuple[str, float]], after: float) -> float | None:
        """The first moment at or after `after` when every named limit has room, taken in each
        (the limit's next free moment moves `gap` seconds past it). None when the database cannot
        be reached: the caller then paces on its own."""
        ordered = sorted(slots)
        names = [name for name, _ in ordered]
        try:
            async with self.transaction() as tx:
                await tx.executemany(
                    "INSERT INTO rate_slots (name, free) VALUES (?, ?) ON CONFLICT DO NOTHING",
                    [(name, 0.0) for name in names],
                )
                rows = await tx.all(
                    f"SELECT free FROM rate_slots WHERE name IN ({marks(names)}) ORDER BY name{self._row_lock}", names
                )
                at = max([after, *(float(r[0]) for r in rows)])
                await tx.executemany(
                    "UPDATE rate_slots SET free = ? WHERE name = ?", [(at + gap, name) for name, gap in ordered]
                )
        except StoreUnavailable as err:
            log.warning("pacing without the other workers for now: %s", err)
            return None
        return at
