"""nbgrader preprocessors that keep grading honest when a submission is hostile or broken.

Two replacements for nbgrader's own steps, switched on by the config lines that
``sandbox.configure`` writes:

- ``RestoreTestCells`` (sanitize step): every locked cell (tests and locked text) comes
  from the gradebook, once, in its original place and with its original source and type,
  whatever the student did to it: deleted, duplicated, moved, edited, re-typed. Each
  repair is reported ("test cell `x` edited: original restored") and shown to the student
  as a note cell right above the restored cell.
- ``SandboxedExecute`` (autograde step, a subclass of nbgrader's ``Execute``): the student's
  cells and the instructor's set-up cells run in the sandboxed kernel (the *executor*); every
  test cell runs in this process instead (the *judge*, ``judge.py``), which never runs student
  code and reaches the student's functions only through data (``wire.py``). Instructor cells
  run here as well, so tests see the instructor's names. Per-cell and per-notebook time
  limits with messages naming the cell; an output cap per cell; a dead, killed or
  unresponsive kernel fails every test that had not run, with a message, instead of
  aborting the notebook (nbgrader would then record no grades, or keep stale ones); and
  once the last cell has run it kills the kernel rather than asking it to exit.

Messages also go to nbgrader's log and, one JSON object a line, to the file named by the
``RNN_COURSE_SANDBOX_REPORT`` environment variable, where the grading worker collects them.
"""

from __future__ import annotations

import json
import os
import pickle
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterable, Sequence
from contextlib import contextmanager
from pathlib import Path
from time import monotonic
from uuid import uuid4

from jupyter_core.utils import run_sync
from nbclient.exceptions import CellTimeoutError, DeadKernelError
from nbformat import NotebookNode
from nbgrader import utils
from nbgrader.api import Gradebook, GradeCell, SolutionCell, SourceCell
from nbformat import from_dict
from nbgrader.preprocessors import ClearHiddenTests, Execute, NbGraderPreprocessor
from sqlalchemy import select
from traitlets import Integer, default

from course_lib.grading import judge, wire
from course_lib.grading.kernel_launcher import JUDGE_COMM
from course_lib.grading.judge import EXECUTOR_ONLY, Judge
from course_lib.grading.sandbox import Limits

REPORT_ENV = "RNN_COURSE_SANDBOX_REPORT"
CONNECT_SECONDS = 10  #: how long the judge waits for the kernel to connect
PROCESS_ERRORS = ("Resource temporarily unavailable", "can't start new thread")
MEMORY_ERRORS = ("MemoryError", "can't allocate memory", "Cannot allocate memory",
                 "DefaultCPUAllocator", "std::bad_alloc", "out of memory")


def report(resources: dict, message: str, log=None) -> None:
    """Record one thing the sandbox did for this student (log + report file)."""
    info = resources.get("nbgrader", {})
    if log is not None:
        log.warning("rnn-course sandbox [%s]: %s", info.get("student", "?"), message)
    path = os.environ.get(REPORT_ENV)
    if path:
        record = {key: info.get(key) for key in ("student", "assignment", "notebook")}
        with open(path, "a", encoding="utf-8") as out:
            out.write(json.dumps({**record, "message": message}) + "\n")


def cell_name(cells: list[NotebookNode], index: int) -> str:
    """How messages name a cell: its grade id, else its position after the last grade id."""
    def grade_id(cell):
        return cell.metadata.get("nbgrader", {}).get("grade_id")

    if grade_id(cells[index]):
        return labelled(grade_id(cells[index]))
    earlier = next((grade_id(c) for c in reversed(cells[:index]) if grade_id(c)), None)
    return f"#{index + 1}" + (f" (after `{earlier}`)" if earlier else "")


def labelled(grade_id: str) -> str:
    """How messages name a cell that has a grade id."""
    return f"`{grade_id}`"


def prepare_judge(cells: Iterable[Sequence[str]]) -> None:
    """Parse and compile the instructor's cells ``(source, grade_id)`` as the judge will run
    them (``judge.prepare``), and read the sources a test's stack passes through
    (``judge.read_stack_sources``): done once in a fork host, found done in every child."""
    for source, grade_id in cells:
        judge.prepare(source, labelled(grade_id))
    judge.read_stack_sources()


def is_instructor(cell: NotebookNode) -> bool:
    """A locked code cell the instructor wrote that is neither an answer nor a test."""
    return (cell.cell_type == "code" and utils.is_locked(cell) and not utils.is_solution(cell)
            and not utils.is_grade(cell))


def is_test(cell: NotebookNode) -> bool:
    """An autograded test cell: a locked code grade cell that is not an answer."""
    return cell.cell_type == "code" and utils.is_grade(cell) and not utils.is_solution(cell)


def error_output(ename: str, evalue: str) -> NotebookNode:
    return NotebookNode(output_type="error", ename=ename, evalue=evalue,
                        traceback=[f"{ename}: {evalue}"])


def note_cell(text: str) -> NotebookNode:
    return from_dict({"cell_type": "markdown", "id": uuid4().hex[:8], "metadata": {},
                      "source": f"**Grader note:** {text}"})


#: removes hidden tests as ``nbgrader generate_assignment`` does, with its default markers
_CLEAR_HIDDEN_TESTS = ClearHiddenTests()


def released_source(text: str, cell_type: str) -> str:
    """What the student was given for a locked cell: its source without the hidden tests."""
    cell = from_dict({"cell_type": cell_type, "source": text, "metadata": {}})
    _CLEAR_HIDDEN_TESTS._remove_hidden_test_region(cell)
    return cell.source


def _longest_increasing(indices: list[int]) -> set[int]:
    """Positions (into ``indices``) of one longest strictly increasing subsequence."""
    best: list[int] = []
    before: list[int] = []
    for pos, value in enumerate(indices):
        length, prev = 1, -1
        for earlier in range(pos):
            if indices[earlier] < value and best[earlier] + 1 > length:
                length, prev = best[earlier] + 1, earlier
        best.append(length)
        before.append(prev)
    chosen, pos = set(), (max(range(len(best)), key=best.__getitem__) if best else -1)
    while pos != -1:
        chosen.add(pos)
        pos = before[pos]
    return chosen


class RestoreTestCells(NbGraderPreprocessor):
    """Rebuild every locked cell from the gradebook: one copy, in place, unedited."""

    def preprocess(self, nb: NotebookNode, resources: dict):
        info = resources["nbgrader"]
        with Gradebook(info["db_url"]) as gb:  # columns, not rows: no query per cell
            notebook = gb.find_notebook(info["notebook"], info["assignment"]).id
            source = gb.db.execute(
                select(SourceCell.name, SourceCell.cell_type, SourceCell.source,
                       SourceCell.checksum, SourceCell.locked)
                .where(SourceCell.notebook_id == notebook)).all()
            points = dict(gb.db.execute(select(GradeCell.name, GradeCell.max_score)
                                        .where(GradeCell.notebook_id == notebook)).all())
            answers = set(gb.db.execute(select(SolutionCell.name)
                                        .where(SolutionCell.notebook_id == notebook)).scalars())
        order = {name: i for i, (name, *_rest) in enumerate(source)}
        locked = {name for name, *_rest, is_locked in source if is_locked and name not in answers}

        def grade_id(cell: NotebookNode) -> str | None:
            return cell.metadata.get("nbgrader", {}).get("grade_id")

        for cell in nb.cells:  # grading metadata naming no cell of ours is forged
            if "nbgrader" in cell.metadata and grade_id(cell) not in order:
                if utils.is_grade(cell) or utils.is_solution(cell) or utils.is_locked(cell):
                    report(resources, f"cell `{grade_id(cell)}` is not part of the assignment: "
                                      "its grading metadata was removed", self.log)
                del cell.metadata["nbgrader"]

        known = [(i, order[grade_id(c)]) for i, c in enumerate(nb.cells) if grade_id(c) in order]
        in_place = {known[k][0] for k in _longest_increasing([idx for _, idx in known])}
        seen: dict[str, int] = {}
        cells: list[NotebookNode] = []
        for i, cell in enumerate(nb.cells):
            name = grade_id(cell)
            if name in locked:
                seen[name] = seen.get(name, 0) + 1
                if i not in in_place:
                    continue
            elif name in answers and cell.cell_type != dict((n, t) for n, t, *_ in source)[name]:
                report(resources, f"answer cell `{name}` changed to {cell.cell_type}: "
                                  "cell type restored", self.log)
            cells.append(cell)

        for pos, (name, cell_type, text, checksum, _is_locked) in enumerate(source):
            if name not in locked:
                continue
            kind = "test cell" if name in points else "locked cell"
            pristine = self._pristine(name, cell_type, text, checksum, points.get(name))
            current = next((k for k, c in enumerate(cells) if grade_id(c) == name), None)
            problems = []
            if current is None:
                problems.append("deleted" if name not in seen else "moved")
                current = self._insertion_point(cells, [n for n, *_ in source[:pos]], grade_id)
                cells.insert(current, pristine)
            else:
                old = cells[current]
                if old.cell_type != cell_type:
                    problems.append(f"changed to {old.cell_type}")
                elif old.source.strip() != released_source(text, cell_type).strip():
                    problems.append("edited")
                cells[current] = pristine
            if seen.get(name, 0) > 1:
                problems.append("duplicated")
            if problems:
                message = f"{kind} `{name}` {' and '.join(problems)}: original restored"
                report(resources, message, self.log)
                cells.insert(current, note_cell(message))
        nb.cells = cells
        return nb, resources

    @staticmethod
    def _insertion_point(cells, earlier_names: list[str], grade_id) -> int:
        """Right after the nearest earlier assignment cell that is still there."""
        for name in reversed(earlier_names):
            for k in range(len(cells) - 1, -1, -1):
                if grade_id(cells[k]) == name:
                    return k + 1
        return 0

    @staticmethod
    def _pristine(name, cell_type, text, checksum, max_score) -> NotebookNode:
        meta = {"grade": max_score is not None, "grade_id": name, "locked": True,
                "solution": False, "checksum": checksum, "schema_version": 3}
        if max_score is not None:
            meta["points"] = max_score
        cell = {"cell_type": cell_type, "id": uuid4().hex[:8], "source": text,
                "metadata": {"deletable": False, "editable": False, "nbgrader": meta}}
        if cell_type == "code":
            cell.update(outputs=[], execution_count=None)
        return from_dict(cell)


class SandboxedExecute(Execute):
    """nbgrader's Execute with limits and messages, tests run by the judge, no lost grades."""

    notebook_timeout = Integer(Limits.notebook_timeout, help="Seconds for the whole notebook.").tag(
        config=True)
    max_output_bytes = Integer(Limits.max_output_bytes, help="Output kept per cell.").tag(config=True)
    memory_bytes = Integer(Limits.memory_bytes, help="The kernel's memory limit, for messages.").tag(
        config=True)

    @default("shutdown_kernel")
    def _kill_when_done(self) -> str:
        """Kill the kernel once the outputs are in, instead of asking it to exit.

        A graceful exit (ipykernel's shutdown, then Python tearing torch down) keeps the
        worker waiting ~0.6 s per submission for nothing the grade needs; and atexit hooks
        of student code get no chance to run. ``_kill_kernel`` kills it as soon as the last
        cell has run; this default makes nbclient's own clean-up do the same on every
        other way out (a cell raised, the kernel died or never started).
        """
        return "immediate"

    def preprocess(self, nb, resources=None, km=None):
        """Run every cell; whatever happens to the kernel, every test ends with a grade."""
        from nbclient.client import NotebookClient

        NotebookClient.__init__(self, nb, km)
        self.reset_execution_trackers()
        self._check_assign_resources(resources)
        self._deadline = monotonic() + self.notebook_timeout
        self._out_bytes: dict[int, int] = {}
        self.judge = Judge()
        self._comm_id: str | None = None  #: the judge's comm, once opened
        self._unreachable: str | None = None
        self._judge_seconds = 0.0
        stopped: str | None = None
        index = 0
        try:
            with self._judge_folder(resources), self.setup_kernel(), self._listening():
                info = self.wait_for_reply(self.kc.kernel_info())
                self.nb.metadata["language_info"] = info["content"]["language_info"]
                for index, cell in enumerate(self.nb.cells):
                    if stopped is None:
                        stopped = self._run(cell, index, resources)
                    elif is_test(cell):
                        cell.outputs = [error_output("NotRun", f"test not run: {stopped}")]
                self._kill_kernel()
        except DeadKernelError:
            stopped = stopped or "the kernel died"
        except Exception as error:  # the kernel never started: no test may pass
            stopped = f"the kernel could not start ({type(error).__name__}: {error})"
            report(resources, stopped, self.log)
        if stopped is not None:
            for cell in self.nb.cells[index:]:
                if is_test(cell) and not any(o.output_type == "error" for o in cell.outputs):
                    cell.outputs = [error_output("NotRun", f"test not run: {stopped}")]
        self.set_widgets_metadata()
        self.log.info("rnn-course judge: %.2f s judging cells, of which %.2f s waiting for the "
                      "kernel's answers", self._judge_seconds, self.judge.waited)
        return self.nb, self.resources

    def _run(self, cell: NotebookNode, index: int, resources: dict) -> str | None:
        """Execute one cell; return why the rest cannot run, or None to go on."""
        name = cell_name(self.nb.cells, index)
        if cell.cell_type != "code" or not cell.source.strip():
            return None
        remaining = self._deadline - monotonic()
        if remaining <= 1:
            message = f"the notebook time limit of {self.notebook_timeout} s was reached before cell {name}"
            report(resources, message, self.log)
            return message
        limit = int(min(self.timeout or remaining, remaining))
        if is_test(cell):
            return self._judge_cell(cell, name, limit, resources, test=True)
        stopped = self._execute(cell, index, name, limit, resources)
        if not is_instructor(cell):
            self.judge.saw_student_cell(cell.source)
        elif stopped is None:
            executor_too = not cell.source.lstrip().startswith(EXECUTOR_ONLY)
            before = dict(self.judge.namespace)
            if executor_too:
                stopped = self._judge_cell(cell, name, limit, resources, test=False)
            self.judge.ran_instructor_cell(cell.source, before, executor_too)
        return stopped

    def _execute(self, cell: NotebookNode, index: int, name: str, limit: int,
                 resources: dict) -> str | None:
        """Run one cell in the executor (the sandboxed kernel), as nbgrader would."""
        self._cell_timeout = limit
        self.error_on_timeout = {"ename": "Timeout",
                                 "evalue": f"timed out after {limit} s in cell {name}",
                                 "traceback": [f"Timeout: timed out after {limit} s in cell {name}"]}
        try:
            self.preprocess_cell(cell, resources, index)
        except DeadKernelError:
            message = f"the kernel died in cell {name}{self._exit_status()}"
            cell.outputs.append(error_output("KernelDied", message))
            report(resources, message, self.log)
            return message
        except CellTimeoutError:
            message = (f"timed out after {limit} s in cell {name} and ignored the interrupt: "
                       "kernel stopped")
            cell.outputs.append(error_output("Timeout", message))
            report(resources, message, self.log)
            self._kill_kernel()
            return message
        for output in cell.outputs:
            if output.output_type != "error":
                continue
            if output.ename == "Timeout":
                report(resources, output.evalue, self.log)
            elif any(m in f"{output.ename}: {output.evalue}" for m in MEMORY_ERRORS):
                gigabytes = self.memory_bytes / 1024**3
                message = f"used more than the {gigabytes:g} GB memory limit in cell {name}"
                output.evalue = f"{message} ({output.evalue})"
                report(resources, message, self.log)
            elif any(m in f"{output.ename}: {output.evalue}" for m in PROCESS_ERRORS):
                report(resources, f"reached the process limit in cell {name}", self.log)
        if self._out_bytes.get(index, 0) > self.max_output_bytes:
            report(resources, f"printed {self._out_bytes[index] / 1e6:.0f} MB in cell {name}: "
                              f"output cut at {self.max_output_bytes / 1e6:g} MB", self.log)
        return None

    # ------------------------------------------------------------------ the judge's side
    @contextmanager
    def _judge_folder(self, resources: dict):
        """The judge works in a copy of the notebook's folder taken before any student code
        runs: tests read the assignment's files as released, not as the kernel left them."""
        source = resources.get("metadata", {}).get("path") or "."
        with tempfile.TemporaryDirectory(prefix="rnn-course-judge-") as folder:
            shutil.copytree(source, folder, dirs_exist_ok=True, symlinks=True,
                            ignore=shutil.ignore_patterns("*.ipynb"))
            self.judge.cwd = folder
            yield

    @contextmanager
    def _listening(self):
        """The judge's socket, where the kernel can reach it (its writable ipc folder)."""
        folder = Path(self.km.ip).parent if getattr(self.km, "transport", "") == "ipc" else None
        own = None
        if folder is None or not folder.is_dir():
            folder = own = Path(tempfile.mkdtemp(prefix="rnn-course-judge-"))
        path = folder / f"judge-{os.getpid()}.sock"
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            path.unlink(missing_ok=True)
            listener.bind(str(path))
            path.chmod(0o777)  # the kernel runs as a uid of its own
            listener.listen(1)
            self._listener, self._socket_path = listener, str(path)
            yield
        finally:
            listener.close()
            path.unlink(missing_ok=True)
            if own is not None:
                own.rmdir()

    def _judge_cell(self, cell: NotebookNode, name: str, limit: int, resources: dict,
                    test: bool) -> str | None:
        """Run an instructor cell in the judge, with the executor answering while it runs.

        A test cell's outputs are what the judge saw and what the student's code printed
        while the judge called it; a set-up cell keeps the executor's outputs.
        """
        start = monotonic()
        stopped = self._judge_session(cell, name, limit, resources, test, start)
        self._judge_seconds += monotonic() - start
        return stopped

    def _judge_session(self, cell: NotebookNode, name: str, limit: int, resources: dict,
                       test: bool, start: float) -> str | None:
        """Start the kernel's ``serve`` call, run the cell in the judge, end the call."""
        if not test and not self.judge.needs(self.judge_tree(cell)):
            self.judge.run(cell.source, name, test=False)
            return None
        if self._unreachable:
            self.judge.sock, self.judge.broken = None, self._unreachable
            outputs = self.judge.run(cell.source, name, test)
            if test:
                cell.outputs = [from_dict(o) for o in outputs]
            return None
        token = uuid4().hex
        msg_id = self._start_serving(token)
        conn = self._accept(token, min(limit, CONNECT_SECONDS))
        if conn is None:
            self._unreachable = "it stopped answering the grader's requests"
            report(resources, f"the kernel did not answer the grader in cell {name}", self.log)
        else:
            conn.settimeout(max(1.0, limit - (monotonic() - start)))
        self.judge.sock, self.judge.broken = conn, (None if conn else self._unreachable)
        outputs = self.judge.run(cell.source, name, test)
        timed_out = self.judge.broken == "timed out"
        if self.judge.sock is not None:
            try:
                wire.send_frame(self.judge.sock, pickle.dumps(("done",)))
            except OSError:
                pass
            self.judge.sock.close()
            self.judge.sock = None
        wait = 5.0 if timed_out else max(5.0, limit - (monotonic() - start))
        printed, idle = self._collect(msg_id, wait, id(cell))
        if not idle:
            run_sync(self.km.interrupt_kernel)()
            more, idle = self._collect(msg_id, 5.0, id(cell))
            printed += more
        if test:
            cell.outputs = [from_dict(o) for o in printed + outputs]
        stopped = None
        if not idle:
            process = self._kernel_process()
            if process is not None and process.poll() is not None:
                stopped = f"the kernel died in cell {name}{self._exit_status()}"
            else:
                stopped = (f"timed out after {limit} s in cell {name} and ignored the interrupt: "
                           "kernel stopped")
                self._kill_kernel()
            report(resources, stopped, self.log)
        elif timed_out:
            report(resources, f"timed out after {limit} s in cell {name}", self.log)
        return stopped

    def _start_serving(self, token: str) -> str:
        """Ask the kernel to run ``executor.serve`` for one cell; the request's message id.

        A message on the judge's comm (see ``kernel_launcher.py``), opened with the first request.
        Its outputs and its end (the kernel going idle) come back on IOPub under its id.
        """
        if self._comm_id is None:
            self._comm_id = uuid4().hex
            self._send_shell("comm_open", {"comm_id": self._comm_id, "data": {},
                                           "target_name": JUDGE_COMM})
        return self._send_shell("comm_msg", {"comm_id": self._comm_id, "data": {
            "path": self._socket_path, "token": token}})

    def _send_shell(self, msg_type: str, content: dict) -> str:
        message = self.kc.session.msg(msg_type, content)
        self.kc.shell_channel.send(message)
        return message["header"]["msg_id"]

    def _accept(self, token: str, wait: float) -> socket.socket | None:
        """The connection of the ``serve`` call that knows ``token``; others are dropped."""
        deadline = monotonic() + wait
        while monotonic() < deadline:
            self._listener.settimeout(max(0.01, deadline - monotonic()))
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return None
            conn.settimeout(2.0)
            try:
                header, _ = wire.recv_frame(conn, limit=64)
                if header == token.encode():
                    return conn
            except (OSError, ConnectionError, wire.WireError):
                pass
            conn.close()
        return None

    @staticmethod
    def judge_tree(cell: NotebookNode):
        from course_lib.grading.scratch import parse_cell

        return parse_cell(cell.source) or parse_cell("pass")

    def _collect(self, msg_id: str, wait: float, key: int) -> tuple[list[dict], bool]:
        """What the kernel printed for ``msg_id`` until it went idle: (outputs, went idle)."""
        deadline = monotonic() + wait
        printed: list[dict] = []
        get = run_sync(self.kc.iopub_channel.get_msg)
        while monotonic() < deadline:
            try:
                msg = get(timeout=max(0.01, deadline - monotonic()))
            except Exception:  # queue.Empty, or the kernel is gone
                process = self._kernel_process()
                if process is not None and process.poll() is not None:
                    return printed, False
                continue
            if msg.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            kind, content = msg["msg_type"], msg["content"]
            if kind == "status" and content.get("execution_state") == "idle":
                return printed, True
            if kind in ("stream", "display_data"):
                size = len(content.get("text", "")) + sum(len(str(v)) for v in content.get("data", {}).values())
                used = self._out_bytes.get(key, 0) + size
                self._out_bytes[key] = used
                if used <= self.max_output_bytes:
                    if kind == "stream":
                        printed.append({"output_type": "stream", "name": content["name"],
                                        "text": content["text"]})
                    else:
                        printed.append({"output_type": "display_data", "metadata": {},
                                        "data": content.get("data", {})})
                elif content.get("name") == "stderr" and not any(o.get("name") == "stderr" for o in printed):
                    printed.append({"output_type": "stream", "name": "stderr", "text": "[stderr truncated]\n"})
        return printed, False

    def _kernel_process(self):
        """The kernel's ``Popen`` (jupyter_client's local provisioner), or None."""
        return getattr(getattr(self.km, "provisioner", None), "process", None)

    def _kill_kernel(self) -> None:
        """Kill the kernel and reap it at once (jupyter_client polls for its end every 0.1 s)."""
        process = self._kernel_process()
        if process is None or process.poll() is not None:
            return
        run_sync(self.km.provisioner.kill)()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:  # the cleanup after this tries again
            pass

    def _get_timeout(self, cell):
        return getattr(self, "_cell_timeout", None) or super()._get_timeout(cell)

    def _exit_status(self) -> str:
        process = self._kernel_process()
        code = process.poll() if process is not None else None
        if code is None:
            return ""
        if code < 0 or code > 128:
            signal_number = -code if code < 0 else code - 128
            hint = " (killed: the memory or CPU limit, or the kernel killed itself)"
            return f" (signal {signal_number}{hint if signal_number == 9 else ''})"
        return f" (exit status {code})"

    def output(self, outs, msg, display_id, cell_index):
        """Keep at most ``max_output_bytes`` of output per cell, and say so once."""
        content = msg.get("content", {})
        size = len(content.get("text", "")) + sum(len(str(v)) for v in content.get("data", {}).values())
        used = self._out_bytes.get(cell_index, 0) + size
        self._out_bytes[cell_index] = used
        if msg["msg_type"] == "error" or used <= self.max_output_bytes:
            return super().output(outs, msg, display_id, cell_index)
        if used - size <= self.max_output_bytes:
            note = f"\n[output truncated: more than {self.max_output_bytes} bytes]\n"
            outs.append(NotebookNode(output_type="stream", name="stdout", text=note))
        if content.get("name") == "stderr" and not any(
            o.get("name") == "stderr" for o in outs if o.output_type == "stream"
        ):  # nbgrader fails a test that wrote to stderr: dropping it must not change that
            outs.append(NotebookNode(output_type="stream", name="stderr", text="[stderr truncated]\n"))
        return None
