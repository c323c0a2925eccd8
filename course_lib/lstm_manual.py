"""An LSTM layer whose backward pass is hand-written BPTT (lecture 5).

``lstm_layer`` runs one direction of one LSTM layer over a dense (T, B, I) input with
torch's weight layout (``weight_ih`` (4H, I), gates i, f, g, o) and torch's equations

    i_t = σ(W_ii x_t + b_ii + W_hi h_{t-1} + b_hi)      f_t = σ(W_if x_t + ... )
    g_t = tanh(W_ig x_t + b_ig + W_hg h_{t-1} + b_hg)    o_t = σ(W_io x_t + ... )
    c_t = f_t ⊙ c_{t-1} + i_t ⊙ g_t                      h_t = o_t ⊙ tanh(c_t)

It is a ``torch.autograd.Function``: the forward runs without building an autograd graph and
saves only what the backward needs (the activated gates, the cell states and tanh(c_t), the
hidden states), and the backward walks t = T-1, ..., 0 with the lecture's BPTT equations

    δh_t   = ∂L/∂h_t (from the output) + W_hh^T δa_{t+1}        (the recurrent path)
    δa_o   = δh_t ⊙ tanh(c_t) ⊙ o(1-o)
    δc_t   = δc_{t+1} ⊙ f_{t+1} + δh_t ⊙ o ⊙ (1 - tanh²(c_t))    (the additive cell path)
    δa_i   = δc_t ⊙ g ⊙ i(1-i)    δa_f = δc_t ⊙ c_{t-1} ⊙ f(1-f)    δa_g = δc_t ⊙ i ⊙ (1-g²)

and only after the loop forms the weight gradients as two big matmuls over all steps,
∇W_ih = Σ_t δa_t x_t^T and ∇W_hh = Σ_t δa_t h_{t-1}^T.

How it gets close to ``torch.nn.LSTM`` (which on CPU calls a fused RNN kernel): the input
projection of all T steps is one matmul hoisted out of the loop; each step does one ``addmm_``
into a preallocated (T, B, 4H) buffer and a handful of in-place elementwise ops; g uses
tanh(a) = 2σ(2a) - 1 (its weight rows are doubled once), so one sigmoid covers all four gates;
and the gates are kept internally in the order (o, i, f, g) rather than torch's (i, f, g, o), so
that the three gates driven by δc_t are one contiguous slice in the backward. The weights are
permuted into that order on entry and their gradients permuted back on exit. The matmuls bound
its speed; ``benchmarks/lstm_vs_torch.py`` measures it against torch's.
"""

import torch
from torch.autograd.function import once_differentiable


def _ofig_order(hidden_size: int, device: torch.device) -> torch.Tensor:
    """Row indices that reorder torch's (i, f, g, o) gate blocks into (o, i, f, g)."""
    H = hidden_size
    return torch.cat(
        [
            torch.arange(3 * H, 4 * H, device=device),
            torch.arange(0, 3 * H, device=device),
        ]
    )


def _ifgo_order(hidden_size: int, device: torch.device) -> torch.Tensor:
    """Row indices that put (o, i, f, g) gate blocks back into torch's (i, f, g, o)."""
    H = hidden_size
    return torch.cat(
        [
            torch.arange(H, 4 * H, device=device),
            torch.arange(0, H, device=device),
        ]
    )


class _ManualLSTM(torch.autograd.Function):
    """Forward and hand-written backward of one LSTM layer; see the module docstring."""

    @staticmethod
    def forward(ctx, x, h0, c0, weight_ih, weight_hh, bias_ih, bias_hh):
        T, B, I = x.shape
        H = weight_hh.shape[1]
        order = _ofig_order(H, x.device)
        w_ih = weight_ih.index_select(0, order)  # (4H, I) gates as (o, i, f, g)
        w_hh = weight_hh.index_select(0, order)  # (4H, H)

        # tanh(a) = 2σ(2a) - 1, so doubling the g rows lets one in-place sigmoid cover all four
        # gates of a step (torch's CPU tanh is several times slower than its sigmoid).
        scale = torch.ones(4 * H, 1, dtype=x.dtype, device=x.device)
        scale[3 * H :] = 2.0
        # The input projection does not depend on h, so all T steps are one matmul.
        gates = torch.empty(T, B, 4 * H, dtype=x.dtype, device=x.device)
        x_flat = x.reshape(T * B, I)  # (T*B, I)
        if bias_ih is None:
            torch.mm(x_flat, (w_ih * scale).t(), out=gates.view(T * B, 4 * H))  # (T*B, 4H)
        else:
            bias = (bias_ih + bias_hh).index_select(0, order) * scale[:, 0]  # (4H,)
            torch.addmm(bias, x_flat, (w_ih * scale).t(), out=gates.view(T * B, 4 * H))

        hs = torch.empty(T + 1, B, H, dtype=x.dtype, device=x.device)  # h_{-1}=h0, h_0, ...
        cs = torch.empty(T + 1, B, H, dtype=x.dtype, device=x.device)  # c_{-1}=c0, c_0, ...
        tanh_c = torch.empty(T, B, H, dtype=x.dtype, device=x.device)
        hs[0] = h0
        cs[0] = c0
        w_hh_t = (w_hh * scale).t()  # (H, 4H)
        # Views made once, outside the loop: slicing inside it costs a call per slice per step.
        step_gates = gates.unbind(0)
        o, i, f, g = (gates[..., j * H : (j + 1) * H].unbind(0) for j in range(4))
        h, c, tc = hs.unbind(0), cs.unbind(0), tanh_c.unbind(0)
        for t in range(T):
            step_gates[t].addmm_(h[t], w_hh_t)  # (B, 4H) pre-activations, g rows doubled
            step_gates[t].sigmoid_()  # (B, 4H) o, i, f and σ(2 a_g)
            torch.mul(f[t], c[t], out=c[t + 1])  # (B, H)
            c[t + 1].addcmul_(i[t], g[t], value=2).sub_(i[t])  # (B, H) + i (2σ(2a_g) - 1)
            torch.tanh(c[t + 1], out=tc[t])  # (B, H)
            torch.mul(o[t], tc[t], out=h[t + 1])  # (B, H) h_t = o tanh(c_t)
        gates[..., 3 * H :].mul_(2).sub_(1)  # (T, B, H) g = tanh(a_g) for the backward

        ctx.save_for_backward(x, w_ih, w_hh, gates, hs, cs, tanh_c)
        ctx.has_bias = bias_ih is not None
        return hs[1:], hs[T].clone(), cs[T].clone()

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_output, grad_hn, grad_cn):
        x, w_ih, w_hh, gates, hs, cs, tanh_c = ctx.saved_tensors
        T, B, I = x.shape
        H = w_hh.shape[1]

        # Local derivatives of every step at once (vectorised over T, outside the loop):
        # k[..., gate] multiplies δh_t (for o) or δc_t (for i, f, g) to give δa_gate. The loop
        # then turns k into δa_t in place, so the backward fills one (T, B, 4H) buffer, not two
        # (each fresh buffer costs its first-touch page faults again in every backward).
        o, i, f, g = (gates[..., j * H : (j + 1) * H] for j in range(4))
        k = torch.empty_like(gates)  # (T, B, 4H) in (o, i, f, g)
        sig = gates[..., : 3 * H]  # (T, B, 3H) o, i, f
        torch.addcmul(sig, sig, sig, value=-1, out=k[..., : 3 * H])  # σ' = s - s² for o, i, f
        k[..., :H].mul_(tanh_c)  # tanh(c_t) o(1-o)
        k[..., H : 2 * H].mul_(g)  # g i(1-i)
        k[..., 2 * H : 3 * H].mul_(cs[:-1])  # c_{t-1} f(1-f)
        torch.mul(g, g, out=k[..., 3 * H :]).mul_(i)  # i g²
        torch.sub(i, k[..., 3 * H :], out=k[..., 3 * H :])  # i (1 - g²)
        dc_from_h = torch.mul(tanh_c, tanh_c).mul_(o)  # (T, B, H) o tanh²(c_t)
        torch.sub(o, dc_from_h, out=dc_from_h)  # o (1 - tanh²(c_t))

        dh = grad_output[T - 1] + grad_hn  # (B, H)
        dc = grad_cn.clone()  # (B, H)
        dc_rows = dc.unsqueeze(1)  # (B, 1, H) a view that follows dc's in-place updates
        step_k = k.unbind(0)
        d_o = k[..., :H].unbind(0)  # k_o, becomes δa_o
        d_ifg = k[..., H:].unflatten(-1, (3, H)).unbind(0)  # (B, 3, H) k_ifg, becomes δa_ifg
        k_c, f_t, g_out = dc_from_h.unbind(0), f.unbind(0), grad_output.unbind(0)
        for t in range(T - 1, -1, -1):
            dc.addcmul_(dh, k_c[t])  # (B, H) δc_t
            d_o[t].mul_(dh)  # (B, H) δa_o
            d_ifg[t].mul_(dc_rows)  # (B, 3, H) δa_i, δa_f, δa_g
            dc.mul_(f_t[t])  # (B, H) δc flowing to c_{t-1}
            if t > 0:
                torch.addmm(g_out[t - 1], step_k[t], w_hh, out=dh)  # (B, H) δh_{t-1}
            else:
                dh = torch.mm(step_k[0], w_hh)  # (B, H) δh0
        dgates = k  # (T, B, 4H) δa_t in (o, i, f, g)

        back = _ifgo_order(H, x.device)
        dgates_flat = dgates.view(T * B, 4 * H)  # (T*B, 4H)
        grad_x = grad_w_ih = grad_w_hh = grad_b = None
        if ctx.needs_input_grad[0]:
            grad_x = torch.mm(dgates_flat, w_ih).view(T, B, I)  # (T, B, I)
        if ctx.needs_input_grad[3]:
            grad_w_ih = torch.mm(dgates_flat.t(), x.reshape(T * B, I))  # (4H, I)
            grad_w_ih = grad_w_ih.index_select(0, back)
        if ctx.needs_input_grad[4]:
            grad_w_hh = torch.mm(dgates_flat.t(), hs[:-1].reshape(T * B, H))  # (4H, H)
            grad_w_hh = grad_w_hh.index_select(0, back)
        if ctx.has_bias and (ctx.needs_input_grad[5] or ctx.needs_input_grad[6]):
            grad_b = dgates_flat.sum(0).index_select(0, back)  # (4H,)
        grad_bias_ih = grad_b if ctx.needs_input_grad[5] else None
        grad_bias_hh = grad_b.clone() if ctx.needs_input_grad[6] else None  # no aliasing
        return grad_x, dh, dc, grad_w_ih, grad_w_hh, grad_bias_ih, grad_bias_hh


def lstm_layer(
    x: torch.Tensor,
    h0: torch.Tensor,
    c0: torch.Tensor,
    weight_ih: torch.Tensor,
    weight_hh: torch.Tensor,
    bias_ih: torch.Tensor | None = None,
    bias_hh: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """One direction of one LSTM layer with hand-written BPTT as its backward (lecture 5).

    Args:
        x: input, (T, B, I).
        h0, c0: initial hidden and cell state, (B, H) each.
        weight_ih: (4H, I), weight_hh: (4H, H), rows in torch's gate order i, f, g, o.
        bias_ih, bias_hh: (4H,) each, or both None for a layer without bias.

    Returns:
        ``(output, h_n, c_n)``: output (T, B, H) holds h_t for every t, h_n and c_n are (B, H).
        Values and gradients equal ``torch.nn.LSTM`` loaded with the same weights.

    Example::

        out, h_n, c_n = lstm_layer(x, h0, c0, lstm.weight_ih_l0, lstm.weight_hh_l0,
                                   lstm.bias_ih_l0, lstm.bias_hh_l0)
    """
    tensors = {"x": x, "h0": h0, "c0": c0, "weight_ih": weight_ih, "weight_hh": weight_hh}
    for name, value in tensors.items():
        if not isinstance(value, torch.Tensor):
            raise TypeError(f"{name} must be a torch.Tensor, got {type(value).__name__}")
    if x.dim() != 3:
        raise ValueError(f"x must have shape (T, B, I), got {tuple(x.shape)}")
    T, B, I = x.shape
    if T < 1:
        raise ValueError("x must have at least one time step (T >= 1)")
    if weight_hh.dim() != 2 or weight_hh.shape[0] != 4 * weight_hh.shape[1]:
        raise ValueError(f"weight_hh must have shape (4H, H), got {tuple(weight_hh.shape)}")
    H = weight_hh.shape[1]
    if tuple(weight_ih.shape) != (4 * H, I):
        raise ValueError(f"weight_ih must have shape {(4 * H, I)}, got {tuple(weight_ih.shape)}")
    for name, state in (("h0", h0), ("c0", c0)):
        if tuple(state.shape) != (B, H):
            raise ValueError(f"{name} must have shape {(B, H)}, got {tuple(state.shape)}")
    if (bias_ih is None) != (bias_hh is None):
        raise ValueError("bias_ih and bias_hh must both be given or both be None")
    if bias_ih is not None:
        for name, bias in (("bias_ih", bias_ih), ("bias_hh", bias_hh)):
            if not isinstance(bias, torch.Tensor):
                raise TypeError(f"{name} must be a torch.Tensor, got {type(bias).__name__}")
            if tuple(bias.shape) != (4 * H,):
                raise ValueError(f"{name} must have shape {(4 * H,)}, got {tuple(bias.shape)}")
        tensors.update(bias_ih=bias_ih, bias_hh=bias_hh)
    for name, value in tensors.items():
        if value.dtype != x.dtype or value.device != x.device:
            raise TypeError(
                f"{name} must have x's dtype and device ({x.dtype}, {x.device}), "
                f"got ({value.dtype}, {value.device})"
            )
    return _ManualLSTM.apply(x, h0, c0, weight_ih, weight_hh, bias_ih, bias_hh)
