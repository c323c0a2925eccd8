"""The instructor's course as nbgrader sees it: its root, config and gradebook.

Reads the course's ``nbgrader_config.py`` with traitlets (as nbgrader does) to
learn where solutions, releases, submissions, autograded notebooks and feedback
live, which gradebook to use, and the per-cell timeout. ``--db-url`` on the
command line overrides the config's gradebook (SQLite by default; any
SQLAlchemy URL nbgrader accepts, e.g. ``postgresql+psycopg://...``).

Two settings of the course's own live in the same file, in the ``RnnCourse`` section:

- ``c.RnnCourse.install_source``: where students get the student package (``course_lib``),
  as one pip requirement: ``rnn-course-lib==0.1.0`` on an index, ``rnn-course-lib @
  git+https://host/course.git@v0.1.0``, or ``rnn-course-lib @ https://host/rnn_course_lib-0.1.0-py3-none-any.whl``.
  ``rnn-course release`` writes it into the set-up cell of every notebook a student gets.
  Unset, notebooks name no source: they run where ``course_lib`` is installed (the course's
  own environment, offline) and elsewhere stop with a sentence that says so.
- ``c.RnnCourse.student_notebooks``: glob patterns, relative to the course root, of the other
  notebooks students get (lectures), which carry the same set-up cell; ``book/lectures/*.ipynb``
  by default.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from traitlets.config import Config, PyFileConfigLoader

CONFIG_FILE = "nbgrader_config.py"
#: nbgrader's Gradebook default
DEFAULT_COURSE_ID = "default_course"
#: where the lectures live in this repository's layout
DEFAULT_STUDENT_NOTEBOOKS = ("book/lectures/*.ipynb",)


@dataclass(frozen=True)
class Course:
    """Where an nbgrader course keeps its files, and its configuration."""

    root: Path
    config_text: str
    config: Config
    db_url: str

    @classmethod
    def load(cls, root: Path, db_url: str | None = None) -> "Course":
        """Load the course rooted at ``root``; ``db_url`` overrides the config's gradebook."""
        root = Path(root).resolve()
        path = root / CONFIG_FILE
        if not path.is_file():
            raise FileNotFoundError(f"no {CONFIG_FILE} in {root}: is this an nbgrader course root?")
        config = PyFileConfigLoader(CONFIG_FILE, path=str(root)).load_config()
        config.CourseDirectory.root = str(root)
        # nbgrader's steps use CourseDirectory.course_id, "" by default, and then record
        # assignments under a course row never created: SQLite lets that pass, PostgreSQL's
        # foreign key does not. One id for every step.
        if not config.CourseDirectory.get("course_id"):
            config.CourseDirectory.course_id = DEFAULT_COURSE_ID
        url = db_url or config.CourseDirectory.get("db_url") or "sqlite:///gradebook.db"
        url = _absolute_sqlite_url(url, root)
        config.CourseDirectory.db_url = url
        return cls(root=root, config_text=path.read_text(), config=config, db_url=url)

    def _directory(self, trait: str, default: str) -> Path:
        return self.root / self.config.CourseDirectory.get(trait, default)

    @property
    def source(self) -> Path:
        return self._directory("source_directory", "source")

    @property
    def release(self) -> Path:
        return self._directory("release_directory", "release")

    @property
    def submitted(self) -> Path:
        return self._directory("submitted_directory", "submitted")

    @property
    def autograded(self) -> Path:
        return self._directory("autograded_directory", "autograded")

    @property
    def feedback(self) -> Path:
        return self._directory("feedback_directory", "feedback")

    @property
    def grading(self) -> Path:
        """Where ``rnn-course`` keeps logs, run summaries and exports."""
        return self.root / "grading"

    @property
    def install_source(self) -> str:
        """The pip requirement students install ``course_lib`` from ("" when the course names none)."""
        value = self.config.RnnCourse.get("install_source", "")
        if not isinstance(value, str) or "\n" in value or value != value.strip():
            raise ValueError(f"c.RnnCourse.install_source in {self.root / CONFIG_FILE} must be one pip "
                             f"requirement on one line (e.g. 'rnn-course-lib==0.1.0'), got {value!r}")
        return value

    def student_notebooks(self) -> list[Path]:
        """The notebooks other than assignments that students get (``c.RnnCourse.student_notebooks``)."""
        patterns = self.config.RnnCourse.get("student_notebooks", DEFAULT_STUDENT_NOTEBOOKS)
        if isinstance(patterns, str) or not all(isinstance(p, str) for p in patterns):
            raise ValueError(f"c.RnnCourse.student_notebooks in {self.root / CONFIG_FILE} must be a list of "
                             f"glob patterns relative to the course root, got {patterns!r}")
        return sorted({path for pattern in patterns for path in self.root.glob(pattern)
                       if ".ipynb_checkpoints" not in path.parts})

    @property
    def course_id(self) -> str:
        return self.config.CourseDirectory.course_id

    @property
    def cell_timeout(self) -> int | None:
        """``ExecutePreprocessor.timeout`` from the config, if it sets one."""
        value = self.config.ExecutePreprocessor.get("timeout")
        return int(value) if isinstance(value, (int, float)) and value > 0 else None

    @property
    def sqlite_path(self) -> Path | None:
        """The gradebook file when the gradebook is SQLite, else None."""
        prefix = "sqlite:///"
        return Path(self.db_url[len(prefix):]) if self.db_url.startswith(prefix) else None

    def assignments(self) -> list[str]:
        """The assignments in the source directory that hold at least one notebook, sorted."""
        if not self.source.is_dir():
            return []
        return sorted(p.name for p in self.source.iterdir()
                      if p.is_dir() and any(p.glob("*.ipynb")))

    def notebooks(self, assignment_id: str) -> list[str]:
        """The notebook names (without ``.ipynb``) of one assignment's source, sorted."""
        folder = self.source / assignment_id
        names = sorted(p.stem for p in folder.glob("*.ipynb"))
        if not names:
            raise FileNotFoundError(f"no notebooks in {folder}: unknown assignment {assignment_id!r}?")
        return names


def _absolute_sqlite_url(url: str, root: Path) -> str:
    """Make a relative SQLite path (relative to the course root in nbgrader's config) absolute."""
    prefix = "sqlite:///"
    if url.startswith(prefix) and not url[len(prefix):].startswith("/") and url != "sqlite:///:memory:":
        return prefix + str(root / url[len(prefix):])
    return url
