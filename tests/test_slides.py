"""Slides: every lecture carries slide markers, and a deck built from one opens in headless
Chromium from file:// with the network blocked: one slide per marked cell, typeset math,
no request leaving the disk. Outputs come from the book's jupyter-cache when it matches."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import nbformat
import pytest

REPO = Path(__file__).resolve().parents[1]
LECTURES = sorted((REPO / "book" / "lectures").glob("*.ipynb"))
CHROMIUM = Path("/usr/bin/chromium")
SMALL_LECTURE = REPO / "book" / "lectures" / "08_language_models.ipynb"


def _load(name: str):
    spec = importlib.util.spec_from_file_location(name, REPO / "tools" / "slides" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


build_slides, mark_cells = _load("build_slides"), _load("mark_cells")


@pytest.mark.parametrize("path", LECTURES, ids=lambda p: p.stem)
def test_every_cell_of_every_lecture_has_a_slide_marker(path):
    nb = nbformat.read(path, as_version=4)
    unmarked = [i for i, c in enumerate(nb.cells) if "slide_type" not in c.metadata.get("slideshow", {})]
    assert unmarked == [], f"{path.name}: run tools/slides/mark_cells.py on it"
    build_slides.check_markers(nb, path.stem)
    assert build_slides.slide_count(nb) >= 5


def test_default_markers_put_headings_on_slides_and_skip_the_setup_cell():
    md, code = nbformat.v4.new_markdown_cell, nbformat.v4.new_code_cell
    assert mark_cells.default_slide_type(md("## Gates\n\nText")) == "slide"
    assert mark_cells.default_slide_type(md("Text, then $x$")) == "subslide"
    assert mark_cells.default_slide_type(code("%matplotlib inline\nimport torch\n\ntorch.manual_seed(0);")) == "skip"
    assert mark_cells.default_slide_type(code("import torch\nx = torch.zeros(3)")) == "subslide"


def test_a_cell_without_a_slide_on_top_is_refused():
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("text")])
    with pytest.raises(ValueError, match="slide_type 'slide'"):
        build_slides.check_markers(nb, "bad")
    nb.cells[0].metadata["slideshow"] = {"slide_type": "page"}
    with pytest.raises(ValueError, match="slide_type outside"):
        build_slides.check_markers(nb, "bad")


def test_a_deck_that_would_load_from_another_host_is_refused():
    cell = nbformat.v4.new_markdown_cell('# Title\n\n<img src="https://example.org/logo.png">')
    cell.metadata["slideshow"] = {"slide_type": "slide"}
    with pytest.raises(RuntimeError, match="example.org"):
        build_slides.render(nbformat.v4.new_notebook(cells=[cell]), "remote")


def test_outputs_come_from_the_book_cache_only_for_the_same_code(tmp_path):
    """A deck reuses the execution the book build cached; edited code no longer matches."""
    from jupyter_cache import get_cache

    title = nbformat.v4.new_markdown_cell("# Cached", metadata={"slideshow": {"slide_type": "slide"}})
    code = nbformat.v4.new_code_cell("print(6 * 7)", metadata={"slideshow": {"slide_type": "subslide"}})
    path = tmp_path / "lecture.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=[title, code], metadata={"kernelspec": {
        "name": "python3", "display_name": "Python 3", "language": "python"}}), path)
    # What the book build caches for it: the same cells with their outputs (no kernel needed here).
    executed = nbformat.read(path, as_version=4)
    executed.cells[1].execution_count = 1
    executed.cells[1].outputs = [nbformat.v4.new_output("stream", name="stdout", text="42\n")]
    executed_path = tmp_path / "executed.ipynb"
    nbformat.write(executed, executed_path)
    get_cache(tmp_path / "cache").cache_notebook_file(executed_path, uri=str(path), check_validity=False)

    nb, source = build_slides.with_outputs(path, "cache", cache_dir=tmp_path / "cache")
    assert source == "cache"
    assert "42" in build_slides.render(nb, "lecture")

    edited = nbformat.read(path, as_version=4)
    edited.cells[1].source = "print(6 * 9)"
    nbformat.write(edited, path)
    nb, source = build_slides.with_outputs(path, "cache", cache_dir=tmp_path / "cache")
    assert source == "none" and nb.cells[1].outputs == []


_MATH_STATE = """async () => {
  for (let i = 0; i < 200 && !(window.MathJax && MathJax.startup && MathJax.startup.promise); i++)
    await new Promise(r => setTimeout(r, 50));
  await MathJax.startup.promise;
  const raw = [];
  const walker = document.createTreeWalker(document.querySelector('.reveal .slides'), NodeFilter.SHOW_TEXT);
  while (walker.nextNode()) {
    const node = walker.currentNode;
    if (node.parentElement.closest('code, pre, script, style, mjx-container')) continue;
    if (/\\$[^$]+\\$|\\\\\\(|\\\\\\[/.test(node.textContent)) raw.push(node.textContent.slice(0, 80));
  }
  return {typeset: document.querySelectorAll('.reveal .slides mjx-container').length,
          errors: document.querySelectorAll('mjx-merror').length, raw: raw};
}"""


@pytest.mark.slow
def test_a_deck_opens_offline_with_one_slide_per_marked_cell_and_typeset_math(tmp_path):
    if not CHROMIUM.exists():
        pytest.skip("/usr/bin/chromium is missing (make test installs it through .ci/system-deps.sh)")
    from playwright.sync_api import sync_playwright

    out = tmp_path / "slides"
    build_slides.build([SMALL_LECTURE], out, execute="never")
    nb = nbformat.read(SMALL_LECTURE, as_version=4)
    marked = build_slides.slide_count(nb)
    deck = out / f"{SMALL_LECTURE.stem}.html"

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        external, loaded, failed, errors = [], [], [], []
        page.route("**/*", lambda route: route.continue_() if route.request.url.startswith("file://")
                   else (external.append(route.request.url), route.abort()))
        page.on("requestfinished", lambda r: loaded.append(r.url))
        page.on("requestfailed", lambda r: failed.append(f"{r.url} ({r.failure})"))
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(deck.as_uri(), wait_until="load")
        page.wait_for_function("window.Reveal && Reveal.isReady && Reveal.isReady()", timeout=30_000)
        slides = page.evaluate("Reveal.getTotalSlides()")
        math = page.evaluate(_MATH_STATE)
        page.evaluate("Reveal.next()")
        moved = page.evaluate("Reveal.getIndices()")
        browser.close()

    assert slides == marked
    assert math["typeset"] >= 10 and math["errors"] == 0 and math["raw"] == []
    assert moved != {"h": 0, "v": 0, "f": None} and "h" in moved
    assert any(u.endswith("/_static/mathjax/tex-chtml.js") for u in loaded)
    assert any(u.endswith("/_static/revealjs/dist/reveal.js") for u in loaded)
    assert external == [] and failed == [] and errors == []


@pytest.mark.slow
def test_a_slider_figure_on_a_slide_draws_with_the_local_plotly(tmp_path):
    """A course_lib.interactive figure in an output draws on its slide: plotly.js from _static."""
    if not CHROMIUM.exists():
        pytest.skip("/usr/bin/chromium is missing (make test installs it through .ci/system-deps.sh)")
    import torch
    from course_lib.interactive import attention_slider
    from playwright.sync_api import sync_playwright

    figure = attention_slider(torch.softmax(torch.randn(3, 4), dim=-1), list("abcd"), list("xyz"))
    title = nbformat.v4.new_markdown_cell("# Figure", metadata={"slideshow": {"slide_type": "slide"}})
    code = nbformat.v4.new_code_cell("attention_slider(...)", metadata={"slideshow": {"slide_type": "subslide"}})
    code.outputs = [nbformat.v4.new_output("display_data", data=figure._repr_mimebundle_())]
    build_slides.copy_assets(tmp_path)
    deck = tmp_path / "figure.html"
    deck.write_text(build_slides.render(nbformat.v4.new_notebook(cells=[title, code]), "figure"), encoding="utf8")

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        external, errors = [], []
        page.route("**/*", lambda route: route.continue_() if route.request.url.startswith("file://")
                   else (external.append(route.request.url), route.abort()))
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(deck.as_uri() + "#/0/1", wait_until="load")
        page.wait_for_function("document.querySelector('.js-plotly-plot .main-svg')", timeout=30_000)
        drawn = page.evaluate("document.querySelectorAll('.js-plotly-plot .main-svg').length")
        browser.close()
    assert drawn >= 1 and external == [] and errors == []
