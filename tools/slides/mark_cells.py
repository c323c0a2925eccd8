"""Give every unmarked cell of a lecture a slide marker (``metadata.slideshow.slide_type``).

    python tools/slides/mark_cells.py book/lectures/NN_name.ipynb ...

Markers already there are kept, so an author's choice always wins. Unmarked cells get:
a Markdown cell that opens with a heading starts a slide; the set-up code cell (imports,
magics and seeding only) is skipped; every other cell gets a slide of its own below its section's heading
(``subslide``). Only cell metadata changes; the notebook is read and written in one go.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import nbformat


def is_setup(source: str) -> bool:
    """Only imports, IPython magics and ``torch.manual_seed(...)`` calls."""
    code = "\n".join(line for line in source.splitlines() if not line.lstrip().startswith("%"))
    try:
        body = ast.parse(code).body
    except SyntaxError:
        return False
    seed = lambda s: (isinstance(s, ast.Expr) and isinstance(s.value, ast.Call)  # noqa: E731
                      and isinstance(s.value.func, ast.Attribute) and s.value.func.attr == "manual_seed")
    return bool(body) and all(isinstance(s, (ast.Import, ast.ImportFrom)) or seed(s) for s in body)


def default_slide_type(cell: nbformat.NotebookNode) -> str:
    if cell.cell_type == "markdown" and cell.source.lstrip().startswith("#"):
        return "slide"
    if cell.cell_type == "code" and is_setup(cell.source):
        return "skip"
    return "subslide"


def mark(path: Path) -> int:
    """Mark the unmarked cells of the notebook at ``path``; returns how many were marked."""
    nb = nbformat.read(path, as_version=4)
    marked = 0
    for cell in nb.cells:
        if "slide_type" not in cell.metadata.get("slideshow", {}):
            cell.metadata.setdefault("slideshow", {})["slide_type"] = default_slide_type(cell)
            marked += 1
    if marked:
        nbformat.write(nb, path)
    return marked


if __name__ == "__main__":
    for arg in sys.argv[1:]:
        print(f"{arg}: {mark(Path(arg))} cells marked")
