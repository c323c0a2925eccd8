"""Grade corpus files with plain ``nbgrader autograde`` in scratch courses, sandboxed or not.

Used to measure what the sandbox costs (same submission, with and without it) and to grade
single cases while developing; the suite grades the corpus through ``rnn-course grade``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from nbgrader.api import Gradebook

ASSIGNMENT = "a1"
BIN = Path(sys.executable).parent


def make_course(root: Path, source_nb: Path) -> Path:
    """An nbgrader course in ``root`` with ``source_nb`` released; returns the release notebook."""
    (root / "source" / ASSIGNMENT).mkdir(parents=True)
    shutil.copy(source_nb, root / "source" / ASSIGNMENT / source_nb.name)
    (root / "nbgrader_config.py").write_text(
        "c = get_config()\n"
        "c.CourseDirectory.root = '.'\n"
        "c.CourseDirectory.db_url = 'sqlite:///gradebook.db'\n"
        "c.ClearSolutions.code_stub = {'python': '# YOUR CODE HERE\\nraise NotImplementedError()'}\n"
    )
    _nbgrader(root, ["generate_assignment", ASSIGNMENT, "--force"], {})
    return root / "release" / ASSIGNMENT / source_nb.name


def _nbgrader(root: Path, args: list[str], env: dict, timeout: int = 900) -> subprocess.CompletedProcess:
    full_env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}", **env}
    result = subprocess.run([str(BIN / "nbgrader"), *args], cwd=root, env=full_env,
                            capture_output=True, text=True, timeout=timeout)
    if result.returncode != 0 and args[0] == "generate_assignment":
        raise RuntimeError(result.stdout + result.stderr)
    return result


def grade_one(course: Path, scratch: Path, student: str, submission: Path, notebook: str,
              sandboxed: bool, limits=None, zygote: str | None = None,
              ) -> tuple[dict[str, float | None], list[str], str]:
    """Autograde one submission in a copy of ``course``: (scores by grade id, messages, log).

    ``zygote``: the socket of a running ``zygote.Zygote`` to fork warm kernels from.
    """
    from course_lib.grading import sandbox
    from course_lib.grading.settings import config_text

    shutil.copytree(course, scratch, ignore=shutil.ignore_patterns("submitted", "autograded"))
    target = scratch / "submitted" / student / ASSIGNMENT
    target.mkdir(parents=True)
    shutil.copy(submission, target / f"{notebook}.ipynb")
    env: dict[str, str] = {}
    if sandboxed:
        env, settings = sandbox.configure(scratch, limits or sandbox.Limits(), zygote)
        with open(scratch / "nbgrader_config.py", "a") as config:
            config.write("\n" + config_text("sandbox", settings) + "\n")
    result = _nbgrader(scratch, ["autograde", ASSIGNMENT, "--student", student, "--force"], env)
    scores: dict[str, float | None] = {}
    with Gradebook(f"sqlite:///{scratch / 'gradebook.db'}") as gb:
        try:
            sub = gb.find_submission_notebook(notebook, ASSIGNMENT, student)
            scores = {g.name: g.auto_score for g in sub.grades}
        except Exception:
            pass
    messages = sandbox.read_messages(scratch) if sandboxed else []
    return scores, messages, result.stdout + result.stderr
