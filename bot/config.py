"""Settings from the environment or a `.env` file, validated once at start-up.

Secrets live only here (and in the environment); they never reach the database or logs.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from dotenv import dotenv_values

from bot.source import DEFAULT_URL

_CLOCK = re.compile(r"([01]?\d|2[0-3]):([0-5]\d)")
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


class ConfigError(ValueError):
    """A bad setting: the message names the variable and what it accepts."""


def parse_clock(text: str) -> str:
    """`9:05` -> `09:05`; ValueError for anything that is not a 24-hour HH:MM."""
    match = _CLOCK.fullmatch(text.strip())
    if not match:
        raise ValueError(f"'{text}' is not a time: use 24-hour HH:MM, for example 09:00 or 17:30")
    return f"{int(match[1]):02d}:{match[2]}"


def parse_zone(text: str) -> str:
    """A canonical IANA zone name; ValueError with a hint for anything else."""
    name = text.strip()
    if name.upper() == "UTC":
        return "UTC"
    if "/" in name or name in zone_names():
        try:
            ZoneInfo(name)
            return name
        except (ZoneInfoNotFoundError, ValueError):
            pass
    lowered = {zone.lower(): zone for zone in zone_names()}
    if name.lower() in lowered:
        return lowered[name.lower()]
    raise ValueError(f"'{text}' is not a time zone: use an IANA name such as Europe/Berlin or America/New_York")


@cache
def zone_names() -> frozenset[str]:
    """Every IANA zone name this machine knows (tzdata ships them on any OS)."""
    return frozenset(available_timezones())


def parse_flag(name: str, value: str) -> bool:
    lowered = value.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ConfigError(f"{name} must be true or false, got '{value}'")


def _int(env: Mapping[str, str], name: str, default: int, low: int, high: int, unit: str) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        value = low - 1
    if not low <= value <= high:
        raise ConfigError(f"{name} must be a whole number of {unit} from {low} to {high}, got '{raw}'")
    return value


@dataclass(frozen=True, slots=True)
class Settings:
    db: str = "paperboy.db"
    source: str = DEFAULT_URL
    hf_token: str | None = None
    poll_minutes: int = 30
    default_time: str = "09:00"
    default_tz: str = "UTC"
    log_level: str = "INFO"
    max_subscriptions: int = 25
    max_query_chars: int = 300
    console: bool = False
    lease_seconds: int = 300

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Settings:
        try:
            default_time = parse_clock(env.get("PAPERBOY_DEFAULT_TIME", "09:00"))
        except ValueError as err:
            raise ConfigError(f"PAPERBOY_DEFAULT_TIME: {err}") from None
        try:
            default_tz = parse_zone(env.get("PAPERBOY_DEFAULT_TZ", "UTC"))
        except ValueError as err:
            raise ConfigError(f"PAPERBOY_DEFAULT_TZ: {err}") from None
        level = env.get("PAPERBOY_LOG_LEVEL", "INFO").strip().upper() or "INFO"
        if level not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
            raise ConfigError(
                f"PAPERBOY_LOG_LEVEL must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL, got '{level}'"
            )
        return cls(
            db=env.get("PAPERBOY_DB", "").strip() or "paperboy.db",
            source=env.get("PAPERBOY_SOURCE", "").strip() or DEFAULT_URL,
            hf_token=env.get("HF_TOKEN", "").strip() or None,
            poll_minutes=_int(env, "PAPERBOY_POLL_MINUTES", 30, 1, 1440, "minutes"),
            default_time=default_time,
            default_tz=default_tz,
            log_level=level,
            max_subscriptions=_int(env, "PAPERBOY_MAX_SUBSCRIPTIONS", 25, 1, 1000, "subscriptions"),
            console=parse_flag("PAPERBOY_CONSOLE", env.get("PAPERBOY_CONSOLE", "")),
            lease_seconds=_int(env, "PAPERBOY_LEASE_SECONDS", 300, 2, 3600, "seconds"),
        )


def load_env(path: Path = Path(".env")) -> dict[str, str]:
    """The process environment over the `.env` file's values (the environment wins)."""
    values = {k: v for k, v in dotenv_values(path).items() if v is not None} if path.is_file() else {}
    values.update(os.environ)
    return values


def configure_logging(level: str) -> None:
    logging.basicConfig(
        level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", datefmt="%Y-%m-%dT%H:%M:%S"
    )
    # APScheduler narrates every job it adds and runs at INFO; its warnings still show.
    logging.getLogger("apscheduler").setLevel(max(logging.WARNING, logging.getLevelName(level)))
