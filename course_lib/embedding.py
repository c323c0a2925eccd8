"""One-hot vectors and the embedding lookup that replaces them (lecture 7, RNN steps 3-4).

The slide multiplies a one-hot row by the embedding matrix: ``one_hot(i) @ W``
picks row ``i`` of ``W``. An embedding layer skips the sparse product and looks
the row up directly, ``Embedding(W)(i) == W[i]``; the two are equal, the lookup
is just cheaper. ``Embedding`` mirrors ``torch.nn.Embedding`` (same signature,
weight layout, initialisation, ``padding_idx``, ``max_norm`` and
``scale_grad_by_freq`` rules), written with plain indexing.
"""

from __future__ import annotations

import torch
from torch import nn

from course_lib.validation import (
    BadIndex, BadType, BadValue, OutOfRange, check_bool, check_torch_number, check_index_tensor, check_positive_finite,
    check_positive_int, check_tensor,
)


def one_hot(tensor: torch.Tensor, num_classes: int = -1) -> torch.Tensor:
    """One-hot encode integer indices: ``out[..., k] = 1`` where ``tensor[...] == k``.

    Shape ``(*)`` -> ``(*, num_classes)``, dtype int64; ``num_classes=-1`` means
    ``tensor.max() + 1``. Equal to ``torch.nn.functional.one_hot``.
    """
    check_tensor("tensor", tensor)
    if tensor.dtype != torch.int64:
        raise BadType(f"one_hot is only applicable to index tensor of type LongTensor: tensor has dtype {tensor.dtype}")
    if isinstance(num_classes, bool) or not isinstance(num_classes, int):
        raise TypeError(f"num_classes must be int, got {type(num_classes).__name__}")
    if tensor.numel() and int(tensor.min()) < 0:
        raise BadValue(f"Class values must be non-negative: tensor holds {int(tensor.min())}")
    if num_classes == -1:
        if tensor.numel() == 0:
            raise BadValue("Can not infer total number of classes from empty tensor: num_classes must be given")
        num_classes = int(tensor.max()) + 1
    elif num_classes < 1:
        raise BadValue(f"Class values must be smaller than num_classes: num_classes must be -1 (infer) "
                       f"or positive, got {num_classes}")
    elif tensor.numel() and int(tensor.max()) >= num_classes:
        raise BadValue(f"Class values must be smaller than num_classes={num_classes}: tensor holds {int(tensor.max())}")
    classes = torch.arange(num_classes, device=tensor.device)  # (C,)
    return (tensor.unsqueeze(-1) == classes).long()  # (*, C)


class Embedding(nn.Module):
    """A lookup table ``weight`` of shape ``(num_embeddings, embedding_dim)``.

    ``forward(input)`` returns ``weight[input]``, shape ``(*, embedding_dim)``:
    the same numbers as ``one_hot(input, num_embeddings).float() @ weight``.
    Rows start as N(0, 1) samples, as in torch. Row ``padding_idx`` (a ``<pad>``
    token) starts at zero and never receives a gradient, so padding stays neutral
    during training.

    ``max_norm``: before each lookup, every row the input uses whose ``norm_type``
    norm exceeds ``max_norm`` is scaled, in place, to norm ``max_norm`` (torch's
    ``scale = max_norm / (norm + 1e-7)``). ``scale_grad_by_freq``: a row's gradient
    is divided by how often its index occurs in the input, so frequent words do
    not dominate an update. Sparse gradients (``sparse=True``) are torch's alone.
    """

    def __init__(
        self,
        num_embeddings: int,
        embedding_dim: int,
        padding_idx: int | None = None,
        max_norm: float | None = None,
        norm_type: float = 2.0,
        scale_grad_by_freq: bool = False,
        sparse: bool = False,
        _weight: torch.Tensor | None = None,
        _freeze: bool = False,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        check_positive_int("num_embeddings", num_embeddings)
        check_positive_int("embedding_dim", embedding_dim)
        if padding_idx is not None:
            if isinstance(padding_idx, bool) or not isinstance(padding_idx, int):
                raise BadIndex(f"padding_idx must be an int or None, got {type(padding_idx).__name__}")
            if not -num_embeddings <= padding_idx < num_embeddings:
                raise ValueError(
                    f"Padding_idx must be within num_embeddings: padding_idx must be in "
                    f"[-{num_embeddings}, {num_embeddings - 1}], got {padding_idx}"
                )
            padding_idx %= num_embeddings  # torch's rule: -1 means the last row
        if max_norm is not None:
            check_torch_number("max_norm", max_norm, "float")
            check_positive_finite("max_norm", max_norm)
        check_torch_number("norm_type", norm_type, "float")
        if not norm_type > 0:  # inf allowed; also false for nan
            raise ValueError(f"norm_type must be positive (inf allowed), got {norm_type}")
        check_bool("scale_grad_by_freq", scale_grad_by_freq)
        check_bool("sparse", sparse)
        if sparse:
            raise ValueError("sparse=True (sparse gradients) is not implemented here: "
                             "use torch.nn.Embedding, or sparse=False")
        self.num_embeddings = num_embeddings
        self.embedding_dim = embedding_dim
        self.padding_idx = padding_idx
        self.max_norm = max_norm
        self.norm_type = norm_type
        self.scale_grad_by_freq = scale_grad_by_freq
        self.sparse = sparse
        if _weight is None:
            weight = torch.empty(num_embeddings, embedding_dim, device=device, dtype=dtype)  # (V, D)
            self.weight = nn.Parameter(weight, requires_grad=not _freeze)
            self.reset_parameters()
        else:
            check_tensor("_weight", _weight)
            if tuple(_weight.shape) != (num_embeddings, embedding_dim):
                raise ValueError(
                    f"Shape of weight does not match num_embeddings and embedding_dim: _weight must have "
                    f"shape ({num_embeddings}, {embedding_dim}), got {tuple(_weight.shape)}"
                )
            self.weight = nn.Parameter(_weight, requires_grad=not _freeze)

    def reset_parameters(self) -> None:
        """Draw every row from N(0, 1), then zero the padding row (torch's initialisation)."""
        nn.init.normal_(self.weight)
        if self.padding_idx is not None:
            with torch.no_grad():
                self.weight[self.padding_idx].fill_(0)

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        """Rows of ``weight`` for integer ``input`` of shape ``(*)``: ``(*, embedding_dim)``."""
        check_index_tensor("input", input)
        if input.numel() and not 0 <= int(input.min()) <= int(input.max()) < self.num_embeddings:
            raise OutOfRange(
                f"index out of range in self: input must hold indices in [0, {self.num_embeddings - 1}], "
                f"got values in [{int(input.min())}, {int(input.max())}]"
            )
        if self.max_norm is not None:
            self._renorm_rows(input)
        out = self.weight[input]  # (*, D)
        if self.scale_grad_by_freq:
            # same value, gradient scaled by 1/count: (out - out.detach()) is exactly zero
            count = torch.bincount(input.reshape(-1), minlength=self.num_embeddings)  # (V,)
            scale = 1.0 / count[input].to(out.dtype).unsqueeze(-1)  # (*, 1)
            out = out.detach() + (out - out.detach()) * scale  # (*, D)
        if self.padding_idx is not None:
            # The pad row's value is returned but detached, so its gradient is zero.
            is_pad = (input == self.padding_idx).unsqueeze(-1)  # (*, 1)
            out = torch.where(is_pad, out.detach(), out)  # (*, D)
        return out

    @torch.no_grad()
    def _renorm_rows(self, input: torch.Tensor) -> None:
        """Scale, in place, each used row whose norm exceeds ``max_norm`` down to ``max_norm``."""
        rows = torch.unique(input)  # (U,)
        norms = torch.linalg.vector_norm(self.weight[rows], ord=self.norm_type, dim=1)  # (U,)
        too_long = norms > self.max_norm  # (U,)
        scale = self.max_norm / (norms[too_long] + 1e-7)  # (U',)
        self.weight[rows[too_long]] *= scale.unsqueeze(1).to(self.weight.dtype)  # (U', D)

    @classmethod
    def from_pretrained(
        cls,
        embeddings: torch.Tensor,
        freeze: bool = True,
        padding_idx: int | None = None,
        max_norm: float | None = None,
        norm_type: float = 2.0,
        scale_grad_by_freq: bool = False,
        sparse: bool = False,
    ) -> Embedding:
        """An ``Embedding`` whose weight is ``embeddings`` (kept as given, padding row included).

        ``freeze=True`` leaves the weight out of training (``requires_grad=False``).
        """
        check_tensor("embeddings", embeddings, "(num_embeddings, embedding_dim)")
        if embeddings.dim() != 2:
            raise ValueError(
                "Embeddings parameter is expected to be 2-dimensional: embeddings must be 2-D "
                f"(num_embeddings, embedding_dim), got shape {tuple(embeddings.shape)}"
            )
        check_bool("freeze", freeze)
        rows, cols = embeddings.shape
        return cls(rows, cols, padding_idx=padding_idx, max_norm=max_norm, norm_type=norm_type,
                   scale_grad_by_freq=scale_grad_by_freq, sparse=sparse, _weight=embeddings,
                   _freeze=freeze)

    def extra_repr(self) -> str:
        parts = [f"{self.num_embeddings}, {self.embedding_dim}"]
        if self.padding_idx is not None:
            parts.append(f"padding_idx={self.padding_idx}")
        if self.max_norm is not None:
            parts.append(f"max_norm={self.max_norm}")
        if self.norm_type != 2.0:
            parts.append(f"norm_type={self.norm_type}")
        if self.scale_grad_by_freq:
            parts.append("scale_grad_by_freq=True")
        return ", ".join(parts)
