"""The executor's side of grading: answer the judge's requests inside the student's kernel.

While the judge runs one test cell, the kernel runs ``serve(path, token)``: it connects to
the judge's socket and answers requests until the judge says ``done``. The judge starts it
with a message on a comm (``kernel_launcher.JUDGE_COMM``), not with a cell to execute. A
request is a pickle written by the judge (see ``wire.py``); a reply is data only, or a
handle for anything else.

- ``resolve(names)``: the current value of each name in the notebook's namespace.
- ``call(target, args, kwargs, grad_enabled)``: call a handle; the reply has the result and,
  for every mutable thing in the arguments (``wire.slots``), its state after the call
  (call by copy-restore: the judge writes it back into its own objects). When tensors that
  need gradients were passed, the autograd graph is kept for ``backward``.
- ``backward(call, grads)``: gradients of that call's inputs for the given output gradients.
- ``getattr`` / ``getitem`` / ``len`` / ``iter`` / ``str`` on a handle.

Everything here runs in the student's process, so nothing here is trusted: the judge reads
replies with the strict decoder and decides every verdict itself. The executor never holds a
reference to anything in the judge: it receives copies, never callbacks.
"""

from __future__ import annotations

import socket
import traceback

import torch

from course_lib.grading import wire

_handles: dict[int, object] = {}
_ids: dict[int, int] = {}
_graphs: dict[int, tuple[list, list]] = {}


def tensor_from_bytes(dtype: str, shape: tuple, raw: bytes, requires_grad: bool,
                      parameter: bool) -> torch.Tensor:
    """A tensor (or ``nn.Parameter``) the judge sent; one that needed gradients there is a
    leaf that needs them here, so that ``backward`` can return its gradient."""
    t = wire.from_bytes(wire.DTYPES[dtype], shape, raw)
    if parameter:
        return torch.nn.Parameter(t, requires_grad=requires_grad)
    return t.requires_grad_(requires_grad)


def _handle(value) -> wire.Handle:
    key = id(value)
    if key not in _ids:
        _ids[key] = len(_handles) + 1
        _handles[_ids[key]] = value
    return wire.Handle(_ids[key], type(value).__name__, callable(value))


def _data_only(value) -> wire.Handle:
    raise TypeError("not data")


def _state(slot):
    """What the judge writes back into its own copy of ``slot`` after a call."""
    if isinstance(slot, torch.Tensor):
        return None if slot.requires_grad else slot
    if isinstance(slot, torch.Generator):
        return slot.get_state()
    if isinstance(slot, torch.optim.Optimizer):
        return slot.state_dict()
    state = {}
    if isinstance(slot, torch.nn.Module):
        state["state_dict"] = list(slot.state_dict().items())
        state["training"] = slot.training
    attrs = {}
    for key, value in vars(slot).items():
        if key.startswith("_") or isinstance(value, torch.nn.Module):
            continue
        try:
            wire.encode_reply({"v": value}, _data_only)
        except (TypeError, ValueError):
            continue
        attrs[key] = value
    state["attrs"] = attrs
    return state


def _call(target: int, args: tuple, kwargs: dict, grad_enabled: bool) -> dict:
    fn = _handles[target]
    mutable = wire.slots((args, kwargs))
    inputs = [s for s in mutable if isinstance(s, torch.Tensor) and s.requires_grad]
    with torch.set_grad_enabled(grad_enabled):
        result = fn(*args, **kwargs)
    reply = {"value": result, "states": [_state(s) for s in mutable]}
    outputs = [t for t in wire.tensors_in(result) if t.requires_grad]
    if inputs and outputs:
        _graphs[len(_graphs) + 1] = (inputs, outputs)
        reply["graph"] = len(_graphs)
    return reply


def _backward(graph: int, grads: list) -> dict:
    inputs, outputs = _graphs[graph]
    pairs = [(o, g) for o, g in zip(outputs, grads) if g is not None]
    got = torch.autograd.grad([o for o, _ in pairs], inputs, [g for _, g in pairs],
                              allow_unused=True)
    return {"value": list(got)}


def _answer(request: tuple, namespace: dict) -> dict:
    kind, *rest = request
    if kind == "resolve":
        return {"value": [[name in namespace, namespace.get(name)] for name in rest[0]]}
    if kind == "call":
        return _call(*rest)
    if kind == "backward":
        return _backward(*rest)
    obj = _handles[rest[0]]
    if kind == "getattr":
        return {"value": getattr(obj, rest[1])}
    if kind == "getitem":
        return {"value": obj[rest[1]]}
    if kind == "len":
        return {"value": len(obj)}
    if kind == "iter":
        return {"value": list(obj)}
    if kind == "str":
        return {"value": str(obj)[: wire.MAX_TEXT]}
    raise ValueError(f"unknown request {kind!r}")


def _error(error: BaseException) -> dict:
    frames = traceback.extract_tb(error.__traceback__)
    student = [f for f in frames if f.filename != __file__]  # the serve loop is not theirs
    text = "".join(traceback.format_list(student)[-20:])
    return {"error": [type(error).__name__, str(error)[: wire.MAX_TEXT], text[-wire.MAX_TEXT:]]}


def serve(path: str, token: str) -> None:
    """Answer the judge on the socket at ``path`` until it sends ``done``.

    ``token`` (fresh for each call) comes first, so that the judge can tell this connection
    from any other the student's code might open to the same socket.
    """
    import pickle

    from IPython import get_ipython

    namespace = get_ipython().user_ns
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.connect(path)
        wire.send_frame(sock, token.encode())
        while True:
            header, _ = wire.recv_frame(sock, limit=1 << 40)
            try:
                request = pickle.loads(header)
                if request[0] == "done":
                    break
                reply = _answer(request, namespace)
            except BaseException as error:  # noqa: BLE001  (reported to the judge, which decides)
                reply = _error(error)
            try:
                frame = wire.encode_reply(reply, _handle)
            except BaseException as error:  # noqa: BLE001  (a result that is not readable data)
                frame = wire.encode_reply({"refused": f"{type(error).__name__}: {error}"[:500]}, _handle)
            wire.send_frame(sock, *frame)
    _graphs.clear()


# ------------------------------------------------------- what the judge's pickles refer to
def handle_object(ident: int):
    """A value this executor handed out earlier, passed back as an argument."""
    return _handles[ident]


def namespace_value(name: str):
    """The value an instructor cell bound to ``name`` in this notebook (it ran here too)."""
    from IPython import get_ipython

    return get_ipython().user_ns[name]


def function_from_code(code: bytes, name: str, defaults, closure):
    """A function from a *visible* instructor or test cell, sent by value (its code object)."""
    import marshal
    import types

    from IPython import get_ipython

    cells = tuple(types.CellType(v) for v in closure) if closure is not None else None
    return types.FunctionType(marshal.loads(code), get_ipython().user_ns, name, defaults, cells)
