"""Backpropagation through time by hand, a gradient check, and truncated BPTT (lecture 4).

The vanilla RNN uses lecture 4's notation (Goodfellow et al., ch. 10), with a batch of B
sequences as rows:

    a_t = b + W h_{t-1} + U x_t        h_t = tanh(a_t)
    o_t = c + V h_t                    ŷ_t = softmax(o_t)
    L_t = -log ŷ_t[y_t]                L = Σ_t L_t   (summed over the batch too)

``rnn_forward`` and ``lstm_forward`` are plain tensor code (autograd can run through them,
which is how the tests and ``diagnostics`` use them); ``rnn_backward`` and ``lstm_backward``
walk the time steps backwards without autograd and return the same gradients.
``numerical_gradient``/``gradient_check`` compare any small function's autograd gradient
with central differences. ``truncated_bptt_epoch`` trains a stateful model on chunks of k
steps, detaching the hidden state between chunks.
"""

from collections.abc import Callable, Sequence

import torch

from course_lib.clipping import clip_grad_norm_
from course_lib.lstm import lstm_step
from course_lib.validation import check_int, check_shape


def rnn_forward(
    x: torch.Tensor,
    y: torch.Tensor,
    h0: torch.Tensor,
    U: torch.Tensor,
    W: torch.Tensor,
    V: torch.Tensor,
    b: torch.Tensor,
    c: torch.Tensor,
) -> tuple[torch.Tensor, dict]:
    """Forward pass of a vanilla RNN with a softmax + cross-entropy loss at every step (lecture 4).

    Args:
        x: inputs, (T, B, I). y: integer targets, (T, B). h0: initial state, (B, H).
        U: input-to-hidden (H, I). W: hidden-to-hidden (H, H). V: hidden-to-output (K, H).
        b: hidden bias (H,). c: output bias (K,).

    Returns:
        ``(L, cache)``: the scalar loss L = Σ_t L_t and what ``rnn_backward`` needs
        (``cache["h"]`` is the list h_0 = h0, h_1, ..., h_T; ``cache["y_hat"]`` the softmaxes).
    """
    if not isinstance(x, torch.Tensor) or x.dim() != 3:
        raise ValueError(f"x must be a tensor of shape (T, B, I), got {getattr(x, 'shape', x)}")
    T, B, I = x.shape
    if not isinstance(W, torch.Tensor) or W.dim() != 2:
        raise ValueError("W must be a (H, H) tensor")
    H = W.shape[0]
    if not isinstance(V, torch.Tensor) or V.dim() != 2:
        raise ValueError("V must be a (K, H) tensor")
    K = V.shape[0]
    for name, tensor, shape in (
        ("y", y, (T, B)), ("h0", h0, (B, H)), ("U", U, (H, I)), ("W", W, (H, H)),
        ("V", V, (K, H)), ("b", b, (H,)), ("c", c, (K,)),
    ):
        check_shape(name, tensor, shape)
    hs, y_hats = [h0], []
    loss = x.new_zeros(())
    rows = torch.arange(B, device=x.device)
    for t in range(T):
        a = b + hs[-1] @ W.T + x[t] @ U.T  # (B, H)
        hs.append(torch.tanh(a))  # (B, H)
        o = c + hs[-1] @ V.T  # (B, K)
        log_y_hat = torch.log_softmax(o, dim=1)  # (B, K)
        y_hats.append(log_y_hat.exp())
        loss = loss - log_y_hat[rows, y[t]].sum()
    cache = {"x": x, "y": y, "h": hs, "y_hat": y_hats, "U": U, "W": W, "V": V}
    return loss, cache


def rnn_backward(cache: dict) -> dict[str, torch.Tensor]:
    """BPTT for ``rnn_forward``, without autograd: the slides' formulas, batched (lecture 4).

        ∇_{o_t} L = ŷ_t - onehot(y_t)
        ∇_{h_t} L = V^T ∇_{o_t} L + W^T diag(1 - h_{t+1}²) ∇_{h_{t+1}} L   (the recurrence)
        ∇_c L = Σ_t ∇_{o_t} L                  ∇_V L = Σ_t (∇_{o_t} L) h_t^T
        ∇_b L = Σ_t diag(1 - h_t²) ∇_{h_t} L
        ∇_W L = Σ_t diag(1 - h_t²) (∇_{h_t} L) h_{t-1}^T
        ∇_U L = Σ_t diag(1 - h_t²) (∇_{h_t} L) x_t^T
        ∇_{h_0} L = W^T diag(1 - h_1²) ∇_{h_1} L

    A slide that prints ∇_U L with x^{(t-1)} has a typo: U multiplies x_t in
    a_t, so its gradient pairs diag(1 - h_t²) ∇_{h_t} L with x_t, as here.

    Returns:
        A dict with the gradients ``"U"``, ``"W"``, ``"V"``, ``"b"``, ``"c"`` and ``"h0"``.
    """
    x, y, hs, y_hats = cache["x"], cache["y"], cache["h"], cache["y_hat"]
    U, W, V = cache["U"], cache["W"], cache["V"]
    T, B, _ = x.shape
    rows = torch.arange(B, device=x.device)
    with torch.no_grad():
        grads = {name: torch.zeros_like(p) for name, p in (("U", U), ("W", W), ("V", V))}
        grads["b"] = torch.zeros_like(W[0])
        grads["c"] = torch.zeros_like(V[:, 0])
        da_next = torch.zeros_like(hs[0])  # (B, H) diag(1 - h_{t+1}²) ∇_{h_{t+1}} L
        for t in range(T - 1, -1, -1):
            do = y_hats[t].clone()  # (B, K)
            do[rows, y[t]] -= 1
            dh = do @ V + da_next @ W  # (B, H) ∇_{h_t} L
            da = (1 - hs[t + 1] ** 2) * dh  # (B, H) ∇_{a_t} L
            grads["c"] += do.sum(0)
            grads["V"] += do.T @ hs[t + 1]  # (K, H)
            grads["b"] += da.sum(0)
            grads["W"] += da.T @ hs[t]  # (H, H)
            grads["U"] += da.T @ x[t]  # (H, I)
            da_next = da
        grads["h0"] = da_next @ W  # (B, H)
    return grads


def lstm_forward(
    x: torch.Tensor,
    h0: torch.Tensor,
    c0: torch.Tensor,
    weight_ih: torch.Tensor,
    weight_hh: torch.Tensor,
    bias_ih: torch.Tensor | None = None,
    bias_hh: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, dict]:
    """Forward pass of an LSTM over a sequence, one gate at a time, torch's layout (lecture 5).

        i_t = σ(W_ii x_t + W_hi h_{t-1} + b_i)    f_t = σ(W_if x_t + W_hf h_{t-1} + b_f)
        g_t = tanh(W_ig x_t + W_hg h_{t-1} + b_g)  o_t = σ(W_io x_t + W_ho h_{t-1} + b_o)
        c_t = f_t ⊙ c_{t-1} + i_t ⊙ g_t          h_t = o_t ⊙ tanh(c_t)

    Args:
        x: (T, B, I). h0, c0: (B, H). weight_ih: (4H, I), weight_hh: (4H, H), rows i, f, g, o.
        bias_ih, bias_hh: (4H,) each, or both None.

    Returns:
        ``(output, h_n, c_n, cache)``: output (T, B, H), h_n and c_n (B, H), and the cache
        ``lstm_backward`` needs (lists of h_t, c_t and the gates i, f, g, o per step).
    """
    if not isinstance(x, torch.Tensor) or x.dim() != 3:
        raise ValueError(f"x must be a tensor of shape (T, B, I), got {getattr(x, 'shape', x)}")
    T, B, I = x.shape
    if not isinstance(weight_hh, torch.Tensor) or weight_hh.dim() != 2:
        raise ValueError("weight_hh must be a (4H, H) tensor")
    H = weight_hh.shape[1]
    for name, tensor, shape in (
        ("h0", h0, (B, H)), ("c0", c0, (B, H)),
        ("weight_ih", weight_ih, (4 * H, I)), ("weight_hh", weight_hh, (4 * H, H)),
    ):
        check_shape(name, tensor, shape)
    if (bias_ih is None) != (bias_hh is None):
        raise ValueError("bias_ih and bias_hh must both be given or both be None")
    if bias_ih is not None:
        check_shape("bias_ih", bias_ih, (4 * H,))
        check_shape("bias_hh", bias_hh, (4 * H,))
    hs, cs, gates = [h0], [c0], []
    for t in range(T):
        a = x[t] @ weight_ih.T + hs[-1] @ weight_hh.T  # (B, 4H)
        if bias_ih is not None:
            a = a + bias_ih + bias_hh
        h, c, step_gates = lstm_step(a, cs[-1])  # (B, H), (B, H), 4 x (B, H)
        hs.append(h)
        cs.append(c)
        gates.append(step_gates)
    output = torch.stack(hs[1:])  # (T, B, H)
    cache = {"x": x, "h": hs, "c": cs, "gates": gates, "weight_ih": weight_ih,
             "weight_hh": weight_hh, "has_bias": bias_ih is not None}
    return output, hs[-1], cs[-1], cache


def lstm_backward(
    cache: dict,
    grad_output: torch.Tensor,
    grad_h_n: torch.Tensor | None = None,
    grad_c_n: torch.Tensor | None = None,
) -> dict[str, torch.Tensor | None]:
    """BPTT for ``lstm_forward`` without autograd, through the gates and the cell (lecture 5).

    Going backwards from t = T-1, with δh_t = ∂L/∂h_t and δc_t = ∂L/∂c_t:

        δh_t = grad_output_t + W_hh^T δa_{t+1}
        δo = δh_t ⊙ tanh(c_t)                  δa_o = δo ⊙ o(1-o)
        δc_t = δc_{t+1} ⊙ f_{t+1} + δh_t ⊙ o ⊙ (1 - tanh²(c_t))
        δa_i = δc_t ⊙ g ⊙ i(1-i)   δa_f = δc_t ⊙ c_{t-1} ⊙ f(1-f)   δa_g = δc_t ⊙ i ⊙ (1-g²)
        ∇W_ih = Σ_t δa_t x_t^T     ∇W_hh = Σ_t δa_t h_{t-1}^T     ∇b = Σ_t δa_t

    The cell state's own path, δc_{t-1} = f_t ⊙ δc_t, is additive: no weight matrix and no
    squashing derivative, only the forget gate (lecture 5's argument for why LSTMs vanish
    more slowly).

    Args:
        cache: from ``lstm_forward``. grad_output: ∂L/∂output, (T, B, H).
        grad_h_n, grad_c_n: ∂L/∂h_n and ∂L/∂c_n, (B, H), or None for zero.

    Returns:
        A dict with ``"x"``, ``"h0"``, ``"c0"``, ``"weight_ih"``, ``"weight_hh"``,
        ``"bias_ih"`` and ``"bias_hh"`` (the two bias gradients are equal; None without bias).
    """
    x, hs, cs, gates = cache["x"], cache["h"], cache["c"], cache["gates"]
    weight_ih, weight_hh = cache["weight_ih"], cache["weight_hh"]
    T, B, _ = x.shape
    H = weight_hh.shape[1]
    check_shape("grad_output", grad_output, (T, B, H))
    with torch.no_grad():
        dh_next = torch.zeros_like(hs[0]) if grad_h_n is None else grad_h_n.clone()  # (B, H)
        dc_next = torch.zeros_like(cs[0]) if grad_c_n is None else grad_c_n.clone()  # (B, H)
        grad_x = torch.zeros_like(x)
        grad_w_ih, grad_w_hh = torch.zeros_like(weight_ih), torch.zeros_like(weight_hh)
        grad_b = torch.zeros_like(weight_hh[:, 0])
        for t in range(T - 1, -1, -1):
            i, f, g, o = gates[t]
            dh = grad_output[t] + dh_next  # (B, H)
            tanh_c = torch.tanh(cs[t + 1])  # (B, H)
            dc = dc_next + dh * o * (1 - tanh_c**2)  # (B, H)
            da_i = dc * g * i * (1 - i)  # (B, H)
            da_f = dc * cs[t] * f * (1 - f)  # (B, H)
            da_g = dc * i * (1 - g**2)  # (B, H)
            da_o = dh * tanh_c * o * (1 - o)  # (B, H)
            da = torch.cat([da_i, da_f, da_g, da_o], dim=1)  # (B, 4H)
            grad_w_ih += da.T @ x[t]  # (4H, I)
            grad_w_hh += da.T @ hs[t]  # (4H, H)
            grad_b += da.sum(0)  # (4H,)
            grad_x[t] = da @ weight_ih  # (B, I)
            dh_next = da @ weight_hh  # (B, H)
            dc_next = dc * f  # (B, H)
    has_bias = cache["has_bias"]
    return {
        "x": grad_x, "h0": dh_next, "c0": dc_next,
        "weight_ih": grad_w_ih, "weight_hh": grad_w_hh,
        "bias_ih": grad_b if has_bias else None, "bias_hh": grad_b.clone() if has_bias else None,
    }


def numerical_gradient(
    f: Callable[[torch.Tensor], torch.Tensor | float], x: torch.Tensor, eps: float = 1e-6
) -> torch.Tensor:
    """Central-difference gradient of a scalar function.

    ``gradient_check`` (lecture 4) compares autograd's gradient with it.

    ∂f/∂x_j ≈ (f(x + ε e_j) - f(x - ε e_j)) / 2ε for every entry j.

    Costs 2·x.numel() calls of f, so use it on small tensors. The error is O(ε²) plus
    round-off O(u/ε): with float64 (u ≈ 1e-16) ε = 1e-6 gives about 1e-10; float32 is too
    coarse for a tight check.

    Example::

        numerical_gradient(lambda w: (w ** 3).sum(), torch.randn(3, dtype=torch.float64))
    """
    if not callable(f):
        raise TypeError(f"f must be callable, got {type(f).__name__}")
    if not isinstance(x, torch.Tensor) or not x.is_floating_point():
        raise TypeError("x must be a floating-point torch.Tensor")
    if not eps > 0:
        raise ValueError(f"eps must be positive, got {eps}")
    x = x.detach().clone(memory_format=torch.contiguous_format)
    grad = torch.zeros_like(x)
    flat, flat_grad = x.view(-1), grad.view(-1)
    with torch.no_grad():
        for j in range(flat.numel()):
            original = flat[j].item()
            flat[j] = original + eps
            f_plus = _scalar(f(x))
            flat[j] = original - eps
            f_minus = _scalar(f(x))
            flat[j] = original
            flat_grad[j] = (f_plus - f_minus) / (2 * eps)
    return grad


def _scalar(value: torch.Tensor | float) -> float:
    if isinstance(value, torch.Tensor):
        if value.numel() != 1:
            raise RuntimeError(f"f must return a scalar, got a tensor of shape {tuple(value.shape)}")
        return value.item()
    return float(value)


def gradient_check(
    f: Callable[..., torch.Tensor],
    inputs: torch.Tensor | Sequence[torch.Tensor],
    eps: float = 1e-6,
    tolerance: float = 1e-7,
    verbose: bool = True,
) -> float:
    """Compare autograd's gradient of a scalar ``f(*inputs)`` with central differences (lecture 4).

    The relative error of each entry is |a - n| / max(|a|, |n|, 1e-12) for the autograd value
    a and the numerical value n; the function returns the largest over all inputs. Use
    float64 inputs: then a correct gradient gives ~1e-8 or less, a wrong one ~1e-2 or more.
    With ``verbose`` it prints one line per input and a verdict against ``tolerance``.

    Example::

        gradient_check(lambda a, b: (a @ b).tanh().sum(),
                       [torch.randn(3, 4, dtype=torch.float64), torch.randn(4, 2, dtype=torch.float64)])
    """
    if isinstance(inputs, torch.Tensor):
        inputs = [inputs]
    inputs = list(inputs)
    if not inputs or not all(isinstance(t, torch.Tensor) and t.is_floating_point() for t in inputs):
        raise TypeError("inputs must be a floating-point tensor or a non-empty sequence of them")
    leaves = [t.detach().clone().requires_grad_(True) for t in inputs]
    value = f(*leaves)
    if not isinstance(value, torch.Tensor) or value.numel() != 1:
        raise RuntimeError("f must return a scalar tensor")
    analytic = torch.autograd.grad(value, leaves, allow_unused=True)
    worst = 0.0
    for k, (leaf, grad) in enumerate(zip(leaves, analytic)):
        grad = torch.zeros_like(leaf) if grad is None else grad.detach()

        def f_k(x_k: torch.Tensor, k: int = k) -> torch.Tensor:
            args = [x_k if j == k else leaf_j.detach() for j, leaf_j in enumerate(leaves)]
            return f(*args)

        numeric = numerical_gradient(f_k, leaf, eps)
        scale = torch.maximum(grad.abs(), numeric.abs()).clamp_min(1e-12)
        error = ((grad - numeric).abs() / scale).max().item()
        worst = max(worst, error)
        if verbose:
            print(f"input {k} {tuple(leaf.shape)}: max relative error {error:.2e}")
    if verbose:
        verdict = "PASS" if worst <= tolerance else "FAIL"
        print(f"{verdict}: max relative error {worst:.2e} (tolerance {tolerance:.0e})")
    return worst


def _detach(state):
    """Detach a hidden state (a tensor, or a tuple such as an LSTM's (h, c))."""
    if state is None or isinstance(state, torch.Tensor):
        return None if state is None else state.detach()
    return tuple(_detach(s) for s in state)


def truncated_bptt_epoch(
    model: Callable,
    data: tuple[torch.Tensor, torch.Tensor],
    k: int,
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    optimizer: torch.optim.Optimizer | None = None,
    state=None,
    max_norm: float | None = None,
) -> list[float]:
    """One pass of truncated BPTT over a long sequence, k steps at a time, stateful (lecture 4).

    ``data = (inputs, targets)`` is time-major, (T, B, ...) each. The sequence is cut into
    chunks of k steps; for each chunk: ``output, state = model(inputs_chunk, state)``,
    ``loss = loss_fn(output, targets_chunk)``, backward, an optional
    ``clip_grad_norm_(..., max_norm)`` and ``optimizer.step()``. The hidden state is carried
    into the next chunk (so the forward pass sees the whole past) but detached from the graph
    (so the backward pass stops at the chunk boundary: a loss in one chunk gives no gradient
    to anything before it). With k >= T there is one chunk and this is full BPTT.

    ``model`` is called like ``torch.nn.RNN``/``LSTM`` (``torch.nn.RNN(...)`` works as is; the
    state may be a tuple such as (h, c)). With ``optimizer=None`` nothing is zeroed or stepped:
    the chunks' gradients accumulate in ``.grad``, which shows what truncation does to them.

    Returns:
        The loss of every chunk, as floats.

    Example::

        losses = truncated_bptt_epoch(torch.nn.RNN(8, 16), (x, y), k=20,
                                      loss_fn=lambda out, y: ((out - y) ** 2).mean(), optimizer=opt)
    """
    check_int("k", k, minimum=1)  # the chunk length
    inputs, targets = data
    if inputs.shape[0] != targets.shape[0]:
        raise ValueError(
            f"inputs and targets must have the same number of time steps (dim 0), "
            f"got {inputs.shape[0]} and {targets.shape[0]}"
        )
    if max_norm is not None and optimizer is None:
        raise ValueError("max_norm needs an optimizer: clipping applies before each step")
    losses = []
    for start in range(0, inputs.shape[0], k):
        output, state = model(inputs[start : start + k], state)
        loss = loss_fn(output, targets[start : start + k])
        if optimizer is not None:
            optimizer.zero_grad()
        loss.backward()
        if optimizer is not None:
            if max_norm is not None:
                params = [p for group in optimizer.param_groups for p in group["params"]]
                clip_grad_norm_(params, max_norm)
            optimizer.step()
        state = _detach(state)
        losses.append(loss.item())
    return losses
