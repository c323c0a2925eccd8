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
import zipfile
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
_STUDENT_PREFIX = re.compile(r"^(?P<student_id>[A-Za-z0-9][A-Za-z0-9.@-]*)_")


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
    students, skipped, strays, log = zip_collect(course, assignment_id, source, pattern)
    submissions = read_tree(course.submitted, assignment_id, students)
    # a student whose files all missed the pattern (a wrong notebook name, only a .txt) still
    # gets a result: a submission holding what they sent, which scores 0 as "not submitted"
    submissions += [Submission(check_student_id(student), files)
                    for student, files in sorted(strays.items()) if student not in students]
    return Collected(sorted(submissions, key=lambda s: s.student_id), skipped, log)


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
                pattern: str) -> tuple[set[str], list[str], dict[str, dict[str, bytes]], str]:
    """Collect an LMS export into the course's ``submitted/`` with nbgrader's zip_collect.

    Returns the students collected, the files skipped because the pattern did
    not match them, those skipped files by the student id their name starts with
    (``<student>_...``), and nbgrader's log. A student's earlier ``submitted/``
    files are replaced.
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
        unsafe = [name for path in sorted(archive.rglob("*.zip")) for name in _drop_unsafe_members(path)]
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
        strays: dict[str, dict[str, bytes]] = {}
        for path in files:
            owner = None if matches.get(path) else _STUDENT_PREFIX.match(path.name)
            if owner:
                strays.setdefault(owner["student_id"], {})[path.name] = path.read_bytes()
    if not result["success"]:
        raise CollectError("nbgrader zip_collect failed:\n" + "\n".join(
            part for part in (result.get("log"), result.get("error")) if part))
    students = {match["student_id"] for match in matches.values() if match}
    skipped = [path.name for path, match in matches.items() if not match]
    skipped += [path.name for path in files if path not in matches]
    skipped += [f"{name} (unsafe path in the zip, not extracted)" for name in unsafe]
    return students, sorted(skipped), strays, result.get("log", "")


def _drop_unsafe_members(archive: Path) -> list[str]:
    """Rewrite ``archive`` without members that would land outside the extraction folder.

    A zip entry named ``../x`` or ``/etc/x`` ("zip slip") makes nbgrader's extractor refuse the
    whole archive; dropping just those entries lets the rest of the class be collected.
    """
    try:
        with zipfile.ZipFile(archive) as original:
            members = original.infolist()
            unsafe = [m.filename for m in members
                      if m.filename.startswith(("/", "\\")) or ".." in Path(m.filename.replace("\\", "/")).parts]
            if not unsafe:
                return []
            cleaned = archive.with_suffix(".cleaned")
            with zipfile.ZipFile(cleaned, "w", zipfile.ZIP_DEFLATED) as safe:
                for member in members:
                    if member.filename not in unsafe:
                        safe.writestr(member, original.read(member))
    except zipfile.BadZipFile as error:
        raise CollectError(f"{archive.name} is not a readable zip file: {error}") from None
    cleaned.replace(archive)
    return unsafe
