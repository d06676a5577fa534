"""A chat platform's installations per workspace, as opaque secrets the adapter encrypted.

The core neither reads nor decrypts them: an adapter that installs itself into many
workspaces (Slack's OAuth) keeps its tokens here, encrypted with a key the core never sees.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from bot.store.database import Database


class InstallationBook(Database):
    async def save_installation(
        self, platform: str, workspace: str, secrets: Mapping[tuple[str, str], str], now: datetime
    ) -> None:
        """Store the workspace's secrets by (kind, user id), replacing what those keys held, in one transaction."""
        async with self.transaction() as db:
            await db.executemany(
                "INSERT INTO installations (platform, workspace, kind, user_id, secret, saved_at)"
                " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (platform, workspace, kind, user_id)"
                " DO UPDATE SET secret = excluded.secret, saved_at = excluded.saved_at",
                [(platform, workspace, kind, user, secret, now.isoformat())
                 for (kind, user), secret in secrets.items()],
            )

    async def installation(self, platform: str, workspace: str, kind: str, user_id: str = "") -> str | None:
        row = await self._one(
            "SELECT secret FROM installations WHERE platform = ? AND workspace = ? AND kind = ? AND user_id = ?",
            (platform, workspace, kind, user_id),
        )
        return str(row[0]) if row else None

    async def delete_installation(self, platform: str, workspace: str, kind: str, user_id: str | None = None) -> None:
        """Forget the workspace's secrets of this kind: one user's, or (no user id) all of them."""
        where, params = ("", ()) if user_id is None else (" AND user_id = ?", (user_id,))
        async with self.transaction() as db:
            await db.execute(
                f"DELETE FROM installations WHERE platform = ? AND workspace = ? AND kind = ?{where}",
                (platform, workspace, kind, *params),
            )
