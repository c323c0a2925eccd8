"""The instructor's course as nbgrader sees it: its root, config and gradebook.

Reads the course's ``nbgrader_config.py`` with traitlets (as nbgrader does) to
learn where solutions, releases, submissions, autograded notebooks and feedback
live, which gradebook to use, and the per-cell timeout. ``--db-url`` on the
command line overrides the config's gradebook (SQLite by default; any
SQLAlchemy URL nbgrader accepts, e.g. ``postgresql+psycopg://...``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from traitlets.config import Config, PyFileConfigLoader

CONFIG_FILE = "nbgrader_config.py"
#: nbgrader's Gradebook default
DEFAULT_COURSE_ID = "default_course"


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
