"""What only the vanilla RNN has: the relu nonlinearity, and ``parameter_table``, the helper of
the lecture "weight matrices in an RNN".

Everything RNN, GRU and LSTM share (parameters, shapes, states, packing, dropout, the cell
against the layer) is specified once for all three in test_recurrent_layers.py.
"""

import doctest

import pytest
import torch

import course_lib.recurrent
import course_lib.rnn
from course_lib import RNN, RNNCell, parameter_table
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

