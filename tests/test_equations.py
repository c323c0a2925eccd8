"""One source per equation: the LSTM and GRU steps live in ``lstm.lstm_step`` and ``gru.gru_step``;
every deliberately different version (the tamper-proof references in ``checks``, the fused layer
with hand-written BPTT in ``lstm_manual``, the gate traces) equals them in float64 (atol 1e-12)."""

import pytest
import torch
from torch.nn import functional as F

from course_lib.bptt import lstm_forward
from course_lib.checks import reference_gru_cell, reference_lstm_cell
from course_lib.gru import GRUCell, gru_step
from course_lib.interactive import lstm_trace
from course_lib.lstm import LSTMCell, lstm_step
from course_lib.lstm_manual import lstm_layer

ATOL = 1e-12
B, I, H, T = 3, 4, 5, 6


def _weights(gates, seed):
    g = torch.Generator().manual_seed(seed)
    w = lambda *shape: torch.randn(*shape, generator=g, dtype=torch.float64)  # noqa: E731
    return w(B, I), w(B, H), w(B, H), w(gates * H, I), w(gates * H, H), w(gates * H), w(gates * H)


def _lstm_by_the_source(x, h, c, w_ih, w_hh, b_ih, b_hh):
    h, c, _ = lstm_step(F.linear(x, w_ih, b_ih) + F.linear(h, w_hh, b_hh), c)
    return h, c


@pytest.mark.parametrize("seed", range(3))
def test_checks_reference_lstm_cell_equals_lstm_step(seed):
    x, h, c, *weights = _weights(4, seed)
    for ours, reference in zip(_lstm_by_the_source(x, h, c, *weights), reference_lstm_cell(x, h, c, *weights)):
        torch.testing.assert_close(reference, ours, rtol=0, atol=ATOL)


@pytest.mark.parametrize("seed", range(3))
def test_checks_reference_gru_cell_equals_gru_step(seed):
    x, h, _, w_ih, w_hh, b_ih, b_hh = _weights(3, seed)
    ours = gru_step(F.linear(x, w_ih, b_ih), F.linear(h, w_hh, b_hh), h)
    torch.testing.assert_close(reference_gru_cell(x, h, w_ih, w_hh, b_ih, b_hh), ours, rtol=0, atol=ATOL)


def test_lstm_step_equals_the_lecture_equations_written_out():
    """i, f, o = σ(a_i), σ(a_f), σ(a_o), g = tanh(a_g), c' = f c + i g, h' = o tanh(c')."""
    g = torch.Generator().manual_seed(0)
    a = torch.randn(B, 4 * H, generator=g, dtype=torch.float64)
    c = torch.randn(B, H, generator=g, dtype=torch.float64)
    h, c_new, (i, f, gg, o) = lstm_step(a, c)
    a_i, a_f, a_g, a_o = a[:, :H], a[:, H : 2 * H], a[:, 2 * H : 3 * H], a[:, 3 * H :]
    torch.testing.assert_close(i, 1 / (1 + torch.exp(-a_i)), rtol=0, atol=ATOL)
    torch.testing.assert_close(gg, torch.tanh(a_g), rtol=0, atol=ATOL)
    torch.testing.assert_close(c_new, f * c + i * gg, rtol=0, atol=ATOL)
    torch.testing.assert_close(h, o * torch.tanh(c_new), rtol=0, atol=ATOL)
    assert torch.equal(f, torch.sigmoid(a_f)) and torch.equal(o, torch.sigmoid(a_o))


def test_gru_step_equals_the_lecture_equations_written_out():
    """r, z = σ(...), n = tanh(x_n + r (W_hn h + b_hn)), h' = (1 - z) n + z h."""
    g = torch.Generator().manual_seed(1)
    gx, gh = (torch.randn(B, 3 * H, generator=g, dtype=torch.float64) for _ in range(2))
    h = torch.randn(B, H, generator=g, dtype=torch.float64)
    r = torch.sigmoid(gx[:, :H] + gh[:, :H])
    z = torch.sigmoid(gx[:, H : 2 * H] + gh[:, H : 2 * H])
    n = torch.tanh(gx[:, 2 * H :] + r * gh[:, 2 * H :])
    torch.testing.assert_close(gru_step(gx, gh, h), (1 - z) * n + z * h, rtol=0, atol=ATOL)


def _sequence(seed):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(T, B, I, generator=g, dtype=torch.float64)
    cell = LSTMCell(I, H, dtype=torch.float64)
    h0, c0 = (torch.randn(B, H, generator=g, dtype=torch.float64) for _ in range(2))
    return x, h0, c0, cell


def _unrolled_source(x, h, c, cell):
    outputs = []
    for x_t in x:
        h, c = _lstm_by_the_source(x_t, h, c, cell.weight_ih, cell.weight_hh, cell.bias_ih, cell.bias_hh)
        outputs.append(h)
    return torch.stack(outputs), h, c


@pytest.mark.parametrize("seed", range(2))
def test_lstm_manual_layer_equals_the_unrolled_lstm_step(seed):
    x, h0, c0, cell = _sequence(seed)
    expected = _unrolled_source(x, h0, c0, cell)
    with torch.no_grad():
        got = lstm_layer(x, h0, c0, cell.weight_ih, cell.weight_hh, cell.bias_ih, cell.bias_hh)
    for a, b in zip(got, expected):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-10)


def test_bptt_lstm_forward_equals_the_unrolled_lstm_step():
    x, h0, c0, cell = _sequence(5)
    output, h_n, c_n, _ = lstm_forward(x, h0, c0, cell.weight_ih, cell.weight_hh, cell.bias_ih, cell.bias_hh)
    for a, b in zip((output, h_n, c_n), _unrolled_source(x, h0, c0, cell)):
        torch.testing.assert_close(a, b, rtol=0, atol=ATOL)


def test_lstm_trace_gates_are_those_of_lstm_step():
    x, _, _, cell = _sequence(7)
    trace = lstm_trace(cell, x[:, 0])  # (T, I) -> each (T, H)
    h = c = torch.zeros(H, dtype=torch.float64)
    for t in range(T):
        pre = F.linear(x[t, 0], cell.weight_ih, cell.bias_ih) + F.linear(h, cell.weight_hh, cell.bias_hh)
        h, c, gates = lstm_step(pre, c)
        for name, gate in zip("ifgo", gates):
            torch.testing.assert_close(trace[name][t], gate, rtol=0, atol=ATOL)


def test_gru_cell_uses_gru_step():
    x, h, _, *_ = _weights(3, 9)
    cell = GRUCell(I, H, dtype=torch.float64)
    expected = gru_step(F.linear(x, cell.weight_ih, cell.bias_ih), F.linear(h, cell.weight_hh, cell.bias_hh), h)
    torch.testing.assert_close(cell(x, h), expected, rtol=0, atol=0)
