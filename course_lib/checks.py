"""Test helpers for the assignments: checks whose failure messages say *what* is wrong.

The nbgrader test cells in ``solutions/`` call these instead of bare ``assert``s, so that a
student reads "rnn_forward output: expected shape (5, 3, 8), got (3, 5, 8)" or "your f and i
gates look swapped" rather than a one-word ``AssertionError``.

In the student's own notebook these checks run in the same kernel as the student's code, so
they work on references to torch and builtin functions captured when this module is first
imported, and turn tensors back into plain ``float64`` ``torch.Tensor`` objects: a cell that
replaces ``torch.allclose`` or returns a subclass with odd operators does not fool the
immediate feedback by accident. Grades do not depend on it: at grading time the tests run in
the grader's own process (``course_lib.grading.judge``), which gets only data back.

Mirrors d2l's ``check_shape`` and the tolerance-explicit comparisons of micrograd's tests.
"""

from __future__ import annotations

import builtins
import dis
import itertools
import types

import torch

# -- references captured at import time (see the module docstring for why) ----------------
_isinstance = builtins.isinstance
_type = builtins.type
_len = builtins.len
_tuple = builtins.tuple
_float = builtins.float
_getattr = builtins.getattr
_Tensor = torch.Tensor
_Parameter = torch.nn.Parameter
_as_subclass = torch.Tensor.as_subclass
_detach = torch.Tensor.detach
_clone = torch.Tensor.clone
_to = torch.Tensor.to
_tolist = torch.Tensor.tolist
_item = torch.Tensor.item
_numel = torch.Tensor.numel
_size = torch.Tensor.size
_as_tensor = torch.as_tensor
_abs = torch.abs
_sub = torch.sub
_mul = torch.mul
_add = torch.add
_gt = torch.gt
_isnan = torch.isnan
_isfinite = torch.isfinite
_logical_or = torch.logical_or
_logical_not = torch.logical_not
_any = torch.any
_sum = torch.sum
_amax = torch.amax
_argmax = torch.argmax
_unravel_index = torch.unravel_index
_sqrt = torch.sqrt
_zeros_like = torch.zeros_like
_sigmoid = torch.sigmoid
_tanh = torch.tanh
_matmul = torch.matmul
_chunk = torch.chunk
_cat = torch.cat
_randn = torch.randn
_Generator = torch.Generator
_float64 = torch.float64
_no_grad = torch.no_grad
_clamp = torch.clamp
_reshape = torch.reshape
_nan_to_num = torch.nan_to_num
_babs = builtins.abs
_bmax = builtins.max
_sorted = builtins.sorted
_any_b = builtins.any

__all__ = [
    "check_shape",
    "check_close",
    "check_from_scratch",
    "check_lstm_gate_order",
    "check_gru_cell",
    "check_detached",
    "check_clip_by_norm",
    "diagnose_rnn_backward",
    "reference_lstm_cell",
    "reference_gru_cell",
    "ScriptedDecoder",
    "ScriptedSeq2Seq",
]


def _plain(value, name: str) -> torch.Tensor:
    """``value`` as a plain, detached float64 tensor; a helpful error if it is not a tensor."""
    if not _isinstance(value, _Tensor):
        raise AssertionError(
            f"{name}: expected a torch.Tensor, got {_type(value).__name__}"
            + (" (did you forget a `return`?)" if value is None else "")
        )
    plain = _as_subclass(value, _Tensor)
    return _to(_detach(plain), _float64)


def _shape(value) -> tuple:
    return _tuple(_size(_as_subclass(value, _Tensor)))


def check_shape(actual, expected, name: str = "tensor") -> None:
    """Fail with "name: expected shape (…), got (…)" unless ``actual.shape == expected``.

    Only a plain ``torch.Tensor`` (or ``nn.Parameter``) passes: a subclass could override
    ``tolist``, ``__eq__`` or ``dtype`` and answer whatever a later assertion asks.
    """
    if not _isinstance(actual, _Tensor):
        raise AssertionError(
            f"{name}: expected a torch.Tensor of shape {_tuple(expected)}, got {_type(actual).__name__}"
            + (" (did you forget a `return`?)" if actual is None else "")
        )
    if _type(actual) is not _Tensor and _type(actual) is not _Parameter:
        raise AssertionError(
            f"{name}: expected a plain torch.Tensor, got the subclass {_type(actual).__name__}"
            " (return the tensor itself, not a wrapper around it)"
        )
    got, want = _shape(actual), _tuple(expected)
    if got == want:
        return
    hint = ""
    if _sorted(got) == _sorted(want) and _len(got) == _len(want):
        hint = (
            " (the same sizes in a different order: check which dimension is time, which is"
            " batch, and whether a weight needs transposing)"
        )
    raise AssertionError(f"{name}: expected shape {want}, got {got}{hint}")


def check_close(actual, expected, name: str = "tensor", atol: float = 1e-6, rtol: float = 1e-5) -> None:
    """Fail unless ``|actual - expected| <= atol + rtol * |expected|`` everywhere.

    The message names the largest error, where it is, both values there, and how many
    elements are off, e.g. "h_t: max abs error 0.31 at index (2, 4): got 0.12, expected
    0.43 (17 of 24 elements outside atol=1e-06, rtol=1e-05)".
    """
    want = _plain(expected, f"{name} (expected)")
    check_shape(actual, _shape(want), name)
    got = _plain(actual, name)
    if _item(_any(_isnan(got))) and not _item(_any(_isnan(want))):
        count = _item(_sum(_isnan(got)))
        raise AssertionError(f"{name}: contains NaN ({count} of {_numel(got)} elements)")
    if _numel(got) == 0:
        return
    err = _abs(_sub(got, want))
    bad = _gt(err, _add(_mul(_abs(want), rtol), atol))
    bad = _logical_or(bad, _logical_not(_isfinite(err)))
    if not _item(_any(bad)):
        return
    flat = _argmax(_reshape(_nan_to_num(err, nan=_float("inf")), (-1,)))
    where = _tuple(int(i) for i in _unravel_index(flat, _shape(got)))
    g = _item(got[where]) if where else _item(got)
    w = _item(want[where]) if where else _item(want)
    worst = _item(err[where]) if where else _item(err)
    raise AssertionError(
        f"{name}: max abs error {worst:.3g} at index {where}: got {g:.6g}, expected {w:.6g} "
        f"({_item(_sum(bad))} of {_numel(got)} elements outside atol={atol:g}, rtol={rtol:g})"
    )


# -- structural check: did the student write it, or call a ready-made one? ----------------

def _code_objects(code: types.CodeType):
    yield code
    for const in code.co_consts:
        if _isinstance(const, types.CodeType):
            yield from _code_objects(const)


def _is_banned(obj, banned_modules, banned_objects) -> bool:
    for banned in banned_objects:
        if obj is banned:
            return True
    if _isinstance(obj, types.ModuleType):
        modname = obj.__name__
    else:
        modname = _getattr(obj, "__module__", None) or ""
        if not _isinstance(modname, str):
            modname = ""
    if modname == "course_lib.checks":
        return False
    return _any_b(modname == m or modname.startswith(m + ".") for m in banned_modules)


def check_from_scratch(
    fn,
    name: str,
    banned_modules=("course_lib",),
    banned_attributes=(),
    banned_objects=(),
) -> None:
    """Fail if ``fn`` (or a helper function it calls) uses a ready-made implementation.

    Looks at the byte code: every global ``fn`` reads must not come from ``banned_modules``
    (default: ``course_lib``, whose library versions would make the exercise moot) or be one
    of ``banned_objects``, and no attribute in ``banned_attributes`` (e.g. ``"one_hot"`` for
    ``F.one_hot``) may be looked up. Helper functions defined in the notebook are followed.

    At grading time ``fn`` is the grader's proxy for the student's function, and the grader
    decides the same question from the student's source (``course_lib.grading.scratch``).
    """
    judged = _getattr(_type(fn), "__check_from_scratch__", None)
    if judged is not None:  # the grader's proxy: the grader reads the student's source
        return judged(fn, name, banned_modules, banned_attributes, banned_objects)
    if not _isinstance(fn, (types.FunctionType, types.MethodType, type)):
        raise AssertionError(f"{name}: expected a function defined in the notebook, got {_type(fn).__name__}")
    if _isinstance(fn, type):
        for base in fn.__mro__[1:]:
            if _is_banned(base, banned_modules, banned_objects):
                raise AssertionError(
                    f"{name}: builds on `{base.__module__}.{base.__qualname__}`, a ready-made "
                    "implementation; write the class yourself (subclass torch.nn.Module)"
                )
        functions = [v for v in vars(fn).values() if _isinstance(v, types.FunctionType)]
    else:
        functions = [_getattr(fn, "__func__", fn)]
    seen: set = set()
    while functions:
        func = functions.pop()
        if id(func) in seen:
            continue
        seen.add(id(func))
        mod = _getattr(func, "__module__", "") or ""
        if _isinstance(mod, str) and mod.startswith("course_lib"):
            raise AssertionError(
                f"{name}: `{func.__name__}` comes from {mod}, not from your notebook: "
                "write it yourself in the solution cell"
            )
        for code in _code_objects(func.__code__):
            for ins in dis.get_instructions(code):
                if ins.opname in ("LOAD_GLOBAL", "LOAD_NAME"):
                    gname = ins.argval
                    if gname in func.__globals__:
                        obj = func.__globals__[gname]
                    elif hasattr(builtins, gname):
                        continue
                    else:
                        continue
                    if _is_banned(obj, banned_modules, banned_objects):
                        raise AssertionError(
                            f"{name}: uses `{gname}`, a ready-made implementation; the point of "
                            "this exercise is to write it yourself with basic tensor operations"
                        )
                    if _isinstance(obj, types.FunctionType) and obj.__globals__ is func.__globals__:
                        functions.append(obj)
                elif ins.opname in ("LOAD_ATTR", "LOAD_METHOD", "IMPORT_NAME", "IMPORT_FROM"):
                    attr = str(ins.argval)
                    if attr in banned_attributes or _any_b(
                        attr == m or attr.startswith(m + ".") for m in banned_modules
                    ):
                        raise AssertionError(
                            f"{name}: uses `{attr}`, a ready-made implementation; the point of "
                            "this exercise is to write it yourself with basic tensor operations"
                        )


# -- references written with the captured operations -------------------------------------
# Deliberately a second copy of lstm.lstm_step and gru.gru_step: a student's cell can replace
# torch.sigmoid in the kernel, and these must not follow it. tests/test_equations.py holds them
# equal to the one source.

def reference_lstm_cell(x, h, c, w_ih, w_hh, b_ih, b_hh):
    """PyTorch's LSTMCell (gates i, f, g, o in the rows of the weights), in float64."""
    gates = _add(_add(_matmul(x, w_ih.T), b_ih), _add(_matmul(h, w_hh.T), b_hh))  # (B, 4H)
    i, f, g, o = _chunk(gates, 4, 1)  # each (B, H)
    c_new = _add(_mul(_sigmoid(f), c), _mul(_sigmoid(i), _tanh(g)))  # (B, H)
    h_new = _mul(_sigmoid(o), _tanh(c_new))  # (B, H)
    return h_new, c_new


def reference_gru_cell(x, h, w_ih, w_hh, b_ih, b_hh):
    """PyTorch's GRUCell (gates r, z, n in the rows of the weights), in float64."""
    r_x, z_x, n_x = _chunk(_add(_matmul(x, w_ih.T), b_ih), 3, 1)  # each (B, H)
    r_h, z_h, n_h = _chunk(_add(_matmul(h, w_hh.T), b_hh), 3, 1)  # each (B, H)
    r = _sigmoid(_add(r_x, r_h))
    z = _sigmoid(_add(z_x, z_h))
    n = _tanh(_add(n_x, _mul(r, n_h)))
    return _add(_mul(_sub(1.0, z), n), _mul(z, h))  # (B, H)


def _random(gen, *shape):
    return _randn(*shape, generator=gen, dtype=_float64)


def _max_error(a, b) -> float:
    return _item(_amax(_abs(_sub(a, b))))


_LSTM_GATES = ("i", "f", "g", "o")


def check_lstm_gate_order(lstm_cell_forward, name: str = "lstm_cell_forward") -> None:
    """Call the student's cell on random inputs; if the result matches PyTorch's LSTM with the
    gate blocks in some other order, say which gates look swapped."""
    gen = _Generator().manual_seed(1234)
    B, I, H = 3, 4, 5
    x, h, c = _random(gen, B, I), _random(gen, B, H), _random(gen, B, H)
    w_ih, w_hh = _random(gen, 4 * H, I), _random(gen, 4 * H, H)
    b_ih, b_hh = _random(gen, 4 * H), _random(gen, 4 * H)
    with _no_grad():
        out = lstm_cell_forward(x, h, c, w_ih, w_hh, b_ih, b_hh)
    if not _isinstance(out, (tuple, list)) or _len(out) != 2:
        raise AssertionError(f"{name}: expected to return a tuple (h_new, c_new), got {_type(out).__name__}")
    h_new, c_new = _plain(out[0], f"{name} h_new"), _plain(out[1], f"{name} c_new")
    check_shape(h_new, (B, H), f"{name} h_new")
    check_shape(c_new, (B, H), f"{name} c_new")
    want_h, want_c = reference_lstm_cell(x, h, c, w_ih, w_hh, b_ih, b_hh)
    if _max_error(h_new, want_h) < 1e-6 and _max_error(c_new, want_c) < 1e-6:
        return
    for perm in itertools.permutations(range(4)):
        if perm == (0, 1, 2, 3):
            continue
        # the student's cell reads block k as gate perm[k]: rebuild weights accordingly
        def reorder(w):
            blocks = _chunk(w, 4, 0)
            return _cat([blocks[perm.index(k)] for k in range(4)], 0)

        ph, pc = reference_lstm_cell(x, h, c, reorder(w_ih), reorder(w_hh), reorder(b_ih), reorder(b_hh))
        if _max_error(h_new, ph) < 1e-6 and _max_error(c_new, pc) < 1e-6:
            moved = [k for k in range(4) if perm[k] != k]
            if _len(moved) == 2:
                a, b = (_LSTM_GATES[k] for k in moved)
                what = f"your {a} and {b} gates look swapped"
            else:
                what = "your gates are in the order " + ", ".join(_LSTM_GATES[perm[k]] for k in range(4))
            raise AssertionError(
                f"{name}: {what}: PyTorch stacks the gate blocks of weight_ih, weight_hh and the "
                "biases in the order i, f, g, o (input, forget, cell candidate, output)"
            )
    # no permutation fits: the usual other mistakes
    hints = []
    if _max_error(c_new, want_c) < 1e-6:
        hints.append("c_new is right but h_new is not: h_new = o * tanh(c_new)")
    else:
        hints.append("c_new is wrong: c_new = f * c + i * g with f, i, o = sigmoid(...) and g = tanh(...)")
    raise AssertionError(
        f"{name}: does not match torch.nn.LSTMCell on random inputs "
        f"(max error h {_max_error(h_new, want_h):.3g}, c {_max_error(c_new, want_c):.3g}); " + "; ".join(hints)
    )


def check_gru_cell(gru_cell_forward, name: str = "gru_cell_forward") -> None:
    """Call the student's GRU cell on random inputs and name the usual mistake if it is off."""
    gen = _Generator().manual_seed(4321)
    B, I, H = 3, 4, 5
    x, h = _random(gen, B, I), _random(gen, B, H)
    w_ih, w_hh = _random(gen, 3 * H, I), _random(gen, 3 * H, H)
    b_ih, b_hh = _random(gen, 3 * H), _random(gen, 3 * H)
    with _no_grad():
        out = gru_cell_forward(x, h, w_ih, w_hh, b_ih, b_hh)
    got = _plain(out, f"{name} output")
    check_shape(got, (B, H), f"{name} output")
    want = reference_gru_cell(x, h, w_ih, w_hh, b_ih, b_hh)
    if _max_error(got, want) < 1e-6:
        return
    r_x, z_x, n_x = _chunk(_add(_matmul(x, w_ih.T), b_ih), 3, 1)
    r_h, z_h, n_h = _chunk(_add(_matmul(h, w_hh.T), b_hh), 3, 1)
    W_hn, b_hn = _chunk(w_hh, 3, 0)[2], _chunk(b_hh, 3, 0)[2]
    r, z = _sigmoid(_add(r_x, r_h)), _sigmoid(_add(z_x, z_h))
    n = _tanh(_add(n_x, _mul(r, n_h)))
    variants = {
        "you used h_new = z * n + (1 - z) * h; PyTorch uses h_new = (1 - z) * n + z * h": _add(
            _mul(z, n), _mul(_sub(1.0, z), h)
        ),
        "your r and z gates look swapped: PyTorch stacks the gate blocks in the order r, z, n": None,
        "the reset gate must multiply (W_hn h + b_hn), bias included: n = tanh(W_in x + b_in + r * (W_hn h + b_hn))": _add(
            _mul(_sub(1.0, z), _tanh(_add(_add(n_x, _mul(r, _matmul(h, W_hn.T))), b_hn))), _mul(z, h)
        ),
        "the reset gate must multiply W_hn h, not h before the matrix product (that is the "
        "original Cho et al. variant, not PyTorch's)": _add(
            _mul(_sub(1.0, z), _tanh(_add(_add(n_x, _matmul(_mul(r, h), W_hn.T)), b_hn))), _mul(z, h)
        ),
    }

    def swap_rz(w):
        a, b, c = _chunk(w, 3, 0)
        return _cat([b, a, c], 0)

    variants["your r and z gates look swapped: PyTorch stacks the gate blocks in the order r, z, n"] = (
        reference_gru_cell(x, h, swap_rz(w_ih), swap_rz(w_hh), swap_rz(b_ih), swap_rz(b_hh))
    )
    for message, value in variants.items():
        if _max_error(got, value) < 1e-6:
            raise AssertionError(f"{name}: {message}")
    raise AssertionError(
        f"{name}: does not match torch.nn.GRUCell on random inputs (max error {_max_error(got, want):.3g})"
    )


def _tensors(state):
    if _isinstance(state, _Tensor):
        yield state
    elif _isinstance(state, (tuple, list)):
        for item in state:
            yield from _tensors(item)


def check_detached(state, name: str = "hidden state") -> None:
    """Fail if a hidden state carried between truncated-BPTT chunks still has autograd history."""
    tensors = list(_tensors(state))
    if not tensors:
        raise AssertionError(f"{name}: expected a tensor or a tuple of tensors, got {_type(state).__name__}")
    for k, t in enumerate(tensors):
        if t.grad_fn is not None or t.requires_grad:
            raise AssertionError(
                f"{name}: tensor {k} still carries autograd history (grad_fn={_type(t.grad_fn).__name__ if t.grad_fn is not None else None}): "
                "you forgot to detach the hidden state between chunks; call .detach() on it, "
                "otherwise each backward() reaches back into earlier chunks (that is not truncated "
                "BPTT, and the second backward fails with 'Trying to backward through the graph a second time')"
            )


def check_clip_by_norm(clip_fn, name: str = "clip_grad_norm") -> None:
    """Run ``clip_fn(grads, max_norm)`` on two gradients and tell norm clipping from value clipping.

    ``clip_fn`` takes a list of tensors, rescales them in place if their joint L2 norm is above
    ``max_norm``, and returns the norm before clipping.
    """
    g1 = _as_tensor([[3.0, 0.5], [0.0, -0.25]], dtype=_float64)
    g2 = _as_tensor([4.0, -0.5], dtype=_float64)
    grads = [_clone(g1), _clone(g2)]
    max_norm = 1.0
    total = _item(_sqrt(_add(_sum(_mul(g1, g1)), _sum(_mul(g2, g2)))))
    returned = clip_fn(grads, max_norm)
    scale = max_norm / (total + 1e-6)
    want = [_mul(g1, scale), _mul(g2, scale)]
    got = [_plain(g, f"{name} gradient {k}") for k, g in enumerate(grads)]
    if _max_error(got[0], g1) == 0 and _max_error(got[1], g2) == 0:
        raise AssertionError(
            f"{name}: the gradients were not changed in place (their norm {total:.3g} is above "
            f"max_norm={max_norm}); multiply them in place, e.g. g.mul_(scale)"
        )
    clamped = [_clamp(g1, -max_norm, max_norm), _clamp(g2, -max_norm, max_norm)]
    if _max_error(got[0], clamped[0]) < 1e-6 and _max_error(got[1], clamped[1]) < 1e-6:
        raise AssertionError(
            f"{name}: you clipped by value instead of by norm: every entry was clamped to "
            f"[-{max_norm}, {max_norm}], which changes the gradient's direction; rescale all "
            "gradients together by max_norm / total_norm instead"
        )
    per_tensor = [
        _mul(g, max_norm / (_item(_sqrt(_sum(_mul(g, g)))) + 1e-6)) for g in (g1, g2)
    ]
    if _max_error(got[0], per_tensor[0]) < 1e-5 and _max_error(got[1], per_tensor[1]) < 1e-5:
        raise AssertionError(
            f"{name}: you rescaled each gradient by its own norm; the total norm is taken over "
            "all gradients together (as if they were concatenated into one vector)"
        )
    for k in range(2):
        check_close(got[k], want[k], f"{name} gradient {k} after clipping", atol=1e-5, rtol=1e-4)
    if returned is None:
        raise AssertionError(f"{name}: should return the total norm before clipping, got None")
    ret = _float(_item(_as_tensor(returned)) if _isinstance(returned, _Tensor) else returned)
    if _babs(ret - total) > 1e-5 * _bmax(1.0, total):
        raise AssertionError(
            f"{name}: returned {ret:.6g}, expected the total norm before clipping, {total:.6g}"
        )


def _rnn_bptt(x, h0, params, outputs, grad_outputs, carry=True, h_of_step="previous",
              tanh_slope=True, transpose_hh=False) -> dict:
    """Manual BPTT of ``h_t = tanh(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh)``, right by default;
    each flag switches on one of the usual mistakes so that a wrong answer can be recognised."""
    w_ih, w_hh = _plain(params["weight_ih"], "weight_ih"), _plain(params["weight_hh"], "weight_hh")
    x, h0 = _plain(x, "x"), _plain(h0, "h0")
    outputs, grad_outputs = _plain(outputs, "outputs"), _plain(grad_outputs, "grad_outputs")
    grads = {"weight_ih": _zeros_like(w_ih), "weight_hh": _zeros_like(w_hh),
             "bias_ih": _zeros_like(w_ih[:, 0]), "bias_hh": _zeros_like(w_ih[:, 0])}
    dx = _zeros_like(x)  # (T, B, I)
    dh_next = _zeros_like(h0)  # (B, H)
    for t in range(_shape(x)[0] - 1, -1, -1):
        h_prev = outputs[t - 1] if t > 0 else h0  # (B, H)
        dh = _add(grad_outputs[t], dh_next) if carry else grad_outputs[t]  # (B, H)
        da = _mul(dh, _sub(1.0, _mul(outputs[t], outputs[t]))) if tanh_slope else dh  # (B, H)
        grads["weight_ih"] = _add(grads["weight_ih"], _matmul(da.T, x[t]))  # (H, I)
        grads["weight_hh"] = _add(grads["weight_hh"], _matmul(da.T, outputs[t] if h_of_step == "current" else h_prev))
        grads["bias_ih"] = _add(grads["bias_ih"], _sum(da, 0))
        grads["bias_hh"] = _add(grads["bias_hh"], _sum(da, 0))
        dx[t] = _matmul(da, w_ih)  # (B, I)
        dh_next = _matmul(da, w_hh.T if transpose_hh else w_hh)  # (B, H)
    grads["h0"], grads["x"] = dh_next, dx
    return grads


_RNN_BACKWARD_MISTAKES = (
    ({"carry": False},
     "you dropped the gradient that flows back from step t+1: the gradient into h_t is "
     "grad_outputs[t] plus dh_next = (dL/da_{t+1}) @ W_hh, carried backwards through the loop"),
    ({"h_of_step": "current"},
     "dweight_hh uses h_t; the pre-activation a_t = ... + h_{t-1} W_hh^T multiplies the *previous* "
     "state, so dweight_hh += da_t^T @ h_{t-1} (h0 at t = 0)"),
    ({"tanh_slope": False},
     "you left out the tanh derivative: dL/da_t = dh_t * (1 - h_t**2)"),
    ({"transpose_hh": True},
     "dh_next = da @ W_hh.T is transposed: h_{t-1} enters as h_{t-1} @ W_hh.T, so its gradient is da @ W_hh"),
)


def diagnose_rnn_backward(got, x, h0, params, outputs, grad_outputs, name: str = "rnn_backward") -> None:
    """Fail with the usual mistake's name if the gradients ``got`` (a dict like
    ``rnn_backward``'s) are exactly what that mistake computes; otherwise do nothing, and let
    the comparison with autograd say which gradient is off."""
    if not _isinstance(got, dict):
        return
    right = _rnn_bptt(x, h0, params, outputs, grad_outputs)
    for flags, message in _RNN_BACKWARD_MISTAKES:
        wrong = _rnn_bptt(x, h0, params, outputs, grad_outputs, **flags)
        differs = [k for k in right if _max_error(right[k], wrong[k]) > 1e-9]
        matches = all(
            k in got and _isinstance(got[k], _Tensor) and _shape(got[k]) == _shape(wrong[k])
            and _max_error(_plain(got[k], k), wrong[k]) < 1e-8
            for k in differs
        )
        if differs and matches:
            raise AssertionError(f"{name}: {message}")


# -- test doubles ---------------------------------------------------------------------------

class ScriptedDecoder:
    """Stands in for ``Seq2Seq.decoder``: at step i every row outputs ``script[:, i]``.

    It records what it is fed in ``fed`` (one list of token ids per step), so that a test can
    tell whether a decoding loop feeds back its own previous outputs. Its attention at step
    i is one-hot on source position ``i % S``.
    """

    def __init__(self, script: torch.Tensor, S: int, vocab_size: int = 12) -> None:
        self.script, self.S, self.vocab_size, self.fed = script, S, vocab_size, []

    def step(self, y_prev, s_prev, keys, mask):
        i = _len(self.fed)
        self.fed.append(_tolist(y_prev))
        B = self.script.shape[0]
        logits = torch.full((B, self.vocab_size), -5.0)  # (B, V)
        logits[torch.arange(B), self.script[:, min(i, self.script.shape[1] - 1)]] = 5.0
        alpha = torch.zeros(B, self.S)  # (B, S)
        alpha[:, i % self.S] = 1.0
        return logits, s_prev, alpha


class ScriptedSeq2Seq(torch.nn.Module):
    """A ``Seq2Seq`` stand-in whose decoder follows a script (see :class:`ScriptedDecoder`)."""

    def __init__(self, script: torch.Tensor, S: int) -> None:
        super().__init__()
        self.decoder = ScriptedDecoder(script, S)

    def encode(self, src, src_lengths):
        mask = torch.arange(src.shape[1]) < src_lengths.unsqueeze(1)  # (B, S)
        return torch.zeros(src.shape[0], src.shape[1], 4), mask, torch.zeros(src.shape[0], 3)
