"""Discord shards: each worker runs some shards, gets its guilds' commands only, and posts anywhere."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import discord
import pytest
from discord.gateway import DiscordWebSocket

from adapters.discord import DiscordAdapter
from adapters.discord.config import DiscordConfig
from bot.config import ConfigError
from bot.models import ChannelKey
from tests.fakes.discord_api import FakeDiscord
from tests.support import MemoryOutbox, StubHost, send
from tests.test_discord import WAIT, digest_of

# A guild's shard is (guild_id >> 22) % shard_count: with two shards, these fall on 0 and 1.
ON_SHARD = {0: (1_000 << 22) + 7, 1: (1_001 << 22) + 7}
CHANNEL = {0: 1_200_000_000_000_000_001, 1: 1_200_000_000_000_000_002}


@pytest.fixture(autouse=True)
def _restore_addresses(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(discord.http.Route, "BASE", discord.http.Route.BASE)
    monkeypatch.setattr(DiscordWebSocket, "DEFAULT_GATEWAY", DiscordWebSocket.DEFAULT_GATEWAY)


def env(fake: FakeDiscord, **more: str) -> dict[str, str]:
    return {"DISCORD_TOKEN": fake.token, "DISCORD_API_URL": fake.api_url, "DISCORD_GATEWAY_URL": fake.gateway_url,
            "DISCORD_GUILD_IDS": ",".join(map(str, ON_SHARD.values())), **more}


@pytest.fixture
async def workers(fake: FakeDiscord) -> AsyncIterator[dict[int, tuple[DiscordAdapter, StubHost]]]:
    """Two workers of one bot, each running one of its two shards."""
    running: dict[int, tuple[DiscordAdapter, StubHost]] = {}
    tasks = []
    for shard in (0, 1):
        config = DiscordConfig.from_env(env(fake, DISCORD_SHARD_COUNT="2", DISCORD_SHARD_IDS=str(shard)))
        config.apply()
        adapter, host = DiscordAdapter(config), StubHost()
        tasks.append(asyncio.create_task(adapter.run(host)))
        running[shard] = (adapter, host)
    await fake.wait_for(lambda: fake.identified == 2, WAIT)
    yield running
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    for adapter, _ in running.values():
        await adapter.close()


async def test_each_worker_answers_the_commands_of_its_own_shards_guilds(
    fake: FakeDiscord, workers: dict[int, tuple[DiscordAdapter, StubHost]]
) -> None:
    assert sorted(shard for shard in fake.shards if shard) == [(0, 2), (1, 2)]
    for shard, guild in ON_SHARD.items():
        interaction = await fake.slash(guild, CHANNEL[shard], "list")
        await fake.wait_for(lambda answered=interaction: answered.ephemeral, WAIT)
        assert [ctx.key.workspace for ctx, _ in workers[shard][1].commands] == [str(guild)]
    assert [len(host.commands) for _, host in workers.values()] == [1, 1]


async def test_either_worker_posts_digests_to_any_guild(
    fake: FakeDiscord, workers: dict[int, tuple[DiscordAdapter, StubHost]]
) -> None:
    for worker, shard in ((0, 1), (1, 0)):  # each posts to the guild on the other's shard
        key = ChannelKey("discord", str(ON_SHARD[shard]), str(CHANNEL[shard]))
        await send(workers[worker][0], key, digest_of(2), MemoryOutbox())
    assert [len(fake.posts(CHANNEL[shard])) for shard in (0, 1)] == [1, 1]


async def test_unset_shards_are_discords_recommended_count_in_one_process(fake: FakeDiscord) -> None:
    fake.recommended_shards = 2
    config = DiscordConfig.from_env(env(fake))
    config.apply()
    adapter = DiscordAdapter(config)
    task = asyncio.create_task(adapter.run(StubHost()))
    try:
        await fake.wait_for(lambda: fake.identified == 1, WAIT)  # discord.py waits 5 s before the next IDENTIFY
        assert fake.shards == [(0, 2)]
        assert adapter.client.shard_count == 2
        assert ("GET", "/gateway/bot", 200) in fake.requests
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await adapter.close()


@pytest.mark.parametrize(
    ("count", "ids", "error"),
    [
        ("", "1", "DISCORD_SHARD_IDS needs DISCORD_SHARD_COUNT"),
        ("0", "", "DISCORD_SHARD_COUNT must be a whole number of shards from 1 to 65536, got '0'"),
        ("two", "", "DISCORD_SHARD_COUNT must be a whole number"),
        ("2", "2", "DISCORD_SHARD_IDS must be shard numbers from 0 to 1 separated by commas "
                   "(DISCORD_SHARD_COUNT is 2)"),
        ("4", "0;1", "DISCORD_SHARD_IDS must be shard numbers from 0 to 3"),
        ("4", "-1", "DISCORD_SHARD_IDS must be shard numbers from 0 to 3"),
    ],
)
def test_bad_shard_settings_are_one_line(count: str, ids: str, error: str) -> None:
    with pytest.raises(ConfigError) as raised:
        DiscordConfig.from_env({"DISCORD_TOKEN": "t", "DISCORD_SHARD_COUNT": count, "DISCORD_SHARD_IDS": ids})
    assert str(raised.value).startswith(error)
    assert "\n" not in str(raised.value)


def test_shard_settings_are_read() -> None:
    config = DiscordConfig.from_env({"DISCORD_TOKEN": "t", "DISCORD_SHARD_COUNT": "8", "DISCORD_SHARD_IDS": " 5, 4,"})
    assert (config.shard_count, config.shard_ids) == (8, (4, 5))
    assert DiscordConfig.from_env({"DISCORD_TOKEN": "t", "DISCORD_SHARD_COUNT": "3"}).shard_ids is None
