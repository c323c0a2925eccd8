"""The one writer of the real gradebook, and its backup.

Workers grade against throw-away copies; only the instructor's process writes
the course's gradebook, so SQLite's single-writer lock is never contended and a
PostgreSQL gradebook (``--db-url``) sees one client. :meth:`GradebookWriter.record`
writes one student's submission, notebooks, grades and comments in a single
transaction: a run killed at any moment leaves each student either fully
recorded or not at all, and a rerun grades exactly the students not recorded.

Recording follows ``nbgrader autograde`` on an existing submission: manual
scores, manual comments and extensions are kept, and a cell with a manual score
is marked for review again.
"""

from __future__ import annotations

import glob
import sqlite3
from contextlib import closing
from datetime import datetime, timezone
from pathlib import Path

from nbgrader import utils
from nbgrader.api import (Comment, Grade, Gradebook, Student, SubmittedAssignment,
                          SubmittedNotebook)

from .course import Course
from .tasks import ERROR, GradingResult


#: backups kept beside the gradebook by default; older ones are deleted
KEEP_BACKUPS = 10


def backup(course: Course, keep: int = KEEP_BACKUPS) -> Path | None:
    """Copy the SQLite gradebook to ``<gradebook>.<UTC time>.bak``; return the copy.

    Returns None when there is nothing to copy yet. Uses SQLite's online backup,
    so the copy is consistent even while another process reads the gradebook.
    Then deletes all but the newest ``keep`` backups (the new one included), so
    a term of grading runs does not fill the disk with copies.
    Other databases are not copied: back them up with their own tools (pg_dump).
    """
    if isinstance(keep, bool) or not isinstance(keep, int):
        raise TypeError(f"keep must be an int, got {type(keep).__name__}")
    if keep < 1:
        raise ValueError(f"keep must be at least 1 (the backup just made), got {keep}")
    path = course.sqlite_path
    if path is None or not path.exists():
        return None
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
    target = path.with_name(f"{path.name}.{stamp}.bak")
    with closing(sqlite3.connect(path)) as source, closing(sqlite3.connect(target)) as copy:
        source.backup(copy)
    # the UTC stamps sort as text in time order
    for old in sorted(path.parent.glob(f"{glob.escape(path.name)}.*Z.bak"))[:-keep]:
        old.unlink()
    return target


class GradebookWriter:
    """Records grading results for one assignment into the course's gradebook."""

    def __init__(self, course: Course, assignment_id: str) -> None:
        self._gradebook = Gradebook(course.db_url, course.course_id)
        self._db = self._gradebook.db
        self._assignment = self._gradebook.find_assignment(assignment_id)

    def __enter__(self) -> "GradebookWriter":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def close(self) -> None:
        self._gradebook.close()

    def recorded_students(self) -> set[str]:
        """The students with a recorded submission of this assignment."""
        rows = self._db.query(SubmittedAssignment.student_id).filter(
            SubmittedAssignment.assignment_id == self._assignment.id)
        return {student_id for (student_id,) in rows}

    def record(self, result: GradingResult) -> None:
        """Write ``result`` in one transaction (rolled back entirely if anything fails)."""
        try:
            with self._db.no_autoflush:  # flush once, complete, at commit
                self._write(result)
            self._db.commit()
        except BaseException:
            self._db.rollback()
            raise

    def _write(self, result: GradingResult) -> None:
        student = self._db.get(Student, result.student_id)
        if student is None:
            student = self._new(Student(id=result.student_id))
        submission = self._db.query(SubmittedAssignment).filter_by(
            assignment_id=self._assignment.id, student_id=student.id).one_or_none()
        if submission is None:
            submission = self._new(SubmittedAssignment(assignment=self._assignment, student=student))
        submission.timestamp = (None if result.timestamp is None
                                else utils.parse_utc(result.timestamp))
        by_name = {notebook.name: notebook for notebook in result.notebooks}
        existing = {notebook.notebook_id: notebook for notebook in submission.notebooks}
        for notebook in self._assignment.notebooks:
            recorded = by_name.get(notebook.name)
            target = existing.get(notebook.id)
            if target is None:
                target = self._new(SubmittedNotebook(notebook=notebook, assignment=submission))
            target.flagged = result.status == ERROR
            target.late_submission_penalty = None if recorded is None else recorded.late_penalty
            grades = {grade.cell_id: grade for grade in target.grades}
            comments = {comment.cell_id: comment for comment in target.comments}
            for cell in [*notebook.grade_cells, *notebook.task_cells]:
                grade = grades.get(cell.id) or self._new(Grade(cell_id=cell.id, notebook=target))
                auto_score, needs_manual = (None, True) if recorded is None else \
                    recorded.grades.get(cell.name, (None, True))
                grade.auto_score = auto_score
                grade.needs_manual_grade = needs_manual or grade.manual_score is not None
            for cell in [*notebook.solution_cells, *notebook.task_cells]:
                comment = comments.get(cell.id) or self._new(Comment(cell_id=cell.id, notebook=target))
                comment.auto_comment = None if recorded is None else recorded.comments.get(cell.name)

    def _new(self, row):
        """Add a new row to the session (SQLAlchemy 2 no longer cascades through backrefs)."""
        self._db.add(row)
        return row
