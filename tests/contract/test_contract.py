"""The adapter contract: every registered platform, against its own fake, passes the same tests.

A new platform is one package under adapters/, one registry line, and one
`harness_<name>.py` here; this suite then holds it to what every platform promises.
"""

from __future__ import annotations

import importlib
from collections import Counter
from collections.abc import AsyncIterator

import pytest

from adapters import REGISTRY
from bot.adapter import UNCONFIRMED, AdapterStopped, ChannelGone
from tests.contract.harness import Fault, Harness, digest, markers
from tests.support import MemoryOutbox, send


@pytest.fixture(params=[spec.name for spec in REGISTRY])
async def h(request: pytest.FixtureRequest) -> AsyncIterator[Harness]:
    module = importlib.import_module(f"tests.contract.harness_{request.param}")
    async with module.harness() as harness:
        yield harness


def needs(h: Harness, fault: Fault) -> None:
    if fault not in h.faults:
        pytest.skip(f"{h.adapter.platform} has no {fault} fault")


async def test_a_long_digest_respects_the_platforms_limits(h: Harness) -> None:
    outbox = MemoryOutbox()
    await send(h.adapter, h.key, digest(42, long=True), outbox, h.time)
    seen = h.messages(h.key)
    limits = h.adapter.limits
    assert [m.problems for m in seen] == [()] * len(seen)
    assert all(m.size <= limits.chars_per_message and m.items <= limits.items_per_message for m in seen)
    assert markers(seen) == [f"[P{n:02d}]" for n in range(42)]  # every paper once, in order
    assert sum(m.items for m in seen) == 42
    assert sorted(outbox.sent) == list(range(len(seen))) and not outbox.in_flight


async def test_hostile_paper_text_pings_nobody_and_formats_nothing(h: Harness) -> None:
    await send(h.adapter, h.key, digest(12, hostile=True), MemoryOutbox(), h.time)
    seen = h.messages(h.key)
    assert seen and [m.problems for m in seen] == [()] * len(seen)
    assert "bold" in seen[0].text and "evil" in seen[0].text  # shown as text, not dropped


@pytest.mark.parametrize("crash_at_part", [0, 1])
async def test_a_send_resumed_after_a_crash_posts_no_paper_twice(h: Harness, crash_at_part: int) -> None:
    if crash_at_part >= len(h.adapter.render_digest(digest(42, long=True))):
        pytest.skip(f"{h.adapter.platform} sends this digest in one part")
    outbox = MemoryOutbox(crash_after=crash_at_part)  # the platform took the part, the process died
    with pytest.raises(RuntimeError):
        await send(h.adapter, h.key, digest(42, long=True), outbox, h.time)
    outbox.crash_after = None
    await send(h.adapter, h.key, digest(42, long=True), outbox, h.time)  # the next start-up
    assert Counter(markers(h.messages(h.key))) == Counter(f"[P{n:02d}]" for n in range(42))  # each once
    if not h.adapter.verifies_sends:
        assert outbox.sent[crash_at_part] == UNCONFIRMED  # the rule: never posted again
    assert not outbox.in_flight


async def test_an_answer_lost_after_the_platform_stored_the_post_posts_it_once(h: Harness) -> None:
    needs(h, "lost_answer")
    outbox = MemoryOutbox()
    h.fail_next_post("lost_answer")
    try:
        await send(h.adapter, h.key, digest(3), outbox, h.time)
    except Exception:
        assert not h.adapter.verifies_sends  # only a platform that cannot look may stop here
        await send(h.adapter, h.key, digest(3), outbox, h.time)
    assert markers(h.messages(h.key)) == ["[P00]", "[P01]", "[P02]"]


async def test_a_channel_gone_is_reported_as_gone(h: Harness) -> None:
    needs(h, "gone")
    outbox = MemoryOutbox()
    h.fail_next_post("gone")
    with pytest.raises(ChannelGone) as gone:
        await send(h.adapter, h.key, digest(1), outbox, h.time)
    assert gone.value.reason and not outbox.in_flight and h.messages(h.key) == []


async def test_a_refused_token_stops_the_adapter(h: Harness) -> None:
    needs(h, "unauthorized")
    h.fail_next_post("unauthorized")
    with pytest.raises(AdapterStopped):
        await send(h.adapter, h.key, digest(1), MemoryOutbox(), h.time)
    assert h.messages(h.key) == []


async def test_a_transient_failure_is_retried_and_posts_once(h: Harness) -> None:
    needs(h, "transient")
    outbox = MemoryOutbox()
    h.fail_next_post("transient")
    await send(h.adapter, h.key, digest(1), outbox, h.time)
    assert markers(h.messages(h.key)) == ["[P00]"] and outbox.sent.keys() == {0}
    assert h.time.sleeps  # it waited before trying again
