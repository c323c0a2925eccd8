"""course_lib.rnn.RNN and RNNCell behave exactly like torch.nn.RNN and torch.nn.RNNCell.

Each test builds ours and torch's module from one set of arguments, copies torch's weights into
ours with ``load_state_dict`` (by name), runs both on the same inputs and compares the outputs,
the final states and the gradients of every parameter and every input with explicit tolerances.
Also here: ``parameter_table``, the helper of the lecture "weight matrices in an RNN".
"""

import doctest
import math

import pytest
import torch
from torch.nn.utils.rnn import pack_sequence

import course_lib.recurrent
import course_lib.rnn
from course_lib import RNN, RNNCell, parameter_table
from tests.torch_oracle import F32, F64, assert_same_as_torch
from tests.torch_oracle import make_pair as oracle_make_pair


def make_pair(dtype=torch.float64, **kwargs):
    """torch's RNN and ours with the same arguments and torch's weights, loaded by name."""
    return oracle_make_pair(RNN, torch.nn.RNN, dtype, **kwargs)


# -- parameters --------------------------------------------------------------------------------


@pytest.mark.parametrize("num_layers", [1, 3])
@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("bias", [True, False])
def test_parameter_names_and_shapes_equal_torch(num_layers, bidirectional, bias):
    kwargs = dict(input_size=3, hidden_size=5, num_layers=num_layers, bias=bias,
                  bidirectional=bidirectional)
    ours, theirs = RNN(**kwargs), torch.nn.RNN(**kwargs)
    assert [(n, p.shape) for n, p in ours.named_parameters()] == [
        (n, p.shape) for n, p in theirs.named_parameters()
    ]


def test_parameter_count_equals_torch():
    kwargs = dict(input_size=7, hidden_size=6, num_layers=3, bidirectional=True)
    count = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    assert count(RNN(**kwargs)) == count(torch.nn.RNN(**kwargs))


def test_load_state_dict_from_torch_and_back():
    ours, theirs = make_pair(input_size=3, hidden_size=4, num_layers=2, bidirectional=True,
                             nonlinearity="relu")
    fresh = torch.nn.RNN(3, 4, num_layers=2, bidirectional=True, nonlinearity="relu",
                         dtype=torch.float64)
    fresh.load_state_dict(ours.state_dict())
    for name, tensor in theirs.state_dict().items():
        assert torch.equal(ours.state_dict()[name], tensor), name
        assert torch.equal(fresh.state_dict()[name], tensor), name


def test_init_is_uniform_within_one_over_sqrt_hidden_size():
    hidden = 16
    rnn = RNN(8, hidden, num_layers=3, bidirectional=True)
    values = torch.cat([p.detach().flatten() for p in rnn.parameters()])
    bound = 1 / math.sqrt(hidden)
    assert values.abs().max() <= bound
    assert values.min() < -0.95 * bound and values.max() > 0.95 * bound  # fills the range
    assert abs(values.mean()) < 0.05 * bound


def test_cell_init_is_uniform_within_one_over_sqrt_hidden_size():
    cell = RNNCell(8, 16)
    values = torch.cat([p.detach().flatten() for p in cell.parameters()])
    assert values.abs().max() <= 0.25 and values.max() > 0.9 * 0.25


# -- forward and backward equal torch ----------------------------------------------------------

SWEEP = [
    # input_size, hidden_size, num_layers, bidirectional, seq_len, batch, bias
    (1, 1, 1, False, 1, 1, True),
    (3, 4, 1, False, 6, 2, True),
    (3, 4, 2, False, 4, 3, False),
    (5, 2, 1, True, 3, 4, True),
    (2, 5, 3, True, 5, 2, True),
]


@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
@pytest.mark.parametrize("input_size,hidden_size,num_layers,bidirectional,seq_len,batch,bias", SWEEP)
def test_matches_torch_over_a_sweep_of_shapes(
    nonlinearity, input_size, hidden_size, num_layers, bidirectional, seq_len, batch, bias
):
    ours, theirs = make_pair(input_size=input_size, hidden_size=hidden_size, num_layers=num_layers,
                             nonlinearity=nonlinearity, bidirectional=bidirectional, bias=bias)
    x = torch.randn(seq_len, batch, input_size, dtype=torch.float64)
    h0 = torch.randn(num_layers * (2 if bidirectional else 1), batch, hidden_size, dtype=torch.float64)
    assert_same_as_torch(ours, theirs, [x, h0], lambda m, x, h: m(x, h), F64)


def test_default_initial_state_matches_torch():
    ours, theirs = make_pair(input_size=3, hidden_size=4, num_layers=2, bidirectional=True)
    x = torch.randn(5, 2, 3, dtype=torch.float64)
    assert_same_as_torch(ours, theirs, [x], lambda m, x: m(x), F64)


def test_default_initial_state_is_zeros():
    rnn = RNN(3, 4, num_layers=2, dtype=torch.float64)
    x = torch.randn(5, 2, 3, dtype=torch.float64)
    torch.testing.assert_close(rnn(x), rnn(x, torch.zeros(2, 2, 4, dtype=torch.float64)), atol=0, rtol=0)


@pytest.mark.parametrize("with_state", [False, True])
def test_unbatched_input_matches_torch(with_state):
    ours, theirs = make_pair(input_size=3, hidden_size=4, num_layers=2, bidirectional=True)
    x = torch.randn(5, 3, dtype=torch.float64)
    if with_state:
        h0 = torch.randn(4, 4, dtype=torch.float64)
        assert_same_as_torch(ours, theirs, [x, h0], lambda m, x, h: m(x, h), F64)
    else:
        assert_same_as_torch(ours, theirs, [x], lambda m, x: m(x), F64)
    output, h_n = ours(x)
    assert output.shape == (5, 8) and h_n.shape == (4, 4)


def test_batch_first_matches_torch():
    ours, theirs = make_pair(input_size=3, hidden_size=4, num_layers=2, batch_first=True,
                             bidirectional=True)
    x = torch.randn(2, 5, 3, dtype=torch.float64)  # (N, L, H_in)
    h0 = torch.randn(4, 2, 4, dtype=torch.float64)
    assert_same_as_torch(ours, theirs, [x, h0], lambda m, x, h: m(x, h), F64)
    assert ours(x)[0].shape == (2, 5, 8)


@pytest.mark.parametrize("enforce_sorted", [True, False])
@pytest.mark.parametrize("num_layers,bidirectional", [(1, False), (2, True)])
@pytest.mark.parametrize("with_state", [False, True])
def test_packed_sequence_matches_torch(enforce_sorted, num_layers, bidirectional, with_state):
    ours, theirs = make_pair(input_size=3, hidden_size=4, num_layers=num_layers,
                             bidirectional=bidirectional)
    lengths = [5, 3, 3, 1] if enforce_sorted else [3, 5, 1, 3]
    padded = torch.randn(max(lengths), len(lengths), 3, dtype=torch.float64)
    h0 = torch.randn(num_layers * (2 if bidirectional else 1), len(lengths), 4, dtype=torch.float64)

    def call(module, padded, *h):
        sequences = [padded[:n, b] for b, n in enumerate(lengths)]
        packed = pack_sequence(sequences, enforce_sorted=enforce_sorted)
        output, hidden = module(packed, *h)
        assert type(output) is type(packed)
        assert torch.equal(output.batch_sizes, packed.batch_sizes)
        return output, hidden

    leaves = [padded, h0] if with_state else [padded]
    assert_same_as_torch(ours, theirs, leaves, call, F64)


def test_float32_matches_torch_within_1e_5():
    ours, theirs = make_pair(dtype=torch.float32, input_size=6, hidden_size=8, num_layers=2,
                             bidirectional=True)
    x = torch.randn(7, 3, 6)
    h0 = torch.randn(4, 3, 8)
    assert_same_as_torch(ours, theirs, [x, h0], lambda m, x, h: m(x, h), F32)


# -- dropout -----------------------------------------------------------------------------------


def test_dropout_is_off_in_eval_mode():
    ours, theirs = make_pair(input_size=3, hidden_size=4, num_layers=3, dropout=0.5)
    ours.eval(), theirs.eval()
    x = torch.randn(5, 2, 3, dtype=torch.float64)
    assert_same_as_torch(ours, theirs, [x], lambda m, x: m(x), F64)


def test_dropout_in_training_changes_a_two_layer_output():
    rnn = RNN(3, 4, num_layers=2, dropout=0.5, dtype=torch.float64)
    x = torch.randn(5, 2, 3, dtype=torch.float64)
    assert not torch.allclose(rnn.train()(x)[0], rnn.eval()(x)[0])


def test_dropout_never_touches_a_one_layer_output():
    with pytest.warns(UserWarning, match="num_layers greater than 1"):
        rnn = RNN(3, 4, num_layers=1, dropout=0.5, dtype=torch.float64)
    x = torch.randn(5, 2, 3, dtype=torch.float64)
    torch.testing.assert_close(rnn.train()(x), rnn.eval()(x), atol=0, rtol=0)


# -- the cell ----------------------------------------------------------------------------------


@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
@pytest.mark.parametrize("batch", [None, 1, 4])
@pytest.mark.parametrize("bias", [True, False])
def test_cell_matches_torch(nonlinearity, batch, bias):
    theirs = torch.nn.RNNCell(3, 5, bias=bias, nonlinearity=nonlinearity, dtype=torch.float64)
    ours = RNNCell(3, 5, bias=bias, nonlinearity=nonlinearity, dtype=torch.float64)
    ours.load_state_dict(theirs.state_dict())
    shape = () if batch is None else (batch,)
    x, h = torch.randn(*shape, 3, dtype=torch.float64), torch.randn(*shape, 5, dtype=torch.float64)
    assert_same_as_torch(ours, theirs, [x, h], lambda m, x, h: m(x, h), F64)


def test_cell_default_state_matches_torch():
    theirs = torch.nn.RNNCell(3, 5, dtype=torch.float64)
    ours = RNNCell(3, 5, dtype=torch.float64)
    ours.load_state_dict(theirs.state_dict())
    x = torch.randn(2, 3, dtype=torch.float64)
    assert_same_as_torch(ours, theirs, [x], lambda m, x: m(x), F64)


def test_layer_equals_its_cell_applied_step_by_step():
    rnn = RNN(3, 4, nonlinearity="relu", dtype=torch.float64)
    cell = RNNCell(3, 4, nonlinearity="relu", dtype=torch.float64)
    cell.load_state_dict({name[: -len("_l0")]: p for name, p in rnn.state_dict().items()})
    x = torch.randn(5, 2, 3, dtype=torch.float64)
    h = torch.zeros(2, 4, dtype=torch.float64)
    outputs = []
    for x_t in x:
        h = cell(x_t, h)
        outputs.append(h)
    output, h_n = rnn(x)
    torch.testing.assert_close(output, torch.stack(outputs), atol=F64, rtol=0)
    torch.testing.assert_close(h_n[0], h, atol=F64, rtol=0)


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


# -- docs and devices --------------------------------------------------------------------------


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


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_runs_on_cuda_after_to_device():
    ours, theirs = make_pair(dtype=torch.float32, input_size=3, hidden_size=4, num_layers=2,
                             bidirectional=True)
    ours, theirs = ours.to("cuda"), theirs.to("cuda")
    x = torch.randn(5, 2, 3, device="cuda")
    output, h_n = ours(x)
    assert output.device.type == h_n.device.type == "cuda"
    assert_same_as_torch(ours, theirs, [x], lambda m, x: m(x), F32)
