"""The judge: runs the instructor's cells and decides every test verdict, outside the student's process.

nbgrader (and otter-grader) run test cells in the student's kernel, where a ten-line cell can
make any assertion pass. Here a test cell runs in the grading process itself, which never runs
student code. The student's notebook runs in the sandboxed kernel (the *executor*, see
``executor.py``); names that the test needs and that only the student's cells define are bound
to ``RemoteObject`` proxies:

- calling a proxy sends the arguments (copies, pickled) to the executor, which calls the
  student's function and sends the result back as *data* (``wire.py``: numbers, strings,
  containers, tensors), read by a strict decoder. A result that is not data (a model, a
  generator) comes back as another proxy. Mutable arguments (tensors, modules, optimizers,
  generators, plain objects) come back with their state after the call, written into the
  judge's own objects (call by copy-restore).
- tensors that need gradients cross through ``RemoteCall``, an autograd function: the
  executor keeps the graph, and the judge's ``backward`` asks it for the inputs' gradients.
- ``check_from_scratch`` on a proxy reads the student's source (``scratch.py``).

Test cells keep the names the instructor's cells bound (``torch``, ``re``, ``Counter``, the
data): instructor cells run here too, so no name the student rebinds reaches a test. Hidden
tests never leave this process: a function defined in a hidden test cannot be sent to the
executor (a function from a visible cell is sent by value, an instructor cell's by name).
"""

from __future__ import annotations

import ast
import builtins
import functools
import io
import linecache
import marshal
import pickle
import socket
import sys
import traceback
import types
import warnings
from contextlib import chdir, nullcontext, redirect_stderr, redirect_stdout
from time import monotonic

import torch

from course_lib.grading import executor, regions, scratch, wire

#: first line of an instructor cell that runs only in the student's process (it builds
#: objects from the student's classes); tests then judge those objects through proxies
EXECUTOR_ONLY = "# grading: runs in the student's process only"


class GradingError(Exception):
    """A call into the student's code whose answer the judge could not accept."""


class StudentError(Exception):
    """An exception of the student's code that is not a builtin one (its type is in the message)."""


def _remote_exception(kind: str, message: str, trace: str) -> Exception:
    cls = getattr(builtins, kind, None)
    if isinstance(cls, type) and issubclass(cls, Exception) and not issubclass(cls, Warning):
        error = cls(message)
    else:
        error = StudentError(f"{kind}: {message}")
    error.remote_traceback = trace
    return error


class RemoteObject:
    """A proxy for a value that lives in the executor. Not data: it cannot be compared."""

    __slots__ = ("_judge", "_handle", "_label")

    def __init__(self, judge: "Judge", handle: wire.Handle, label: str) -> None:
        object.__setattr__(self, "_judge", judge)
        object.__setattr__(self, "_handle", handle)
        object.__setattr__(self, "_label", label)

    def __call__(self, *args, **kwargs):
        return self._judge.call(self, args, kwargs)

    def __getattr__(self, attr: str):
        if attr.startswith("__") and attr.endswith("__"):
            raise AttributeError(attr)
        return self._judge.request(("getattr", self._handle.id, attr), f"{self._label}.{attr}")

    def __getitem__(self, key):
        return self._judge.request(("getitem", self._handle.id, key), f"{self._label}[{key!r}]")

    def __len__(self) -> int:
        n = self._judge.request(("len", self._handle.id), f"len({self._label})")
        if type(n) is not int or n < 0:
            raise GradingError(f"len({self._label}) returned {n!r}, not a length")
        return n

    def __iter__(self):
        return iter(self._judge.request(("iter", self._handle.id), f"iter({self._label})"))

    def __str__(self) -> str:
        return str(self._judge.request(("str", self._handle.id), f"str({self._label})"))

    def __repr__(self) -> str:
        return f"<{self._handle.type_name} object from the submission: {self._label}>"

    def _not_data(self, *_args):
        raise TypeError(f"{self._label} is a {self._handle.type_name} object, not data "
                        "(a number, string, list, dict or tensor): the grader cannot compare it")

    __bool__ = __eq__ = __ne__ = __lt__ = __le__ = __gt__ = __ge__ = _not_data
    __hash__ = object.__hash__

    @staticmethod
    def __check_from_scratch__(fn: "RemoteObject", name: str, banned_modules=("course_lib",),
                               banned_attributes=(), banned_objects=()) -> None:
        fn._judge.check_from_scratch(fn._label, name, banned_modules, banned_attributes)


class RemoteCall(torch.autograd.Function):
    """Connects a finished call's outputs to its tensor inputs, so that ``backward`` reaches
    through the boundary: the executor kept the graph and sends the inputs' gradients."""

    @staticmethod
    def forward(ctx, call: "_Call", *inputs: torch.Tensor):
        ctx.call = call
        return tuple(call.outputs)

    @staticmethod
    def backward(ctx, *grads: torch.Tensor):
        return (None, *ctx.call.backward(grads))


class _Call:
    """One call of a proxy: its request, and (for ``RemoteCall``) its graph id and outputs."""

    def __init__(self, judge: "Judge", target: RemoteObject, args: tuple, kwargs: dict) -> None:
        self.judge, self.target, self.args, self.kwargs = judge, target, args, kwargs
        self.mutable = wire.slots((args, kwargs))
        self.label = f"{target._label}(...)"
        self.grad_enabled = torch.is_grad_enabled()
        self.value, self.graph, self.outputs = None, None, []

    def run(self) -> None:
        """Do the call: ``value`` is its result; with a graph, ``outputs`` its tensors to connect."""
        reply = self.judge.request(("call", self.target._handle.id, self.args, self.kwargs,
                                    self.grad_enabled), self.label, full=True)
        self.graph = reply.get("graph")
        self.judge.restore(self.mutable, reply.get("states"), self.target._label)
        value = reply.get("value")
        if self.graph is None:
            self.value, self.outputs = value, []
            return
        detached = {id(t): t.detach() for t in wire.tensors_in(value) if t.requires_grad}
        self.value, self.outputs = _replace(value, detached), list(detached.values())

    def backward(self, grads) -> list:
        got = self.judge.request(("backward", self.graph, [g.detach() for g in grads]),
                                 f"the gradient of {self.label}")
        inputs = [s for s in self.mutable if isinstance(s, torch.Tensor) and s.requires_grad]
        if not isinstance(got, list) or len(got) != len(inputs):
            raise GradingError(f"the gradient of {self.label}: expected {len(inputs)} tensors")
        for g, x in zip(got, inputs):
            if g is not None and (not isinstance(g, torch.Tensor) or g.shape != x.shape):
                raise GradingError(f"the gradient of {self.label} does not match its input's shape")
        return [g.to(x.dtype) if g is not None else None for g, x in zip(got, inputs)]


def _replace(value, new: dict):
    if isinstance(value, torch.Tensor):
        return new.get(id(value), value)
    if isinstance(value, list):
        return [_replace(v, new) for v in value]
    if isinstance(value, tuple):
        return tuple(_replace(v, new) for v in value)
    if isinstance(value, dict):
        return {k: _replace(v, new) for k, v in value.items()}
    return value


class _Pickler(pickle.Pickler):
    """Pickles a call's arguments for the executor; refuses what must stay in the judge."""

    def __init__(self, file, protocol, judge: "Judge") -> None:
        super().__init__(file, protocol)
        self.judge = judge

    def reducer_override(self, obj):
        if isinstance(obj, RemoteObject):
            return executor.handle_object, (obj._handle.id,)
        if isinstance(obj, torch.Tensor) and type(obj) in (torch.Tensor, torch.nn.Parameter):
            t = obj.detach().cpu()
            dtype = str(t.dtype).removeprefix("torch.")
            if dtype in wire.DTYPES and t.layout == torch.strided:  # raw bytes: fast
                return executor.tensor_from_bytes, (dtype, tuple(t.shape), wire.tensor_bytes(t),
                                                    obj.requires_grad, type(obj) is torch.nn.Parameter)
        if isinstance(obj, (types.FunctionType, type)) and getattr(obj, "__module__", None) == "__main__":
            name = getattr(obj, "__name__", "")
            if self.judge.shared.get(name) is obj:
                return executor.namespace_value, (name,)
            code = getattr(obj, "__code__", None)
            if code is not None and code.co_filename.startswith("<visible "):
                closure = [c.cell_contents for c in obj.__closure__] if obj.__closure__ else None
                return executor.function_from_code, (marshal.dumps(code), name, obj.__defaults__, closure)
            raise pickle.PicklingError(
                f"`{name}` is defined in a test cell"
                + (" that holds hidden tests" if code is not None else "")
                + ": it cannot be sent to the student's code; define it in an instructor cell "
                  "(or in course_lib) instead")
        return NotImplemented


class Judge:
    """The instructor's namespace for one notebook, and the one channel to its executor."""

    def __init__(self) -> None:
        self.namespace: dict = {"__name__": "__main__", "__builtins__": builtins,
                                "get_ipython": _no_magics}
        #: names bound by instructor cells that also ran in the executor (sent by name)
        self.shared: dict = {}
        self.student_trees: list[ast.Module] = []
        self.instructor_trees: list[ast.Module] = []
        #: names an instructor cell run here binds: never looked up in the student's process,
        #: even where that cell failed (a test then fails with a NameError)
        self.instructor_names: set[str] = set()
        self.sock: socket.socket | None = None
        self.broken: str | None = None
        self.max_reply_bytes = wire.MAX_FRAME
        self.waited = 0.0  #: seconds spent waiting for the executor's replies
        #: where cells run: a copy of the assignment's files made before any student code ran
        self.cwd: str | None = None
        torch.set_num_threads(1)  # small tensors: one thread, and N graders on N cores

    # ----------------------------------------------------------------- the submission's source
    def saw_student_cell(self, source: str) -> None:
        tree = scratch.parse_cell(source)
        if tree is not None:
            self.student_trees.append(tree)

    def check_from_scratch(self, name: str, label: str, banned_modules, banned_attributes) -> None:
        scratch.check(name, label, self.student_trees, self.instructor_trees,
                      tuple(banned_modules), tuple(banned_attributes))

    # ----------------------------------------------------------------- talking to the executor
    def request(self, message: tuple, label: str, full: bool = False):
        """Send one request; the decoded reply's value (or the whole reply when ``full``)."""
        if self.sock is None:
            raise GradingError(f"{label}: the student's process is not answering "
                               f"({self.broken or 'no connection'})")
        try:
            payload = wire.encode_request(message, lambda f, protocol: _Pickler(f, protocol, self))
        except (pickle.PicklingError, TypeError, AttributeError) as error:
            raise GradingError(f"{label}: the test's arguments cannot be sent to the student's "
                               f"code: {error}") from None
        started = monotonic()
        try:
            wire.send_frame(self.sock, payload)
            header, buffers = wire.recv_frame(self.sock, self.max_reply_bytes)
            reply = wire.decode_reply(header, buffers)
        except socket.timeout:
            self._break("timed out")
            raise GradingError(f"{label}: timed out (the cell's time limit)") from None
        except wire.WireError as error:
            self._break(str(error))
            raise GradingError(f"{label} returned {error}: the grader reads back only data "
                               "(numbers, strings, lists, tuples, dicts and tensors)") from None
        except (OSError, ConnectionError, ValueError) as error:
            self._break(str(error))
            raise GradingError(f"{label}: the student's process stopped answering ({error})") from None
        finally:
            self.waited += monotonic() - started
        if "refused" in reply:
            raise GradingError(f"{label} returned something the grader cannot read back "
                               f"({str(reply['refused'])[:500]}): the grader reads back only data "
                               "(numbers, strings, lists, tuples, dicts and tensors)")
        if "error" in reply:
            kind, message, trace = (list(reply["error"]) + ["", "", ""])[:3]
            raise _remote_exception(str(kind)[:100], str(message)[: wire.MAX_TEXT], str(trace))
        reply = {k: self._proxies(v, label) for k, v in reply.items()}
        return reply if full else reply.get("value")

    def _break(self, why: str) -> None:
        self.broken = why
        if self.sock is not None:
            self.sock.close()
        self.sock = None

    def _proxies(self, value, label: str):
        if isinstance(value, wire.Handle):
            return RemoteObject(self, value, label)
        if isinstance(value, list):
            return [self._proxies(v, label) for v in value]
        if isinstance(value, tuple):
            return tuple(self._proxies(v, label) for v in value)
        if isinstance(value, dict):
            return {k: self._proxies(v, label) for k, v in value.items()}
        return value

    def call(self, target: RemoteObject, args: tuple, kwargs: dict):
        call = _Call(self, target, args, kwargs)
        call.run()
        if call.graph is None:
            return call.value
        inputs = [s for s in call.mutable if isinstance(s, torch.Tensor) and s.requires_grad]
        outputs = RemoteCall.apply(call, *inputs)
        return _replace(call.value, {id(a): b for a, b in zip(call.outputs, outputs)})

    def restore(self, mutable: list, states, label: str) -> None:
        """Write the executor's after-call states back into the judge's own objects."""
        if not isinstance(states, list) or len(states) != len(mutable):
            raise GradingError(f"{label}: the student's process sent back a malformed state")
        with torch.no_grad():
            for slot, state in zip(mutable, states):
                _restore_one(slot, state, label)

    # ----------------------------------------------------------------- running cells
    def needs(self, tree: ast.Module) -> list[str]:
        """Names the cell reads that no instructor cell bound and the cell never assigns."""
        return sorted(n for n in _unbound_reads(tree) - self.instructor_names
                      if n not in self.namespace and not hasattr(builtins, n))

    def run(self, source: str, label: str, test: bool) -> list[dict]:
        """Run one instructor cell here; its outputs (nbformat dicts) in order.

        Names the cell needs from the student's cells are resolved first, bound for this
        cell only, and removed again afterwards.
        """
        filename = _filename(source, label)
        tree = scratch.parse_cell(source)
        if tree is None:
            return [_error_output(SyntaxError(f"instructor cell {label} does not parse"), filename)]
        linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
        proxies = {}
        out, err = io.StringIO(), io.StringIO()
        outputs: list[dict] = []
        folder = chdir(self.cwd) if self.cwd else nullcontext()
        with folder, redirect_stdout(out), redirect_stderr(err), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                names = self.needs(tree)
                if names:
                    resolved = self.request(("resolve", names), f"looking up {', '.join(names)}")
                    for name, pair in zip(names, resolved):
                        if isinstance(pair, list) and len(pair) == 2 and pair[0] is True:
                            value = pair[1]
                            if isinstance(value, RemoteObject):
                                object.__setattr__(value, "_label", name)
                            proxies[name] = self.namespace[name] = value
                exec(_compiled(source, filename, "body"), self.namespace)
                if _shows_value(tree):
                    value = eval(_compiled(source, filename, "last"), self.namespace)
                else:
                    exec(_compiled(source, filename, "last"), self.namespace)
                    value = None
            except Exception as error:  # noqa: BLE001  (the verdict: this test failed)
                value = None
                outputs.append(_error_output(error, filename))
        for name, value_bound in proxies.items():
            if self.namespace.get(name) is value_bound:
                del self.namespace[name]
        streams = [{"output_type": "stream", "name": n, "text": s.getvalue()}
                   for n, s in (("stdout", out), ("stderr", err)) if s.getvalue()]
        result = []
        if value is not None and not outputs:
            result = [{"output_type": "execute_result", "execution_count": None, "metadata": {},
                       "data": {"text/plain": _safe_repr(value)}}]
        return streams + result + outputs

    def ran_instructor_cell(self, source: str, before: dict, executor_too: bool) -> None:
        """Remember what an instructor cell bound, to send it by name when it ran in both."""
        tree = scratch.parse_cell(source)
        if tree is not None:
            self.instructor_trees.append(tree)
            if executor_too:
                self.instructor_names |= scratch.top_level_names(tree)
        if executor_too:
            for name, value in self.namespace.items():
                if before.get(name, self) is not value:
                    self.shared[name] = value


def _filename(source: str, label: str) -> str:
    """The file name of an instructor cell's code here, which its tracebacks show."""
    return f"<{'hidden' if regions.holds(source, regions.HIDDEN_TESTS) else 'visible'} {label}>"


def _shows_value(tree: ast.Module) -> bool:
    """Whether a cell ends with an expression, whose value it shows (as IPython does)."""
    return bool(tree.body) and isinstance(tree.body[-1], ast.Expr)


@functools.lru_cache(maxsize=1024)
def _compiled(source: str, filename: str, part: str) -> types.CodeType:
    """One part of a cell's code, in the order IPython compiles and runs them: ``"body"``, every
    statement but the last, then ``"last"``, evaluated when it is an expression. For a source
    that parses (``scratch.parse_cell``); raises what ``compile`` raises (a ``return`` outside
    a function)."""
    *body, last = scratch.parse_cell(source).body or [ast.Pass()]
    if part == "body":
        return compile(ast.Module(body, []), filename, "exec")
    if isinstance(last, ast.Expr):
        return compile(ast.Expression(last.value), filename, "eval")
    return compile(ast.Module([last], []), filename, "exec")


def prepare(source: str, label: str) -> None:
    """Parse, walk and compile an instructor cell ahead of :meth:`Judge.run`: a fork host does
    it once for the assignment's cells, and every child it forks finds them done."""
    tree = scratch.parse_cell(source)
    if tree is not None:
        _unbound_reads(tree)
        for part in ("body", "last"):
            try:
                _compiled(source, _filename(source, label), part)
            except SyntaxError:  # reported when the cell runs
                pass


#: the modules a grading child's stack passes through while a test cell runs here
_ON_THE_STACK = ("course_lib.grading.", "nbgrader.apps.", "nbgrader.converters.",
                 "nbconvert.exporters.", "nbconvert.preprocessors.", "traitlets.config.",
                 "jupyter_core.", "torch.random", "torch.cuda", "torch.xpu", "torch.mps")


def read_stack_sources() -> None:
    """Read into ``linecache`` the source files of :data:`_ON_THE_STACK`'s modules.

    ``torch.manual_seed``, which tests call, records its caller's stack for CUDA's lazy seeding
    (``traceback.format_stack``), reading the source of every file on it: about 5 ms of CPU
    in each child that reads them afresh. Read once in a fork host, every child finds them."""
    for name, module in list(sys.modules.items()):
        filename = getattr(module, "__file__", None)
        if filename and name.startswith(_ON_THE_STACK):
            linecache.getlines(filename)


@functools.lru_cache(maxsize=512)
def _unbound_reads(tree: ast.Module) -> frozenset[str]:
    """Names a cell's tree reads and never binds (a tree from ``scratch.parse_cell``, the same
    object for the same source, is walked once)."""
    loaded, stored = set(), set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            (loaded if isinstance(node.ctx, ast.Load) else stored).add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            stored.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            stored.update((a.asname or a.name).split(".")[0] for a in node.names)
        elif isinstance(node, ast.arg):
            stored.add(node.arg)
    return frozenset(loaded - stored)


def _no_magics():
    """``get_ipython`` in the judge: an instructor cell's ``%magic`` does not run here."""
    raise RuntimeError("IPython magics run in the student's kernel, not in the grader")


def _safe_repr(value) -> str:
    try:
        return repr(value)[: wire.MAX_TEXT]
    except Exception as error:  # noqa: BLE001
        return f"<unprintable {type(value).__name__}: {error}>"


def _restore_one(slot, state, label: str) -> None:
    if state is None:
        return
    if isinstance(slot, torch.Tensor):
        if isinstance(state, torch.Tensor) and state.shape == slot.shape and not slot.requires_grad:
            if not torch.equal(state.to(slot.dtype), slot):
                slot.copy_(state)
        return
    if isinstance(slot, torch.Generator):
        if isinstance(state, torch.Tensor) and state.dtype == torch.uint8:
            try:
                slot.set_state(state)
            except RuntimeError:
                raise GradingError(f"{label}: sent back a broken random generator state") from None
        return
    if isinstance(slot, torch.optim.Optimizer):
        try:
            slot.load_state_dict(state)
        except Exception as error:  # noqa: BLE001
            raise GradingError(f"{label}: sent back an optimizer state that does not fit "
                               f"({type(error).__name__})") from None
        return
    if not isinstance(state, dict):
        return
    if isinstance(slot, torch.nn.Module):
        new = dict(state.get("state_dict") or [])
        for name, tensor in slot.state_dict(keep_vars=True).items():
            value = new.get(name)
            if isinstance(value, torch.Tensor) and value.shape == tensor.shape:
                tensor.data.copy_(value)
        if isinstance(state.get("training"), bool) and state["training"] != slot.training:
            slot.train(state["training"])
    attrs = state.get("attrs")
    if isinstance(attrs, dict):
        for key, value in attrs.items():
            if (isinstance(key, str) and key.isidentifier() and not key.startswith("_")
                    and not isinstance(value, (torch.Tensor, RemoteObject))
                    and not isinstance(getattr(type(slot), key, None), property)):
                current = getattr(slot, key, None)
                if (callable(current) or isinstance(current, (torch.Tensor, torch.nn.Module))
                        or _same(current, value)):
                    continue
                try:
                    setattr(slot, key, value)
                except (AttributeError, TypeError, ValueError):
                    pass  # an attribute its class does not let change after construction


def _same(current, value) -> bool:
    """Whether a judge-side attribute already equals the data that came back."""
    try:
        return type(current) is type(value) and bool(current == value)
    except Exception:  # noqa: BLE001  (an attribute whose == is not a plain bool)
        return False


def _error_output(error: BaseException, filename: str) -> dict:
    """The error output nbgrader scores as a failed test: name, message, a short traceback."""
    frames = [f for f in traceback.extract_tb(error.__traceback__)
              if f.filename == filename or "/course_lib/" in f.filename and "/grading/" not in f.filename]
    lines = ["Traceback (most recent call last):\n", *traceback.format_list(frames)]
    remote = getattr(error, "remote_traceback", "")
    if remote:
        lines.append("In the submission's code:\n" + remote)
    ename = type(error).__name__
    return {"output_type": "error", "ename": ename, "evalue": str(error)[: wire.MAX_TEXT],
            "traceback": [*lines, f"{ename}: {str(error)[: wire.MAX_TEXT]}"]}
