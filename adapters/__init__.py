"""The chat platforms Paperboy can serve, and how each is switched on.

Adding a platform is one module here with `create(env) -> Adapter` and one line in
`REGISTRY`. Modules are imported only when their platform is configured, so the
CLI starts fast and a platform's library is never loaded for nothing.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass, field

from bot.adapter import Adapter


@dataclass(frozen=True, slots=True)
class AdapterSpec:
    name: str
    module: str
    token_env: str
    commands: Mapping[str, str] = field(default_factory=dict)  # CLI name -> "help text"

    def load(self, env: Mapping[str, str]) -> Adapter:
        return importlib.import_module(self.module).create(env)  # type: ignore[no-any-return]


REGISTRY: tuple[AdapterSpec, ...] = (
    AdapterSpec("slack", "adapters.slack", "SLACK_BOT_TOKEN"),
    AdapterSpec(
        "discord",
        "adapters.discord",
        "DISCORD_TOKEN",
        {"discord-invite": "print the URL that invites the bot to a Discord server"},
    ),
)


def configured(env: Mapping[str, str]) -> list[AdapterSpec]:
    return [spec for spec in REGISTRY if env.get(spec.token_env, "").strip()]
