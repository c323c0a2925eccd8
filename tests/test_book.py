"""The book (issue 7): a config jupyter-book understands, lectures stored without outputs,
a real `make book` build with warnings as errors, and a real headless Chromium over every page.

The build runs once per session (fixture ``built_book``) exactly as ``make book`` does, into
the repository's ``_build`` so that jupyter-book's execution cache is shared with ``make book``:
an unchanged lecture is not executed again.
"""

from __future__ import annotations

import functools
import hashlib
import html.parser
import http.server
import json
import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urljoin, urlparse

import nbformat
import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
VENV_BIN = Path(sys.executable).parent
HTML = REPO / "_build" / "html"
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def _toc_files() -> list[str]:
    """Every document of _toc.yml (root first), as paths without suffix."""
    toc = yaml.safe_load((REPO / "_toc.yml").read_text(encoding="utf8"))
    files = [toc["root"]]
    for part in toc.get("parts", []):
        for chapter in part.get("chapters", []):
            files.append(chapter["file"])
            files.extend(section["file"] for section in chapter.get("sections", []))
    return files


def _pages(html_root: Path) -> list[Path]:
    """The site's pages: every .html file except the theme's template fragments in _static/."""
    return sorted(p for p in html_root.rglob("*.html") if p.relative_to(html_root).parts[0] != "_static")


def _lectures() -> list[Path]:
    return sorted((REPO / "book" / "lectures").glob("*.ipynb"))


# ----------------------------------------------------------------------------------------------
# (a) every _config.yml key is one jupyter-book knows


def _known_keys() -> tuple[set[str], set[str]]:
    """Dotted key paths jupyter-book 1.x knows, from its shipped schema and default config.

    Returns ``(known, open_)``: ``open_`` are mappings whose sub-keys jupyter-book passes on
    without a fixed list (``sphinx.config``, ``sphinx.local_extensions``, ...).
    """
    from jupyter_book.config import PATH_JSON_SCHEMA, PATH_YAML_DEFAULT

    known: set[str] = set()
    open_: set[str] = set()

    def walk_schema(node: dict, prefix: str) -> None:
        for key, sub in node.get("properties", {}).items():
            path = prefix + key
            known.add(path)
            types = sub.get("type", [])
            types = [types] if isinstance(types, str) else types
            if "properties" in sub:
                walk_schema(sub, path + ".")
            elif "object" in types:
                open_.add(path)

    def walk_default(node: dict, prefix: str) -> None:
        for key, value in node.items():
            path = prefix + key
            known.add(path)
            if isinstance(value, dict):
                walk_default(value, path + ".")

    walk_schema(json.loads(PATH_JSON_SCHEMA.read_text(encoding="utf8")), "")
    walk_default(yaml.safe_load(PATH_YAML_DEFAULT.read_text(encoding="utf8")), "")
    return known, open_


def _unknown_keys(config: dict, known: set[str], open_: set[str], prefix: str = "") -> list[str]:
    unknown = []
    for key, value in config.items():
        path = prefix + str(key)
        if path not in known:
            unknown.append(path)
        elif isinstance(value, dict) and path not in open_:
            unknown += _unknown_keys(value, known, open_, path + ".")
    return unknown


def test_config_key_check_catches_a_misspelling():
    """The key check is not vacuous: a typo in a nested key is reported."""
    known, open_ = _known_keys()
    assert {"execute.execute_notebooks", "html.use_multitoc_numbering", "sphinx.config"} <= known
    assert "sphinx.config" in open_
    wrong = {"execute": {"execute_notebook": "cache"}, "htm": {}, "launch_buttons": {"thebe": False}}
    assert _unknown_keys(wrong, known, open_) == ["execute.execute_notebook", "htm"]


def test_config_keys_are_known_to_jupyter_book():
    """Every key of _config.yml (recursively) is in jupyter-book's schema or default config."""
    config = yaml.safe_load((REPO / "_config.yml").read_text(encoding="utf8"))
    known, open_ = _known_keys()
    assert _unknown_keys(config, known, open_) == []


def test_sphinx_config_keys_are_registered_sphinx_values(tmp_path):
    """Keys under sphinx.config are config values that Sphinx or a loaded extension registers."""
    from jupyter_book.config import get_final_config
    from sphinx.application import Sphinx

    user = yaml.safe_load((REPO / "_config.yml").read_text(encoding="utf8"))
    wanted = list((user.get("sphinx") or {}).get("config") or {})
    sphinx_config, _ = get_final_config(
        user_yaml=REPO / "_config.yml",
        cli_config={"latex_individualpages": False},
        sourcedir=tmp_path,
        use_external_toc=False,
    )
    (tmp_path / "index.md").write_text("# index\n", encoding="utf8")
    app = Sphinx(
        srcdir=str(tmp_path), confdir=None, outdir=str(tmp_path / "out"),
        doctreedir=str(tmp_path / "doctrees"), buildername="html",
        confoverrides=sphinx_config, status=None, warning=None,
    )
    assert [key for key in wanted if key not in app.config] == []


# ----------------------------------------------------------------------------------------------
# (b) lectures are stored without outputs


@pytest.mark.parametrize("path", _lectures(), ids=lambda p: p.stem)
def test_lecture_is_stored_without_outputs(path):
    """Lectures are executed by the build, never committed with outputs."""
    nb = nbformat.read(path, as_version=4)
    assert nb.metadata.get("kernelspec", {}).get("name") == "python3"
    stored = [i for i, c in enumerate(nb.cells) if c.cell_type == "code" and (c.outputs or c.execution_count)]
    assert stored == [], f"{path.name}: code cells {stored} have stored outputs or execution counts"


def test_toc_lists_every_lecture_and_guide():
    """_toc.yml lists every lecture notebook and guide page in the book folder, and they exist."""
    toc = _toc_files()
    on_disk = {str(p.relative_to(REPO).with_suffix("")) for p in (REPO / "book").rglob("*")
               if p.suffix in (".ipynb", ".md") and ".ipynb_checkpoints" not in p.parts}
    assert sorted(on_disk - set(toc)) == []
    missing = [f for f in toc if not any((REPO / f).with_suffix(s).exists() for s in (".md", ".ipynb"))]
    assert missing == []


def test_progress_streams_joins_chunks_as_written():
    """The book's local extension joins a tqdm bar's redraws so that only the last survives."""
    sys.path.insert(0, str(REPO / "book" / "_ext"))
    try:
        from progress_streams import concatenate_streams
    finally:
        sys.path.remove(str(REPO / "book" / "_ext"))
    from myst_nb.core.utils import coalesce_streams
    from nbformat import NotebookNode

    def stream(text, name="stdout"):
        return NotebookNode(output_type="stream", name=name, text=text)

    chunks = [stream("\rtrain:   0%|     | 0/3"), stream("\rtrain:  67%|###  | 2/3"),
              stream("\rtrain: 100%|#####| 3/3"), stream("\n"), stream("done\n")]
    merged = coalesce_streams(concatenate_streams(chunks))
    assert [o["text"] for o in merged] == ["train: 100%|#####| 3/3\ndone\n"]
    # myst-nb alone keeps every redraw as its own line: the reason for the extension.
    assert coalesce_streams([NotebookNode(o) for o in chunks])[0]["text"].count("train:") == 3


# ----------------------------------------------------------------------------------------------
# (c) the build, exactly as `make book`


@pytest.fixture(scope="session")
def built_book() -> Path:
    """Build the book as `make book` does (warnings are errors, nitpicky), into REPO/_build."""
    env = dict(os.environ)
    env["PATH"] = f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}"
    env.update(PYTHONHASHSEED="0", MPLBACKEND="Agg", PIP_DISABLE_PIP_VERSION_CHECK="1")
    cmd = [str(VENV_BIN / "jupyter-book"), "build", "--warningiserror", "--nitpick", "--keep-going",
           "--path-output", ".", "."]
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=1200)
    seconds = time.perf_counter() - start
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, f"book build failed (exit {proc.returncode}):\n{log[-6000:]}"
    # Sphinx's own "WARNING:"/"ERROR:" lines (the kernel's "[IPKernelApp] WARNING |" notice
    # about TCP transport is not a build warning).
    warnings = [line for line in log.splitlines() if re.search(r"\b(WARNING|ERROR|CRITICAL):", line)]
    assert warnings == [], "\n".join(warnings)
    print(f"\nbook build: {seconds:.1f} s")
    return HTML


def test_no_static_folder_at_the_book_root():
    """jupyter-book adds every .js/.css under <root>/_static to every page: keep it absent."""
    static = REPO / "_static"
    injected = [p for p in static.rglob("*") if p.suffix in (".js", ".css")] if static.exists() else []
    assert injected == []


# The clean build (the first test to ask for it pays for it) takes minutes on 2 cores.
BUILD_TIMEOUT = pytest.mark.timeout(1800)


@pytest.mark.slow
@BUILD_TIMEOUT
def test_build_produces_every_page(built_book):
    """Every toc entry has a page, and the offline MathJax was copied next to them."""
    missing = [f for f in _toc_files() if not (built_book / f).with_suffix(".html").exists()]
    assert missing == []
    assert (built_book / "index.html").exists()
    assert (built_book / "_static" / "mathjax" / "tex-chtml.js").exists()


@pytest.mark.slow
@BUILD_TIMEOUT
def test_progress_bars_show_their_final_line_only(built_book):
    """A text tqdm bar appears in the built pages as its last redraw (100%), not as a trail."""
    bar = re.compile(r"(\d+)%\|")
    partial = {}
    for page in _pages(built_book):
        percents = [int(p) for p in bar.findall(page.read_text(encoding="utf8"))]
        if any(p != 100 for p in percents):
            partial[page.relative_to(built_book).as_posix()] = percents
    assert partial == {}
    assert "100%|" in (built_book / "book" / "lectures" / "04_bptt.html").read_text(encoding="utf8")


@pytest.mark.slow
@BUILD_TIMEOUT
def test_every_lecture_has_a_successful_execution_in_the_cache(built_book):
    """jupyter-cache holds a successful execution of each lecture. Its seconds are printed, not
    judged: how long a lecture takes is measured by benchmarks/lecture_repeats.py on a quiet
    machine, never by a threshold in a test."""
    from jupyter_cache import get_cache

    cache = get_cache(REPO / "_build" / ".jupyter_cache")
    records = {Path(r.uri).resolve(): r for r in cache.list_cache_records()}
    times = {}
    for path in _lectures():
        record = records.get(path.resolve())
        assert record is not None, f"{path.name} has no execution record in the cache"
        times[path.stem] = float(record.data.get("execution_seconds", 0.0))
    print("\n" + "\n".join(f"{name:40s} {sec:6.1f} s" for name, sec in times.items()))


class _Resources(html.parser.HTMLParser):
    """Collect the URLs a page loads by itself: scripts, stylesheets, images, fonts, iframes."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag in ("script", "img", "iframe", "source", "video", "audio") and a.get("src"):
            self.urls.append(a["src"])
        if tag == "link" and a.get("href") and set((a.get("rel") or "").split()) & {
            "stylesheet", "preload", "icon", "modulepreload", "prefetch", "preconnect", "dns-prefetch"
        }:
            self.urls.append(a["href"])


@pytest.mark.slow
@BUILD_TIMEOUT
def test_pages_reference_nothing_external(built_book):
    """No page's HTML loads a script, stylesheet, font or image from another host."""
    offenders = []
    for page in _pages(built_book):
        parser = _Resources()
        parser.feed(page.read_text(encoding="utf8"))
        offenders += [f"{page.relative_to(built_book)}: {u}" for u in parser.urls
                      if urlparse(u).scheme not in ("", "data") or u.startswith("//")]
    css_urls = []
    for css in built_book.rglob("*.css"):
        for u in re.findall(r"url\(\s*['\"]?([^'\")]+)", css.read_text(encoding="utf8", errors="replace")):
            if urlparse(u).scheme in ("http", "https") or u.startswith("//"):
                css_urls.append(f"{css.relative_to(built_book)}: {u}")
    assert offenders == [] and css_urls == []


# ----------------------------------------------------------------------------------------------
# (d) a real browser over every page


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):  # keep pytest's output readable
        pass


class _Server(http.server.ThreadingHTTPServer):
    def handle_error(self, request, client_address):
        # The browser may drop a connection it no longer needs (e.g. its own /favicon.ico
        # probe on the index redirect page); anything else is still reported.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


@pytest.fixture(scope="session")
def served_book(built_book):
    handler = functools.partial(_QuietHandler, directory=str(built_book))
    server = _Server(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


_IMAGES_LOADED = """async () => {
  const imgs = Array.from(document.images);
  imgs.forEach(img => { img.loading = 'eager'; });
  await Promise.all(imgs.map(img => img.complete ? null :
      new Promise(done => { img.onload = img.onerror = done; })));
  return imgs.filter(img => !(img.complete && img.naturalWidth > 0)).map(img => img.src);
}"""

_MATH_TYPESET = """async () => {
  const math = document.querySelectorAll('.math');
  if (math.length === 0) return {math: 0, typeset: 0};
  for (let i = 0; i < 200 && !(window.MathJax && MathJax.startup && MathJax.startup.promise); i++)
    await new Promise(r => setTimeout(r, 50));
  await MathJax.startup.promise;
  const typeset = Array.from(math).filter(el => el.querySelector('mjx-container')).length;
  return {math: math.length, typeset: typeset};
}"""


@pytest.mark.slow
@BUILD_TIMEOUT
def test_book_in_a_real_browser(served_book, built_book, tmp_path):
    """Every page loads with no failed or external request, typeset math and loaded images,
    and the sidebar reaches every lecture."""
    if not CHROMIUM.exists():
        pytest.skip("/usr/bin/chromium is missing (make test installs it through .ci/system-deps.sh)")
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    pages = [p.relative_to(built_book).as_posix() for p in _pages(built_book)]
    problems: list[str] = []
    mathjax_loaded = False
    with sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            user_data_dir=str(tmp_path / "chromium-profile"),
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS,
            viewport={"width": 1280, "height": 900},
        )
        page = context.pages[0] if context.pages else context.new_page()
        requests: list[str] = []
        failed: list[str] = []
        page.on("request", lambda r: requests.append(r.url))
        page.on("requestfailed", lambda r: failed.append(f"{r.url} ({r.failure})"))
        page.on("response", lambda r: r.status >= 400 and failed.append(f"{r.url} (HTTP {r.status})"))
        pending: dict = {}  # requests in flight, to wait until the page is quiet
        page.on("request", lambda r: pending.__setitem__(r, r.url))
        page.on("requestfinished", lambda r: pending.pop(r, None))
        page.on("requestfailed", lambda r: pending.pop(r, None))

        def settle(seconds: float = 30.0) -> list[str]:
            """Wait until no request has been in flight for 0.5 s; return what is still pending."""
            deadline = quiet_since = time.monotonic()
            deadline += seconds
            while time.monotonic() < deadline:
                page.wait_for_timeout(100)
                if pending:
                    quiet_since = time.monotonic()
                elif time.monotonic() - quiet_since > 0.5:
                    return []
            return sorted(pending.values())

        for rel in pages:
            requests.clear()
            failed.clear()
            redirect = 'http-equiv="refresh"' in (built_book / rel).read_text(encoding="utf8").lower()
            page.goto(served_book + rel, wait_until="load", timeout=60_000)
            if redirect:  # index.html only forwards to the root document
                page.wait_for_url(lambda url, rel=rel: not url.endswith("/" + rel), timeout=30_000)
                page.wait_for_load_state("load")
            math = page.evaluate(_MATH_TYPESET)
            broken_images = page.evaluate(_IMAGES_LOADED)
            still_pending = settle()
            external = [u for u in requests
                        if urlparse(u).scheme not in ("data", "blob", "about")
                        and urlparse(u).hostname not in ("127.0.0.1", "localhost")]
            mathjax_loaded |= any(urlparse(u).path.endswith("/_static/mathjax/tex-chtml.js") for u in requests)
            text = page.inner_text("body")
            if still_pending:
                problems.append(f"{rel}: requests still pending after 30 s {still_pending}")
            if failed:
                problems.append(f"{rel}: failed requests {failed}")
            if external:
                problems.append(f"{rel}: external requests {external}")
            if broken_images:
                problems.append(f"{rel}: images not loaded {broken_images}")
            if math["math"] and math["typeset"] != math["math"]:
                problems.append(f"{rel}: {math['math'] - math['typeset']} of {math['math']} math blocks not typeset")
            if "$$" in text:
                problems.append(f"{rel}: raw $$ in the visible text")

        # The sidebar of the home page reaches every lecture, by clicking.
        root, *documents = _toc_files()
        lectures = [f for f in documents if f.startswith("book/lectures/")]
        assert lectures, "no lectures in _toc.yml"
        for lecture in lectures:
            page.goto(served_book + root + ".html", wait_until="load")
            link = page.locator(f"nav.bd-docs-nav a[href$='{lecture.split('/')[-1]}.html']").first
            if link.count() == 0:
                problems.append(f"sidebar has no link to {lecture}")
                continue
            link.click()
            page.wait_for_load_state("load")
            if not page.url.endswith(lecture + ".html") or page.locator("h1").count() == 0:
                problems.append(f"sidebar link to {lecture} landed on {page.url}")

        for name in ("04_bptt", "05_lstm"):
            page.goto(served_book + f"book/lectures/{name}.html", wait_until="load")
            page.evaluate(_MATH_TYPESET)
            page.evaluate(_IMAGES_LOADED)
            page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=False)
        context.close()

    assert mathjax_loaded, "no page loaded the offline MathJax (_static/mathjax/tex-chtml.js)"
    assert problems == [], "\n".join(problems)


# ----------------------------------------------------------------------------------------------
# (e) interactive figures: sliders over states computed when the lecture ran, drawn by the
# site's own plotly.js, with no kernel and no network

INTERACTIVE_LECTURES = ("04_bptt", "05_lstm", "08_language_models", "10_seq2seq_attention")
PLOTLY_SCRIPT = "_static/plotly/plotly.min.js"


def test_no_lecture_runs_a_widget_callback_at_build_time():
    """ipywidgets' interact can leave nbclient and the kernel waiting on each other until the
    cell timeout (the build then goes on without the cell's output); lectures use the
    kernel-free slider figures of course_lib.interactive instead."""
    offenders = [f"{path.name} cell {i}" for path in _lectures()
                 for i, cell in enumerate(nbformat.read(path, as_version=4).cells)
                 if cell.cell_type == "code" and re.search(r"\bipywidgets\b|\binteract(ive)?\(", cell.source)]
    assert offenders == []


@pytest.mark.slow
@BUILD_TIMEOUT
def test_plotly_js_is_served_by_the_site_on_the_pages_with_a_figure_only(built_book):
    """The site's copy of plotly.js is the installed package's; a page loads it iff it draws a figure."""
    import plotly

    served = built_book / PLOTLY_SCRIPT
    assert served.read_bytes() == (Path(plotly.__file__).parent / "package_data" / "plotly.min.js").read_bytes()
    with_figure, with_script = set(), set()
    for page in _pages(built_book):
        parser = _Resources()
        text = page.read_text(encoding="utf8")
        parser.feed(text)
        name = page.relative_to(built_book).as_posix()
        if 'class="plotly-graph-div"' in text:
            with_figure.add(name)
        # an incremental build adds Sphinx's cache-busting "?v=<checksum>": the same file
        if any(urljoin(page.as_uri(), u).split("?")[0] == served.as_uri() for u in parser.urls):
            with_script.add(name)
    assert with_figure == with_script == {f"book/lectures/{n}.html" for n in INTERACTIVE_LECTURES}


_FIGURE_IDS = "() => Array.from(document.querySelectorAll('.plotly-graph-div')).map(d => d.id)"
_FIGURE_DRAWN = """ids => ids.every(id => {
  const gd = document.getElementById(id);
  return gd && gd._fullLayout && gd.querySelector('.slider-container');
})"""
_FIGURE_STATE = """id => {
  const gd = document.getElementById(id);
  const marks = gd.querySelectorAll('.scatterlayer .trace path.js-line, .barlayer .point, .heatmaplayer .hm image');
  return {
    active: gd._fullLayout.sliders[0].active,
    steps: gd._fullLayout.sliders[0].steps.length,
    marks: marks.length,
    data: JSON.stringify(gd.data.map(t => [t.x, t.y, t.z])),
  };
}"""


def _plot_picture(page, figure) -> str:
    """A hash of the figure's screenshot above its slider: the plots and titles, not the slider
    (whose handle moves whatever the plots do)."""
    page.mouse.move(0, 0)  # no hover label in the picture
    box = figure.bounding_box()
    slider = figure.locator(".slider-container").first.bounding_box()
    clip = {"x": box["x"], "y": box["y"], "width": box["width"], "height": slider["y"] - box["y"]}
    return hashlib.sha256(page.screenshot(clip=clip)).hexdigest()


def _check_interactive_figures(html_root: Path, pages: list[str], profile: Path) -> tuple[list[str], dict]:
    """Open each page from file:// in headless Chromium with every non-file request refused;
    move each figure's slider from its first state to the far end. Returns the problems and,
    per page, the number of figures checked."""
    from playwright.sync_api import sync_playwright

    problems: list[str] = []
    checked: dict[str, int] = {}
    with sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            user_data_dir=str(profile), executable_path=str(CHROMIUM), headless=True,
            args=CHROMIUM_ARGS, viewport={"width": 1280, "height": 900},
        )
        requests: list[str] = []

        def only_files(route):
            requests.append(route.request.url)
            if urlparse(route.request.url).scheme == "file":
                route.continue_()
            else:
                route.abort()

        context.route("**/*", only_files)
        page = context.pages[0] if context.pages else context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        for rel in pages:
            requests.clear()
            errors.clear()
            page.goto((html_root / rel).as_uri(), wait_until="load", timeout=60_000)
            ids = page.evaluate(_FIGURE_IDS)
            checked[rel] = len(ids)
            if not ids:
                problems.append(f"{rel}: no interactive figure")
                continue
            page.wait_for_function(_FIGURE_DRAWN, arg=ids, timeout=30_000)
            page.add_style_tag(content=".modebar-container { display: none !important; }")  # shown on hover
            for fid in ids:
                figure = page.locator(f"#{fid}")
                figure.scroll_into_view_if_needed()
                before = page.evaluate(_FIGURE_STATE, fid)
                shot_before = _plot_picture(page, figure)
                target = 0 if before["active"] > (before["steps"] - 1) / 2 else before["steps"] - 1
                rail = figure.locator("rect.slider-rail-touch-rect").first.bounding_box()
                x = rail["x"] + rail["width"] * (0.01 if target == 0 else 0.99)
                page.mouse.click(x, rail["y"] + rail["height"] / 2)
                page.wait_for_function("([id, t]) => document.getElementById(id)._fullLayout.sliders[0].active === t",
                                       arg=[fid, target], timeout=10_000)
                page.wait_for_timeout(200)  # let the frame's redraw land before the screenshot
                after = page.evaluate(_FIGURE_STATE, fid)
                shot_after = _plot_picture(page, figure)
                where = f"{rel} #{fid} (slider {before['active']} -> {target} of {before['steps']})"
                if before["steps"] < 2:
                    problems.append(f"{where}: fewer than two states")
                if before["marks"] == 0 or after["marks"] == 0:
                    problems.append(f"{where}: nothing drawn ({before['marks']}, {after['marks']} marks)")
                if after["data"] == before["data"]:
                    problems.append(f"{where}: the plotted data did not change")
                if shot_after == shot_before:
                    problems.append(f"{where}: the picture did not change")
            external = [u for u in requests if urlparse(u).scheme not in ("file", "data", "blob", "about")]
            if external:
                problems.append(f"{rel}: external requests {external}")
            if not any(u.split("?")[0].endswith("/" + PLOTLY_SCRIPT) for u in requests):
                problems.append(f"{rel}: did not load the site's {PLOTLY_SCRIPT}")
            # sphinx-book-theme declares THEBE_JS_URL twice on every page (not ours to fix).
            errors = [e for e in errors if "THEBE_JS_URL" not in e]
            if errors:
                problems.append(f"{rel}: script errors {errors}")
        context.close()
    return problems, checked


@pytest.mark.slow
@BUILD_TIMEOUT
def test_interactive_figures_move_with_their_sliders_offline(built_book, tmp_path):
    """On each lecture with slider figures, opened from disk with the network refused: every
    figure draws, moving its slider changes the plotted data and the picture, and the page
    requests nothing outside the site."""
    if not CHROMIUM.exists():
        pytest.skip("/usr/bin/chromium is missing (make test installs it through .ci/system-deps.sh)")
    pages = [f"book/lectures/{name}.html" for name in INTERACTIVE_LECTURES]
    problems, checked = _check_interactive_figures(built_book, pages, tmp_path / "chromium-profile")
    print(f"\nslider figures checked: {checked}")
    assert problems == [], "\n".join(problems)
    assert sum(checked.values()) >= 4


def test_built_site_holds_no_passage_of_a_solution_or_hidden_test(built_book, tmp_path):
    """Every reader, students among them, gets the site: no three consecutive lines of a solution
    or hidden-test region appear in the text of any page."""
    from course_lib.grading.course import Course
    from tests.test_student_package import _passages_found, _secret_passages

    for page in built_book.rglob("*.html"):
        target = tmp_path / page.relative_to(built_book)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.with_suffix(".txt").write_text(_page_text(page.read_text(errors="replace")))
    leaks = [leak for assignment in Course.load(REPO).assignments()
             for leak in _passages_found(_secret_passages(REPO / "solutions" / assignment /
                                                          f"{assignment}.ipynb"), tmp_path)]
    assert leaks == [], "\n".join(leaks[:10])


def _page_text(page: str) -> str:
    """A page as a reader reads it: the text without markup (highlighted code keeps its lines)."""
    return html.unescape(re.sub(r"<[^>]+>", "", page))


def test_page_text_keeps_highlighted_code_lines_whole():
    from pygments import highlight
    from pygments.formatters import HtmlFormatter
    from pygments.lexers import PythonLexer

    code = "done = done | (y == eos_index)\nif done.all():\n    break\n"
    text = _page_text(highlight(code, PythonLexer(), HtmlFormatter()))
    assert [line.strip() for line in text.splitlines() if line.strip()] == [
        "done = done | (y == eos_index)", "if done.all():", "break"]
