"""Conditional generation: a character RNN that writes a surname of a given origin (lecture 8).

A language model generates from ``P(c_t | c_1 .. c_{t-1})``; a *conditional* one from
``P(c_t | c_1 .. c_{t-1}, origin)``. The idea is PyTorch's "generating names with a
character-level RNN" tutorial: the origin is embedded and joined to every input,

    x_t = [E_char c_{t-1} ; E_origin origin],    h_t = GRU(x_t, h_{t-1}),    P(c_t | ...) = softmax(W h_t + b)

and a name is framed as ``<START> c_1 .. c_n <EOS>``, so the model learns where names end.
"""

from __future__ import annotations

import torch
from torch import nn

from course_lib.models import recurrent_layer
from course_lib.validation import check_positive_int

PAD, START, EOS = "<PAD>", "<START>", "<EOS>"


def name_tokens(names: list[str]) -> list[str]:
    """``<PAD>, <START>, <EOS>`` (indices 0, 1, 2) and then every character of ``names``, sorted."""
    return [PAD, START, EOS] + sorted(set("".join(names)))


def encode_names(
    table: dict[str, list[str]], tokens: list[str]
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, list[str]]:
    """Names by origin -> ``(inputs (N, T), targets (N, T), origins (N,), origin names)``.

    ``inputs`` is ``<START> c_1 .. c_n``, ``targets`` is ``c_1 .. c_n <EOS>``, both padded with 0."""
    if not table:
        raise ValueError("table must map at least one origin to its names")
    index = {t: i for i, t in enumerate(tokens)}
    origins = list(table)
    rows = [(name, k) for k, origin in enumerate(origins) for name in table[origin]]
    T = max(len(name) for name, _ in rows) + 1
    inputs = torch.zeros(len(rows), T, dtype=torch.long)  # (N, T)
    targets = torch.zeros(len(rows), T, dtype=torch.long)  # (N, T)
    for r, (name, _) in enumerate(rows):
        try:
            ids = [index[c] for c in name]
        except KeyError as err:
            raise ValueError(f"tokens is missing the character {err.args[0]!r}") from None
        inputs[r, : len(ids) + 1] = torch.tensor([index[START]] + ids)
        targets[r, : len(ids) + 1] = torch.tensor(ids + [index[EOS]])
    return inputs, targets, torch.tensor([k for _, k in rows]), origins


class ConditionalCharRNN(nn.Module):
    """A character GRU conditioned on a category (here: a surname's origin).

    Args:
        vocab_size: characters, starting ``<PAD>, <START>, <EOS>``.
        n_origins: number of categories.
        embedding_dim, origin_dim, hidden_size: sizes of ``E_char``, ``E_origin`` and ``h``.
        backend: ``"course_lib"`` or ``"torch"`` for the GRU layer.
    """

    def __init__(
        self, vocab_size: int, n_origins: int, embedding_dim: int = 16, origin_dim: int = 8,
        hidden_size: int = 64, backend: str = "torch",
    ) -> None:
        super().__init__()
        for name, size in (("vocab_size", vocab_size), ("n_origins", n_origins), ("embedding_dim", embedding_dim),
                           ("origin_dim", origin_dim), ("hidden_size", hidden_size)):
            check_positive_int(name, size)
        self.embedding = nn.Embedding(vocab_size, embedding_dim)
        self.origin = nn.Embedding(n_origins, origin_dim)
        self.rnn = recurrent_layer("gru", backend, input_size=embedding_dim + origin_dim,
                                   hidden_size=hidden_size, batch_first=True)
        self.out = nn.Linear(hidden_size, vocab_size)

    def forward(
        self, chars: torch.Tensor, origins: torch.Tensor, hidden: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``chars`` ``(B, T)``, ``origins`` ``(B,)`` -> next-character logits ``(B, T, V)`` and the state."""
        if chars.dim() != 2 or origins.shape != (chars.shape[0],):
            raise ValueError(f"chars must be (B, T) and origins (B,), got {tuple(chars.shape)} and {tuple(origins.shape)}")
        o = self.origin(origins).unsqueeze(1).expand(-1, chars.shape[1], -1)  # (B, T, O)
        x = torch.cat([self.embedding(chars), o], dim=-1)  # (B, T, E + O)
        out, hidden = self.rnn(x, hidden)  # (B, T, H)
        return self.out(out), hidden  # (B, T, V)


@torch.no_grad()
def generate_names(
    model: ConditionalCharRNN, tokens: list[str], origin: int, n: int, temperature: float = 1.0,
    max_len: int = 15, generator: torch.Generator | None = None,
) -> list[str]:
    """``n`` names of origin index ``origin``, each sampled from ``softmax(logits / temperature)`` character by
    character until ``<EOS>`` or ``max_len`` characters; ``temperature=0`` takes the argmax."""
    if isinstance(temperature, bool) or not isinstance(temperature, (int, float)) or not temperature >= 0:
        raise ValueError(f"temperature must be a number >= 0, got {temperature!r}")
    n_origins = model.origin.num_embeddings
    if isinstance(origin, bool) or not isinstance(origin, int) or not 0 <= origin < n_origins:
        raise ValueError(f"origin must be an int in 0 .. {n_origins - 1}, got {origin!r}")
    check_positive_int("n", n)
    check_positive_int("max_len", max_len)
    was_training = model.training
    model.eval()
    origins = torch.full((n,), origin, dtype=torch.long)  # (n,)
    y = torch.full((n, 1), tokens.index(START), dtype=torch.long)  # (n, 1)
    hidden, names, done = None, [[] for _ in range(n)], torch.zeros(n, dtype=torch.bool)
    for _ in range(max_len):
        logits, hidden = model(y, origins, hidden)  # (n, 1, V)
        scores = logits[:, -1].clone()  # (n, V)
        scores[:, [tokens.index(PAD), tokens.index(START)]] = float("-inf")  # never written
        if temperature == 0:
            nxt = scores.argmax(-1)  # (n,)
        else:
            nxt = torch.multinomial(torch.softmax(scores / temperature, -1), 1, generator=generator).squeeze(1)
        done = done | (nxt == tokens.index(EOS))
        for i in range(n):
            if not done[i]:
                names[i].append(tokens[int(nxt[i])])
        if done.all():
            break
        y = nxt.unsqueeze(1)  # (n, 1)
    model.train(was_training)
    return ["".join(chars) for chars in names]
