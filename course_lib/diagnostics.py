"""Vanishing and exploding gradients, measured and plotted (lecture 4).

The gradient of the last loss with respect to an early hidden state is a product of Jacobians,

    ∂L_T/∂h_k = (∂h_T/∂h_k)^T ∂L_T/∂h_T,    ∂h_T/∂h_k = Π_{i=k+1}^{T} diag(1 - h_i²) W,

so its norm behaves like σ^(T-k) for the largest singular value σ of W (the tanh factors are
at most 1 and only shrink it): σ < 1 vanishes, σ > 1 can explode (Bengio et al., 1994;
Pascanu et al., 2013). In an LSTM the cell state has an additive path, ∂c_t/∂c_{t-1} = f_t
(no W, no squashing), so the gradient that reaches c_k is a product of forget gates.

``plot_gradient_norms`` draws both on a log scale for a chosen spectral radius; it takes
well under a second, so a lecture can drive it from a slider::

    ipywidgets.interact(plot_gradient_norms, spectral_radius=(0.5, 1.5, 0.05))
"""

from collections.abc import Sequence

import matplotlib.pyplot as plt
import torch
from matplotlib.figure import Figure

from course_lib.bptt import lstm_forward


def largest_singular_value(W: torch.Tensor) -> float:
    """σ_max(W), the matrix 2-norm: how much W can stretch a vector (lecture 4)."""
    if not isinstance(W, torch.Tensor):
        raise TypeError(f"W must be a torch.Tensor, got {type(W).__name__}")
    if W.dim() != 2:
        raise ValueError(f"W must be a matrix (2-D), got shape {tuple(W.shape)}")
    return torch.linalg.matrix_norm(W.detach().double(), ord=2).item()


def hidden_gradient_norms(loss: torch.Tensor, hidden_states: Sequence[torch.Tensor]) -> torch.Tensor:
    """‖∂L/∂h_k‖ for every hidden state h_k in ``hidden_states``.

    ``plot_gradient_norms`` (lecture 4) draws these norms.

    ``hidden_states`` are tensors of the graph that produced ``loss`` (e.g. the list
    ``cache["h"]`` from ``rnn_forward``/``lstm_forward``, or states collected in a loop).
    A state the loss does not depend on (one after the loss's time step) gets norm 0.

    Returns:
        A float64 tensor of shape (len(hidden_states),).
    """
    if not isinstance(loss, torch.Tensor) or loss.numel() != 1:
        raise ValueError("loss must be a scalar tensor")
    if not loss.requires_grad:
        raise RuntimeError("loss does not require grad: build it with autograd enabled")
    hidden_states = list(hidden_states)
    if not hidden_states:
        raise ValueError("hidden_states must not be empty")
    grads = torch.autograd.grad(loss, hidden_states, retain_graph=True, allow_unused=True)
    return torch.tensor(
        [0.0 if g is None else torch.linalg.vector_norm(g).item() for g in grads],
        dtype=torch.float64,
    )


def _scaled_orthogonal(size: int, scale: float, generator: torch.Generator) -> torch.Tensor:
    """scale · Q for a random orthogonal Q: every singular value (and |eigenvalue|) is scale."""
    q, r = torch.linalg.qr(torch.randn(size, size, generator=generator, dtype=torch.float64))
    return scale * q * torch.sign(torch.diagonal(r))  # (size, size)


def _rnn_curve(sigma: float, steps: int, size: int, input_scale: float, gen) -> torch.Tensor:
    W = _scaled_orthogonal(size, sigma, gen)  # (H, H)
    x = input_scale * torch.randn(2 * steps, size, generator=gen, dtype=torch.float64)  # (2T, H)
    v = torch.randn(size, generator=gen, dtype=torch.float64)  # (H,)
    hs = [torch.zeros(size, dtype=torch.float64, requires_grad=True)]
    for t in range(2 * steps):
        hs.append(torch.tanh(W @ hs[-1] + x[t]))  # (H,)
    return hidden_gradient_norms(v @ hs[-1] / v.norm(), hs[steps:])


def _lstm_curves(sigma, steps, size, input_scale, forget_bias, gen) -> tuple[torch.Tensor, ...]:
    w_hh = torch.cat([_scaled_orthogonal(size, sigma, gen) for _ in range(4)])  # (4H, H)
    w_ih = torch.eye(size, dtype=torch.float64).repeat(4, 1)  # (4H, H)
    bias = torch.zeros(4 * size, dtype=torch.float64)
    bias[size : 2 * size] = forget_bias
    x = input_scale * torch.randn(2 * steps, 1, size, generator=gen, dtype=torch.float64)  # (2T, 1, H)
    v = torch.randn(1, size, generator=gen, dtype=torch.float64)  # (1, H)
    h0 = torch.zeros(1, size, dtype=torch.float64, requires_grad=True)
    c0 = torch.zeros(1, size, dtype=torch.float64, requires_grad=True)
    _, h_n, _, cache = lstm_forward(x, h0, c0, w_ih, w_hh, bias, torch.zeros_like(bias))
    loss = (v * h_n).sum() / v.norm()
    return (hidden_gradient_norms(loss, cache["h"][steps:]),
            hidden_gradient_norms(loss, cache["c"][steps:]))


def plot_gradient_norms(
    spectral_radius: float,
    steps: int = 50,
    hidden_size: int = 32,
    input_scale: float = 0.1,
    forget_bias: float = 2.0,
    seed: int = 0,
) -> Figure:
    """Plot ‖∂L_T/∂h_k‖ against k on a log scale, for a vanilla RNN and an LSTM (lecture 4).

    W_hh is spectral_radius · Q with Q a random orthogonal matrix, so its spectral radius and
    its largest singular value are both ``spectral_radius``; the inputs are small noise
    (``input_scale``) and L_T = ⟨v, h_T⟩ for a random unit v; the network first runs
    ``steps`` warm-up steps from h = 0, so the curves show the steady state. Left: the RNN, whose curve
    falls like σ^(T-k) for σ < 1 and rises for σ > 1. Right: an LSTM with the same recurrent
    scale in each gate block and forget-gate bias ``forget_bias`` (f ≈ σ(2) ≈ 0.88): the
    gradient reaching the cell state c_k follows the additive path Π f and decays slowly.

    Returns:
        The matplotlib Figure (two axes). Example::

            ipywidgets.interact(plot_gradient_norms, spectral_radius=(0.5, 1.5, 0.05))
    """
    spectral_radius = float(spectral_radius)
    if not spectral_radius > 0:
        raise ValueError(f"spectral_radius must be positive, got {spectral_radius}")
    for name, value in (("steps", steps), ("hidden_size", hidden_size)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive int, got {value!r}")
    gen = torch.Generator().manual_seed(seed)
    rnn = _rnn_curve(spectral_radius, steps, hidden_size, input_scale, gen)
    lstm_h, lstm_c = _lstm_curves(spectral_radius, steps, hidden_size, input_scale, forget_bias, gen)

    k = range(steps + 1)
    fig, (ax_rnn, ax_lstm) = plt.subplots(1, 2, figsize=(10, 3.5), sharey=True)
    ax_rnn.semilogy(k, rnn.clamp_min(1e-300), label=r"$\|\partial L_T/\partial h_k\|$")
    ax_rnn.set_title(f"vanilla RNN, σ(W) = {spectral_radius:.2f}")
    ax_lstm.semilogy(k, lstm_h.clamp_min(1e-300), label=r"$\|\partial L_T/\partial h_k\|$")
    ax_lstm.semilogy(k, lstm_c.clamp_min(1e-300), "--",
                     label=r"$\|\partial L_T/\partial c_k\|$ (additive path)")
    ax_lstm.set_title(f"LSTM, σ(W_hh blocks) = {spectral_radius:.2f}, forget bias {forget_bias:g}")
    for ax in (ax_rnn, ax_lstm):
        ax.set_xlabel("time step k")
        ax.legend(loc="best")
        ax.grid(True, which="both", alpha=0.3)
    ax_rnn.set_ylabel("gradient norm (log scale)")
    fig.tight_layout()
    plt.close(fig)
    return fig
