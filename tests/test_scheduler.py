"""Trigger maths on a fixed clock: each channel's local time, across time zones and DST."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.delivery import last_occurrence
from bot.models import ChannelKey
from bot.scheduler import next_digest
from bot.store import Channel


def channel(time: str, tz: str) -> Channel:
    return Channel(1, ChannelKey("console", "local", "c"), time, tz, "daily", 0, 10, None, None, None)


def test_next_digest_in_the_channel_zone() -> None:
    now = datetime(2026, 8, 21, 7, 0, tzinfo=UTC)
    assert next_digest(channel("10:30", "Europe/Berlin"), now) == datetime(2026, 8, 21, 8, 30, tzinfo=UTC)
    assert next_digest(channel("09:00", "UTC"), now) == datetime(2026, 8, 21, 9, 0, tzinfo=UTC)
    assert next_digest(channel("06:00", "UTC"), now) == datetime(2026, 8, 22, 6, 0, tzinfo=UTC)


def test_daylight_saving_keeps_local_time() -> None:
    before = datetime(2026, 3, 7, 15, 0, tzinfo=UTC)  # New York switches to EDT on 8 March 2026
    ny = channel("09:00", "America/New_York")
    assert next_digest(ny, before) == datetime(2026, 3, 8, 13, 0, tzinfo=UTC)
    assert next_digest(ny, datetime(2026, 3, 6, 12, 0, tzinfo=UTC)) == datetime(2026, 3, 6, 14, 0, tzinfo=UTC)


def test_last_occurrence_is_at_or_before_now() -> None:
    now = datetime(2026, 8, 21, 8, 29, tzinfo=UTC)
    assert last_occurrence("10:30", "Europe/Berlin", now) == datetime(2026, 8, 20, 8, 30, tzinfo=UTC)
    now = datetime(2026, 8, 21, 8, 30, tzinfo=UTC)
    assert last_occurrence("10:30", "Europe/Berlin", now) == datetime(2026, 8, 21, 8, 30, tzinfo=UTC)
    tokyo = last_occurrence("08:00", "Asia/Tokyo", datetime(2026, 8, 21, 0, 0, tzinfo=UTC))
    assert tokyo == datetime(2026, 8, 20, 23, 0, tzinfo=UTC)


def test_weekly_digests_fall_on_the_channels_day() -> None:
    from dataclasses import replace

    friday = datetime(2026, 8, 21, 12, 0, tzinfo=UTC)  # a Friday
    assert last_occurrence("09:00", "UTC", friday, "monday") == datetime(2026, 8, 17, 9, 0, tzinfo=UTC)
    assert last_occurrence("09:00", "UTC", friday, "friday") == datetime(2026, 8, 21, 9, 0, tzinfo=UTC)
    assert last_occurrence("13:00", "UTC", friday, "friday") == datetime(2026, 8, 14, 13, 0, tzinfo=UTC)
    weekly = replace(channel("09:00", "UTC"), mode="weekly", weekday="wednesday")
    assert next_digest(weekly, friday) == datetime(2026, 8, 26, 9, 0, tzinfo=UTC)
