"""The chat platforms Paperboy can serve, and how each is switched on.

Adding a platform is one package here with `create(env) -> Adapter` and one line in
`REGISTRY`; it must pass tests/contract. Modules are imported only when their platform
is configured, so the CLI starts fast and a platform's library is never loaded for nothing.
This is also the composition root: `main` hands the registry to the platform-free CLI.
"""

from __future__ import annotations

from collections.abc import Sequence

from bot.adapter import AdapterSpec

REGISTRY: tuple[AdapterSpec, ...] = (
    AdapterSpec("slack", "adapters.slack", ("SLACK_BOT_TOKEN", "SLACK_CLIENT_ID")),
    AdapterSpec(
        "discord",
        "adapters.discord",
        ("DISCORD_TOKEN",),
        {"discord-invite": "print the URL that invites the bot to a Discord server"},
    ),
    AdapterSpec("telegram", "adapters.telegram", ("TELEGRAM_BOT_TOKEN",)),
    AdapterSpec("console", "adapters.console"),
)


def main(argv: Sequence[str] | None = None) -> int:
    from bot.cli import main as cli

    return cli(REGISTRY, argv)
