"""The `/papers` command, platform-free: text in, a neutral `Reply` out.

Adapters only translate: they build a `CommandContext` (with whether the platform
says the user may manage the channel) and render the reply. Bad input answers a
short message naming what was wrong and changes nothing.
"""

from __future__ import annotations

import asyncio
import shlex
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

from bot import rating_commands
from bot.commandset import BY_NAME, COMMANDS, NUMBER_LIMITS, PREVIEW_DAYS, WEEKDAYS, help_text, usage
from bot.config import Settings, parse_clock, parse_zone
from bot.delivery import Clock, Delivery
from bot.likes import find_likes, with_similarity
from bot.matcher import Matcher
from bot.models import CommandContext, DigestItem, Paper, Reply, one_line
from bot.query import Query, QueryError, like_ids, parse
from bot.ratings import Ratings
from bot.status import channel_report, source_report
from bot.store import Channel, Store
from bot.text import echo, plural

PREVIEW_SHOWN = 10


@dataclass(frozen=True, slots=True)
class _Call:
    ctx: CommandContext
    name: str
    args: str


def _usage(call: _Call) -> Reply:
    return Reply(usage(call.name, call.ctx.command), ok=False)


Handler = Callable[["Commands", _Call], Awaitable[Reply]]


class Commands:
    def __init__(
        self,
        store: Store,
        delivery: Delivery,
        settings: Settings,
        clock: Clock,
        on_schedule_change: Callable[[Channel], None],
        started: asyncio.Event,
        ratings: Ratings,
    ) -> None:
        self._store = store
        self.ratings = ratings
        self._delivery = delivery
        self._settings = settings
        self._clock = clock
        self._on_schedule_change = on_schedule_change
        self._started = started  # set once the start-up fetch is done; commands never wait for it

    async def handle(self, ctx: CommandContext, text: str) -> Reply:
        # A command is one line: a newline or tab would reach stored queries and every rendered "why".
        text = one_line(text)
        name, _, args = text.partition(" ")
        name = name.lower().lstrip("/")
        if name == "papers":
            name, _, args = args.strip().partition(" ")
            name = name.lower()
        if not name:
            name = "help"
        handler = _HANDLERS.get(name)
        if handler is None:
            return Reply(
                f"Unknown command '{echo(name)}'. Try: {', '.join(BY_NAME)}. /{ctx.command} help explains each.", ok=False
            )
        return await handler(self, _Call(ctx, name, args.strip()))

    # Helpers shared by the handlers

    def _parse(self, text: str) -> Query:
        return parse(text, max_length=self._settings.max_query_chars)

    @property
    def store(self) -> Store:
        return self._store

    def now(self) -> datetime:
        return self._clock()

    async def channel_of(self, ctx: CommandContext) -> Channel:
        channel = await self._store.channel(ctx.key)
        if channel is None:
            channel = await self._store.ensure_channel(
                ctx.key, self._settings.default_time, self._settings.default_tz, self._clock()
            )
        return channel

    async def _channel(self, call: _Call) -> Channel:
        return await self.channel_of(call.ctx)

    async def _seeds(self, query: Query, command: str) -> list[Paper] | Reply:
        """The papers the query's like: terms name, or the one-line answer when one cannot be found."""
        seeds = []
        for paper_id in like_ids(query):
            found = await rating_commands.find(self, paper_id, command)
            if isinstance(found, Reply):
                return found
            seeds.append(found)
        return seeds

    async def _recent_matches(self, query: Query, seeds: list[Paper]) -> list[DigestItem]:
        papers = await self._store.recent_papers(PREVIEW_DAYS)
        likes = await asyncio.to_thread(find_likes, seeds, papers)
        reasons = Matcher([(0, query)], likes).match(papers)
        return with_similarity([DigestItem(p, reasons[p.id]) for p in papers if p.id in reasons], likes)

    @staticmethod
    def _when(channel: Channel) -> str:
        if channel.mode == "instant":
            return "as they appear"
        if channel.mode == "weekly":
            return f"every {channel.weekday.capitalize()} at {channel.time} {channel.tz}"
        return f"daily at {channel.time} {channel.tz}"

    @staticmethod
    def _refuse(call: _Call) -> Reply:
        return Reply(
            f"You need permission to manage this channel to use /{call.ctx.command} {call.name}. "
            "Ask a channel manager, or use list, preview or help.",
            ok=False,
        )

    # Handlers

    async def cmd_help(self, call: _Call) -> Reply:
        return Reply(help_text(call.ctx.command))

    async def cmd_subscribe(self, call: _Call) -> Reply:
        if not call.args:
            return _usage(call)
        if not call.ctx.can_manage:
            return self._refuse(call)
        try:
            query = self._parse(call.args)
        except QueryError as err:
            return Reply(f"That query does not parse: {err}", ok=False)
        seeds = await self._seeds(query, call.ctx.command)
        if isinstance(seeds, Reply):
            return seeds
        channel = await self._channel(call)
        for sub in await self._store.subscriptions(channel.id):
            if sub.query == query.text:
                return Reply(f"This channel already follows that query as #{sub.id}.", ok=False)
        now = self._clock()
        sub = await self._store.add_subscription(
            channel, query.text, call.ctx.user, call.ctx.user_name, now, self._settings.max_subscriptions
        )
        if sub is None:
            return Reply(
                f"This channel already has {self._settings.max_subscriptions} subscriptions, the most it can have. "
                f"Remove one with /{call.ctx.command} unsubscribe ID, or combine topics with OR.",
                ok=False,
            )
        if channel.since_day is None and channel.last_run_at is None:
            newest = await self._store.featured_days(1)
            channel = await self._store.update_channel(
                channel, since_day=newest[0] if newest else None, last_run_at=now
            )
        self._on_schedule_change(channel)
        if seeds:
            self.ratings.changed(channel)  # a like: seed counts as liked
        hits = len(await self._recent_matches(query, seeds))
        when = self._when(channel)
        return Reply(
            f"Subscribed as #{sub.id}: {query.text}\n"
            f"It would have matched {plural(hits, 'paper')} in the last {PREVIEW_DAYS} days of the digest. "
            f"Papers arrive {when}.",
            announcement=f"subscribed this channel to #{sub.id}: {query.text}",
        )

    async def cmd_unsubscribe(self, call: _Call) -> Reply:
        target = call.args.lower().lstrip("#")
        if not target or not (target == "all" or target.isdigit()):
            return _usage(call)
        channel = await self._store.channel(call.ctx.key)
        subs = await self._store.subscriptions(channel.id) if channel else []
        chosen = subs if target == "all" else [s for s in subs if str(s.id) == target]
        if not chosen:
            if target == "all":
                return Reply("This channel has no subscriptions.", ok=False)
            return Reply(f"This channel has no subscription #{echo(target)}. /{call.ctx.command} list shows the ids.", ok=False)
        if not call.ctx.can_manage and any(s.created_by != call.ctx.user for s in chosen):
            return self._refuse(call)
        assert channel is not None
        await self._store.remove_subscriptions(channel.id, [s.id for s in chosen])
        if len(chosen) == len(subs):
            self._on_schedule_change(channel)
        what = ", ".join(f"#{s.id} ({s.query})" for s in chosen)
        return Reply(f"Unsubscribed {what}.", announcement=f"unsubscribed this channel from {what}")

    async def cmd_list(self, call: _Call) -> Reply:
        channel = await self._store.channel(call.ctx.key)
        subs = await self._store.subscriptions(channel.id) if channel else []
        if channel is None or not subs:
            return Reply(f"This channel has no subscriptions yet. Start with /{call.ctx.command} subscribe QUERY.")
        lines = [f"#{s.id}  {s.query}  (by {s.author}, {s.created_at:%Y-%m-%d})" for s in subs]
        lines.append(
            f"Delivery: {self._when(channel)}; at most {channel.max_papers} papers a post; "
            f"minimum upvotes {channel.min_upvotes}; up to {channel.suggestions} suggestions."
        )
        if channel.paused_reason:
            lines.append(f"Paused: {channel.paused_reason}. /{call.ctx.command} resume restarts it.")
        return Reply("\n".join(lines))

    async def cmd_preview(self, call: _Call) -> Reply:
        if not call.args:
            return _usage(call)
        try:
            query = self._parse(call.args)
        except QueryError as err:
            return Reply(f"That query does not parse: {err}", ok=False)
        seeds = await self._seeds(query, call.ctx.command)
        if isinstance(seeds, Reply):
            return seeds
        items = await self._recent_matches(query, seeds)
        if not items and not self._started.is_set():
            return Reply("The digest is still being fetched after start-up; try the preview again in a minute.")
        if not items:
            return Reply(f"No paper of the last {PREVIEW_DAYS} days of the digest matches {query.text}.")
        extra = f", the best {PREVIEW_SHOWN} below" if len(items) > PREVIEW_SHOWN else ""
        return Reply(
            f"{plural(len(items), 'paper')} of the last {PREVIEW_DAYS} days match {query.text}{extra}:",
            items=tuple(items[:PREVIEW_SHOWN]),
        )

    async def cmd_schedule(self, call: _Call) -> Reply:
        parts = call.args.split()
        if not 1 <= len(parts) <= 2:
            return _usage(call)
        if not call.ctx.can_manage:
            return self._refuse(call)
        try:  # _echo never shortens a real time or zone name (the longest is 32 characters)
            time = parse_clock(echo(parts[0]))
            channel = await self._store.channel(call.ctx.key)
            default_tz = channel.tz if channel else self._settings.default_tz
            tz = parse_zone(echo(parts[1])) if len(parts) == 2 else default_tz
        except ValueError as err:
            return Reply(f"{err}. {usage('schedule', call.ctx.command)}", ok=False)
        channel = await self._store.update_channel(await self._channel(call), time=time, tz=tz)
        self._on_schedule_change(channel)
        return Reply(f"The daily digest now arrives at {time} {tz}.", announcement=f"set the daily digest to {time} {tz}")

    async def cmd_mode(self, call: _Call) -> Reply:
        mode, *rest = call.args.lower().split() or [""]
        if mode not in BY_NAME["mode"].params[0].choices or len(rest) > (mode == "weekly"):
            return _usage(call)
        day = rest[0] if rest else "monday"
        if day not in WEEKDAYS:
            return Reply(f"'{echo(day)}' is not a day of the week: use one of {', '.join(WEEKDAYS)}.", ok=False)
        if not call.ctx.can_manage:
            return self._refuse(call)
        channel = await self._store.update_channel(await self._channel(call), mode=mode, weekday=day)
        self._on_schedule_change(channel)
        when = {
            "instant": "new matches after each poll",
            "daily": f"one digest a day at {channel.time} {channel.tz}",
        }.get(mode, f"one digest a week, {self._when(channel)}")
        return Reply(f"Mode set to {mode}: {when}.", announcement=f"set delivery to {mode}")

    async def cmd_settings(self, call: _Call) -> Reply:
        try:
            words = shlex.split(call.args)
        except ValueError:
            words = []
        if len(words) != 2 or words[0] not in NUMBER_LIMITS:
            return _usage(call)
        name, raw = words
        low, high = NUMBER_LIMITS[name]
        if not (raw.isascii() and raw.isdigit() and len(raw) <= 6) or not low <= int(raw) <= high:
            return Reply(f"{name} takes a whole number from {low} to {high}, got '{echo(raw)}'.", ok=False)
        if not call.ctx.can_manage:
            return self._refuse(call)
        column = name.replace("-", "_")
        await self._store.update_channel(await self._channel(call), **{column: int(raw)})
        return Reply(f"{name} is now {int(raw)}.", announcement=f"set {name} to {int(raw)}")

    async def cmd_digest(self, call: _Call) -> Reply:
        channel = await self._store.channel(call.ctx.key)
        if channel is None or not await self._store.subscriptions(channel.id):
            return Reply(f"This channel has no subscriptions yet. Start with /{call.ctx.command} subscribe QUERY.", ok=False)
        if channel.paused_reason:
            return Reply(f"This channel is paused ({channel.paused_reason}). /{call.ctx.command} resume restarts it.", ok=False)
        posted = await self._delivery.deliver([channel])
        if posted:
            return Reply(f"Posted {plural(posted, 'paper')}.")
        after = await self._store.channel(call.ctx.key)
        if after is not None and after.paused_reason:
            return Reply(f"Could not post here: {after.paused_reason}. Fix that, then /{call.ctx.command} resume.", ok=False)
        if await self._store.open_digests(channel.id):
            return Reply("The digest could not be posted yet; it will be retried at the next poll.", ok=False)
        return Reply("Nothing new: no paper featured since the last digest matches this channel's subscriptions.")

    async def cmd_status(self, call: _Call) -> Reply:
        now = self._clock()
        channel = await self._store.channel(call.ctx.key)
        lines = await source_report(self._store, now) + await channel_report(self._store, channel, now, call.ctx.command)
        return Reply("\n".join(lines))
    async def cmd_like(self, call: _Call) -> Reply:
        return await rating_commands.cmd_rate(self, call, 1)

    async def cmd_dislike(self, call: _Call) -> Reply:
        return await rating_commands.cmd_rate(self, call, -1)

    async def cmd_unrate(self, call: _Call) -> Reply:
        return await rating_commands.cmd_rate(self, call, 0)

    async def cmd_taste(self, call: _Call) -> Reply:
        return await rating_commands.cmd_taste(self, call)

    async def rate(self, ctx: CommandContext, paper_id: str, vote: int) -> Reply:
        """A 👍 (+1) or 👎 (-1) button: the same again takes the rating back, the other replaces it."""
        if vote not in (1, -1):
            return Reply("A rating is 👍 or 👎.", ok=False)
        return await rating_commands.rate(self, ctx, paper_id, vote, toggle=True)

    async def cmd_pause(self, call: _Call) -> Reply:
        if not call.ctx.can_manage:
            return self._refuse(call)
        channel = await self._channel(call)
        if channel.paused_reason:
            return Reply(f"Already paused ({channel.paused_reason}).")
        who = call.ctx.user_name or call.ctx.user
        await self._store.update_channel(channel, paused_reason=f"paused by {who}")
        return Reply(f"Paused: no digests here until /{call.ctx.command} resume.", announcement="paused the digest here")

    async def cmd_resume(self, call: _Call) -> Reply:
        if not call.ctx.can_manage:
            return self._refuse(call)
        channel = await self._channel(call)
        if channel.paused_reason is None:
            return Reply("This channel is not paused.")
        await self._store.update_channel(channel, paused_reason=None)
        await self._delivery.send_open()
        return Reply("Resumed: digests will arrive here again.", announcement="resumed the digest here")


_HANDLERS: dict[str, Handler] = {spec.name: getattr(Commands, f"cmd_{spec.name}") for spec in COMMANDS}
