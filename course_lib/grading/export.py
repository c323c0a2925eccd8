"""Grades out of the gradebook: nbgrader's CSV, a per-test breakdown, a histogram.

- ``grades.csv`` — nbgrader's own CSV export (``CsvExportPlugin``): one row per
  student and assignment, with raw score, late penalty and score.
- ``breakdown.csv`` — one row per student who submitted this assignment, one
  column per graded cell (``grade_id``, prefixed by ``<notebook>:`` when the
  assignment has several notebooks), then late penalty, score, max score, and
  whether the submission is flagged (grading or its feedback page failed).
- ``histogram.png`` — the class's scores for this assignment.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from nbgrader.plugins import CsvExportPlugin

from .course import Course
from .nbgrader_api import Gradebook


@dataclass(frozen=True)
class ExportFiles:
    """Where :func:`export` wrote its three files."""

    grades: Path
    breakdown: Path
    histogram: Path


def export(course: Course, assignment_id: str, out_dir: Path) -> ExportFiles:
    """Write ``grades.csv``, ``breakdown.csv`` and ``histogram.png`` for ``assignment_id`` into ``out_dir``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    files = ExportFiles(out_dir / "grades.csv", out_dir / "breakdown.csv", out_dir / "histogram.png")
    with Gradebook(course.db_url, course.course_id) as gradebook:
        CsvExportPlugin(to=str(files.grades), assignment=[assignment_id]).export(gradebook)
        assignment = gradebook.find_assignment(assignment_id)
        notebooks = sorted(assignment.notebooks, key=lambda notebook: notebook.name)
        prefix = len(notebooks) > 1
        columns = [(notebook.name, cell.name) for notebook in notebooks
                   for cell in sorted([*notebook.grade_cells, *notebook.task_cells],
                                      key=lambda cell: (cell.cell_type, cell.name))]
        header = ["student_id", *[f"{nb}:{cell}" if prefix else cell for nb, cell in columns],
                  "late_penalty", "score", "max_score", "flagged"]
        rows, scores = [], []
        for submission in sorted(assignment.submissions, key=lambda s: s.student_id):
            by_cell = {(grade.notebook.name, grade.name): grade.score
                       for notebook in submission.notebooks for grade in notebook.grades}
            score = submission.score - submission.late_submission_penalty
            scores.append(score)
            rows.append([submission.student_id, *[by_cell.get(column) for column in columns],
                         submission.late_submission_penalty, score, submission.max_score,
                         any(notebook.flagged for notebook in submission.notebooks)])
        max_score = assignment.max_score
    with files.breakdown.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    _histogram(scores, max_score, f"{assignment_id}: {len(scores)} submissions", files.histogram)
    return files


def _histogram(scores: list[float], max_score: float, title: str, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(6, 3.5))
    axes.hist(scores, bins=min(20, max(5, len(set(scores)))), range=(0, max(max_score, 1e-9)),
              color="#4c72b0", edgecolor="white")
    axes.set_xlabel(f"score (out of {max_score:g})")
    axes.set_ylabel("students")
    axes.set_title(title)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
