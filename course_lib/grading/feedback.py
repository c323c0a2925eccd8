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

from jinja2 import BytecodeCache, pass_context
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
    (:func:`keep_renderings`) and every child it forks finds them here; a student's own cells
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
_MARKDOWN: dict[tuple, str] = {}  #: see FeedbackExporter.markdown2html


def shown_cells(notebooks: Iterable[Path]) -> dict[str, tuple[str, ...]]:
    """The cells of these source notebooks as every feedback page shows them: ``{"code": ...,
    "markdown": ...}``, the set-up cells as written, the test cells with their hidden tests
    replaced by :data:`PLACEHOLDER`, and the markdown cells (JSON-ready, for the fork hosts)."""
    code = (regions.without(source, regions.HIDDEN_TESTS, PLACEHOLDER)
            if regions.holds(source, regions.HIDDEN_TESTS) else source
            for source in preload.cells(notebooks, "code"))
    return {"code": tuple(dict.fromkeys(code)),
            "markdown": tuple(dict.fromkeys(preload.cells(notebooks, "markdown")))}


def keep_renderings(shown: dict[str, Iterable[str]], lexer: str = "ipython3") -> None:
    """Render the ``shown`` cells (see :func:`shown_cells`) as a feedback page with default
    settings renders them (code with the IPython kernel's lexer) and keep them for every later
    page of this process and of the processes it forks."""
    highlight = _KeptHighlights(pygments_lexer=lexer)
    for source in shown.get("code", ()):
        highlight(source)
    exporter = FeedbackExporter()
    for source in shown.get("markdown", ()):
        try:
            exporter.markdown2html({}, source)
        except Exception:  # noqa: BLE001 - e.g. an attachment it names: rendered with the page
            pass


#: an <img> tag without alt text, and the text nbconvert gives such images
_IMAGE_WITHOUT_ALT = re.compile(r"<img(?![^>]*\salt=)", re.IGNORECASE)
_NO_ALT = "No description has been provided for this image"


class FeedbackExporter(HTMLExporter):
    """nbconvert's HTML exporter, doing per submission only what a feedback page needs.

    - Templates are compiled once per process (the fork host's), see :class:`_CompiledTemplates`,
      and the assignment's own cells are highlighted (:class:`_KeptHighlights`) and rendered
      from markdown (:meth:`markdown2html`) once.
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

    @pass_context
    def markdown2html(self, context, source: str) -> str:
        """nbconvert's markdown filter, remembering every cell it has rendered in this process.

        Markdown cells are nearly all the instructor's, the same on every page; the fork host
        renders them once (:func:`keep_renderings`). A cell with attachments, or a page that
        embeds images (read from the student's folder), is rendered afresh; otherwise the
        result depends only on the key's parts.
        """
        if self.embed_images or context.get("cell", {}).get("attachments"):
            return super().markdown2html(context, source)
        key = (source, self.anchor_link_text, self.exclude_anchor_links,
               json.dumps(self.lexer_options, sort_keys=True))
        html = _MARKDOWN.get(key)
        if html is None:
            html = _MARKDOWN[key] = super().markdown2html(context, source)
        return html

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
