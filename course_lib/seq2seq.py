"""Sequence to sequence with Bahdanau attention (lecture 10).

An encoder RNN reads the source ``x_1 .. x_S`` into states ``h_1 .. h_S``; a
decoder RNN writes the target one token at a time. With attention (Bahdanau,
Cho and Bengio, 2014, "Neural machine translation by jointly learning to align
and translate") the decoder looks back at every ``h_j`` at every step ``i``:

    e_ij    = a(s_{i-1}, h_j) = v^T tanh(W_s s_{i-1} + W_h h_j)      (alignment score)
    alpha_ij = exp(e_ij) / sum_k exp(e_ik)                          (attention weights)
    c_i     = sum_j alpha_ij h_j                                   (context vector)
    s_i     = f(s_{i-1}, y_{i-1}, c_i)                             (decoder state, a GRU cell)

Padding positions of the source get ``e_ij = -inf``, so their weight is exactly 0.

Sentences are framed with the special tokens of :class:`course_lib.text.Vocab`: the
encoder reads the source then ``<eos>``; the decoder reads ``<bos>`` (the slide's
``<START>``) then the target (teacher forcing) and must output the target then
``<eos>``; everything is padded with ``<pad>`` to a fixed number of steps
(:func:`pad_seq2seq`). The models here number them as
``Vocab(..., bos=True, eos=True, pad_first=True)`` does: ``<pad>`` 0, ``<bos>`` 1, ``<eos>`` 2.

At test time the decoder writes the output itself: :meth:`Seq2Seq.greedy_decode`
takes the most probable token at every step, :func:`beam_search` keeps the
``K`` most probable partial outputs and returns the best finished one.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Sequence

import torch
from torch import nn

from course_lib.models import _BACKENDS, pack_padded, recurrent_layer
from course_lib.text import Vocab, check_vocab, word_tokenize
from course_lib.validation import check_choice, check_int

PAD, BOS, EOS = Vocab.pad_token, Vocab.bos_token, Vocab.eos_token


def pad_seq2seq(
    source: str | Sequence[str],
    target: str | Sequence[str],
    encoder_steps: int,
    decoder_steps: int,
    tokenize: Callable[[str], list[str]] | None = None,
) -> tuple[list[str], list[str], list[str]]:
    """Frame and pad one sentence pair as on the slide (lecture 10).

    With 7 encoder steps and 6 decoder steps, ``'hello, how are you'`` ->
    ``'i am fine'`` gives::

        encoder_input = ['hello', 'how', 'are', 'you', '<eos>', '<pad>', '<pad>']
        decoder_input = ['<bos>', 'i', 'am', 'fine', '<eos>', '<pad>']
        output        = ['i', 'am', 'fine', '<eos>', '<pad>', '<pad>']

    ``source``/``target`` are strings (split with ``tokenize``, default
    :func:`course_lib.text.word_tokenize`, which drops punctuation) or token lists.
    Raises ``ValueError`` if a sentence does not fit its number of steps.
    """
    encoder_steps = check_int("encoder_steps", encoder_steps, 1)
    decoder_steps = check_int("decoder_steps", decoder_steps, 2)
    tokenize = tokenize or word_tokenize
    if not callable(tokenize):
        raise TypeError(f"tokenize must be callable or None, got {type(tokenize).__name__}")

    def tokens(text: object, name: str) -> list[str]:
        if isinstance(text, str):
            return list(tokenize(text))
        if isinstance(text, Sequence) and all(isinstance(t, str) for t in text):
            return list(text)
        raise TypeError(f"{name} must be a str or a list of str tokens, got {type(text).__name__}")

    src, tgt = tokens(source, "source"), tokens(target, "target")
    if len(src) + 1 > encoder_steps:
        raise ValueError(f"encoder_steps must be at least len(source) + 1 = {len(src) + 1}, got {encoder_steps}")
    if len(tgt) + 1 > decoder_steps:
        raise ValueError(f"decoder_steps must be at least len(target) + 1 = {len(tgt) + 1}, got {decoder_steps}")
    encoder_input = src + [EOS] + [PAD] * (encoder_steps - len(src) - 1)
    decoder_input = [BOS] + tgt + [EOS] + [PAD] * (decoder_steps - len(tgt) - 2)
    output = tgt + [EOS] + [PAD] * (decoder_steps - len(tgt) - 1)
    return encoder_input, decoder_input[:decoder_steps], output


def reversal_pairs(
    n: int, alphabet: str = "abcdefgh", min_len: int = 3, max_len: int = 8, seed: int = 0
) -> list[tuple[str, str]]:
    """A synthetic translation task: ``n`` random strings and their reversals ("abc" -> "cba").

    The right alignment is known (output ``i`` comes from input ``S+1-i``), so a
    trained attention map should show an anti-diagonal.
    """
    check_int("n", n, 1)
    check_int("min_len", min_len, 1)
    check_int("max_len", max_len, min_len)
    if not isinstance(alphabet, str) or len(set(alphabet)) < 2:
        raise ValueError("alphabet must be a str of at least two distinct characters")
    rng = random.Random(seed)
    pairs = []
    for _ in range(n):
        s = "".join(rng.choice(alphabet) for _ in range(rng.randint(min_len, max_len)))
        pairs.append((s, s[::-1]))
    return pairs


def encode_pairs(
    pairs: Sequence[tuple[str, str]], vocab: Vocab
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Turn sentence pairs into padded index tensors with :func:`pad_seq2seq`.

    ``vocab`` splits each sentence with its tokenizer and numbers the tokens (unknown ones
    become ``<unk>``); it needs ``<bos>`` and ``<eos>`` (``Vocab(..., bos=True, eos=True)``).
    Returns ``(src, src_lengths, decoder_input, output)`` of shapes ``(B, S)``,
    ``(B,)``, ``(B, T)``, ``(B, T)``, where ``src_lengths`` counts the ``<eos>``.
    """
    check_vocab("vocab", vocab, bos=True, eos=True)
    if len(pairs) == 0:
        raise ValueError("pairs must hold at least one (source, target) pair")
    split = [(vocab.tokenize(s, "source"), vocab.tokenize(t, "target")) for s, t in pairs]
    S = max(len(s) for s, _ in split) + 1
    T = max(len(t) for _, t in split) + 1
    rows = [pad_seq2seq(s, t, S, T) for s, t in split]
    enc = torch.tensor([[vocab.token_to_index(w) for w in r[0]] for r in rows])  # (B, S)
    dec_in = torch.tensor([[vocab.token_to_index(w) for w in r[1]] for r in rows])  # (B, T)
    out = torch.tensor([[vocab.token_to_index(w) for w in r[2]] for r in rows])  # (B, T)
    lengths = torch.tensor([len(s) + 1 for s, _ in split])  # (B,)
    return enc, lengths, dec_in, out


class BahdanauAttention(nn.Module):
    """Additive attention: ``e_ij = v^T tanh(W_s s_{i-1} + W_h h_j)``, ``alpha = softmax_j(e)``.

    Args:
        query_size: size of the decoder state ``s_{i-1}``.
        key_size: size of each encoder state ``h_j``.
        attention_size: size of the hidden layer of the scoring network ``a``.
    """

    def __init__(self, query_size: int, key_size: int, attention_size: int) -> None:
        super().__init__()
        check_int("query_size", query_size, 1)
        check_int("key_size", key_size, 1)
        check_int("attention_size", attention_size, 1)
        self.W_s = nn.Linear(query_size, attention_size, bias=False)
        self.W_h = nn.Linear(key_size, attention_size, bias=True)
        self.v = nn.Linear(attention_size, 1, bias=False)

    def forward(
        self, query: torch.Tensor, keys: torch.Tensor, mask: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``query`` ``(B, Hs)``, ``keys`` ``(B, S, Hh)``, ``mask`` ``(B, S)`` True where real.

        Returns the context ``c_i`` ``(B, Hh)`` and the weights ``alpha_i`` ``(B, S)``.
        """
        if query.dim() != 2 or keys.dim() != 3 or query.shape[0] != keys.shape[0]:
            raise ValueError(
                f"query must be (B, Hs) and keys (B, S, Hh) with the same B, got {tuple(query.shape)} and {tuple(keys.shape)}"
            )
        if mask is not None:
            if mask.shape != keys.shape[:2] or mask.dtype != torch.bool:
                raise ValueError(f"mask must be a bool tensor of shape {tuple(keys.shape[:2])}, got {mask.dtype} {tuple(mask.shape)}")
            if not mask.any(dim=1).all():
                raise ValueError("mask must keep at least one position of every sequence")
        scores = self.v(torch.tanh(self.W_s(query).unsqueeze(1) + self.W_h(keys)))  # (B, S, 1)
        scores = scores.squeeze(-1)  # (B, S)
        if mask is not None:
            scores = scores.masked_fill(~mask, float("-inf"))
        weights = torch.softmax(scores, dim=-1)  # (B, S)
        context = torch.bmm(weights.unsqueeze(1), keys).squeeze(1)  # (B, Hh)
        return context, weights


class Encoder(nn.Module):
    """Embedding + (bidirectional) GRU over a padded, packed source batch."""

    def __init__(
        self, vocab_size: int, embedding_dim: int, hidden_size: int,
        bidirectional: bool = True, backend: str = "course_lib",
    ) -> None:
        super().__init__()
        self.backend = check_choice("backend", backend, _BACKENDS)
        self.embedding = nn.Embedding(check_int("vocab_size", vocab_size, 1), check_int("embedding_dim", embedding_dim, 1), padding_idx=0)
        self.rnn = recurrent_layer(
            "gru", backend, input_size=embedding_dim, hidden_size=check_int("hidden_size", hidden_size, 1),
            batch_first=True, bidirectional=bool(bidirectional),
        )
        self.output_size = hidden_size * (2 if bidirectional else 1)

    def forward(self, src: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``src`` ``(B, S)``, ``lengths`` ``(B,)`` -> states ``h_j`` ``(B, S, D*H)`` and the final state ``(B, D*H)``."""
        if self.backend == "torch":
            from torch.nn.utils.rnn import pad_packed_sequence
        else:
            from course_lib.packing import pad_packed_sequence
        packed = pack_padded(self.embedding(src), lengths, self.backend)  # (B, S, E) packed
        out, h_n = self.rnn(packed)
        out, _ = pad_packed_sequence(out, batch_first=True, total_length=src.shape[1])  # (B, S, D*H)
        final = torch.cat(list(h_n[-(self.output_size // h_n.shape[-1]):]), dim=-1)  # (B, D*H)
        return out, final


class AttentionDecoder(nn.Module):
    """GRU-cell decoder with Bahdanau attention: one step is ``s_i = GRU([E y_{i-1}; c_i], s_{i-1})``.

    The next-token scores are ``W_o [s_i; c_i; E y_{i-1}] + b_o``.
    """

    def __init__(
        self, vocab_size: int, embedding_dim: int, hidden_size: int, context_size: int,
        attention_size: int | None = None, backend: str = "course_lib",
    ) -> None:
        super().__init__()
        check_choice("backend", backend, _BACKENDS)
        self.embedding = nn.Embedding(check_int("vocab_size", vocab_size, 1), check_int("embedding_dim", embedding_dim, 1), padding_idx=0)
        self.attention = BahdanauAttention(hidden_size, context_size, attention_size or hidden_size)
        if backend == "torch":
            self.cell = nn.GRUCell(embedding_dim + context_size, hidden_size)
        else:
            from course_lib.gru import GRUCell

            self.cell = GRUCell(embedding_dim + context_size, hidden_size)
        self.out = nn.Linear(hidden_size + context_size + embedding_dim, vocab_size)

    def step(
        self, y_prev: torch.Tensor, s_prev: torch.Tensor, keys: torch.Tensor, mask: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """One decoding step: ``y_prev`` ``(B,)``, ``s_prev`` ``(B, H)`` -> logits ``(B, V)``, ``s_i``, ``alpha_i`` ``(B, S)``."""
        emb = self.embedding(y_prev)  # (B, E)
        context, weights = self.attention(s_prev, keys, mask)  # (B, C), (B, S)
        s = self.cell(torch.cat([emb, context], dim=-1), s_prev)  # (B, H)
        logits = self.out(torch.cat([s, context, emb], dim=-1))  # (B, V)
        return logits, s, weights


class Seq2Seq(nn.Module):
    """Encoder-decoder with Bahdanau attention (lecture 10).

    Training uses teacher forcing: the decoder reads the true previous token
    ``<bos>, y_1, .., y_{T-1}``, not its own guess. :meth:`greedy_decode`
    feeds back its own argmax and also returns the attention weights.

    ``teacher_forcing`` (an attribute, 1.0 by default) is the probability that a
    training step reads the true previous token rather than the model's own argmax.
    Lowering it during training is **scheduled sampling** (Bengio et al., 2015), a
    remedy for exposure bias; in eval mode the forward pass always reads the truth.

    Args:
        vocab_size: ``len(vocab)`` of one vocabulary for source and target, built with
            ``Vocab(..., bos=True, eos=True, pad_first=True)``: ``<pad>`` 0 (the embeddings'
            ``padding_idx``), ``<bos>`` 1 and ``<eos>`` 2 (the decoding methods' defaults).
        embedding_dim, hidden_size: of encoder and decoder.
        bidirectional: bidirectional encoder (as Bahdanau et al.).
        backend: ``"course_lib"`` or ``"torch"`` for the GRU layer and cell.
    """

    def __init__(
        self, vocab_size: int, embedding_dim: int = 16, hidden_size: int = 32,
        bidirectional: bool = True, backend: str = "course_lib",
    ) -> None:
        super().__init__()
        self.encoder = Encoder(vocab_size, embedding_dim, hidden_size, bidirectional, backend)
        self.bridge = nn.Linear(self.encoder.output_size, hidden_size)
        self.decoder = AttentionDecoder(vocab_size, embedding_dim, hidden_size, self.encoder.output_size, backend=backend)
        self.teacher_forcing = 1.0

    def encode(
        self, src: torch.Tensor, src_lengths: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Run the encoder: keys ``(B, S, C)``, the source mask ``(B, S)`` (True at real
        positions, False at ``<pad>``) and the first decoder state s_0 = tanh(W_b h_final) ``(B, H)``."""
        if not isinstance(src, torch.Tensor) or src.dim() != 2 or src.is_floating_point():
            raise ValueError(f"src must be a (B, S) tensor of token indices, got {getattr(src, 'shape', type(src).__name__)}")
        src_lengths = torch.as_tensor(src_lengths)
        if src_lengths.shape != (src.shape[0],) or src_lengths.min() < 1 or src_lengths.max() > src.shape[1]:
            raise ValueError(f"src_lengths must have shape ({src.shape[0]},) with values in [1, {src.shape[1]}]")
        keys, final = self.encoder(src, src_lengths)  # (B, S, C), (B, C)
        mask = torch.arange(src.shape[1], device=src.device) < src_lengths.to(src.device).unsqueeze(1)  # (B, S)
        s = torch.tanh(self.bridge(final))  # (B, H)
        return keys, mask, s

    def forward(
        self, src: torch.Tensor, src_lengths: torch.Tensor, decoder_input: torch.Tensor,
        teacher_forcing: float | None = None,
    ) -> torch.Tensor:
        """Logits ``(B, T, V)`` for ``decoder_input`` ``(B, T)`` (``<bos>`` + target).

        With ``teacher_forcing < 1`` each step after the first reads the model's own
        previous argmax with probability ``1 - teacher_forcing`` (one draw per step, for
        the whole batch). ``None`` takes the ``teacher_forcing`` attribute in training
        mode and 1.0 in eval mode.
        """
        if teacher_forcing is None:
            teacher_forcing = self.teacher_forcing if self.training else 1.0
        if not 0.0 <= teacher_forcing <= 1.0:
            raise ValueError(f"teacher_forcing must be in [0, 1], got {teacher_forcing}")
        if decoder_input.dim() != 2 or decoder_input.shape[0] != src.shape[0]:
            raise ValueError(f"decoder_input must be (B, T) with B = {src.shape[0]}, got {tuple(decoder_input.shape)}")
        keys, mask, s = self.encode(src, src_lengths)
        y = decoder_input[:, 0]  # (B,)
        steps = []
        for i in range(decoder_input.shape[1]):
            logits, s, _ = self.decoder.step(y, s, keys, mask)  # (B, V), (B, H)
            steps.append(logits)
            if i + 1 < decoder_input.shape[1]:
                forced = teacher_forcing >= 1.0 or torch.rand(()).item() < teacher_forcing
                y = decoder_input[:, i + 1] if forced else logits.argmax(dim=-1)  # (B,)
        return torch.stack(steps, dim=1)  # (B, T, V)

    @torch.no_grad()
    def greedy_decode(
        self, src: torch.Tensor, src_lengths: torch.Tensor, max_len: int,
        start_index: int = 1, eos_index: int = 2,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Decode by feeding back the argmax until ``<eos>`` or ``max_len`` steps.

        ``start_index`` and ``eos_index`` are the vocabulary's ``bos_index`` and ``eos_index``.

        Every row is decoded until all rows have written ``<eos>``; what a row writes
        after its own ``<eos>`` is then blanked out, so each row reads as if it had
        stopped there (rows do not interact, so this changes nothing else).

        Returns the tokens ``(B, L)`` (``<eos>`` included, then ``<pad>`` = 0) and the
        attention weights ``(B, L, S)``: row ``i`` is ``alpha_i`` over the source.
        """
        check_int("max_len", max_len, 1)
        was_training = self.training
        self.eval()
        keys, mask, s = self.encode(src, src_lengths)
        prev = torch.full((src.shape[0],), start_index, dtype=torch.long, device=src.device)  # (B,)
        ended = torch.zeros_like(prev, dtype=torch.bool)  # (B,) has the row written <eos> yet?
        written, attended = [], []
        while len(written) < max_len and not bool(ended.all()):
            logits, s, alpha = self.decoder.step(prev, s, keys, mask)  # (B, V), (B, H), (B, S)
            prev = logits.argmax(dim=-1)  # (B,)
            written.append(prev)
            attended.append(alpha)
            ended |= prev == eos_index
        self.train(was_training)
        tokens = torch.stack(written, dim=1)  # (B, L)
        is_eos = (tokens == eos_index).long()  # (B, L)
        past_eos = is_eos.cumsum(dim=1) - is_eos > 0  # (B, L) steps after the row's first <eos>
        weights = torch.stack(attended, dim=1).masked_fill(past_eos.unsqueeze(-1), 0.0)  # (B, L, S)
        return tokens.masked_fill(past_eos, 0), weights

    @torch.no_grad()
    def beam_decode(
        self, src: torch.Tensor, src_lengths: torch.Tensor, max_len: int,
        beam_width: int = 4, length_penalty: float = 0.0, start_index: int = 1, eos_index: int = 2,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Decode with :func:`beam_search`: tokens ``(B, L)`` as :meth:`greedy_decode`'s and their log-probability ``(B,)``."""
        if isinstance(beam_width, bool) or not isinstance(beam_width, int) or beam_width < 1:
            raise ValueError(f"beam_width must be an int of at least 1, got {beam_width!r}")
        was_training = self.training
        self.eval()
        keys, mask, s = self.encode(src, src_lengths)  # (B, S, C), (B, S), (B, H)
        state = tuple(x.repeat_interleave(beam_width, dim=0) for x in (s, keys, mask))  # K copies of each input

        def step(y: torch.Tensor, state: State) -> tuple[torch.Tensor, State]:
            s, keys, mask = state
            logits, s, _ = self.decoder.step(y, s, keys, mask)  # (B*K, V), (B*K, H)
            return torch.log_softmax(logits, dim=-1), (s, keys, mask)

        try:
            return beam_search(step, state, src.shape[0], max_len, beam_width, length_penalty, start_index, eos_index)
        finally:
            self.train(was_training)

    @torch.no_grad()
    def log_prob(
        self, src: torch.Tensor, src_lengths: torch.Tensor, tokens: torch.Tensor,
        start_index: int = 1, eos_index: int = 2,
    ) -> torch.Tensor:
        """``log P(y | x)`` ``(B,)`` of outputs ``tokens`` ``(B, L)``: the sum of the decoder's
        log-probabilities up to and including the first ``<eos>`` (all ``L`` if there is none)."""
        if tokens.dim() != 2 or tokens.shape[0] != src.shape[0]:
            raise ValueError(f"tokens must be (B, L) with B = {src.shape[0]}, got {tuple(tokens.shape)}")
        was_training = self.training
        self.eval()
        start = torch.full_like(tokens[:, :1], start_index)  # (B, 1)
        logits = self(src, src_lengths, torch.cat([start, tokens[:, :-1]], dim=1), teacher_forcing=1.0)  # (B, L, V)
        self.train(was_training)
        token_lp = torch.log_softmax(logits, dim=-1).gather(2, tokens.unsqueeze(-1)).squeeze(-1)  # (B, L)
        is_eos = (tokens == eos_index).long()  # (B, L)
        before_first_eos = (is_eos.cumsum(dim=1) - is_eos) == 0  # (B, L) up to and including the first <eos>
        return (token_lp * before_first_eos).sum(dim=1)  # (B,)


State = torch.Tensor | tuple[torch.Tensor, ...]


def _reorder(state: State, index: torch.Tensor) -> State:
    """Rows ``index`` of a state tensor (or of each tensor of a tuple), along dim 0."""
    if isinstance(state, torch.Tensor):
        return state.index_select(0, index)
    return tuple(_reorder(x, index) for x in state)


def beam_search(
    step: Callable[[torch.Tensor, State], tuple[torch.Tensor, State]],
    state: State,
    batch_size: int,
    max_len: int,
    beam_width: int = 4,
    length_penalty: float = 0.0,
    start_index: int = 1,
    eos_index: int = 2,
    pad_index: int = 0,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Batched beam search for any left-to-right model.

    Greedy decoding keeps one partial output; beam search keeps the ``K`` partial
    outputs ``y_1 .. y_t`` with the highest score

        score(y) = log P(y_1 .. y_t | x) / |y|^alpha,     log P = sum_i log P(y_i | y_<i, x)

    extends each by every token, and keeps the best ``K`` of the ``K * V`` candidates.
    ``alpha = length_penalty``: 0 ranks by log-probability, which favours short
    outputs (every token costs probability); 1 ranks by the mean log-probability
    per token. ``|y|`` counts the tokens up to and including ``<eos>``. A beam that
    wrote ``<eos>`` is finished: it stays in the beam with its score, continued by
    ``<pad>`` at no cost, until better ones push it out or all are finished.
    With ``beam_width=1`` this is greedy decoding. A wider beam usually finds a more
    probable output than greedy, but is not guaranteed to (pruning can drop the
    greedy prefix); it is exhaustive search once ``K`` is at least the number of outputs.

    Args:
        step: ``step(y_prev, state) -> (log_probs, state)`` with ``y_prev`` ``(N,)``,
            ``log_probs`` ``(N, V)`` and ``state`` a tensor or tuple of tensors with
            ``N = batch_size * beam_width`` rows; rows ``b*K .. b*K + K-1`` belong to input ``b``.
        state: the initial state, already repeated ``beam_width`` times per input.
        batch_size: ``B``, the number of inputs decoded at once.
        max_len: the most tokens an output may have.
        beam_width: ``K >= 1``.
        length_penalty: ``alpha``, a finite number.

    Returns:
        The best output of each input ``(B, L)`` (``<eos>`` included, then ``<pad>``) and
        its log-probability ``(B,)``.
    """
    if isinstance(beam_width, bool) or not isinstance(beam_width, int) or beam_width < 1:
        raise ValueError(f"beam_width must be an int of at least 1, got {beam_width!r}")
    if isinstance(length_penalty, bool) or not isinstance(length_penalty, (int, float)) or not math.isfinite(length_penalty):
        raise ValueError(f"length_penalty must be a finite number, got {length_penalty!r}")
    check_int("max_len", max_len, 1)
    B, K = check_int("batch_size", batch_size, 1), beam_width
    first = state if isinstance(state, torch.Tensor) else state[0]
    if first.shape[0] != B * K:
        raise ValueError(f"state must have batch_size * beam_width = {B * K} rows, got {first.shape[0]}")
    device = first.device
    scores = torch.full((B, K), float("-inf"), device=device)  # (B, K) log P of each beam
    scores[:, 0] = 0.0  # one live beam to start with, so the first step does not pick K copies of it
    lengths = torch.zeros(B, K, device=device)  # (B, K) tokens up to and including <eos>
    finished = torch.zeros(B, K, dtype=torch.bool, device=device)  # (B, K)
    history = torch.zeros(B, K, 0, dtype=torch.long, device=device)  # (B, K, t)
    y = torch.full((B * K,), start_index, dtype=torch.long, device=device)  # (B*K,)
    offset = torch.arange(B, device=device).unsqueeze(1) * K  # (B, 1)
    for _ in range(max_len):
        log_probs, state = step(y, state)  # (B*K, V)
        V = log_probs.shape[-1]
        log_probs = log_probs.view(B, K, V)  # (B, K, V)
        after_eos = torch.full((V,), float("-inf"), device=device)
        after_eos[pad_index] = 0.0  # a finished beam's only continuation: <pad>, free
        log_probs = torch.where(finished.unsqueeze(-1), after_eos, log_probs)  # (B, K, V)
        total = scores.unsqueeze(-1) + log_probs  # (B, K, V)
        new_lengths = lengths + (~finished).float()  # (B, K)
        ranking = total / new_lengths.unsqueeze(-1) ** length_penalty  # (B, K, V)
        best = ranking.view(B, K * V).topk(K, dim=1).indices  # (B, K) among K*V candidates
        beam, token = best // V, best % V  # (B, K), (B, K)
        scores = total.view(B, K * V).gather(1, best)  # (B, K)
        lengths = new_lengths.gather(1, beam)  # (B, K)
        finished = finished.gather(1, beam) | (token == eos_index)  # (B, K)
        history = torch.cat([history.gather(1, beam.unsqueeze(-1).expand_as(history)), token.unsqueeze(-1)], dim=-1)
        state = _reorder(state, (beam + offset).view(-1))
        y = token.view(-1)  # (B*K,)
        if finished.all():
            break
    final = scores / lengths.clamp(min=1) ** length_penalty  # (B, K)
    pick = final.argmax(dim=1)  # (B,)
    rows = torch.arange(B, device=device)
    return history[rows, pick], scores[rows, pick]  # (B, L), (B,)
