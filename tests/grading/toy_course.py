"""A tiny real nbgrader course for the grading tests.

One assignment, ``toy``, with one notebook: two autograded answers, three test
cells (one of them with a hidden test), one manually graded answer, and a data
file beside the notebook (nbgrader copies non-notebook files as they are, so the
bundle must carry them). The course is laid out like ours: ``solutions/`` is
nbgrader's source directory and ``assignments/`` its release directory.
"""

from __future__ import annotations

from pathlib import Path

import nbformat

ASSIGNMENT = "toy"
NOTEBOOK = "toy"

#: the hidden test's assertion message (what feedback must show) and a line of
#: its source that feedback must not show
HIDDEN_MESSAGE = "squares(5) is wrong"
HIDDEN_SOURCE = "assert squares(5) == [0, 1, 4, 9, 16]"

CONFIG = '''\
c = get_config()  # noqa: F821
c.CourseDirectory.root = "."
c.CourseDirectory.source_directory = "solutions"
c.CourseDirectory.release_directory = "assignments"
c.CourseDirectory.db_url = "sqlite:///gradebook.db"
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\\nraise NotImplementedError()"}
c.ExecutePreprocessor.timeout = 30
'''


def _meta(grade_id: str, *, grade: bool, solution: bool, points: float = 0) -> dict:
    meta = {"grade_id": grade_id, "grade": grade, "solution": solution,
            "locked": not solution, "schema_version": 3}
    if grade:
        meta["points"] = points
    return {"nbgrader": meta}


def source_notebook() -> nbformat.NotebookNode:
    """The instructor's version of ``toy.ipynb``, solutions and hidden test included."""
    code, md = nbformat.v4.new_code_cell, nbformat.v4.new_markdown_cell
    cells = [
        md("# Toy assignment\nWrite `squares` and `mean`."),
        code("def squares(n):\n    ### BEGIN SOLUTION\n    return [i * i for i in range(n)]\n"
             "    ### END SOLUTION", metadata=_meta("squares", grade=False, solution=True)),
        code('"""squares(3) is [0, 1, 4]."""\n'
             'assert squares(3) == [0, 1, 4], "squares(3) should be [0, 1, 4]"',
             metadata=_meta("test_squares", grade=True, solution=False, points=2)),
        code('"""squares agrees with a hidden reference."""\n'
             'assert len(squares(0)) == 0, "squares(0) should be empty"\n'
             "### BEGIN HIDDEN TESTS\n"
             f'{HIDDEN_SOURCE}, "{HIDDEN_MESSAGE}"\n'
             "### END HIDDEN TESTS",
             metadata=_meta("test_squares_hidden", grade=True, solution=False, points=3)),
        code("def mean(xs):\n    ### BEGIN SOLUTION\n    return sum(xs) / len(xs)\n"
             "    ### END SOLUTION", metadata=_meta("mean", grade=False, solution=True)),
        code('"""mean of the numbers in data.txt."""\n'
             "numbers = [float(x) for x in open('data.txt').read().split()]\n"
             'assert mean(numbers) == 2.5, "mean of data.txt should be 2.5"',
             metadata=_meta("test_mean", grade=True, solution=False, points=1)),
        md("Explain why `squares` is O(n).\n"),
        md("YOUR ANSWER HERE", metadata=_meta("explain", grade=True, solution=True, points=2)),
    ]
    nb = nbformat.v4.new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    return nb


def write_course(root: Path) -> Path:
    """Write the course (config, solution notebook, data file) under ``root``; return root."""
    source = root / "solutions" / ASSIGNMENT
    source.mkdir(parents=True, exist_ok=True)
    (root / "nbgrader_config.py").write_text(CONFIG)
    nbformat.write(source_notebook(), source / f"{NOTEBOOK}.ipynb")
    (source / "data.txt").write_text("1 2 3 4\n")
    return root


#: answers keyed by solution cell ``grade_id``; a missing key leaves nbgrader's stub
CORRECT = {
    "squares": "def squares(n):\n    return [i * i for i in range(n)]",
    "mean": "def mean(xs):\n    return sum(xs) / len(xs)",
    "explain": "One multiplication per element.",
}
#: passes the visible squares test, fails the hidden one
PARTIAL = {**CORRECT, "squares": "def squares(n):\n    return [0, 1, 4][:n]"}
#: nothing answered
BLANK: dict[str, str] = {}
#: not a notebook at all
CORRUPT = b'{"cells": ['
STUB = "# YOUR CODE HERE\nraise NotImplementedError()"


def submission(answers: dict[str, str], *, slow_seconds: float = 0) -> bytes:
    """A student's ``toy.ipynb``: the student version with ``answers`` filled in.

    ``slow_seconds`` makes the first answer sleep, so a run lasts long enough to
    be interrupted.
    """
    nb = source_notebook()
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("solution"):
            cell.source = answers.get(meta["grade_id"], STUB if cell.cell_type == "code"
                                      else "YOUR ANSWER HERE")
        elif meta.get("grade"):
            lines = cell.source.split("\n")
            cell.source = "\n".join(lines[: lines.index("### BEGIN HIDDEN TESTS")]
                                    if "### BEGIN HIDDEN TESTS" in lines else lines)
    if slow_seconds:
        first = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("solution"))
        first.source = f"import time\ntime.sleep({slow_seconds})\n" + first.source
    return nbformat.writes(nb).encode()


def write_submitted_tree(root: Path, students: dict[str, bytes],
                         timestamps: dict[str, str] | None = None) -> Path:
    """Write ``submitted/<student>/toy/toy.ipynb`` (and ``timestamp.txt``) under ``root``."""
    for student, content in students.items():
        folder = root / student / ASSIGNMENT
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{NOTEBOOK}.ipynb").write_bytes(content)
        if timestamps and student in timestamps:
            (folder / "timestamp.txt").write_text(timestamps[student])
    return root
