"""The Discord adapter: `/papers` slash commands in, digests out as embeds with 👍/👎 buttons (discord.py).

It needs no privileged intent: commands arrive as interactions over the gateway and
digests go out over REST, so a digest can be sent as soon as the token is accepted. The
client is discord.py's AutoShardedClient: a guild's commands arrive on the shard that
holds it (so on the worker running that shard), while any worker may post anywhere.
Discord's answers become the core's errors: 403 (Missing Access, Missing Permissions)
and 404 (Unknown Channel) pause the channel, 401 stops this adapter and leaves the
others running, and anything else after discord.py's own retries is retried later.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

import aiohttp
import discord

from adapters.discord.buttons import rate_button, rating_view
from adapters.discord.commands import PapersTree, papers_group
from adapters.discord.config import DiscordConfig, invite_url
from adapters.discord.guard import InvalidRequests
from adapters.discord.render import LIMITS, NO_MENTIONS, Part, digest_parts, key_of, with_key
from bot.adapter import AdapterStopped, ChannelGone, Host, SendFailed
from bot.backoff import Backoff
from bot.config import ConfigError
from bot.models import ChannelKey, Digest
from bot.pacing import REAL_TIME, Timing

log = logging.getLogger(__name__)

# Discord error codes that mean this channel is gone for us, with what /papers list shows.
GONE = {
    50001: "Discord says the bot cannot see this channel (Missing Access)",
    50013: "Discord says the bot may not post here (Missing Permissions): allow it Send Messages and Embed Links",
    10003: "Discord says this channel no longer exists (Unknown Channel)",
}
HISTORY = 50  # recent messages searched for a part in doubt
READY_WAIT = 60.0  # how long after start-up digests wait for the login, then they are left for the next poll
REJECTED = "Discord rejected DISCORD_TOKEN (401 Unauthorized): reset it on the application's Bot page"


class _Client(discord.AutoShardedClient):
    def __init__(self, on_login: Callable[[], Awaitable[None]], **options: Any) -> None:
        super().__init__(**options)
        self._on_login = on_login

    async def setup_hook(self) -> None:
        await self._on_login()


class DiscordAdapter:
    platform = "discord"
    limits = LIMITS
    # Each part carries its key in its last embed's footer, so `find` can look it up in the channel's
    # history; it also goes out as the nonce (discord.py adds enforce_nonce), so a re-post within
    # Discord's nonce window is answered with the first message.
    verifies_sends = True

    def __init__(
        self, config: DiscordConfig, guard: InvalidRequests | None = None, timing: Timing = REAL_TIME
    ) -> None:
        self._config = config
        self._guard = guard or InvalidRequests()
        self._timing = timing
        self.client = _Client(
            self._logged_in,
            intents=discord.Intents(guilds=True),
            http_trace=self._guard.trace_config(),
            shard_count=config.shard_count,
            shard_ids=list(config.shard_ids) if config.shard_ids is not None else None,
        )
        self._tree = PapersTree(self.client)
        self._login_over = asyncio.Event()  # set once logged in, or once login failed
        self._stopped: str | None = None
        self._ready_by: float | None = None

    async def run(self, host: Host) -> None:
        self.client.add_dynamic_items(rate_button(host))
        if self._config.guild_ids:
            self._tree.add_command(papers_group(host), guilds=[discord.Object(g) for g in self._config.guild_ids])
        else:
            self._tree.add_command(papers_group(host))
        self._ready_by = asyncio.get_running_loop().time() + READY_WAIT
        try:
            if await self._login():
                await self.client.connect(reconnect=True)  # discord.py retries an unreachable gateway itself
        except discord.LoginFailure:
            self._stopped = REJECTED
        except discord.ConnectionClosed as closed:
            if closed.code != 4004:  # the gateway's "authentication failed"
                raise
            self._stopped = REJECTED
        finally:
            self._stopped = self._stopped or "the Discord connection closed"
            self._login_over.set()
            await self.client.close()
        log.error("the Discord adapter stopped; the other adapters go on: %s", self._stopped)

    async def _login(self) -> bool:
        """Log in, retried with backoff (each wait logged) while Discord cannot be reached.
        A refused token (LoginFailure) is final; so is an answer no retry can change (False)."""
        backoff = Backoff(base=1.0, jitter=0.0)
        attempt = 0
        while True:
            try:
                await self.client.login(self._config.token)
                return True
            except discord.LoginFailure:
                raise
            except discord.HTTPException as err:
                if err.status < 500 and err.status != 429:
                    self._stopped = f"Discord refused the login ({err.status} {err.text})"
                    return False
                reason = f"Discord answered {err.status}"
            except (aiohttp.ClientError, OSError, TimeoutError) as err:
                reason = str(err) or type(err).__name__
            attempt += 1
            delay = backoff.delay(attempt)
            log.warning("Discord: cannot reach %s yet (%s); trying again in %.0f s", self._config.api_url, reason, delay)
            await self.client.http.close()  # login opens a new HTTP session each time; closing it
            self.client.http.connector = discord.utils.MISSING  # closed its connector too: login makes a new one
            await self._timing.sleep(delay)

    async def _logged_in(self) -> None:
        """Called by discord.py once the token is accepted, before the gateway connects."""
        self._login_over.set()
        if self.client.shard_count is None:
            # Discord's recommended count, asked here so that discord.py then connects to DISCORD_GATEWAY_URL
            # (left to itself it would take the gateway address from the same answer, bypassing a proxy).
            self.client.shard_count, _, _ = await self.client.http.get_bot_gateway()
        shards = self.client.shard_ids or range(self.client.shard_count)
        log.info("logged in to Discord as %s (application %s), shards %s of %s", self.client.user,
                 self.client.application_id, ",".join(map(str, shards)), self.client.shard_count)
        if self._config.guild_ids:
            for guild in self._config.guild_ids:
                await self._sync(discord.Object(guild), f"server {guild}")
        else:
            await self._sync(None, "all servers (global commands can take a while to show)")

    async def _sync(self, guild: discord.Object | None, where: str) -> None:
        try:
            await self._tree.sync(guild=guild)
        except discord.HTTPException as err:
            log.warning(
                "could not register /papers for %s (%s %s): invite the bot with the URL "
                "'paperboy discord-invite' prints", where, err.status, err.text,
            )
        else:
            log.info("registered /papers for %s", where)

    def render_digest(self, digest: Digest) -> Sequence[Part]:
        return digest_parts(digest)

    async def post(self, key: ChannelKey, message: Part, part_key: str, reply_to: str | None) -> str:
        await self._logged_in_or_stopped()
        if self._guard.tripped():
            raise SendFailed(f"{self._guard.count()} invalid requests to Discord in 10 minutes; waiting")
        channel = self.client.get_partial_messageable(int(key.channel), guild_id=int(key.workspace))
        message = with_key(message, part_key)
        view = rating_view(message.buttons) if message.buttons else None
        try:
            sent = await channel.send(
                message.content,
                embeds=list(message.embeds),
                nonce=part_key,
                allowed_mentions=NO_MENTIONS,
                view=view or discord.utils.MISSING,
            )
        except discord.HTTPException as err:
            raise await self._fault(err) from err
        except (aiohttp.ClientError, OSError, TimeoutError) as err:
            raise SendFailed(f"could not reach Discord: {err!r}", uncertain=True) from err
        finally:
            if view is not None:
                view.stop()  # clicks reach the dynamic item by custom id: keep no view per message in memory
        return str(sent.id)

    async def find(self, key: ChannelKey, part_keys: Sequence[str], reply_to: str | None) -> dict[str, str]:
        """The bot's own messages among the channel's last HISTORY that carry these keys.

        Without Read Message History (403) it cannot tell: it says so in the log and finds nothing,
        leaving the nonce to catch a re-post within Discord's window.
        """
        await self._logged_in_or_stopped()
        try:
            recent = await self.client.http.logs_from(int(key.channel), HISTORY)
        except discord.HTTPException as err:
            if err.status in (403, 404):
                log.warning("Discord: cannot read the history of %s (%s %s) to look for %s; "
                            "allow the bot Read Message History", key, err.status, err.text, ", ".join(part_keys))
                return {}
            raise await self._fault(err) from err
        except (aiohttp.ClientError, OSError, TimeoutError) as err:
            raise SendFailed(f"could not reach Discord: {err!r}", uncertain=True) from err
        me = str(self.client.user.id) if self.client.user else None
        wanted = set(part_keys)
        return {
            found: str(message["id"])
            for message in recent
            if str(message.get("author", {}).get("id")) == me and (found := key_of(message)) in wanted  # type: ignore[arg-type]
        }

    async def _logged_in_or_stopped(self) -> None:
        """Digests due at start-up wait for the login, until READY_WAIT after start; then SendFailed."""
        if not self._login_over.is_set():
            loop = asyncio.get_running_loop()
            left = READY_WAIT if self._ready_by is None else max(0.0, self._ready_by - loop.time())
            try:
                await asyncio.wait_for(self._login_over.wait(), left)
            except TimeoutError:
                raise SendFailed("Discord is not reachable yet; waiting for the login") from None
        if self._stopped:
            raise AdapterStopped(self._stopped)

    async def _fault(self, err: discord.HTTPException) -> Exception:
        if err.status == 401:
            self._stopped = REJECTED
            await self.client.close()  # ends run() with its one log line
            return AdapterStopped(REJECTED)
        if err.status in (403, 404) and err.code in GONE:
            return ChannelGone(GONE[err.code])
        return SendFailed(f"Discord answered {err.status} (code {err.code}): {err.text}", uncertain=err.status >= 500)

    async def close(self) -> None:
        await self.client.close()


def create(env: Mapping[str, str]) -> DiscordAdapter:
    config = DiscordConfig.from_env(env)
    config.apply()
    return DiscordAdapter(config)


async def _application_id(token: str) -> int:
    client = discord.Client(intents=discord.Intents(guilds=True))
    try:
        await client.login(token)
        assert client.application_id is not None
        return client.application_id
    finally:
        await client.close()


def command(name: str, env: Mapping[str, str]) -> int:
    """`paperboy discord-invite`: print the URL that adds the bot to a server, with what it needs."""
    try:
        config = DiscordConfig.from_env(env)
    except ConfigError as err:
        print(f"paperboy {name}: {err}", file=sys.stderr)
        return 1
    config.apply()
    try:
        application_id = asyncio.run(_application_id(config.token))
    except discord.LoginFailure:
        print(f"paperboy {name}: {REJECTED}", file=sys.stderr)
        return 1
    except (discord.HTTPException, aiohttp.ClientError, OSError) as err:
        print(f"paperboy {name}: could not ask Discord at {config.api_url} for the application: {err}", file=sys.stderr)
        return 1
    print(invite_url(application_id))
    return 0
