"""Conditional generation: a character RNN that writes a surname of a given origin (lecture 8).

A language model generates from ``P(c_t | c_1 .. c_{t-1})``; a *conditional* one from
``P(c_t | c_1 .. c_{t-1}, origin)``. The idea is PyTorch's "generating names with a
character-level RNN" tutorial: the origin is embedded and joined to every input,

    x_t = [E_char c_{t-1} ; E_origin origin],    h_t = GRU(x_t, h_{t-1}),    P(c_t | ...) = softmax(W h_t + b)

and a name is framed as ``<bos> c_1 .. c_n <eos>``, so the model learns where names end. The
characters are numbered by a :class:`course_lib.text.Vocab` with ``<bos>`` and ``<eos>``; every
special index is read from it.
"""

from __future__ import annotations

import torch
from torch import nn

from course_lib.models import recurrent_layer
from course_lib.text import Vocab, check_vocab
from course_lib.validation import check_positive_int


def encode_names(
    table: dict[str, list[str]], vocab: Vocab
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, list[str]]:
    """Names by origin -> ``(inputs (N, T), targets (N, T), origins (N,), origin names)``.

    ``inputs`` is ``<bos> c_1 .. c_n``, ``targets`` is ``c_1 .. c_n <eos>``, both padded with
    ``vocab.pad_index`` (pass it to the loss as ``ignore_index``)."""
    check_vocab("vocab", vocab, bos=True, eos=True)
    if not table:
        raise ValueError("table must map at least one origin to its names")
    origins = list(table)
    rows = [(vocab.encode(name), k) for k, origin in enumerate(origins) for name in table[origin]]
    T = max(len(ids) for ids, _ in rows) + 1
    inputs = torch.full((len(rows), T), vocab.pad_index, dtype=torch.long)  # (N, T)
    targets = torch.full((len(rows), T), vocab.pad_index, dtype=torch.long)  # (N, T)
    for r, (ids, _) in enumerate(rows):
        inputs[r, : len(ids) + 1] = torch.tensor([vocab.bos_index] + ids)
        targets[r, : len(ids) + 1] = torch.tensor(ids + [vocab.eos_index])
    return inputs, targets, torch.tensor([k for _, k in rows]), origins


class ConditionalCharRNN(nn.Module):
    """A character GRU conditioned on a category (here: a surname's origin).

    Args:
        vocab_size: ``len(vocab)``, the characters and the special tokens.
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
    model: ConditionalCharRNN, vocab: Vocab, origin: int, n: int, temperature: float = 1.0,
    max_len: int = 15, generator: torch.Generator | None = None,
) -> list[str]:
    """``n`` names of origin index ``origin``, each sampled from ``softmax(logits / temperature)`` character by
    character until ``<eos>`` or ``max_len`` characters; ``temperature=0`` takes the argmax.

    ``vocab`` is the one the model was trained with; its ``<pad>``, ``<bos>`` and ``<unk>`` are
    never written."""
    if isinstance(temperature, bool) or not isinstance(temperature, (int, float)) or not temperature >= 0:
        raise ValueError(f"temperature must be a number >= 0, got {temperature!r}")
    n_origins = model.origin.num_embeddings
    if isinstance(origin, bool) or not isinstance(origin, int) or not 0 <= origin < n_origins:
        raise ValueError(f"origin must be an int in 0 .. {n_origins - 1}, got {origin!r}")
    check_vocab("vocab", vocab, bos=True, eos=True)
    check_positive_int("n", n)
    check_positive_int("max_len", max_len)
    was_training = model.training
    model.eval()
    origins = torch.full((n,), origin, dtype=torch.long)  # (n,)
    y = torch.full((n, 1), vocab.bos_index, dtype=torch.long)  # (n, 1)
    hidden, names, done = None, [[] for _ in range(n)], torch.zeros(n, dtype=torch.bool)
    for _ in range(max_len):
        logits, hidden = model(y, origins, hidden)  # (n, 1, V)
        scores = logits[:, -1].clone()  # (n, V)
        scores[:, [vocab.pad_index, vocab.bos_index, vocab.unk_index]] = float("-inf")  # never written
        if temperature == 0:
            nxt = scores.argmax(-1)  # (n,)
        else:
            nxt = torch.multinomial(torch.softmax(scores / temperature, -1), 1, generator=generator).squeeze(1)
        done = done | (nxt == vocab.eos_index)
        for i in range(n):
            if not done[i]:
                names[i].append(vocab.index_to_token(int(nxt[i])))
        if done.all():
            break
        y = nxt.unsqueeze(1)  # (n, 1)
    model.train(was_training)
    return ["".join(chars) for chars in names]
