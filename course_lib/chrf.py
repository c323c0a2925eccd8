"""chrF and chrF++, translation scores on character n-grams, from scratch.

Popović (2015), "chrF: character n-gram F-score for automatic MT evaluation", and
(2017) "chrF++: words helping character n-grams". BLEU counts whole-word n-grams, so
``"1998-09-08"`` against ``"1998-09-18"`` is one wrong token and no credit at all;
chrF counts character n-grams, so a near miss keeps most of its credit.

For every n-gram order ``n`` (characters 1 .. ``char_order``, spaces removed; then,
for chrF++, words 1 .. ``word_order``) the corpus totals give

    P_n = sum_s matches_n / sum_s hyp_ngrams_n,       R_n = sum_s matches_n / sum_s ref_ngrams_n

where a hypothesis n-gram matches at most as often as it occurs in the reference
(clipped, as in BLEU). With ``P`` and ``R`` the means over the orders that have
n-grams on both sides (the *effective* orders)::

    chrF_beta = 100 * (1 + beta^2) * P * R / (beta^2 * P + R)

``beta = 2`` weighs recall twice as much as precision. A sentence with several
references is scored against the one that gives it the highest sentence chrF.
This is ``sacrebleu``'s ``CHRF`` with its defaults (case-sensitive, whitespace
ignored, no epsilon smoothing); ``word_order=2`` is its chrF++.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from course_lib.validation import check_corpus

PUNCTUATION = set("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~")


@dataclass(frozen=True)
class CHRFScore:
    """A corpus chrF score (0-100), the settings it was computed with, and its per-order
    statistics: ``(hyp_ngrams, ref_ngrams, matches)`` for each character order, then each word order."""

    score: float
    char_order: int
    word_order: int
    beta: float
    statistics: tuple[tuple[int, int, int], ...]

    def __str__(self) -> str:
        return f"chrF{self.beta:g}{'+' * self.word_order} = {self.score:.2f}"


def char_ngrams(text: str, n: int) -> Counter:
    """Counts of the character n-grams of ``text`` with its whitespace removed."""
    chars = "".join(text.split())
    return Counter(chars[i:i + n] for i in range(len(chars) - n + 1))


def chrf_words(text: str) -> list[str]:
    """chrF++'s words: split on whitespace, then one punctuation mark split off the end of a
    word (or, failing that, off its start): ``"(hi)"`` -> ``["(hi", ")"]``."""
    words = []
    for w in text.split():
        if len(w) > 1 and w[-1] in PUNCTUATION:
            words += [w[:-1], w[-1]]
        elif len(w) > 1 and w[0] in PUNCTUATION:
            words += [w[0], w[1:]]
        else:
            words.append(w)
    return words


def word_ngrams(words: Sequence[str], n: int) -> Counter:
    """Counts of the word n-grams (tuples) of ``words``."""
    return Counter(tuple(words[i:i + n]) for i in range(len(words) - n + 1))


def _all_ngrams(text: str, char_order: int, word_order: int) -> list[Counter]:
    words = chrf_words(text)
    return [char_ngrams(text, n) for n in range(1, char_order + 1)] + [word_ngrams(words, n) for n in range(1, word_order + 1)]


def _statistics(hyp: list[Counter], ref: list[Counter]) -> list[tuple[int, int, int]]:
    """Per order ``(hyp_ngrams, ref_ngrams, clipped matches)``; a hypothesis order counts no
    n-grams when the reference has none of that order (nothing to match it against)."""
    stats = []
    for h, r in zip(hyp, ref):
        matches = sum(min(count, r[g]) for g, count in h.items())
        stats.append((sum(h.values()) if r else 0, sum(r.values()), matches))
    return stats


def chrf_from_statistics(statistics: Sequence[tuple[int, int, int]], beta: float = 2.0) -> float:
    """chrF (0-100) from per-order ``(hyp_ngrams, ref_ngrams, matches)``: the F_beta of the mean
    precision and mean recall over the orders with n-grams on both sides."""
    precisions = [m / h for h, r, m in statistics if h > 0 and r > 0]
    recalls = [m / r for h, r, m in statistics if h > 0 and r > 0]
    if not precisions:
        return 0.0
    p, r = sum(precisions) / len(precisions), sum(recalls) / len(recalls)
    if p + r == 0:
        return 0.0
    return 100 * (1 + beta**2) * p * r / (beta**2 * p + r)


def corpus_chrf(
    hypotheses: Sequence[str],
    references: Sequence[Sequence[str]],
    char_order: int = 6,
    word_order: int = 0,
    beta: float = 2.0,
) -> CHRFScore:
    """Corpus chrF (``word_order=0``) or chrF++ (``word_order=2``) of ``hypotheses`` against ``references``.

    Args:
        hypotheses: one string per sentence, e.g. ``["1998-09-08", ...]``.
        references: for each hypothesis a list of one or more reference strings.
        char_order: the largest character n-gram order (>= 1).
        word_order: the largest word n-gram order (>= 0).
        beta: how many times more recall counts than precision (finite, > 0).
    """
    for name, value, least in (("char_order", char_order, 1), ("word_order", word_order, 0)):
        if isinstance(value, bool) or not isinstance(value, int) or value < least:
            raise ValueError(f"{name} must be an int of at least {least}, got {value!r}")
    if isinstance(beta, bool) or not isinstance(beta, (int, float)) or not (math.isfinite(beta) and beta > 0):
        raise ValueError(f"beta must be a finite number > 0, got {beta!r}")
    check_corpus(hypotheses, references, "str")
    totals = [(0, 0, 0)] * (char_order + word_order)
    for i, (hyp, refs) in enumerate(zip(hypotheses, references)):
        if not isinstance(hyp, str):
            raise ValueError(f"hypotheses[{i}] must be a str, got {type(hyp).__name__}")
        if isinstance(refs, str) or not isinstance(refs, Sequence) or len(refs) == 0 or not all(isinstance(r, str) for r in refs):
            raise ValueError(f"references[{i}] must be a non-empty list of reference strings")
        hyp_ngrams = _all_ngrams(hyp, char_order, word_order)
        best, best_score = None, -1.0
        for ref in refs:  # the reference that gives this sentence its best chrF (the first, on a tie)
            stats = _statistics(hyp_ngrams, _all_ngrams(ref, char_order, word_order))
            score = chrf_from_statistics(stats, beta)
            if score > best_score:
                best, best_score = stats, score
        totals = [tuple(a + b for a, b in zip(t, s)) for t, s in zip(totals, best)]
    return CHRFScore(chrf_from_statistics(totals, beta), char_order, word_order, float(beta), tuple(totals))
