"""What RNN, LSTM and GRU share: parameters, validation, and the loop over layers and time.

The lectures that show what it adds to a single cell:

- lecture 2, the weight matrices of an RNN, listed by ``parameter_table``;
- lecture 6, stacked and bidirectional layers (``GRU(..., num_layers=2, bidirectional=True)``);
- lecture 7, ``PackedSequence`` input.

Mirrors ``torch.nn.RNNBase`` / ``torch.nn.RNNCellBase``.

A recurrent layer applies one *cell step* at every time step t = 1 .. T:

    state_t = step(x_t, state_{t-1})        state = (h,) for RNN and GRU, (h, c) for LSTM

Every cell step starts with the same two matrix products, ``W_ih x_t + b_ih`` and
``W_hh h_{t-1} + b_hh``; the cells differ only in what they do with them. So this file holds
everything that does not depend on the cell, read top to bottom:

1. argument checks, from ``course_lib.validation`` (``input_size`` etc. must be positive ints,
   ``dropout`` in [0, 1), ...);
2. ``RNNCellBase``: the parameters of one cell (``weight_ih``, ``weight_hh``, ``bias_ih``,
   ``bias_hh``) and the checks on a cell's input and state;
3. ``RNNBase``: the parameters of a layer stack under torch's names (``weight_ih_l{k}``,
   ``weight_hh_l{k}``, ``bias_ih_l{k}``, ``bias_hh_l{k}``, the ``_reverse`` suffix for the
   backward direction, ``weight_hr_l{k}`` for an LSTM's projection) and the driver:
   layers x directions, the time loop, dropout between layers, ``batch_first``, unbatched input
   and ``PackedSequence`` input;
4. ``parameter_table``: a printable list of a module's parameter names and shapes;
   ``time_forward_backward``: the median time of a layer's forward and backward pass.

The cell-specific part lives in ``course_lib.rnn``, ``course_lib.lstm`` and ``course_lib.gru``:
each says how many gate blocks its weight matrices stack (``gates``) and how one step updates the
state (``_step``). Initialisation is torch's: every parameter ~ U(-1/sqrt(H), 1/sqrt(H)).
"""

import math
import statistics
import time
import warnings
from collections.abc import Callable, Hashable, Mapping, Sequence
from typing import Any, Optional, Union

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from course_lib.validation import (
    BadDimensions, BadType, BadValue, check_bool, check_float_tensor, check_int, check_positive_int,
    check_probability, check_same_dtype, check_tensor,
)

State = tuple[Tensor, ...]  # (h,) for RNN and GRU, (h, c) for LSTM


# ----------------------------------------------------------------------------------------------
# 1. argument checks


def _is_packed(input: Any) -> bool:
    """A PackedSequence (torch's or ``course_lib.packing``'s) is a tuple with ``batch_sizes``."""
    if isinstance(input, Tensor):
        return False
    return hasattr(input, "data") and hasattr(input, "batch_sizes")


def _init_uniform(module: nn.Module, hidden_size: int) -> None:
    """torch's initialisation: every weight and bias ~ U(-1/sqrt(H), 1/sqrt(H))."""
    bound = 1.0 / math.sqrt(hidden_size)
    for weight in module.parameters():
        nn.init.uniform_(weight, -bound, bound)


# ----------------------------------------------------------------------------------------------
# 2. one cell


class RNNCellBase(nn.Module):
    """Parameters and argument checks shared by ``RNNCell``, ``LSTMCell`` and ``GRUCell``.

    The weight matrices stack one block per gate, in torch's order, so a single matmul computes
    every gate: ``weight_ih`` is (gates * H, H_in), ``weight_hh`` is (gates * H, H), and the
    biases are (gates * H,).
    """

    gates: int = 1  # gate blocks stacked in each weight matrix: RNN 1, GRU 3, LSTM 4

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        device: Optional[Union[torch.device, str]] = None,
        dtype: Optional[torch.dtype] = None,
    ) -> None:
        super().__init__()
        check_positive_int("input_size", input_size)
        check_positive_int("hidden_size", hidden_size)
        check_bool("bias", bias)
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.bias = bias
        factory = {"device": device, "dtype": dtype}
        gate_size = self.gates * hidden_size
        self.weight_ih = nn.Parameter(torch.empty(gate_size, input_size, **factory))
        self.weight_hh = nn.Parameter(torch.empty(gate_size, hidden_size, **factory))
        if bias:
            self.bias_ih = nn.Parameter(torch.empty(gate_size, **factory))
            self.bias_hh = nn.Parameter(torch.empty(gate_size, **factory))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Draw every parameter from U(-1/sqrt(hidden_size), 1/sqrt(hidden_size)), as torch does."""
        _init_uniform(self, self.hidden_size)

    def extra_repr(self) -> str:
        return f"{self.input_size}, {self.hidden_size}" + ("" if self.bias else ", bias=False")

    def _check_input(self, input: Any) -> tuple[Tensor, bool]:
        """Return the input as (B, H_in) and whether it was batched."""
        expected = f"(N, H_in) or (H_in,) with H_in = input_size = {self.input_size}"
        check_tensor("input", input, expected)
        if input.dim() not in (1, 2):
            raise BadDimensions(
                f"{type(self).__name__}: Expected input to be 1D or 2D, got {input.dim()}D instead: "
                f"input must have shape {expected}"
            )
        if input.size(-1) != self.input_size:
            raise BadValue(
                f"input has inconsistent input_size: got {input.size(-1)}, expected {self.input_size} "
                f"(input must have shape {expected}, got {tuple(input.shape)})"
            )
        check_same_dtype("input", input, self.weight_ih)
        batched = input.dim() == 2
        return (input if batched else input.unsqueeze(0)), batched  # (B, H_in)

    def _check_state(self, name: str, state: Any, reference: Tensor, batched: bool) -> Tensor:
        """Return a cell state as (B, H), zeros when ``state`` is None."""
        batch = reference.size(0)
        if state is None:
            return reference.new_zeros(batch, self.hidden_size)  # (B, H)
        shape = (batch, self.hidden_size) if batched else (self.hidden_size,)
        check_float_tensor(name, state, str(shape))
        if state.dim() not in (1, 2):
            raise BadDimensions(
                f"{type(self).__name__}: Expected {name} to be 1D or 2D, got {state.dim()}D instead: "
                f"{name} must have shape {shape} (N, hidden_size)"
            )
        if tuple(state.shape) != shape:
            raise BadValue(
                f"{name} must have shape {shape} (N, hidden_size) for this input, "
                f"got {tuple(state.shape)}"
            )
        check_same_dtype(name, state, self.weight_hh)
        return state if batched else state.unsqueeze(0)  # (B, H)


# ----------------------------------------------------------------------------------------------
# 3. a stack of layers, each run over time in one or two directions


class RNNBase(nn.Module):
    """Multi-layer, optionally bidirectional recurrent network; subclasses supply the cell step.

    For layer l and direction d (0 forward, 1 backward, suffix ``_reverse``) the parameters are

        weight_ih_l{l}  (gates * H, H_in)  for l = 0, else (gates * H, D * H_out)
        weight_hh_l{l}  (gates * H, H_out)
        bias_ih_l{l}, bias_hh_l{l}  (gates * H,)          when bias=True
        weight_hr_l{l}  (H_out, H)                         LSTM with proj_size > 0 only

    where D = 2 if bidirectional else 1 and H_out = proj_size or hidden_size. Layer l > 0 reads
    the concatenated outputs of both directions of layer l - 1, after dropout (training only).

    Unlike ``torch.nn.RNNBase`` it takes no ``mode`` string: the subclass fixes the cell.
    """

    gates: int = 1  # gate blocks stacked in each weight matrix: RNN 1, GRU 3, LSTM 4
    state_names: tuple[str, ...] = ("h_0",)  # LSTM: ("h_0", "c_0")
    hidden_weights: tuple[str, ...] = ("weight_hh", "bias_hh")  # what ``_step`` needs per step

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
    ) -> None:
        super().__init__()
        check_positive_int("input_size", input_size)
        check_positive_int("hidden_size", hidden_size)
        check_positive_int("num_layers", num_layers)
        check_bool("bias", bias)
        check_bool("batch_first", batch_first)
        check_probability("dropout", dropout)
        check_bool("bidirectional", bidirectional)
        check_int("proj_size", proj_size, minimum=0)  # 0: no projection
        if proj_size >= hidden_size:
            raise ValueError(
                f"proj_size must be smaller than hidden_size = {hidden_size}, got {proj_size}"
            )
        if dropout > 0 and num_layers == 1:
            warnings.warn(
                "dropout option adds dropout after all but last recurrent layer, so non-zero "
                f"dropout expects num_layers greater than 1, but got dropout={dropout} and "
                f"num_layers={num_layers}"
            )
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.bias = bias
        self.batch_first = batch_first
        self.dropout = float(dropout)
        self.bidirectional = bidirectional
        self.proj_size = proj_size
        self.num_directions = 2 if bidirectional else 1

        factory = {"device": device, "dtype": dtype}
        gate_size = self.gates * hidden_size
        out_size = proj_size or hidden_size  # H_out
        for layer in range(num_layers):
            layer_input = input_size if layer == 0 else out_size * self.num_directions
            for suffix in ("", "_reverse")[: self.num_directions]:
                shapes = {"weight_ih": (gate_size, layer_input), "weight_hh": (gate_size, out_size)}
                if bias:
                    shapes.update(bias_ih=(gate_size,), bias_hh=(gate_size,))
                if proj_size:
                    shapes["weight_hr"] = (proj_size, hidden_size)
                for name, shape in shapes.items():
                    self.register_parameter(
                        f"{name}_l{layer}{suffix}", nn.Parameter(torch.empty(shape, **factory))
                    )
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Draw every parameter from U(-1/sqrt(hidden_size), 1/sqrt(hidden_size)), as torch does."""
        _init_uniform(self, self.hidden_size)

    def flatten_parameters(self) -> None:
        """No-op, for drop-in use: torch packs weights into one buffer for cuDNN; we never do."""

    def extra_repr(self) -> str:
        text = f"{self.input_size}, {self.hidden_size}"
        if self.proj_size:
            text += f", proj_size={self.proj_size}"
        defaults = {"num_layers": 1, "bias": True, "batch_first": False, "dropout": 0.0,
                    "bidirectional": False}
        for name, default in defaults.items():
            if getattr(self, name) != default:
                text += f", {name}={getattr(self, name)}"
        return text

    def _state_sizes(self) -> tuple[int, ...]:
        """Feature size of each state tensor: (H_out,), for LSTM (H_out, H)."""
        return (self.proj_size or self.hidden_size,)

    def _step(self, gx: Tensor, state: State, *hidden_weights: Optional[Tensor]) -> State:
        """One time step: ``gx`` = W_ih x_t + b_ih (B, gates * H), ``state`` at t-1 -> state at t."""
        raise NotImplementedError

    # -- forward --------------------------------------------------------------------------------

    def forward(self, input: Any, hx: Any = None) -> tuple[Any, Any]:
        """Run the network over a whole sequence.

        Args:
            input: (L, H_in) unbatched, (L, N, H_in) or with ``batch_first`` (N, L, H_in),
                or a ``PackedSequence`` of variable-length sequences.
            hx: initial state(s) of shape (D * num_layers, N, H_out), or (D * num_layers, H_out)
                for unbatched input; a tuple ``(h_0, c_0)`` for LSTM. Zeros when None.

        Returns:
            ``(output, h_n)`` (LSTM: ``(output, (h_n, c_n))``): output is (L, N, D * H_out)
            (batch_first: (N, L, D * H_out)), or a PackedSequence if the input was one; h_n
            holds the state after each sequence's last valid step, in the input's batch order.
        """
        if _is_packed(input):
            check_float_tensor("input.data", input.data, f"(sum of lengths, {self.input_size})")
            if input.data.dim() != 2 or input.data.size(1) != self.input_size:
                raise BadValue(
                    "input (PackedSequence) must have data of shape (sum of lengths, H_in) with "
                    f"H_in = input_size = {self.input_size}, got {tuple(input.data.shape)}"
                )
            check_same_dtype("input", input.data, self.weight_ih_l0)
            x = input.data  # (N, H_in), time-major: batch_sizes[0] rows of t=0, then t=1, ...
            batch_sizes = [int(b) for b in input.batch_sizes]
            states = self._check_hx(hx, batch_sizes[0], batched=True)
            if states is not None and input.sorted_indices is not None:
                states = tuple(s.index_select(1, input.sorted_indices) for s in states)
        else:
            x, batched = self._check_input(input)  # (L, B, H_in)
            batch_sizes = None
            states = self._check_hx(hx, x.size(1), batched)
        if states is None:
            batch = x.size(1) if batch_sizes is None else batch_sizes[0]
            layers = self.num_directions * self.num_layers
            states = tuple(x.new_zeros(layers, batch, size) for size in self._state_sizes())

        output, final = self._run_layers(x, states, batch_sizes)

        if batch_sizes is not None:
            output = type(input)(output, input.batch_sizes, input.sorted_indices,
                                 input.unsorted_indices)
            if input.unsorted_indices is not None:
                final = tuple(s.index_select(1, input.unsorted_indices) for s in final)
        elif not batched:
            output = output.squeeze(1)  # (L, D * H_out)
            final = tuple(s.squeeze(1) for s in final)  # (D * num_layers, H_out)
        elif self.batch_first:
            output = output.transpose(0, 1)  # (N, L, D * H_out)
        return output, (final if len(final) > 1 else final[0])

    def _check_input(self, input: Any) -> tuple[Tensor, bool]:
        """Return a dense input as (L, B, H_in) and whether it was batched (torch's order of checks)."""
        name = type(self).__name__
        expected = f"(L, H_in), (L, N, H_in) or (N, L, H_in) with H_in = {self.input_size}"
        check_tensor("input", input, expected)
        shape = (
            f"input must have shape (L, H_in) unbatched, or (L, N, H_in) "
            f"({'N, L, H_in' if self.batch_first else 'batch_first=False'}) batched, "
            f"with H_in = input_size = {self.input_size}; got {tuple(input.shape)}"
        )
        if input.dim() not in (2, 3):
            raise BadDimensions(f"{name}: Expected input to be 2D or 3D, got {input.dim()}D instead: {shape}")
        check_same_dtype("input", input, self.weight_ih_l0)
        if input.size(-1) != self.input_size:
            raise BadValue(
                f"input.size(-1) must be equal to input_size. Expected {self.input_size}, got "
                f"{input.size(-1)}: {shape}"
            )
        batched = input.dim() == 3
        x = input if batched else input.unsqueeze(1)  # (L, B, H_in) or (B, L, H_in)
        if batched and self.batch_first:
            x = x.transpose(0, 1)  # (L, B, H_in)
        if x.size(0) == 0:
            raise BadValue("Expected sequence length to be larger than 0 in RNN: input has no time steps")
        return x, batched

    def _check_hx(self, hx: Any, batch: int, batched: bool) -> Optional[State]:
        """Return the initial states as a tuple of (D * num_layers, B, size) tensors, or None."""
        if hx is None:
            return None
        dims = "batched 3-D" if batched else "unbatched 2-D"
        layers = self.num_directions * self.num_layers
        shapes = [(layers, batch, size) if batched else (layers, size) for size in self._state_sizes()]
        if len(self.state_names) == 1:
            hx = (hx,)
        elif not isinstance(hx, (tuple, list)) or len(hx) != len(self.state_names):
            raise BadType(
                f"lstm expects two hidden states: hx must be a tuple (h_0, c_0) whose tensors must "
                f"have shape {shapes[0]} and {shapes[1]}, got {type(hx).__name__}"
                + (f" of {len(hx)}" if isinstance(hx, (tuple, list)) else "")
                + f". For {dims} input, hx and cx should also be {len(shapes[0])}-D"
            )
        for name, state, shape in zip(self.state_names, hx, shapes):
            check_float_tensor(f"hx ({name})", state, str(shape))
        meaning = "(D * num_layers, N, H)" if batched else "(D * num_layers, H), unbatched"
        expected = [
            f"hx ({name}) must have shape {shape} {meaning}, got {tuple(state.shape)}"
            for name, state, shape in zip(self.state_names, hx, shapes)
        ]
        if any(state.dim() != len(shapes[0]) for state in hx):
            both = "hx" if len(hx) == 1 else "hx and cx"
            raise BadDimensions(
                f"For {dims} input, {both} should also be {len(shapes[0])}-D: " + "; ".join(expected)
            )
        states = []
        for message, state, shape in zip(expected, hx, shapes):
            if tuple(state.shape) != shape:
                raise BadValue(message)
            check_same_dtype("hx", state, self.weight_hh_l0)
            states.append(state if batched else state.unsqueeze(1))  # (D * num_layers, B, size)
        return tuple(states)

    def _run_layers(
        self, x: Tensor, states: State, batch_sizes: Optional[list[int]]
    ) -> tuple[Tensor, State]:
        """Run every layer and direction; x is (T, B, H_in), or (N, H_in) when packed."""
        finals = []
        for layer in range(self.num_layers):
            if layer > 0:  # dropout between layers, never after the last one; identity in eval
                x = F.dropout(x, self.dropout, self.training)
            outputs = []
            for direction in range(self.num_directions):
                k = layer * self.num_directions + direction  # this layer-direction's row of h_0
                output, final = self._run_direction(
                    x, tuple(s[k] for s in states), layer, direction, batch_sizes
                )
                outputs.append(output)  # (T, B, H_out) or (N, H_out)
                finals.append(final)
            x = torch.cat(outputs, -1) if len(outputs) > 1 else outputs[0]  # (T, B, D * H_out)
        return x, tuple(torch.stack(parts) for parts in zip(*finals))  # (D * num_layers, B, size)

    def _weights(self, names: Sequence[str], layer: int, direction: int) -> list[Optional[Tensor]]:
        """This layer-direction's parameters by name; None for those not registered (no bias)."""
        suffix = "_reverse" if direction else ""
        return [getattr(self, f"{name}_l{layer}{suffix}", None) for name in names]

    def _run_direction(
        self,
        x: Tensor,
        state: State,
        layer: int,
        direction: int,
        batch_sizes: Optional[list[int]],
    ) -> tuple[Tensor, State]:
        """Run one layer in one direction over all time steps."""
        weight_ih, bias_ih = self._weights(("weight_ih", "bias_ih"), layer, direction)
        hidden_weights = self._weights(self.hidden_weights, layer, direction)
        # W_ih x_t + b_ih does not depend on the previous state, so it is computed for all time
        # steps at once: one big (T*B, H_in) x (H_in, gates*H) matmul instead of T small ones.
        # Only W_hh h_{t-1} must wait for the previous step, and it too is one matmul for all
        # gates at once (the gate blocks are stacked in weight_hh): fewer, larger matmuls are
        # faster, and the loop body reads like the lecture's equations.
        gx = F.linear(x, weight_ih, bias_ih)  # (T, B, gates*H), or (N, gates*H) when packed
        # T tensors of (B_t, gates*H); B_t = B unless packed
        steps = gx.unbind(0) if batch_sizes is None else gx.split(batch_sizes)
        scan = _scan_forward if direction == 0 else _scan_reverse
        outputs, final = scan(self._step, steps, state, hidden_weights)
        if batch_sizes is None:
            return torch.stack(outputs), final  # (T, B, H_out)
        return torch.cat(outputs), final  # (N, H_out), in the packed order


def _scan_forward(
    step: Callable[..., State],
    steps: Sequence[Tensor],
    state: State,
    hidden_weights: Sequence[Optional[Tensor]],
) -> tuple[list[Tensor], State]:
    """Apply ``step`` for t = 0 .. T-1 and return every h_t and the final state.

    Packed input is sorted longest first, so when the batch shrinks from one step to the next it
    is the *last* rows whose sequences have ended: their state is set aside as their final state.
    """
    outputs, ended = [], []
    for gx in steps:  # gx: (B_t, gates*H)
        batch = gx.size(0)
        if batch < state[0].size(0):
            ended.append(tuple(s[batch:] for s in state))
            state = tuple(s[:batch] for s in state)  # (B_t, H)
        state = step(gx, state, *hidden_weights)  # (B_t, H) each
        outputs.append(state[0])
    if ended:
        state = tuple(torch.cat(parts) for parts in zip(state, *reversed(ended)))  # (B, H)
    return outputs, state


def _scan_reverse(
    step: Callable[..., State],
    steps: Sequence[Tensor],
    initial: State,
    hidden_weights: Sequence[Optional[Tensor]],
) -> tuple[list[Tensor], State]:
    """Apply ``step`` for t = T-1 .. 0 and return every h_t (in time order) and the final state.

    With packed input the batch grows as we walk back in time: a sequence joins, starting from
    its own initial state, at its own last step.
    """
    outputs = []
    state = tuple(s[: steps[-1].size(0)] for s in initial)  # (B_T, H)
    for gx in reversed(steps):  # gx: (B_t, gates*H)
        batch = gx.size(0)
        if batch > state[0].size(0):
            state = tuple(torch.cat((s, s0[s.size(0) : batch])) for s, s0 in zip(state, initial))
        state = step(gx, state, *hidden_weights)  # (B_t, H) each
        outputs.append(state[0])
    outputs.reverse()
    return outputs, state


# ----------------------------------------------------------------------------------------------
# 4. the lecture's table of weight matrices


def parameter_table(module: nn.Module) -> str:
    """A table of every parameter's name, shape and number of entries, with the total.

    For the lecture "weight matrices in an RNN": works on ours and on torch's modules alike.

    >>> print(parameter_table(torch.nn.RNN(3, 4)))
    name          shape   count
    weight_ih_l0  (4, 3)     12
    weight_hh_l0  (4, 4)     16
    bias_ih_l0    (4,)        4
    bias_hh_l0    (4,)        4
    total                    36
    """
    if not isinstance(module, nn.Module):
        raise TypeError(f"module must be a torch.nn.Module, got {type(module).__name__}")
    rows = [("name", "shape", "count")]
    rows += [(name, str(tuple(p.shape)), str(p.numel())) for name, p in module.named_parameters()]
    rows += [("total", "", str(sum(p.numel() for p in module.parameters())))]
    name_width = max(len(row[0]) for row in rows)
    shape_width = max(len(row[1]) for row in rows)
    count_width = max(len(row[2]) for row in rows)
    lines = [
        f"{name:<{name_width}}  {shape:<{shape_width}}  {count:>{count_width}}".rstrip()
        for name, shape, count in rows
    ]
    return "\n".join(lines)



def time_forward_backward(
    runs: Mapping[Hashable, tuple], repeats: int = 5, num_threads: int | None = None
) -> dict[Hashable, float]:
    """Median milliseconds of one forward and backward pass, ``layer(x)[0].sum().backward()``.

    For lecture 6's comparison of ``GRU`` and ``LSTM`` layers. ``runs`` maps a key to
    ``(layer, x)`` or ``(layer, x, onednn)``; ``onednn=False`` switches PyTorch's oneDNN
    (MKL-DNN) CPU kernels off for that layer's runs, which takes ``torch.nn.LSTM`` off its fused
    CPU kernel (the setting is restored after every run). After one untimed warm-up round,
    ``repeats`` rounds each time every run once, in turn, so that a moment when another process
    slows the machine down hits all of them alike; the median over the rounds ignores such a
    moment when it is short. ``num_threads`` sets torch's CPU threads for the measurement (and
    restores them after): with ``1``, a second process on the machine takes a share of the time
    instead of stalling every parallel operation. Returns ``{key: median ms}``.
    """
    if isinstance(repeats, bool) or not isinstance(repeats, int) or repeats < 1:
        raise ValueError(f"repeats must be a positive int, got {repeats!r}")
    if num_threads is not None and (isinstance(num_threads, bool) or not isinstance(num_threads, int)
                                    or num_threads < 1):
        raise ValueError(f"num_threads must be a positive int or None, got {num_threads!r}")
    checked = {}
    for key, run in runs.items():
        if not isinstance(run, tuple) or len(run) not in (2, 3):
            raise ValueError(f"runs[{key!r}] must be (layer, x) or (layer, x, onednn)")
        if not isinstance(run[0], nn.Module):
            raise TypeError(f"runs[{key!r}]: the layer must be a torch.nn.Module, got {type(run[0]).__name__}")
        checked[key] = (run[0], run[1], bool(run[2]) if len(run) == 3 else True)
    times: dict[Hashable, list[float]] = {key: [] for key in checked}
    enabled, threads = torch.backends.mkldnn.enabled, torch.get_num_threads()
    try:
        if num_threads is not None:
            torch.set_num_threads(num_threads)
        for round_ in range(repeats + 1):
            for key, (layer, x, onednn) in checked.items():
                torch.backends.mkldnn.enabled = enabled and onednn
                start = time.perf_counter()
                layer(x)[0].sum().backward()
                if round_:  # round 0 is the warm-up
                    times[key].append(time.perf_counter() - start)
                torch.backends.mkldnn.enabled = enabled
    finally:
        torch.backends.mkldnn.enabled = enabled
        torch.set_num_threads(threads)
        for layer, _, _ in checked.values():
            layer.zero_grad(set_to_none=True)
    return {key: statistics.median(t) * 1000.0 for key, t in times.items()}
