"""Padding and packing variable-length sequences, from scratch (lecture 7).

A batch of sentences of different lengths is first *padded* to the longest one,
``(T, B, *)``. An RNN would then waste work on the pads, so the batch is
*packed*: sorted by decreasing length and flattened time step by time step,
keeping only the real entries. ``batch_sizes[t]`` says how many sequences are
still running at step ``t``; an RNN processes ``data[offset_t : offset_t +
batch_sizes[t]]`` at step ``t``. For the slide's lengths 9, 8, 6, 4, 3, 2 the
packed batch has ``batch_sizes = [6, 6, 5, 4, 3, 3, 2, 2, 1]``, and
:func:`packing_multiplications` counts the 54 vs 32 multiplications.

Every function mirrors ``torch.nn.utils.rnn`` (same names, arguments, results and
errors) and returns torch's own :class:`PackedSequence`, so ``torch.nn.LSTM``
and ``course_lib``'s layers both accept the packs made here. Packing and
unpacking are gathers and scatters with index tensors, so gradients flow
through them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import NamedTuple

import torch
from torch.nn.utils.rnn import PackedSequence

from course_lib.validation import BadDimensions, BadType, BadValue, check_bool, check_torch_number, check_positive_int

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
    sequences = _as_sequences(sequences)
    check_bool("batch_first", batch_first)
    check_torch_number("padding_value", padding_value, "float")
    if not isinstance(padding_side, str):
        raise TypeError(f"padding_side must be str ('left' or 'right'), got {type(padding_side).__name__}")
    if padding_side not in ("left", "right"):
        raise BadValue(f"Expected padding_side to be one of left or right, but got {padding_side}")
    first = sequences[0]
    longest = max(s.size(0) for s in sequences)
    out = first.new_full((len(sequences), longest, *first.shape[1:]), padding_value)  # (B, T, *)
    for i, s in enumerate(sequences):  # copying casts to the first sequence's dtype, as in torch
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
        raise TypeError(f"input must be Tensor (a torch.Tensor), got {type(input).__name__}")
    check_bool("batch_first", batch_first)
    check_bool("enforce_sorted", enforce_sorted)
    if input.dim() < 2:
        raise BadDimensions(
            f"Dimension out of range: input must have at least 2 dimensions (time and batch), "
            f"got shape {tuple(input.shape)}"
        )
    if batch_first:
        input = input.transpose(0, 1)  # (T, B, *)
    max_length, batch_size = input.shape[:2]
    lengths = _check_lengths(lengths, batch_size, max_length, enforce_sorted, batch_first)

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
    check_bool("batch_first", batch_first)
    check_torch_number("padding_value", padding_value, "Number")
    data, batch_sizes = sequence.data, sequence.batch_sizes.cpu()
    longest = batch_sizes.numel()
    if total_length is not None:
        if isinstance(total_length, bool) or not isinstance(total_length, int):
            raise TypeError(f"total_length must be int or None, got {type(total_length).__name__}")
        if total_length < longest:
            raise ValueError(
                "Expected total_length to be at least the length of the longest sequence in input, "
                f"but got total_length={total_length} and max sequence length being {longest}"
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
    sequences = _as_sequences(sequences)
    check_bool("enforce_sorted", enforce_sorted)
    lengths = [s.size(0) for s in sequences]
    if enforce_sorted and any(b > a for a, b in zip(lengths, lengths[1:])):
        raise BadValue(
            "`lengths` array must be sorted in decreasing order when `enforce_sorted` is True: "
            f"sequences must be sorted by decreasing length, got lengths {lengths}. "
            "You can pass `enforce_sorted=False` to sort them"
        )
    if 0 in lengths:
        raise BadValue(
            "Length of all samples has to be greater than 0: sequences must all be non-empty, "
            f"got lengths {lengths}"
        )
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
    check_positive_int("out_features", out_features)
    lengths = _as_lengths(lengths)  # (B,)
    if lengths.numel() == 0:
        raise ValueError("lengths must be non-empty, got an empty list")
    _check_positive_lengths(lengths)
    batch, longest = lengths.numel(), int(lengths.max())
    real = int(lengths.sum())
    return PackingCost(
        padded_multiplications=batch * longest * out_features,
        packed_multiplications=real * out_features,
        padded_additions=batch * (longest - 1) * out_features,
        packed_additions=(real - batch) * out_features,
    )


# -- argument checks, in torch's order and with torch's words ------------------------------


def _as_sequences(sequences: object) -> list[torch.Tensor]:
    """``sequences`` as a list of tensors ``(L_i, *)`` sharing their trailing dimensions.

    As in torch, any iterable works, a tensor lists its sequences along dim 0, and every
    sequence takes the first one's dtype.
    """
    if isinstance(sequences, torch.Tensor) and sequences.dim() == 0:
        raise TypeError("sequences must hold one sequence per entry of dim 0: iteration over a 0-d tensor")
    if not isinstance(sequences, Iterable):
        raise BadType(
            "pad_sequence: Expected iterable for input sequences, but got arg of type: "
            f"{type(sequences).__name__} (sequences must be a list of tensors)"
        )
    sequences = list(sequences)
    if not sequences:
        raise BadValue("received an empty list of sequences: sequences must be a non-empty list of tensors")
    for i, s in enumerate(sequences):
        if not isinstance(s, torch.Tensor):
            raise TypeError(f"expected Tensor as element {i}: sequences[{i}] must be a torch.Tensor, "
                            f"got {type(s).__name__}")
        if s.dim() < 1:
            raise BadValue(f"sequences[{i}] must have at least 1 dimension (time), got a 0-d tensor")
    first = sequences[0]
    for i, s in enumerate(sequences):
        if s.shape[1:] != first.shape[1:]:
            raise BadValue(
                f"sequences must share their trailing dimensions: the size of tensor a {tuple(first.shape[1:])} "
                f"(sequences[0]) must match the size of tensor b {tuple(s.shape[1:])} (sequences[{i}])"
            )
    return sequences


def _as_lengths(lengths: object) -> torch.Tensor:
    """``lengths`` as a 1-D CPU int64 tensor, converted as torch converts it (floats truncate)."""
    if isinstance(lengths, torch.Tensor):
        lengths = lengths.detach().to("cpu", torch.int64)
    else:
        try:
            lengths = torch.as_tensor(lengths, dtype=torch.int64)
        except (TypeError, ValueError, RuntimeError) as error:
            raise TypeError(f"lengths must be a list of ints or a 1-D integer tensor, got "
                            f"{type(lengths).__name__} ({error})") from None
    if lengths.dim() != 1:
        raise BadDimensions(
            f"'lengths' argument should be a 1D CPU int64 tensor, but got {lengths.dim()}D: "
            f"lengths must be 1-D, got shape {tuple(lengths.shape)}"
        )
    return lengths


def _check_lengths(
    lengths: object, batch_size: int, max_length: int, enforce_sorted: bool, batch_first: bool
) -> torch.Tensor:
    """``lengths`` as a CPU int64 tensor, after checking it against the padded batch (torch's order)."""
    lengths = _as_lengths(lengths)
    if lengths.numel() != batch_size:
        raise BadValue(
            f"Expected `len(lengths)` to be equal to batch_size, but got {lengths.numel()} "
            f"(batch_size={batch_size}): lengths must have one entry per sequence of input "
            f"(its dim {0 if batch_first else 1} with batch_first={batch_first})"
        )
    if enforce_sorted and (lengths[1:] > lengths[:-1]).any():
        raise BadValue(
            f"`lengths` array must be sorted in decreasing order when `enforce_sorted` is True, "
            f"got lengths {lengths.tolist()}. You can pass `enforce_sorted=False` to sort them"
        )
    _check_positive_lengths(lengths)
    if (lengths > max_length).any():
        raise BadValue(f"lengths must not exceed the padded length {max_length}, got {lengths.tolist()}")
    return lengths


def _check_positive_lengths(lengths: torch.Tensor) -> None:
    if (lengths <= 0).any():
        raise BadValue(
            "Length of all samples has to be greater than 0, but found an element in 'lengths' "
            f"that is <= 0: lengths must all be positive, got {lengths.tolist()}"
        )
