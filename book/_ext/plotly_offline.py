"""Sphinx extension: serve plotly.js from the site itself, on the pages that draw a plotly figure.

``course_lib.interactive`` writes each slider figure as a ``<div class="plotly-graph-div">`` and
a script that calls ``Plotly.newPlot``, without plotly.js. This extension

- copies ``plotly.min.js`` from the installed ``plotly`` package (pinned in pyproject.toml, so
  the script matches the figures' JSON) to ``_static/plotly/`` of the built site, and
- adds a ``<script>`` tag for it to each page whose body holds such a div, and to no other page.

So a page opened from disk draws its figures with no network, and the other pages do not load
4.8 MB of JavaScript. (A ``_static`` folder at the book root would be the wrong place: jupyter-book
adds every ``.js`` file under it to every page.)

Loaded from ``_config.yml`` (``sphinx.local_extensions``).
"""

from __future__ import annotations

import shutil
from pathlib import Path

SCRIPT = "plotly/plotly.min.js"  # under _static/
MARKER = 'class="plotly-graph-div"'


def plotly_js() -> Path:
    """The plotly.min.js that ships with the installed plotly package."""
    import plotly

    return Path(plotly.__file__).parent / "package_data" / "plotly.min.js"


def _add_script(app, pagename, templatename, context, doctree) -> None:
    if MARKER in context.get("body", ""):
        app.add_js_file(SCRIPT)  # on this page only (Sphinx resets page scripts after each page)


def _copy_script(app, exception) -> None:
    if exception is not None or app.builder.format != "html":
        return
    target = Path(app.outdir) / "_static" / SCRIPT
    source = plotly_js()
    if not target.exists() or target.read_bytes() != source.read_bytes():
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)


def setup(app):
    app.connect("html-page-context", _add_script)
    app.connect("build-finished", _copy_script)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
