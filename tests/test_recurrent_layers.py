"""Every recurrent layer and cell of course_lib behaves exactly like its torch.nn counterpart.

One specification, run for RNN, GRU and LSTM and their cells. Each test builds ours and torch's
module from one set of arguments, copies torch's weights into ours with ``load_state_dict`` (by
name), runs both on the same inputs and compares the outputs, the final states and the gradients
of every parameter and every input with explicit tolerances (``tests/torch_oracle.py``).
What only one architecture has lives in its own file: the relu RNN and ``parameter_table`` in
test_rnn.py, the reset gate in test_gru.py, ``proj_size`` and the manual-BPTT backward pass in
test_lstm.py.
"""

import math
from dataclasses import dataclass

import pytest
import torch
from torch.nn.utils.rnn import pack_sequence

from course_lib import GRU, LSTM, RNN, GRUCell, LSTMCell, RNNCell
from tests.torch_oracle import F32, F64, SWEEP, assert_same_as_torch
from tests.torch_oracle import make_pair as oracle_make_pair


@dataclass(frozen=True)
class Arch:
    """One architecture: our classes, torch's, and the shape of its recurrent state."""

    ours: type
    theirs: type
    cell: type
    torch_cell: type
    paired_state: bool  # LSTM carries (h, c); RNN and GRU carry h

    def make_pair(self, dtype=torch.float64, **kwargs):
        return oracle_make_pair(self.ours, self.theirs, dtype, **kwargs)

    def make_cell_pair(self, dtype=torch.float64, **kwargs):
        return oracle_make_pair(self.cell, self.torch_cell, dtype, **kwargs)

    def state(self, *shape, dtype=torch.float64) -> list[torch.Tensor]:
        """Random initial state tensors of ``shape``: [h] or [h, c]."""
        return [torch.randn(*shape, dtype=dtype) for _ in range(2 if self.paired_state else 1)]

    def call(self, module, x, *state):
        """``module(x)``, or ``module(x, h)`` / ``module(x, (h, c))`` when a state is given."""
        if not state:
            return module(x)
        return module(x, tuple(state) if self.paired_state else state[0])

    def final_states(self, hidden) -> list[torch.Tensor]:
        return list(hidden) if self.paired_state else [hidden]


ARCHS = {
    "RNN": Arch(RNN, torch.nn.RNN, RNNCell, torch.nn.RNNCell, paired_state=False),
    "GRU": Arch(GRU, torch.nn.GRU, GRUCell, torch.nn.GRUCell, paired_state=False),
    "LSTM": Arch(LSTM, torch.nn.LSTM, LSTMCell, torch.nn.LSTMCell, paired_state=True),
}


@pytest.fixture(params=list(ARCHS))
def arch(request) -> Arch:
    return ARCHS[request.param]


# -- parameters --------------------------------------------------------------------------------


@pytest.mark.parametrize("num_layers", [1, 3])
@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("bias", [True, False])
def test_parameter_names_and_shapes_equal_torch(arch, num_layers, bidirectional, bias):
    kwargs = dict(input_size=3, hidden_size=5, num_layers=num_layers, bias=bias,
                  bidirectional=bidirectional)
    ours, theirs = arch.ours(**kwargs), arch.theirs(**kwargs)
    assert [(n, p.shape) for n, p in ours.named_parameters()] == [
        (n, p.shape) for n, p in theirs.named_parameters()
    ]


def test_parameter_count_equals_torch(arch):
    kwargs = dict(input_size=7, hidden_size=6, num_layers=3, bidirectional=True)
    count = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    assert count(arch.ours(**kwargs)) == count(arch.theirs(**kwargs))


def test_load_state_dict_from_torch_and_back(arch):
    kwargs = dict(input_size=3, hidden_size=4, num_layers=2, bidirectional=True)
    ours, theirs = arch.make_pair(**kwargs)
    fresh = arch.theirs(**kwargs, dtype=torch.float64)
    fresh.load_state_dict(ours.state_dict())
    for name, tensor in theirs.state_dict().items():
        assert torch.equal(ours.state_dict()[name], tensor), name
        assert torch.equal(fresh.state_dict()[name], tensor), name


def test_init_is_uniform_within_one_over_sqrt_hidden_size(arch):
    hidden = 16
    layer = arch.ours(8, hidden, num_layers=3, bidirectional=True)
    values = torch.cat([p.detach().flatten() for p in layer.parameters()])
    bound = 1 / math.sqrt(hidden)
    assert values.abs().max() <= bound
    assert values.min() < -0.95 * bound and values.max() > 0.95 * bound  # fills the range
    assert abs(values.mean()) < 0.05 * bound


def test_cell_init_is_uniform_within_one_over_sqrt_hidden_size(arch):
    cell = arch.cell(8, 16)
    values = torch.cat([p.detach().flatten() for p in cell.parameters()])
    assert values.abs().max() <= 0.25 and values.max() > 0.9 * 0.25


# -- forward and backward equal torch ----------------------------------------------------------


@pytest.mark.parametrize("input_size,hidden_size,num_layers,bidirectional,seq_len,batch,bias", SWEEP)
def test_matches_torch_over_a_sweep_of_shapes(
    arch, input_size, hidden_size, num_layers, bidirectional, seq_len, batch, bias
):
    ours, theirs = arch.make_pair(input_size=input_size, hidden_size=hidden_size,
                                  num_layers=num_layers, bidirectional=bidirectional, bias=bias)
    x = torch.randn(seq_len, batch, input_size, dtype=torch.float64)
    state = arch.state(num_layers * (2 if bidirectional else 1), batch, hidden_size)
    assert_same_as_torch(ours, theirs, [x, *state], arch.call, F64)


def test_default_initial_state_matches_torch(arch):
    ours, theirs = arch.make_pair(input_size=3, hidden_size=4, num_layers=2, bidirectional=True)
    x = torch.randn(5, 2, 3, dtype=torch.float64)
    assert_same_as_torch(ours, theirs, [x], arch.call, F64)


def test_default_initial_state_is_zeros(arch):
    layer = arch.ours(3, 4, num_layers=2, dtype=torch.float64)
    x = torch.randn(5, 2, 3, dtype=torch.float64)
    zeros = [torch.zeros(2, 2, 4, dtype=torch.float64)] * (2 if arch.paired_state else 1)
    torch.testing.assert_close(layer(x), arch.call(layer, x, *zeros), atol=0, rtol=0)


@pytest.mark.parametrize("with_state", [False, True])
def test_unbatched_input_matches_torch(arch, with_state):
    ours, theirs = arch.make_pair(input_size=3, hidden_size=4, num_layers=2, bidirectional=True)
    x = torch.randn(5, 3, dtype=torch.float64)  # (L, H_in)
    state = arch.state(4, 4) if with_state else []  # (layers * directions, H)
    assert_same_as_torch(ours, theirs, [x, *state], arch.call, F64)
    output, hidden = ours(x)
    assert output.shape == (5, 8)
    assert all(h.shape == (4, 4) for h in arch.final_states(hidden))


def test_batch_first_matches_torch(arch):
    ours, theirs = arch.make_pair(input_size=3, hidden_size=4, num_layers=2, batch_first=True,
                                  bidirectional=True)
    x = torch.randn(2, 5, 3, dtype=torch.float64)  # (N, L, H_in)
    assert_same_as_torch(ours, theirs, [x, *arch.state(4, 2, 4)], arch.call, F64)
    assert ours(x)[0].shape == (2, 5, 8)


@pytest.mark.parametrize("enforce_sorted", [True, False])
@pytest.mark.parametrize("num_layers,bidirectional", [(1, False), (2, True)])
@pytest.mark.parametrize("with_state", [False, True])
def test_packed_sequence_matches_torch(arch, enforce_sorted, num_layers, bidirectional, with_state):
    ours, theirs = arch.make_pair(input_size=3, hidden_size=4, num_layers=num_layers,
                                  bidirectional=bidirectional)
    lengths = [5, 3, 3, 1] if enforce_sorted else [3, 5, 1, 3]
    padded = torch.randn(max(lengths), len(lengths), 3, dtype=torch.float64)
    state = arch.state(num_layers * (2 if bidirectional else 1), len(lengths), 4) if with_state else []

    def call(module, padded, *state):
        sequences = [padded[:n, b] for b, n in enumerate(lengths)]
        packed = pack_sequence(sequences, enforce_sorted=enforce_sorted)
        output, hidden = arch.call(module, packed, *state)
        assert type(output) is type(packed)
        assert torch.equal(output.batch_sizes, packed.batch_sizes)
        return output, hidden

    assert_same_as_torch(ours, theirs, [padded, *state], call, F64)


def test_float32_matches_torch_within_1e_5(arch):
    ours, theirs = arch.make_pair(dtype=torch.float32, input_size=6, hidden_size=8, num_layers=2,
                                  bidirectional=True)
    x = torch.randn(7, 3, 6)
    state = arch.state(4, 3, 8, dtype=torch.float32)
    assert_same_as_torch(ours, theirs, [x, *state], arch.call, F32)


# -- dropout -----------------------------------------------------------------------------------


def test_dropout_is_off_in_eval_mode(arch):
    ours, theirs = arch.make_pair(input_size=3, hidden_size=4, num_layers=3, dropout=0.5)
    ours.eval(), theirs.eval()
    x = torch.randn(5, 2, 3, dtype=torch.float64)
    assert_same_as_torch(ours, theirs, [x], arch.call, F64)


def test_dropout_in_training_changes_a_two_layer_output(arch):
    layer = arch.ours(3, 4, num_layers=2, dropout=0.5, dtype=torch.float64)
    x = torch.randn(5, 2, 3, dtype=torch.float64)
    assert not torch.allclose(layer.train()(x)[0], layer.eval()(x)[0])


def test_dropout_never_touches_a_one_layer_output(arch):
    with pytest.warns(UserWarning, match="num_layers greater than 1"):
        layer = arch.ours(3, 4, num_layers=1, dropout=0.5, dtype=torch.float64)
    x = torch.randn(5, 2, 3, dtype=torch.float64)
    torch.testing.assert_close(layer.train()(x), layer.eval()(x), atol=0, rtol=0)


# -- the cell ----------------------------------------------------------------------------------


@pytest.mark.parametrize("batch", [None, 1, 4])
@pytest.mark.parametrize("bias", [True, False])
def test_cell_matches_torch(arch, batch, bias):
    ours, theirs = arch.make_cell_pair(input_size=3, hidden_size=5, bias=bias)
    shape = () if batch is None else (batch,)
    x = torch.randn(*shape, 3, dtype=torch.float64)
    assert_same_as_torch(ours, theirs, [x, *arch.state(*shape, 5)], arch.call, F64)


def test_cell_default_state_matches_torch(arch):
    ours, theirs = arch.make_cell_pair(input_size=3, hidden_size=5)
    x = torch.randn(2, 3, dtype=torch.float64)
    assert_same_as_torch(ours, theirs, [x], arch.call, F64)


def test_layer_equals_its_cell_applied_step_by_step(arch):
    layer = arch.ours(3, 4, dtype=torch.float64)
    cell = arch.cell(3, 4, dtype=torch.float64)
    cell.load_state_dict({name[: -len("_l0")]: p for name, p in layer.state_dict().items()})
    x = torch.randn(5, 2, 3, dtype=torch.float64)
    state = [torch.zeros(2, 4, dtype=torch.float64)] * (2 if arch.paired_state else 1)
    outputs = []
    for x_t in x:
        state = arch.final_states(arch.call(cell, x_t, *state))
        outputs.append(state[0])
    output, hidden = layer(x)
    torch.testing.assert_close(output, torch.stack(outputs), atol=F64, rtol=0)
    for final, stepped in zip(arch.final_states(hidden), state):
        torch.testing.assert_close(final[0], stepped, atol=F64, rtol=0)


# -- devices -----------------------------------------------------------------------------------


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_runs_on_cuda_after_to_device(arch):
    ours, theirs = arch.make_pair(dtype=torch.float32, input_size=3, hidden_size=4, num_layers=2,
                                  bidirectional=True)
    ours, theirs = ours.to("cuda"), theirs.to("cuda")
    x = torch.randn(5, 2, 3, device="cuda")
    output, hidden = ours(x)
    assert all(t.device.type == "cuda" for t in [output, *arch.final_states(hidden)])
    assert_same_as_torch(ours, theirs, [x], arch.call, F32)
