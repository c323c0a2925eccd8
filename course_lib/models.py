"""The small models the lectures train: a language model, a classifier, a forecaster.

- :class:`SimpleLSTM` is the text-generation model of the slides, layer for layer
  (lecture 8): ``Embedding -> LSTM(batch_first=True) -> Linear``.
- :class:`SequenceClassifier` is a many-to-one RNN (lectures 7 and 9): it reads a
  padded batch plus lengths, packs it so that padding costs nothing, and
  classifies the last hidden state (both directions' if bidirectional).
- :class:`Forecaster` is the one-step time-series forecaster (lecture 10):
  ``x_1 .. x_T -> x_{T+1}``.

Every recurrent layer is built from ``course_lib`` (``backend="course_lib"``, the
default: the from-scratch ``RNN``/``LSTM``/``GRU`` of lectures 2, 5 and 6) or from
``torch.nn`` (``backend="torch"``, faster). Both have the same parameter names,
so one ``state_dict`` loads into either and they give the same numbers.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F
from torch.nn.utils.rnn import pack_padded_sequence as torch_pack_padded_sequence

from course_lib.gru import GRU
from course_lib.lstm import LSTM
from course_lib.packing import pack_padded_sequence
from course_lib.rnn import RNN
from course_lib.validation import check_bool, check_choice, check_int, check_positive_int

_CELLS = ("rnn", "lstm", "gru")
_BACKENDS = ("course_lib", "torch")
_COURSE_LAYERS = {"rnn": RNN, "lstm": LSTM, "gru": GRU}
_TORCH_LAYERS = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}


def recurrent_layer(cell: str, backend: str = "course_lib", **kwargs) -> nn.Module:
    """An ``RNN``/``LSTM``/``GRU`` layer from ``course_lib`` or ``torch.nn``, same arguments."""
    check_choice("cell", cell, _CELLS)
    check_choice("backend", backend, _BACKENDS)
    layers = _TORCH_LAYERS if backend == "torch" else _COURSE_LAYERS
    return layers[cell](**kwargs)


def pack_padded(x: torch.Tensor, lengths: torch.Tensor, backend: str = "course_lib"):
    """Pack a batch-first padded ``(B, T, F)`` batch with the backend's ``pack_padded_sequence``."""
    check_choice("backend", backend, _BACKENDS)
    pack = torch_pack_padded_sequence if backend == "torch" else pack_padded_sequence
    return pack(x, lengths.cpu(), batch_first=True, enforce_sorted=False)


def _check_lengths(x: torch.Tensor, lengths: object) -> torch.Tensor:
    if not isinstance(lengths, torch.Tensor):
        lengths = torch.as_tensor(lengths)
    if lengths.dim() != 1 or lengths.shape[0] != x.shape[0]:
        raise ValueError(f"lengths must have shape ({x.shape[0]},), one per sequence, got {tuple(lengths.shape)}")
    if lengths.is_floating_point() or (lengths.numel() and (lengths.min() < 1 or lengths.max() > x.shape[1])):
        raise ValueError(f"lengths must be integers in [1, {x.shape[1]}]")
    return lengths


class SimpleLSTM(nn.Module):
    """The slides' text-generation model (lecture 8): embedding -> LSTM -> linear.

    For tokens ``x_1 .. x_T`` it computes ``e_t = E[x_t]``, the LSTM states
    ``(h_t, c_t) = LSTM(e_t, (h_{t-1}, c_{t-1}))`` and next-token scores
    ``o_t = W h_t + b``; ``softmax(o_t)`` is ``P(x_{t+1} | x_1 .. x_t)``.

    Args:
        vocab_size, embedding_dim, hidden_dim, num_layers: as on the slide.
        backend: ``"course_lib"`` (the from-scratch :class:`course_lib.lstm.LSTM`)
            or ``"torch"`` (:class:`torch.nn.LSTM`); same ``state_dict`` keys.
    """

    def __init__(
        self,
        vocab_size: int,
        embedding_dim: int,
        hidden_dim: int,
        num_layers: int = 1,
        backend: str = "course_lib",
    ) -> None:
        super().__init__()
        check_positive_int("vocab_size", vocab_size)
        check_positive_int("embedding_dim", embedding_dim)
        check_positive_int("hidden_dim", hidden_dim)
        check_positive_int("num_layers", num_layers)
        self.backend = check_choice("backend", backend, _BACKENDS)
        self.embedding = nn.Embedding(vocab_size, embedding_dim)
        self.lstm = recurrent_layer(
            "lstm", backend, input_size=embedding_dim, hidden_size=hidden_dim,
            num_layers=num_layers, batch_first=True,
        )
        self.fc = nn.Linear(hidden_dim, vocab_size)

    def forward(
        self, x: torch.Tensor, hidden: tuple[torch.Tensor, torch.Tensor] | None = None
    ) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        """``x``: token indices ``(B, T)``; ``hidden``: ``(h, c)`` each ``(L, B, H)`` or None.

        Returns next-token logits ``(B, T, V)`` and the final ``(h, c)``.
        """
        if not isinstance(x, torch.Tensor) or x.dim() != 2 or x.is_floating_point():
            raise ValueError(f"x must be a (B, T) tensor of token indices, got {getattr(x, 'shape', type(x).__name__)}")
        x = self.embedding(x)  # (B, T, E)
        out, hidden = self.lstm(x, hidden)  # (B, T, H)
        out = self.fc(out)  # (B, T, V)
        return out, hidden


class SequenceClassifier(nn.Module):
    """A many-to-one RNN classifier over padded batches (lectures 7 and 9).

    Each token becomes a vector (a learned embedding ``E[x_t]``, or the one-hot
    vector ``e_{x_t}`` as in the names case study), the recurrent layer reads the
    packed batch, and the class scores come from the last hidden state of the top
    layer, ``y = W h_T + b``, or with ``bidirectional=True`` from both directions'
    final states, ``y = W [h_T^fwd ; h_1^bwd] + b``. Packing means each sequence's
    ``h_T`` is taken at its own length, not after the padding.

    Args:
        vocab_size: number of token indices (including ``<pad>``).
        num_classes: number of output classes.
        hidden_size: hidden units per direction.
        embedding_dim: embedding size, or ``None`` for one-hot inputs.
        cell: ``"lstm"``, ``"gru"`` or ``"rnn"``.
        num_layers, bidirectional: as in ``torch.nn.LSTM``.
        padding_idx: the ``<pad>`` index (its embedding stays zero).
        backend: ``"course_lib"`` or ``"torch"``.
    """

    def __init__(
        self,
        vocab_size: int,
        num_classes: int,
        hidden_size: int = 32,
        embedding_dim: int | None = 16,
        cell: str = "lstm",
        num_layers: int = 1,
        bidirectional: bool = False,
        padding_idx: int | None = None,
        backend: str = "course_lib",
    ) -> None:
        super().__init__()
        check_positive_int("vocab_size", vocab_size)
        check_positive_int("num_classes", num_classes)
        check_positive_int("hidden_size", hidden_size)
        check_positive_int("num_layers", num_layers)
        if embedding_dim is not None:
            check_positive_int("embedding_dim", embedding_dim)
        check_bool("bidirectional", bidirectional)
        if padding_idx is not None and not (isinstance(padding_idx, int) and 0 <= padding_idx < vocab_size):
            raise ValueError(f"padding_idx must be None or an index in [0, {vocab_size - 1}], got {padding_idx!r}")
        self.cell = check_choice("cell", cell, _CELLS)
        self.backend = check_choice("backend", backend, _BACKENDS)
        self.vocab_size = vocab_size
        self.bidirectional = bidirectional
        self.embedding = (
            nn.Embedding(vocab_size, embedding_dim, padding_idx=padding_idx) if embedding_dim is not None else None
        )
        self.rnn = recurrent_layer(
            cell, backend, input_size=embedding_dim or vocab_size, hidden_size=hidden_size,
            num_layers=num_layers, batch_first=True, bidirectional=bidirectional,
        )
        self.fc = nn.Linear(hidden_size * (2 if bidirectional else 1), num_classes)

    def encode_tokens(self, x: torch.Tensor) -> torch.Tensor:
        """Token indices ``(B, T)`` -> input vectors ``(B, T, E)`` (embedding or one-hot)."""
        if self.embedding is not None:
            return self.embedding(x)  # (B, T, E)
        return F.one_hot(x, self.vocab_size).float()  # (B, T, V)

    def forward(self, x: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        """``x``: padded token indices ``(B, T)``; ``lengths``: ``(B,)`` (default: all ``T``).

        Returns class logits ``(B, C)``.
        """
        if not isinstance(x, torch.Tensor) or x.dim() != 2 or x.is_floating_point():
            raise ValueError(f"x must be a (B, T) tensor of token indices, got {getattr(x, 'shape', type(x).__name__)}")
        if lengths is None:
            lengths = torch.full((x.shape[0],), x.shape[1], dtype=torch.long)
        lengths = _check_lengths(x, lengths)
        packed = pack_padded(self.encode_tokens(x), lengths, self.backend)
        _, h_n = self.rnn(packed)
        if isinstance(h_n, tuple):  # LSTM: (h_n, c_n)
            h_n = h_n[0]  # (L*D, B, H), in the original batch order
        if self.bidirectional:
            last = torch.cat([h_n[-2], h_n[-1]], dim=-1)  # (B, 2H): forward, backward
        else:
            last = h_n[-1]  # (B, H)
        return self.fc(last)  # (B, C)


class Forecaster(nn.Module):
    """One-step time-series forecaster (lecture 10): read ``x_1 .. x_T``, predict ``x_{T+1}``.

    ``h_t = RNN(x_t, h_{t-1})`` over the window, then ``x_hat_{T+1} = W h_T + b``.

    Args:
        input_size: features per time step (1 for a univariate series).
        hidden_size, num_layers: of the recurrent layer.
        cell: ``"gru"`` (default), ``"lstm"`` or ``"rnn"``.
        backend: ``"course_lib"`` or ``"torch"``.
    """

    def __init__(
        self,
        input_size: int = 1,
        hidden_size: int = 32,
        num_layers: int = 1,
        cell: str = "gru",
        backend: str = "course_lib",
    ) -> None:
        super().__init__()
        check_positive_int("input_size", input_size)
        check_positive_int("hidden_size", hidden_size)
        check_positive_int("num_layers", num_layers)
        self.input_size = input_size
        self.rnn = recurrent_layer(
            cell, backend, input_size=input_size, hidden_size=hidden_size,
            num_layers=num_layers, batch_first=True,
        )
        self.fc = nn.Linear(hidden_size, input_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x``: windows ``(B, T, F)`` (or ``(B, T)`` when ``F = 1``); returns ``(B, F)``."""
        if not isinstance(x, torch.Tensor) or not x.is_floating_point():
            raise TypeError(f"x must be a floating-point tensor, got {getattr(x, 'dtype', type(x).__name__)}")
        if x.dim() == 2 and self.input_size == 1:
            x = x.unsqueeze(-1)  # (B, T, 1)
        if x.dim() != 3 or x.shape[-1] != self.input_size:
            raise ValueError(f"x must have shape (B, T, {self.input_size}), got {tuple(x.shape)}")
        out, _ = self.rnn(x)  # (B, T, H)
        return self.fc(out[:, -1])  # (B, F)

    @torch.no_grad()
    def rollout(self, history: torch.Tensor, steps: int) -> torch.Tensor:
        """Forecast ``steps`` values past ``history`` ``(T,)`` or ``(T, F)``, feeding each prediction back."""
        check_positive_int("steps", steps)
        if not isinstance(history, torch.Tensor) or not history.is_floating_point():
            raise TypeError("history must be a floating-point tensor")
        window = history.reshape(1, history.shape[0], -1).clone()  # (1, T, F)
        preds = []
        for _ in range(steps):
            nxt = self(window)  # (1, F)
            preds.append(nxt)
            window = torch.cat([window[:, 1:], nxt.unsqueeze(1)], dim=1)  # (1, T, F)
        return torch.cat(preds).reshape(steps, *history.shape[1:])  # (steps, F) or (steps,)


def sliding_windows(series: torch.Tensor, width: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Cut a series ``(N,)`` or ``(N, F)`` into one-step examples.

    They are the windows ``SineForecast`` (lecture 10) holds.

    Returns inputs ``X[i] = series[i : i+width]`` of shape ``(N-width, width, F)``
    and targets ``y[i] = series[i+width]`` of shape ``(N-width, F)``.
    """
    if not isinstance(series, torch.Tensor) or not series.is_floating_point():
        raise TypeError("series must be a floating-point tensor")
    check_positive_int("width", width)
    if series.dim() == 1:
        series = series.unsqueeze(-1)  # (N, 1)
    if series.dim() != 2:
        raise ValueError(f"series must be (N,) or (N, F), got shape {tuple(series.shape)}")
    if series.shape[0] <= width:
        raise ValueError(f"width must be smaller than the series length {series.shape[0]}, got {width}")
    X = series.unfold(0, width, 1)[:-1].transpose(1, 2).contiguous()  # (N-width, width, F)
    y = series[width:].clone()  # (N-width, F)
    return X, y
