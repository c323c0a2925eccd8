"""BLEU, the standard score of machine translation, from scratch (lecture 10).

Papineni, Roukos, Ward and Zhu (2002), "BLEU: a method for automatic evaluation
of machine translation". For a corpus of hypotheses, each with one or more
references, BLEU combines

- the **clipped n-gram precision** for n = 1 .. N (N = 4): every n-gram of a
  hypothesis counts as correct at most as often as it occurs in one reference
  (the most generous one), summed over the whole corpus::

      p_n = sum_s sum_g min(count_hyp(g), max_r count_r(g)) / sum_s sum_g count_hyp(g)

- the **brevity penalty**, since precision alone rewards saying little. With
  ``c`` the total hypothesis length and ``r`` the total length of the references
  closest in length to each hypothesis (ties go to the shorter one)::

      BP = 1 if c >= r else exp(1 - r / c)

- their geometric mean: ``BLEU = 100 * BP * exp((1/N) sum_n log p_n)``.

One n-gram order with no match at all makes the corpus score 0. Smoothing, for
short or few sentences, follows Chen and Cherry (2014), "A systematic comparison
of smoothing techniques for sentence-level BLEU", as ``sacrebleu`` names them:

- ``"none"``: no smoothing;
- ``"floor"``: an order with 0 matches gets ``smooth_value / total`` (default 0.1);
- ``"add-k"``: orders n >= 2 add ``smooth_value`` (default 1) to matches and totals;
- ``"exp"``: the k-th order with 0 matches gets ``1 / (2^k * total)`` (NIST mteval).

The input is already tokenised (lists of tokens), so the score equals
``sacrebleu``'s with ``tokenize="none"`` on the space-joined tokens.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from course_lib.validation import check_corpus

SMOOTHING = {"none": None, "floor": 0.1, "add-k": 1.0, "exp": None}  # method -> default smooth_value


@dataclass(frozen=True)
class BLEUScore:
    """A corpus BLEU score (0-100) with the statistics it was computed from.

    ``precisions`` are the (smoothed) n-gram precisions in percent, ``matches`` and
    ``totals`` the clipped n-gram matches and hypothesis n-gram counts per order.
    """

    score: float
    precisions: tuple[float, ...]
    brevity_penalty: float
    hyp_len: int
    ref_len: int
    matches: tuple[int, ...]
    totals: tuple[int, ...]

    def __str__(self) -> str:
        p = "/".join(f"{x:.1f}" for x in self.precisions)
        return f"BLEU = {self.score:.2f} {p} (BP = {self.brevity_penalty:.3f} ratio = {self.hyp_len / max(self.ref_len, 1):.3f} hyp_len = {self.hyp_len} ref_len = {self.ref_len})"


def ngram_counts(tokens: Sequence[str], max_order: int) -> Counter:
    """Counts of every n-gram (as a tuple) of ``tokens`` for n = 1 .. ``max_order``."""
    return Counter(tuple(tokens[i:i + n]) for n in range(1, max_order + 1) for i in range(len(tokens) - n + 1))


def _check_tokens(value: object, name: str) -> list[str]:
    if isinstance(value, str) or not isinstance(value, Sequence) or not all(isinstance(t, str) for t in value):
        raise ValueError(f"{name} must be a list of str tokens, got {type(value).__name__}")
    return list(value)


def _closest_length(hyp_len: int, ref_lens: list[int]) -> int:
    return min(ref_lens, key=lambda r: (abs(hyp_len - r), r))


def corpus_bleu(
    hypotheses: Sequence[Sequence[str]],
    references: Sequence[Sequence[Sequence[str]]],
    max_order: int = 4,
    smooth: str = "none",
    smooth_value: float | None = None,
    effective_order: bool = False,
) -> BLEUScore:
    """Corpus BLEU of tokenised ``hypotheses`` against their ``references``.

    Args:
        hypotheses: one token list per sentence, e.g. ``[["the", "cat"], ...]``.
        references: for each hypothesis a list of one or more reference token lists.
        max_order: the largest n-gram order N.
        smooth: ``"none"``, ``"floor"``, ``"add-k"`` or ``"exp"`` (see the module docstring).
        smooth_value: the value of ``"floor"`` and ``"add-k"``; ``None`` takes the default.
        effective_order: average only over the orders up to the last one the hypotheses
            have any n-grams of (for single short sentences).
    """
    if isinstance(max_order, bool) or not isinstance(max_order, int) or max_order < 1:
        raise ValueError(f"max_order must be an int of at least 1, got {max_order!r}")
    if smooth not in SMOOTHING:
        raise ValueError(f"smooth must be one of {tuple(SMOOTHING)}, got {smooth!r}")
    if smooth_value is None:
        smooth_value = SMOOTHING[smooth]
    elif isinstance(smooth_value, bool) or not isinstance(smooth_value, (int, float)) or not (
        math.isfinite(smooth_value) and smooth_value > 0
    ):
        raise ValueError(f"smooth_value must be a finite number > 0 or None, got {smooth_value!r}")
    check_corpus(hypotheses, references, "token lists")

    matches, totals = [0] * max_order, [0] * max_order
    hyp_len = ref_len = 0
    for i, (hyp, refs) in enumerate(zip(hypotheses, references)):
        hyp = _check_tokens(hyp, f"hypotheses[{i}]")
        if isinstance(refs, str) or not isinstance(refs, Sequence) or len(refs) == 0:
            raise ValueError(f"references[{i}] must be a non-empty list of reference token lists")
        refs = [_check_tokens(r, f"references[{i}][{k}]") for k, r in enumerate(refs)]
        best = Counter()  # each n-gram's largest count in any one reference: the clip
        for ref in refs:
            best |= ngram_counts(ref, max_order)
        for gram, count in ngram_counts(hyp, max_order).items():
            totals[len(gram) - 1] += count
            matches[len(gram) - 1] += min(count, best[gram])
        hyp_len += len(hyp)
        ref_len += _closest_length(len(hyp), [len(r) for r in refs])
    return bleu_from_counts(matches, totals, hyp_len, ref_len, smooth, smooth_value, effective_order)


def bleu_from_counts(
    matches: Sequence[int], totals: Sequence[int], hyp_len: int, ref_len: int,
    smooth: str = "none", smooth_value: float | None = None, effective_order: bool = False,
) -> BLEUScore:
    """BLEU from its sufficient statistics: per-order clipped matches and totals, and the two lengths."""
    if smooth not in SMOOTHING:
        raise ValueError(f"smooth must be one of {tuple(SMOOTHING)}, got {smooth!r}")
    if len(matches) != len(totals) or len(matches) == 0:
        raise ValueError(f"matches and totals must have the same non-zero length, got {len(matches)} and {len(totals)}")
    if smooth_value is None:
        smooth_value = SMOOTHING[smooth]
    bp = 1.0 if hyp_len >= ref_len else (math.exp(1 - ref_len / hyp_len) if hyp_len > 0 else 0.0)
    N = len(matches)
    precisions = [0.0] * N
    if not any(matches):
        return BLEUScore(0.0, tuple(precisions), bp, hyp_len, ref_len, tuple(matches), tuple(totals))
    m, t = [float(x) for x in matches], [float(x) for x in totals]
    halvings, order = 1.0, N
    for n in range(N):
        if smooth == "add-k" and n > 0:
            m[n] += smooth_value
            t[n] += smooth_value
        if t[n] == 0:
            break
        if effective_order:
            order = n + 1
        if m[n] == 0:
            if smooth == "exp":
                halvings *= 2
                precisions[n] = 100.0 / (halvings * t[n])
            elif smooth == "floor":
                precisions[n] = 100.0 * smooth_value / t[n]
        else:
            precisions[n] = 100.0 * m[n] / t[n]
    if any(p == 0.0 for p in precisions[:order]):
        score = 0.0
    else:
        score = bp * math.exp(sum(math.log(p) for p in precisions[:order]) / order)
    return BLEUScore(score, tuple(precisions), bp, hyp_len, ref_len, tuple(matches), tuple(totals))


def sentence_bleu(
    hypothesis: Sequence[str], references: Sequence[Sequence[str]],
    max_order: int = 4, smooth: str = "exp", smooth_value: float | None = None,
) -> BLEUScore:
    """BLEU of one sentence, smoothed (``"exp"``) and with the effective order, as ``sacrebleu``'s default."""
    return corpus_bleu([hypothesis], [references], max_order, smooth, smooth_value, effective_order=True)
