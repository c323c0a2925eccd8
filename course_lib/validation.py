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
from collections.abc import Collection
from numbers import Integral, Real
from typing import Any, TypeVar

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


def check_int(name: str, value: Any, minimum: int | None = None, what: str = "an int") -> int:
    """``value`` must be an int (not a bool) of at least ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, Integral):
        raise TypeError(f"{name} must be {what}, got {_type_name(value)} {value!r}")
    if minimum is not None and value < minimum:
        raise BadValue(f"{name} must be {what}, got {value}")
    return int(value)


def check_positive_int(name: str, value: Any) -> int:
    """``value`` must be an int >= 1 (a size, a count)."""
    return check_int(name, value, minimum=1, what="a positive int")


def check_number(name: str, value: Any, kind: str = "float") -> float:
    """``value`` must be a real number (bools count, as in torch); ``kind`` is torch's word for it."""
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


def check_choice(name: str, value: T, choices: Collection[Any]) -> T:
    """``value`` must be one of ``choices``."""
    if value not in choices:
        raise ValueError(f"{name} must be one of {tuple(choices)}, got {value!r}")
    return value


def check_tensor(name: str, value: Any, expected: str = "") -> torch.Tensor:
    """``value`` must be a ``torch.Tensor``; ``expected`` (e.g. a shape) is added to the message."""
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
    if not isinstance(value, torch.Tensor):
        raise TypeError(f"{name} must be Tensor (of integer indices), got {_type_name(value)}")
    if value.is_floating_point() or value.is_complex() or value.dtype == torch.bool:
        raise BadType(f"{name} must hold integer indices (e.g. torch.long), got dtype {value.dtype}")
    return value


def check_shape(name: str, value: Any, shape: tuple[int, ...]) -> torch.Tensor:
    """``value`` must be a ``torch.Tensor`` of exactly ``shape``."""
    check_tensor(name, value, str(shape))
    if tuple(value.shape) != shape:
        raise ValueError(f"{name} must have shape {shape}, got {tuple(value.shape)}")
    return value
