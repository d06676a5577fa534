"""The fake Discord's own contract, which the adapter tests and the fan-out benchmark rely on."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest

from tests.fakes.discord_api import FakeDiscord, Fault
from tests.support import VirtualTime


@pytest.fixture
def ticks() -> VirtualTime:
    return VirtualTime()


@pytest.fixture
async def limited(ticks: VirtualTime) -> AsyncIterator[FakeDiscord]:
    fake = FakeDiscord(global_limit=50, channel_limit=(5, 5.0), clock=ticks.clock)
    await fake.start()
    yield fake
    await fake.close()


@pytest.fixture
async def http(limited: FakeDiscord) -> AsyncIterator[aiohttp.ClientSession]:
    headers = {"Authorization": f"Bot {limited.token}"}
    async with aiohttp.ClientSession(base_url=limited.base, headers=headers) as session:
        yield session


def post(http: aiohttp.ClientSession, channel: int, **payload: object) -> aiohttp.client._RequestContextManager:
    return http.post(f"/api/v10/channels/{channel}/messages", json={"content": "hi", **payload})


async def test_answers_carry_exactly_the_json_content_type(http: aiohttp.ClientSession) -> None:
    async with http.get("/api/v10/users/@me") as answer:
        assert answer.headers["Content-Type"] == "application/json"
        assert (await answer.json())["bot"] is True


async def test_a_wrong_token_is_401_and_counts_as_invalid(limited: FakeDiscord) -> None:
    async with (
        aiohttp.ClientSession(base_url=limited.base) as anonymous,
        anonymous.get("/api/v10/users/@me", headers={"Authorization": "Bot nope"}) as answer,
    ):
        assert answer.status == 401
    assert limited.invalid_requests == 1


async def test_the_global_limit_answers_429_with_via_and_a_json_retry_after(
    limited: FakeDiscord, http: aiohttp.ClientSession, ticks: VirtualTime
) -> None:
    for n in range(50):
        async with post(http, 1000 + n) as answer:  # a channel each: only the global limit applies
            assert answer.status == 200
    ticks.at(0.25)
    async with post(http, 2000) as answer:
        assert answer.status == 429
        assert answer.headers["Via"] and answer.headers["X-RateLimit-Global"] == "true"
        assert answer.headers["Content-Type"] == "application/json"
        assert await answer.json() == {"message": "You are being rate limited.", "retry_after": 0.75, "global": True}
    ticks.at(1.0)
    async with post(http, 2000) as answer:
        assert answer.status == 200


async def test_each_channel_has_its_own_bucket(http: aiohttp.ClientSession, ticks: VirtualTime) -> None:
    remaining = []
    for _ in range(5):
        async with post(http, 7) as answer:
            remaining.append(answer.headers["X-RateLimit-Remaining"])
            assert answer.headers["X-RateLimit-Bucket"] == "messages-create"
    assert remaining == ["4", "3", "2", "1", "0"]
    async with post(http, 7) as answer:
        assert answer.status == 429 and (await answer.json())["global"] is False
    async with post(http, 8) as answer:
        assert answer.status == 200
    ticks.at(5.0)
    async with post(http, 7) as answer:
        assert answer.status == 200


async def test_an_enforced_nonce_returns_the_first_message_for_a_few_minutes(
    limited: FakeDiscord, http: aiohttp.ClientSession, ticks: VirtualTime
) -> None:
    ids = []
    for now in (0.0, 1.0, 301.0):
        ticks.at(now)
        async with post(http, 9, nonce="pb1.0", enforce_nonce=True) as answer:
            ids.append((await answer.json())["id"])
    assert ids[0] == ids[1] != ids[2]
    assert len(limited.posts(9)) == 2


async def test_faults_answer_first_then_run_out(limited: FakeDiscord, http: aiohttp.ClientSession) -> None:
    limited.faults.append(Fault.rate_limited(r"POST /channels/\d+/messages", via=False))
    async with post(http, 10) as answer:
        assert answer.status == 429 and "Via" not in answer.headers
    async with post(http, 10) as answer:
        assert answer.status == 200
    assert limited.invalid_requests == 1


async def test_history_is_newest_first_without_nonces_and_pages_with_limit_and_before(
    limited: FakeDiscord, http: aiohttp.ClientSession
) -> None:
    for n in range(3):
        async with post(http, 9, content=f"m{n}", nonce=f"pb1.{n}", enforce_nonce=True) as answer:
            assert answer.status == 200
    url = "/api/v10/channels/9/messages"
    async with http.get(url, params={"limit": "2"}) as answer:
        newest = await answer.json()
    assert [m["content"] for m in newest] == ["m2", "m1"]
    assert all("nonce" not in m and "allowed_mentions" not in m for m in newest)
    async with http.get(url, params={"before": newest[-1]["id"]}) as answer:
        assert [m["content"] for m in await answer.json()] == ["m0"]
    async with http.get(url, params={"limit": "101"}) as answer:
        assert answer.status == 400
