"""A small class for the scale-out tests, built from the real assignment ``a1_text_to_tensors``.

``make_course(dest)`` copies what ``rnn-course grade`` needs of the course (the nbgrader config
and the assignment's solution folder) into a fresh directory, so no test touches the repo's
gradebook. ``write_class(course, out, students)`` writes the class as an nbgrader
``submitted/`` tree, ``<student>/<assignment>/<notebook>.ipynb`` (the other input
``rnn-course grade`` takes besides an LMS export): the released notebook with every answer taken
from the solution, then changed per the student's ``kind``:

- ``correct``: the solution's answers;
- ``partly``: ``tokenize`` uses ``str.split`` and ``encode`` maps unknown words to ``<pad>``
  (wrong in every test of those two parts, right elsewhere);
- ``broken``: a syntax error in ``build_vocab`` and an exception in ``one_hot``.

Generated, not stored, so that the class follows the assignment when it changes.
"""

from __future__ import annotations

import copy
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat

ASSIGNMENT = "a1_text_to_tensors"
NOTEBOOK = "a1_text_to_tensors"

WRONG = {
    "partly": {
        "tokenize": "def tokenize(text):\n    return text.lower().split()\n",
        "encode": "def encode(tokens, stoi):\n"
                  "    return torch.tensor([stoi.get(t, 0) for t in tokens], dtype=torch.long)\n",
    },
    "broken": {
        "build_vocab": "def build_vocab(token_lists, min_freq=1)\n    return [], {}\n",
        "one_hot": "def one_hot(indices, num_classes):\n    raise RuntimeError('not done yet')\n",
    },
}


def make_course(repo: Path, dest: Path) -> Path:
    """A copy of the course's grading inputs under ``dest`` (returned)."""
    dest.mkdir(parents=True, exist_ok=True)
    shutil.copy(repo / "nbgrader_config.py", dest / "nbgrader_config.py")
    shutil.copytree(repo / "solutions" / ASSIGNMENT, dest / "solutions" / ASSIGNMENT,
                    ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"))
    released = repo / "assignments" / ASSIGNMENT
    if (released / f"{NOTEBOOK}.ipynb").exists():
        shutil.copytree(released, dest / "assignments" / ASSIGNMENT)
    return dest


def release_notebook(course: Path) -> nbformat.NotebookNode:
    """The student version: the committed release, else one nbgrader generates in a scratch copy."""
    path = course / "assignments" / ASSIGNMENT / f"{NOTEBOOK}.ipynb"
    if not path.exists():
        scratch = course.parent / f"{course.name}-release"
        make_course(course, scratch)
        subprocess.run([str(Path(sys.executable).parent / "nbgrader"), "generate_assignment", ASSIGNMENT,
                        "--force", "--CourseDirectory.db_url=sqlite:///release.db"],
                       cwd=scratch, check=True, capture_output=True, text=True)
        path = scratch / "assignments" / ASSIGNMENT / f"{NOTEBOOK}.ipynb"
    return nbformat.read(path, as_version=4)


def _answers(source: nbformat.NotebookNode) -> dict[str, str]:
    """The solution's answer per code answer cell, solution markers dropped."""
    out = {}
    for cell in source.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("solution") and cell.cell_type == "code":
            out[meta["grade_id"]] = "\n".join(
                line for line in cell.source.splitlines()
                if "### BEGIN SOLUTION" not in line and "### END SOLUTION" not in line)
    return out


def student_notebook(release, source, kind: str) -> nbformat.NotebookNode:
    """The released notebook answered as a student of ``kind`` would."""
    answers = {**_answers(source), **WRONG.get(kind, {})}
    nb = copy.deepcopy(release)
    for cell in nb.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id in answers:
            cell.source = answers[grade_id]
    return nb


def write_class(course: Path, out: Path, students: dict[str, str]) -> Path:
    """``out/<student>/<assignment>/<notebook>.ipynb`` per ``students`` entry (id -> kind)."""
    release = release_notebook(course)
    source = nbformat.read(course / "solutions" / ASSIGNMENT / f"{NOTEBOOK}.ipynb", as_version=4)
    for student, kind in students.items():
        folder = out / student / ASSIGNMENT
        folder.mkdir(parents=True, exist_ok=True)
        nbformat.write(student_notebook(release, source, kind), folder / f"{NOTEBOOK}.ipynb")
    return out
