"""Which papers a query matches, and which of its terms hit.

`explain` checks one query against one paper and is the reference semantics.
`Matcher` answers the same question for every (subscription, paper) pair at once:
it indexes the day's papers (word -> papers, per field) and evaluates each query
with set operations, memoising every term's papers across subscriptions, so a
word is looked up once per day rather than once per subscription and paper.
"""

from __future__ import annotations

import operator
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence, Set
from operator import itemgetter

from bot.models import Paper, Reason
from bot.query import TEXT_FIELDS, And, Leaf, Node, Not, Or, Query, Term, Upvotes, tokens

__all__ = ["Matcher", "explain", "tokens"]

_COMPARE: dict[str, Callable[[int, int], bool]] = {
    ">=": operator.ge,
    ">": operator.gt,
    "<=": operator.le,
    "<": operator.lt,
    "=": operator.eq,
}
_LINK = {"code": "github_repo", "project": "project_page"}


def _words(parts: Iterable[str]) -> list[str]:
    """The parts' tokens with "" between parts, so no phrase spans two authors or keywords."""
    found: list[str] = []
    for part in parts:
        found += tokens(part)
        found.append("")
    return found


def _fields(paper: Paper) -> dict[str, list[str]]:
    return {
        "title": tokens(paper.title),
        "abstract": tokens(paper.abstract),
        "author": _words(paper.authors),
        "keyword": _words(paper.ai_keywords),
    }


def _contains(words: list[str], wanted: tuple[str, ...]) -> bool:
    """Whether `wanted` occurs in `words` as consecutive tokens."""
    at, size = -1, len(wanted)
    try:
        while True:
            at = words.index(wanted[0], at + 1)
            if tuple(words[at : at + size]) == wanted:
                return True
    except ValueError:
        return False


def _holds(leaf: Leaf, paper: Paper, fields: dict[str, list[str]]) -> bool:
    if isinstance(leaf, Term):
        return any(_contains(fields[field], leaf.words) for field in leaf.fields)
    if isinstance(leaf, Upvotes):
        return _COMPARE[leaf.op](paper.upvotes, leaf.value)
    return bool(getattr(paper, _LINK[leaf.what]))


def explain(query: Query, paper: Paper) -> tuple[str, ...] | None:
    hits = _hits(query.root, paper, _fields(paper))
    return None if hits is None else tuple(dict.fromkeys(hits))


def _hits(node: Node, paper: Paper, fields: dict[str, list[str]]) -> list[str] | None:
    """None when `node` is false; else the labels of the positive leaves that made it true."""
    if isinstance(node, Not):
        return [] if _hits(node.child, paper, fields) is None else None
    if isinstance(node, And):
        found: list[str] = []
        for child in node.children:
            more = _hits(child, paper, fields)
            if more is None:
                return None
            found += more
        return found
    if isinstance(node, Or):
        branches = [more for child in node.children if (more := _hits(child, paper, fields)) is not None]
        return [label for branch in branches for label in branch] if branches else None
    return [node.label] if _holds(node, paper, fields) else None


_Groups = list[tuple[tuple[str, ...], Set[int]]]  # (words that hit, paper indices)


class Matcher:
    def __init__(self, subscriptions: Iterable[tuple[int, Query]]) -> None:
        self._subscriptions = sorted(subscriptions, key=itemgetter(0))

    def match(self, papers: Sequence[Paper]) -> dict[str, tuple[Reason, ...]]:
        """Paper id -> a reason per matching subscription, by subscription id; ids must be unique."""
        index = _Index(papers)
        found: list[list[Reason]] = [[] for _ in papers]
        done: dict[str, _Groups] = {}  # popular queries recur; equal texts parse alike
        for subscription, query in self._subscriptions:
            groups = done.get(query.text)
            if groups is None:
                groups = done[query.text] = index.groups(query.root)
            for words, hits in groups:
                reason = Reason(subscription, query.text, words)
                for i in hits:
                    found[i].append(reason)
        return {papers[i].id: tuple(reasons) for i, reasons in enumerate(found) if reasons}


class _Index:
    """One day's papers as postings; each leaf's papers are computed once and shared."""

    def __init__(self, papers: Sequence[Paper]) -> None:
        self._papers = papers
        self._fields = [_fields(paper) for paper in papers]
        self._postings: dict[str, defaultdict[str, set[int]]] = {name: defaultdict(set) for name in TEXT_FIELDS}
        for i, fields in enumerate(self._fields):
            for name, words in fields.items():
                postings = self._postings[name]
                for word in set(words):
                    postings[word].add(i)
        self._all = frozenset(range(len(papers)))
        self._leaves: dict[object, Set[int]] = {}

    def groups(self, root: Node) -> _Groups:
        """The matching papers grouped by the words that hit, as `explain` lists them."""
        matched = self._papers_of(root)
        if not matched:
            return []
        credits: list[tuple[str, Set[int]]] = []
        self._credit(root, matched, credits)
        groups: list[tuple[tuple[str, ...], Set[int]]] = [((), matched)]
        for label, where in credits:
            if where is matched:  # credited wherever the query matches: no split
                groups = [(words + (label,), hits) for words, hits in groups]
                continue
            split = []
            for words, hits in groups:
                inside = hits & where
                if inside:
                    split.append((words + (label,), inside))
                if len(inside) < len(hits):
                    split.append((words, hits - inside))
            groups = split
        return [(tuple(dict.fromkeys(words)), hits) for words, hits in groups]

    def _credit(self, node: Node, within: Set[int], credits: list[tuple[str, Set[int]]]) -> None:
        """Collect (label, papers where that leaf is credited), mirroring `_hits` with sets."""
        if isinstance(node, And):
            for child in node.children:
                self._credit(child, within, credits)
        elif isinstance(node, Or):
            for child in node.children:
                self._credit(child, within & self._papers_of(child), credits)
        elif not isinstance(node, Not):
            credits.append((node.label, within))

    def _papers_of(self, node: Node) -> Set[int]:
        if isinstance(node, And):
            found: Set[int] = self._all
            for child in node.children:
                if not isinstance(child, Not):
                    found = found & self._papers_of(child)
                    if not found:
                        return found
            for child in node.children:
                if isinstance(child, Not):
                    found = found - self._papers_of(child.child)
            return found
        if isinstance(node, Or):
            return set().union(*map(self._papers_of, node.children))
        if isinstance(node, Not):
            return self._all - self._papers_of(node.child)
        key = (node.fields, node.words) if isinstance(node, Term) else node.label.lower()  # a filter is its label
        found = self._leaves.get(key)
        if found is None:
            found = self._leaves[key] = self._find(node)
        return found

    def _find(self, leaf: Leaf) -> Set[int]:
        if not isinstance(leaf, Term):
            return {i for i, paper in enumerate(self._papers) if _holds(leaf, paper, self._fields[i])}
        found: set[int] = set()
        for field in leaf.fields:
            postings = self._postings[field]
            candidates = set.intersection(*(postings.get(word, set()) for word in leaf.words))
            if len(leaf.words) > 1:  # a phrase: check the words are consecutive
                candidates = {i for i in candidates if _contains(self._fields[i][field], leaf.words)}
            found |= candidates
        return found
