"""The neutral data model shared by the core and every adapter.

Nothing here knows a chat platform: adapters render these values into their own
message formats, and they treat every string that came from a paper as untrusted.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date

HF = "https://huggingface.co"

_PAPER_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,39}")
_ID_VERSION = re.compile(r"v\d+$")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(\[])")


@dataclass(frozen=True, slots=True)
class Paper:
    """One paper of the Daily Papers list, keyed by its arXiv id without version."""

    id: str
    title: str
    abstract: str
    authors: tuple[str, ...]
    upvotes: int
    featured_day: date
    published_day: date | None = None
    ai_summary: str | None = None
    ai_keywords: tuple[str, ...] = ()
    github_repo: str | None = None
    github_stars: int | None = None
    project_page: str | None = None
    organization: str | None = None

    @property
    def hf_url(self) -> str:
        return f"{HF}/papers/{self.id}"

    @property
    def arxiv_url(self) -> str:
        return f"https://arxiv.org/abs/{self.id}"

    @property
    def pdf_url(self) -> str:
        return f"https://arxiv.org/pdf/{self.id}"

    @property
    def tldr(self) -> str:
        """The one-line summary: HF's AI summary when there is one, else the abstract's first sentence."""
        if self.ai_summary:
            return " ".join(self.ai_summary.split())
        text = " ".join(self.abstract.split())
        return _SENTENCE_END.split(text, maxsplit=1)[0]

    def short_authors(self, most: int = 3) -> str:
        if len(self.authors) <= most:
            return ", ".join(self.authors)
        return f"{', '.join(self.authors[:most])} et al. (+{len(self.authors) - most})"

    def links(self) -> tuple[tuple[str, str], ...]:
        """(label, url) pairs in the order a reader wants them."""
        found = [("HF", self.hf_url), ("arXiv", self.arxiv_url), ("PDF", self.pdf_url)]
        if self.github_repo:
            found.append(("Code", self.github_repo))
        if self.project_page:
            found.append(("Project", self.project_page))
        return tuple(found)


def one_line(text: str) -> str:
    """Text on one line, whitespace collapsed, as valid Unicode.

    Lone surrogates (JSON can escape half an emoji) pair up where they can and become
    U+FFFD where they cannot: SQLite stores only valid UTF-8, and one bad title must not
    cost a whole day, nor one pasted character a command.
    """
    valid = text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    return " ".join(valid.split())


def paper_id_of(text: str) -> str | None:
    """The arXiv id in what a user typed or a button carries ("2410.18978", "2410.18978v2", or a
    Hugging Face or arXiv link to it), without version; None when it is not one."""
    text = text.strip().rstrip("/")
    if "/" in text and text.lower().startswith(("http://", "https://", "huggingface.co/", "arxiv.org/")):
        text = text.rsplit("/", 1)[1]
    text = _ID_VERSION.sub("", text.removesuffix(".pdf")) if "." in text else text
    return text if _PAPER_ID.fullmatch(text) else None


def day_url(day: date) -> str:
    return f"{HF}/papers/date/{day.isoformat()}"


@dataclass(frozen=True, slots=True)
class ChannelKey:
    """Where a digest goes: a channel is unique per (platform, workspace, channel)."""

    platform: str
    workspace: str
    channel: str

    def __str__(self) -> str:
        return f"{self.platform}:{self.workspace}:{self.channel}"


SUGGESTED = -1  # the subscription id of a suggestion's reason: its query is the liked paper's id


@dataclass(frozen=True, slots=True)
class Reason:
    """Why a paper is in a digest: the subscription and the words of it that hit.

    A suggestion ("also for you") has `subscription_id` SUGGESTED, the liked paper it resembles
    as `query`, and the words they share.
    """

    subscription_id: int
    query: str
    words: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class DigestItem:
    paper: Paper
    reasons: tuple[Reason, ...]

    @property
    def matched_words(self) -> tuple[str, ...]:
        seen: dict[str, None] = {}
        for reason in self.reasons:
            seen.update(dict.fromkeys(reason.words))
        return tuple(seen)

    @property
    def suggested(self) -> bool:
        """Whether this is an "also for you" paper, matching no subscription."""
        return any(r.subscription_id == SUGGESTED for r in self.reasons)

    @property
    def label(self) -> str:
        """What every platform writes before `why`."""
        return "Also for you" if self.suggested else "Matched"

    @property
    def why(self) -> str:
        """Why it matched, as every platform shows it: the words that hit and the subscriptions,
        e.g. "diffusion, video (#1, #3)"; for a suggestion the liked paper it resembles and the
        words they share, e.g. "like 2410.18978, which this channel liked: world model, agents"."""
        words = ", ".join(filter(None, map(one_line, self.matched_words)))
        if self.suggested:
            liked = one_line(self.reasons[0].query)
            return f"like {liked}, which this channel liked: {words}" if words else f"like {liked}, which this channel liked"
        subs = ", ".join(f"#{r.subscription_id}" for r in self.reasons if r.subscription_id)
        return f"{words} ({subs})" if words and subs else words or subs


@dataclass(frozen=True, slots=True)
class Digest:
    """A batch of papers for one channel, best first.

    `more` counts the matches left out by the channel's cap; `more_url` links where
    a reader finds them.
    """

    title: str
    items: tuple[DigestItem, ...]
    more: int = 0
    more_url: str | None = None


@dataclass(frozen=True, slots=True)
class Reply:
    """What a command answers: plain text (adapters escape it), optional papers, optional note.

    `announcement` is a short public note for the channel when the command changed
    it (for example "subscribed this channel to #3: diffusion"); adapters prefix it
    with who did it.
    """

    text: str
    items: tuple[DigestItem, ...] = ()
    announcement: str | None = None
    ok: bool = True


@dataclass(frozen=True, slots=True)
class CommandContext:
    """Who asked, where, whether the platform says they may manage the channel, and the
    command's name there (a Slack workspace may call it something other than `papers`)."""

    key: ChannelKey
    user: str
    can_manage: bool = True
    user_name: str | None = field(default=None, compare=False)
    command: str = "papers"
