"""What only the vanilla RNN has: the relu nonlinearity, and the helpers of the lectures
``parameter_table`` ("weight matrices in an RNN") and ``time_forward_backward`` (lecture 6).

Everything RNN, GRU and LSTM share (parameters, shapes, states, packing, dropout, the cell
against the layer) is specified once for all three in test_recurrent_layers.py.
"""

import doctest

import pytest
import torch

import course_lib.recurrent
import course_lib.rnn
from course_lib import RNN, RNNCell, parameter_table, time_forward_backward
from tests.torch_oracle import F64, SWEEP, assert_same_as_torch, make_pair

# -- relu --------------------------------------------------------------------------------------


@pytest.mark.parametrize("input_size,hidden_size,num_layers,bidirectional,seq_len,batch,bias", SWEEP)
def test_relu_rnn_matches_torch_over_a_sweep_of_shapes(
    input_size, hidden_size, num_layers, bidirectional, seq_len, batch, bias
):
    ours, theirs = make_pair(RNN, torch.nn.RNN, input_size=input_size, hidden_size=hidden_size,
                             num_layers=num_layers, nonlinearity="relu",
                             bidirectional=bidirectional, bias=bias)
    x = torch.randn(seq_len, batch, input_size, dtype=torch.float64)
    h0 = torch.randn(num_layers * (2 if bidirectional else 1), batch, hidden_size, dtype=torch.float64)
    assert_same_as_torch(ours, theirs, [x, h0], lambda m, x, h: m(x, h), F64)


@pytest.mark.parametrize("batch", [None, 1, 4])
@pytest.mark.parametrize("bias", [True, False])
def test_relu_cell_matches_torch(batch, bias):
    ours, theirs = make_pair(RNNCell, torch.nn.RNNCell, input_size=3, hidden_size=5, bias=bias,
                             nonlinearity="relu")
    shape = () if batch is None else (batch,)
    x, h = torch.randn(*shape, 3, dtype=torch.float64), torch.randn(*shape, 5, dtype=torch.float64)
    assert_same_as_torch(ours, theirs, [x, h], lambda m, x, h: m(x, h), F64)


# -- parameter_table ---------------------------------------------------------------------------


def test_parameter_table_lists_every_parameter_with_its_shape():
    rnn = RNN(3, 4, num_layers=2, bidirectional=True)
    lines = parameter_table(rnn).splitlines()
    assert lines[0].split() == ["name", "shape", "count"]
    listed = {line.split()[0]: line for line in lines[1:-1]}
    assert list(listed) == [name for name, _ in rnn.named_parameters()]
    for name, p in rnn.named_parameters():
        assert str(tuple(p.shape)) in listed[name] and listed[name].endswith(str(p.numel()))


def test_parameter_table_total_is_the_parameter_count():
    rnn = torch.nn.RNN(3, 4, num_layers=2)
    last = parameter_table(rnn).splitlines()[-1].split()
    assert last == ["total", str(sum(p.numel() for p in rnn.parameters()))]


def test_parameter_table_is_the_same_for_ours_and_torch():
    kwargs = dict(input_size=3, hidden_size=4, num_layers=2, bidirectional=True)
    assert parameter_table(RNN(**kwargs)) == parameter_table(torch.nn.RNN(**kwargs))


# -- time_forward_backward ---------------------------------------------------------------------


class _Recorder(torch.nn.Module):
    """A layer that logs, per call, its name and whether oneDNN was enabled; returns (output, state)."""

    def __init__(self, name, log):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.ones(3))
        self.name, self.log = name, log

    def forward(self, x):
        self.log.append((self.name, torch.backends.mkldnn.enabled))
        return self.weight * x, None


def test_time_forward_backward_interleaves_a_warm_up_and_the_rounds_and_clears_the_gradients():
    log = []
    a, b = _Recorder("a", log), _Recorder("b", log)
    ms = time_forward_backward({"A": (a, torch.ones(3)), "B": (b, torch.ones(3))}, repeats=4)
    assert set(ms) == {"A", "B"} and all(isinstance(v, float) and v >= 0.0 for v in ms.values())
    assert [name for name, _ in log] == ["a", "b"] * 5  # warm-up + 4 rounds, each layer in turn
    assert a.weight.grad is None and b.weight.grad is None


def test_time_forward_backward_switches_onednn_off_for_one_run_only():
    before = torch.backends.mkldnn.enabled
    log = []
    runs = {"off": (_Recorder("off", log), torch.ones(3), False), "on": (_Recorder("on", log), torch.ones(3))}
    time_forward_backward(runs, repeats=2)
    assert log == [("off", False), ("on", before)] * 3
    assert torch.backends.mkldnn.enabled == before


def test_time_forward_backward_restores_onednn_when_a_layer_fails():
    before = torch.backends.mkldnn.enabled
    with pytest.raises(ValueError, match="input"):
        time_forward_backward({"bad": (RNN(3, 4), torch.ones(2, 5), False)})  # input size 5 != 3
    assert torch.backends.mkldnn.enabled == before


@pytest.mark.parametrize("repeats", [0, -1, 2.0, True])
def test_time_forward_backward_rejects_a_bad_repeat_count(repeats):
    with pytest.raises(ValueError, match="repeats"):
        time_forward_backward({"rnn": (RNN(3, 4), torch.ones(2, 3))}, repeats=repeats)


def test_time_forward_backward_rejects_a_bad_run():
    with pytest.raises(TypeError, match="torch.nn.Module"):
        time_forward_backward({"f": (lambda x: (x, None), torch.ones(3))})
    with pytest.raises(ValueError, match=r"\(layer, x\)"):
        time_forward_backward({"rnn": RNN(3, 4)})


# -- docs --------------------------------------------------------------------------------------


@pytest.mark.parametrize("module", [course_lib.rnn, course_lib.recurrent])
def test_docstring_examples_run(module):
    result = doctest.testmod(module)
    assert result.attempted > 0 and result.failed == 0


@pytest.mark.parametrize("kwargs", [{}, dict(num_layers=2, nonlinearity="relu", bias=False,
                                             batch_first=True, dropout=0.5, bidirectional=True)])
def test_repr_matches_torch(kwargs):
    assert repr(RNN(3, 4, **kwargs)) == repr(torch.nn.RNN(3, 4, **kwargs))


@pytest.mark.parametrize("kwargs", [{}, dict(bias=False, nonlinearity="relu")])
def test_cell_repr_matches_torch(kwargs):
    assert repr(RNNCell(3, 4, **kwargs)) == repr(torch.nn.RNNCell(3, 4, **kwargs))

