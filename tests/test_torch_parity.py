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
from tests.parity import (
    Case, assert_equal_results, assert_same_call, assert_same_outcome, one_change_at_a_time, pairs_of_changes,
)

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
    assert_same_call(packing.pack_padded_sequence, tr.pack_padded_sequence, case, reason)


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
    assert_same_call(packing.pad_packed_sequence, tr.pad_packed_sequence, case)


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
    assert_same_call(packing.pack_sequence, tr.pack_sequence, case, stricter(case, "enforce_sorted"))


@pytest.mark.parametrize("enforce_sorted", FLAGS)
def test_unpack_sequence_behaves_as_torch(enforce_sorted):
    case = Case("packed_sequences", {"packed_sequences": _packed(enforce_sorted)})
    assert_same_call(packing.unpack_sequence, tr.unpack_sequence, case)


# -- recurrent layers and cells ---------------------------------------------------------------

LAYERS = [(rnn.RNN, nn.RNN), (lstm.LSTM, nn.LSTM), (gru.GRU, nn.GRU)]
CELLS = [(rnn.RNNCell, nn.RNNCell), (lstm.LSTMCell, nn.LSTMCell), (gru.GRUCell, nn.GRUCell)]
F64 = {"dtype": torch.float64}
# course_lib's deliberate refusals of values torch lets through
STRICTER_LAYER = {
    "bias": TRUTHY_FLAG,
    "batch_first": TRUTHY_FLAG,
    "bidirectional": TRUTHY_FLAG,
    "dropout": "dropout is a probability in [0, 1): 1 (or True) would zero every input above the first layer",
}


def _constructor_cases(is_cell, is_lstm, is_rnn):
    good = {"input_size": 3, "hidden_size": 4, "bias": True}
    variants = {
        "input_size": [1, 0, -1, 2.0, "3", True],
        "hidden_size": [1, 0, -2, 4.0, None],
        "bias": [False, 1, None],
    }
    if not is_cell:
        good |= {"num_layers": 2, "batch_first": False, "dropout": 0.0, "bidirectional": False}
        variants |= {
            "num_layers": [1, 3, 0, -1, 1.5],
            "batch_first": [True, 1],
            "dropout": [0.5, 0.0, 1.0, -0.1, 1.5, "0.5", True],
            "bidirectional": [True, 1],
        }
    if is_lstm and not is_cell:
        good["proj_size"] = 0
        variants["proj_size"] = [2, 3, -1, 4, 5, 1.5]
    if is_rnn:
        good["nonlinearity"] = "tanh"
        variants["nonlinearity"] = ["relu", "sigmoid", None]
    return list(one_change_at_a_time(good, variants))


def _compare_modules(ours, theirs):
    assert type(ours).__name__ == type(theirs).__name__
    ours_shapes = {k: tuple(v.shape) for k, v in ours.state_dict().items()}
    assert ours_shapes == {k: tuple(v.shape) for k, v in theirs.state_dict().items()}


CONSTRUCTOR_CASES = [
    (ours, theirs, case)
    for ours, theirs in LAYERS + CELLS
    for case in _constructor_cases(ours in (c for c, _ in CELLS), ours in (lstm.LSTM,), ours in (rnn.RNN, rnn.RNNCell))
]


def _constructor_stricter(is_cell, case):
    """Why course_lib refuses a constructor argument torch lets through, or None."""
    name = case.argument
    value = case.args.get(name)
    if name in ("input_size", "hidden_size") and isinstance(value, bool):
        return "a size is an int; torch counts True as 1"
    if is_cell and name in ("input_size", "hidden_size") and value == 0:
        return "a cell needs one input and one hidden unit at least; torch builds empty weights"
    if is_cell and name == "nonlinearity" and value not in ("tanh", "relu"):
        return "nonlinearity is checked when the cell is built; torch's cell checks it at its first call"
    if name in (("bias",) if is_cell else ("bidirectional",)) and not isinstance(value, bool):
        return TRUTHY_FLAG
    if name == "dropout" and value == 1.0 and value is not True:
        return "dropout is a probability in [0, 1): 1 would zero every input above the first layer"
    return None


@pytest.mark.filterwarnings("ignore:dropout option adds dropout")
@pytest.mark.parametrize(("ours", "theirs", "case"), CONSTRUCTOR_CASES,
                         ids=[f"{o.__name__}-{c}"[:90] for o, _, c in CONSTRUCTOR_CASES])
def test_recurrent_constructor_behaves_as_torch(ours, theirs, case):
    reason = _constructor_stricter(ours in (c for c, _ in CELLS), case)
    assert_same_outcome(lambda: ours(**case.args), lambda: theirs(**case.args), case, _compare_modules, reason)


def _x(*shape, dtype=torch.float64):
    return torch.randn(*shape, dtype=dtype, generator=torch.Generator().manual_seed(sum(shape) + len(shape)))


def _forward_cases(is_lstm, proj_size=0):
    """Layers: 2 layers x 2 directions, H_in = 3, H = 4 (H_out = proj_size or 4), L = 5, N = 2."""
    h_out = proj_size or 4

    def hx(h_shape, c_shape=None):
        if not is_lstm:
            return _x(*h_shape)
        return (_x(*h_shape), _x(*(c_shape or h_shape[:-1] + (4,))))

    good = {"input": _x(5, 2, 3), "hx": None}
    hx_variants = [hx((4, 2, h_out)), hx((4, h_out)), hx((3, 2, h_out)), hx((4, 3, h_out)),
                   hx((4, 2, h_out + 1)), hx((2, h_out)), hx((4, 1, 2, h_out)), [1.0]]
    if is_lstm:
        hx_variants += [_x(4, 2, h_out), hx((4, 2, h_out), (4, 2, 5)), hx((4, 2, h_out), (4, 3, 4)),
                        (_x(4, 2, h_out),) * 3]
    variants = {
        "input": [_x(5, 3), _x(1, 1, 3), _x(5, 2, 4), _x(5, 4), _x(5, 2, 3, 1), _x(3), _x(0, 2, 3),
                  _x(5, 2, 3).long(), _x(5, 2, 3, dtype=torch.float32), "x"],
        "hx": hx_variants,
    }
    cases = list(one_change_at_a_time(good, variants))
    cases += list(pairs_of_changes(good, {"input": [_x(5, 3), _x(5, 1, 3)], "hx": hx_variants}))
    return cases


def _layer_pair(ours_class, theirs_class, **kwargs):
    theirs = theirs_class(3, 4, num_layers=2, bidirectional=True, **kwargs, **F64)
    ours = ours_class(3, 4, num_layers=2, bidirectional=True, **kwargs, **F64)
    ours.load_state_dict(theirs.state_dict())
    return ours, theirs


FORWARD_CASES = [
    (ours, theirs, kwargs, case)
    for ours, theirs in LAYERS
    for kwargs in ([{}, {"proj_size": 2}] if ours is lstm.LSTM else [{}])
    for case in _forward_cases(ours is lstm.LSTM, kwargs.get("proj_size", 0))
]


def _close(got, expected):
    assert_equal_results(got, expected, atol=1e-10)


@pytest.mark.parametrize(("ours", "theirs", "kwargs", "case"), FORWARD_CASES,
                         ids=[f"{o.__name__}{k}-{c}"[:100] for o, _, k, c in FORWARD_CASES])
def test_recurrent_forward_behaves_as_torch(ours, theirs, kwargs, case):
    ours, theirs = _layer_pair(ours, theirs, **kwargs)
    assert_same_outcome(lambda: ours(**case.args), lambda: theirs(**case.args), case, _close)


def _cell_cases(is_lstm):
    def hx(*shape):
        return (_x(*shape), _x(*shape[:-1], 4)) if is_lstm else _x(*shape)

    good = {"input": _x(2, 3), "hx": None}
    hx_variants = [hx(2, 4), hx(4), hx(3, 4), hx(2, 5), hx(1, 2, 4), "x"]
    if is_lstm:
        hx_variants += [_x(2, 4), (_x(2, 4), _x(3, 4)), (_x(2, 4),) * 3]
    variants = {
        "input": [_x(3), _x(2, 4), _x(4), _x(2, 3, 1), _x(2, 3).long(), _x(2, 3, dtype=torch.float32), [1.0]],
        "hx": hx_variants,
    }
    return list(one_change_at_a_time(good, variants)) + list(
        pairs_of_changes(good, {"input": [_x(3)], "hx": hx_variants}))


CELL_CASES = [(ours, theirs, case) for ours, theirs in CELLS for case in _cell_cases(ours is lstm.LSTMCell)]


@pytest.mark.parametrize(("ours", "theirs", "case"), CELL_CASES,
                         ids=[f"{o.__name__}-{c}"[:100] for o, _, c in CELL_CASES])
def test_recurrent_cell_behaves_as_torch(ours, theirs, case):
    theirs = theirs(3, 4, **F64)
    ours = ours(3, 4, **F64)
    ours.load_state_dict(theirs.state_dict())
    hx = case.args["hx"]
    reason = None
    if isinstance(ours, lstm.LSTMCell) and isinstance(hx, torch.Tensor) and case.args["input"].dim() == 1:
        reason = "hx is a tuple (h, c); torch also unpacks a tensor of two rows as one"
    assert_same_outcome(lambda: ours(**case.args), lambda: theirs(**case.args), case, _close, reason)


# -- embedding and one_hot ----------------------------------------------------------------------

EMBEDDING_CTOR = list(one_change_at_a_time(
    {"num_embeddings": 5, "embedding_dim": 3, "padding_idx": None, "max_norm": None, "norm_type": 2.0,
     "scale_grad_by_freq": False},
    {
        "num_embeddings": [1, 0, -1, 5.0, "5"],
        "embedding_dim": [1, 0, -2, 3.0, None],
        "padding_idx": [0, 4, -1, -5, 5, -6, 2.0],
        "max_norm": [1.0, 2, 0.0, -1.0, "1"],
        "norm_type": [1.0, float("inf"), 3, 0.0, -2.0, "2"],
        "scale_grad_by_freq": [True, 1],
    },
))
# a bad max_norm or norm_type only bites torch at the first lookup that renormalises, so the
# constructor cases call the layer once on every row
ALL_ROWS = torch.arange(5)


def _embedding_result(module):
    return module.weight.detach().shape, module.padding_idx


def _embedding_stricter(case):
    name, value = case.argument, case.args.get(case.argument)
    if name in ("num_embeddings", "embedding_dim") and value == 0:
        return "an embedding has one row and one column at least; torch builds an empty one"
    if name == "max_norm" and isinstance(value, (int, float)) and value <= 0:
        return "max_norm is a positive bound; torch scales every used row to norm 0 or below"
    if name == "norm_type" and isinstance(value, (int, float)) and value <= 0:
        return "norm_type is a positive order; torch computes a 0- or negative-order 'norm'"
    if name == "norm_type" and isinstance(value, str):
        return "norm_type is a number; torch reads it only when max_norm is set"
    if name == "scale_grad_by_freq" and not isinstance(value, bool):
        return TRUTHY_FLAG
    return None


@pytest.mark.parametrize("case", EMBEDDING_CTOR, ids=_ids(EMBEDDING_CTOR))
def test_embedding_constructor_behaves_as_torch(case):
    def build(cls):
        def make():
            module = cls(**case.args)
            if module.num_embeddings == 5 and module.max_norm is not None:
                module(ALL_ROWS)
            return _embedding_result(module)
        return make

    assert_same_outcome(build(embedding.Embedding), build(nn.Embedding), case, assert_equal_results,
                        _embedding_stricter(case))


EMBEDDING_INPUTS = list(one_change_at_a_time(
    {"input": torch.tensor([[0, 4], [2, 2]])},
    {"input": [torch.tensor(3), torch.tensor([], dtype=torch.long), torch.tensor([0, 5]), torch.tensor([-1, 2]),
               torch.tensor([0.0, 1.0]), torch.tensor([0, 1], dtype=torch.int32), torch.tensor([True, False]),
               [0, 1]]},
))


@pytest.mark.parametrize("case", EMBEDDING_INPUTS, ids=_ids(EMBEDDING_INPUTS))
def test_embedding_lookup_behaves_as_torch(case):
    theirs = nn.Embedding(5, 3, dtype=torch.float64)
    ours = embedding.Embedding(5, 3, dtype=torch.float64)
    ours.load_state_dict(theirs.state_dict())
    assert_same_outcome(lambda: ours(**case.args), lambda: theirs(**case.args), case, assert_equal_results)


PRETRAINED = list(one_change_at_a_time(
    {"embeddings": torch.randn(4, 3, dtype=torch.float64), "freeze": True, "padding_idx": None},
    {"embeddings": [torch.randn(4), torch.randn(2, 3, 1), [[1.0]]], "freeze": [False, 1], "padding_idx": [1, 4]},
))


@pytest.mark.parametrize("case", PRETRAINED, ids=_ids(PRETRAINED))
def test_embedding_from_pretrained_behaves_as_torch(case):
    def build(cls):
        def make():
            module = cls.from_pretrained(**case.args)
            return module.weight.detach(), module.weight.requires_grad, module.padding_idx
        return make

    reason = TRUTHY_FLAG if case.argument == "freeze" and not isinstance(case.args["freeze"], bool) else None
    assert_same_outcome(build(embedding.Embedding), build(nn.Embedding), case, assert_equal_results, reason)


ONE_HOT = list(one_change_at_a_time(
    {"tensor": torch.tensor([0, 2, 1]), "num_classes": -1},
    {"tensor": [torch.tensor(2), torch.tensor([[0, 1], [3, 2]]), torch.tensor([], dtype=torch.long),
                torch.tensor([0, -1]), torch.tensor([0.0, 1.0]), torch.tensor([0, 1], dtype=torch.int32)],
     "num_classes": [3, 5, 2, 0, -2, 2.0]},
))


@pytest.mark.parametrize("case", ONE_HOT, ids=_ids(ONE_HOT))
def test_one_hot_behaves_as_torch(case):
    args = (case.args["tensor"], case.args["num_classes"])  # torch names the first argument `input`
    assert_same_outcome(lambda: embedding.one_hot(*args), lambda: nn.functional.one_hot(*args),
                        case, assert_equal_results)


# -- gradient clipping --------------------------------------------------------------------------


def _parameters_with_grads(kind):
    """Fresh float64 parameters with gradients (``kind`` picks an edge case)."""
    g = torch.Generator().manual_seed(3)
    params = [torch.randn(3, 2, dtype=torch.float64, generator=g).requires_grad_() for _ in range(2)]
    for p in params:
        p.grad = 4 * torch.randn(p.shape, dtype=torch.float64, generator=g)
    if kind == "nan":
        params[0].grad[0, 0] = float("nan")
    if kind == "inf":
        params[1].grad[1, 1] = float("inf")
    if kind == "one tensor":
        return params[0]
    if kind == "no grads":
        for p in params:
            p.grad = None
    if kind == "generator":
        return (p for p in params)
    return params


PARAMETER_KINDS = ["list", "one tensor", "no grads", "generator", "nan", "inf"]
CLIP_NORM = list(one_change_at_a_time(
    {"parameters": "list", "max_norm": 1.0, "norm_type": 2.0, "error_if_nonfinite": False, "foreach": None},
    {
        "parameters": PARAMETER_KINDS[1:],
        "max_norm": [100.0, 3, 0.0, -1.0, float("inf"), "1"],
        "norm_type": [1, 3.5, float("inf"), "inf", 0.0, -1.0],
        "error_if_nonfinite": [True],
        "foreach": [False, True],
    },
))
CLIP_NORM += list(pairs_of_changes(
    {"parameters": "list", "max_norm": 1.0, "error_if_nonfinite": False},
    {"parameters": ["nan", "inf"], "error_if_nonfinite": [True]},
))
# torch scales by max_norm / total, whatever its sign or size; ours requires a bound > 0
NORM_BOUND = "max_norm is a positive, finite bound; torch also scales by a zero, negative or infinite one"


def _clip_call(fn, args):
    def call():
        parameters = _parameters_with_grads(args["parameters"])
        kept = [parameters] if isinstance(parameters, torch.Tensor) else list(parameters)
        result = fn(**{**args, "parameters": iter(kept) if args["parameters"] == "generator" else parameters})
        return result, [p.grad for p in kept]
    return call


def _compare_clipping(got, expected):
    (total, grads), (torch_total, torch_grads) = got, expected
    if torch_total is not None:
        assert_equal_results(total, torch_total, atol=ATOL)
    assert_equal_results(grads, torch_grads, atol=ATOL)


@pytest.mark.parametrize("case", CLIP_NORM, ids=_ids(CLIP_NORM))
def test_clip_grad_norm_behaves_as_torch(case):
    value = case.args[case.argument] if case.argument in case.args else None
    reason = NORM_BOUND if case.argument == "max_norm" and isinstance(value, (int, float)) and not (
        0 < value < float("inf")) else None
    if case.argument == "norm_type" and isinstance(value, float) and value <= 0:
        reason = "norm_type is a positive order (or inf); torch also sums |g|^0 or |g|^-1"
    assert_same_outcome(_clip_call(clipping.clip_grad_norm_, case.args),
                        _clip_call(nn.utils.clip_grad_norm_, case.args), case, _compare_clipping, reason)


CLIP_VALUE = list(one_change_at_a_time(
    {"parameters": "list", "clip_value": 1.0, "foreach": None},
    # (no "no grads": torch 2.13's foreach kernel fails inside on an empty list; ours does nothing)
    {"parameters": ["one tensor", "generator", "nan"], "clip_value": [0.5, 2, 0.0, -1.0, "1"],
     "foreach": [False, True]},
))


@pytest.mark.parametrize("case", CLIP_VALUE, ids=_ids(CLIP_VALUE))
def test_clip_grad_value_behaves_as_torch(case):
    value = case.args[case.argument] if case.argument in case.args else None
    reason = None
    if case.argument == "clip_value" and isinstance(value, (int, float)) and value <= 0:
        reason = "clip_value is a positive number; torch clamps to an empty or inverted range"
    assert_same_outcome(_clip_call(clipping.clip_grad_value_, case.args),
                        _clip_call(nn.utils.clip_grad_value_, case.args), case, _compare_clipping, reason)


# -- the gradient check -------------------------------------------------------------------------


class _CubeWithError(torch.autograd.Function):
    """sum(x^3) whose backward is off by a relative ``error`` (0: the true gradient 3x^2)."""

    @staticmethod
    def forward(ctx, x, error):
        ctx.save_for_backward(x)
        ctx.error = error
        return (x**3).sum()

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad * 3 * x**2 * (1 + ctx.error), None


GRADIENT_CHECKS = [(error, shape) for error in (0.0, 1e-2, 0.5) for shape in ((1,), (3,), (2, 3))]


@pytest.mark.parametrize(("error", "shape"), GRADIENT_CHECKS)
def test_gradient_check_agrees_with_torch_gradcheck(error, shape):
    from course_lib.bptt import gradient_check

    x = torch.randn(shape, dtype=torch.float64, generator=torch.Generator().manual_seed(len(shape))) + 2.0
    ours = gradient_check(lambda t: _CubeWithError.apply(t, error), [x], verbose=False) <= 1e-7
    theirs = torch.autograd.gradcheck(lambda t: _CubeWithError.apply(t, error), (x.clone().requires_grad_(),),
                                      raise_exception=False)
    assert ours == theirs == (error == 0.0)
