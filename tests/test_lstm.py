"""course_lib.lstm.LSTM and LSTMCell behave exactly like torch.nn.LSTM and torch.nn.LSTMCell.

Each test builds ours and torch's module from one set of arguments, copies torch's weights into
ours with ``load_state_dict`` (by name), runs both on the same inputs and compares the outputs,
the final states and the gradients of every parameter and every input with explicit tolerances.
"""

import doctest
import math

import pytest
import torch
from torch.nn.utils.rnn import pack_sequence

import course_lib.lstm
from course_lib import LSTM, LSTMCell
from tests.torch_oracle import F32, F64, assert_same_as_torch
from tests.torch_oracle import make_pair as oracle_make_pair


def make_pair(dtype=torch.float64, **kwargs):
    """torch's LSTM and ours with the same arguments and torch's weights, loaded by name."""
    return oracle_make_pair(LSTM, torch.nn.LSTM, dtype, **kwargs)


def states(layers, batch, hidden, cell=None, dtype=torch.float64):
    """Random (h_0, c_0); batch=None gives the unbatched (layers, H) shapes."""
    shape = (layers, hidden) if batch is None else (layers, batch, hidden)
    cell_shape = shape[:-1] + (cell or hidden,)
    return torch.randn(shape, dtype=dtype), torch.randn(cell_shape, dtype=dtype)


# -- parameters --------------------------------------------------------------------------------


@pytest.mark.parametrize("num_layers", [1, 3])
@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("proj_size", [0, 2])
def test_parameter_names_and_shapes_equal_torch(num_layers, bidirectional, bias, proj_size):
    kwargs = dict(input_size=3, hidden_size=5, num_layers=num_layers, bias=bias,
                  bidirectional=bidirectional, proj_size=proj_size)
    ours, theirs = LSTM(**kwargs), torch.nn.LSTM(**kwargs)
    assert [(n, p.shape) for n, p in ours.named_parameters()] == [
        (n, p.shape) for n, p in theirs.named_parameters()
    ]


@pytest.mark.parametrize("proj_size", [0, 3])
def test_parameter_count_equals_torch(proj_size):
    kwargs = dict(input_size=7, hidden_size=6, num_layers=2, bidirectional=True, proj_size=proj_size)
    count = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    assert count(LSTM(**kwargs)) == count(torch.nn.LSTM(**kwargs))


def test_load_state_dict_from_torch_and_back():
    ours, theirs = make_pair(input_size=3, hidden_size=4, num_layers=2, bidirectional=True, proj_size=2)
    fresh = torch.nn.LSTM(3, 4, num_layers=2, bidirectional=True, proj_size=2, dtype=torch.float64)
    fresh.load_state_dict(ours.state_dict())
    for name, tensor in theirs.state_dict().items():
        assert torch.equal(ours.state_dict()[name], tensor), name
        assert torch.equal(fresh.state_dict()[name], tensor), name


def test_init_is_uniform_within_one_over_sqrt_hidden_size():
    hidden = 16
    lstm = LSTM(8, hidden, num_layers=2, bidirectional=True)
    values = torch.cat([p.detach().flatten() for p in lstm.parameters()])
    bound = 1 / math.sqrt(hidden)
    assert values.abs().max() <= bound
    assert values.min() < -0.95 * bound and values.max() > 0.95 * bound  # fills the range
    assert abs(values.mean()) < 0.05 * bound


def test_cell_init_is_uniform_within_one_over_sqrt_hidden_size():
    cell = LSTMCell(8, 16)
    values = torch.cat([p.detach().flatten() for p in cell.parameters()])
    assert values.abs().max() <= 0.25 and values.max() > 0.95 * 0.25


# -- forward and backward equal torch ----------------------------------------------------------

SWEEP = [
    # input_size, hidden_size, num_layers, bidirectional, seq_len, batch, bias
    (1, 1, 1, False, 1, 1, True),
    (3, 4, 1, False, 5, 2, True),
    (3, 4, 2, False, 4, 3, False),
    (5, 2, 1, True, 3, 4, True),
    (2, 5, 3, True, 6, 2, True),
    (4, 3, 2, True, 1, 1, False),
]


@pytest.mark.parametrize("input_size,hidden_size,num_layers,bidirectional,seq_len,batch,bias", SWEEP)
def test_matches_torch_over_a_sweep_of_shapes(
    input_size, hidden_size, num_layers, bidirectional, seq_len, batch, bias
):
    ours, theirs = make_pair(input_size=input_size, hidden_size=hidden_size, num_layers=num_layers,
                             bidirectional=bidirectional, bias=bias)
    x = torch.randn(seq_len, batch, input_size, dtype=torch.float64)
    h0, c0 = states(num_layers * (2 if bidirectional else 1), batch, hidden_size)
    assert_same_as_torch(ours, theirs, [x, h0, c0], lambda m, x, h, c: m(x, (h, c)), F64)


def test_default_initial_state_matches_torch():
    ours, theirs = make_pair(input_size=3, hidden_size=4, num_layers=2, bidirectional=True)
    x = torch.randn(5, 2, 3, dtype=torch.float64)
    assert_same_as_torch(ours, theirs, [x], lambda m, x: m(x), F64)


def test_default_initial_state_is_zeros():
    lstm = LSTM(3, 4, num_layers=2, dtype=torch.float64)
    x = torch.randn(5, 2, 3, dtype=torch.float64)
    zeros = torch.zeros(2, 2, 4, dtype=torch.float64)
    torch.testing.assert_close(lstm(x), lstm(x, (zeros, zeros)), atol=0, rtol=0)


def test_unbatched_input_matches_torch():
    ours, theirs = make_pair(input_size=3, hidden_size=4, num_layers=2, bidirectional=True)
    x = torch.randn(5, 3, dtype=torch.float64)
    h0, c0 = states(4, None, 4)
    assert_same_as_torch(ours, theirs, [x, h0, c0], lambda m, x, h, c: m(x, (h, c)), F64)
    output, (h_n, c_n) = ours(x)
    assert output.shape == (5, 8) and h_n.shape == (4, 4) and c_n.shape == (4, 4)


def test_batch_first_matches_torch():
    ours, theirs = make_pair(input_size=3, hidden_size=4, num_layers=2, batch_first=True,
                             bidirectional=True)
    x = torch.randn(2, 5, 3, dtype=torch.float64)  # (N, L, H_in)
    h0, c0 = states(4, 2, 4)
    assert_same_as_torch(ours, theirs, [x, h0, c0], lambda m, x, h, c: m(x, (h, c)), F64)
    assert ours(x)[0].shape == (2, 5, 8)


@pytest.mark.parametrize("num_layers,bidirectional", [(1, False), (2, True)])
@pytest.mark.parametrize("with_state", [False, True])
def test_projection_matches_torch(num_layers, bidirectional, with_state):
    ours, theirs = make_pair(input_size=3, hidden_size=5, num_layers=num_layers,
                             bidirectional=bidirectional, proj_size=2)
    x = torch.randn(4, 3, 3, dtype=torch.float64)
    h0, c0 = states(num_layers * (2 if bidirectional else 1), 3, 2, cell=5)
    if with_state:
        assert_same_as_torch(ours, theirs, [x, h0, c0], lambda m, x, h, c: m(x, (h, c)), F64)
    else:
        assert_same_as_torch(ours, theirs, [x], lambda m, x: m(x), F64)


@pytest.mark.parametrize("enforce_sorted", [True, False])
@pytest.mark.parametrize("num_layers,bidirectional,proj_size", [(1, False, 0), (2, True, 0), (2, True, 2)])
def test_packed_sequence_matches_torch(enforce_sorted, num_layers, bidirectional, proj_size):
    ours, theirs = make_pair(input_size=3, hidden_size=4, num_layers=num_layers,
                             bidirectional=bidirectional, proj_size=proj_size)
    lengths = [5, 3, 3, 1] if enforce_sorted else [3, 5, 1, 3]
    padded = torch.randn(max(lengths), len(lengths), 3, dtype=torch.float64)
    h0, c0 = states(num_layers * (2 if bidirectional else 1), len(lengths), proj_size or 4, cell=4)

    def call(module, padded, h, c):
        sequences = [padded[:n, b] for b, n in enumerate(lengths)]
        packed = pack_sequence(sequences, enforce_sorted=enforce_sorted)
        output, hidden = module(packed, (h, c))
        assert type(output) is type(packed)
        assert torch.equal(output.batch_sizes, packed.batch_sizes)
        return output, hidden

    assert_same_as_torch(ours, theirs, [padded, h0, c0], call, F64)


def test_packed_sequence_with_default_state_matches_torch():
    ours, theirs = make_pair(input_size=2, hidden_size=3, bidirectional=True)
    padded = torch.randn(4, 3, 2, dtype=torch.float64)
    lengths = [2, 4, 1]
    call = lambda m, p: m(pack_sequence([p[:n, b] for b, n in enumerate(lengths)], False))  # noqa: E731
    assert_same_as_torch(ours, theirs, [padded], call, F64)


def test_float32_matches_torch_within_1e_5():
    ours, theirs = make_pair(dtype=torch.float32, input_size=6, hidden_size=8, num_layers=2,
                             bidirectional=True)
    x = torch.randn(7, 3, 6)
    h0, c0 = states(4, 3, 8, dtype=torch.float32)
    assert_same_as_torch(ours, theirs, [x, h0, c0], lambda m, x, h, c: m(x, (h, c)), F32)


# -- dropout -----------------------------------------------------------------------------------


def test_dropout_is_off_in_eval_mode():
    ours, theirs = make_pair(input_size=3, hidden_size=4, num_layers=3, dropout=0.5)
    ours.eval(), theirs.eval()
    x = torch.randn(5, 2, 3, dtype=torch.float64)
    assert_same_as_torch(ours, theirs, [x], lambda m, x: m(x), F64)


def test_dropout_in_training_changes_a_two_layer_output():
    lstm = LSTM(3, 4, num_layers=2, dropout=0.5, dtype=torch.float64)
    x = torch.randn(5, 2, 3, dtype=torch.float64)
    trained = lstm.train()(x)[0]
    evaluated = lstm.eval()(x)[0]
    assert not torch.allclose(trained, evaluated)


def test_dropout_never_touches_a_one_layer_output():
    with pytest.warns(UserWarning, match="num_layers greater than 1"):
        lstm = LSTM(3, 4, num_layers=1, dropout=0.5, dtype=torch.float64)
    x = torch.randn(5, 2, 3, dtype=torch.float64)
    torch.testing.assert_close(lstm.train()(x), lstm.eval()(x), atol=0, rtol=0)


# -- the cell ----------------------------------------------------------------------------------


@pytest.mark.parametrize("batch", [None, 1, 4])
@pytest.mark.parametrize("bias", [True, False])
def test_cell_matches_torch(batch, bias):
    theirs = torch.nn.LSTMCell(3, 5, bias=bias, dtype=torch.float64)
    ours = LSTMCell(3, 5, bias=bias, dtype=torch.float64)
    ours.load_state_dict(theirs.state_dict())
    shape = () if batch is None else (batch,)
    x = torch.randn(*shape, 3, dtype=torch.float64)
    h, c = torch.randn(*shape, 5, dtype=torch.float64), torch.randn(*shape, 5, dtype=torch.float64)
    assert_same_as_torch(ours, theirs, [x, h, c], lambda m, x, h, c: m(x, (h, c)), F64)


def test_cell_default_state_matches_torch():
    theirs = torch.nn.LSTMCell(3, 5, dtype=torch.float64)
    ours = LSTMCell(3, 5, dtype=torch.float64)
    ours.load_state_dict(theirs.state_dict())
    x = torch.randn(2, 3, dtype=torch.float64)
    assert_same_as_torch(ours, theirs, [x], lambda m, x: m(x), F64)


def test_layer_equals_its_cell_applied_step_by_step():
    lstm = LSTM(3, 4, dtype=torch.float64)
    cell = LSTMCell(3, 4, dtype=torch.float64)
    cell.load_state_dict({name[: -len("_l0")]: p for name, p in lstm.state_dict().items()})
    x = torch.randn(5, 2, 3, dtype=torch.float64)
    h = c = torch.zeros(2, 4, dtype=torch.float64)
    outputs = []
    for x_t in x:
        h, c = cell(x_t, (h, c))
        outputs.append(h)
    output, (h_n, c_n) = lstm(x)
    torch.testing.assert_close(output, torch.stack(outputs), atol=F64, rtol=0)
    torch.testing.assert_close(c_n[0], c, atol=F64, rtol=0)


# -- the manual-BPTT backend -------------------------------------------------------------------


@pytest.mark.parametrize("num_layers,bidirectional,bias", [(1, False, True), (2, True, True), (2, False, False)])
def test_manual_backend_equals_autograd_backend(num_layers, bidirectional, bias, monkeypatch):
    lstm_manual = pytest.importorskip("course_lib.lstm_manual")
    calls = []
    layer = lstm_manual.lstm_layer
    monkeypatch.setattr(lstm_manual, "lstm_layer", lambda *args: calls.append(1) or layer(*args))
    kwargs = dict(input_size=3, hidden_size=4, num_layers=num_layers, bidirectional=bidirectional,
                  bias=bias, dtype=torch.float64)
    autograd = LSTM(**kwargs)
    manual = LSTM(**kwargs, backend="manual")
    manual.load_state_dict(autograd.state_dict())
    x = torch.randn(5, 2, 3, dtype=torch.float64)
    h0, c0 = states(num_layers * (2 if bidirectional else 1), 2, 4)
    assert_same_as_torch(manual, autograd, [x, h0, c0], lambda m, x, h, c: m(x, (h, c)), F64)
    assert len(calls) == num_layers * (2 if bidirectional else 1)  # one per layer and direction


# -- docs and devices --------------------------------------------------------------------------


def test_docstring_examples_run():
    result = doctest.testmod(course_lib.lstm)
    assert result.attempted >= 6 and result.failed == 0


def test_repr_matches_torch():
    kwargs = dict(num_layers=2, batch_first=True, dropout=0.25, bidirectional=True, proj_size=2)
    assert repr(LSTM(3, 4, **kwargs)) == repr(torch.nn.LSTM(3, 4, **kwargs))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_runs_on_cuda_after_to_device():
    ours, theirs = make_pair(dtype=torch.float32, input_size=3, hidden_size=4, num_layers=2,
                             bidirectional=True)
    ours, theirs = ours.to("cuda"), theirs.to("cuda")
    x = torch.randn(5, 2, 3, device="cuda")
    output, (h_n, c_n) = ours(x)
    assert output.device.type == h_n.device.type == c_n.device.type == "cuda"
    assert_same_as_torch(ours, theirs, [x], lambda m, x: m(x), F32)
