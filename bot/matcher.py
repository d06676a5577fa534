"""Which papers a query matches, and which of its terms hit.

`explain` checks one query against one paper and is the reference semantics.
`Matcher` and `match_channels` answer the same question for every (subscription, paper)
pair at once: an index of the papers (word -> papers, per field, as bit masks), kept
while the same papers come back, works out each term's and each distinct query's papers
once for all subscriptions, with a few integer operations instead of paper by paper.
Matches come grouped per subscription (`Hit`); `by_paper` expands them for those who
need a reason per paper, which is most of the cost when every pair is wanted.
"""

from __future__ import annotations

import operator
import sys
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from functools import cached_property, lru_cache
from typing import NamedTuple

from bot.gcpause import no_full_collections
from bot.models import Paper, Reason
from bot.query import TEXT_FIELDS, And, Has, Leaf, Like, Node, Not, Or, Query, Term, Upvotes, tokens

__all__ = ["NO_LIKES", "Group", "Hit", "Likes", "Matcher", "by_paper", "explain", "match_channels", "tokens"]

_COMPARE: dict[str, Callable[[int, int], bool]] = {
    ">=": operator.ge,
    ">": operator.gt,
    "<=": operator.le,
    "<": operator.lt,
    "=": operator.eq,
}
_LINK = {"code": "github_repo", "project": "project_page"}


class Likes(NamedTuple):
    """What `like:` terms match in a batch of papers: (seed id, paper id, similarity) for every paper
    similar enough to a seed (bot/similarity.py works them out per wave; hashable, so an index keeps it)."""

    hits: tuple[tuple[str, str, float], ...] = ()

    def similarity(self, seed: str, paper_id: str) -> float | None:
        return _similarities(self).get((seed, paper_id))


NO_LIKES = Likes()


@lru_cache(maxsize=16)
def _similarities(likes: Likes) -> dict[tuple[str, str], float]:
    return {(seed, paper): similarity for seed, paper, similarity in likes.hits}


@lru_cache(maxsize=8192)  # a day's papers are matched again at every poll, digest and preview
def _text(parts: tuple[str, ...]) -> str:
    """The parts' tokens as " w1 w2 ... ", parts two spaces apart: a phrase is then a substring
    " a b " that can never span two authors or keywords."""
    return " " + "  ".join(" ".join(tokens(part)) for part in parts) + " "


@lru_cache(maxsize=8192)
def _distinct(text: str) -> tuple[str, ...]:
    """A field's words once each, for the index; cached like `_text`, whose strings it receives.
    Interned: papers share one string per word, so building an index compares words by identity."""
    return tuple(map(sys.intern, set(text.split())))


def _fields(paper: Paper) -> dict[str, str]:
    return {
        "title": _text((paper.title,)),
        "abstract": _text((paper.abstract,)),
        "author": _text(paper.authors),
        "keyword": _text(paper.ai_keywords),
    }


def _spaced(words: tuple[str, ...]) -> str:
    return f" {' '.join(words)} "


def _holds(leaf: Leaf, paper: Paper, fields: dict[str, str], likes: Likes) -> bool:
    if isinstance(leaf, Term):
        return any(_spaced(leaf.words) in fields[field] for field in leaf.fields)
    if isinstance(leaf, Upvotes):
        return _COMPARE[leaf.op](paper.upvotes, leaf.value)
    if isinstance(leaf, Like):
        return likes.similarity(leaf.paper_id, paper.id) is not None
    return bool(getattr(paper, _LINK[leaf.what]))


def explain(query: Query, paper: Paper, likes: Likes = NO_LIKES) -> tuple[str, ...] | None:
    hits = _hits(query.root, paper, _fields(paper), likes)
    return None if hits is None else tuple(dict.fromkeys(hits))


def _hits(node: Node, paper: Paper, fields: dict[str, str], likes: Likes) -> list[str] | None:
    """None when `node` is false; else the labels of the positive leaves that made it true."""
    if isinstance(node, Not):
        return [] if _hits(node.child, paper, fields, likes) is None else None
    if isinstance(node, And):
        found: list[str] = []
        for child in node.children:
            more = _hits(child, paper, fields, likes)
            if more is None:
                return None
            found += more
        return found
    if isinstance(node, Or):
        branches = [more for child in node.children if (more := _hits(child, paper, fields, likes)) is not None]
        return [label for branch in branches for label in branch] if branches else None
    return [node.label] if _holds(node, paper, fields, likes) else None


class Group(NamedTuple):
    """Papers one query matches for the same words."""

    words: tuple[str, ...]  # as `explain` lists them
    papers: tuple[int, ...]  # indices into the papers matched


class Hit(NamedTuple):
    """A subscription's matches. Equal queries share one `groups`, so a hit costs one tuple
    however many papers it covers; `by_paper` expands it only for callers that need that."""

    subscription_id: int
    query: str
    groups: tuple[Group, ...]


_BITS = [tuple(bit for bit in range(8) if byte >> bit & 1) for byte in range(256)]  # byte -> its set bits


def _bits(mask: int) -> list[int]:
    """The set bits of `mask`, lowest first."""
    size = (mask.bit_length() + 7) // 8
    return [at * 8 + bit for at, byte in enumerate(mask.to_bytes(size, "little")) if byte for bit in _BITS[byte]]


class Matcher:
    """All subscriptions against a batch of papers at once; per pair, the same answer as `explain`."""

    def __init__(self, subscriptions: Iterable[tuple[int, Query]], likes: Likes = NO_LIKES) -> None:
        self._subscriptions = sorted(subscriptions, key=operator.itemgetter(0))
        self._likes = likes

    @no_full_collections
    def hits(self, papers: Sequence[Paper]) -> list[Hit]:
        """The subscriptions that match any paper, by subscription id, with their matches grouped."""
        return _index(tuple(papers), self._likes).hits(self._subscriptions)

    @no_full_collections
    def match(self, papers: Sequence[Paper]) -> dict[str, tuple[Reason, ...]]:
        """Paper id -> a reason per matching subscription, by subscription id; ids must be unique."""
        return by_paper(self.hits(papers), papers)


def match_channels(
    channels: Mapping[int, Iterable[tuple[int, Query]]], papers: Sequence[Paper], likes: Likes = NO_LIKES
) -> Iterator[tuple[int, dict[str, tuple[Reason, ...]]]]:
    """(channel id, `Matcher(subscriptions, likes).match(papers)`) for each channel, in one pass.

    The index and each distinct query are worked out once for the whole wave instead of per
    channel. Channels come one at a time, so a wave never holds every channel's matches at once:
    freeing a hundred thousand of them in one go would stall the event loop. CPU-bound and
    synchronous: run it in `asyncio.to_thread`, under `no_full_collections`.
    """
    index = _index(tuple(papers), likes)
    for channel, subscriptions in channels.items():
        yield channel, by_paper(index.hits(sorted(subscriptions, key=operator.itemgetter(0))), papers)


def by_paper(hits: Iterable[Hit], papers: Sequence[Paper]) -> dict[str, tuple[Reason, ...]]:
    """Paper id -> a reason per hit, in the hits' order; `papers` are those the hits were matched on."""
    found: dict[int, list[Reason]] = {}
    for subscription, query, groups in hits:
        for words, indices in groups:
            reason = Reason(subscription, query, words)
            for i in indices:
                reasons = found.get(i)
                if reasons is None:
                    found[i] = [reason]
                else:
                    reasons.append(reason)
    return {papers[i].id: tuple(found[i]) for i in sorted(found)}


@lru_cache(maxsize=4)  # delivery matches channel after channel, and previews run again, on the same papers
def _index(papers: tuple[Paper, ...], likes: Likes) -> _Index:
    return _Index(papers, likes)


class _Index:
    """A set of papers, with every leaf's papers as a bit mask, computed once and shared.

    Bit i stands for papers[i]: AND, OR and NOT are then single integer operations. Each
    distinct query's groups are kept too, so equal queries of other subscriptions or channels
    cost a dictionary lookup. Threads may share an index: a race only computes a value twice.
    """

    def __init__(self, papers: Sequence[Paper], likes: Likes) -> None:
        self._papers = papers
        self._likes = likes
        self._fields = [_fields(paper) for paper in papers]
        self._postings: dict[str, dict[str, int]] = {name: {} for name in TEXT_FIELDS}  # word -> mask
        for i, fields in enumerate(self._fields):
            bit = 1 << i
            for name, text in fields.items():
                postings = self._postings[name]
                for word in _distinct(text):
                    postings[word] = postings.get(word, 0) | bit
        self._texts = {name: [fields[name] for fields in self._fields] for name in TEXT_FIELDS}
        self._all = (1 << len(papers)) - 1
        self._leaves: dict[str, int] = {}
        self._groups: dict[str, tuple[Group, ...]] = {}  # by query text: equal texts parse alike
        self._indices: dict[int, tuple[int, ...]] = {}

    def hits(self, subscriptions: Iterable[tuple[int, Query]]) -> list[Hit]:
        found = []
        known = self._groups
        for subscription, query in subscriptions:
            text = query.text
            groups = known.get(text)
            if groups is None:
                groups = known[text] = self._group(query)
            if groups:  # tuple.__new__ spares NamedTuple's Python-level __new__, here and for each Group
                found.append(tuple.__new__(Hit, (subscription, text, groups)))
        return found

    def _group(self, query: Query) -> tuple[Group, ...]:
        """The matching papers grouped by the words that hit, as `explain` lists them."""
        root = query.root
        kind = type(root)
        if kind is Or:
            credits: list[tuple[str, int]] = []
            matched = 0
            for child in root.children:  # type: ignore[union-attr]  # an OR credits a branch where it holds: one mask each
                where = self._mask(child)
                if where:
                    matched |= where
                    if type(child) is And:
                        self._credit(child, where, credits)  # type: ignore[arg-type]
                    else:  # a term or filter: no NOT, as each side of an OR has a term
                        credits.append((child.label, where))  # type: ignore[union-attr]
            return self._split(matched, credits) if matched else ()
        matched = self._mask(root)
        if not matched:
            return ()
        if kind is And and Or in map(type, root.children):  # type: ignore[union-attr]
            credits = []
            self._credit(root, matched, credits)  # type: ignore[arg-type]
            return self._split(matched, credits)
        return (tuple.__new__(Group, (query.terms, self._indices_of(matched))),)  # no OR: every positive term hit

    def _split(self, matched: int, credits: list[tuple[str, int]]) -> tuple[Group, ...]:
        """Group the matches by which leaves an OR credits on each."""
        indices_of = self._indices_of
        covered = 0
        for _, where in credits:
            if covered & where:
                break
            covered |= where
        else:  # most ORs: the branches hit different papers, so each makes a group of its own
            if covered == matched:
                return tuple([
                    tuple.__new__(Group, ((label,), indices_of(where)))
                    for label, where in credits
                    if where
                ])
        groups: list[tuple[tuple[str, ...], int]] = [((), matched)]
        for label, where in credits:
            split = []
            for words, hits in groups:
                inside = hits & where
                if not inside or label in words:  # not credited here, or listed already
                    split.append((words, hits))
                elif inside == hits:
                    split.append(((*words, label), hits))
                else:
                    split += ((*words, label), inside), (words, hits ^ inside)
            groups = split
        return tuple([tuple.__new__(Group, (words, indices_of(hits))) for words, hits in groups])

    def _credit(self, node: And | Or, within: int, credits: list[tuple[str, int]]) -> None:
        """Collect (label, papers where that leaf is credited) under `node`, mirroring `_hits` with masks."""
        narrow = type(node) is Or  # an OR credits a branch only where that branch holds
        for child in node.children:
            kind = type(child)
            if kind is Not:
                continue
            where = within & self._mask(child) if narrow else within
            if kind is And or kind is Or:
                self._credit(child, where, credits)  # type: ignore[arg-type]
            else:
                credits.append((child.label, where))  # type: ignore[union-attr]

    def _mask(self, node: Node) -> int:
        """The papers matching `node`. `type() is`, terms first, beats isinstance: this runs per node per query."""
        kind = type(node)
        if kind is not Term and kind is not Upvotes and kind is not Has and kind is not Like:
            if kind is And:
                found = self._all
                for child in node.children:  # type: ignore[union-attr]
                    found &= ~self._mask(child.child) if type(child) is Not else self._mask(child)
                    if not found:  # the rest cannot add papers back
                        return 0
                return found
            if kind is Or:
                found = 0
                for child in node.children:  # type: ignore[union-attr]
                    found |= self._mask(child)
                return found
            return self._all ^ self._mask(node.child)  # type: ignore[union-attr]  # a Not
        label = node.label  # type: ignore[union-attr]  # a leaf, whose label says all about it
        known = self._leaves.get(label)
        if known is None:
            known = self._leaves[label] = self._find(node)  # type: ignore[arg-type]
        return known

    def _find(self, leaf: Leaf) -> int:
        if isinstance(leaf, Upvotes):  # thresholds vary a lot: two bisections each
            values, at_least = self._upvotes
            low, high = at_least[bisect_left(values, leaf.value)], at_least[bisect_right(values, leaf.value)]
            return {">=": low, ">": high, "<": self._all ^ low, "<=": self._all ^ high, "=": low ^ high}[leaf.op]
        if not isinstance(leaf, Term):
            likes = self._likes
            return sum(1 << i for i, paper in enumerate(self._papers) if _holds(leaf, paper, self._fields[i], likes))
        first, *rest = leaf.words
        found = 0
        for field in leaf.fields:
            postings = self._postings[field]
            candidates = postings.get(first, 0)
            if rest and candidates:  # papers with all the words, not yet found: check they are side by side
                for word in rest:
                    candidates &= postings.get(word, 0)
                texts, phrase = self._texts[field], _spaced(leaf.words)
                unsure = candidates & ~found
                while unsure:  # a few papers each: cheaper bit by bit than through _bits
                    i = unsure.bit_length() - 1
                    if phrase not in texts[i]:
                        candidates ^= 1 << i
                    unsure ^= 1 << i
            found |= candidates
        return found

    @cached_property
    def _upvotes(self) -> tuple[list[int], list[int]]:
        """The distinct upvote counts, ascending, and for each the papers with at least that many (then none)."""
        values = sorted({paper.upvotes for paper in self._papers})
        rank = {value: at for at, value in enumerate(values)}
        at_least = [0] * (len(values) + 1)
        for i, paper in enumerate(self._papers):
            at_least[rank[paper.upvotes]] |= 1 << i
        for at in reversed(range(len(values))):
            at_least[at] |= at_least[at + 1]
        return values, at_least

    def _indices_of(self, mask: int) -> tuple[int, ...]:
        found = self._indices.get(mask)
        if found is None:
            found = self._indices[mask] = tuple(_bits(mask))
        return found
