"""The contract between the core and a chat platform.

An adapter turns platform events into neutral commands for its `Host`, and a neutral
`Digest` into platform messages. It declares its platform's limits and rates as data
(`PlatformLimits`), renders, and posts one message at a time; the core does the rest
once for every platform (`bot.sending`): packing, pacing, retries with backoff, the
ledger of parts, and the rule for sends that may or may not have gone out.

The rule for uncertain sends. A post that failed without an answer (a timeout, a
dropped connection, a 5xx, a crash mid-request) may have been stored by the platform.
- A platform that can tell (`verifies_sends = True`) must implement `find`: before such
  a part is posted again, the core asks it for the parts already there by their keys
  (Slack: message metadata; Discord: the key in the message and its nonce).
- A platform that cannot tell (`verifies_sends = False`, e.g. Telegram, whose bots
  cannot read history) gets at-most-once: the part in doubt is never posted again. It is
  recorded as `UNCONFIRMED` and the rest of the digest follows. A reader may miss one
  message after a crash; nobody ever sees a paper twice.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from bot.models import ChannelKey, CommandContext, Digest, Reply
from bot.pacing import Rate

UNCONFIRMED = "unconfirmed"  # the ref recorded for a part that may or may not have been posted


@dataclass(frozen=True, slots=True)
class PlatformLimits:
    """Hard limits and rates of one platform's messages, read by the core's packing and pacing."""

    text_chars: int  # one block of text (a Slack section, a Discord or Telegram message)
    items_per_message: int  # papers in one message
    chars_per_message: int  # everything in one message
    rates: tuple[Rate, ...] = field(default=())


@dataclass(slots=True)
class Outbox:
    """One digest's send state, so a send can resume after a crash without posting twice.

    `sent` holds the parts already recorded with their platform reference. `uncertain`
    means an earlier attempt was cut off while a post was in flight: the first part not in
    `sent` may be on the platform. `key` is stable across restarts; `part_key(i)` goes on
    the wire.
    """

    key: str
    sent: dict[int, str]
    uncertain: bool
    record: Callable[[int, str], Awaitable[None]]

    def part_key(self, part: int) -> str:
        return f"{self.key}.{part}"


class ChannelGone(Exception):
    """The platform says we can no longer post here (removed, archived, no permission)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class AdapterStopped(Exception):
    """The adapter's credentials are no longer valid: stop this adapter, keep the others."""


class SendFailed(Exception):
    """A transient failure: the post is retried with backoff, then the digest waits for the next poll.

    `uncertain` when the platform may have acted on the call anyway; `retry_after` when it
    said how long to wait.
    """

    def __init__(self, reason: str, *, uncertain: bool = False, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.uncertain = uncertain
        self.retry_after = retry_after


class Installations(Protocol):
    """A platform's installations per workspace, as opaque secrets the adapter encrypted
    (`bot.store.installations.InstallationBook`): the core neither reads nor decrypts them."""

    async def save_installation(
        self, platform: str, workspace: str, secrets: Mapping[tuple[str, str], str], now: datetime
    ) -> None: ...

    async def installation(self, platform: str, workspace: str, kind: str, user_id: str = "") -> str | None: ...

    async def delete_installation(
        self, platform: str, workspace: str, kind: str, user_id: str | None = None
    ) -> None: ...


class Host(Protocol):
    """What the core offers an adapter: commands, a channel's subscriptions, pacing, a workspace's end."""

    async def handle(self, ctx: CommandContext, text: str) -> Reply:
        """Run one `/papers` command line; answers at once, from the store."""

    async def rate(self, ctx: CommandContext, paper_id: str, vote: int) -> Reply:
        """A click on a paper's 👍 (+1) or 👎 (-1) button: the same again takes it back, the other
        replaces it. The reply is a short confirmation for the clicker only."""

    async def subscription_choices(self, key: ChannelKey) -> list[tuple[str, str]]:
        """(label, value) pairs of the channel's subscriptions, for autocomplete."""

    async def pace(self, key: ChannelKey) -> None:
        """Wait for a free slot under the platform's rates before a post that is not a digest part."""

    async def wait_started(self) -> None:
        """Until the start-up catch-up is done (for scripted sessions; commands never need it)."""

    def web_routes(self, port: int) -> list[Any]:
        """aiohttp routes (`/healthz`, `/metrics`) for an adapter's own HTTP server on `port`: empty unless
        PAPERBOY_HTTP_PORT is that port. An adapter that serves HTTP declares `http_port` (the port it
        will listen on) so the core does not listen there itself, and mounts these routes."""

    async def workspace_gone(self, platform: str, workspace: str, reason: str) -> None:
        """Pause every channel of a workspace the bot can no longer post to (the app was uninstalled there)."""

    @property
    def installations(self) -> Installations:
        """Where an adapter installed into many workspaces keeps their tokens, in Paperboy's database."""


# Rating buttons: a digest shows a 👍 and a 👎 under every paper; each button's id (Discord custom_id,
# Slack action_id, Telegram callback_data) carries the vote and the paper, so a click needs no state
# and still works after a restart. At most 45 characters: within every platform's limit (Telegram 64 bytes).
RATE_PREFIX = "pb:"
RATE_ID = re.compile(r"pb:([+-]):([A-Za-z0-9][A-Za-z0-9._-]{0,39})")


def rate_id(vote: int, paper_id: str) -> str | None:
    """The id of a paper's 👍 (+1) or 👎 (-1) button; None when the paper's id cannot be carried."""
    found = f"{RATE_PREFIX}{'+' if vote > 0 else '-'}:{paper_id}"
    return found if RATE_ID.fullmatch(found) else None


def parse_rate_id(text: str) -> tuple[int, str] | None:
    """(vote, paper id) from a button's id; None when it is not a rating button."""
    found = RATE_ID.fullmatch(text)
    return (1 if found[1] == "+" else -1, found[2]) if found else None


class Adapter(Protocol):
    platform: str
    limits: PlatformLimits
    verifies_sends: bool

    async def run(self, host: Host) -> None:
        """Serve commands until stopped; returning means this adapter is finished."""

    def render_digest(self, digest: Digest) -> Sequence[Any]:
        """The digest as platform messages, a pure function of the digest."""

    async def post(self, key: ChannelKey, message: Any, part_key: str, reply_to: str | None) -> str:
        """Post one message (a reply to `reply_to`, the first part's ref, when given); return its ref.

        Raises ChannelGone, AdapterStopped or SendFailed.
        """

    async def find(self, key: ChannelKey, part_keys: Sequence[str], reply_to: str | None) -> dict[str, str]:
        """Refs of the parts already on the platform, by part key; only called when `verifies_sends`."""

    async def close(self) -> None:
        """Release connections; called once on shutdown."""


@dataclass(frozen=True, slots=True)
class AdapterSpec:
    """One registry line: a platform's module (imported only when used) and what switches it on.

    The module has `create(env) -> Adapter`, and `command(name, env) -> exit code` for any
    CLI commands it adds. Any variable of `token_env` set switches it on (a platform may
    have more than one way to run, e.g. Slack's one bot token or its OAuth app); with none
    it is the fallback that runs when no chat platform is configured (the console).
    """

    name: str
    module: str
    token_env: tuple[str, ...] = ()
    commands: Mapping[str, str] = field(default_factory=dict)  # CLI name -> "help text"

    def enabled(self, env: Mapping[str, str]) -> bool:
        return any(env.get(name, "").strip() for name in self.token_env)

    def load(self, env: Mapping[str, str]) -> Adapter:
        return importlib.import_module(self.module).create(env)  # type: ignore[no-any-return]

    def command(self, name: str, env: Mapping[str, str]) -> int:
        return int(importlib.import_module(self.module).command(name, env))
