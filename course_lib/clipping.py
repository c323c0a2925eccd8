"""Gradient clipping: torch's ``clip_grad_norm_``/``clip_grad_value_`` and the slide's version (lecture 4).

Clipping by norm rescales all gradients together when their total norm is too big,

    ‖g‖ = (Σ_p ‖g_p‖^q)^(1/q)       g ← g · min(1, max_norm / (‖g‖ + 1e-6))

which keeps the direction of the update and bounds its size: the fix for *exploding*
gradients (Pascanu et al., 2013). It does nothing for vanishing ones.
"""

import math
from collections.abc import Iterable

import torch

from course_lib.validation import check_bool, check_tensor


def _grads(parameters: torch.Tensor | Iterable[torch.Tensor]) -> list[torch.Tensor]:
    if isinstance(parameters, torch.Tensor):
        parameters = [parameters]
    return [p.grad for p in parameters if p.grad is not None]


def clip_grad_norm_(
    parameters: torch.Tensor | Iterable[torch.Tensor],
    max_norm: float,
    norm_type: float = 2.0,
    error_if_nonfinite: bool = False,
    foreach: bool | None = None,
) -> torch.Tensor:
    """Scale gradients in place so their total ``norm_type``-norm is at most ``max_norm`` (lecture 4).

    Same signature, arithmetic and return value as ``torch.nn.utils.clip_grad_norm_``: the
    total norm is the norm of the per-parameter norms (for ``inf``, the largest absolute
    entry), the scale is ``min(1, max_norm / (total + 1e-6))``, and the *unclipped* total
    norm is returned as a tensor. ``foreach`` is accepted for compatibility; this version
    always loops over the parameters. Unlike torch, ``max_norm`` must be positive and finite.

    Example::

        loss.backward(); clip_grad_norm_(model.parameters(), max_norm=1.0); optimizer.step()
    """
    max_norm, norm_type = float(max_norm), float(norm_type)
    if not (math.isfinite(max_norm) and max_norm > 0):
        raise ValueError(f"max_norm must be positive and finite, got {max_norm}")
    if math.isnan(norm_type) or norm_type <= 0:
        raise ValueError(f"norm_type must be positive (or inf), got {norm_type}")
    if foreach is not None:
        check_bool("foreach", foreach)
    grads = _grads(parameters)
    if not grads:
        return torch.tensor(0.0)
    norms = [torch.linalg.vector_norm(g, norm_type) for g in grads]
    total_norm = torch.linalg.vector_norm(torch.stack(norms), norm_type)  # ()
    if error_if_nonfinite and not torch.isfinite(total_norm):
        raise RuntimeError(
            f"The total norm of order {norm_type} for gradients from `parameters` is "
            "non-finite, so it cannot be clipped. To disable this error and scale the "
            "gradients by the non-finite norm anyway, set `error_if_nonfinite=False`"
        )
    scale = torch.clamp(max_norm / (total_norm + 1e-6), max=1.0)  # ()
    for g in grads:
        g.mul_(scale.to(g.dtype))
    return total_norm


def clip_grad_value_(
    parameters: torch.Tensor | Iterable[torch.Tensor],
    clip_value: float,
    foreach: bool | None = None,
) -> None:
    """Clamp every gradient entry into [-clip_value, clip_value] in place, as torch's (lecture 4).

    Unlike norm clipping this changes the direction of the gradient. ``clip_value`` must
    be positive and finite; ``foreach`` is accepted for compatibility and ignored.
    """
    clip_value = float(clip_value)
    if not (math.isfinite(clip_value) and clip_value > 0):
        raise ValueError(f"clip_value must be positive and finite, got {clip_value}")
    if foreach is not None:
        check_bool("foreach", foreach)
    for g in _grads(parameters):
        g.clamp_(min=-clip_value, max=clip_value)


def clip_gradient_slide(grad: torch.Tensor, threshold: float) -> torch.Tensor:
    """The slide's "scale the gradient if its norm is too big", for one tensor, fixed (lecture 4).

    The lecture slides show::

        grad_norm = np.sum(grad * grad)
        if grad_norm > threshold:
            grad *= (threshold / grad_norm)

    ``np.sum(grad * grad)`` is the *squared* norm ‖g‖², so the test fires at ‖g‖ > √threshold
    and the result has norm threshold/‖g‖ instead of threshold: a gradient of norm 10 with
    threshold 5 comes out with norm 0.5, not 5.
    Here the norm is the true one, ‖g‖ = sqrt(Σ g²), so the result has norm
    min(‖g‖, threshold). Modifies ``grad`` in place and returns it.
    """
    check_tensor("grad", grad)
    threshold = float(threshold)
    if not (math.isfinite(threshold) and threshold > 0):
        raise ValueError(f"threshold must be positive and finite, got {threshold}")
    grad_norm = torch.sqrt(torch.sum(grad * grad))  # () the true norm, not its square
    if grad_norm > threshold:
        grad.mul_(threshold / grad_norm)
    return grad
