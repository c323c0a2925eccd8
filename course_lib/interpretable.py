"""Looking inside a trained character LSTM: cells that track quotes and brackets (lecture 8).

Karpathy, Johnson and Fei-Fei (2015), "Visualizing and understanding recurrent
networks", found single LSTM cells that switch on inside a quotation or follow the
depth of nested brackets, though nobody told the network about either. We reproduce
this on text generated here, where the true state of every character is known:

- :func:`quoted_text` writes sentences with quotations (spoken words in capitals) and
  nested parentheses, and returns, for each character, whether the text is inside a
  quotation after it and how many parentheses are open;
- :func:`cell_states` runs a trained :class:`course_lib.models.SimpleLSTM` over a text and
  returns its memory cells ``c_t`` after every character;
- :func:`correlations` scores every cell by its Pearson correlation with a true state, so
  a cell is *found* by a number over the whole text, not picked from a picture;
- :func:`coloured_text` draws a cell's activation as the background of each character.
"""

from __future__ import annotations

import html
import random
from collections.abc import Sequence

import torch
from torch import nn

_NOUNS = ["the farmer", "a child", "the old dog", "my aunt", "the teacher", "a sailor", "the baker", "her friend"]
_VERBS = ["said", "shouted", "asked", "whispered", "wrote", "sang"]
_SPOKEN = ["we", "go", "home", "now", "stop", "look", "here", "the", "sea", "is", "cold", "run", "bring", "bread"]
_WORDS = ["and", "then", "the", "dog", "ran", "away", "in", "a", "small", "very", "old", "town", "at", "night", "with", "bread"]


def _aside(rng: random.Random, depth: int) -> str:
    """A parenthesis of a few words that may hold another one, up to three deep."""
    words = [rng.choice(_WORDS) for _ in range(rng.randint(1, 3))]
    if depth < 3 and rng.random() < 0.5:
        words.insert(rng.randint(0, len(words)), _aside(rng, depth + 1))
    return "(" + " ".join(words) + ")"


def _sentence(rng: random.Random) -> str:
    parts = [rng.choice(_NOUNS)]
    if rng.random() < 0.4:
        parts.append(_aside(rng, 1))
    parts.append(rng.choice(_VERBS))
    if rng.random() < 0.7:
        parts.append('"' + " ".join(rng.choice(_SPOKEN) for _ in range(rng.randint(2, 7))).upper() + '"')
    parts += [rng.choice(_WORDS) for _ in range(rng.randint(1, 4))]
    if rng.random() < 0.4:
        parts.append(_aside(rng, 1))
    return " ".join(parts) + ". "


def quoted_text(n_chars: int = 20000, seed: int = 0) -> tuple[str, list[int], list[int]]:
    """About ``n_chars`` characters of sentences, and for each character the true state after it.

    Returns ``(text, inside_quotes, depth)``: ``inside_quotes[t]`` is 1 if, after reading
    ``text[t]``, a quotation is open (its opening ``"`` read, its closing one not yet);
    ``depth[t]`` is the number of open parentheses after ``text[t]``. Quotations hold
    capitals, so a language model gains from knowing whether one is open.
    """
    if isinstance(n_chars, bool) or not isinstance(n_chars, int) or n_chars < 1:
        raise ValueError(f"n_chars must be an int of at least 1, got {n_chars!r}")
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise ValueError(f"seed must be an int, got {seed!r}")
    rng = random.Random(seed)
    sentences, length = [], 0
    while length < n_chars:
        sentences.append(_sentence(rng))
        length += len(sentences[-1])
    text = "".join(sentences)
    inside, depth, quote, open_brackets = [], [], 0, 0
    for ch in text:
        if ch == '"':
            quote = 1 - quote
        open_brackets += (ch == "(") - (ch == ")")
        inside.append(quote)
        depth.append(open_brackets)
    return text, inside, depth


@torch.no_grad()
def cell_states(model: nn.Module, ids: torch.Tensor) -> torch.Tensor:
    """The last layer's memory cells ``c_t`` ``(T, H)`` of ``model`` after each token of ``ids`` ``(T,)``.

    ``model(x, hidden)`` must return ``(logits, (h, c))`` like :class:`course_lib.models.SimpleLSTM`;
    the text is fed one token at a time, carrying the state, as in generation.
    """
    if not isinstance(ids, torch.Tensor) or ids.dim() != 1 or ids.is_floating_point():
        raise ValueError(f"ids must be a (T,) tensor of token indices, got {getattr(ids, 'shape', type(ids).__name__)}")
    was_training = model.training
    model.eval()
    hidden, cells = None, []
    for t in range(ids.shape[0]):
        _, hidden = model(ids[t:t + 1].view(1, 1), hidden)  # (h, c): (L, 1, H) each
        cells.append(hidden[1][-1, 0])  # (H,)
    model.train(was_training)
    return torch.stack(cells)  # (T, H)


def correlations(activations: torch.Tensor, state: Sequence[float] | torch.Tensor) -> torch.Tensor:
    """Pearson correlation ``(H,)`` of each column of ``activations`` ``(T, H)`` with ``state`` ``(T,)``.

    A cell that never changes has correlation 0."""
    state = torch.as_tensor(state, dtype=torch.float64)
    if activations.dim() != 2 or state.shape != (activations.shape[0],):
        raise ValueError(f"activations must be (T, H) and state (T,), got {tuple(activations.shape)} and {tuple(state.shape)}")
    a = activations.double() - activations.double().mean(0)  # (T, H)
    s = state - state.mean()  # (T,)
    denominator = a.norm(dim=0) * s.norm()  # (H,)
    r = (a * s.unsqueeze(1)).sum(0) / denominator  # (H,)
    return torch.where(denominator > 0, r, torch.zeros_like(r))


def coloured_text(text: str, values: Sequence[float] | torch.Tensor) -> str:
    """HTML that shows ``text`` with each character's background coloured by ``values`` in [-1, 1]
    (blue for -1, white for 0, red for +1), as in Karpathy et al.'s figures."""
    values = torch.as_tensor(values, dtype=torch.float64).clamp(-1, 1).tolist()
    if len(values) != len(text):
        raise ValueError(f"values must have one number per character: {len(text)}, got {len(values)}")
    spans = []
    for ch, v in zip(text, values):
        fade = int(255 * (1 - abs(v)))
        colour = f"rgb(255,{fade},{fade})" if v > 0 else f"rgb({fade},{fade},255)"
        spans.append(f'<span style="background:{colour}">{html.escape(ch)}</span>')
    return '<pre style="white-space:pre-wrap;line-height:1.6">' + "".join(spans) + "</pre>"
