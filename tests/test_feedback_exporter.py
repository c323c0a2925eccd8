"""The feedback page's exporter: nbconvert's HTML pages, with less work per submission."""

from __future__ import annotations

from pathlib import Path

import nbgrader
import pytest
from bs4 import BeautifulSoup
from nbconvert.exporters import HTMLExporter
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from course_lib.grading.feedback import FeedbackExporter

_FORMGRADER = Path(nbgrader.__file__).parent / "server_extensions" / "formgrader"
_PIXEL = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="


def _page(exporter_class, template_name: str = "feedback") -> str:
    grading = {"grade": True, "solution": False, "grade_id": "test_x", "points": 2, "score": 0}
    notebook = new_notebook(cells=[
        new_markdown_cell("Some *text* with <b>tags</b> & entities"),
        new_code_cell("assert f(2) == 4, \"f(2) should be 4\"", metadata={"nbgrader": grading},
                      outputs=[new_output("error", ename="AssertionError", evalue="f(2) should be 4",
                                          traceback=["AssertionError: f(2) should be 4"])]),
        new_code_cell("plot()", outputs=[new_output("display_data", data={"image/png": _PIXEL})]),
    ])
    notebook.metadata["language_info"] = {"name": "python", "pygments_lexer": "ipython3"}
    exporter = exporter_class(  # as nbgrader's generate_feedback configures it
        template_name=template_name, extra_template_basedirs=[str(_FORMGRADER / "templates")],
        extra_template_paths=[str(_FORMGRADER / "static" / "node_modules" / "bootstrap" / "dist" / "css")])
    page, _ = exporter.from_notebook_node(notebook, resources={
        "nbgrader": {"notebook": "n", "score": 0, "max_score": 2, "late_penalty": 0}})
    return page


@pytest.mark.parametrize("template_name", ["feedback", "lab"])
def test_feedback_page_reads_exactly_like_nbconverts(template_name):
    ours, theirs = (BeautifulSoup(_page(cls, template_name), "html.parser")
                    for cls in (FeedbackExporter, HTMLExporter))
    assert ours.get_text() == theirs.get_text()
    assert [img.get("alt") for img in ours.find_all("img")] == \
           [img.get("alt") for img in theirs.find_all("img")]


def test_images_without_alt_text_get_nbconverts_description():
    images = BeautifulSoup(_page(FeedbackExporter), "html.parser").find_all("img")
    assert len(images) == 1
    assert images[0]["alt"] == "No description has been provided for this image"
