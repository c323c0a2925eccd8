"""Specification of course_lib.clipping: torch's clipping on the same gradients, and the slide's
per-tensor clipping with the true norm."""

import math

import pytest
import torch

from course_lib.clipping import clip_grad_norm_, clip_grad_value_, clip_gradient_slide

D = torch.float64


def _twin_parameters(scale: float = 1.0):
    """Two identical sets of parameters with gradients: one for torch, one for us."""
    shapes = [(3, 4), (4,), (2, 2, 2)]
    grads = [scale * torch.randn(s, dtype=D) for s in shapes]
    sets = []
    for _ in range(2):
        params = [torch.nn.Parameter(torch.zeros(s, dtype=D)) for s in shapes]
        for p, g in zip(params, grads):
            p.grad = g.clone()
        sets.append(params)
    return sets


@pytest.mark.parametrize("norm_type", [1.0, 2.0, 3.5, math.inf])
@pytest.mark.parametrize("max_norm", [0.1, 1.0, 1e6])
def test_clip_grad_norm_equals_torch(norm_type, max_norm):
    ours, theirs = _twin_parameters(scale=2.0)
    total = clip_grad_norm_(ours, max_norm, norm_type)
    expected = torch.nn.utils.clip_grad_norm_(theirs, max_norm, norm_type)
    torch.testing.assert_close(total, expected, rtol=0, atol=1e-12)
    for a, e in zip(ours, theirs):
        torch.testing.assert_close(a.grad, e.grad, rtol=0, atol=1e-12)


def test_clip_grad_norm_returns_the_norm_before_clipping_and_leaves_max_norm_after():
    (params, _) = _twin_parameters(scale=10.0)
    before = torch.cat([p.grad.flatten() for p in params]).norm()
    total = clip_grad_norm_(params, 1.0)
    after = torch.cat([p.grad.flatten() for p in params]).norm()
    torch.testing.assert_close(total, before, rtol=0, atol=1e-12)
    assert math.isclose(after.item(), 1.0, rel_tol=1e-5)


def test_clip_grad_norm_accepts_a_single_tensor_and_skips_parameters_without_grad():
    p, q = torch.nn.Parameter(torch.zeros(3, dtype=D)), torch.nn.Parameter(torch.zeros(2, dtype=D))
    p.grad = torch.tensor([3.0, 4.0, 0.0], dtype=D)
    assert clip_grad_norm_(p, 1.0).item() == pytest.approx(5.0)
    assert clip_grad_norm_([p, q], 1.0).item() == pytest.approx(1.0, rel=1e-5)


def test_clip_grad_norm_with_no_gradients_returns_zero():
    assert clip_grad_norm_([torch.nn.Parameter(torch.ones(2))], 1.0).item() == 0.0


@pytest.mark.parametrize("max_norm", [0.0, -1.0, math.inf, math.nan])
def test_clip_grad_norm_rejects_bad_max_norm(max_norm):
    (params, _) = _twin_parameters()
    with pytest.raises(ValueError, match="max_norm"):
        clip_grad_norm_(params, max_norm)


@pytest.mark.parametrize("bad", [math.nan, math.inf])
def test_clip_grad_norm_with_error_if_nonfinite_raises_on_nonfinite_gradients(bad):
    ours, theirs = _twin_parameters()
    for params in (ours, theirs):
        params[1].grad[0] = bad
    with pytest.raises(RuntimeError, match="non-finite"):
        clip_grad_norm_(ours, 1.0, error_if_nonfinite=True)
    with pytest.raises(RuntimeError, match="non-finite"):
        torch.nn.utils.clip_grad_norm_(theirs, 1.0, error_if_nonfinite=True)


def test_clip_grad_norm_without_error_if_nonfinite_returns_nan_as_torch():
    ours, theirs = _twin_parameters()
    for params in (ours, theirs):
        params[0].grad[0, 0] = math.nan
    assert torch.isnan(clip_grad_norm_(ours, 1.0))
    assert torch.isnan(torch.nn.utils.clip_grad_norm_(theirs, 1.0))


def test_clip_grad_norm_rejects_non_bool_foreach():
    (params, _) = _twin_parameters()
    with pytest.raises(TypeError, match="foreach"):
        clip_grad_norm_(params, 1.0, foreach="yes")


@pytest.mark.parametrize("clip_value", [0.05, 0.5, 100.0])
def test_clip_grad_value_equals_torch(clip_value):
    ours, theirs = _twin_parameters()
    clip_grad_value_(ours, clip_value)
    torch.nn.utils.clip_grad_value_(theirs, clip_value)
    for a, e in zip(ours, theirs):
        torch.testing.assert_close(a.grad, e.grad, rtol=0, atol=0)


@pytest.mark.parametrize("clip_value", [0.0, -0.5, math.inf])
def test_clip_grad_value_rejects_bad_clip_value(clip_value):
    (params, _) = _twin_parameters()
    with pytest.raises(ValueError, match="clip_value"):
        clip_grad_value_(params, clip_value)


def test_clip_gradient_slide_scales_a_large_gradient_to_the_threshold():
    grad = torch.tensor([6.0, 8.0], dtype=D)  # norm 10
    clipped = clip_gradient_slide(grad, 5.0)
    torch.testing.assert_close(clipped, torch.tensor([3.0, 4.0], dtype=D), rtol=0, atol=1e-12)
    assert clipped is grad


def test_clip_gradient_slide_leaves_a_small_gradient_alone():
    grad = torch.tensor([0.3, 0.4], dtype=D)
    clip_gradient_slide(grad, 1.0)
    torch.testing.assert_close(grad, torch.tensor([0.3, 0.4], dtype=D), rtol=0, atol=0)


def test_clip_gradient_slide_fixes_the_squared_norm_bug():
    """The slide's code (squared norm) would give norm 0.5 here; the fixed one gives 5."""
    grad = torch.tensor([6.0, 8.0], dtype=D)
    slide_norm = (grad * (5.0 / torch.sum(grad * grad))).norm()
    assert slide_norm.item() == pytest.approx(0.5)
    assert clip_gradient_slide(grad, 5.0).norm().item() == pytest.approx(5.0)


def test_clip_gradient_slide_equals_clip_grad_norm_for_one_tensor():
    ours, theirs = _twin_parameters(scale=3.0)
    clip_gradient_slide(ours[0].grad, 0.7)
    torch.nn.utils.clip_grad_norm_([theirs[0]], 0.7)
    torch.testing.assert_close(ours[0].grad, theirs[0].grad, rtol=1e-5, atol=0)


@pytest.mark.parametrize("threshold", [0.0, -1.0, math.nan])
def test_clip_gradient_slide_rejects_bad_threshold(threshold):
    with pytest.raises(ValueError, match="threshold"):
        clip_gradient_slide(torch.ones(2), threshold)
