"""Specification of course_lib.bptt: manual BPTT equals autograd, the gradient check tells right
from wrong, and truncated BPTT stops gradients at chunk boundaries."""

import math

import pytest
import torch
import torch.nn.functional as F

from course_lib.bptt import (
    gradient_check,
    lstm_backward,
    lstm_forward,
    numerical_gradient,
    rnn_backward,
    rnn_forward,
    truncated_bptt_epoch,
)

D = torch.float64
SIZES = [(1, 1, 1, 1, 2), (4, 3, 5, 6, 7), (9, 2, 3, 4, 3)]  # (T, B, I, H, K)


def _rnn_case(T, B, I, H, K):
    params = {
        "U": torch.randn(H, I, dtype=D), "W": torch.randn(H, H, dtype=D) * 0.5,
        "V": torch.randn(K, H, dtype=D), "b": torch.randn(H, dtype=D), "c": torch.randn(K, dtype=D),
        "h0": torch.randn(B, H, dtype=D),
    }
    params = {k: v.requires_grad_(True) for k, v in params.items()}
    return torch.randn(T, B, I, dtype=D), torch.randint(K, (T, B)), params


def _torch_rnn_loss(x, y, p):
    """The same network built from torch.nn modules, as an independent reference."""
    H, I = p["U"].shape
    K = p["V"].shape[0]
    rnn, head = torch.nn.RNN(I, H).to(D), torch.nn.Linear(H, K).to(D)
    del rnn.weight_ih_l0, rnn.weight_hh_l0, rnn.bias_ih_l0, rnn.bias_hh_l0
    rnn.weight_ih_l0, rnn.weight_hh_l0 = p["U"], p["W"]
    rnn.bias_ih_l0, rnn.bias_hh_l0 = p["b"], torch.zeros(H, dtype=D)
    del head.weight, head.bias
    head.weight, head.bias = p["V"], p["c"]
    hidden, _ = rnn(x, p["h0"].unsqueeze(0))
    logits = head(hidden)  # (T, B, K)
    return F.cross_entropy(logits.reshape(-1, K), y.reshape(-1), reduction="sum")


def _call_rnn_forward(x, y, p):
    return rnn_forward(x, y, p["h0"], p["U"], p["W"], p["V"], p["b"], p["c"])


@pytest.mark.parametrize("T,B,I,H,K", SIZES)
def test_rnn_forward_loss_equals_torch_rnn_with_cross_entropy(T, B, I, H, K):
    x, y, p = _rnn_case(T, B, I, H, K)
    loss, _ = _call_rnn_forward(x, y, p)
    torch.testing.assert_close(loss, _torch_rnn_loss(x, y, p), rtol=0, atol=1e-10)


@pytest.mark.parametrize("T,B,I,H,K", SIZES)
def test_rnn_backward_equals_autograd_in_float64(T, B, I, H, K):
    x, y, p = _rnn_case(T, B, I, H, K)
    names = ["U", "W", "V", "b", "c", "h0"]
    expected = torch.autograd.grad(_torch_rnn_loss(x, y, p), [p[n] for n in names])
    _, cache = _call_rnn_forward(x, y, p)
    grads = rnn_backward(cache)
    for name, e in zip(names, expected):
        torch.testing.assert_close(grads[name], e, rtol=0, atol=1e-10, msg=f"gradient of {name}")


def test_rnn_backward_equals_finite_differences():
    x, y, p = _rnn_case(3, 2, 2, 3, 4)
    grads = rnn_backward(_call_rnn_forward(x, y, p)[1])
    for name in ["U", "W"]:
        def loss_of(value, name=name):
            return _call_rnn_forward(x, y, {**p, name: value})[0]

        numeric = numerical_gradient(loss_of, p[name].detach())
        torch.testing.assert_close(grads[name], numeric, rtol=0, atol=1e-7)


def test_rnn_backward_runs_without_building_a_graph():
    x, y, p = _rnn_case(3, 2, 2, 3, 4)
    grads = rnn_backward(_call_rnn_forward(x, y, p)[1])
    assert all(g.grad_fn is None for g in grads.values())


def test_rnn_forward_wrong_U_shape_raises_value_error():
    x, y, p = _rnn_case(3, 2, 2, 3, 4)
    with pytest.raises(ValueError, match="U must have shape"):
        _call_rnn_forward(x, y, {**p, "U": p["U"].T})


def _lstm_case(T, B, I, H, bias):
    torch_lstm = torch.nn.LSTM(I, H, bias=bias).to(D)
    x = torch.randn(T, B, I, dtype=D, requires_grad=True)
    h0 = torch.randn(B, H, dtype=D, requires_grad=True)
    c0 = torch.randn(B, H, dtype=D, requires_grad=True)
    biases = (torch_lstm.bias_ih_l0, torch_lstm.bias_hh_l0) if bias else (None, None)
    args = (x, h0, c0, torch_lstm.weight_ih_l0, torch_lstm.weight_hh_l0, *biases)
    return torch_lstm, args


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("T,B,I,H", [(1, 1, 1, 1), (5, 3, 4, 6), (8, 2, 3, 2)])
def test_lstm_forward_equals_torch_lstm(T, B, I, H, bias):
    torch_lstm, args = _lstm_case(T, B, I, H, bias)
    x, h0, c0 = args[:3]
    output, (h_n, c_n) = torch_lstm(x, (h0.unsqueeze(0), c0.unsqueeze(0)))
    ours = lstm_forward(*args)
    for a, e in zip(ours[:3], (output, h_n[0], c_n[0])):
        torch.testing.assert_close(a, e, rtol=0, atol=1e-10)


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("T,B,I,H", [(1, 1, 1, 1), (5, 3, 4, 6), (8, 2, 3, 2)])
def test_lstm_backward_equals_autograd_in_float64(T, B, I, H, bias):
    torch_lstm, args = _lstm_case(T, B, I, H, bias)
    x, h0, c0 = args[:3]
    output, (h_n, c_n) = torch_lstm(x, (h0.unsqueeze(0), c0.unsqueeze(0)))
    g_out, g_h, g_c = torch.randn_like(output), torch.randn_like(h_n[0]), torch.randn_like(c_n[0])
    names = ["x", "h0", "c0", "weight_ih", "weight_hh"] + (["bias_ih", "bias_hh"] if bias else [])
    wrt = [x, h0, c0, *torch_lstm.parameters()]
    expected = torch.autograd.grad([output, h_n[0], c_n[0]], wrt, [g_out, g_h, g_c])
    grads = lstm_backward(lstm_forward(*args)[3], g_out, g_h, g_c)
    for name, e in zip(names, expected):
        torch.testing.assert_close(grads[name], e, rtol=0, atol=1e-10, msg=f"gradient of {name}")
    if not bias:
        assert grads["bias_ih"] is None and grads["bias_hh"] is None


def test_lstm_backward_without_state_gradients_treats_them_as_zero():
    _, args = _lstm_case(4, 2, 3, 5, True)
    output, h_n, c_n, cache = lstm_forward(*args)
    g_out = torch.randn_like(output)
    expected = torch.autograd.grad(output, args, g_out)
    grads = lstm_backward(cache, g_out)
    names = ["x", "h0", "c0", "weight_ih", "weight_hh", "bias_ih", "bias_hh"]
    for name, e in zip(names, expected):
        torch.testing.assert_close(grads[name], e, rtol=0, atol=1e-10, msg=f"gradient of {name}")


def test_lstm_backward_wrong_grad_output_shape_raises_value_error():
    _, args = _lstm_case(4, 2, 3, 5, True)
    output, _, _, cache = lstm_forward(*args)
    with pytest.raises(ValueError, match="grad_output"):
        lstm_backward(cache, output[:-1])


def test_numerical_gradient_of_cubic_is_three_x_squared():
    x = torch.randn(3, 4, dtype=D)
    torch.testing.assert_close(numerical_gradient(lambda w: (w**3).sum(), x), 3 * x**2,
                               rtol=0, atol=1e-8)


def test_numerical_gradient_leaves_its_input_unchanged():
    x = torch.randn(5, dtype=D)
    before = x.clone()
    numerical_gradient(lambda w: w.sin().sum(), x)
    assert torch.equal(x, before)


def test_numerical_gradient_accepts_a_non_contiguous_tensor():
    x = torch.randn(4, 3, dtype=D).T
    torch.testing.assert_close(numerical_gradient(lambda w: (w**2).sum(), x), 2 * x,
                               rtol=0, atol=1e-8)


def test_numerical_gradient_rejects_non_positive_eps():
    with pytest.raises(ValueError, match="eps"):
        numerical_gradient(lambda w: w.sum(), torch.ones(2, dtype=D), eps=0.0)


def test_numerical_gradient_rejects_non_scalar_function():
    with pytest.raises(RuntimeError, match="scalar"):
        numerical_gradient(lambda w: w * 2, torch.ones(2, dtype=D))


def test_gradient_check_passes_a_correct_gradient(capsys):
    inputs = [torch.randn(3, 4, dtype=D), torch.randn(4, 2, dtype=D)]
    error = gradient_check(lambda a, b: (a @ b).tanh().sum(), inputs)
    assert error < 1e-7
    assert "PASS" in capsys.readouterr().out


class _WrongSquare(torch.autograd.Function):
    """x² with a deliberately wrong backward (x instead of 2x): what a student's bug looks like."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x**2

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad * x


def test_gradient_check_catches_a_wrong_gradient(capsys):
    error = gradient_check(lambda x: _WrongSquare.apply(x).sum(), torch.randn(4, dtype=D) + 3)
    assert error > 0.1
    assert "FAIL" in capsys.readouterr().out


class _StatefulRNN(torch.nn.Module):
    """torch.nn.RNN plus a linear read-out, called as model(x, state) -> (y, state)."""

    def __init__(self):
        super().__init__()
        self.rnn, self.head = torch.nn.RNN(2, 3).to(D), torch.nn.Linear(3, 1).to(D)

    def forward(self, x, state):
        hidden, state = self.rnn(x, state)
        return self.head(hidden), state


def _weighted_sum(output, weights):
    return (output * weights).sum()


def _grads_after_epoch(model, x, weights, k):
    model.zero_grad()
    truncated_bptt_epoch(model, (x, weights), k, _weighted_sum)
    return [p.grad.clone() for p in model.parameters()]


def test_truncated_bptt_with_k_at_least_T_equals_full_bptt():
    model, x, weights = _StatefulRNN(), torch.randn(8, 2, 2, dtype=D), torch.randn(8, 2, 1, dtype=D)
    _weighted_sum(model(x, None)[0], weights).backward()
    full = [p.grad.clone() for p in model.parameters()]
    for k in (8, 100):
        for a, e in zip(_grads_after_epoch(model, x, weights, k), full):
            torch.testing.assert_close(a, e, rtol=0, atol=1e-12)


def test_truncated_bptt_with_k_below_T_gives_different_gradients():
    model, x, weights = _StatefulRNN(), torch.randn(8, 2, 2, dtype=D), torch.randn(8, 2, 1, dtype=D)
    full = _grads_after_epoch(model, x, weights, 8)
    truncated = _grads_after_epoch(model, x, weights, 3)
    w_hh = [name for name, _ in model.named_parameters()].index("rnn.weight_hh_l0")
    assert (truncated[w_hh] - full[w_hh]).abs().max() > 1e-6


def test_truncated_bptt_carries_the_state_forward_so_chunk_losses_add_up_to_the_full_loss():
    model, x, weights = _StatefulRNN(), torch.randn(9, 2, 2, dtype=D), torch.randn(9, 2, 1, dtype=D)
    full_loss = _weighted_sum(model(x, None)[0], weights).item()
    losses = truncated_bptt_epoch(model, (x, weights), 4, _weighted_sum)
    assert len(losses) == 3
    assert math.isclose(sum(losses), full_loss, rel_tol=0, abs_tol=1e-10)


def test_truncated_bptt_stops_gradients_at_the_chunk_boundary():
    model = _StatefulRNN()
    x = torch.randn(9, 2, 2, dtype=D, requires_grad=True)
    weights = torch.zeros(9, 2, 1, dtype=D)
    weights[-1] = 1.0  # the only loss is at the last step, in the chunk that starts at t = 6
    truncated_bptt_epoch(model, (x, weights), 3, _weighted_sum)
    assert torch.all(x.grad[:6] == 0)
    assert torch.all(x.grad[6:].abs().sum(dim=(1, 2)) > 0)
    x.grad = None
    truncated_bptt_epoch(model, (x, weights), 9, _weighted_sum)
    assert x.grad[0].abs().sum() > 0  # full BPTT reaches the first step


def test_truncated_bptt_detaches_a_tuple_state_and_trains_with_an_optimizer():
    lstm = torch.nn.LSTM(2, 3).to(D)
    x, target = torch.randn(10, 2, 2, dtype=D), torch.randn(10, 2, 3, dtype=D)
    before = lstm.weight_hh_l0.detach().clone()
    optimizer = torch.optim.SGD(lstm.parameters(), lr=0.1)
    losses = truncated_bptt_epoch(lstm, (x, target), 4, F.mse_loss, optimizer, max_norm=1.0)
    assert len(losses) == 3
    assert not torch.equal(lstm.weight_hh_l0, before)


@pytest.mark.parametrize("k", [0, -2])
def test_truncated_bptt_rejects_chunk_length_below_one(k):
    with pytest.raises(ValueError, match="k"):
        truncated_bptt_epoch(_StatefulRNN(), (torch.zeros(4, 1, 2), torch.zeros(4, 1, 1)), k,
                             _weighted_sum)


def test_truncated_bptt_rejects_non_integer_chunk_length():
    with pytest.raises(TypeError, match="k"):
        truncated_bptt_epoch(_StatefulRNN(), (torch.zeros(4, 1, 2), torch.zeros(4, 1, 1)), 2.5,
                             _weighted_sum)


def test_truncated_bptt_rejects_inputs_and_targets_of_different_lengths():
    with pytest.raises(ValueError, match="time steps"):
        truncated_bptt_epoch(_StatefulRNN(), (torch.zeros(4, 1, 2), torch.zeros(3, 1, 1)), 2,
                             _weighted_sum)
