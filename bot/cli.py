"""`paperboy`: run the bot, fetch days, preview a query, move a database.

The platforms come in as a registry (`adapters.REGISTRY`, handed over by `adapters.main`),
so the core never imports them. Exit codes: 0 success, 2 bad usage, 1 failure with a
one-line reason on stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from collections.abc import Mapping, Sequence
from datetime import date

from bot import __version__
from bot.adapter import AdapterSpec
from bot.config import ConfigError, Settings, configure_logging, load_env

Registry = Sequence[AdapterSpec]

log = logging.getLogger("paperboy")


class Failure(Exception):
    """Ends the command with exit code 1 and this message."""


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a date: use YYYY-MM-DD") from None


def _positive(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 366:
        raise argparse.ArgumentTypeError(f"'{text}' is not a number of days from 1 to 366")
    return int(text)


def _channel_key(text: str) -> tuple[str, str, str]:
    platform, workspace, channel = (text.split(":", 2) + ["", ""])[:3]
    if not (platform and workspace and channel):
        raise argparse.ArgumentTypeError(
            f"'{text}' is not a channel: use PLATFORM:WORKSPACE:CHANNEL, e.g. slack:T0123:C0456 or console:local:console"
        )
    return platform, workspace, channel


def build_parser(registry: Registry) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="paperboy",
        description="Hugging Face Daily Papers digests for Slack, Discord and the console.",
        epilog="Settings come from the environment or a .env file; see the README.",
    )
    parser.add_argument("--version", action="version", version=f"paperboy {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    sub.add_parser("run", help="run the bot (the console channel when no chat token is set)")
    fetch = sub.add_parser("fetch", help="fetch days of the digest into the database")
    fetch.add_argument("--date", type=_day, help="the (last) day to fetch, YYYY-MM-DD (default: today)")
    fetch.add_argument("--days", type=_positive, help="how many days up to --date to fetch")
    preview = sub.add_parser("preview", help="print the stored papers a query matches")
    preview.add_argument("query", help='a query, e.g. \'"reinforcement learning" -survey\'')
    preview.add_argument("--days", type=_positive, default=7, help="the newest N featured days (default 7)")
    status = sub.add_parser("status", help="why nothing arrived: the source, and each channel's digests")
    status.add_argument("--channel", type=_channel_key, metavar="PLATFORM:WORKSPACE:CHANNEL",
                        help="one channel (default: every channel with a subscription)")
    migrate = sub.add_parser("migrate", help="copy a database into an empty one (SQLite to PostgreSQL) and check it")
    migrate.add_argument("--from", dest="source", required=True, metavar="DB", help="a SQLite file (or a URL)")
    migrate.add_argument("--to", dest="target", required=True, metavar="URL", help="postgresql://... (or a file)")
    for spec in registry:
        for name, text in spec.commands.items():
            sub.add_parser(name, help=text)
    return parser


async def _open_core(settings: Settings):  # type: ignore[no-untyped-def]
    from bot.core import Core
    from bot.source import SourceError
    from bot.store import StoreError

    try:
        return await Core.open(settings)
    except StoreError as err:
        raise Failure(f"PAPERBOY_DB: {err}") from None
    except (ValueError, SourceError) as err:
        raise Failure(str(err)) from None


def chosen(registry: Registry, settings: Settings, env: Mapping[str, str]) -> list[AdapterSpec]:
    """The platforms whose tokens are set; the fallback (console) when none is, or when asked for."""
    specs = [spec for spec in registry if spec.enabled(env)]
    if settings.console or not specs:
        specs += [spec for spec in registry if not spec.token_env]
    return specs


async def run(registry: Registry, settings: Settings, env: Mapping[str, str]) -> None:
    """Serve until stopped. SIGTERM and SIGINT stop it cleanly (exit 0); when every adapter
    gave up for good (a refused token, a port in use) it fails (exit 1). The fallback (the
    console) finishing at the end of its input is a normal end."""
    specs = chosen(registry, settings, env)
    try:
        adapters = [spec.load(env) for spec in specs]
    except ConfigError as err:
        raise Failure(str(err)) from None
    core = await _open_core(settings)
    log.info("paperboy %s: %s", __version__, ", ".join(a.platform for a in adapters))
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        try:
            loop.add_signal_handler(sig, core.stop, sig.name)
        except (NotImplementedError, RuntimeError):  # no signal handlers on this platform or thread
            pass
    try:
        ended = await core.run(adapters)
    except ConfigError as err:  # PAPERBOY_HTTP_PORT cannot be bound
        raise Failure(str(err)) from None
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT):
            try:
                loop.remove_signal_handler(sig)
            except (NotImplementedError, RuntimeError):
                pass
        await core.close()
    fallback = {adapter.platform for spec, adapter in zip(specs, adapters, strict=True) if not spec.token_env}
    if ended and not fallback.intersection(ended):
        raise Failure(f"every adapter stopped for good ({', '.join(ended)}); the log says why")


async def fetch(settings: Settings, day: date | None, days: int | None) -> None:
    from bot.core import recent_days
    from bot.store.database import redacted

    core = await _open_core(settings)
    try:
        today = core.clock().date()
        if day is None and days is None:
            wanted = core.source.current_days(today)
        else:
            wanted = recent_days(day or today, days or 1)
        total = 0
        for one in sorted(wanted):
            if sys.stderr.isatty():
                print(f"fetching {one} ...", file=sys.stderr, flush=True)
            counts = await core.fetch([one])
            if one not in counts:
                raise Failure(f"could not fetch {one} from {settings.source} (see the log above)")
            total += counts[one]
            print(f"{one}  {counts[one]} papers")
        print(f"stored {total} papers in {redacted(settings.db)}")
    finally:
        await core.close()


async def preview(settings: Settings, text: str, days: int) -> int:
    from bot.matcher import Matcher
    from bot.models import DigestItem
    from bot.plaintext import render_item
    from bot.query import QueryError, parse
    from bot.store.database import redacted

    try:
        query = parse(text, max_length=settings.max_query_chars)
    except QueryError as err:
        print(f"paperboy preview: {err}", file=sys.stderr)
        return 2
    core = await _open_core(settings)
    try:
        papers = await core.store.recent_papers(days)
    finally:
        await core.close()
    if not papers:
        raise Failure(f"no papers stored in {redacted(settings.db)} yet: run 'paperboy fetch' first")
    reasons = Matcher([(0, query)]).match(papers)
    hits = [DigestItem(p, reasons[p.id]) for p in papers if p.id in reasons]
    span = f"{min(p.featured_day for p in papers)} to {max(p.featured_day for p in papers)}"
    print(f"{len(hits)} of {len(papers)} papers ({span}) match {query.text}")
    for number, item in enumerate(hits, start=1):
        print(render_item(number, item))
    return 0


async def status(settings: Settings, wanted: tuple[str, str, str] | None) -> None:
    from bot.models import ChannelKey
    from bot.status import channel_report, source_report

    core = await _open_core(settings)
    try:
        now = core.clock()
        if wanted is None:
            channels = await core.store.channels()
        else:
            found = await core.store.channel(ChannelKey(*wanted))
            if found is None:
                raise Failure(f"no channel {':'.join(wanted)} in {settings.db}: 'paperboy status' lists the channels")
            channels = [found]
        print("\n".join(await source_report(core.store, now)))
        if not channels:
            print("No channel has a subscription yet.")
        for channel in channels:
            print(f"\n== {channel.key} ==")
            print("\n".join(await channel_report(core.store, channel, now)))
    finally:
        await core.close()


async def migrate(source: str, target: str) -> None:
    from bot.store import StoreError
    from bot.store.copy import copy_database
    from bot.store.database import redacted

    try:
        counts = await copy_database(source, target)
    except StoreError as err:
        raise Failure(f"migrate: {err}") from None
    names = (redacted(source), redacted(target))
    width = max(len(c.table) for c in counts)
    print(f"{'table':<{width}}  {names[0]:>{len(names[0])}}  {names[1]}")
    for c in counts:
        print(f"{c.table:<{width}}  {c.source:>{len(names[0])},}  {c.target:>{len(names[1])},}{'' if c.source == c.target else '  MISMATCH'}")
    wrong = [c.table for c in counts if c.source != c.target]
    if wrong:
        raise Failure(f"migrate: the counts differ in {', '.join(wrong)}; the target is incomplete, drop it and try again")
    print(f"copied {len(counts)} tables; every count matches")


def main(registry: Registry, argv: Sequence[str] | None = None) -> int:
    parser = build_parser(registry)
    args = parser.parse_args(argv)
    if args.command == "fetch" and args.date and args.days and args.days > args.date.toordinal():
        parser.error(
            f"--days {args.days} before {args.date} would start before 0001-01-01: "
            f"use at most --days {args.date.toordinal()}"
        )
    try:
        env = load_env()
        settings = Settings.from_env(env)
    except ConfigError as err:
        print(f"paperboy: {err}", file=sys.stderr)
        return 1
    configure_logging(settings.log_level, settings.log_format)
    try:
        if args.command == "run":
            asyncio.run(run(registry, settings, env))
        elif args.command == "fetch":
            asyncio.run(fetch(settings, args.date, args.days))
        elif args.command == "migrate":
            asyncio.run(migrate(args.source, args.target))
        elif args.command == "status":
            asyncio.run(status(settings, args.channel))
        elif args.command == "preview":
            return asyncio.run(preview(settings, args.query, args.days))
        else:
            return next(spec for spec in registry if args.command in spec.commands).command(args.command, env)
    except Failure as err:
        print(f"paperboy: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0
    return 0
