"""What runs inside a forked nbgrader child (see ``forkhost.py``).

Importing this module imports nbgrader and the parts of IPython, nbconvert and
nbclient that autograde and feedback load lazily, and pays the first-use costs
of nbformat's schema validator and of the feedback HTML pipeline (compiled
regular expressions, the HTML entity table, syntax-highlighting lexers; about
1.5 s), so that the fork host pays them once and every child inherits them. A
single ``nbgrader`` process grading a whole class pays them once too. Only the
fork host and its children import this module.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import sqlite3  # noqa: F401  (preloaded: the gradebook)

import IPython.core.interactiveshell  # noqa: F401  (preloaded: autograde's execution imports it)
import IPython.lib.lexers  # noqa: F401  (preloaded: feedback highlights code with them)
import ipykernel.kernelspec  # noqa: F401  (preloaded: autograde starts kernels with it)
import psutil  # noqa: F401  (preloaded: jupyter_client's kernel restarter)
import sqlalchemy.dialects.sqlite  # noqa: F401  (preloaded: the gradebook)
import nbclient  # noqa: F401  (preloaded: autograde executes notebooks with it)
import nbformat
import nbgrader
from nbconvert.exporters import HTMLExporter
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output
from nbgrader.api import Gradebook, MissingEntry
from nbgrader.apps.nbgraderapp import NbGraderApp

from course_lib.grading.feedback import HideHiddenTests

_FORMGRADER = Path(nbgrader.__file__).parent / "server_extensions" / "formgrader"


def ready() -> None:
    """Do nothing: a call that returns proves the fork server is up and preloaded."""


def nbgrader_main(*argv: str) -> None:
    """Run ``nbgrader <argv>`` exactly as the ``nbgrader`` console script does."""
    sys.argv = ["nbgrader", *argv]
    NbGraderApp.launch_instance(argv=list(argv))


def write_report(db_url: str, assignment_id: str, student_id: str, out_path: str) -> None:
    """Write what the gradebook at ``db_url`` holds for one submission to ``out_path`` (JSON).

    Writes ``{"timestamp": ..., "notebooks": {name: {"late_penalty", "grades",
    "comments"}}}``; a submission nbgrader never recorded gives ``null``.
    """
    with Gradebook(db_url) as gradebook:
        try:
            submission = gradebook.find_submission(assignment_id, student_id)
        except MissingEntry:
            report = None
        else:
            report = {
                "timestamp": None if submission.timestamp is None else submission.timestamp.isoformat(),
                "notebooks": {
                    notebook.name: {
                        "late_penalty": notebook.late_submission_penalty,
                        "grades": {grade.name: [grade.auto_score, grade.needs_manual_grade]
                                   for grade in notebook.grades},
                        "comments": {comment.name: comment.auto_comment
                                     for comment in notebook.comments},
                    }
                    for notebook in submission.notebooks
                },
            }
    with open(out_path, "w") as handle:
        json.dump(report, handle)


def _warm_caches() -> None:
    """Validate and render one tiny graded notebook the way autograde and feedback do."""
    grading = {"grade": True, "solution": False, "grade_id": "t", "points": 1, "score": 0}
    notebook = new_notebook(cells=[
        new_markdown_cell("*warm* &amp; &lt;up&gt;"),
        new_code_cell("### BEGIN HIDDEN TESTS\nassert False, 'x'\n### END HIDDEN TESTS",
                      metadata={"nbgrader": grading},
                      outputs=[new_output("error", ename="AssertionError", evalue="x",
                                          traceback=["\x1b[0;31mAssertionError\x1b[0m: x"])]),
    ])
    notebook.metadata["language_info"] = {"name": "python", "pygments_lexer": "ipython3"}
    nbformat.validate(notebook)
    exporter = HTMLExporter(  # configured as nbgrader's GenerateFeedback configures it
        template_name="feedback", extra_template_basedirs=[str(_FORMGRADER / "templates")],
        extra_template_paths=[str(_FORMGRADER / "static" / "node_modules" / "bootstrap" / "dist" / "css")])
    exporter.register_preprocessor(HideHiddenTests(), enabled=True)
    exporter.from_notebook_node(notebook, resources={
        "nbgrader": {"notebook": "warm", "score": 0, "max_score": 1, "late_penalty": 0}})


_warm_caches()
