"""Drop-in: course_lib accepts what torch accepts and fails where torch fails.

Each test starts from a good call and changes one argument (or two) at a time to generated good
and bad values; ``tests/parity.py`` runs torch's function and ours on the same call and asserts
that both return equal results (float64, ``atol`` 1e-12; exact for integers), or both raise,
ours an instance of torch's exception class, with torch's key phrase and the argument's name.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.utils.rnn as tr
from torch import nn

from course_lib import clipping, embedding, gru, lstm, packing, rnn
from tests.parity import Case, assert_equal_results, assert_same_outcome, one_change_at_a_time, pairs_of_changes

ATOL = 1e-12


def _sequences(lengths, features=(2,), dtype=torch.float64, seed=0):
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(n, *features, generator=g, dtype=dtype) for n in lengths]


def _ids(cases):
    return [str(case)[:90] for case in cases]


# -- packing ---------------------------------------------------------------------------------

SEQUENCES = _sequences([4, 3, 1])
FLAGS = [True, False, 1, None]
# torch tests these flags with a plain `if flag:`, so any object passes; ours must be a bool
TRUTHY_FLAG = "a flag must be True or False; torch takes any object's truth value"


def stricter(case, *flags):
    """Why course_lib refuses this case's non-bool flag where torch takes its truth value."""
    value = case.args.get(case.argument)
    return TRUTHY_FLAG if case.argument in flags and not isinstance(value, bool) else None


PAD_SEQUENCE = list(one_change_at_a_time(
    {"sequences": SEQUENCES, "batch_first": False, "padding_value": 0.0, "padding_side": "right"},
    {
        "sequences": [
            _sequences([1, 3, 2]),
            tuple(_sequences([2, 2])),
            torch.randn(3, 4, 2, dtype=torch.float64),  # a tensor lists its sequences along dim 0
            _sequences([2, 0, 1]),
            _sequences([3, 1], features=()),
            _sequences([3, 1], features=(2, 3)),
            [torch.randn(2, 2), torch.randn(3, 3)],
            [torch.tensor(1.0), torch.tensor(2.0)],
            [],
            5,
            [torch.randn(2, 2, dtype=torch.float64), [1.0, 2.0]],
            [torch.randn(2, 2, dtype=torch.float64), torch.ones(2, 2, dtype=torch.int64)],
            [torch.ones(2, 2, dtype=torch.int64), torch.randn(1, 2, dtype=torch.float64)],
            torch.tensor(2.0),
            "abc",
        ],
        "batch_first": FLAGS,
        "padding_value": [-1.5, 7, True, "x", None],
        "padding_side": ["left", "middle", 1],
    },
))
# a generator is consumed by the first call, so each run gets its own
PAD_SEQUENCE.append(Case("sequences", {"sequences": "generator"}))


@pytest.mark.parametrize("case", PAD_SEQUENCE, ids=_ids(PAD_SEQUENCE))
def test_pad_sequence_behaves_as_torch(case):
    def call(fn):
        args = dict(case.args)
        if args.get("sequences") == "generator":
            args["sequences"] = (s for s in SEQUENCES)
        return lambda: fn(**args)

    assert_same_outcome(call(packing.pad_sequence), call(tr.pad_sequence), case, assert_equal_results)


PADDED = torch.randn(5, 3, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
# (lengths beyond the padded length are left out: torch reads past the tensor's end for them,
# course_lib raises ValueError, see tests/test_packing.py)
LENGTHS = [
    [5, 3, 1], [3, 5, 1], [5, 3, 0], [5, -1, 1], [5, 3], [5, 3, 1, 1], [], 3, "abc", [True, True, True],
    [5.7, 3.2, 1.9],
    torch.tensor([5, 3, 1]), torch.tensor([1, 5, 3]), torch.tensor([5.0, 3.0, 1.0]),
    [5.0, 3.0, 1.0], (5, 3, 1), torch.tensor([[5, 3, 1]]), torch.tensor([5, 3, 1], dtype=torch.int32),
]
PACK_PADDED_GOOD = {"input": PADDED, "lengths": [5, 3, 1], "batch_first": False, "enforce_sorted": True}
PACK_PADDED_VARIANTS = {
    "input": [PADDED.transpose(0, 1), PADDED[:, :, 0], PADDED[:, 0, 0], PADDED.long(), PADDED.float(), [[1.0]]],
    "lengths": LENGTHS,
    "batch_first": FLAGS,
    "enforce_sorted": FLAGS,
}
# two changes at once: lengths x flags (the flags' bad values are covered one at a time)
PAIRED = {"lengths": LENGTHS, "batch_first": [True, False], "enforce_sorted": [True, False]}
PACK_PADDED = list(one_change_at_a_time(PACK_PADDED_GOOD, PACK_PADDED_VARIANTS))
PACK_PADDED += list(pairs_of_changes(PACK_PADDED_GOOD, PAIRED))


# torch's enforce_sorted=False picks len(lengths) sequences of the batch with index_select, so
# too few lengths silently drop sequences (and may then read past the padded length)
DROPS_SEQUENCES = "one length per sequence; torch's enforce_sorted=False drops the sequences without one"


def _drops_sequences(args):
    try:
        batch = args["input"].shape[0 if args["batch_first"] else 1]
        count = torch.as_tensor(args["lengths"]).dim() == 1 and len(args["lengths"])
        return args["enforce_sorted"] is False and 0 < count < batch
    except (AttributeError, IndexError, TypeError, ValueError):
        return False


@pytest.mark.parametrize("case", PACK_PADDED, ids=_ids(PACK_PADDED))
def test_pack_padded_sequence_behaves_as_torch(case):
    reason = DROPS_SEQUENCES if _drops_sequences(case.args) else stricter(case, "enforce_sorted")
    assert_same_outcome(
        lambda: packing.pack_padded_sequence(**case.args),
        lambda: tr.pack_padded_sequence(**case.args),
        case,
        assert_equal_results,
        reason,
    )


def _packed(enforce_sorted):
    sequences = _sequences([2, 4, 1] if not enforce_sorted else [4, 2, 1], seed=2)
    return tr.pack_sequence(sequences, enforce_sorted=enforce_sorted)


PAD_PACKED = list(one_change_at_a_time(
    {"sequence": _packed(True), "batch_first": False, "padding_value": 0.0, "total_length": None},
    {
        "sequence": [_packed(False)],
        "batch_first": FLAGS,
        "padding_value": [-2.5, 3, True, "x"],
        "total_length": [4, 6, 3, 0, 4.0, "x"],
    },
))


@pytest.mark.parametrize("case", PAD_PACKED, ids=_ids(PAD_PACKED))
def test_pad_packed_sequence_behaves_as_torch(case):
    assert_same_outcome(
        lambda: packing.pad_packed_sequence(**case.args),
        lambda: tr.pad_packed_sequence(**case.args),
        case,
        assert_equal_results,
    )


PACK_SEQUENCE = list(one_change_at_a_time(
    {"sequences": SEQUENCES, "enforce_sorted": True},
    {
        "sequences": [_sequences([1, 3, 2]), tuple(SEQUENCES), _sequences([3, 0]), _sequences([4, 4, 4]), []],
        "enforce_sorted": FLAGS,
    },
))
PACK_SEQUENCE += list(pairs_of_changes(
    {"sequences": SEQUENCES, "enforce_sorted": True},
    {"sequences": [_sequences([1, 3, 2])], "enforce_sorted": [True, False]},
))


@pytest.mark.parametrize("case", PACK_SEQUENCE, ids=_ids(PACK_SEQUENCE))
def test_pack_sequence_behaves_as_torch(case):
    assert_same_outcome(
        lambda: packing.pack_sequence(**case.args),
        lambda: tr.pack_sequence(**case.args),
        case,
        assert_equal_results,
        stricter(case, "enforce_sorted"),
    )


@pytest.mark.parametrize("enforce_sorted", FLAGS)
def test_unpack_sequence_behaves_as_torch(enforce_sorted):
    case = Case("packed_sequences", {"packed_sequences": _packed(enforce_sorted)})
    assert_same_outcome(
        lambda: packing.unpack_sequence(**case.args),
        lambda: tr.unpack_sequence(**case.args),
        case,
        assert_equal_results,
    )
