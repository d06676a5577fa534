"""`/papers` as a Discord slash command group, built from the core's command table.

Each subcommand gets one typed option per `Param` of `bot.commandset.COMMANDS`, and
hands the words a console user would type to the host, so every platform answers
alike. Answers go to the caller only (ephemeral); a change to the channel also leaves a
short public note naming who made it. The group asks Discord to show it to members with
Manage Channels by default, a setting server admins can widen: the core checks the
permission again on every change.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Awaitable, Callable
from typing import Any, Literal

import discord
from discord import app_commands

from adapters.discord.render import NO_MENTIONS, announcement, reply_parts
from bot.adapter import Host
from bot.commandset import COMMANDS, CommandSpec, Param
from bot.config import zone_names
from bot.models import ChannelKey, CommandContext

log = logging.getLogger(__name__)

MAX_CHOICES = 25  # Discord shows at most 25 autocomplete choices
Choices = list[app_commands.Choice[str]]


def channel_key(interaction: discord.Interaction) -> ChannelKey:
    return ChannelKey("discord", str(interaction.guild_id), str(interaction.channel_id))


def context(interaction: discord.Interaction) -> CommandContext:
    return CommandContext(
        channel_key(interaction),
        user=str(interaction.user.id),
        can_manage=interaction.permissions.manage_channels,
        user_name=interaction.user.display_name,
    )


def zone_choices(current: str) -> Choices:
    """Time zones containing what was typed, those where a part starts with it first."""
    wanted = current.strip().lower().replace(" ", "_")
    found = [zone for zone in zone_names() if wanted in zone.lower()]
    found.sort(key=lambda zone: (not any(p.lower().startswith(wanted) for p in (zone, *zone.split("/"))), zone))
    return [app_commands.Choice(name=zone, value=zone) for zone in found[:MAX_CHOICES]]


def _annotation(param: Param) -> Any:
    if param.kind == "choice":
        return Literal[param.choices]
    if param.kind == "number":
        return app_commands.Range[int, param.low, param.high]
    return str


def _autocomplete(param: Param, host: Host) -> Callable[[discord.Interaction, str], Awaitable[Choices]] | None:
    if param.kind == "zone":
        async def zones(interaction: discord.Interaction, current: str) -> Choices:
            return zone_choices(current)
        return zones
    if param.kind == "subscription":
        async def subscriptions(interaction: discord.Interaction, current: str) -> Choices:
            wanted = current.strip().lower()
            found = await host.subscription_choices(channel_key(interaction))
            return [app_commands.Choice(name=name, value=value) for name, value in found if wanted in name.lower()][
                :MAX_CHOICES
            ]
        return subscriptions
    return None


async def answer(host: Host, interaction: discord.Interaction, text: str) -> None:
    """Answer within Discord's 3 seconds by deferring, then show the core's reply."""
    await interaction.response.defer(ephemeral=True, thinking=True)
    reply = await host.handle(context(interaction), text)
    for part in reply_parts(reply):
        await interaction.followup.send(
            part.content or discord.utils.MISSING, embeds=list(part.embeds), ephemeral=True, allowed_mentions=NO_MENTIONS
        )
    if reply.announcement:
        await interaction.followup.send(
            announcement(interaction.user.mention, reply.announcement), allowed_mentions=NO_MENTIONS
        )


def subcommand(spec: CommandSpec, host: Host, parent: app_commands.Group) -> app_commands.Command[Any, ..., None]:
    """One subcommand whose options are the spec's params, in order."""

    async def callback(interaction: discord.Interaction, **options: object) -> None:
        words = [spec.name, *(str(options[p.name]) for p in spec.params if options.get(p.name) is not None)]
        await answer(host, interaction, " ".join(words))

    callback.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        [inspect.Parameter("interaction", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=discord.Interaction)]
        + [
            inspect.Parameter(
                p.name, inspect.Parameter.KEYWORD_ONLY, annotation=_annotation(p),
                default=inspect.Parameter.empty if p.required else None,
            )
            for p in spec.params
        ]
    )
    if spec.params:
        app_commands.describe(**{p.name: p.description[:100] for p in spec.params})(callback)
        completers = {p.name: found for p in spec.params if (found := _autocomplete(p, host))}
        if completers:
            app_commands.autocomplete(**completers)(callback)
    return app_commands.Command(name=spec.name, description=(spec.summary[:1].upper() + spec.summary[1:])[:100], callback=callback,
                                parent=parent)


def papers_group(host: Host) -> app_commands.Group:
    group = app_commands.Group(
        name="papers",
        description="Hugging Face Daily Papers digests for this channel",
        guild_only=True,
        allowed_contexts=app_commands.AppCommandContext(guild=True),
        default_permissions=discord.Permissions(manage_channels=True),
    )
    for spec in COMMANDS:
        group.add_command(subcommand(spec, host, group))
    return group


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
