"""What travels between the instructor's machine and the grading workers.

A Dask task carries everything it needs and returns everything it made, so a
worker needs no filesystem shared with the instructor's machine:

- :class:`AssignmentBundle` — one per assignment and run, sent once to every
  worker: a template gradebook made by ``nbgrader generate_assignment`` (cells,
  points, checksums, hidden tests, due date), the assignment's non-notebook files,
  and the ``nbgrader_config.py`` text for the scratch course.
- :class:`Submission` — one per student: the bytes of their submitted files.
- :class:`GradingResult` — one per student: scores and comments per cell as
  nbgrader recorded them, the autograded notebooks, the feedback pages, the log.

All are plain frozen dataclasses of bytes, strings and numbers: they pickle
small and the same way for a local or a remote cluster.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import PurePosixPath

from .sandbox import Limits

#: status of a submission nbgrader graded (scores may still be zero)
GRADED = "graded"
#: status of a submission nbgrader could not grade (corrupt file, timeout, ...):
#: recorded with the scores nbgrader left, flagged, with a message
ERROR = "error"


def check_relative_path(path: str) -> str:
    """Return ``path`` if it is a plain relative POSIX path inside its folder, else raise ValueError."""
    parts = PurePosixPath(path).parts
    if not parts or path.startswith("/") or any(part in ("", ".", "..") for part in parts):
        raise ValueError(f"not a relative path inside the folder: {path!r}")
    return path


def check_student_id(student_id: str) -> str:
    """Return ``student_id`` if it can name a folder safely, else raise ValueError."""
    if (not student_id or student_id in (".", "..") or "/" in student_id or "\\" in student_id
            or "\x00" in student_id or student_id.strip() != student_id):
        raise ValueError(f"unusable student id: {student_id!r}")
    return student_id


@dataclass(frozen=True)
class AssignmentBundle:
    """What every task of one assignment needs (see the module docstring)."""

    assignment_id: str
    notebooks: tuple[str, ...]
    template_gradebook: bytes
    files: dict[str, bytes]
    config: str
    limits: Limits = field(default_factory=Limits)
    #: what the workers' fork host and zygote import before forking (see ``preload``)
    preload: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        check_student_id(self.assignment_id)  # same rules: it names a folder
        if not self.notebooks:
            raise ValueError(f"assignment {self.assignment_id!r} has no notebooks")
        if not self.template_gradebook:
            raise ValueError("the template gradebook is empty")
        for path in self.files:
            check_relative_path(path)


@dataclass(frozen=True)
class Submission:
    """One student's submitted files, keyed by their path inside the assignment folder."""

    student_id: str
    files: dict[str, bytes]

    def __post_init__(self) -> None:
        check_student_id(self.student_id)
        for path in self.files:
            check_relative_path(path)


@dataclass(frozen=True)
class NotebookResult:
    """What nbgrader recorded for one notebook of one submission.

    ``grades`` maps each grade cell's ``grade_id`` to ``(auto_score,
    needs_manual_grade)``; ``comments`` maps solution and task cells to nbgrader's
    automatic comment. ``autograded`` (ipynb) and ``feedback`` (HTML) are
    ``None`` when nbgrader made none.
    """

    name: str
    grades: dict[str, tuple[float | None, bool]]
    comments: dict[str, str | None]
    late_penalty: float | None = None
    autograded: bytes | None = None
    feedback: bytes | None = None


@dataclass(frozen=True)
class GradingResult:
    """The outcome of grading one submission."""

    student_id: str
    status: str
    message: str
    timestamp: str | None
    notebooks: tuple[NotebookResult, ...]
    log: str
    seconds: float
    #: CPU seconds of the forked nbgrader children; not the worker's own, and not the kernels':
    #: a kernel in bwrap's own pid namespace never reaches the child's rusage (measured)
    cpu_seconds: float = 0.0
    #: CPU seconds of the warm kernels the worker's zygote forked for it (0 for cold kernels)
    kernel_cpu_seconds: float = 0.0
    #: the nbgrader child's CPU seconds by step (``autograde``, ``feedback``), where it got that far
    cpu_by_step: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.status not in (GRADED, ERROR):
            raise ValueError(f"status must be {GRADED!r} or {ERROR!r}, got {self.status!r}")
        if self.status == ERROR and not self.message:
            raise ValueError("an error result needs a message")
