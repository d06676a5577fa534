"""The narrow face of the core that adapters see (`bot.adapter.Host`).

Adapters get this instead of the whole core: they can run a command, pass on a 👍/👎 click, list a
channel's subscriptions for autocomplete, pace posts that are not digest parts, and pause a whole
workspace that is gone. Nothing else of the store or the delivery is theirs to touch.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from bot.commands import Commands
from bot.inflight import InFlight
from bot.models import ChannelKey, CommandContext, Reply
from bot.pacing import Pacer
from bot.store import Store

log = logging.getLogger(__name__)

SORRY = "Sorry, that failed on Paperboy's side and was logged. Please try again later."
STOPPING = "Paperboy is restarting; please try again in a minute."
CHOICE_CHARS = 100  # platforms cap a choice's label (Discord: 100)


class CoreHost:
    def __init__(
        self,
        commands: Commands,
        store: Store,
        pacer: Pacer,
        started: asyncio.Event,
        work: InFlight,
        web_routes: Callable[[int], list[Any]],
    ) -> None:
        self._commands = commands
        self._web_routes = web_routes
        self._work = work
        self._store = store
        self._pacer = pacer
        self._started = started

    async def handle(self, ctx: CommandContext, text: str) -> Reply:
        """The command's reply; a failure inside is logged and answered with one apologetic line."""
        if self._work.stopping:
            return Reply(STOPPING, ok=False)
        try:
            return await self._commands.handle(ctx, text)
        except Exception:
            log.exception("/%s %s failed in %s", ctx.command, text.partition(" ")[0][:40], ctx.key)
            return Reply(SORRY, ok=False)

    async def rate(self, ctx: CommandContext, paper_id: str, vote: int) -> Reply:
        """A 👍/👎 button click; a failure inside is logged and answered with one apologetic line."""
        if self._work.stopping:
            return Reply(STOPPING, ok=False)
        try:
            return await self._commands.rate(ctx, paper_id, vote)
        except Exception:
            log.exception("rating %s in %s failed", paper_id[:40], ctx.key)
            return Reply(SORRY, ok=False)

    async def subscription_choices(self, key: ChannelKey) -> list[tuple[str, str]]:
        channel = await self._store.channel(key)
        subs = await self._store.subscriptions(channel.id) if channel else []
        if not subs:
            return []
        return [(f"all ({len(subs)} subscriptions)", "all")] + [
            (f"#{s.id} {' '.join(s.query.split())}"[:CHOICE_CHARS], str(s.id)) for s in subs
        ]

    async def pace(self, key: ChannelKey) -> None:
        await self._pacer.wait(key)

    def web_routes(self, port: int) -> list[Any]:
        return self._web_routes(port)

    async def wait_started(self) -> None:
        """Until the start-up catch-up is done. Commands never need this; a script reading
        commands from a file does, so that its first `digest` sees the day's papers."""
        await self._started.wait()

    @property
    def installations(self) -> Store:
        return self._store

    async def workspace_gone(self, platform: str, workspace: str, reason: str) -> None:
        """Pause the workspace's channels that are not paused already, each with `reason` (shown by list)."""
        paused = 0
        for channel in await self._store.channels():
            if (channel.key.platform, channel.key.workspace) == (platform, workspace) and not channel.paused_reason:
                await self._store.update_channel(channel, paused_reason=reason)
                paused += 1
        log.warning("%s workspace %s is gone (%s): paused its %d channels", platform, workspace, reason, paused)
