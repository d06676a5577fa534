"""Settings from the environment or a `.env` file, validated once at start-up.

Secrets live only here (and in the environment); they never reach the database or logs.
"""

from __future__ import annotations

import copy
import json
import logging
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from dotenv import dotenv_values

from bot.source import DEFAULT_URL

_CLOCK = re.compile(r"([01]?\d|2[0-3]):([0-5]\d)")
_HOST = re.compile(r"[\w.-]+|[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*")  # a name, an IPv4 or an IPv6 address
_LOG_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
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


def parse_url(name: str, raw: str, schemes: tuple[str, ...], example: str) -> str:
    """`raw` if it is a URL with one of `schemes`, a host and a valid port; else ConfigError naming `name`."""
    try:
        url = urlsplit(raw)
        valid = (
            raw.isprintable() and " " not in raw
            and url.scheme.lower() in schemes and _HOST.fullmatch(url.hostname or "") is not None
        )
        url.port  # noqa: B018 - raises ValueError for a port that is not a number from 0 to 65535
    except ValueError:
        valid = False
    if not valid:
        kinds = " or ".join(f"{scheme}://" for scheme in schemes)
        article = "an" if kinds.startswith("h") else "a"  # as it is read: "an aitch-tee-tee-pee", "a double-u-ess"
        raise ConfigError(f"{name} must be {article} {kinds} URL such as {example}, got '{raw}'")
    return raw


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
    http_port: int | None = None  # /healthz and /metrics; None: off
    http_host: str = "127.0.0.1"
    log_format: str = "text"
    lease_seconds: int = 300

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Settings:
        try:
            default_time = parse_clock(env.get("PAPERBOY_DEFAULT_TIME", "").strip() or "09:00")
        except ValueError as err:
            raise ConfigError(f"PAPERBOY_DEFAULT_TIME: {err}") from None
        try:
            default_tz = parse_zone(env.get("PAPERBOY_DEFAULT_TZ", "").strip() or "UTC")
        except ValueError as err:
            raise ConfigError(f"PAPERBOY_DEFAULT_TZ: {err}") from None
        level = env.get("PAPERBOY_LOG_LEVEL", "INFO").strip().upper() or "INFO"
        if level not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
            raise ConfigError(
                f"PAPERBOY_LOG_LEVEL must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL, got '{level}'"
            )
        log_format = env.get("PAPERBOY_LOG_FORMAT", "").strip().lower() or "text"
        if log_format not in {"text", "json"}:
            raise ConfigError(f"PAPERBOY_LOG_FORMAT must be text or json, got '{log_format}'")
        raw_port = env.get("PAPERBOY_HTTP_PORT", "").strip()
        if raw_port and not (raw_port.isascii() and raw_port.isdigit() and 1 <= int(raw_port) <= 65535):
            raise ConfigError(f"PAPERBOY_HTTP_PORT must be a port number from 1 to 65535, got '{raw_port}'")
        http_port = int(raw_port) if raw_port else None
        return cls(
            http_port=http_port,
            http_host=env.get("PAPERBOY_HOST", "").strip() or "127.0.0.1",
            log_format=log_format,
            db=env.get("PAPERBOY_DB", "").strip() or "paperboy.db",
            source=_source(env.get("PAPERBOY_SOURCE", "").strip() or DEFAULT_URL),
            hf_token=env.get("HF_TOKEN", "").strip() or None,
            poll_minutes=_int(env, "PAPERBOY_POLL_MINUTES", 30, 1, 1440, "minutes"),
            default_time=default_time,
            default_tz=default_tz,
            log_level=level,
            max_subscriptions=_int(env, "PAPERBOY_MAX_SUBSCRIPTIONS", 25, 1, 1000, "subscriptions"),
            console=parse_flag("PAPERBOY_CONSOLE", env.get("PAPERBOY_CONSOLE", "")),
            lease_seconds=_int(env, "PAPERBOY_LEASE_SECONDS", 300, 2, 3600, "seconds"),
        )


def _source(spec: str) -> str:
    """A URL source is checked here; a path is checked when the source opens it."""
    if spec.lower().startswith(("http://", "https://")):
        return parse_url("PAPERBOY_SOURCE", spec, ("http", "https"), DEFAULT_URL)
    return spec


def load_env(path: Path = Path(".env")) -> dict[str, str]:
    """The process environment over the `.env` file's values (the environment wins)."""
    try:
        values = {k: v for k, v in dotenv_values(path).items() if v is not None} if path.is_file() else {}
    except UnicodeDecodeError as err:
        raise ConfigError(
            f"cannot read {path}: it is not UTF-8 text (byte 0x{err.object[err.start]:02x} at position {err.start})"
        ) from None
    except OSError as err:
        raise ConfigError(f"cannot read {path}: {err.strerror or err}") from None
    values.update(os.environ)
    return values


class OneLineFormatter(logging.Formatter):
    """Each message on one line, its control characters escaped (`\\n`, `\\x1b`, `\\u202e`).

    Log messages quote untrusted text (paper titles, queries, request data): a newline in
    it must not forge a log line, nor an escape sequence or bidi override rewrite the terminal.
    A traceback is appended after the message as usual.
    """

    def formatMessage(self, record: logging.LogRecord) -> str:  # noqa: N802 - logging's name
        escaped = copy.copy(record)
        escaped.message = _LOG_CONTROL.sub(lambda m: m[0].encode("unicode_escape").decode(), record.message)
        return super().formatMessage(escaped)


class JsonFormatter(logging.Formatter):
    """One JSON object per line, for log shippers: time, level, logger, message, exc_info as a string."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["exc_info"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def configure_logging(level: str, log_format: str = "text") -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(
        JsonFormatter() if log_format == "json"
        else OneLineFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s", datefmt="%Y-%m-%dT%H:%M:%S")
    )
    logging.basicConfig(level=level, handlers=[handler])
    # APScheduler narrates every job it adds and runs at INFO; its warnings still show.
    logging.getLogger("apscheduler").setLevel(max(logging.WARNING, logging.getLevelName(level)))
