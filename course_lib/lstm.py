"""The LSTM from scratch: ``LSTMCell`` and ``LSTM`` (with ``proj_size``), equal to ``torch.nn``'s.

Serves lecture 5 (long short-term memory). One step, with torch's gate order i, f, g, o:

    i_t = sigmoid(W_ii x_t + b_ii + W_hi h_{t-1} + b_hi)      input gate
    f_t = sigmoid(W_if x_t + b_if + W_hf h_{t-1} + b_hf)      forget gate
    g_t = tanh(W_ig x_t + b_ig + W_hg h_{t-1} + b_hg)         candidate cell content
    o_t = sigmoid(W_io x_t + b_io + W_ho h_{t-1} + b_ho)      output gate
    c_t = f_t * c_{t-1} + i_t * g_t                            (* is the elementwise product)
    h_t = o_t * tanh(c_t)
    h_t = W_hr h_t                                             only when proj_size > 0

The four W_i* blocks are stacked, in that order, into one ``weight_ih`` (4H, H_in), and the
four W_h* blocks into one ``weight_hh`` (4H, H_out), so a single matmul computes all gates.
``LSTM(..., backward="manual")`` runs each layer with ``course_lib.lstm_manual.lstm_layer``,
whose backward pass is backpropagation through time written by hand (lecture 5).
"""

from typing import Optional, Union

import torch
from torch import Tensor
from torch.nn import functional as F

from course_lib.recurrent import RNNBase, RNNCellBase, State
from course_lib.validation import BadType, check_choice

BACKWARDS = ("autograd", "manual")


def lstm_step(gates: Tensor, c: Tensor) -> tuple[Tensor, Tensor, tuple[Tensor, Tensor, Tensor, Tensor]]:
    """The LSTM's equations, once: pre-activations and c_{t-1} -> (h_t, c_t, (i, f, g, o)).

    ``gates`` holds W_ih x_t + b_ih + W_hh h_{t-1} + b_hh, (..., 4H), in torch's gate order
    i, f, g, o; ``c`` is c_{t-1}, (..., H). Every LSTM in ``course_lib`` computes its step here
    (layers, cells, ``bptt.lstm_forward``, the gate traces); ``lstm_manual`` and
    ``checks.reference_lstm_cell`` are tested against it.
    """
    a_i, a_f, a_g, a_o = gates.chunk(4, -1)  # 4 x (..., H)
    i, f, g, o = torch.sigmoid(a_i), torch.sigmoid(a_f), torch.tanh(a_g), torch.sigmoid(a_o)
    c = f * c + i * g  # (..., H)
    h = o * torch.tanh(c)  # (..., H)
    return h, c, (i, f, g, o)


def _lstm_step(
    gx: Tensor,
    h: Tensor,
    c: Tensor,
    weight_hh: Tensor,
    bias_hh: Optional[Tensor],
    weight_hr: Optional[Tensor] = None,
) -> tuple[Tensor, Tensor]:
    """(h_{t-1}, c_{t-1}) -> (h_t, c_t), where gx = W_ih x_t + b_ih was computed beforehand."""
    gates = gx + F.linear(h, weight_hh, bias_hh)  # (B, 4H): all four gates in one matmul
    h, c, _ = lstm_step(gates, c)  # (B, H) each
    if weight_hr is not None:
        h = F.linear(h, weight_hr)  # (B, P)
    return h, c


class LSTMCell(RNNCellBase):
    """One LSTM step: (h, c) -> (h', c') with the gates i, f, g, o of the module docstring.

    Same arguments, parameters and shapes as ``torch.nn.LSTMCell``: ``weight_ih`` (4H, H_in),
    ``weight_hh`` (4H, H), ``bias_ih`` and ``bias_hh`` (4H,). Input (N, H_in) or (H_in,);
    ``hx`` a tuple (h, c) of (N, H) or (H,) tensors (zeros when omitted); returns (h', c').

    >>> cell = LSTMCell(10, 20)
    >>> input, hx, cx = torch.randn(3, 10), torch.randn(3, 20), torch.randn(3, 20)
    >>> hx, cx = cell(input, (hx, cx))
    """

    gates = 4

    def forward(
        self, input: Tensor, hx: Optional[tuple[Tensor, Tensor]] = None
    ) -> tuple[Tensor, Tensor]:
        x, batched = self._check_input(input)  # (B, H_in)
        if hx is not None and not isinstance(hx, (tuple, list)):
            raise TypeError(f"hx must be tuple (h, c) of two Tensors, got {type(hx).__name__}")
        if hx is not None and len(hx) != 2:
            raise BadType(
                "lstm_cell expects two hidden states: hx must be tuple (h, c) whose tensors must have "
                f"shape (N, {self.hidden_size}) or ({self.hidden_size},), got {len(hx)} entries"
            )
        h0, c0 = (None, None) if hx is None else hx
        h = self._check_state("hx[0] (h)", h0, x, batched)  # (B, H)
        c = self._check_state("hx[1] (c)", c0, x, batched)  # (B, H)
        gx = F.linear(x, self.weight_ih, self.bias_ih)  # (B, 4H)
        h, c = _lstm_step(gx, h, c, self.weight_hh, self.bias_hh)  # (B, H) each
        return (h, c) if batched else (h.squeeze(0), c.squeeze(0))


class LSTM(RNNBase):
    """A multi-layer LSTM, equal to ``torch.nn.LSTM`` (``proj_size`` included).

    Arguments, parameter names and shapes, inputs and outputs are torch's; see ``RNNBase``.
    With ``proj_size`` = P > 0 each layer has ``weight_hr_l{k}`` (P, H), h_t is projected to P
    features (H_out = P) and ``weight_hh_l{k}`` is (4H, P); the cell state c_t keeps H.

    ``backward`` (keyword only, not in torch) chooses how the gradients are computed:
    "autograd" (default) runs the step below under autograd; "manual" runs each layer and
    direction with ``course_lib.lstm_manual.lstm_layer``, whose backward pass is hand-written
    BPTT. "manual" covers dense input without projection only.

    >>> rnn = LSTM(10, 20, 2)
    >>> input, h0, c0 = torch.randn(5, 3, 10), torch.randn(2, 3, 20), torch.randn(2, 3, 20)
    >>> output, (hn, cn) = rnn(input, (h0, c0))
    """

    gates = 4
    state_names = ("h_0", "c_0")
    hidden_weights = ("weight_hh", "bias_hh", "weight_hr")

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        proj_size: int = 0,
        device: Optional[Union[torch.device, str]] = None,
        dtype: Optional[torch.dtype] = None,
        *,
        backward: str = "autograd",
    ) -> None:
        check_choice("backward", backward, BACKWARDS)
        if backward == "manual" and proj_size:
            raise ValueError(
                f"backward='manual' does not implement proj_size > 0 (got proj_size={proj_size}); "
                "use backward='autograd'"
            )
        super().__init__(
            input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
            proj_size, device, dtype,
        )
        self.backward = backward

    def _state_sizes(self) -> tuple[int, ...]:
        return (self.proj_size or self.hidden_size, self.hidden_size)  # h: H_out, c: H

    def _step(
        self,
        gx: Tensor,
        state: State,
        weight_hh: Tensor,
        bias_hh: Optional[Tensor],
        weight_hr: Optional[Tensor],
    ) -> State:
        h, c = _lstm_step(gx, state[0], state[1], weight_hh, bias_hh, weight_hr)
        return h, c  # (B, H_out), (B, H)

    def _run_direction(
        self,
        x: Tensor,
        state: State,
        layer: int,
        direction: int,
        batch_sizes: Optional[list[int]],
    ) -> tuple[Tensor, State]:
        if self.backward == "autograd":
            return super()._run_direction(x, state, layer, direction, batch_sizes)
        if batch_sizes is not None:
            raise ValueError(
                "backward='manual' takes a dense (L, N, H_in) input, not a PackedSequence; "
                "use backward='autograd' or pad the batch"
            )
        from course_lib.lstm_manual import lstm_layer

        names = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
        weight_ih, weight_hh, bias_ih, bias_hh = self._weights(names, layer, direction)
        if direction == 1:
            x = x.flip(0)  # (T, B, H_in), time reversed
        output, h, c = lstm_layer(x, state[0], state[1], weight_ih, weight_hh, bias_ih, bias_hh)
        if direction == 1:
            output = output.flip(0)  # (T, B, H), back in time order
        return output, (h, c)

    def extra_repr(self) -> str:
        return super().extra_repr() + ("" if self.backward == "autograd" else ", backward='manual'")
