"""The GRU from scratch: ``GRUCell`` and ``GRU``, equal to ``torch.nn``'s.

Serves lecture 6 (gated recurrent units). One step, with torch's gate order r, z, n:

    r_t = sigmoid(W_ir x_t + b_ir + W_hr h_{t-1} + b_hr)           reset gate
    z_t = sigmoid(W_iz x_t + b_iz + W_hz h_{t-1} + b_hz)           update gate
    n_t = tanh(W_in x_t + b_in + r_t * (W_hn h_{t-1} + b_hn))      new content
    h_t = (1 - z_t) * n_t + z_t * h_{t-1}                          (* is the elementwise product)

Two forms of the new content. Cho et al. (2014), the lecture slides and d2l apply the reset gate to
the state *before* the matmul:

    n_t = tanh(W_in x_t + W_hn (r_t * h_{t-1}) + b_n)               paper / d2l form

torch (CPU and CUDA) and cuDNN compute the form above, with r_t applied *after* the matmul to
W_hn h_{t-1} + b_hn (cuDNN and ONNX call it "linear before reset"). The two are different
functions of the same weights, so only the torch form can match ``torch.nn.GRU``. Its advantage
is speed: W_hn h_{t-1} no longer waits for r_t, so one matmul computes W_h h_{t-1} for all
three gates at once. Also note the update gate z_t keeps the *old* state (z_t = 1 copies h).
"""

from typing import Optional, Union

import torch
from torch import Tensor
from torch.nn import functional as F

from course_lib.recurrent import RNNBase, RNNCellBase, State


def gru_step(gx: Tensor, gh: Tensor, h: Tensor) -> Tensor:
    """The GRU's equations, once (torch's form): h_{t-1} -> h_t.

    ``gx`` = W_ih x_t + b_ih and ``gh`` = W_hh h_{t-1} + b_hh, (..., 3H) each, in torch's gate
    order r, z, n. Every GRU in ``course_lib`` computes its step here;
    ``checks.reference_gru_cell`` is tested against it.
    """
    x_r, x_z, x_n = gx.chunk(3, -1)  # 3 x (..., H)
    h_r, h_z, h_n = gh.chunk(3, -1)  # 3 x (..., H)
    r = torch.sigmoid(x_r + h_r)  # (..., H)
    z = torch.sigmoid(x_z + h_z)  # (..., H)
    n = torch.tanh(x_n + r * h_n)  # (..., H)
    return torch.lerp(n, h, z)  # (..., H): n + z * (h - n) = (1 - z) * n + z * h


def _gru_step(gx: Tensor, h: Tensor, weight_hh: Tensor, bias_hh: Optional[Tensor]) -> Tensor:
    """h_{t-1} -> h_t, where gx = W_ih x_t + b_ih was computed beforehand."""
    gh = F.linear(h, weight_hh, bias_hh)  # (B, 3H): W_h h + b_h for all three gates at once
    return gru_step(gx, gh, h)  # (B, H)


class GRUCell(RNNCellBase):
    """One GRU step: h -> h' with the gates r, z, n of the module docstring (torch's form).

    Same arguments, parameters and shapes as ``torch.nn.GRUCell``: ``weight_ih`` (3H, H_in),
    ``weight_hh`` (3H, H), ``bias_ih`` and ``bias_hh`` (3H,). Input (N, H_in) or (H_in,),
    ``hx`` (N, H) or (H,) (zeros when omitted); returns h' of the same shape as ``hx``.

    >>> cell = GRUCell(10, 20)
    >>> input, hx = torch.randn(3, 10), torch.randn(3, 20)
    >>> hx = cell(input, hx)
    """

    gates = 3

    def forward(self, input: Tensor, hx: Optional[Tensor] = None) -> Tensor:
        x, batched = self._check_input(input)  # (B, H_in)
        h = self._check_state("hx", hx, x, batched)  # (B, H)
        gx = F.linear(x, self.weight_ih, self.bias_ih)  # (B, 3H)
        h = _gru_step(gx, h, self.weight_hh, self.bias_hh)  # (B, H)
        return h if batched else h.squeeze(0)  # (B, H) or (H,)


class GRU(RNNBase):
    """A multi-layer GRU, equal to ``torch.nn.GRU``.

    Arguments, parameter names and shapes, inputs and outputs are torch's; see ``RNNBase``.
    ``weight_ih_l{k}`` stacks W_ir, W_iz, W_in (3H, H_in) and ``weight_hh_l{k}`` stacks
    W_hr, W_hz, W_hn (3H, H).

    >>> rnn = GRU(10, 20, 2)
    >>> input, h0 = torch.randn(5, 3, 10), torch.randn(2, 3, 20)
    >>> output, hn = rnn(input, h0)
    """

    gates = 3

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        device: Optional[Union[torch.device, str]] = None,
        dtype: Optional[torch.dtype] = None,
    ) -> None:
        super().__init__(
            input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
            device=device, dtype=dtype,
        )

    def _step(
        self, gx: Tensor, state: State, weight_hh: Tensor, bias_hh: Optional[Tensor]
    ) -> State:
        return (_gru_step(gx, state[0], weight_hh, bias_hh),)  # (B, H)
