"""Similarity between papers, over a corpus's TF-IDF vectors: `like:` subscriptions and "why".

Rows of a `Corpus` are L2-normalised, so cosine similarity is a dot product. A paper is 1.0 from
itself; `LIKE_THRESHOLD` is where, on the hand-labelled benchmark corpus, a pair of papers above
it mostly shares a topic (benchmarks/RELEVANCE.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from bot.models import Paper
from bot.relevance import Corpus

if TYPE_CHECKING:
    from scipy.sparse import csr_matrix

LIKE_THRESHOLD = 0.15


def similar(
    seed: Paper, papers: Sequence[Paper], threshold: float = LIKE_THRESHOLD, corpus: Corpus | None = None
) -> list[tuple[Paper, float]]:
    """Papers at least `threshold` cosine-similar to `seed`, most similar first, with the similarity.

    The seed itself is left out. Pass the wave's `corpus` to reuse its vectors; without one, the
    seed and papers are vectorised together. No words at all: nothing matches.
    """
    others = [p for p in papers if p.id != seed.id]
    if corpus is None:
        corpus = Corpus.build([seed, *others])
    if corpus is None or not others:
        return []
    seed_row = corpus.rows([seed])
    similarity = (corpus.rows(others) @ seed_row.T).toarray().ravel()
    hits = [(others[i], float(similarity[i])) for i in range(len(others)) if similarity[i] >= threshold]
    return sorted(hits, key=lambda hit: (-hit[1], hit[0].id))


def nearest(corpus: Corpus, row: csr_matrix, among: Sequence[int]) -> tuple[int, float]:
    """The corpus row among `among` most similar to `row`, and its cosine similarity."""
    similarity = (corpus.matrix[list(among)] @ row.T).toarray().ravel()
    best = int(similarity.argmax())
    return among[best], float(similarity[best])


def shared_words(corpus: Corpus, a: csr_matrix, b: csr_matrix, most: int = 4) -> tuple[str, ...]:
    """The words two papers share that weigh most in both, a word left out when a chosen pair holds it."""
    product = a.multiply(b).tocoo()
    ranked = [corpus.words[int(c)] for _, c in sorted(zip(-product.data, product.col, strict=True))]
    chosen: list[str] = []
    for word in ranked:
        if len(chosen) == most:
            break
        if any(word in pair.split() for pair in chosen) or any(w in chosen for w in word.split()):
            continue
        chosen.append(word)
    return tuple(chosen)
