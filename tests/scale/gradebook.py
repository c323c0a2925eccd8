"""Read what a gradebook holds, the same way for SQLite and PostgreSQL (read only).

Goes through nbgrader's own ORM classes in a plain SQLAlchemy session, not through
``nbgrader.api.Gradebook``: that one creates tables and a course row when it opens, and a
reader must not write.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass


@dataclass(frozen=True)
class Recorded:
    #: (student, notebook, grade_id) -> (auto_score, manual_score, needs_manual_grade)
    grades: dict[tuple[str, str, str], tuple[float | None, float | None, bool]]
    #: student -> how many submissions of the assignment the gradebook holds
    submissions: Counter
    #: (student, notebook, grade_id) -> how many grade rows
    grade_rows: Counter

    def totals(self) -> dict[str, float]:
        """Each student's total score (auto, or manual where an instructor overrode it)."""
        out: dict[str, float] = Counter()
        for (student, _, _), (auto, manual, _) in self.grades.items():
            out[student] += manual if manual is not None else (auto or 0.0)
        return dict(out)


def read(url: str, assignment: str) -> Recorded:
    from nbgrader.api import Grade, SubmittedAssignment
    from sqlalchemy import create_engine
    from sqlalchemy.orm import Session

    engine = create_engine(url)  # postgresql:// is psycopg 3 from SQLAlchemy 2.1 on
    try:
        with Session(engine) as session:
            submissions = Counter(
                s.student.id for s in session.query(SubmittedAssignment)
                if s.assignment.name == assignment)
            grades, rows = {}, Counter()
            for g in session.query(Grade):
                if g.assignment.name != assignment:
                    continue
                key = (g.student.id, g.notebook.name, g.name)
                rows[key] += 1
                grades[key] = (g.auto_score, g.manual_score, bool(g.needs_manual_grade))
            return Recorded(grades=grades, submissions=submissions, grade_rows=rows)
    finally:
        engine.dispose()
