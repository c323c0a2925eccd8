"""Padding and packing variable-length sequences, from scratch (lecture 7).

A batch of sentences of different lengths is first *padded* to the longest one,
``(T, B, *)``. An RNN would then waste work on the pads, so the batch is
*packed*: sorted by decreasing length and flattened time step by time step,
keeping only the real entries. ``batch_sizes[t]`` says how many sequences are
still running at step ``t``; an RNN processes ``data[offset_t : offset_t +
batch_sizes[t]]`` at step ``t``. For the slide's lengths 9, 8, 6, 4, 3, 2 the
packed batch has ``batch_sizes = [6, 6, 5, 4, 3, 3, 2, 2, 1]``, and
:func:`packing_multiplications` counts the 54 vs 32 multiplications.

Every function mirrors ``torch.nn.utils.rnn`` (same names, arguments and
results) and returns torch's own :class:`PackedSequence`, so ``torch.nn.LSTM``
and ``course_lib``'s layers both accept the packs made here. Packing and
unpacking are gathers and scatters with index tensors, so gradients flow
through them.
"""

from __future__ import annotations

from collections.abc import Sequence
from numbers import Integral
from typing import NamedTuple

import torch
from torch.nn.utils.rnn import PackedSequence

__all__ = [
    "PackedSequence",
    "pad_sequence",
    "pack_padded_sequence",
    "pad_packed_sequence",
    "pack_sequence",
    "unpack_sequence",
    "packing_multiplications",
    "PackingCost",
]


def _check_bool(value: object, name: str) -> None:
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be a bool, got {type(value).__name__}")


def _check_sequences(sequences: object) -> list[torch.Tensor]:
    if isinstance(sequences, torch.Tensor) or not isinstance(sequences, Sequence):
        raise TypeError(f"sequences must be a list of tensors, got {type(sequences).__name__}")
    if len(sequences) == 0:
        raise ValueError("sequences must be a non-empty list of tensors, got an empty list")
    first = sequences[0]
    for i, s in enumerate(sequences):
        if not isinstance(s, torch.Tensor):
            raise TypeError(f"sequences[{i}] must be a torch.Tensor, got {type(s).__name__}")
        if s.dim() < 1:
            raise ValueError(f"sequences[{i}] must have at least 1 dimension (time), got a 0-d tensor")
        if s.shape[1:] != first.shape[1:]:
            raise ValueError(
                f"sequences must share their trailing dimensions, got {tuple(first.shape[1:])} "
                f"for sequences[0] and {tuple(s.shape[1:])} for sequences[{i}]"
            )
        if s.dtype != first.dtype:
            raise TypeError(f"sequences must share one dtype, got {first.dtype} and {s.dtype} (sequences[{i}])")
    return list(sequences)


def _as_lengths(lengths: object) -> torch.Tensor:
    """``lengths`` as a CPU int64 tensor, after checking it holds positive integers."""
    if isinstance(lengths, torch.Tensor):
        if lengths.is_floating_point() or lengths.is_complex() or lengths.dtype == torch.bool:
            raise TypeError(f"lengths must hold integers, got dtype {lengths.dtype}")
        if lengths.dim() != 1:
            raise ValueError(f"lengths must be 1-D, got shape {tuple(lengths.shape)}")
        lengths = lengths.detach().to("cpu", torch.int64)
    elif isinstance(lengths, Sequence) and not isinstance(lengths, (str, bytes)):
        for value in lengths:
            if isinstance(value, bool) or not isinstance(value, Integral):
                raise TypeError(f"lengths must be a list of ints, got an element of type {type(value).__name__}")
        lengths = torch.tensor([int(v) for v in lengths], dtype=torch.int64)
    else:
        raise TypeError(f"lengths must be a list of ints or a 1-D integer tensor, got {type(lengths).__name__}")
    if lengths.numel() == 0:
        raise ValueError("lengths must be non-empty, got an empty list")
    if (lengths <= 0).any():
        raise ValueError(f"lengths must all be positive, got {lengths.tolist()}")
    return lengths


def _check_lengths(lengths: object, batch_size: int, max_length: int, enforce_sorted: bool) -> torch.Tensor:
    """``lengths`` as a CPU int64 tensor, after checking it against the padded batch."""
    lengths = _as_lengths(lengths)
    if lengths.numel() != batch_size:
        raise ValueError(f"lengths must have one entry per sequence in the batch ({batch_size}), got {lengths.numel()}")
    if (lengths > max_length).any():
        raise ValueError(f"lengths must not exceed the padded length {max_length}, got {lengths.tolist()}")
    if enforce_sorted and (lengths[1:] > lengths[:-1]).any():
        raise ValueError(
            f"lengths must be sorted in decreasing order when enforce_sorted=True, got {lengths.tolist()}; "
            "pass enforce_sorted=False to sort them"
        )
    return lengths


def _batch_sizes(lengths: torch.Tensor) -> torch.Tensor:
    """``batch_sizes[t]`` = how many sequences are longer than ``t``."""
    steps = torch.arange(int(lengths.max()))  # (T,)
    return (lengths.unsqueeze(0) > steps.unsqueeze(1)).sum(1)  # (T,)


def _packed_positions(batch_sizes: torch.Tensor, batch_size: int) -> torch.Tensor:
    """Where each packed row lives in the ``(T * B)`` flattened, sorted, padded batch.

    The packed order is time-major: all sequences at step 0, then step 1, ...
    and at step ``t`` the first ``batch_sizes[t]`` (the longest) sequences.
    """
    steps = torch.arange(batch_sizes.numel())  # (T,)
    columns = torch.arange(batch_size)  # (B,)
    running = columns.unsqueeze(0) < batch_sizes.unsqueeze(1)  # (T, B)
    flat = steps.unsqueeze(1) * batch_size + columns.unsqueeze(0)  # (T, B)
    return flat[running]  # (N,) with N = sum of lengths


def _invert_permutation(permutation: torch.Tensor) -> torch.Tensor:
    inverse = torch.empty_like(permutation)
    inverse[permutation] = torch.arange(permutation.numel(), device=permutation.device)
    return inverse


def pad_sequence(
    sequences: Sequence[torch.Tensor],
    batch_first: bool = False,
    padding_value: float = 0.0,
    padding_side: str = "right",
) -> torch.Tensor:
    """Stack tensors of shapes ``(L_i, *)`` into one ``(T, B, *)`` tensor, ``T = max L_i``.

    Shorter sequences are filled with ``padding_value`` on the right (after the
    sequence) or on the left. ``batch_first=True`` gives ``(B, T, *)``.
    Equal to ``torch.nn.utils.rnn.pad_sequence``.
    """
    sequences = _check_sequences(sequences)
    _check_bool(batch_first, "batch_first")
    if isinstance(padding_value, bool) or not isinstance(padding_value, (int, float)):
        raise TypeError(f"padding_value must be a number, got {type(padding_value).__name__}")
    if padding_side not in ("left", "right"):
        raise ValueError(f"padding_side must be 'left' or 'right', got {padding_side!r}")
    first = sequences[0]
    longest = max(s.size(0) for s in sequences)
    out = first.new_full((len(sequences), longest, *first.shape[1:]), padding_value)  # (B, T, *)
    for i, s in enumerate(sequences):
        if padding_side == "right":
            out[i, : s.size(0)] = s
        else:
            out[i, longest - s.size(0) :] = s
    return out if batch_first else out.transpose(0, 1)  # (B, T, *) or (T, B, *)


def pack_padded_sequence(
    input: torch.Tensor,
    lengths: torch.Tensor | Sequence[int],
    batch_first: bool = False,
    enforce_sorted: bool = True,
) -> PackedSequence:
    """Pack a padded batch ``(T, B, *)`` whose sequence ``b`` has ``lengths[b]`` real steps.

    With ``enforce_sorted=False`` the batch is first sorted by decreasing length
    (``sorted_indices``); ``unsorted_indices`` undoes that sort. Entries beyond a
    sequence's length are dropped. Equal to ``torch.nn.utils.rnn.pack_padded_sequence``.
    """
    if not isinstance(input, torch.Tensor):
        raise TypeError(f"input must be a torch.Tensor, got {type(input).__name__}")
    if input.dim() < 2:
        raise ValueError(f"input must have at least 2 dimensions (time and batch), got shape {tuple(input.shape)}")
    _check_bool(batch_first, "batch_first")
    _check_bool(enforce_sorted, "enforce_sorted")
    if batch_first:
        input = input.transpose(0, 1)  # (T, B, *)
    max_length, batch_size = input.shape[:2]
    lengths = _check_lengths(lengths, batch_size, max_length, enforce_sorted)

    if enforce_sorted:
        sorted_indices = unsorted_indices = None
    else:
        lengths, sorted_indices = torch.sort(lengths, descending=True)  # (B,), (B,)
        unsorted_indices = _invert_permutation(sorted_indices)
        sorted_indices = sorted_indices.to(input.device)
        unsorted_indices = unsorted_indices.to(input.device)
        input = input.index_select(1, sorted_indices)  # (T, B, *) longest first

    batch_sizes = _batch_sizes(lengths)  # (T',) with T' = longest length
    positions = _packed_positions(batch_sizes, batch_size).to(input.device)  # (N,)
    data = input.reshape(max_length * batch_size, *input.shape[2:]).index_select(0, positions)  # (N, *)
    return PackedSequence(data, batch_sizes, sorted_indices, unsorted_indices)


def pad_packed_sequence(
    sequence: PackedSequence,
    batch_first: bool = False,
    padding_value: float = 0.0,
    total_length: int | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Undo :func:`pack_padded_sequence`: ``(padded (T, B, *), lengths (B,))``, in the original order.

    ``T`` is the longest length, or ``total_length`` if given (it must be at
    least the longest length). Equal to ``torch.nn.utils.rnn.pad_packed_sequence``.
    """
    if not isinstance(sequence, PackedSequence):
        raise TypeError(f"sequence must be a PackedSequence, got {type(sequence).__name__}")
    _check_bool(batch_first, "batch_first")
    if isinstance(padding_value, bool) or not isinstance(padding_value, (int, float)):
        raise TypeError(f"padding_value must be a number, got {type(padding_value).__name__}")
    data, batch_sizes = sequence.data, sequence.batch_sizes.cpu()
    longest = batch_sizes.numel()
    if total_length is not None:
        if isinstance(total_length, bool) or not isinstance(total_length, Integral):
            raise TypeError(f"total_length must be an int or None, got {type(total_length).__name__}")
        if total_length < longest:
            raise ValueError(
                f"total_length must be at least the longest sequence length {longest}, got {total_length}"
            )
    length = longest if total_length is None else int(total_length)
    batch_size = int(batch_sizes[0])

    positions = _packed_positions(batch_sizes, batch_size).to(data.device)  # (N,)
    padded = data.new_full((length * batch_size, *data.shape[1:]), padding_value)  # (T * B, *)
    padded = padded.index_copy(0, positions, data).view(length, batch_size, *data.shape[1:])  # (T, B, *)
    lengths = (batch_sizes.unsqueeze(0) > torch.arange(batch_size).unsqueeze(1)).sum(1)  # (B,)

    if sequence.unsorted_indices is not None:
        padded = padded.index_select(1, sequence.unsorted_indices)  # (T, B, *) original order
        lengths = lengths[sequence.unsorted_indices.cpu()]  # (B,)
    return (padded.transpose(0, 1) if batch_first else padded), lengths


def pack_sequence(sequences: Sequence[torch.Tensor], enforce_sorted: bool = True) -> PackedSequence:
    """Pack a list of ``(L_i, *)`` tensors: :func:`pad_sequence` then :func:`pack_padded_sequence`."""
    sequences = _check_sequences(sequences)
    _check_bool(enforce_sorted, "enforce_sorted")
    lengths = [s.size(0) for s in sequences]
    if enforce_sorted and any(b > a for a, b in zip(lengths, lengths[1:])):
        raise ValueError(
            f"sequences must be sorted by decreasing length when enforce_sorted=True, got lengths {lengths}; "
            "pass enforce_sorted=False to sort them"
        )
    if 0 in lengths:
        raise ValueError(f"sequences must all be non-empty, got lengths {lengths}")
    return pack_padded_sequence(pad_sequence(sequences), lengths, enforce_sorted=enforce_sorted)


def unpack_sequence(packed_sequences: PackedSequence) -> list[torch.Tensor]:
    """Undo :func:`pack_sequence`: the list of ``(L_i, *)`` tensors, in the original order."""
    if not isinstance(packed_sequences, PackedSequence):
        raise TypeError(f"packed_sequences must be a PackedSequence, got {type(packed_sequences).__name__}")
    padded, lengths = pad_packed_sequence(packed_sequences, batch_first=True)  # (B, T, *), (B,)
    return [row[:n] for row, n in zip(padded, lengths.tolist())]


class PackingCost(NamedTuple):
    """Multiply-adds of one dot product per time step, padded vs packed.

    What ``packing_multiplications`` returns (lecture 7).
    """

    padded_multiplications: int
    packed_multiplications: int
    padded_additions: int
    packed_additions: int


def packing_multiplications(lengths: Sequence[int] | torch.Tensor, out_features: int = 1) -> PackingCost:
    """Count the work a padded batch wastes, as the packing slide does.

    Multiplying the padded batch, ``B`` sequences padded to ``T`` steps, by one
    weight column costs ``B * T`` multiplications and ``B * (T - 1)`` additions;
    only ``sum(L_i)`` and ``sum(L_i - 1)`` of them touch real data. Each of
    ``out_features`` weight columns repeats the count. For lengths 9, 8, 6, 4, 3, 2:
    54 vs 32 multiplications and 48 vs 26 additions.
    """
    if isinstance(out_features, bool) or not isinstance(out_features, int):
        raise TypeError(f"out_features must be an int, got {type(out_features).__name__}")
    if out_features < 1:
        raise ValueError(f"out_features must be at least 1, got {out_features}")
    lengths = _as_lengths(lengths)  # (B,)
    batch, longest = lengths.numel(), int(lengths.max())
    real = int(lengths.sum())
    return PackingCost(
        padded_multiplications=batch * longest * out_features,
        packed_multiplications=real * out_features,
        padded_additions=batch * (longest - 1) * out_features,
        packed_additions=(real - batch) * out_features,
    )
