"""The slash command and the rating buttons: acknowledge at once, run it in the core, answer the
caller, note channel changes.

Slack gives up on a command after 3 seconds, and the database or the start-up catch-up
can take longer, so the ack comes before anything else and the answer follows through
the command's response_url, visible to the caller only.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from dataclasses import replace
from typing import Any

import aiohttp
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.async_context import AsyncBoltContext
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from adapters.slack.config import SlackConfig
from adapters.slack.post import Poster, checked
from adapters.slack.render import render_note, render_reply
from bot.adapter import AdapterStopped, ChannelGone, Host, SendFailed, parse_rate_id
from bot.models import ChannelKey, CommandContext

log = logging.getLogger(__name__)


def unescape(text: str) -> str:
    """Slack sends command text with `&`, `<`, `>` escaped; the core wants what was typed."""
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


class SlashCommand:
    """`handle` is the bolt listener of `/papers`. Bolt passes `ack`, `command`, and the `client` and
    `context` of the workspace the command came from (its token, its bot user), by name."""

    def __init__(
        self, host: Host, config: SlackConfig, bot_name: str, give_up: Callable[[AdapterStopped], None]
    ) -> None:
        self._host = host
        self._config = config
        self._bot_name = bot_name
        self._give_up = give_up
        self._running: set[asyncio.Task[None]] = set()

    async def handle(
        self,
        ack: AsyncAck,
        command: dict[str, Any],
        client: AsyncWebClient,
        context: AsyncBoltContext,
    ) -> None:
        """Acknowledge and return. The app processes before responding, so Slack gets its 200 the moment
        this returns, and the command runs meanwhile in a task of its own. (By default bolt runs the whole
        listener in a task and checks for the ack every 10 ms: in a burst the 200 waited behind other
        commands' work.)"""
        await ack()
        self._spawn(self._run(command, client, context.bot_user_id or ""))

    async def _run(self, command: dict[str, Any], client: AsyncWebClient, bot_user: str) -> None:
        user = str(command.get("user_id", ""))
        channel = str(command.get("channel_id", ""))
        ctx = CommandContext(
            ChannelKey("slack", str(command.get("team_id", "")), channel),
            user,
            can_manage=await self._can_manage(client, user),
            user_name=command.get("user_name") or None,
            command=self._config.command,
        )
        reply = await self._host.handle(ctx, unescape(str(command.get("text", ""))))
        poster = Poster(client, bot_user)
        if reply.announcement and (problem := await self._announce(poster, ctx.key, user, reply.announcement)):
            reply = replace(reply, text=f"{reply.text}\n{problem}")
        # bolt's `respond` opens a new HTTP session, and connection, for every answer: use the client's pool.
        answer = AsyncWebhookClient(str(command.get("response_url", "")), session=client.session)
        for message in render_reply(reply):
            try:
                await answer.send(text=message.text, blocks=list(message.blocks), response_type="ephemeral")
            except (aiohttp.ClientError, TimeoutError) as err:
                log.warning("Slack: could not answer /%s in %s: %s", self._config.command, channel, err)

    async def rate(self, ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        """The listener of a digest's 👍/👎 buttons (`block_actions`): acknowledged at once like a command;
        the rating then runs in a task of its own and tells the clicker only."""
        await ack()
        self._spawn(self._rate(body, client))

    async def _rate(self, body: dict[str, Any], client: AsyncWebClient) -> None:
        user = body.get("user") or {}
        actions = body.get("actions") or [{}]
        found = parse_rate_id(str(actions[0].get("action_id", "")))
        team = str((body.get("team") or {}).get("id") or user.get("team_id", ""))
        channel = str((body.get("channel") or {}).get("id", ""))
        if found is None or not channel:
            return
        ctx = CommandContext(
            ChannelKey("slack", team, channel), str(user.get("id", "")),
            user_name=user.get("username") or user.get("name") or None, command=self._config.command,
        )
        reply = await self._host.rate(ctx, found[1], found[0])
        answer = AsyncWebhookClient(str(body.get("response_url", "")), session=client.session)
        try:
            await answer.send(text=reply.text, response_type="ephemeral", replace_original=False)
        except (aiohttp.ClientError, TimeoutError) as err:
            log.warning("Slack: could not confirm a rating in %s: %s", channel, err)

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(work)
        self._running.add(task)  # the loop keeps only a weak reference
        task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[None]) -> None:
        """Log what bolt's listener error handler logged before the work had a task of its own."""
        self._running.discard(task)
        if not task.cancelled() and (err := task.exception()) is not None:
            log.error("Slack: /%s failed", self._config.command, exc_info=err)

    async def _can_manage(self, client: AsyncWebClient, user: str) -> bool:
        """Everyone may, unless SLACK_ADMINS_ONLY: then workspace admins and owners
        (the core also lets people remove subscriptions they made)."""
        if not self._config.admins_only:
            return True
        try:
            found = await checked(client.users_info(user=user))
        except AdapterStopped as refused:
            self._give_up(refused)
            return False
        except SendFailed as failed:
            log.warning("Slack: cannot tell whether %s is an admin (%s); treating them as a member", user, failed)
            return False
        info = found.get("user") or {}
        return bool(info.get("is_admin") or info.get("is_owner") or info.get("is_primary_owner"))

    async def _announce(self, poster: Poster, key: ChannelKey, user: str, announcement: str) -> str | None:
        """Post the visible note of a channel change; a line for the caller when it could not be posted."""
        try:
            await self._host.pace(key)
            await poster.post(key.channel, render_note(user, announcement))
        except ChannelGone as gone:
            return (
                "Note: nobody else saw this change, and digests cannot arrive here until this is fixed: "
                f"{gone.reason}. To add the app: /invite @{self._bot_name}"
            )
        except AdapterStopped as refused:
            self._give_up(refused)
        except SendFailed as failed:
            log.warning("Slack: could not post the note in %s: %s", key, failed)
        return None
