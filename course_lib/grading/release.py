"""``rnn-course release``: regenerate the student versions and prove nothing leaks.

Each assignment is generated with ``nbgrader generate_assignment`` into a
temporary folder, checked, and only then moved into the release directory
(``assignments/``), so a leaking release never lands. The check
(:func:`find_leaks`) looks through every file of the release — notebook sources
and outputs, and the files nbgrader copies as they are — for nbgrader's region
markers and for any line that appears in the source only inside a
``BEGIN SOLUTION`` or ``BEGIN HIDDEN TESTS`` region. Lines shorter than
:data:`MIN_SECRET_CHARS` characters (``else:``, ``return h``) are too common to
count as a leak.

Before generating, the release writes the course's install source
(``c.RnnCourse.install_source``, see :mod:`.course`) into the set-up cell — the first code
cell — of each assignment's source notebook and of every other notebook students get (the
lectures), so that each of them installs the same student package from the same place. The
cell's text is :func:`setup_cell_source`; a notebook without one gets it inserted before its
first code cell.
"""

from __future__ import annotations

import json
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import nbformat

from . import regions
from .course import Course
from .nbgrader_api import api, head_revision, run_step, stamp_new_gradebook

MIN_SECRET_CHARS = 10


@dataclass(frozen=True)
class Leak:
    """One piece of secret text found in a released file."""

    path: Path
    text: str

    def __str__(self) -> str:
        return f"{self.path}: {self.text!r}"


class LeakError(RuntimeError):
    """The generated release contains solution or hidden-test text."""


#: the first line of every set-up cell, which is how :func:`write_setup_cell` recognises one
SETUP_MARK = "# Run this cell first."
#: characters an install source may not hold: it goes into a shell command inside double quotes
_UNSAFE = re.compile(r'["$`\\{}\s]')

_SETUP_INSTALL = """\
# Run this cell first. It makes `course_lib` importable wherever you work: in a kernel that
# has it (the course environment) it does nothing; anywhere else (Colab, a fresh kernel) it
# installs the course's student package once, from where your instructor publishes it.
COURSE_LIB = "{source}"
import importlib, importlib.util

if importlib.util.find_spec("course_lib") is None:
    %pip install --quiet "$COURSE_LIB"
    importlib.invalidate_caches()
    if importlib.util.find_spec("course_lib") is None:
        raise RuntimeError(f"Installing course_lib with `pip install {{COURSE_LIB}}` failed: check that this "
                           "machine can reach that address (pip's message is above), or ask your instructor.")"""

_SETUP_NO_SOURCE = """\
# Run this cell first. It checks that `course_lib` is importable. This notebook was released
# without a place to install it from, so it runs only in a kernel that has it (the course
# environment).
import importlib.util

if importlib.util.find_spec("course_lib") is None:
    raise RuntimeError("course_lib is not installed in this kernel, and this notebook names no place to "
                       "install it from: select the course environment's kernel, or ask your instructor "
                       "for notebooks released with an install source.")"""


def setup_cell_source(install_source: str) -> str:
    """The set-up cell that installs ``course_lib`` from ``install_source`` (a pip requirement).

    An empty source gives a cell that only checks that ``course_lib`` is there.
    """
    if not isinstance(install_source, str):
        raise TypeError(f"install_source must be a str (a pip requirement), got {type(install_source).__name__}")
    if not install_source:
        return _SETUP_NO_SOURCE
    requirement = install_source.replace(" @ ", "@", 1)
    if _UNSAFE.search(requirement) or install_source.startswith("-"):
        raise ValueError(f"install_source must be one pip requirement without quotes, '$', backquotes, "
                         f"backslashes, braces or extra spaces (e.g. 'rnn-course-lib==0.1.0' or "
                         f"'rnn-course-lib @ git+https://host/course.git@v0.1.0'), got {install_source!r}")
    return _SETUP_INSTALL.format(source=install_source)


def write_setup_cell(path: Path, install_source: str) -> bool:
    """Make the first code cell of the notebook at ``path`` the set-up cell for ``install_source``.

    Only that cell changes (its metadata, such as nbgrader's, is kept); a notebook whose first
    code cell is not a set-up cell gets one inserted before it, hidden from the book's pages and
    the slides.
    Returns whether the file changed.
    """
    source = setup_cell_source(install_source)
    notebook = nbformat.read(path, as_version=4)
    codes = [i for i, cell in enumerate(notebook.cells) if cell.cell_type == "code"]
    if codes and notebook.cells[codes[0]].source.startswith(SETUP_MARK):
        cell = notebook.cells[codes[0]]
    else:
        cell = nbformat.v4.new_code_cell("")
        notebook.cells.insert(codes[0] if codes else len(notebook.cells), cell)
    before = (cell.source, json.dumps(cell.metadata, sort_keys=True))
    cell.source = source
    if "nbgrader" not in cell.metadata:  # a lecture's: not on the book's pages, not on a slide
        tags = cell.metadata.setdefault("tags", [])
        if "remove-cell" not in tags:
            tags.append("remove-cell")
        cell.metadata["slideshow"] = {"slide_type": "skip"}
    if (cell.source, json.dumps(cell.metadata, sort_keys=True)) == before:
        return False
    nbformat.write(notebook, path)
    return True


def release(course: Course, assignments: list[str] | None = None) -> list[str]:
    """Regenerate the release of ``assignments`` (default: all in the source directory).

    Returns the assignments released; raises :class:`LeakError` (leaving the
    release directory as it was) if one would leak.
    """
    names = assignments or course.assignments()
    if not names:
        raise FileNotFoundError(f"no assignments with notebooks in {course.source}")
    for name in names:
        course.notebooks(name)  # fails clearly for an unknown assignment
    install_source = course.install_source
    for name in names:
        for notebook in sorted((course.source / name).glob("*.ipynb")):
            write_setup_cell(notebook, install_source)
    for notebook in course.student_notebooks():
        write_setup_cell(notebook, install_source)
    stamp_new_gradebook(course.db_url, head_revision())
    with tempfile.TemporaryDirectory(prefix="rnn-course-release-") as tmp:
        run = api(course, release_directory=tmp)
        for name in names:
            run_step(f"nbgrader generate_assignment {name}", run.generate_assignment(name))
            leaks = find_leaks(course.source / name, Path(tmp) / name)
            if leaks:
                listing = "\n".join(f"  {leak}" for leak in leaks[:20])
                raise LeakError(f"the release of {name} would contain solution or hidden-test text "
                                f"({len(leaks)} findings):\n{listing}")
        for name in names:
            target = course.release / name
            shutil.rmtree(target, ignore_errors=True)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(str(Path(tmp) / name), target)
    return names


def find_leaks(source: Path, released: Path) -> list[Leak]:
    """Secret text from the notebooks in ``source`` found anywhere under ``released``."""
    secret, public = set(), set()
    for notebook in sorted(source.glob("*.ipynb")):
        for cell in nbformat.read(notebook, as_version=4).cells:
            _split_lines(cell.source, secret, public)
    secret = {line for line in secret - public if len(line) >= MIN_SECRET_CHARS}
    leaks = []
    for path in sorted(p for p in released.rglob("*") if p.is_file()):
        for line in _released_lines(path):
            if line in secret or any(marker in line for marker in regions.MARKERS):
                leaks.append(Leak(path, line))
    return leaks


def _split_lines(text: str, secret: set[str], public: set[str]) -> None:
    """Add each stripped line of ``text`` to ``secret`` (inside a region) or ``public``."""
    for line in regions.lines(text):
        if line.marker is None and line.text.strip():
            (secret if line.region else public).add(line.text.strip())


def _released_lines(path: Path) -> list[str]:
    """Stripped text lines of a released file: a notebook's sources and outputs, or the raw text."""
    raw = path.read_bytes()
    if path.suffix == ".ipynb":
        notebook = nbformat.reads(raw.decode("utf-8"), as_version=4)
        texts = []
        for cell in notebook.cells:
            texts.append(cell.source)
            for output in cell.get("outputs", []):
                texts.append(output.get("text", ""))
                texts.extend(str(value) for value in output.get("data", {}).values())
                texts.extend(output.get("traceback", []))
        text = "\n".join(texts)
    else:
        text = raw.decode("utf-8", errors="ignore")
    return [line.strip() for line in text.splitlines() if line.strip()]
