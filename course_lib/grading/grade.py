"""Grade a whole class in parallel: the client side of ``rnn-course grade``.

One code path for a laptop and a cluster: :func:`grade` opens a Dask
``distributed.Client`` — on a ``LocalCluster`` of one worker process with a
thread per core by default, or on an existing cluster with ``scheduler`` — sends
the :class:`~course_lib.grading.tasks.AssignmentBundle` once, as a task the
workers share, submits one :func:`~course_lib.grading.worker.grade_submission` task per
student, and records each result as it arrives (gradebook, autograded notebook,
feedback page, log), so an interrupted run keeps everything finished before it.

Steps, in order: back up the gradebook; register the assignment; collect the
submissions; skip students already recorded (unless ``force``); grade; export.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path

from course_lib.validation import check_positive_int

from . import feedback, late, preload
from .bundle import make_bundle, register_assignment
from .collect import DEFAULT_PATTERN, collect
from .course import Course
from .export import export
from .gradebook import KEEP_BACKUPS, GradebookWriter, backup
from .sandbox import Limits
from .settings import Settings
from .tasks import ERROR, GradingResult
from .worker import grade_submission, start_warm_up, the_bundle


@dataclass
class Summary:
    """What a run did; printed at the end and saved as ``grading/<assignment>/summary.json``."""

    assignment: str
    found: int = 0
    graded: list[str] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)
    lost: dict[str, str] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)
    unmatched_files: list[str] = field(default_factory=list)
    backup: str | None = None
    interrupted: bool = False
    wall_seconds: float = 0.0
    #: wall seconds per step; ``tasks``, ``tasks cpu`` and ``kernels cpu`` sum the tasks' wall
    #: seconds, their nbgrader children's CPU seconds and their warm kernels' CPU seconds;
    #: ``autograde cpu`` and ``feedback cpu`` split the children's by step
    phases: dict[str, float] = field(default_factory=dict)

    def lines(self) -> list[str]:
        """The end-of-run report, one line per fact."""
        out = [f"{self.assignment}: {self.found} submissions found; graded {len(self.graded)}, of which {len(self.errors)} with errors; "
               f"{len(self.skipped)} already graded (skipped); wall time {self.wall_seconds:.1f} s"]
        out += [f"  error  {student}: {message}" for student, message in sorted(self.errors.items())]
        out += [f"  NOT RECORDED  {student}: {message} (rerun to retry)"
                for student, message in sorted(self.lost.items())]
        if self.unmatched_files:
            out.append(f"  files matching no student (see --pattern): {', '.join(self.unmatched_files)}")
        out.append(f"  gradebook backup: {self.backup or 'none (no SQLite gradebook yet, or not SQLite)'}")
        if self.interrupted:
            out.append("  INTERRUPTED: rerun the same command to grade the rest")
        return out


#: seconds ``grade`` waits for a first worker, and the longest a run goes on without any
WORKER_TIMEOUT = 120.0


@dataclass(frozen=True)
class Options:
    """How to grade: where, with what limits and which feedback and late policy.

    Every option is checked here, once, and an error names the command-line flag
    (``rnn-course grade --help`` says what each one means).
    """

    workers: int | None = None
    scheduler: str | None = None
    force: bool = False
    pattern: str = DEFAULT_PATTERN
    #: seconds per cell; None: the course's ``ExecutePreprocessor.timeout``, else Limits' default
    cell_timeout: int | None = None
    notebook_timeout: int = Limits.notebook_timeout
    show_hidden_tests: bool = False
    #: the late policy (both or neither): percent off per started day late, and the most taken
    late_per_day: float | None = None
    late_cap: float | None = None
    duedate: datetime | None = None
    progress: bool = True
    keep_backups: int = KEEP_BACKUPS
    #: seconds to wait for a first worker, and the longest a run goes on with none at all
    worker_timeout: float = WORKER_TIMEOUT

    def __post_init__(self) -> None:
        for flag, value in (("--workers", self.workers), ("--keep-backups", self.keep_backups),
                            ("--cell-timeout", self.cell_timeout),
                            ("--notebook-timeout", self.notebook_timeout)):
            if value is not None:
                check_positive_int(flag, value)
        if self.workers is not None and self.scheduler:
            raise ValueError("give --workers (a local cluster) or --scheduler (an existing one), not both")
        if not 0 < self.worker_timeout < float("inf"):
            raise ValueError(f"--worker-timeout must be a positive number of seconds, got {self.worker_timeout}")
        if (self.late_per_day is None) != (self.late_cap is None):
            raise ValueError("give both --late-per-day and --late-cap, or neither")
        self.settings()  # the late policy's percentages are checked by its own traits

    def limits(self, course: Course) -> Limits:
        """The sandbox limits for ``course``: these options' timeouts, else the course's."""
        return Limits(cell_timeout=self.cell_timeout or course.cell_timeout or Limits.cell_timeout,
                      notebook_timeout=self.notebook_timeout)

    def settings(self) -> Settings:
        """The nbgrader settings these options add to the course's: feedback, late policy."""
        policy = {} if self.late_per_day is None else late.settings(self.late_per_day, self.late_cap)
        return {**feedback.settings(self.show_hidden_tests), **policy}


def grade(course: Course, assignment_id: str, submissions: Path, options: Options) -> Summary:
    """Grade every submission of ``assignment_id`` found in ``submissions``; return the summary."""
    started = time.perf_counter()
    summary = Summary(assignment=assignment_id)
    limits = options.limits(course)
    run_dir = course.grading / assignment_id
    clock = _Clock(summary.phases)
    with _dask_client(options) as client:
        _check_workers(client, options.worker_timeout)
        clock.lap("start cluster")
        notebooks = [course.source / assignment_id / f"{name}.ipynb"
                     for name in course.notebooks(assignment_id)]
        modules = preload.course_stack() if options.scheduler else preload.assignment_modules(notebooks)
        # workers import, render the cells every feedback page shows and compile the judge's
        # cells while we prepare
        cells = {"shown": feedback.shown_cells(notebooks),
                 "judged": list(preload.instructor_cells(notebooks))}
        client.run(start_warm_up, modules, cells, wait=False)
        summary.backup = None if (path := backup(course, options.keep_backups)) is None else str(path)
        register_assignment(course, assignment_id, options.duedate)
        collected = collect(course, assignment_id, submissions, options.pattern)
        summary.unmatched_files = collected.skipped
        summary.found = len(collected.submissions)
        if collected.log:
            run_dir.mkdir(parents=True, exist_ok=True)
            (run_dir / "collect.log").write_text(collected.log)
        with GradebookWriter(course, assignment_id) as writer:
            recorded = set() if options.force else writer.recorded_students()
            pending = [s for s in collected.submissions if s.student_id not in recorded]
            summary.skipped = sorted(s.student_id for s in collected.submissions
                                     if s.student_id in recorded)
            bundle = make_bundle(course, assignment_id, limits=limits, settings=options.settings(),
                                 preload=modules)
            clock.lap("prepare")
            try:
                _run(client, bundle, pending, writer, course, run_dir, summary, options.progress,
                     options.worker_timeout)
            except KeyboardInterrupt:
                summary.interrupted = True
            clock.lap("grade")
    clock.lap("stop cluster")
    if not summary.interrupted:
        export(course, assignment_id, run_dir)
        clock.lap("export")
    summary.wall_seconds = time.perf_counter() - started
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "summary.json").write_text(json.dumps(asdict(summary), indent=2))
    return summary


def _run(client, bundle, pending, writer: GradebookWriter, course: Course, run_dir: Path,
         summary: Summary, progress: bool, worker_timeout: float) -> None:
    from tqdm import tqdm

    # a task's result, not scattered data: if every worker holding it dies, Dask computes it
    # again on the next worker instead of cancelling every submission that needs it
    shared = client.submit(the_bundle, bundle, pure=False,
                           key=f"bundle-{bundle.assignment_id}-{os.urandom(4).hex()}")
    futures = {client.submit(grade_submission, shared, submission, pure=False,
                             key=f"grade-{bundle.assignment_id}-{submission.student_id}-{os.urandom(4).hex()}"):
               submission.student_id for submission in pending}
    bar = tqdm(total=len(futures), unit="student", desc=f"grading {bundle.assignment_id}",
               disable=not progress, dynamic_ncols=True)
    watchdog = _Watchdog(client, worker_timeout)
    try:
        for future in _as_completed(futures, watchdog):
            student = futures[future]
            try:
                result: GradingResult = _result(future, watchdog)
                _save_files(course, run_dir, bundle.assignment_id, result)
                writer.record(result)
            except NoWorkers:
                raise
            except Exception as error:  # the machinery failed, not the submission
                summary.lost[student] = f"{type(error).__name__}: {error}"
            else:
                summary.graded.append(student)
                steps = {f"{step} cpu": seconds for step, seconds in result.cpu_by_step.items()}
                for name, seconds in (("tasks", result.seconds), ("tasks cpu", result.cpu_seconds),
                                      ("kernels cpu", result.kernel_cpu_seconds), *steps.items()):
                    summary.phases[name] = round(summary.phases.get(name, 0.0) + seconds, 3)
                if result.status == ERROR:
                    summary.errors[student] = result.message
            bar.update(1)
            bar.set_postfix(errors=len(summary.errors) + len(summary.lost), refresh=False)
    except NoWorkers as error:
        client.cancel(list(futures))
        for student in set(futures.values()) - set(summary.graded) - set(summary.lost):
            summary.lost[student] = str(error)
    except KeyboardInterrupt:
        client.cancel(list(futures))
        raise
    finally:
        bar.close()


def _save_files(course: Course, run_dir: Path, assignment_id: str, result: GradingResult) -> None:
    """Write the autograded notebooks, feedback pages and log where nbgrader keeps them.

    Done before the gradebook transaction: files without a recorded grade are
    simply rewritten by the rerun.
    """
    student = result.student_id
    autograded = course.autograded / student / assignment_id
    feedback = course.feedback / student / assignment_id
    for folder in (autograded, feedback):
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
    if result.timestamp is not None:
        _write(autograded / "timestamp.txt", result.timestamp.encode())
    for notebook in result.notebooks:
        if notebook.autograded is not None:
            _write(autograded / f"{notebook.name}.ipynb", notebook.autograded)
        if notebook.feedback is not None:
            _write(feedback / f"{notebook.name}.html", notebook.feedback)
    header = f"{student}: {result.status} in {result.seconds:.1f} s" + (
        f" - {result.message}" if result.message else "")
    _write(run_dir / "logs" / f"{student}.log", f"{header}\n\n{result.log}".encode())


def _write(path: Path, content: bytes) -> None:
    """Write atomically: a reader never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    partial.write_bytes(content)
    os.replace(partial, path)


class _Clock:
    """Adds the wall time since the previous lap to ``phases[name]``."""

    def __init__(self, phases: dict[str, float]) -> None:
        self._phases = phases
        self._last = time.perf_counter()

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self._phases[name] = round(self._phases.get(name, 0.0) + now - self._last, 3)
        self._last = now


class NoWorkers(RuntimeError):
    """The cluster has had no worker for longer than the run's ``worker_timeout``."""


def _check_workers(client, timeout: float) -> None:
    """Wait for a first worker and check that every worker can import the grader.

    Raises RuntimeError naming the cause: a cluster that never starts workers (jobs stuck in
    a queue, workers that cannot reach the scheduler) or workers started in an environment
    without the course's grading packages. Nothing has been graded yet.
    """
    try:
        client.wait_for_workers(1, timeout=timeout)
    except TimeoutError:
        raise RuntimeError(
            f"no Dask worker joined the scheduler at {client.scheduler.address} within {timeout:g} s: "
            "check that the worker jobs started (squeue, kubectl get pods) and can reach the "
            "scheduler; --worker-timeout sets the wait") from None
    # a plain built-in, so that a worker without course_lib can still run the check
    errors = {address: error for address, error in client.run(
        exec, "import course_lib.grading.worker", {}, on_error="return").items() if error}
    if errors:
        address, error = sorted(errors.items())[0]
        raise RuntimeError(
            f"{len(errors)} Dask worker(s) cannot import the grader, e.g. {address}: "
            f"{type(error).__name__}: {error}. Start the workers in the course's grading "
            "environment (the job script's prologue activates it)")


class _Watchdog:
    """Raises :class:`NoWorkers` once the cluster has had no worker for ``timeout`` seconds."""

    def __init__(self, client, timeout: float) -> None:
        self.client, self.timeout, self.alone_since = client, timeout, None

    def check(self) -> None:
        if self.client.nthreads():
            self.alone_since = None
        elif self.alone_since is None:
            self.alone_since = time.monotonic()
        elif time.monotonic() - self.alone_since > self.timeout:
            raise NoWorkers(f"not graded: the cluster has had no worker for {self.timeout:g} s "
                            "(their jobs ended or were cancelled?)")


def _as_completed(futures, watchdog: _Watchdog) -> Iterator:
    """Futures as they finish, while the cluster has workers (see :class:`_Watchdog`)."""
    from distributed import as_completed

    finished = as_completed(futures)
    while not finished.is_empty():
        batch = finished.next_batch(block=False)
        yield from batch
        if not batch:
            watchdog.check()
            time.sleep(0.5)


def _result(future, watchdog: _Watchdog):
    """A finished future's result. Fetching it waits for its worker, or, when that worker has
    died, for Dask to compute it again: only while the cluster has workers."""
    while True:
        if future.status == "error":
            return future.result()  # raises the task's own exception
        try:
            return future.result(timeout=1)
        except TimeoutError:
            watchdog.check()


@contextmanager
def _dask_client(options: Options) -> Iterator:
    """A ``distributed.Client`` on a new LocalCluster, or on the cluster at ``options.scheduler``."""
    import dask
    from distributed import Client, LocalCluster

    if options.scheduler:
        with Client(options.scheduler) as client:
            yield client
        return
    # one worker process, a thread per submission graded at once: its threads share one fork
    # host and one zygote (torch and nbgrader imported once: about 3 s of CPU and hundreds of
    # MB saved per extra process); the work itself is in the processes they fork
    with dask.config.set(_QUIET_LOCAL_CLUSTER), \
            LocalCluster(n_workers=1, threads_per_worker=options.workers or os.cpu_count() or 1,
                         processes=True, host="127.0.0.1", dashboard_address="127.0.0.1:0",
                         silence_logs=logging.ERROR) as cluster, Client(cluster) as client:
        yield client


#: Dask's diagnostics that a grading run never reads, switched off or slowed for the cluster we
#: start: each worker samples its threads' stacks every 10 ms for the dashboard's profile, and
#: every process polls its memory, CPU and disk several times a second. On a 2-core laptop they
#: cost several seconds of CPU per run, taken from the kernels. The memory monitor still runs
#: (Dask's own limits stay on), once a second; the sandbox's limits are what bound a submission.
_QUIET_LOCAL_CLUSTER = {
    "distributed.worker.profile.enabled": False,
    "distributed.worker.memory.monitor-interval": "1s",
    "distributed.admin.system-monitor.interval": "2s",
    "distributed.admin.system-monitor.disk": False,
    "distributed.admin.system-monitor.gil.enabled": False,
    "distributed.admin.tick.interval": "500ms",
}
