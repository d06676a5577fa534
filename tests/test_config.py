"""Settings: defaults, parsing, and one clear line for every bad value."""

from __future__ import annotations

import pytest

from bot.config import ConfigError, Settings, parse_clock, parse_zone


def test_defaults() -> None:
    settings = Settings.from_env({})
    assert settings.db == "paperboy.db"
    assert settings.source == "https://huggingface.co/api/daily_papers"
    assert (settings.poll_minutes, settings.default_time, settings.default_tz) == (30, "09:00", "UTC")
    assert settings.hf_token is None and not settings.console


def test_values_are_normalised() -> None:
    settings = Settings.from_env(
        {"PAPERBOY_DEFAULT_TIME": "7:05", "PAPERBOY_DEFAULT_TZ": "europe/berlin", "PAPERBOY_LOG_LEVEL": "debug",
         "PAPERBOY_CONSOLE": "yes", "HF_TOKEN": " hf_x "}
    )
    assert (settings.default_time, settings.default_tz, settings.log_level) == ("07:05", "Europe/Berlin", "DEBUG")
    assert settings.console and settings.hf_token == "hf_x"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"PAPERBOY_POLL_MINUTES": "0"}, "PAPERBOY_POLL_MINUTES must be a whole number of minutes from 1 to 1440"),
        ({"PAPERBOY_DEFAULT_TIME": "9am"}, "PAPERBOY_DEFAULT_TIME: '9am' is not a time"),
        ({"PAPERBOY_DEFAULT_TZ": "CEST"}, "PAPERBOY_DEFAULT_TZ: 'CEST' is not a time zone"),
        ({"PAPERBOY_LOG_LEVEL": "loud"}, "PAPERBOY_LOG_LEVEL must be one of DEBUG"),
        ({"PAPERBOY_CONSOLE": "maybe"}, "PAPERBOY_CONSOLE must be true or false, got 'maybe'"),
        ({"PAPERBOY_MAX_SUBSCRIPTIONS": "-3"}, "PAPERBOY_MAX_SUBSCRIPTIONS must be a whole number"),
    ],
)
def test_bad_values_name_the_variable(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError) as err:
        Settings.from_env(env)
    assert str(err.value).startswith(message)
    assert "\n" not in str(err.value)


def test_clock_and_zone_parsing() -> None:
    assert parse_clock("23:59") == "23:59"
    for bad in ("24:00", "12:60", "noon", "12"):
        with pytest.raises(ValueError):
            parse_clock(bad)
    assert parse_zone("utc") == "UTC"
    assert parse_zone("America/New_York") == "America/New_York"
    with pytest.raises(ValueError):
        parse_zone("../etc/passwd")
