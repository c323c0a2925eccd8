"""What only the GRU has: torch's reset gate acts after the matmul (torch, cuDNN), not before it
(the paper, d2l), and an update gate of one keeps the old state.

Everything RNN, GRU and LSTM share (parameters, shapes, states, packing, dropout, the cell
against the layer) is specified once for all three in test_recurrent_layers.py.
"""

import doctest

import pytest
import torch

import course_lib.gru
from course_lib import GRU, GRUCell
from tests.torch_oracle import F64

# -- torch's reset gate, not the paper's ------------------------------------------------------


def reference_step(cell, x, h, reset_before_matmul):
    """The lecture's GRU step in both forms, written gate by gate from the cell's weights.

    reset_before_matmul=False (torch, cuDNN): n = tanh(W_in x + b_in + r * (W_hn h + b_hn));
    reset_before_matmul=True (Cho et al., d2l): n = tanh(W_in x + b_in + W_hn (r * h) + b_hn).
    """
    w_ir, w_iz, w_in = cell.weight_ih.chunk(3)
    w_hr, w_hz, w_hn = cell.weight_hh.chunk(3)
    b_ir, b_iz, b_in = cell.bias_ih.chunk(3)
    b_hr, b_hz, b_hn = cell.bias_hh.chunk(3)
    r = torch.sigmoid(x @ w_ir.T + b_ir + h @ w_hr.T + b_hr)
    z = torch.sigmoid(x @ w_iz.T + b_iz + h @ w_hz.T + b_hz)
    if reset_before_matmul:
        n = torch.tanh(x @ w_in.T + b_in + (r * h) @ w_hn.T + b_hn)
    else:
        n = torch.tanh(x @ w_in.T + b_in + r * (h @ w_hn.T + b_hn))
    return (1 - z) * n + z * h


def test_cell_computes_the_reset_gate_after_the_matmul_as_torch_does():
    cell = GRUCell(3, 4, dtype=torch.float64)
    x, h = torch.randn(2, 3, dtype=torch.float64), torch.randn(2, 4, dtype=torch.float64)
    torch.testing.assert_close(cell(x, h), reference_step(cell, x, h, reset_before_matmul=False), atol=F64, rtol=0)


def test_paper_form_of_the_reset_gate_is_a_different_function():
    cell = GRUCell(3, 4, dtype=torch.float64)
    x, h = torch.randn(2, 3, dtype=torch.float64), torch.randn(2, 4, dtype=torch.float64)
    assert (cell(x, h) - reference_step(cell, x, h, reset_before_matmul=True)).abs().max() > 1e-3


def test_update_gate_one_keeps_the_old_state():
    cell = GRUCell(3, 4, dtype=torch.float64)
    with torch.no_grad():
        cell.bias_ih[4:8] = 1e3  # z = sigmoid(large) = 1
    x, h = torch.randn(2, 3, dtype=torch.float64), torch.randn(2, 4, dtype=torch.float64)
    torch.testing.assert_close(cell(x, h), h, atol=F64, rtol=0)


# -- docs --------------------------------------------------------------------------------------


def test_docstring_examples_run():
    result = doctest.testmod(course_lib.gru)
    assert result.attempted > 0 and result.failed == 0


@pytest.mark.parametrize("kwargs", [{}, dict(num_layers=2, bias=False, batch_first=True,
                                             dropout=0.5, bidirectional=True)])
def test_repr_matches_torch(kwargs):
    assert repr(GRU(3, 4, **kwargs)) == repr(torch.nn.GRU(3, 4, **kwargs))

