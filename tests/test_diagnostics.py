"""Specification of course_lib.diagnostics: the product-of-Jacobians norms, σ_max, and the plot
that shows σ < 1 vanishing, σ > 1 exploding and the LSTM's additive path."""

import pytest
import torch
from matplotlib.figure import Figure

from course_lib.bptt import rnn_forward
from course_lib.diagnostics import hidden_gradient_norms, largest_singular_value, plot_gradient_norms

D = torch.float64


def _orthogonal(n: int) -> torch.Tensor:
    q, _ = torch.linalg.qr(torch.randn(n, n, dtype=D))
    return q


def test_largest_singular_value_equals_the_first_singular_value():
    W = torch.randn(5, 7, dtype=D)
    assert largest_singular_value(W) == pytest.approx(torch.linalg.svdvals(W)[0].item(), abs=1e-12)


def test_largest_singular_value_of_scaled_orthogonal_matrix_is_the_scale():
    assert largest_singular_value(0.8 * _orthogonal(6)) == pytest.approx(0.8, abs=1e-12)


def test_largest_singular_value_rejects_a_vector():
    with pytest.raises(ValueError, match="2-D"):
        largest_singular_value(torch.ones(3))


def test_hidden_gradient_norms_of_a_linear_recurrence_are_sigma_to_the_distance():
    """h_t = W h_{t-1} with W = σQ: ∂L_T/∂h_k = (W^T)^(T-k) v has norm σ^(T-k) for unit v."""
    sigma, T = 1.3, 6
    W = sigma * _orthogonal(4)
    v = torch.randn(4, dtype=D)
    v = v / v.norm()
    hs = [torch.randn(4, dtype=D, requires_grad=True)]
    for _ in range(T):
        hs.append(W @ hs[-1])
    norms = hidden_gradient_norms(v @ hs[-1], hs)
    expected = torch.tensor([sigma ** (T - k) for k in range(T + 1)], dtype=D)
    torch.testing.assert_close(norms, expected, rtol=1e-12, atol=0)


def test_hidden_gradient_norms_equal_autograd_on_rnn_forward_states():
    T, B, I, H, K = 5, 2, 3, 4, 3
    x, y = torch.randn(T, B, I, dtype=D), torch.randint(K, (T, B))
    shapes = [(B, H), (H, I), (H, H), (K, H), (H,), (K,)]
    params = [torch.randn(s, dtype=D, requires_grad=True) for s in shapes]
    loss, cache = rnn_forward(x, y, *params)
    expected = [g.norm().item() for g in torch.autograd.grad(loss, cache["h"][1:], retain_graph=True)]
    norms = hidden_gradient_norms(loss, cache["h"][1:])
    torch.testing.assert_close(norms, torch.tensor(expected, dtype=D), rtol=0, atol=1e-12)


def test_hidden_gradient_norms_give_zero_for_states_the_loss_does_not_use():
    h0 = torch.randn(3, dtype=D, requires_grad=True)
    h1 = torch.tanh(h0)
    h2 = torch.tanh(h1)
    assert hidden_gradient_norms(h1.sum(), [h0, h1, h2])[2].item() == 0.0


def test_hidden_gradient_norms_reject_a_loss_without_grad():
    with pytest.raises(RuntimeError, match="require grad"):
        hidden_gradient_norms(torch.tensor(1.0), [torch.ones(2)])


def _curves(spectral_radius):
    fig = plot_gradient_norms(spectral_radius)
    rnn_ax, lstm_ax = fig.axes
    return fig, rnn_ax.lines[0].get_ydata(), lstm_ax.lines[1].get_ydata()


def test_plot_gradient_norms_returns_a_log_scale_figure_with_rnn_and_lstm_axes():
    fig, rnn, lstm_c = _curves(0.9)
    assert isinstance(fig, Figure)
    assert len(fig.axes) == 2
    assert all(ax.get_yscale() == "log" for ax in fig.axes)
    assert len(rnn) == len(lstm_c) == 51


def test_rnn_gradient_vanishes_for_spectral_radius_below_one():
    _, rnn, _ = _curves(0.5)
    assert rnn[0] < 1e-6 * rnn[-1]
    assert all(a < b for a, b in zip(rnn[:-1], rnn[1:]))


def test_rnn_gradient_explodes_for_spectral_radius_above_one():
    _, rnn, _ = _curves(1.5)
    assert rnn[0] > 10 * rnn[-1]


def test_lstm_cell_path_keeps_the_gradient_where_the_rnn_loses_it():
    _, rnn, lstm_c = _curves(0.5)
    assert lstm_c[0] > 1e-2 * lstm_c[-1]
    assert lstm_c[0] / lstm_c[-1] > 1e6 * rnn[0] / rnn[-1]


@pytest.mark.parametrize("spectral_radius", [0.0, -1.0])
def test_plot_gradient_norms_rejects_non_positive_spectral_radius(spectral_radius):
    with pytest.raises(ValueError, match="spectral_radius"):
        plot_gradient_norms(spectral_radius)
