"""Grade one submission on a Dask worker with real ``nbgrader autograde``.

:func:`grade_submission` is the Dask task. It builds a throw-away nbgrader course
in a temporary folder from the task's bytes alone (no shared filesystem)::

    nbgrader_config.py          the course's config + scratch paths + sandbox settings
    gradebook.db                the bundle's template gradebook
    source/<assignment>/        the assignment's non-notebook files
    submitted/<student>/<assignment>/   the student's files (timestamp.txt included)

then runs ``nbgrader autograde`` and ``nbgrader generate_feedback`` there and
reads what nbgrader recorded through its ``Gradebook`` API, all in one forked
child of a preloaded fork server (see ``runner.py`` and
``nbgrader_child.grade``), and returns it all as a
:class:`~course_lib.grading.tasks.GradingResult`. Nothing here writes outside the
temporary folder: the instructor's machine is the one writer of the real gradebook.

A submission nbgrader cannot grade (not JSON, a crash, past the notebook
deadline) gives an ``error`` result with a message and the scores nbgrader left;
only a failure of the grading machinery itself raises.
"""

from __future__ import annotations

import html
import json
import re
import tempfile
import threading
import time
from pathlib import Path

from . import runner, sandbox, tmpdirs
from .settings import config_text
from .tasks import ERROR, GRADED, AssignmentBundle, GradingResult, NotebookResult, Submission

_CHILD = "course_lib.grading.nbgrader_child"
#: seconds allowed for reading the scratch gradebook back
_REPORT_TIMEOUT = 120
#: the returned log keeps its last this many characters
_LOG_TAIL = 200_000
_EXCEPTION_LINE = re.compile(r"^\s*((?:[\w]+\.)*\w*(?:Error|Exception|Exit|Interrupt)\b.*)$")
_ERROR_LINE = re.compile(r"\|\s*ERROR\]\s*(.*)$")
#: nbconvert validates the whole notebook after each preprocessor (a dozen in autograde and
#: feedback, about 0.02 s of CPU a submission) unless told to validate once, after the last;
#: a notebook a preprocessor broke fails either way
_VALIDATE_ONCE = {("Exporter", "optimistic_validation"): True}


async def start_warm_up(modules: tuple[str, ...], cells: dict | None = None) -> None:
    """Start this worker's fork host and zygote in the background (``Client.run(..., wait=False)``).

    They import the assignment's ``modules`` (torch: seconds), and the host imports nbgrader and
    prepares the assignment's ``cells`` (see ``forkhost.py``), while the client prepares the
    run; the first task waits for them if they are not done yet. First it removes what workers
    killed outright on this machine left in the temporary folder (``tmpdirs.sweep``).
    """
    for kind in ("grade", "zygote"):
        tmpdirs.sweep(kind)
    threading.Thread(target=runner.warm_up, args=(modules, cells), name="rnn-course warm-up",
                     daemon=True).start()


def the_bundle(bundle: AssignmentBundle) -> AssignmentBundle:
    """The assignment bundle as a task's result, which every grading task takes as its input.

    Here, not beside the client's code in ``grade.py``: a worker imports the module of every
    function it runs, and ``grade.py`` imports nbgrader and nbconvert (2 s of CPU) that a
    worker never uses (its fork host has them).
    """
    return bundle


def grade_submission(bundle: AssignmentBundle, submission: Submission) -> GradingResult:
    """Autograde one submission in a scratch course; return what nbgrader made of it."""
    started = time.perf_counter()
    # not named after the student: the kernel's sockets live in here, and a Unix socket's path
    # has at most 107 bytes, which a long student id (an e-mail address) would pass
    with tempfile.TemporaryDirectory(prefix=tmpdirs.prefix("grade")) as tmp:
        scratch = Path(tmp)
        kernels = runner.kernels(bundle.preload)
        env = _materialise(scratch, bundle, submission, kernels and kernels.socket_path)
        log = scratch / "grading.log"
        assignment, student = bundle.assignment_id, submission.student_id
        deadline = bundle.limits.notebook_timeout

        unreadable = [f"{relative}: {why}" for relative, data in submission.files.items()
                      if relative.endswith(".ipynb") and (why := sandbox.describe_unreadable(data))]
        database = f"sqlite:///{scratch / 'gradebook.db'}"
        steps_path = scratch / "steps.json"
        message, cpu, steps = "", 0.0, None
        try:
            finished = runner.call(f"{_CHILD}:grade", assignment, student, database,
                                   str(steps_path), cwd=scratch, log_path=log, env=env,
                                   timeout=deadline, preload=bundle.preload)
        except runner.ChildTimeout:
            message = f"timed out: grading took longer than {deadline} s and was stopped"
        else:
            cpu += finished.cpu_seconds
            if finished.code == 0:
                steps = json.loads(steps_path.read_text())
            if steps is None or steps["autograde"] != 0:
                message = "nbgrader could not grade this submission: " + (
                    "; ".join(unreadable) or _failure_message(log))
            elif steps["feedback"] != 0:
                message = "nbgrader could not render feedback: " + _failure_message(log)
        if steps is None:  # stopped or crashed: read back whatever nbgrader recorded
            report_path = scratch / "report.json"
            report = runner.call(f"{_CHILD}:write_report", database, assignment, student,
                                 str(report_path), cwd=scratch, log_path=log,
                                 timeout=_REPORT_TIMEOUT, preload=bundle.preload)
            if report.code != 0:
                raise RuntimeError(f"could not read the scratch gradebook back:\n{_tail(log)}")
            cpu += report.cpu_seconds
            steps = {"report": json.loads(report_path.read_text())}
        recorded = steps["report"] or {"timestamp": None, "notebooks": {}}

        status = ERROR if message else GRADED
        missing = [name for name in bundle.notebooks if f"{name}.ipynb" not in submission.files]
        if missing and not message:
            message = "not submitted, scored 0: " + ", ".join(f"{name}.ipynb" for name in missing)
            if submission.files:
                message += " (received instead: " + ", ".join(sorted(submission.files)) + ")"
        if not message and unreadable:
            message = "scored 0: " + "; ".join(unreadable)
        # what the sandbox did (limits hit, test cells restored, ...) reaches the student too
        message = "; ".join(part for part in (message, *sandbox.read_messages(scratch)) if part)
        notebooks = tuple(
            _notebook_result(scratch, assignment, student, name,
                             recorded["notebooks"].get(name), status, message)
            for name in bundle.notebooks
        )
        return GradingResult(student_id=student, status=status, message=message,
                             timestamp=recorded["timestamp"], notebooks=notebooks,
                             log=_tail(log), seconds=time.perf_counter() - started,
                             cpu_seconds=cpu, cpu_by_step=steps.get("cpu", {}),
                             kernel_cpu_seconds=steps.get("kernel_cpu", 0.0))


def _materialise(scratch: Path, bundle: AssignmentBundle, submission: Submission,
                 zygote_socket: str | None) -> dict[str, str]:
    """Write the scratch course; return the environment for the nbgrader children."""
    assignment, student = bundle.assignment_id, submission.student_id
    (scratch / "gradebook.db").write_bytes(bundle.template_gradebook)
    for folder, files in ((scratch / "source" / assignment, bundle.files),
                          (scratch / "submitted" / student / assignment, submission.files)):
        folder.mkdir(parents=True, exist_ok=True)
        for relative, content in files.items():
            path = folder / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(content)
    env, sandboxed = sandbox.configure(scratch, bundle.limits, zygote_socket)
    # the children's temporary folders (the judge's copy of the assignment) live in the scratch
    # course, removed with it even when a child is killed at its deadline
    env["TMPDIR"] = str(scratch)
    folders = {("CourseDirectory", "root"): str(scratch),
               **{("CourseDirectory", f"{step}_directory"): step
                  for step in ("source", "release", "submitted", "autograded", "feedback")},
               ("CourseDirectory", "db_url"): f"sqlite:///{scratch / 'gradebook.db'}"}
    (scratch / "nbgrader_config.py").write_text("\n\n".join([
        bundle.config, config_text("scratch course", {**folders, **_VALIDATE_ONCE}),
        config_text("sandbox", sandboxed), ""]))
    return env


def _notebook_result(scratch: Path, assignment: str, student: str, name: str,
                     recorded: dict | None, status: str, message: str) -> NotebookResult:
    autograded = scratch / "autograded" / student / assignment / f"{name}.ipynb"
    feedback = scratch / "feedback" / student / assignment / f"{name}.html"
    if status == ERROR or not feedback.exists():
        page = error_page(student, assignment, name, message or "no feedback was produced")
    else:
        page = feedback.read_bytes()
    recorded = recorded or {"grades": {}, "comments": {}, "late_penalty": None}
    return NotebookResult(
        name=name,
        grades={key: (score, bool(manual)) for key, (score, manual) in recorded["grades"].items()},
        comments=dict(recorded["comments"]),
        late_penalty=recorded["late_penalty"],
        autograded=autograded.read_bytes() if autograded.exists() else None,
        feedback=page,
    )


def error_page(student: str, assignment: str, notebook: str, message: str) -> bytes:
    """The feedback page of a notebook whose grading, or whose feedback page, failed."""
    return (
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">"
        f"<title>{html.escape(notebook)}</title></head><body>\n"
        f"<h4>{html.escape(notebook)} ({html.escape(assignment)}, {html.escape(student)})</h4>\n"
        "<p>Something went wrong while this notebook was graded automatically:</p>\n"
        f"<pre>{html.escape(message)}</pre>\n"
        "<p>Your instructor has been told and will look at it.</p>\n</body></html>\n"
    ).encode()


def _failure_message(log: Path) -> str:
    """The most telling line of a failed nbgrader run: its last exception, else its last error."""
    lines = log.read_text(errors="replace").splitlines() if log.exists() else []
    for pattern in (_EXCEPTION_LINE, _ERROR_LINE):
        for line in reversed(lines):
            match = pattern.search(line)
            if match and match.group(1).strip():
                return match.group(1).strip()[:500]
    return "no error message in the log"


def _tail(log: Path) -> str:
    text = log.read_text(errors="replace") if log.exists() else ""
    return text[-_LOG_TAIL:]
