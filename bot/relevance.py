"""Relevance that learns: a channel's taste, learned from its ratings, ranks and suggests papers.

The method is arxiv-sanity-lite's: TF-IDF over the words and word pairs of each paper's title,
abstract, AI keywords and authors, and a linear SVM per channel trained on what the channel
liked and disliked. Vectorising is the costly part, so it happens once per wave for every
channel (`Corpus.build`); a channel's model is then a sparse weight vector over that shared
vocabulary, trained in milliseconds, and scoring all channels is one sparse matrix product
(`score_tastes`).

Decisions, measured by benchmarks/bench_relevance.py on 204 hand-labelled papers, 7 tastes
(benchmarks/RELEVANCE.md): learned order precision@5 0.79 against 0.09 for upvote order.

- Papers delivered to the channel but never rated are weak negatives (`WEAK_NEGATIVE_WEIGHT`):
  ranking is as good or slightly better (P@5 0.79 vs 0.78), a channel that only says 👍 still gets
  a model, and suggestions become possible: with explicit 👎 alone every day got three, 47% right.
- A channel's order is learned once it has `MIN_POSITIVES` 👍 (its `like:` seeds count); before,
  upvote order. Learned order is 0.9 x the percentile of the taste's score + `UPVOTE_BLEND` (0.1)
  x the percentile of upvotes: upvotes break near-ties for free at 0.1, cost 0.05 P@5 at 0.25.
- "Also for you" takes papers above `SUGGEST_THRESHOLD` on the channel's own relevance scale
  (`Taste.relevance`): 0.81 precision, 0.8 suggestions a day, 8% of days without the taste get one.

scikit-learn, SciPy and NumPy are imported inside functions, so importing this module is
cheap. Everything is pure and synchronous, and built objects are never mutated: callers may
train and score in a worker thread (asyncio.to_thread) and share the results.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bot.models import Paper

if TYPE_CHECKING:
    from numpy import ndarray
    from scipy.sparse import csr_matrix
    from sklearn.feature_extraction.text import TfidfVectorizer

MIN_POSITIVES = 3
UPVOTE_BLEND = 0.1
SUGGEST_THRESHOLD = 0.2
SUGGESTIONS = 3
WEAK_NEGATIVE_WEIGHT = 0.3
SVM_C = 0.5
KEPT_WEIGHTS = 1000

Rating = tuple[str, int]
"""(paper id, +1 for a 👍 or -1 for a 👎): one per user and paper, as the store keeps them."""

_NOT_WORD = re.compile(r"\W+")
# Words start with a letter, or are a number glued to letters ("3d", "4dgs"); authors are one token.
_TOKEN = r"(?u)\b(?:[a-zA-Z_][a-zA-Z0-9_]+|[0-9]+[a-zA-Z][a-zA-Z0-9_]*)\b"


def paper_text(paper: Paper) -> str:
    """The text a taste is learned from; each author becomes one token, so names never mix."""
    authors = " ".join(_NOT_WORD.sub("_", name.strip()).strip("_") for name in paper.authors)
    return "\n".join((paper.title, paper.abstract, " ; ".join(paper.ai_keywords), authors))


@dataclass(frozen=True, slots=True, eq=False)
class Corpus:
    """TF-IDF vectors of one wave's papers, with one vocabulary shared by every channel."""

    papers: tuple[Paper, ...]
    index: Mapping[str, int]
    matrix: csr_matrix  # one L2-normalised row per paper, in the order of `papers`
    words: tuple[str, ...]  # the feature names, word or word pair, by column
    vectorizer: TfidfVectorizer

    @classmethod
    def build(cls, papers: Iterable[Paper]) -> Corpus | None:
        """Vectorise the papers (first of each id kept); None when they hold no word at all."""
        from sklearn.feature_extraction.text import TfidfVectorizer

        first: dict[str, Paper] = {}
        for paper in papers:
            first.setdefault(paper.id, paper)
        unique = tuple(first.values())
        if not unique:
            return None
        vectorizer = TfidfVectorizer(
            strip_accents="unicode",
            stop_words="english",
            token_pattern=_TOKEN,
            ngram_range=(1, 2),
            sublinear_tf=True,
            min_df=2,
        )
        try:
            matrix = vectorizer.fit_transform([paper_text(p) for p in unique]).tocsr()
        except ValueError:  # no word survived: empty texts, or only stop words
            return None
        words = tuple(w.replace("_", " ") for w in vectorizer.get_feature_names_out())
        return cls(unique, {p.id: i for i, p in enumerate(unique)}, matrix, words, vectorizer)

    def rows(self, papers: Sequence[Paper]) -> csr_matrix:
        """Vectors for papers in this vocabulary: stored rows for known ids, new ones for the rest."""
        from scipy.sparse import vstack

        known = [self.index.get(p.id) for p in papers]
        if all(i is not None for i in known):
            return self.matrix[known]
        fresh = iter(self.vectorizer.transform([paper_text(p) for p, i in zip(papers, known) if i is None]).tocsr())
        return vstack([self.matrix[i] if i is not None else next(fresh) for i in known], format="csr")


@dataclass(frozen=True, slots=True)
class Labels:
    """What a channel told us: net-liked papers (most liked first), net-disliked, unrated deliveries."""

    positives: tuple[str, ...]
    negatives: tuple[str, ...]
    unrated: tuple[str, ...] = ()
    ratings: int = 0
    likes: Mapping[str, int] | None = None  # paper id -> net 👍, for "most liked"


def labels(ratings: Iterable[Rating], seeds: Iterable[str] = (), delivered: Iterable[str] = ()) -> Labels:
    """Sum each paper's votes; `like:` seeds count as liked, delivered papers nobody rated as unrated."""
    net: Counter[str] = Counter()
    count = 0
    for paper_id, vote in ratings:
        net[paper_id] += 1 if vote > 0 else -1
        count += 1
    for seed in seeds:
        net[seed] = max(net[seed], 0) + 1
    positives = tuple(i for i, v in sorted(net.items(), key=lambda kv: (-kv[1], kv[0])) if v > 0)
    negatives = tuple(sorted(i for i, v in net.items() if v < 0))
    rated = set(net)
    unrated = tuple(dict.fromkeys(i for i in delivered if i not in rated))
    return Labels(positives, negatives, unrated, count, {i: net[i] for i in positives})


@dataclass(frozen=True, slots=True)
class TasteReport:
    """What `/papers taste` shows: the counts, the words that pull up and down, the most-liked papers."""

    ratings: int
    positives: int
    negatives: int
    pulls_up: tuple[str, ...]
    pulls_down: tuple[str, ...]
    most_liked: tuple[Paper, ...]


@dataclass(frozen=True, slots=True, eq=False)
class Taste:
    """One channel's learned taste: a sparse weight vector over a corpus's vocabulary."""

    corpus: Corpus
    weights: csr_matrix  # 1 x len(corpus.words); zero outside the words of trained papers
    bias: float
    passed: float  # mean margin of the papers trained as negatives: relevance 0
    liked_margin: float  # mean margin of the liked papers: relevance 1
    labels: Labels
    liked: tuple[int, ...]  # corpus rows of the liked papers, most liked first

    @property
    def ready(self) -> bool:
        """Whether the channel has liked enough papers for its order to be learned, not upvotes'."""
        return len(self.liked) >= MIN_POSITIVES

    @classmethod
    def train(cls, corpus: Corpus, labels: Labels, *, weak_negatives: bool = True) -> Taste | None:
        """Fit the channel's SVM; None when there is no 👍 in the corpus or nothing to contrast it with."""
        from sklearn.svm import LinearSVC

        liked = tuple(corpus.index[i] for i in labels.positives if i in corpus.index)
        disliked = [corpus.index[i] for i in labels.negatives if i in corpus.index]
        weak = [corpus.index[i] for i in labels.unrated if i in corpus.index] if weak_negatives else []
        rows = [*liked, *disliked, *weak]
        if not liked or len(rows) == len(liked):
            return None
        y = [1] * len(liked) + [0] * (len(disliked) + len(weak))
        weight = [1.0] * (len(liked) + len(disliked)) + [WEAK_NEGATIVE_WEIGHT] * len(weak)
        model = LinearSVC(C=SVM_C, class_weight="balanced", tol=1e-3, max_iter=10_000)
        model.fit(corpus.matrix[rows], y, sample_weight=weight)
        from scipy.sparse import csr_matrix

        weights = _strongest(csr_matrix(model.coef_), KEPT_WEIGHTS)
        margins = (corpus.matrix[rows] @ weights.T).toarray().ravel() + model.intercept_[0]
        passed, liked_margin = float(margins[len(liked) :].mean()), float(margins[: len(liked)].mean())
        if liked_margin <= passed:  # the model cannot tell them apart: no taste to speak of
            return None
        return cls(corpus, weights, float(model.intercept_[0]), passed, liked_margin, labels, liked)

    def scores(self, rows: csr_matrix | None = None) -> ndarray:
        """The SVM margin of each row (default: every corpus paper): higher is closer to the taste.

        Margins order one channel's papers; to compare with a threshold, use `relevance`.
        """
        matrix = self.corpus.matrix if rows is None else rows
        return (matrix @ self.weights.T).toarray().ravel() + self.bias

    def relevance(self, rows: csr_matrix | None = None) -> ndarray:
        """Scores on the channel's own scale: 0 is like the papers it passed over, 1 like those it liked.

        Margins of different channels (and of one channel as its ratings grow) are on different
        scales; this one makes a single suggestion threshold mean the same for every channel.
        """
        return (self.scores(rows) - self.passed) / (self.liked_margin - self.passed)

    def explain(self, most: int = 8) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """The words with the largest positive and negative weights: what pulls papers up and down."""
        import numpy

        order = numpy.argsort(self.weights.data)
        columns = self.weights.indices
        up = [self.corpus.words[columns[i]] for i in order[::-1][:most] if self.weights.data[i] > 0]
        down = [self.corpus.words[columns[i]] for i in order[:most] if self.weights.data[i] < 0]
        return tuple(up), tuple(down)

    def report(self, most: int = 5) -> TasteReport:
        """The data of `/papers taste`."""
        up, down = self.explain()
        liked = tuple(self.corpus.papers[i] for i in self.liked[:most])
        counts = self.labels
        return TasteReport(counts.ratings, len(counts.positives), len(counts.negatives), up, down, liked)


def _strongest(weights: csr_matrix, most: int) -> csr_matrix:
    """The `most` weights of largest magnitude, the rest dropped.

    A channel's SVM puts a weight on every word of every paper it was trained on, tens of
    thousands with its delivered papers; scoring 1,000 channels is ~25x faster on the strongest
    thousand, with the same precision on the benchmark.
    """
    import numpy
    from scipy.sparse import csr_matrix

    weights.eliminate_zeros()
    if weights.nnz <= most:
        return weights
    keep = numpy.argpartition(-numpy.abs(weights.data), most)[:most]
    keep.sort()
    return csr_matrix((weights.data[keep], weights.indices[keep], [0, most]), shape=weights.shape)


def score_tastes(tastes: Sequence[Taste], rows: csr_matrix) -> ndarray:
    """Margins of every row for every channel, papers x channels, as one sparse product.

    All tastes must come from the same corpus (the wave's), so their weights share columns.
    """
    import numpy
    from scipy.sparse import vstack

    if not tastes:
        return numpy.zeros((rows.shape[0], 0))
    if any(t.corpus is not tastes[0].corpus for t in tastes):
        raise ValueError("tastes trained on different corpora do not share a vocabulary")
    weights = vstack([t.weights for t in tastes], format="csr")
    bias = numpy.array([t.bias for t in tastes])
    return (rows @ weights.T).toarray() + bias


def upvote_order(papers: Iterable[Paper]) -> list[Paper]:
    """Most upvoted first, then by id: the order without a taste, as the store lists papers."""
    return sorted(papers, key=lambda p: (-p.upvotes, p.id))


def rank(
    papers: Sequence[Paper], taste: Taste | None, scores: ndarray | None = None, blend: float = UPVOTE_BLEND
) -> list[Paper]:
    """Best first for the channel: taste blended with upvotes once it is ready, else upvote order.

    `scores` (the taste's margins for `papers`, as from `score_tastes`) saves scoring them again;
    `blend` is the weight of upvotes' percentile against the taste's (0: taste alone).
    """
    if taste is None or not taste.ready or len(papers) < 2:
        return upvote_order(papers)
    from scipy.stats import rankdata

    margins = taste.scores(taste.corpus.rows(papers)) if scores is None else scores
    taste_pct = (rankdata(margins) - 1) / (len(papers) - 1)
    upvote_pct = (rankdata([p.upvotes for p in papers]) - 1) / (len(papers) - 1)
    blended = (1 - blend) * taste_pct + blend * upvote_pct
    order = sorted(range(len(papers)), key=lambda i: (-blended[i], -margins[i], -papers[i].upvotes, papers[i].id))
    return [papers[i] for i in order]


@dataclass(frozen=True, slots=True)
class Suggestion:
    """An "also for you" paper and why: the liked paper it resembles most and the words they share."""

    paper: Paper
    score: float
    like: Paper
    similarity: float
    words: tuple[str, ...]


def suggest(
    taste: Taste | None,
    candidates: Sequence[Paper],
    most: int = SUGGESTIONS,
    threshold: float = SUGGEST_THRESHOLD,
) -> list[Suggestion]:
    """Up to `most` candidates scoring above `threshold`, best first; none before the taste is ready.

    Candidates are the day's papers that matched none of the channel's subscriptions; papers
    the channel already rated are never suggested.
    """
    from bot.similarity import nearest, shared_words

    if taste is None or not taste.ready or not candidates:
        return []
    rated = {*taste.labels.positives, *taste.labels.negatives}
    fresh = [p for p in candidates if p.id not in rated]
    if not fresh:
        return []
    rows = taste.corpus.rows(fresh)
    score = taste.relevance(rows)
    picked = sorted((i for i in range(len(fresh)) if score[i] > threshold), key=lambda i: -score[i])[:most]
    found = []
    for i in picked:
        row, similarity = nearest(taste.corpus, rows[i], taste.liked)
        words = shared_words(taste.corpus, rows[i], taste.corpus.matrix[row])
        found.append(Suggestion(fresh[i], float(score[i]), taste.corpus.papers[row], similarity, words))
    return found
