"""The 👍/👎 buttons under each paper of a digest, still working after a restart.

Each button's custom id carries the vote and the paper (`bot.adapter.rate_id`), so a click
needs nothing remembered: a `DynamicItem` registered at start matches any such id on any
message, old or new, and hands the click to the host. The clicker alone sees the answer.
"""

from __future__ import annotations

from typing import Any

import discord

from adapters.discord.commands import context
from adapters.discord.render import LIMITS, NO_MENTIONS, fit
from bot.adapter import RATE_ID, Host, parse_rate_id

PAIRS_PER_ROW = 2  # a row holds 5 buttons: two papers' pairs, so ten papers fill the 5 rows


def rating_view(buttons: tuple[tuple[str, str], ...]) -> discord.ui.View:
    """The buttons of one message, in rows of two papers."""
    view = discord.ui.View(timeout=None)
    for n, (custom_id, label) in enumerate(buttons):
        style = discord.ButtonStyle.success if n % 2 == 0 else discord.ButtonStyle.secondary
        view.add_item(discord.ui.Button(label=label, custom_id=custom_id, style=style, row=n // (2 * PAIRS_PER_ROW)))
    return view


def rate_button(host: Host) -> type[discord.ui.DynamicItem[discord.ui.Button[Any]]]:
    """The dynamic item answering every rating button, for `Client.add_dynamic_items`."""

    class RateButton(discord.ui.DynamicItem[discord.ui.Button[Any]], template=RATE_ID.pattern):
        def __init__(self, custom_id: str) -> None:
            super().__init__(discord.ui.Button(custom_id=custom_id))

        @classmethod
        async def from_custom_id(
            cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: Any
        ) -> RateButton:
            return cls(str(getattr(item, "custom_id", "")))

        async def callback(self, interaction: discord.Interaction) -> None:
            found = parse_rate_id(self.custom_id)
            if found is None:
                return
            reply = await host.rate(context(interaction), found[1], found[0])
            await interaction.response.send_message(
                fit(reply.text, LIMITS.text_chars), ephemeral=True, allowed_mentions=NO_MENTIONS
            )

    return RateButton
