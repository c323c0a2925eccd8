"""nbgrader's own Python API (``NbGraderAPI``, ``Gradebook``), in-process, for the client side.

The client runs the once-per-run nbgrader steps (generate_assignment,
generate_feedback, export) here rather than as ``nbgrader`` commands, so that
it imports nbgrader once instead of once per step (about 2 s each), and gives a new gradebook
its schema revision itself instead of letting nbgrader run the ``alembic heads`` command.
"""

from __future__ import annotations

import copy
from pathlib import Path

from nbgrader.api import Gradebook
from nbgrader.apps.api import NbGraderAPI
from nbgrader.coursedir import CourseDirectory
from sqlalchemy import create_engine, inspect, text
from traitlets.config import Config

from .course import Course

__all__ = ["Gradebook", "NbGraderStepError", "api", "head_revision", "run_step", "stamp_new_gradebook"]


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


def head_revision() -> str:
    """The newest revision of nbgrader's gradebook schema, read from its migration scripts."""
    from alembic.script import ScriptDirectory
    from nbgrader.dbutil import ALEMBIC_DIR

    return ScriptDirectory(ALEMBIC_DIR).get_current_head()


def stamp_new_gradebook(db_url: str, revision: str) -> None:
    """Give a gradebook that has no tables yet only nbgrader's schema revision.

    nbgrader then creates its tables in it as usual, but skips learning the revision by
    running the ``alembic heads`` command, a process that imports nbgrader (seconds of CPU),
    which it does only for a database without tables. A gradebook with tables is left alone.
    """
    engine = create_engine(db_url)
    try:
        if inspect(engine).get_table_names():
            return
        with engine.begin() as connection:
            connection.execute(text("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL)"))
            connection.execute(text("INSERT INTO alembic_version (version_num) VALUES (:revision)"),
                               {"revision": revision})
    finally:
        engine.dispose()
