"""Argument checks for every public function of ``course_lib``: one place, one wording.

A bad argument raises an error that names the argument and says what was expected, e.g.
``hidden_size must be a positive int, got 0``. Where ``torch`` has the same function, the error
is also an instance of the class torch raises for that mistake, so code written against torch
(``except RuntimeError``) catches ours too; the classes below combine the two:

- :class:`BadValue`: a ``ValueError`` that is also a ``RuntimeError`` (torch reports most bad
  values from C++, as ``RuntimeError``);
- :class:`BadType`: a ``TypeError`` that is also a ``RuntimeError``;
- :class:`BadDimensions`: a tensor with the wrong number of dimensions; a ``ValueError``, and
  also the ``RuntimeError`` or ``IndexError`` torch raises depending on where it notices;
- :class:`BadTypedValue`: a wrong type or dtype (``TypeError``) where torch says ``ValueError``
  or ``RuntimeError`` (a dropout given as text, an integer input to a float layer);
- :class:`OutOfRange` and :class:`BadIndex`: an index outside its table, or not an int, where
  torch raises ``IndexError``.

Each check returns the value it checked (converted where that is the point, e.g. a tensor of
lengths), so a caller reads ``size = check_positive_int("size", size)``.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Sequence
from numbers import Integral, Real
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    import torch

T = TypeVar("T")


class BadValue(ValueError, RuntimeError):
    """A value torch also refuses, at run time (``RuntimeError``) where we say ``ValueError``."""


class BadType(TypeError, RuntimeError):
    """A type torch also refuses, with a ``RuntimeError`` where we say ``TypeError``."""


class BadDimensions(ValueError, RuntimeError, IndexError):
    """A tensor with the wrong number of dimensions (torch: ``RuntimeError`` or ``IndexError``)."""


class BadTypedValue(TypeError, ValueError, RuntimeError):
    """A value of the wrong type or dtype, where torch raises ``ValueError`` or ``RuntimeError``."""


class OutOfRange(ValueError, IndexError):
    """An index outside its table (torch: ``IndexError``)."""


class BadIndex(TypeError, IndexError):
    """An index that is not an int (torch: ``IndexError``)."""


def _type_name(value: Any) -> str:
    return type(value).__name__


def check_bool(name: str, value: Any) -> bool:
    """``value`` must be ``True`` or ``False`` (not 1, not None)."""
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be bool (True or False), got {_type_name(value)} {value!r}")
    return value


def check_int(name: str, value: Any, minimum: int | None = None) -> int:
    """``value`` must be an int (not a bool), at least ``minimum`` when given."""
    if isinstance(value, bool) or not isinstance(value, Integral):
        raise TypeError(f"{name} must be an int, got {_type_name(value)} {value!r}")
    if minimum is not None and value < minimum:
        raise BadValue(f"{name} must be at least {minimum}, got {value}")
    return int(value)


def check_positive_int(name: str, value: Any) -> int:
    """``value`` must be an int >= 1 (a size, a count)."""
    if isinstance(value, bool) or not isinstance(value, Integral):
        raise TypeError(f"{name} must be a positive int, got {_type_name(value)} {value!r}")
    if value < 1:
        raise BadValue(f"{name} must be a positive int, got {value}")
    return int(value)


def check_number(name: str, value: Any, minimum: float | None = None) -> float:
    """``value`` must be a real number (not a bool), at least ``minimum`` when given."""
    if isinstance(value, bool) or not isinstance(value, Real):
        raise TypeError(f"{name} must be a number, got {_type_name(value)} {value!r}")
    if minimum is not None and not value >= minimum:  # also refuses nan
        raise ValueError(f"{name} must be at least {minimum}, got {value}")
    return float(value)


def check_torch_number(name: str, value: Any, kind: str) -> float:
    """``value`` must be a real number, bools included, as torch's own argument parser takes it.

    ``kind`` is torch's word for the type in its message ("float", "Number").
    """
    if not isinstance(value, Real):
        raise TypeError(f"{name} must be {kind} (a real number), got {_type_name(value)} {value!r}")
    return value


def check_positive_finite(name: str, value: Any) -> float:
    """``value`` must be a number > 0 and finite (a threshold, a norm bound)."""
    if isinstance(value, bool) or not isinstance(value, Real):
        raise TypeError(f"{name} must be a number, got {_type_name(value)} {value!r}")
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be positive and finite, got {value}")
    return float(value)


def check_probability(name: str, value: Any) -> float:
    """``value`` must be a number in [0, 1) (a dropout rate; 1 would drop everything)."""
    if isinstance(value, bool) or not isinstance(value, Real):
        raise BadTypedValue(f"{name} must be a float in [0, 1), got {_type_name(value)}")
    if not 0 <= value < 1:
        raise ValueError(f"{name} must be a probability in [0, 1), got {value}")
    return float(value)


def check_str(name: str, value: Any) -> str:
    """``value`` must be a ``str``."""
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a str, got {_type_name(value)}")
    return value


def check_list(name: str, value: Any, of: str) -> list:
    """``value`` must be a non-empty sequence (not a string) of ``of``; returned as a list."""
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
        raise TypeError(f"{name} must be a list of {of}, got {_type_name(value)}")
    if len(value) == 0:
        raise ValueError(f"{name} must be a non-empty list of {of}, got an empty list")
    return list(value)


def check_corpus(hypotheses: Any, references: Any, of: str) -> None:
    """A scored corpus: a non-empty list of hypotheses (each one ``of``) and one list of
    references per hypothesis (ValueError, as the metrics' other argument checks)."""
    if isinstance(hypotheses, str) or not isinstance(hypotheses, Sequence) or len(hypotheses) == 0:
        raise ValueError(f"hypotheses must be a non-empty list of {of}")
    if isinstance(references, str) or not isinstance(references, Sequence) or len(references) != len(hypotheses):
        raise ValueError(
            f"references must hold one list of references per hypothesis: {len(hypotheses)} hypotheses, "
            f"got {len(references) if isinstance(references, Sequence) else type(references).__name__} references"
        )


def check_labels(name: str, value: Any, n: int) -> list[str]:
    """``value`` must be a sequence of exactly ``n`` strings (axis labels, tokens)."""
    if isinstance(value, str) or not isinstance(value, Sequence) or len(value) != n:
        raise ValueError(f"{name} must be a sequence of {n} strings, got {value!r}")
    if not all(isinstance(s, str) for s in value):
        raise TypeError(f"{name} must contain only str, got {[_type_name(s) for s in value]}")
    return list(value)


def check_choice(name: str, value: T, choices: Collection[Any]) -> T:
    """``value`` must be one of ``choices``."""
    if value not in choices:
        raise ValueError(f"{name} must be one of {tuple(choices)}, got {value!r}")
    return value


def check_module(name: str, value: Any) -> torch.nn.Module:
    """``value`` must be a ``torch.nn.Module``."""
    import torch  # here, not at the top: the grader's processes check their options without torch

    if not isinstance(value, torch.nn.Module):
        raise TypeError(f"{name} must be a torch.nn.Module, got {_type_name(value)}")
    return value


def check_callable(name: str, value: Any) -> Any:
    """``value`` must be callable (a function, a module, a loss)."""
    if not callable(value):
        raise TypeError(f"{name} must be callable, got {_type_name(value)}")
    return value


def check_tensor(name: str, value: Any, expected: str = "") -> torch.Tensor:
    """``value`` must be a ``torch.Tensor``; ``expected`` (e.g. a shape) is added to the message."""
    import torch

    if not isinstance(value, torch.Tensor):
        what = f" of shape {expected}" if expected else ""
        raise TypeError(f"{name} must be a Tensor{what}, got {_type_name(value)}")
    return value


def check_float_tensor(name: str, value: Any, expected: str = "") -> torch.Tensor:
    """``value`` must be a floating-point ``torch.Tensor``."""
    check_tensor(name, value, expected)
    if not value.is_floating_point():
        raise TypeError(f"{name} must be a floating point Tensor, got dtype {value.dtype}")
    return value


def check_index_tensor(name: str, value: Any) -> torch.Tensor:
    """``value`` must be a ``torch.Tensor`` of integer indices (not float, complex or bool)."""
    import torch

    if not isinstance(value, torch.Tensor):
        raise TypeError(f"{name} must be Tensor (of integer indices), got {_type_name(value)}")
    if value.is_floating_point() or value.is_complex() or value.dtype == torch.bool:
        raise BadType(f"{name} must hold integer indices (e.g. torch.long), got dtype {value.dtype}")
    return value


def check_same_dtype(name: str, value: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """A layer computes in its weights' dtype; ``value`` must have it too (torch converts nothing)."""
    if value.dtype != weight.dtype:
        raise BadTypedValue(
            f"{name} dtype ({value.dtype}) does not match weight dtype ({weight.dtype}): {name} must be "
            f"a floating point Tensor of the layer's dtype; convert it with {name}.to({weight.dtype})"
        )
    return value


def check_shape(name: str, value: Any, shape: tuple[int, ...]) -> torch.Tensor:
    """``value`` must be a ``torch.Tensor`` of exactly ``shape``."""
    check_tensor(name, value, str(shape))
    if tuple(value.shape) != shape:
        raise ValueError(f"{name} must have shape {shape}, got {tuple(value.shape)}")
    return value
