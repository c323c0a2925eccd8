"""nbgrader's own Python API (``NbGraderAPI``, ``Gradebook``), in-process, for the client side.

The client runs the once-per-run nbgrader steps (generate_assignment,
generate_feedback, export) here rather than as ``nbgrader`` commands, so that
it imports nbgrader once instead of once per step (about 2 s each).
"""

from __future__ import annotations

import copy
from pathlib import Path

from nbgrader.api import Gradebook
from nbgrader.apps.api import NbGraderAPI
from nbgrader.coursedir import CourseDirectory
from traitlets.config import Config

from .course import Course

__all__ = ["Gradebook", "NbGraderStepError", "api", "run_step"]


class NbGraderStepError(RuntimeError):
    """An nbgrader step reported failure; the message holds its log."""


def api(course: Course, **directories: str | Path) -> NbGraderAPI:
    """An ``NbGraderAPI`` for ``course``, with ``CourseDirectory`` traits overridden by ``directories``."""
    config: Config = copy.deepcopy(course.config)
    for trait, value in directories.items():
        config.CourseDirectory[trait] = str(value)
    coursedir = CourseDirectory(config=config)
    return NbGraderAPI(coursedir=coursedir, config=config)


def run_step(description: str, result: dict) -> str:
    """Check an ``NbGraderAPI`` result dict; return its log, or raise with the log and error."""
    if not result.get("success"):
        details = "\n".join(part for part in (result.get("log"), result.get("error")) if part)
        raise NbGraderStepError(f"{description} failed:\n{details}")
    return result.get("log", "")
