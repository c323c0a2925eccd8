"""An n-gram language model, the baseline RNN language models are measured against (lecture 8).

An n-gram model predicts the next token from the previous ``n - 1`` only, by counting:
``P(w | context) = c(context w) / c(context)``. Counts of unseen n-grams are 0, and one
0 makes the probability of a whole text 0 (infinite perplexity), so the counts are
smoothed:

- **add-k** (Laplace for k = 1): ``P(w | h) = (c(h w) + k) / (c(h) + k |V|)``.
- **interpolated Kneser-Ney** (Chen and Goodman, 1998), the classic best n-gram smoother:
  subtract a discount ``D`` from every seen count and give the mass it frees to a lower
  order distribution, recursively down to the uniform one::

      P(w | h) = max(c(h w) - D, 0) / c(h)  +  D * N1+(h .) / c(h) * P(w | h')

  with ``h'`` the context without its first token and ``N1+(h .)`` the number of distinct
  tokens seen after ``h``. The lower orders count *continuations*, not occurrences:
  ``c(h' w)`` becomes the number of distinct tokens seen before ``h' w``, so a token that
  is frequent only after one context (*Francisco* after *San*) is not given a high
  probability after contexts it never followed. A context never seen (``c(h) = 0``)
  backs off to ``P(w | h')`` entirely.

Contexts shorter than ``n - 1`` (the first tokens of a text) use the orders they have.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Sequence

import torch

SMOOTHINGS = ("add-k", "kneser-ney")


class _Table:
    """For each context (a tuple), the counts of the tokens that follow it, their sum and how many differ."""

    def __init__(self, counts: dict[tuple, Counter]) -> None:
        self.counts = counts
        self.total = {h: sum(c.values()) for h, c in counts.items()}
        self.distinct = {h: len(c) for h, c in counts.items()}


class NGramLM:
    """A token-level n-gram language model with add-k or interpolated Kneser-Ney smoothing.

    Args:
        order: ``n``; the model conditions on the previous ``n - 1`` tokens.
        vocab_size: ``|V|``; tokens are ints ``0 .. |V| - 1``.
        smoothing: ``"add-k"`` or ``"kneser-ney"``.
        k: the pseudo-count of add-k, ``> 0``.
        discount: Kneser-Ney's ``D``, in ``(0, 1)``.
    """

    def __init__(
        self, order: int, vocab_size: int, smoothing: str = "kneser-ney", k: float = 1.0, discount: float = 0.75
    ) -> None:
        for name, value in (("order", order), ("vocab_size", vocab_size)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be an int of at least 1, got {value!r}")
        if smoothing not in SMOOTHINGS:
            raise ValueError(f"smoothing must be one of {SMOOTHINGS}, got {smoothing!r}")
        if isinstance(k, bool) or not isinstance(k, (int, float)) or not (math.isfinite(k) and k > 0):
            raise ValueError(f"k must be a finite number > 0, got {k!r}")
        if isinstance(discount, bool) or not isinstance(discount, (int, float)) or not 0 < discount < 1:
            raise ValueError(f"discount must be a number in (0, 1), got {discount!r}")
        self.order, self.vocab_size, self.smoothing = order, vocab_size, smoothing
        self.k, self.discount = float(k), float(discount)
        self.raw: list[_Table] = []  # raw[m]: counts of tokens after contexts of length m
        self.continuation: list[_Table] = []  # continuation[m]: distinct left neighbours of (context w)

    def fit(self, sequences: Sequence[Sequence[int]] | torch.Tensor) -> NGramLM:
        """Count every n-gram of order 1 .. n inside each sequence of token ids; returns ``self``."""
        raw = [defaultdict(Counter) for _ in range(self.order)]
        for seq in sequences:
            seq = seq.tolist() if isinstance(seq, torch.Tensor) else list(seq)
            for t, w in enumerate(seq):
                if not (isinstance(w, int) and 0 <= w < self.vocab_size):
                    raise ValueError(f"sequences must hold token ids in 0 .. {self.vocab_size - 1}, got {w!r}")
                for m in range(min(t, self.order - 1) + 1):
                    raw[m][tuple(seq[t - m:t])][w] += 1
        cont = [defaultdict(Counter) for _ in range(self.order)]
        for m in range(1, self.order):  # an (m+1)-gram type (u, h, w) is one continuation of (h, w)
            for h, after in raw[m].items():
                for w in after:
                    cont[m - 1][h[1:]][w] += 1
        self.raw = [_Table(t) for t in raw]
        self.continuation = [_Table(t) for t in cont]
        return self

    def prob(self, context: Sequence[int], token: int) -> float:
        """``P(token | context)``, using the last ``n - 1`` tokens of ``context`` (fewer if it is shorter)."""
        if not self.raw:
            raise RuntimeError("call fit before prob")
        h = tuple(context)[max(0, len(context) - (self.order - 1)):] if self.order > 1 else ()
        if self.smoothing == "add-k":
            table = self.raw[len(h)]
            return (table.counts.get(h, {}).get(token, 0) + self.k) / (table.total.get(h, 0) + self.k * self.vocab_size)
        return self._kneser_ney(h, token, self.raw[len(h)])

    def _kneser_ney(self, h: tuple, w: int, table: _Table) -> float:
        lower = self._kneser_ney(h[1:], w, self.continuation[len(h) - 1]) if h else 1.0 / self.vocab_size
        total = table.total.get(h, 0)
        if total == 0:
            return lower
        seen = max(table.counts[h].get(w, 0) - self.discount, 0.0) / total
        return seen + self.discount * table.distinct[h] / total * lower

    def perplexity(self, inputs: torch.Tensor, targets: torch.Tensor) -> float:
        """``exp`` of the mean of ``-log P(targets[b, t] | inputs[b, :t+1])`` over ``(B, T)`` chunks:
        the same targets, with the same context, that an RNN language model is scored on."""
        if inputs.shape != targets.shape or inputs.dim() != 2:
            raise ValueError(f"inputs and targets must be (B, T) of the same shape, got {tuple(inputs.shape)} and {tuple(targets.shape)}")
        nll, n = 0.0, 0
        for x, y in zip(inputs.tolist(), targets.tolist()):
            for t, w in enumerate(y):
                nll -= math.log(self.prob(x[:t + 1], w))
                n += 1
        return math.exp(nll / n)
