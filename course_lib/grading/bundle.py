"""Prepare, once per run, what every grading task of one assignment needs.

:func:`register_assignment` makes the real gradebook know the assignment (its
notebooks, cells, points and hidden tests) with ``nbgrader generate_assignment``,
writing the student version to a temporary folder so that ``assignments/`` is
left alone. :func:`make_bundle` runs ``generate_assignment`` again in a scratch
course whose gradebook holds only this assignment: that small SQLite file is the
template each worker grades against, so scores come from the very cells,
checksums and points nbgrader stored. The due date is copied from the real
gradebook so that late penalties are computed where the grading happens.
"""

from __future__ import annotations

import shutil
import tempfile
from datetime import datetime
from pathlib import Path

from sqlalchemy import text

from .course import Course
from .nbgrader_api import Gradebook, api, head_revision, run_step, stamp_new_gradebook
from .sandbox import Limits
from .settings import Settings, config_text
from .tasks import AssignmentBundle

#: files nbgrader never copies (as in our ``CourseDirectory.ignore``)
_IGNORE = (".ipynb_checkpoints", "__pycache__", "*.pyc")


def register_assignment(course: Course, assignment_id: str, duedate: datetime | None = None) -> None:
    """Create or update ``assignment_id`` in the course's gradebook from its source notebooks."""
    stamp_new_gradebook(course.db_url, head_revision())
    with tempfile.TemporaryDirectory(prefix="rnn-course-release-") as release:
        run_step(f"nbgrader generate_assignment {assignment_id} (gradebook)",
                 api(course, release_directory=release).generate_assignment(assignment_id))
    if duedate is not None:
        with Gradebook(course.db_url, course.course_id) as gradebook:
            gradebook.update_or_create_assignment(assignment_id, duedate=duedate)


def make_bundle(course: Course, assignment_id: str, *, limits: Limits,
                settings: Settings, preload: tuple[str, ...] = ()) -> AssignmentBundle:
    """Build the :class:`AssignmentBundle` for ``assignment_id`` (call :func:`register_assignment` first).

    ``settings`` (feedback and late-penalty settings) are added to the course's
    ``nbgrader_config.py`` for the workers' scratch courses.
    """
    notebooks = tuple(course.notebooks(assignment_id))
    source = course.source / assignment_id
    with tempfile.TemporaryDirectory(prefix="rnn-course-template-") as tmp:
        scratch = Path(tmp)
        shutil.copytree(source, scratch / "source" / assignment_id,
                        ignore=shutil.ignore_patterns(*_IGNORE))
        database = f"sqlite:///{scratch / 'gradebook.db'}"
        with Gradebook(course.db_url, course.course_id) as real:
            duedate = real.find_assignment(assignment_id).duedate
            revision = real.db.execute(text("SELECT version_num FROM alembic_version")).scalar_one()
        stamp_new_gradebook(database, revision)
        run_step(f"nbgrader generate_assignment {assignment_id} (template)",
                 api(course, root=scratch, source_directory="source",
                     release_directory="release", db_url=database)
                 .generate_assignment(assignment_id))
        with Gradebook(database, course.course_id) as template:
            template.update_or_create_assignment(assignment_id, duedate=duedate)
        template_bytes = (scratch / "gradebook.db").read_bytes()

    files = {
        path.relative_to(source).as_posix(): path.read_bytes()
        for path in sorted(source.rglob("*"))
        if path.is_file() and path.suffix != ".ipynb"
        and not any(path.match(pattern) or pattern in path.parts for pattern in _IGNORE)
    }
    return AssignmentBundle(
        assignment_id=assignment_id,
        notebooks=notebooks,
        template_gradebook=template_bytes,
        files=files,
        config="\n\n".join([course.config_text, config_text(
            "rnn-course grade", {("CourseDirectory", "course_id"): course.course_id, **settings})]),
        limits=limits,
        preload=preload,
    )
