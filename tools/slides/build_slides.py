"""Slides for every lecture: reveal.js decks made from the lecture notebooks, opening from disk.

    python tools/slides/build_slides.py [--out _build/slides] [--execute auto|cache|never] [NOTEBOOK ...]

A cell's ``slideshow.slide_type`` (Jupyter's own marker, the one RISE and nbconvert read) decides
where it goes: ``slide`` starts a slide, ``subslide`` a slide below it, ``-`` and ``fragment`` join
the slide before, ``skip`` and ``notes`` stay out. The book's ``remove-cell``/``remove-input``/
``remove-output`` tags are honoured too, so a slide shows what the book page shows.

Outputs come from the book build's jupyter-cache (``_build/.jupyter_cache``) when it holds an
execution of the lecture's current code, so ``make book`` followed by ``make slides`` executes
nothing twice; otherwise ``auto`` executes the lecture here (``cache`` leaves it without outputs,
``never`` never uses outputs). Every deck loads reveal.js and MathJax from ``<out>/_static``;
a deck that would load anything from another host is refused.
"""

from __future__ import annotations

import argparse
import html
import html.parser
import shutil
import sys
from pathlib import Path
from urllib.parse import urlparse

import nbformat

REPO = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
LECTURES = REPO / "book" / "lectures"
CACHE = REPO / "_build" / ".jupyter_cache"
SLIDE_TYPES = ("slide", "subslide", "-", "fragment", "skip", "notes")
EXECUTE_MODES = ("auto", "cache", "never")
CELL_TIMEOUT = 300  # seconds, as the book build
PLOTLY_JS = "_static/plotly/plotly.min.js"  # slider figures (course_lib.interactive) expect window.Plotly


def _mathjax_dir() -> Path:
    """MathJax 3 as sphinx-mathjax-offline ships it (the book copies the same files)."""
    import importlib.util

    spec = importlib.util.find_spec("sphinx-mathjax-offline")
    if spec is None or spec.submodule_search_locations is None:
        raise FileNotFoundError("sphinx-mathjax-offline is not installed: it ships the offline MathJax")
    return Path(list(spec.submodule_search_locations)[0]) / "static" / "mathjax"


def slide_type(cell: nbformat.NotebookNode) -> str:
    """The cell's marker, ``-`` (join the slide before) when it has none."""
    return cell.metadata.get("slideshow", {}).get("slide_type", "-")


def slide_count(nb: nbformat.NotebookNode) -> int:
    """How many slides a deck of ``nb`` has: one per cell marked ``slide`` or ``subslide``."""
    kept = [c for c in nb.cells if "remove-cell" not in c.metadata.get("tags", [])]
    return sum(slide_type(c) in ("slide", "subslide") for c in kept)


def check_markers(nb: nbformat.NotebookNode, name: str) -> None:
    """Every marker is one nbconvert knows, and the first shown cell starts a slide."""
    if not isinstance(nb, nbformat.NotebookNode):
        raise TypeError(f"nb must be a notebook (nbformat.NotebookNode), got {type(nb).__name__}")
    wrong = [(i, slide_type(c)) for i, c in enumerate(nb.cells) if slide_type(c) not in SLIDE_TYPES]
    if wrong:
        raise ValueError(f"{name}: cells {wrong} have a slide_type outside {SLIDE_TYPES}")
    shown = [c for c in nb.cells if slide_type(c) not in ("skip", "notes")
             and "remove-cell" not in c.metadata.get("tags", [])]
    if not shown or slide_type(shown[0]) != "slide":
        raise ValueError(f"{name}: the first cell on the slides must be marked slide_type 'slide'")


def with_outputs(path: Path, execute: str = "auto", cache_dir: Path = CACHE) -> tuple[nbformat.NotebookNode, str]:
    """The lecture with outputs, and where they came from: ``"cache"``, ``"executed"`` or ``"none"``."""
    if execute not in EXECUTE_MODES:
        raise ValueError(f"execute must be one of {EXECUTE_MODES}, got {execute!r}")
    nb = nbformat.read(path, as_version=4)
    if execute == "never":
        return nb, "none"
    if cache_dir.is_dir():
        from jupyter_cache import get_cache

        try:
            _, merged = get_cache(cache_dir).merge_match_into_notebook(nb)
            return merged, "cache"
        except KeyError:
            pass
    if execute == "cache":
        return nb, "none"
    from nbclient import NotebookClient

    NotebookClient(nb, timeout=CELL_TIMEOUT, kernel_name="python3",
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    return nb, "executed"


class _Resources(html.parser.HTMLParser):
    """The URLs a page loads by itself (scripts, stylesheets, images, frames, media)."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag in ("script", "img", "iframe", "source", "video", "audio", "embed") and a.get("src"):
            self.urls.append(a["src"])
        if tag == "link" and a.get("href"):
            self.urls.append(a["href"])


def external_urls(page: str) -> list[str]:
    """Resources ``page`` would load from another host."""
    parser = _Resources()
    parser.feed(page)
    return [u for u in parser.urls if urlparse(u).scheme not in ("", "data", "file") or u.startswith("//")]


def render(nb: nbformat.NotebookNode, name: str) -> str:
    """One deck as HTML: nbconvert's slides exporter with the course's offline reveal template."""
    from nbconvert import SlidesExporter
    from nbconvert.preprocessors import TagRemovePreprocessor
    from traitlets.config import Config

    check_markers(nb, name)
    config = Config()
    config.TagRemovePreprocessor.remove_cell_tags = {"remove-cell"}
    config.TagRemovePreprocessor.remove_input_tags = {"remove-input", "hide-input"}
    config.TagRemovePreprocessor.remove_all_outputs_tags = {"remove-output"}
    exporter = SlidesExporter(
        config=config,
        extra_template_basedirs=[str(HERE / "templates")],
        template_name="course_reveal",
        reveal_url_prefix="_static/revealjs",
        reveal_theme="course",
        reveal_number="c/t",
        mathjax_url="_static/mathjax/tex-chtml.js",
    )
    exporter.register_preprocessor(TagRemovePreprocessor(config=config), enabled=True)
    plotly = any("Plotly" in o.get("data", {}).get("text/html", "") for c in nb.cells if c.cell_type == "code"
                 for o in c.get("outputs", []))
    resources = {"metadata": {"name": name}, "plotly_js": PLOTLY_JS if plotly else ""}
    body, _ = exporter.from_notebook_node(nb, resources=resources)
    external = external_urls(body)
    if external:
        raise RuntimeError(f"{name}: the deck would load from other hosts: {external}")
    return body


def copy_assets(out: Path) -> None:
    """reveal.js (vendored), the course theme, MathJax and plotly.js into ``out/_static``."""
    static = out / "_static"
    revealjs = static / "revealjs"
    shutil.copytree(HERE / "reveal.js", revealjs, dirs_exist_ok=True)
    (revealjs / "dist" / "theme").mkdir(parents=True, exist_ok=True)
    shutil.copy(HERE / "theme.css", revealjs / "dist" / "theme" / "course.css")
    shutil.copytree(_mathjax_dir(), static / "mathjax", dirs_exist_ok=True)
    import plotly

    (static / "plotly").mkdir(exist_ok=True)
    shutil.copy(Path(plotly.__file__).parent / "package_data" / "plotly.min.js", static / "plotly" / "plotly.min.js")


def write_index(out: Path, decks: list[tuple[str, str]]) -> None:
    """``out/index.html``: one link per deck."""
    items = "\n".join(f'<li><a href="{html.escape(f)}">{html.escape(t)}</a></li>' for f, t in decks)
    (out / "index.html").write_text(
        f"<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Lecture slides</title>"
        f"</head>\n<body><h1>Lecture slides</h1>\n<ul>\n{items}\n</ul></body></html>\n", encoding="utf8")


def title(nb: nbformat.NotebookNode, default: str) -> str:
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                if line.startswith("# "):
                    return line[2:].strip()
    return default


def build(notebooks: list[Path], out: Path, execute: str = "auto") -> dict[str, str]:
    """Write one deck per notebook into ``out`` plus the assets; returns where each deck's outputs came from."""
    if not notebooks:
        raise ValueError("notebooks must name at least one lecture notebook")
    missing = [str(p) for p in notebooks if not Path(p).is_file()]
    if missing:
        raise FileNotFoundError(f"notebooks not found: {missing}")
    out.mkdir(parents=True, exist_ok=True)
    copy_assets(out)
    sources, decks = {}, []
    for path in map(Path, notebooks):
        nb, sources[path.stem] = with_outputs(path, execute)
        (out / f"{path.stem}.html").write_text(render(nb, path.stem), encoding="utf8")
        decks.append((f"{path.stem}.html", title(nb, path.stem)))
        print(f"{path.stem}: {slide_count(nb)} slides, outputs: {sources[path.stem]}", flush=True)
    write_index(out, decks)
    return sources


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("notebooks", nargs="*", type=Path, help="lecture notebooks (default: all)")
    parser.add_argument("--out", type=Path, default=REPO / "_build" / "slides")
    parser.add_argument("--execute", choices=EXECUTE_MODES, default="auto",
                        help="auto: book cache, else execute; cache: book cache, else no outputs; never")
    args = parser.parse_args(argv)
    build(args.notebooks or sorted(LECTURES.glob("*.ipynb")), args.out, args.execute)
    print(f"Slides built: {args.out.resolve() / 'index.html'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
