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
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import nbformat

from .course import Course
from .nbgrader_api import api, run_step

MIN_SECRET_CHARS = 10
_REGIONS = (("BEGIN SOLUTION", "END SOLUTION"), ("BEGIN HIDDEN TESTS", "END HIDDEN TESTS"))
MARKERS = tuple(marker for region in _REGIONS for marker in region)


@dataclass(frozen=True)
class Leak:
    """One piece of secret text found in a released file."""

    path: Path
    text: str

    def __str__(self) -> str:
        return f"{self.path}: {self.text!r}"


class LeakError(RuntimeError):
    """The generated release contains solution or hidden-test text."""


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
            if line in secret or any(marker in line for marker in MARKERS):
                leaks.append(Leak(path, line))
    return leaks


def _split_lines(text: str, secret: set[str], public: set[str]) -> None:
    """Add each stripped line of ``text`` to ``secret`` (inside a region) or ``public``."""
    inside = None
    for raw in text.splitlines():
        line = raw.strip()
        begins = [region for region in _REGIONS if region[0] in line]
        if inside is None and begins:
            inside = begins[0]
        elif inside is not None and inside[1] in line:
            inside = None
        elif line:
            (secret if inside else public).add(line)


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
