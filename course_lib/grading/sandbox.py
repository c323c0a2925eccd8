"""Limits and isolation for the nbgrader run that executes one student's notebook.

The grading worker (``worker.py``) asks this module how to run nbgrader for one
submission: :func:`configure` returns the environment variables for the nbgrader
process and extra ``nbgrader_config.py`` lines for the scratch course it runs in.
The worker itself enforces :attr:`Limits.notebook_timeout` by killing the whole
process tree (nbgrader and its kernel) when the deadline passes.

This is a minimal first version: it sets nbgrader's per-cell timeout and nothing
else. Memory, process and output limits, the filesystem and network isolation
(bubblewrap, an rlimits kernel launcher, no network) come with issue 10, which
replaces the body of :func:`configure` and keeps its interface.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Limits:
    """What one submission may use while it is graded.

    ``cell_timeout`` and ``notebook_timeout`` are seconds; the others are
    enforced only once issue 10 lands (see the module docstring).
    """

    cell_timeout: int = 60
    notebook_timeout: int = 600
    memory_bytes: int = 2 * 1024**3
    max_processes: int = 256
    max_output_bytes: int = 1_000_000

    def __post_init__(self) -> None:
        for name in ("cell_timeout", "notebook_timeout", "memory_bytes",
                     "max_processes", "max_output_bytes"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise ValueError(f"Limits.{name} must be a positive integer, got {value!r}")


def configure(scratch: Path, limits: Limits) -> tuple[dict[str, str], list[str]]:
    """Return (environment variables, extra nbgrader config lines) for grading in ``scratch``.

    ``scratch`` is the throw-away course directory the worker made for one
    submission; the lines are appended to its ``nbgrader_config.py``.
    """
    return {}, [f"c.ExecutePreprocessor.timeout = {limits.cell_timeout}"]
