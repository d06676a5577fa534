"""The subscription query language: parse text into a small boolean tree.

Grammar (NOT binds tighter than AND, AND tighter than OR):

    query := all ("OR" all)*
    all   := unary (["AND"] unary)*
    unary := ["-"] atom                 (the minus touches the atom)
    atom  := word | "phrase" | field:atom | "(" query ")" | upvotes:[op]N | has:code | has:project
           | like:ARXIV_ID              (papers similar to that one, see bot/similarity.py)

Words are normalised here, once per query, with the same `tokens` rule the matcher
applies to papers, so matching is plain token comparison.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from typing import NamedTuple

from bot.commandset import MIN_UPVOTES_LIMIT
from bot.models import paper_id_of

DEFAULT_FIELDS = ("title", "keyword", "abstract")  # the longest last: the matcher checks phrases in this order
TEXT_FIELDS = ("title", "abstract", "author", "keyword")
FIELDS = (*TEXT_FIELDS, "upvotes", "has", "like")
HAS = ("code", "project")

_WORD = re.compile(r"\w+")
_ASCII_GAPS = str.maketrans({c: " " for c in map(chr, range(128)) if not (c.isalnum() or c == "_")})
_FIELD = re.compile(r"([^\W\d_]+):(.*)", re.DOTALL)
_UPVOTES = re.compile(r"(>=|<=|>|<|=)?([0-9]+)")
_OPEN_QUOTES = '"“”„'  # smart quotes too: phones and chat clients substitute them
_CLOSE_QUOTE = re.compile('["“”]')
_CHUNK = re.compile(r'[^\s()"“”„]+')
_VALUES = {
    "upvotes": ("a number", "upvotes:>=20"),
    "has": ("code or project", "has:code"),
    "like": ("an arXiv id", "like:2410.18978"),
}  # what follows the colon
_MAX_DEPTH = 20  # keeps the recursive parser far from Python's recursion limit


class QueryError(ValueError):
    """A query we cannot run. `str()` is one line meant for the user.

    `position` is the 0-based index into the text given to `parse`; the message
    shows it 1-based ("column 1" is the first character), as people count.
    """

    def __init__(self, message: str, position: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.position = position


@dataclass(frozen=True, slots=True)
class Term:
    """Words that must appear consecutively (one word, or a phrase) within one of `fields`.

    A leaf's label alone determines the leaf, so the matcher keys shared work on it.
    """

    label: str  # as the user wrote it, field included, e.g. 'author:"Yann LeCun"'
    fields: tuple[str, ...]
    words: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Upvotes:
    label: str
    op: str  # one of >=, >, <=, <, =
    value: int


@dataclass(frozen=True, slots=True)
class Has:
    label: str
    what: str  # one of HAS


@dataclass(frozen=True, slots=True)
class Like:
    """Papers similar enough to the paper `paper_id` (the matcher is given the similarities)."""

    label: str
    paper_id: str


@dataclass(frozen=True, slots=True)
class Not:
    child: Node


@dataclass(frozen=True, slots=True)
class And:
    children: tuple[Node, ...]  # never an And: nested ANDs are flattened


@dataclass(frozen=True, slots=True)
class Or:
    children: tuple[Node, ...]  # never an Or: nested ORs are flattened


Leaf = Term | Upvotes | Has | Like
Node = Leaf | Not | And | Or


@dataclass(frozen=True, slots=True)
class Query:
    text: str  # as given, stripped
    root: Node
    terms: tuple[str, ...]  # the labels outside exclusions, in order, once each: a match's words when no OR decides


@lru_cache(maxsize=1 << 16)
def _fold(word: str) -> str:
    """Singular-ish form, so `transformer` meets `Transformers` and `policy` meets `policies`."""
    if len(word) <= 3:
        return word
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith("sses"):
        return word[:-2]
    if word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def tokens(text: str) -> list[str]:
    """Normalised, folded words (runs of \\w); papers and queries go through this same rule."""
    text = unicodedata.normalize("NFKC", text).casefold()
    words = text.translate(_ASCII_GAPS).split() if text.isascii() else _WORD.findall(text)  # same split, 3x faster
    return list(map(_fold, words))


def parse(text: str, *, max_length: int = 300) -> Query:
    stripped = text.strip()
    if not stripped:
        raise QueryError("empty query: give at least one word to look for, e.g. diffusion")
    if len(stripped) > max_length:
        raise QueryError(f"query too long: {len(stripped)} characters, the limit is {max_length}")
    _refuse_invisible(text)
    root = _Parser(text).parse()
    return Query(stripped, root, tuple(dict.fromkeys(_positive_labels(root))))


def _refuse_invisible(text: str) -> None:
    """Control and format characters (NUL, ESC, bidi overrides, zero-width) hide what a query says."""
    for at, char in enumerate(text):
        if unicodedata.category(char) in ("Cc", "Cf") and not char.isspace():
            name = unicodedata.name(char, "")
            shown = f"U+{ord(char):04X}" + (f" ({name})" if name else "")
            raise QueryError(f"character {shown} at column {at + 1} is not allowed: queries take visible text only", at)


class _Token(NamedTuple):
    kind: str  # ( ) OR AND - field word phrase leaf
    start: int
    end: int
    text: str = ""  # a field's name, a word or a phrase's inside
    leaf: Leaf | None = None


def _fail(what: str, at: int, hint: str) -> QueryError:
    return QueryError(f"{what} at column {at + 1}: {hint}", at)


def _short(text: str, most: int = 30) -> str:
    """The user's text fit for a one-line error message."""
    text = " ".join(text.split())
    return text if len(text) <= most else text[: most - 1] + "…"


def _quoted(text: str) -> str:
    return f'"{_short(text)}"'


def _lex(text: str) -> list[_Token]:
    found: list[_Token] = []
    at, end = 0, len(text)
    while at < end:
        char = text[at]
        if char.isspace():
            at += 1
        elif char in "()":
            found.append(_Token(char, at, at + 1))
            at += 1
        elif char == "-":
            if at + 1 == end or text[at + 1].isspace() or text[at + 1] == ")":
                raise _fail('"-"', at, "put the word to exclude right after it, e.g. -survey")
            found.append(_Token("-", at, at + 1))
            at = _lex_atom(text, at + 1, found)
        else:
            at = _lex_atom(text, at, found, keywords=True)
    return found


def _lex_atom(text: str, at: int, found: list[_Token], keywords: bool = False) -> int:
    """Lex the term starting at `at`; return where it ends."""
    if text[at] in "()":
        found.append(_Token(text[at], at, at + 1))
        return at + 1
    if text[at] in _OPEN_QUOTES:
        close = _CLOSE_QUOTE.search(text, at + 1)
        if not close:
            raise _fail("unclosed quote", at, 'start the phrase with " and end it with "')
        found.append(_Token("phrase", at, close.end(), text[at + 1 : close.start()]))
        return close.end()
    end = _CHUNK.match(text, at).end()  # type: ignore[union-attr]  # callers checked text[at]
    chunk = text[at:end]
    if keywords and chunk in ("OR", "AND"):
        found.append(_Token(chunk, at, end))
        return end
    field = _FIELD.fullmatch(chunk)
    if not field:
        found.append(_Token("word", at, end, chunk))
        return end
    name, value = field[1].lower(), field[2]
    colon = at + len(field[1])
    if name not in FIELDS:
        known = ", ".join(f"{f}:" for f in FIELDS[:-1]) + f" or {FIELDS[-1]}:"
        raise _fail(f"unknown field {_quoted(field[1] + ':')}", at, f"use {known}")
    if not value and (name in ("upvotes", "has", "like") or end == len(text) or text[end] not in "(" + _OPEN_QUOTES):
        what, example = _VALUES.get(name, ('a word, a "phrase" or (a OR b)', f"{name}:agent"))
        raise _fail(_quoted(chunk), at, f"put {what} right after it, e.g. {example}")
    if name == "upvotes":
        number = _UPVOTES.fullmatch(value)
        if not number:
            raise _fail(f"bad upvotes value {_quoted(value)}", colon + 1, "use a number, e.g. upvotes:>=20")
        if len(number[2]) > 6 or int(number[2]) > MIN_UPVOTES_LIMIT:
            raise QueryError(
                f"upvotes value {_quoted(value)} too large at column {colon + 2}: "
                f"use a number up to {MIN_UPVOTES_LIMIT:,}", colon + 1,
            )
        found.append(_Token("leaf", at, end, leaf=Upvotes(chunk, number[1] or ">=", int(number[2]))))
        return end
    if name == "has":
        if value.lower() not in HAS:
            raise _fail(f"unknown {_quoted(chunk)}", at, "use has:code or has:project")
        found.append(_Token("leaf", at, end, leaf=Has(chunk, value.lower())))
        return end
    if name == "like":
        paper_id = paper_id_of(value)
        if paper_id is None:
            raise _fail(f"bad paper id {_quoted(value)}", colon + 1, "use an arXiv id, e.g. like:2410.18978")
        found.append(_Token("leaf", at, end, leaf=Like(f"like:{paper_id}", paper_id)))
        return end
    if value.startswith("-"):
        example = _short(f"-{field[1]}:{value[1:]}")
        raise _fail(_quoted(chunk), at, f"put the minus before the field, e.g. {example}")
    found.append(_Token("field", at, colon + 1, name))
    if value:
        found.append(_Token("word", colon + 1, end, value))
        return end
    return _lex_atom(text, end, found)


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = _lex(text)
        self.next = 0

    def parse(self) -> Node:
        root = self._or(DEFAULT_FIELDS, "", 0)
        if self.next < len(self.tokens):  # only a ")" stops _or early
            raise _fail("unmatched )", self.tokens[self.next].start, "remove it or add a matching (")
        if not _anchored(root):
            side = " on each side of OR" if _has_or(root) else ""
            raise QueryError(f"needs at least one word to look for{side}, not only -exclusions")
        return root

    def _peek(self) -> str | None:
        return self.tokens[self.next].kind if self.next < len(self.tokens) else None

    def _or(self, fields: tuple[str, ...], prefix: str, depth: int) -> Node:
        branches = [self._and(fields, prefix, depth)]
        while self._peek() == "OR":
            keyword = self.tokens[self.next]
            self.next += 1
            if self._peek() in (None, ")", "OR"):
                raise _fail("OR", keyword.start, "needs a term on each side, e.g. gan OR diffusion")
            branches.append(self._and(fields, prefix, depth))
        return _join(Or, branches)

    def _and(self, fields: tuple[str, ...], prefix: str, depth: int) -> Node:
        items: list[Node] = []
        while (kind := self._peek()) not in (None, ")", "OR"):
            if kind == "AND":
                keyword = self.tokens[self.next]
                self.next += 1
                if not items or self._peek() in (None, ")", "OR", "AND"):
                    raise _fail("AND", keyword.start, "needs a term on each side, e.g. gan AND diffusion")
                continue
            negated = kind == "-"
            self.next += negated
            item = self._atom(fields, prefix, depth)
            items.append(Not(item) if negated else item)
        if not items:  # the lexer guarantees a token here: an OR or a ")"
            token = self.tokens[self.next]
            if token.kind == "OR":
                raise _fail("OR", token.start, "needs a term on each side, e.g. gan OR diffusion")
            raise _fail("unmatched )", token.start, "remove it or add a matching (")
        return _join(And, items)

    def _atom(self, fields: tuple[str, ...], prefix: str, depth: int) -> Node:
        token = self.tokens[self.next]  # the lexer never ends on "-" or a field
        self.next += 1
        if token.leaf is not None:
            return token.leaf
        if token.kind == "field":
            return self._atom((token.text,), self.text[token.start : token.end], depth)
        if token.kind != "(":
            term = _term(prefix + self.text[token.start : token.end], fields, token.text)
            if term is None:
                raise _fail(f"{_quoted(token.text)} has no letters or digits", token.start, "give a word to look for")
            return term
        if self._peek() is None:
            raise _fail("unclosed parenthesis", token.start, "add a matching )")
        if self._peek() == ")":
            raise _fail("empty parentheses", token.start, "put a word inside")
        if depth == _MAX_DEPTH:
            raise _fail("too many nested parentheses", token.start, f"use at most {_MAX_DEPTH} levels")
        inner = self._or(fields, prefix, depth + 1)
        if self._peek() != ")":
            raise _fail("unclosed parenthesis", token.start, "add a matching )")
        self.next += 1
        return inner


@lru_cache(maxsize=1 << 14)
def _term(label: str, fields: tuple[str, ...], text: str) -> Term | None:
    """One object per distinct term: subscriptions repeat terms, so sharing them makes a wave's parsed
    queries about 2.4 times smaller and quicker for the matcher to walk. None when `text` has no words."""
    words = tuple(tokens(text))
    return Term(label, fields, words) if words else None


def _join(kind: type[And] | type[Or], items: list[Node]) -> Node:
    flat: list[Node] = []
    for item in items:
        flat.extend(item.children if isinstance(item, kind) else (item,))
    return flat[0] if len(flat) == 1 else kind(tuple(flat))


def _anchored(node: Node) -> bool:
    """Whether every match is guaranteed a positive term that hit (so a reason to show)."""
    if isinstance(node, Not):
        return False
    if isinstance(node, And):
        return any(map(_anchored, node.children))
    if isinstance(node, Or):
        return all(map(_anchored, node.children))
    return True


def _has_or(node: Node) -> bool:
    """Whether an OR stands outside every exclusion."""
    return isinstance(node, Or) or isinstance(node, And) and any(map(_has_or, node.children))


def like_ids(query: Query) -> tuple[str, ...]:
    """The papers the query's `like:` terms name, outside exclusions or in them, once each."""
    return tuple(dict.fromkeys(_likes(query.root)))


def _likes(node: Node) -> Iterator[str]:
    if isinstance(node, (And, Or)):
        for child in node.children:
            yield from _likes(child)
    elif isinstance(node, Not):
        yield from _likes(node.child)
    elif isinstance(node, Like):
        yield node.paper_id


def _positive_labels(node: Node) -> Iterator[str]:
    if isinstance(node, (And, Or)):
        for child in node.children:
            yield from _positive_labels(child)
    elif not isinstance(node, Not):
        yield node.label
