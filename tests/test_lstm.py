"""What only the LSTM has: the projection ``proj_size`` (h_t = W_hr h_t) and the manual-BPTT
backward pass (``backward="manual"``), each against torch.nn.LSTM.

Everything RNN, GRU and LSTM share (parameters, shapes, states, packing, dropout, the cell
against the layer) is specified once for all three in test_recurrent_layers.py.
"""

import doctest

import pytest
import torch
from torch.nn.utils.rnn import pack_sequence

import course_lib.lstm
from course_lib import LSTM
from tests.torch_oracle import F64, assert_same_as_torch
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
def test_projection_parameter_names_and_shapes_equal_torch(num_layers, bidirectional, bias):
    kwargs = dict(input_size=3, hidden_size=5, num_layers=num_layers, bias=bias,
                  bidirectional=bidirectional, proj_size=2)
    ours, theirs = LSTM(**kwargs), torch.nn.LSTM(**kwargs)
    assert [(n, p.shape) for n, p in ours.named_parameters()] == [
        (n, p.shape) for n, p in theirs.named_parameters()
    ]


def test_projection_parameter_count_equals_torch():
    kwargs = dict(input_size=7, hidden_size=6, num_layers=2, bidirectional=True, proj_size=3)
    count = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    assert count(LSTM(**kwargs)) == count(torch.nn.LSTM(**kwargs))


def test_projection_state_dict_loads_from_torch_and_back():
    ours, theirs = make_pair(input_size=3, hidden_size=4, num_layers=2, bidirectional=True, proj_size=2)
    fresh = torch.nn.LSTM(3, 4, num_layers=2, bidirectional=True, proj_size=2, dtype=torch.float64)
    fresh.load_state_dict(ours.state_dict())
    for name, tensor in theirs.state_dict().items():
        assert torch.equal(ours.state_dict()[name], tensor), name
        assert torch.equal(fresh.state_dict()[name], tensor), name


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
@pytest.mark.parametrize("num_layers,bidirectional,proj_size", [(1, False, 2), (2, True, 2)])
def test_packed_sequence_with_projection_matches_torch(enforce_sorted, num_layers, bidirectional,
                                                       proj_size):
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


# -- the manual-BPTT backward pass -------------------------------------------------------------


@pytest.mark.parametrize("num_layers,bidirectional,bias", [(1, False, True), (2, True, True), (2, False, False)])
def test_manual_backward_equals_autograd(num_layers, bidirectional, bias, monkeypatch):
    lstm_manual = pytest.importorskip("course_lib.lstm_manual")
    calls = []
    layer = lstm_manual.lstm_layer
    monkeypatch.setattr(lstm_manual, "lstm_layer", lambda *args: calls.append(1) or layer(*args))
    kwargs = dict(input_size=3, hidden_size=4, num_layers=num_layers, bidirectional=bidirectional,
                  bias=bias, dtype=torch.float64)
    autograd = LSTM(**kwargs)
    manual = LSTM(**kwargs, backward="manual")
    manual.load_state_dict(autograd.state_dict())
    x = torch.randn(5, 2, 3, dtype=torch.float64)
    h0, c0 = states(num_layers * (2 if bidirectional else 1), 2, 4)
    assert_same_as_torch(manual, autograd, [x, h0, c0], lambda m, x, h, c: m(x, (h, c)), F64)
    assert len(calls) == num_layers * (2 if bidirectional else 1)  # one per layer and direction


# -- docs --------------------------------------------------------------------------------------


def test_docstring_examples_run():
    result = doctest.testmod(course_lib.lstm)
    assert result.attempted >= 6 and result.failed == 0


def test_repr_matches_torch():
    kwargs = dict(num_layers=2, batch_first=True, dropout=0.25, bidirectional=True, proj_size=2)
    assert repr(LSTM(3, 4, **kwargs)) == repr(torch.nn.LSTM(3, 4, **kwargs))

