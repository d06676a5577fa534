"""The `/papers` command set as data: one table that help, usage, argument checks and
every platform's command menu are built from.

A platform with typed slash commands (Discord) builds one option per `Param`; one with
free text (Slack, Telegram, the console) sends the words as typed. Either way the core
parses and checks the same text, so every platform answers alike.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Kind = Literal["text", "choice", "number", "subscription", "zone"]

PREVIEW_DAYS = 7
MAX_PAPERS_LIMIT = 50
MIN_UPVOTES_LIMIT = 100_000
SUGGESTIONS_LIMIT = 10
NUMBER_LIMITS = {
    "min-upvotes": (0, MIN_UPVOTES_LIMIT),
    "max-papers": (1, MAX_PAPERS_LIMIT),
    "suggestions": (0, SUGGESTIONS_LIMIT),
}
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
QUERY_HINT = 'Words, "phrases", OR, -exclude, title:, author:, upvotes:>=N, has:code, like:ARXIV_ID'


@dataclass(frozen=True, slots=True)
class Param:
    """One argument: `label` is how usage shows it; `kind` tells typed platforms which control to offer."""

    name: str
    label: str
    description: str
    kind: Kind = "text"
    required: bool = True
    choices: tuple[str, ...] = ()
    low: int = 0
    high: int = 0

    @property
    def usage(self) -> str:
        return self.label if self.required else f"[{self.label}]"


@dataclass(frozen=True, slots=True)
class CommandSpec:
    name: str
    summary: str
    params: tuple[Param, ...] = ()
    manages: bool = False  # changes the channel, so it needs permission to manage it

    @property
    def usage(self) -> str:
        return " ".join([self.name, *(param.usage for param in self.params)])


def _choice(name: str, description: str, choices: tuple[str, ...]) -> Param:
    return Param(name, "|".join(choices), description, "choice", choices=choices)


def _paper(what: str) -> Param:
    return Param("paper", "ARXIV_ID", f"The arXiv id of the paper {what}, e.g. 2410.18978")


COMMANDS: tuple[CommandSpec, ...] = (
    CommandSpec(
        "subscribe", "follow a topic: matching papers are posted here",
        (Param("query", "QUERY", QUERY_HINT),), manages=True,
    ),
    CommandSpec(
        "unsubscribe", "stop following one subscription, or all of them",
        (Param("subscription", "ID|all", "Which one: its #id from list, or all", "subscription"),),
        manages=True,
    ),
    CommandSpec("list", "this channel's subscriptions and settings"),
    CommandSpec(
        "preview", f"what a query would have caught in the last {PREVIEW_DAYS} days",
        (Param("query", "QUERY", QUERY_HINT),),
    ),
    CommandSpec(
        "schedule", "when the daily digest arrives (24-hour, your time zone)",
        (
            Param("time", "HH:MM", "24-hour HH:MM, e.g. 09:00"),
            Param("timezone", "Area/City", "e.g. Europe/Berlin (default: the channel's)", "zone", required=False),
        ),
        manages=True,
    ),
    CommandSpec(
        "mode", "one digest a day or a week, or new matches as they appear",
        (
            _choice("mode", "daily or weekly: one digest at the scheduled time; instant: after each poll",
                    ("daily", "weekly", "instant")),
            Param("day", "DAY", "weekly: the day it arrives (default monday)", "choice", required=False,
                  choices=WEEKDAYS),
        ),
        manages=True,
    ),
    CommandSpec(
        "settings", "change a delivery setting of this channel",
        (
            _choice("setting", "min-upvotes: skip papers with fewer; max-papers: most papers a digest shows; "
                    "suggestions: most 'also for you' papers", tuple(NUMBER_LIMITS)),
            Param(
                "value", "N",
                "; ".join(f"{name} {low:,} to {high:,}" for name, (low, high) in NUMBER_LIMITS.items()),
                "number", low=0, high=max(high for _, high in NUMBER_LIMITS.values()),
            ),
        ),
        manages=True,
    ),
    CommandSpec("digest", "post what is due now"),
    CommandSpec("status", "why nothing arrived: last fetch, next and last digest, today's papers"),
    CommandSpec("like", "👍 a paper: this channel's digests learn its taste", (_paper("to like"),)),
    CommandSpec("dislike", "👎 a paper: this channel's digests learn its taste", (_paper("to dislike"),)),
    CommandSpec("unrate", "take back your 👍 or 👎 on a paper", (_paper("to take your rating off"),)),
    CommandSpec(
        "taste", "what this channel's ratings taught Paperboy; reset forgets them",
        (Param("action", "reset", "reset: forget this channel's ratings (managers only)", "choice", required=False,
               choices=("reset",)),),
    ),
    CommandSpec("pause", "stop posting digests here until resumed", manages=True),
    CommandSpec("resume", "start posting digests here again", manages=True),
    CommandSpec("help", "what each command does"),
)

BY_NAME = {spec.name: spec for spec in COMMANDS}


def usage(name: str, command: str = "papers") -> str:
    return f"Usage: /{command} {BY_NAME[name].usage}"


def help_text(command: str = "papers") -> str:
    """The help reply: every command with its usage and summary, then the query language in brief."""
    lines = ["Paperboy posts the Hugging Face Daily Papers that match this channel's subscriptions."]
    width = max(len(spec.usage) for spec in COMMANDS)
    lines += [f"/{command} {spec.usage.ljust(width)}  {spec.summary}" for spec in COMMANDS]
    lines += [
        'Queries: words match whole words (plurals too), "quoted phrases", OR, (groups), -exclude,',
        "title: abstract: author: keyword: fields, upvotes:>=N, has:code, like:ARXIV_ID (similar papers).",
        "Rate papers with the 👍/👎 buttons of a digest: from 3 👍, digests are ranked by this channel's taste.",
    ]
    return "\n".join(lines)
