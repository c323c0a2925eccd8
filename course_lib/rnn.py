"""The vanilla (Elman) RNN from scratch: ``RNNCell`` and ``RNN``, equal to ``torch.nn``'s.

Serves lecture 2 (recurrent neural networks). One step of the recurrence is

    h_t = tanh(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh)        (or relu instead of tanh)

The lecture slides write the same thing as h_t = tanh(W h_{t-1} + U x_t + b): torch keeps two bias
vectors, b_ih and b_hh, whose sum plays the role of b. The multi-layer, bidirectional and packed
machinery is shared with LSTM and GRU in ``course_lib.recurrent``.
"""

from typing import Any, Optional, Union

import torch
from torch import Tensor
from torch.nn import functional as F

from course_lib.recurrent import RNNBase, RNNCellBase, State

_ACTIVATIONS = {"tanh": torch.tanh, "relu": torch.relu}


def _check_nonlinearity(nonlinearity: Any) -> None:
    if nonlinearity not in _ACTIVATIONS:
        raise ValueError(f"Unknown nonlinearity {nonlinearity!r}: nonlinearity must be 'tanh' or 'relu'")


def _rnn_step(
    gx: Tensor, h: Tensor, weight_hh: Tensor, bias_hh: Optional[Tensor], nonlinearity: str
) -> Tensor:
    """h_t = act(gx + W_hh h_{t-1} + b_hh), where gx = W_ih x_t + b_ih was computed beforehand."""
    return _ACTIVATIONS[nonlinearity](gx + F.linear(h, weight_hh, bias_hh))  # (B, H)


class RNNCell(RNNCellBase):
    """One step of an Elman RNN: h' = tanh(W_ih x + b_ih + W_hh h + b_hh) (or relu).

    Same arguments, parameters and shapes as ``torch.nn.RNNCell``: ``weight_ih`` (H, H_in),
    ``weight_hh`` (H, H), ``bias_ih`` and ``bias_hh`` (H,). Input (N, H_in) or (H_in,),
    ``hx`` (N, H) or (H,) (zeros when omitted); returns h' of the same shape as ``hx``.

    >>> cell = RNNCell(10, 20)
    >>> input, hx = torch.randn(3, 10), torch.randn(3, 20)
    >>> hx = cell(input, hx)
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        nonlinearity: str = "tanh",
        device: Optional[Union[torch.device, str]] = None,
        dtype: Optional[torch.dtype] = None,
    ) -> None:
        _check_nonlinearity(nonlinearity)
        super().__init__(input_size, hidden_size, bias, device, dtype)
        self.nonlinearity = nonlinearity

    def extra_repr(self) -> str:
        extra = "" if self.nonlinearity == "tanh" else f", nonlinearity={self.nonlinearity}"
        return super().extra_repr() + extra

    def forward(self, input: Tensor, hx: Optional[Tensor] = None) -> Tensor:
        x, batched = self._check_input(input)  # (B, H_in)
        h = self._check_state("hx", hx, x, batched)  # (B, H)
        gx = F.linear(x, self.weight_ih, self.bias_ih)  # (B, H)
        h = _rnn_step(gx, h, self.weight_hh, self.bias_hh, self.nonlinearity)  # (B, H)
        return h if batched else h.squeeze(0)  # (B, H) or (H,)


class RNN(RNNBase):
    """A multi-layer Elman RNN with tanh or relu, equal to ``torch.nn.RNN``.

    For each layer and time step: h_t = tanh(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh), where x_t
    is the input for the first layer and the previous layer's h_t (after dropout) above it.
    Arguments, parameter names and shapes, inputs and outputs are torch's; see ``RNNBase``.

    >>> rnn = RNN(10, 20, 2)
    >>> input, h0 = torch.randn(5, 3, 10), torch.randn(2, 3, 20)
    >>> output, hn = rnn(input, h0)
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        nonlinearity: str = "tanh",
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        device: Optional[Union[torch.device, str]] = None,
        dtype: Optional[torch.dtype] = None,
    ) -> None:
        _check_nonlinearity(nonlinearity)
        super().__init__(
            input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
            device=device, dtype=dtype,
        )
        self.nonlinearity = nonlinearity

    def _step(
        self, gx: Tensor, state: State, weight_hh: Tensor, bias_hh: Optional[Tensor]
    ) -> State:
        return (_rnn_step(gx, state[0], weight_hh, bias_hh, self.nonlinearity),)  # (B, H)
