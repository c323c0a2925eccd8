"""Turn what the instructor downloaded into one :class:`Submission` per student.

Two inputs are understood:

- an nbgrader ``submitted/`` tree, ``<tree>/<student>/<assignment>/<notebook>.ipynb``
  (plus any other files and ``timestamp.txt``), as ``nbgrader collect`` leaves it;
- an LMS export, a zip or a folder of files named like
  ``<student>_<anything>_<notebook>.ipynb``. It goes through nbgrader's
  ``zip_collect`` machinery (its extractor and file-name collector plugins),
  which fills the course's ``submitted/`` tree; the file-name pattern is
  configurable (:data:`DEFAULT_PATTERN`).
"""

from __future__ import annotations

import copy
import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from nbgrader.apps.zipcollectapp import ZipCollectApp
from nbgrader.coursedir import CourseDirectory
from nbgrader.plugins import FileNameCollectorPlugin
from nbgrader.utils import capture_log

from .course import Course
from .tasks import Submission, check_student_id

#: matched against each file name of an LMS export; ``{notebooks}`` stands for
#: the assignment's notebook names. It must capture ``student_id`` and
#: ``file_id`` (and may capture ``timestamp``, as nbgrader's collector allows).
DEFAULT_PATTERN = r"^(?P<student_id>[^_]+)_(?:.*_)?(?P<file_id>{notebooks})\.ipynb$"
_SKIP = {".ipynb_checkpoints", "__pycache__"}


class CollectError(RuntimeError):
    """The submissions could not be read; the message says why."""


class FileNameCollector(FileNameCollectorPlugin):
    """nbgrader's file-name collector, matching the pattern against the file name only.

    nbgrader's own matches the whole extracted path, so every pattern would have
    to start with the temporary folder's name.
    """

    def collect(self, submitted_file: str) -> dict | None:
        if os.path.splitext(submitted_file)[1] not in self.valid_ext:
            return None
        return self._match(os.path.basename(submitted_file))


@dataclass(frozen=True)
class Collected:
    """The submissions found, the export's files no student could be matched to, zip_collect's log."""

    submissions: list[Submission]
    skipped: list[str]
    log: str = ""


def collect(course: Course, assignment_id: str, source: Path,
            pattern: str = DEFAULT_PATTERN) -> Collected:
    """Read the submissions for ``assignment_id`` from ``source`` (see the module docstring)."""
    source = Path(source)
    if not source.exists():
        raise CollectError(f"no such file or folder: {source}")
    if source.is_dir() and any(source.glob(f"*/{assignment_id}")):
        return Collected(read_tree(source, assignment_id), [])
    students, skipped, log = zip_collect(course, assignment_id, source, pattern)
    return Collected(read_tree(course.submitted, assignment_id, students), skipped, log)


def read_tree(tree: Path, assignment_id: str, students: set[str] | None = None) -> list[Submission]:
    """The submissions in an nbgrader ``submitted/`` tree (only ``students`` if given), by student id."""
    submissions = []
    for folder in sorted(tree.glob(f"*/{assignment_id}")):
        student = folder.parent.name
        if not folder.is_dir() or (students is not None and student not in students):
            continue
        files = {
            path.relative_to(folder).as_posix(): path.read_bytes()
            for path in sorted(folder.rglob("*"))
            if path.is_file() and not _SKIP.intersection(path.relative_to(folder).parts)
        }
        if files:
            submissions.append(Submission(check_student_id(student), files))
    return submissions


def zip_collect(course: Course, assignment_id: str, export: Path,
                pattern: str) -> tuple[set[str], list[str], str]:
    """Collect an LMS export into the course's ``submitted/`` with nbgrader's zip_collect.

    Returns the students collected, the files skipped because the pattern did
    not match them, and nbgrader's log. A student's earlier ``submitted/`` files
    are replaced.
    """
    regexp = pattern.replace("{notebooks}", "|".join(
        re.escape(name) for name in course.notebooks(assignment_id)))
    try:
        compiled = re.compile(regexp)
    except re.error as error:
        raise CollectError(f"bad --pattern {pattern!r}: {error}") from None
    if not {"student_id", "file_id"} <= set(compiled.groupindex):
        raise CollectError(f"--pattern must capture (?P<student_id>...) and (?P<file_id>...): {pattern!r}")

    with tempfile.TemporaryDirectory(prefix="rnn-course-collect-") as downloaded:
        archive = Path(downloaded) / assignment_id / "archive"
        if export.is_dir():
            shutil.copytree(export, archive)
        else:
            archive.mkdir(parents=True)
            shutil.copy(export, archive / export.name)
        config = copy.deepcopy(course.config)
        # nbgrader joins this onto the course root: an absolute path keeps the export outside it
        config.ZipCollectApp.collect_directory_structure = os.path.join(
            downloaded, "{assignment_id}", "{collect_step}")
        config.ZipCollectApp.collector_plugin = FileNameCollector
        config.ZipCollectApp.force = True
        config.ExtractorPlugin.force = True
        config.FileNameCollectorPlugin.named_regexp = regexp
        app = ZipCollectApp(config=config)
        app.coursedir = CourseDirectory(parent=app)
        app.coursedir.assignment_id = assignment_id
        for handler in list(app.log.handlers):  # the log goes to the result, not the terminal
            app.log.removeHandler(handler)
        result = capture_log(app)
        extracted = Path(downloaded) / assignment_id / "extracted"
        files = sorted(p for p in extracted.rglob("*") if p.is_file()) if extracted.exists() else []
        matches = {path: compiled.match(path.name) for path in files
                   if path.suffix in app.collector_plugin_inst.valid_ext}
    if not result["success"]:
        raise CollectError("nbgrader zip_collect failed:\n" + "\n".join(
            part for part in (result.get("log"), result.get("error")) if part))
    students = {match["student_id"] for match in matches.values() if match}
    skipped = [path.name for path, match in matches.items() if not match]
    skipped += [path.name for path in files if path not in matches]
    return students, sorted(skipped), result.get("log", "")
