"""Specification of course_lib.lstm_manual.lstm_layer: torch.nn.LSTM's values and gradients,
with a hand-written backward."""

import pytest
import torch

from course_lib.lstm_manual import lstm_layer

SIZES = [(1, 1, 1, 1), (5, 3, 4, 6), (7, 2, 3, 5), (4, 1, 8, 2)]  # (T, B, I, H)


def _case(T, B, I, H, bias=True, dtype=torch.float64):
    torch_lstm = torch.nn.LSTM(I, H, bias=bias).to(dtype)
    x = torch.randn(T, B, I, dtype=dtype, requires_grad=True)
    h0 = torch.randn(B, H, dtype=dtype, requires_grad=True)
    c0 = torch.randn(B, H, dtype=dtype, requires_grad=True)
    return torch_lstm, x, h0, c0


def _ours(torch_lstm, x, h0, c0):
    biases = (torch_lstm.bias_ih_l0, torch_lstm.bias_hh_l0) if torch_lstm.bias else (None, None)
    return lstm_layer(x, h0, c0, torch_lstm.weight_ih_l0, torch_lstm.weight_hh_l0, *biases)


def _theirs(torch_lstm, x, h0, c0):
    output, (h_n, c_n) = torch_lstm(x, (h0.unsqueeze(0), c0.unsqueeze(0)))
    return output, h_n.squeeze(0), c_n.squeeze(0)


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("T,B,I,H", SIZES)
def test_outputs_equal_torch_lstm_in_float64(T, B, I, H, bias):
    case = _case(T, B, I, H, bias)
    for ours, theirs in zip(_ours(*case), _theirs(*case)):
        torch.testing.assert_close(ours, theirs, rtol=0, atol=1e-10)


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("T,B,I,H", SIZES)
def test_gradients_equal_torch_autograd_in_float64(T, B, I, H, bias):
    case = _case(T, B, I, H, bias)
    torch_lstm, x, h0, c0 = case
    wrt = [x, h0, c0, *torch_lstm.parameters()]
    outputs = _theirs(*case)
    upstream = [torch.randn_like(out) for out in outputs]
    expected = torch.autograd.grad(outputs, wrt, upstream)
    actual = torch.autograd.grad(_ours(*case), wrt, upstream)
    for name, a, e in zip(["x", "h0", "c0", "weight_ih", "weight_hh", "bias_ih", "bias_hh"],
                          actual, expected):
        torch.testing.assert_close(a, e, rtol=0, atol=1e-10, msg=f"gradient of {name}")


def test_gradients_pass_finite_difference_gradcheck():
    torch_lstm, x, h0, c0 = _case(3, 2, 3, 4)
    params = [p.detach().clone().requires_grad_(True) for p in torch_lstm.parameters()]
    assert torch.autograd.gradcheck(lstm_layer, (x, h0, c0, *params), eps=1e-6, atol=1e-8)


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("T,B,I,H", [(6, 4, 5, 8), (1, 1, 1, 1)])
def test_float32_outputs_and_gradients_match_torch_lstm(T, B, I, H, bias):
    """In float32 (the benchmark's dtype) the values and gradients are torch's to 1e-5."""
    case = _case(T, B, I, H, bias, dtype=torch.float32)
    torch_lstm, x, h0, c0 = case
    wrt = [x, h0, c0, *torch_lstm.parameters()]
    ours, theirs = _ours(*case), _theirs(*case)
    for a, e in zip(ours, theirs):
        torch.testing.assert_close(a, e, rtol=0, atol=1e-5)
    expected = torch.autograd.grad(theirs[0].sum(), wrt)
    actual = torch.autograd.grad(ours[0].sum(), wrt)
    for a, e in zip(actual, expected):
        torch.testing.assert_close(a, e, rtol=0, atol=1e-5)


@pytest.mark.parametrize("bias", [True, False])
def test_float32_at_benchmark_size_is_within_float32_rounding_of_the_truth(bias):
    """At B=32, H=128 a weight gradient sums 512 products, so ours and torch's float32 results
    differ by rounding (up to ~3e-5 absolute here). Relative to the gradient's size both stay
    within 1e-5 of the float64 truth (measured: ours <= 7e-7, torch's <= 1.1e-6)."""
    torch_lstm, x, h0, c0 = _case(16, 32, 64, 128, bias, dtype=torch.float64)
    upstream = torch.randn(16, 32, 128, dtype=torch.float64)
    truth = torch.autograd.grad(_theirs(torch_lstm, x, h0, c0)[0], [x, *torch_lstm.parameters()],
                                upstream)
    single = [t.detach().float().requires_grad_(True) for t in (x, h0, c0)]
    lstm32 = torch_lstm.float()
    wrt = [single[0], *lstm32.parameters()]
    for who, run in (("ours", _ours), ("torch's", _theirs)):
        grads = torch.autograd.grad(run(lstm32, *single)[0], wrt, upstream.float())
        for name, t, g in zip(["x", "weight_ih", "weight_hh", "bias_ih", "bias_hh"], truth, grads):
            error = ((g.double() - t).abs().max() / t.abs().max()).item()
            assert error <= 1e-5, f"{who} gradient of {name}: relative error {error:.2e}"


def test_loss_on_output_only_gives_torch_gradients():
    case = _case(5, 2, 3, 4)
    wrt = [case[1], *case[0].parameters()]
    expected = torch.autograd.grad(_theirs(*case)[0].pow(2).sum(), wrt)
    actual = torch.autograd.grad(_ours(*case)[0].pow(2).sum(), wrt)
    for a, e in zip(actual, expected):
        torch.testing.assert_close(a, e, rtol=0, atol=1e-10)


def test_backward_is_the_hand_written_function_not_an_op_graph():
    output, h_n, c_n = _ours(*_case(3, 2, 3, 4))
    for tensor in (output, h_n, c_n):
        node = tensor.grad_fn
        while node is not None and "ManualLSTM" not in type(node).__name__:
            next_fns = [fn for fn, _ in node.next_functions if fn is not None]
            assert len(next_fns) == 1, f"unexpected op graph at {type(node).__name__}"
            node = next_fns[0]
        assert node is not None


def test_weights_are_not_modified():
    torch_lstm, x, h0, c0 = _case(4, 2, 3, 5)
    before = {k: v.clone() for k, v in torch_lstm.state_dict().items()}
    _ours(torch_lstm, x, h0, c0)[0].sum().backward()
    for k, v in torch_lstm.state_dict().items():
        assert torch.equal(v, before[k]), k


def test_wrong_input_rank_raises_value_error():
    torch_lstm, x, h0, c0 = _case(3, 2, 3, 4)
    with pytest.raises(ValueError, match="x must have shape"):
        _ours(torch_lstm, x[0], h0, c0)


def test_wrong_weight_ih_shape_raises_value_error():
    torch_lstm, x, h0, c0 = _case(3, 2, 3, 4)
    with pytest.raises(ValueError, match="weight_ih"):
        lstm_layer(x, h0, c0, torch_lstm.weight_ih_l0[:, :2], torch_lstm.weight_hh_l0)


def test_wrong_state_shape_raises_value_error():
    torch_lstm, x, h0, c0 = _case(3, 2, 3, 4)
    with pytest.raises(ValueError, match="c0"):
        _ours(torch_lstm, x, h0, c0[:1])


def test_only_one_bias_raises_value_error():
    torch_lstm, x, h0, c0 = _case(3, 2, 3, 4)
    with pytest.raises(ValueError, match="both"):
        lstm_layer(x, h0, c0, torch_lstm.weight_ih_l0, torch_lstm.weight_hh_l0,
                   torch_lstm.bias_ih_l0, None)


def test_mixed_dtypes_raise_type_error():
    torch_lstm, x, h0, c0 = _case(3, 2, 3, 4)
    with pytest.raises(TypeError, match="h0"):
        _ours(torch_lstm, x, h0.float(), c0)
