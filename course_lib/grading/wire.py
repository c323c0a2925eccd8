"""What passes between the judge and the executor, and how it is read back.

The judge (trusted: runs the tests, decides every verdict) and the executor (the sandboxed
kernel that runs the student's code) share one Unix socket. Each message is one frame::

    u32 total length | u32 header length | header (JSON, UTF-8) | raw tensor bytes

- **Judge to executor** (requests): a pickle of instructor-side objects (``encode_request``).
  Only the untrusted side unpickles, and it only ever unpickles what the judge wrote.
- **Executor to judge** (replies): *data only*. ``encode_reply`` (in the executor) writes
  ``None``, bools, ints, floats, strings, lists, tuples, dicts, sets and tensors as tagged JSON
  nodes plus raw bytes, and anything else as a *handle* (a number the executor keeps).
  ``decode_reply`` (in the judge) is strict: a bounded frame, bounded depth and node count,
  only the tags below, tensors of known dtypes whose byte counts match their shapes. It
  never builds an object of the student's classes: a ``list`` subclass arrives as a
  ``list``, a Tensor subclass as a plain ``torch.Tensor``.

Tags (each node that is not a JSON scalar is an object with exactly one key)::

    {"L": [..]} list   {"U": [..]} tuple   {"D": [[k, v], ..]} dict   {"S": [..]} set
    {"F": [..]} frozenset   {"T": [dtype, shape, offset, nbytes, requires_grad]} tensor
    {"H": [id, type name, callable]} handle

The copy-back walk (``slots``) is here too, because both sides must walk a call's
arguments in the same order: see ``executor.py`` and ``judge.py``.
"""

from __future__ import annotations

import json
import pickle
import socket
import struct
import types
from dataclasses import dataclass

import torch

MAX_FRAME = 256 * 1024**2  #: bytes the judge reads for one reply, at most
MAX_HEADER = 16 * 1024**2
MAX_DEPTH = 64
MAX_NODES = 1_000_000
MAX_TEXT = 20_000  #: characters of an error message or traceback the judge keeps

DTYPES = {str(d).removeprefix("torch."): d for d in (
    torch.float16, torch.bfloat16, torch.float32, torch.float64, torch.complex64,
    torch.complex128, torch.uint8, torch.int8, torch.int16, torch.int32, torch.int64, torch.bool)}
_LEN = struct.Struct(">I")


class WireError(Exception):
    """A reply the judge refuses: too large, too deep, malformed or of an unknown type."""


@dataclass(frozen=True)
class Handle:
    """A reference to an object that stays in the executor (not data): its id and type name."""

    id: int
    type_name: str
    callable: bool


# --------------------------------------------------------------------------- framing
def send_frame(sock: socket.socket, header: bytes, buffers: bytes = b"") -> None:
    sock.sendall(_LEN.pack(4 + len(header) + len(buffers)) + _LEN.pack(len(header)) + header + buffers)


def _recv_exactly(sock: socket.socket, size: int) -> bytes:
    chunks, left = [], size
    while left:
        chunk = sock.recv(min(left, 1 << 20))
        if not chunk:
            raise ConnectionError("the other side closed the connection")
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def recv_frame(sock: socket.socket, limit: int = MAX_FRAME) -> tuple[bytes, bytes]:
    """One frame as (header, buffers); a ``WireError`` if it announces more than ``limit``."""
    (total,) = _LEN.unpack(_recv_exactly(sock, 4))
    if total > limit:
        raise WireError(f"a reply of {total / 1e6:.1f} MB, above the {limit / 1e6:.0f} MB limit")
    body = _recv_exactly(sock, total)
    if total < 4:
        raise WireError("a malformed reply (shorter than its header length)")
    (header_len,) = _LEN.unpack(body[:4])
    if header_len > min(MAX_HEADER, total - 4):
        raise WireError(f"a reply header of {header_len} bytes (at most {MAX_HEADER})")
    return body[4:4 + header_len], body[4 + header_len:]


def encode_request(message: tuple, pickler_class: type[pickle.Pickler] = pickle.Pickler) -> bytes:
    import io

    out = io.BytesIO()
    pickler_class(out, protocol=pickle.HIGHEST_PROTOCOL).dump(message)
    return out.getvalue()


# --------------------------------------------------------------------------- executor side
def tensor_bytes(t: torch.Tensor) -> bytes:
    """A tensor's values as raw bytes, in row-major order."""
    flat = t.detach().cpu().contiguous().reshape(-1)
    if flat.numel() == 0:
        return b""
    return flat.view(torch.uint8).numpy().tobytes()


def encode_reply(reply: dict, handle_of) -> tuple[bytes, bytes]:
    """``reply`` (a dict of str keys) as (header, buffers); non-data leaves via ``handle_of``.

    ``handle_of(obj)`` returns a ``Handle`` for ``obj``, or raises ``TypeError`` where the
    caller wants data only. Runs in the student's process: its output is untrusted anyway.
    """
    buffers: list[bytes] = []
    offset = 0

    def node(value, depth: int):
        nonlocal offset
        if depth > MAX_DEPTH:
            raise ValueError(f"nested deeper than {MAX_DEPTH} levels")
        if value is None or isinstance(value, str):
            return None if value is None else str(value)
        if isinstance(value, bool):
            return bool(value)
        if isinstance(value, int):
            return int(value)
        if isinstance(value, float):
            return float(value)
        if isinstance(value, torch.Tensor):
            t = torch.Tensor.as_subclass(value, torch.Tensor)
            dtype = str(t.dtype).removeprefix("torch.")
            if dtype not in DTYPES:
                return handle(value)
            raw = tensor_bytes(t)
            buffers.append(raw)
            offset += len(raw)
            return {"T": [dtype, list(t.shape), offset - len(raw), len(raw), bool(t.requires_grad)]}
        if isinstance(value, list):
            return {"L": [node(v, depth + 1) for v in list.__iter__(value)]}
        if isinstance(value, tuple):
            return {"U": [node(v, depth + 1) for v in tuple.__iter__(value)]}
        if isinstance(value, dict):
            return {"D": [[node(k, depth + 1), node(v, depth + 1)] for k, v in dict.items(value)]}
        if isinstance(value, frozenset):
            return {"F": [node(v, depth + 1) for v in frozenset.__iter__(value)]}
        if isinstance(value, set):
            return {"S": [node(v, depth + 1) for v in set.__iter__(value)]}
        return handle(value)

    def handle(value):
        h = handle_of(value)
        return {"H": [h.id, h.type_name, h.callable]}

    header = json.dumps({key: node(value, 0) for key, value in reply.items()}).encode()
    return header, b"".join(buffers)


def from_bytes(dtype: torch.dtype, shape, raw: bytes) -> torch.Tensor:
    """The tensor ``tensor_bytes`` wrote (a fresh, writable copy)."""
    if not raw:
        return torch.empty(tuple(shape), dtype=dtype)
    return torch.frombuffer(bytearray(raw), dtype=torch.uint8).view(dtype).reshape(tuple(shape))


# --------------------------------------------------------------------------- judge side
def decode_reply(header: bytes, buffers: bytes) -> dict:
    """The strict decoder: the reply as plain Python data, tensors and ``Handle``s."""
    try:
        raw = json.loads(header.decode("utf-8"))
    except (ValueError, RecursionError) as error:
        raise WireError(f"a reply that is not valid JSON ({type(error).__name__})") from None
    if not isinstance(raw, dict):
        raise WireError("a reply that is not a JSON object")
    count = 0

    def value(n, depth: int):
        nonlocal count
        count += 1
        if count > MAX_NODES:
            raise WireError(f"more than {MAX_NODES} values")
        if depth > MAX_DEPTH:
            raise WireError(f"nested deeper than {MAX_DEPTH} levels")
        if n is None or isinstance(n, (bool, int, float, str)):
            return n
        if not isinstance(n, dict) or len(n) != 1:
            raise WireError(f"an unknown value ({type(n).__name__})")
        ((tag, body),) = n.items()
        if tag in "LUSF" and isinstance(body, list):
            items = [value(v, depth + 1) for v in body]
            if tag == "L":
                return items
            if tag == "U":
                return tuple(items)
            try:
                return set(items) if tag == "S" else frozenset(items)
            except TypeError:
                raise WireError("a set of unhashable values") from None
        if tag == "D" and isinstance(body, list):
            out = {}
            for pair in body:
                if not isinstance(pair, list) or len(pair) != 2:
                    raise WireError("a malformed dict entry")
                key = value(pair[0], depth + 1)
                try:
                    out[key] = value(pair[1], depth + 1)
                except TypeError:
                    raise WireError(f"a dict key of type {type(key).__name__}") from None
            return out
        if tag == "T":
            return tensor(body)
        if tag == "H" and isinstance(body, list) and len(body) == 3:
            ident, type_name, is_callable = body
            if type(ident) is not int or not isinstance(type_name, str) or type(is_callable) is not bool:
                raise WireError("a malformed handle")
            return Handle(ident, type_name[:200], is_callable)
        raise WireError(f"an unknown value (tag {str(tag)[:20]!r})")

    def tensor(body):
        if not (isinstance(body, list) and len(body) == 5):
            raise WireError("a malformed tensor")
        dtype, shape, offset, nbytes, requires_grad = body
        if dtype not in DTYPES:
            raise WireError(f"a tensor of unknown dtype {str(dtype)[:20]!r}")
        if (not isinstance(shape, list) or len(shape) > 32
                or any(type(s) is not int or s < 0 for s in shape)):
            raise WireError("a tensor with a malformed shape")
        if type(offset) is not int or type(nbytes) is not int or type(requires_grad) is not bool:
            raise WireError("a malformed tensor")
        dt = DTYPES[dtype]
        numel = 1
        for s in shape:
            numel *= s
        itemsize = torch.empty((), dtype=dt).element_size()
        if numel * itemsize != nbytes or offset < 0 or offset + nbytes > len(buffers):
            raise WireError(f"a tensor of shape {tuple(shape)} whose bytes do not match it")
        t = from_bytes(dt, shape, buffers[offset:offset + nbytes])
        return t.requires_grad_() if requires_grad and (dt.is_floating_point or dt.is_complex) else t

    return {str(key): value(n, 0) for key, n in raw.items()}


# --------------------------------------------------------------------------- shared walks
def tensors_in(value) -> list[torch.Tensor]:
    """The tensors of a result, in one fixed order: the order of a call's graph outputs."""
    if isinstance(value, torch.Tensor):
        return [value]
    if isinstance(value, (list, tuple)):
        return [t for item in value for t in tensors_in(item)]
    if isinstance(value, dict):
        return [t for item in value.values() for t in tensors_in(item)]
    return []



def is_plain_object(value) -> bool:
    """An instance of an ordinary class with attributes (not a type, function or module)."""
    return (hasattr(value, "__dict__") and not isinstance(value, (type, types.FunctionType,
            types.MethodType, types.ModuleType, types.BuiltinFunctionType)))


def slots(root, limit: int = 10_000) -> list:
    """The mutable things in a call's arguments, in one fixed order (both sides walk alike).

    Tensors, modules, optimizers, generators and plain objects are slots; lists, tuples and
    dicts are walked through; a module's or plain object's public attributes are walked
    into as well (a test double that records its calls comes back with its record).
    """
    found: list = []
    seen: set[int] = set()

    def visit(value, depth: int) -> None:
        if depth > MAX_DEPTH or len(found) >= limit or id(value) in seen:
            return
        if value is None or isinstance(value, (str, bytes, int, float, complex)):
            return
        seen.add(id(value))
        if isinstance(value, (torch.Tensor, torch.optim.Optimizer, torch.Generator)):
            found.append(value)
        elif isinstance(value, (list, tuple)):
            for item in value:
                visit(item, depth + 1)
        elif isinstance(value, dict):
            for item in value.values():
                visit(item, depth + 1)
        elif isinstance(value, torch.nn.Module) or is_plain_object(value):
            found.append(value)
            for key, item in vars(value).items():
                if not key.startswith("_") and not isinstance(item, (torch.Tensor, torch.nn.Module)):
                    visit(item, depth + 1)

    visit(root, 0)
    return found
