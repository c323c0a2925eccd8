"""Run a course_lib function and its torch counterpart on the same arguments, compare outcomes.

Shared by the drop-in tests (``tests/test_torch_parity.py``). A *case* is a call made once with
torch's function and once with ours. Either both return and the results are equal, or both
raise, ours an instance of torch's exception class with a message that contains torch's key
phrase (the words a torch user searches for) and names the argument the case changed.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch

# The phrases of torch's error messages that a user searches for: (a regular expression found in
# torch's message, the phrase course_lib's message must then contain; ``{1}`` is the first group).
# Each case asserts that torch's own message matches, so a torch release that rewords one fails.
# Where torch's message reports an internal accident (an index out of a buffer's bounds) rather
# than the caller's mistake, the phrase is the one torch uses for that mistake elsewhere.
KEY_PHRASES = (
    (r"You can pass `enforce_sorted=False`", "You can pass `enforce_sorted=False`"),
    (r"Expected total_length to be at least", "Expected total_length to be at least"),
    (r"Expected iterable for input sequences", "Expected iterable for input sequences"),
    (r"received an empty list of sequences", "received an empty list of sequences"),
    (r"expected Tensor as element (\d+)", "expected Tensor as element {1}"),
    (r"iteration over a 0-d tensor", "iteration over a 0-d tensor"),
    (r"ArrayRef: invalid slice", "at least 1 dimension"),
    (r"must match the size of tensor b", "must match the size of tensor b"),
    (r"Expected padding_side to be one of left or right", "Expected padding_side to be one of left or right"),
    (r"Length of all samples has to be greater than 0", "Length of all samples has to be greater than 0"),
    (r"Expected `len\(lengths\)` to be equal to batch_size", "Expected `len(lengths)` to be equal to batch_size"),
    (r"INDICES element is out of DATA bounds", "Expected `len(lengths)` to be equal to batch_size"),
    (r"Cannot pack empty tensors", "Expected `len(lengths)` to be equal to batch_size"),
    (r"'lengths' argument should be a 1D", "'lengths' argument should be a 1D"),
    (r"index_select\(\): Index is supposed to be a vector", "'lengths' argument should be a 1D"),
    (r"Dimension out of range", "Dimension out of range"),
    (r"invalid data type", "invalid data type"),
    (r"'<' not supported between instances of 'str' and 'int'", "must be int"),
    (r"argument 'size' .*tuple of ints", "int"),
    (r"argument '\w+' \(position \d+\) must be (\w+)", "must be {1}"),
    (r"should be of type int", "must be a positive int"),
    (r"(\w+) should be of type bool", "{1} must be bool"),
    (r"(\w+) must be greater than zero", "{1} must be a positive int"),
    (r"Trying to create tensor with negative dimension", "must be a positive int"),
    (r"'float' object cannot be interpreted as an integer", "must be a positive int"),
    (r"unsupported operand type\(s\) for \*: 'int' and 'NoneType'", "must be a positive int"),
    (r"input dtype \(.*?\) does not match weight dtype", "does not match weight dtype"),
    (r"mat1 and mat2 must have the same dtype", "does not match weight dtype"),
    (r"Expected hidden(\[\d\])? size \(.*?\), got", "must have shape"),
    (r"input.size\(-1\) must be equal to input_size", "input.size(-1) must be equal to input_size"),
    (r"input has inconsistent input_size", "input has inconsistent input_size"),
    (r"hidden\d has inconsistent hidden_size", "must have shape"),
    (r"Input batch size \d+ doesn't match hidden\d? batch size", "must have shape"),
    (r"Expected (input|hidden|hx\[\d\]) to be 1D or 2D", "to be 1D or 2D"),
    (r"For (unbatched 2-D|batched 3-D) input, (hx|hx and cx) should also be", "For {1} input, {2} should also be"),
    (r"Expected input to be 2D or 3D", "Expected input to be 2D or 3D"),
    (r"Expected sequence length to be larger than 0 in RNN", "Expected sequence length to be larger than 0"),
    (r"lstm(_cell)? expects two hidden states", "expects two hidden states"),
    (r"(\w+) should be a number in range \[0, 1\]", "{1} must be a"),
    (r"proj_size should be a positive integer or zero", "proj_size must be at least 0"),
    (r"proj_size has to be smaller than hidden_size", "proj_size must be smaller than hidden_size"),
    (r"Unknown nonlinearity", "Unknown nonlinearity"),
    (r"Padding_idx must be within num_embeddings", "Padding_idx must be within num_embeddings"),
    (r"index out of range in self", "index out of range in self"),
    (r"Shape of weight does not match num_embeddings and embedding_dim", "Shape of weight does not match"),
    (r"Embeddings parameter is expected to be 2-dimensional", "Embeddings parameter is expected to be 2-dimensional"),
    (r"Expected tensor for argument #1 'indices' to have one of the following scalar types",
     "must hold integer indices"),
    (r"only integers, slices .* are valid indices", "must be an int"),
    (r"one_hot is only applicable to index tensor of type LongTensor", "one_hot is only applicable to index tensor"),
    (r"Class values must be non-negative", "Class values must be non-negative"),
    (r"Class values must be smaller than num_classes", "Class values must be smaller than num_classes"),
    (r"Can not infer total number of classes from empty tensor", "Can not infer total number of classes"),
    (r"non-finite", "non-finite"),
)


def key_phrase(error: BaseException) -> str:
    """The phrase course_lib's message must contain; fails the test if torch's message has none."""
    message = str(error)
    for pattern, phrase in KEY_PHRASES:
        match = re.search(pattern, message)
        if match:
            return phrase.format(*[match.group(0), *match.groups()])
    raise AssertionError(f"torch's {type(error).__name__} has no known key phrase: {message!r}")


@dataclass(frozen=True)
class Case:
    """One call: ``args`` for both functions, the ``argument`` it changed from a good call."""

    argument: str
    args: Mapping[str, Any]

    def __str__(self) -> str:
        return f"{self.argument}: { {k: _shown(v) for k, v in self.args.items()} }"


def _shown(value: Any) -> Any:
    """Tensors as their shapes, inside tuples and lists too (a readable test id)."""
    if isinstance(value, torch.Tensor):
        return tuple(value.shape)
    if isinstance(value, (tuple, list)) and not hasattr(value, "batch_sizes"):
        return type(value)(_shown(v) for v in value)
    if hasattr(value, "batch_sizes"):
        return f"PackedSequence{tuple(value.data.shape)}"
    return value


def one_change_at_a_time(good: Mapping[str, Any], variants: Mapping[str, Sequence[Any]]) -> Iterator[Case]:
    """The good call, then every call that changes one argument to one of its variants."""
    yield Case("(none)", dict(good))
    for name, values in variants.items():
        for value in values:
            yield Case(name, {**good, name: value})


def pairs_of_changes(good: Mapping[str, Any], variants: Mapping[str, Sequence[Any]]) -> Iterator[Case]:
    """Every call that changes two arguments at once (interactions such as lengths x batch_first)."""
    for (a, va), (b, vb) in itertools.combinations(variants.items(), 2):
        for x, y in itertools.product(va, vb):
            yield Case(f"{a}|{b}", {**good, a: x, b: y})


def _run(fn: Callable[[], Any]) -> tuple[Any, BaseException | None]:
    try:
        return fn(), None
    except Exception as error:  # noqa: BLE001 - the outcome itself is under test
        return None, error


def assert_same_outcome(
    ours: Callable[[], Any],
    theirs: Callable[[], Any],
    case: Case,
    compare: Callable[[Any, Any], None],
    stricter: str | None = None,
) -> None:
    """Both succeed with ``compare``-equal results, or both fail alike (see the module docstring).

    ``stricter`` says why course_lib deliberately refuses a value torch lets through (e.g. any
    truthy object as a flag): then torch must accept it and ours raise a ``TypeError`` or
    ``ValueError`` naming the argument.
    """
    expected, torch_error = _run(theirs)
    got, our_error = _run(ours)
    if stricter is not None:
        assert torch_error is None, f"[{case}] declared stricter ({stricter}), but torch refuses it too"
        names = case.argument.split("|")
        assert isinstance(our_error, (TypeError, ValueError)), f"[{case}] declared stricter ({stricter}): got {our_error!r}"
        assert any(name in str(our_error) for name in names), f"[{case}] our message does not name it: {our_error}"
        return
    if isinstance(torch_error, AttributeError):
        # torch's duck typing trips over a non-tensor ("'str' object has no attribute 'dim'"): an
        # accident of its code, not an error class to copy; ours says what the argument must be
        assert isinstance(our_error, TypeError), f"[{case}] torch: {torch_error!r}; ours: {our_error!r}"
        assert any(name in str(our_error) for name in case.argument.split("|")), f"[{case}] {our_error}"
        return
    if type(torch_error) is AssertionError:
        # torch checks these with `assert`, which `python -O` removes: ours is a ValueError
        torch_error = ValueError(str(torch_error))
    if torch_error is None:
        assert our_error is None, f"[{case}] torch accepts it, course_lib raises {our_error!r}"
        compare(got, expected)
        return
    assert our_error is not None, f"[{case}] torch raises {torch_error!r}, course_lib accepts it"
    assert isinstance(our_error, type(torch_error)), (
        f"[{case}] torch raises {type(torch_error).__name__}, course_lib {type(our_error).__name__} "
        f"({our_error}), not an instance of it"
    )
    phrase = key_phrase(torch_error)
    assert phrase in str(our_error), f"[{case}] course_lib's message lacks torch's {phrase!r}: {our_error}"
    names = case.argument.split("|")
    assert any(name in str(our_error) for name in names), (
        f"[{case}] course_lib's message does not name {' or '.join(names)}: {our_error}"
    )


def assert_same_call(ours: Callable[..., Any], theirs: Callable[..., Any], case: Case,
                     stricter: str | None = None) -> None:
    """``assert_same_outcome`` of ``ours(**case.args)`` and ``theirs(**case.args)``, results compared exactly."""
    assert_same_outcome(lambda: ours(**case.args), lambda: theirs(**case.args), case, assert_equal_results, stricter)


def assert_equal_results(got: Any, expected: Any, atol: float = 0.0) -> None:
    """Tensors (or nested tuples/lists of them, or a PackedSequence) equal within ``atol``."""
    if isinstance(expected, torch.Tensor):
        assert isinstance(got, torch.Tensor), f"expected a tensor, got {type(got).__name__}"
        assert got.dtype == expected.dtype, (got.dtype, expected.dtype)
        torch.testing.assert_close(got, expected, atol=atol, rtol=0, equal_nan=True)
    elif isinstance(expected, (tuple, list)):
        assert isinstance(got, (tuple, list)) and len(got) == len(expected), (got, expected)
        for a, b in zip(got, expected):
            assert_equal_results(a, b, atol)
    else:
        assert got == expected, (got, expected)
