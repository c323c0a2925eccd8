"""Feedback that shows each test's name, points and assertion message, not hidden tests.

nbgrader's feedback is the autograded notebook rendered to HTML, and the
autograded notebook holds every test cell's full source (autograde restores the
hidden tests from the gradebook before running them) plus the traceback of each
failure, which quotes the failing line. :class:`HideHiddenTests` is an extra
nbconvert preprocessor for ``nbgrader generate_feedback``: in every test cell
that holds a hidden-test region it removes that region from the source (as
``nbgrader generate_assignment`` does for the student version) and reduces the
outputs to the error line (``AssertionError: <message>``). The page still shows
the cell's ``grade_id`` and its score out of its points (nbgrader's template).

Set ``HideHiddenTests.show_hidden_tests = True`` (``--show-hidden-tests``) to
render hidden tests in full, as plain nbgrader does.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from pathlib import Path

from jinja2 import BytecodeCache
from jinja2.bccache import Bucket
from jinja2.environment import Environment
from nbconvert.exporters import HTMLExporter, TemplateExporter
from nbconvert.filters.highlight import Highlight2HTML
from nbconvert.filters.widgetsdatatypefilter import WidgetsDataTypeFilter
from nbconvert.preprocessors import Preprocessor
from nbformat import NotebookNode
from nbformat.v4 import new_output
from traitlets import Bool, Unicode, default

from . import preload, regions
from .settings import Settings

#: replaces each hidden-test region in the feedback
PLACEHOLDER = "# (hidden tests: not shown)"


class HideHiddenTests(Preprocessor):
    """Remove hidden-test source and tracebacks from test cells (see the module docstring)."""

    show_hidden_tests = Bool(
        False, help="Show hidden tests' source and full tracebacks in feedback."
    ).tag(config=True)
    begin_test_delimeter = Unicode(
        regions.HIDDEN_TESTS[0], help="Marks the start of a hidden-test region (as in nbgrader)."
    ).tag(config=True)
    end_test_delimeter = Unicode(
        regions.HIDDEN_TESTS[1], help="Marks the end of a hidden-test region (as in nbgrader)."
    ).tag(config=True)

    @default("enabled")
    def _enabled_default(self) -> bool:
        return True  # nbconvert preprocessors are off unless enabled; this one is on once listed

    def preprocess_cell(self, cell: NotebookNode, resources: dict, index: int):
        grading = cell.get("metadata", {}).get("nbgrader", {})
        if (self.show_hidden_tests or cell.cell_type != "code" or not grading.get("grade")
                or self.begin_test_delimeter not in cell.source):
            return cell, resources
        cell.source = regions.without(
            cell.source, (self.begin_test_delimeter, self.end_test_delimeter), PLACEHOLDER)
        cell.outputs = [
            new_output("error", ename=output.ename, evalue=output.evalue,
                       traceback=[f"{output.ename}: {output.evalue}"])
            for output in cell.outputs if output.output_type == "error"
        ]
        return cell, resources


class _CompiledTemplates(BytecodeCache):
    """Compiled Jinja templates kept in memory, for every exporter of this process and its forks.

    nbconvert builds a new Jinja environment for each exporter and nbgrader a new exporter
    for each run, so every submission's feedback compiled the same nine templates again
    (about 0.5 s of CPU). Jinja checks each entry against the template's source checksum,
    so an edited template is compiled afresh.
    """

    def __init__(self) -> None:
        self._code: dict[str, bytes] = {}

    def load_bytecode(self, bucket: Bucket) -> None:
        if bucket.key in self._code:
            bucket.bytecode_from_string(self._code[bucket.key])

    def dump_bytecode(self, bucket: Bucket) -> None:
        self._code[bucket.key] = bucket.bytecode_to_string()


_COMPILED = _CompiledTemplates()


class _KeptHighlights(Highlight2HTML):
    """nbconvert's code highlighter, remembering every cell it has rendered in this process.

    Highlighting is about half of a feedback page's CPU (pygments lexes Python with regular
    expressions, about 4 ms a cell), and most code cells are the same on every student's page:
    the instructor's set-up cells and the tests. The fork host renders those once
    (:func:`keep_highlights`) and every child it forks finds them here; a student's own cells
    miss and are rendered as nbconvert renders them. The key holds everything the result
    depends on, so a hit returns exactly what rendering would.
    """

    def __call__(self, source: str, language: str | None = None, metadata=None) -> str:
        key = (source, language or self.pygments_lexer, (metadata or {}).get("magics_language"),
               json.dumps(self.extra_formatter_options, sort_keys=True))
        html = _HIGHLIGHTED.get(key)
        if html is None:
            html = _HIGHLIGHTED[key] = super().__call__(source, language, metadata)
        return html


_HIGHLIGHTED: dict[tuple, str] = {}


def shown_sources(notebooks: Iterable[Path]) -> tuple[str, ...]:
    """The code cells of these source notebooks as a feedback page shows them: set-up cells
    as written, test cells with their hidden tests replaced by :data:`PLACEHOLDER`."""
    return tuple(dict.fromkeys(
        regions.without(source, regions.HIDDEN_TESTS, PLACEHOLDER)
        if regions.holds(source, regions.HIDDEN_TESTS) else source
        for source in preload.code_cells(notebooks)))


def keep_highlights(sources: Iterable[str], lexer: str = "ipython3") -> None:
    """Render ``sources`` as a feedback page highlights them (the IPython kernel's lexer) and keep
    them for every later page of this process and of the processes it forks."""
    highlight = _KeptHighlights(pygments_lexer=lexer)
    for source in sources:
        highlight(source)


#: an <img> tag without alt text, and the text nbconvert gives such images
_IMAGE_WITHOUT_ALT = re.compile(r"<img(?![^>]*\salt=)", re.IGNORECASE)
_NO_ALT = "No description has been provided for this image"


class FeedbackExporter(HTMLExporter):
    """nbconvert's HTML exporter, doing per submission only what a feedback page needs.

    - Templates are compiled once per process (the fork host's), see :class:`_CompiledTemplates`,
      and the assignment's own code cells are highlighted once, see :class:`_KeptHighlights`.
    - No second pass through an HTML parser. nbconvert re-parses every page it renders with
      BeautifulSoup (about 0.3 s of CPU for an Assignment-1 feedback page) to give images alt
      text and the lab template's cells a tab stop. nbgrader's feedback template is built on
      the classic template, which has no such cells, so only the alt text is added, directly.
      Any other template goes through nbconvert's own pass.
    """

    def _create_environment(self) -> Environment:
        environment = super()._create_environment()
        environment.bytecode_cache = _COMPILED
        return environment

    def from_notebook_node(self, nb: NotebookNode, resources: dict | None = None, **kw):
        if self.template_name != "feedback":
            return super().from_notebook_node(nb, resources, **kw)
        # HTMLExporter.from_notebook_node up to its BeautifulSoup pass
        language = nb.metadata.get("language_info", {})
        lexer = language.get("pygments_lexer", language.get("name", None))
        self.register_filter("highlight_code", self.filters.get(
            "highlight_code", _KeptHighlights(pygments_lexer=lexer, parent=self)))
        resources = self._init_resources(resources)
        self.register_filter("filter_data_type", WidgetsDataTypeFilter(
            notebook_metadata=self._nb_metadata, parent=self, resources=resources))
        page, resources = TemplateExporter.from_notebook_node(self, nb, resources, **kw)
        return _IMAGE_WITHOUT_ALT.sub(f'<img alt="{_NO_ALT}"', page), resources


def settings(show_hidden_tests: bool) -> Settings:
    """nbgrader settings: ``generate_feedback`` uses :class:`HideHiddenTests` and
    :class:`FeedbackExporter`."""
    return {
        ("GenerateFeedback", "exporter_class"): "course_lib.grading.feedback.FeedbackExporter",
        ("GenerateFeedback", "preprocessors"): [
            "nbgrader.preprocessors.GetGrades",
            "nbconvert.preprocessors.CSSHTMLHeaderPreprocessor",
            "course_lib.grading.feedback.HideHiddenTests",
        ],
        ("HideHiddenTests", "show_hidden_tests"): bool(show_hidden_tests),
    }
