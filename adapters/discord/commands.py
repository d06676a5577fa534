"""`/papers` as a Discord slash command group, mapped onto the core's command handler.

Each subcommand builds the text a console user would type and hands it to
`Commands.handle`, so every platform answers alike. Answers go to the caller only
(ephemeral); a change to the channel also leaves a short public note naming who made
it. The group asks Discord to show it to members with Manage Channels by default, a
setting server admins can widen: the core checks the permission again on every change.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Literal

import discord
from discord import app_commands

from adapters.discord.render import NO_MENTIONS, announcement, reply_parts
from bot.config import zone_names
from bot.models import ChannelKey, CommandContext

if TYPE_CHECKING:
    from bot.core import Core

log = logging.getLogger(__name__)

MAX_CHOICES = 25  # Discord shows at most 25 autocomplete choices
CHOICE_CHARS = 100


def channel_key(interaction: discord.Interaction) -> ChannelKey:
    return ChannelKey("discord", str(interaction.guild_id), str(interaction.channel_id))


def context(interaction: discord.Interaction) -> CommandContext:
    return CommandContext(
        channel_key(interaction),
        user=str(interaction.user.id),
        can_manage=interaction.permissions.manage_channels,
        user_name=interaction.user.display_name,
    )


def zone_choices(current: str) -> list[app_commands.Choice[str]]:
    """Time zones containing what was typed, those where a part starts with it first."""
    wanted = current.strip().lower().replace(" ", "_")
    found = [zone for zone in zone_names() if wanted in zone.lower()]
    found.sort(key=lambda zone: (not any(p.lower().startswith(wanted) for p in (zone, *zone.split("/"))), zone))
    return [app_commands.Choice(name=zone, value=zone) for zone in found[:MAX_CHOICES]]


class Papers(app_commands.Group):
    def __init__(self, core: Core) -> None:
        super().__init__(
            name="papers",
            description="Hugging Face Daily Papers digests for this channel",
            guild_only=True,
            allowed_contexts=app_commands.AppCommandContext(guild=True),
            default_permissions=discord.Permissions(manage_channels=True),
        )
        self._core = core

    async def _run(self, interaction: discord.Interaction, *words: str | None) -> None:
        """Answer within Discord's 3 seconds by deferring, then show the core's reply."""
        await interaction.response.defer(ephemeral=True, thinking=True)
        reply = await self._core.commands.handle(context(interaction), " ".join(w for w in words if w))
        for part in reply_parts(reply):
            await interaction.followup.send(
                part.content or discord.utils.MISSING,
                embeds=list(part.embeds),
                ephemeral=True,
                allowed_mentions=NO_MENTIONS,
            )
        if reply.announcement:
            await interaction.followup.send(
                announcement(interaction.user.mention, reply.announcement), allowed_mentions=NO_MENTIONS
            )

    @app_commands.command(description="Follow a topic: matching papers are posted to this channel")
    @app_commands.describe(query='Words, "phrases", OR, -exclude, title:, author:, upvotes:>=N, has:code')
    async def subscribe(self, interaction: discord.Interaction, query: str) -> None:
        await self._run(interaction, "subscribe", query)

    @app_commands.command(description="Stop following one of this channel's subscriptions, or all")
    @app_commands.describe(subscription="Which one: pick from the list, or 'all'")
    async def unsubscribe(self, interaction: discord.Interaction, subscription: str) -> None:
        await self._run(interaction, "unsubscribe", subscription)

    @unsubscribe.autocomplete("subscription")
    async def _subscriptions(self, interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
        store = self._core.store
        channel = await store.channel(channel_key(interaction))
        subs = await store.subscriptions(channel.id) if channel else []
        if not subs:
            return []
        choices = [app_commands.Choice(name=f"all ({len(subs)} subscriptions)", value="all")] + [
            app_commands.Choice(name=f"#{s.id} {' '.join(s.query.split())}"[:CHOICE_CHARS], value=str(s.id))
            for s in subs
        ]
        wanted = current.strip().lower()
        return [c for c in choices if wanted in c.name.lower()][:MAX_CHOICES]

    @app_commands.command(name="list", description="This channel's subscriptions and settings")
    async def list_(self, interaction: discord.Interaction) -> None:
        await self._run(interaction, "list")

    @app_commands.command(description="The papers of the last 7 days a query would have caught")
    @app_commands.describe(query='Words, "phrases", OR, -exclude, title:, author:, upvotes:>=N, has:code')
    async def preview(self, interaction: discord.Interaction, query: str) -> None:
        await self._run(interaction, "preview", query)

    @app_commands.command(description="When the daily digest arrives here")
    @app_commands.describe(time="24-hour HH:MM, e.g. 09:00", timezone="e.g. Europe/Berlin (default: the channel's)")
    async def schedule(self, interaction: discord.Interaction, time: str, timezone: str | None = None) -> None:
        await self._run(interaction, "schedule", time, timezone)

    @schedule.autocomplete("timezone")
    async def _zones(self, interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
        return zone_choices(current)

    @app_commands.command(description="One digest a day, or new matches as they appear")
    @app_commands.describe(mode="daily: one digest at the scheduled time; instant: new matches after each poll")
    async def mode(self, interaction: discord.Interaction, mode: Literal["daily", "instant"]) -> None:
        await self._run(interaction, "mode", mode)

    @app_commands.command(description="Change a delivery setting of this channel")
    @app_commands.describe(
        setting="min-upvotes: skip papers with fewer; max-papers: most papers in one digest",
        value="The new number (max-papers: 1 to 50)",
    )
    async def settings(
        self,
        interaction: discord.Interaction,
        setting: Literal["min-upvotes", "max-papers"],
        value: app_commands.Range[int, 0, 100_000],
    ) -> None:
        await self._run(interaction, "settings", setting, str(value))

    @app_commands.command(description="Post what is due for this channel now")
    async def digest(self, interaction: discord.Interaction) -> None:
        await self._run(interaction, "digest")

    @app_commands.command(description="Stop posting digests here until resumed")
    async def pause(self, interaction: discord.Interaction) -> None:
        await self._run(interaction, "pause")

    @app_commands.command(description="Start posting digests here again")
    async def resume(self, interaction: discord.Interaction) -> None:
        await self._run(interaction, "resume")

    @app_commands.command(name="help", description="What each /papers command does")
    async def help_(self, interaction: discord.Interaction) -> None:
        await self._run(interaction, "help")


class PapersTree(app_commands.CommandTree):
    async def on_error(self, interaction: discord.Interaction, error: app_commands.AppCommandError) -> None:
        """Log the failure and tell the caller, instead of Discord's bare "did not respond"."""
        log.error("/papers failed in %s", channel_key(interaction), exc_info=error)
        text = "Sorry, that failed on Paperboy's side; the bot's log has the details."
        try:
            if interaction.response.is_done():
                await interaction.followup.send(text, ephemeral=True, allowed_mentions=NO_MENTIONS)
            else:
                await interaction.response.send_message(text, ephemeral=True, allowed_mentions=NO_MENTIONS)
        except discord.HTTPException:
            log.warning("could not tell the caller in %s about the failure", channel_key(interaction))
