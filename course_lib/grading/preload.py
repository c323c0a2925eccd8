"""What notebooks import, imported once by the processes that fork one per submission.

The zygote forks each warm kernel and the fork host forks each nbgrader child, where the judge
runs the tests and the instructor's locked cells. Both import modules before they fork, so that
no submission pays for them again. Which modules depends on how long the workers live:

- workers of an existing cluster (``--scheduler``) may grade any of the course's assignments,
  one after another: they import :func:`course_stack`, all of it;
- a LocalCluster's workers live for one run: they import :func:`assignment_modules`, what that
  assignment's notebooks use, and save seconds each when that is less.
"""

from __future__ import annotations

import ast
import importlib
import json
import pkgutil
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

from .scratch import parse_cell

#: what the course's notebooks use beyond their own imports: a torch optimiser pulls in
#: ``torch._dynamo`` on its first step (about 2 s of CPU), ``%matplotlib inline`` pyplot (1 s)
NOTEBOOK_MODULES = ("numpy", "torch", "torch.optim", "torch._dynamo", "torch.utils.data",
                    "matplotlib.pyplot")


def course_stack() -> tuple[str, ...]:
    """:data:`NOTEBOOK_MODULES` and every module of the student library ``course_lib``."""
    import course_lib

    library = [f"course_lib.{module.name}" for module in pkgutil.iter_modules(course_lib.__path__)
               if module.name != "grading"]
    return (*NOTEBOOK_MODULES, *library)


def assignment_modules(notebooks: Iterable[Path]) -> tuple[str, ...]:
    """What these notebooks (the source versions, hidden tests included) import, plus what their
    code loads on first use: ``torch._dynamo`` where a cell names an optimiser (``optim``),
    ``matplotlib.pyplot`` where one turns on ``%matplotlib``."""
    names: set[str] = set()
    for source in cells(notebooks, "code"):
        names |= imports(source)
        if "optim" in source:
            names.add("torch._dynamo")
        if "%matplotlib" in source:
            names.add("matplotlib.pyplot")
    return tuple(sorted(names))


def cells(notebooks: Iterable[Path], cell_type: str) -> Iterator[str]:
    """The source of every cell of type ``cell_type`` (``"code"``, ``"markdown"``) of these
    notebook files, in order."""
    for path in notebooks:
        for cell in json.loads(Path(path).read_text(encoding="utf-8"))["cells"]:
            if cell["cell_type"] == cell_type:
                yield _source(cell)


def instructor_cells(notebooks: Iterable[Path]) -> Iterator[tuple[str, str]]:
    """``(source, grade_id)`` of every locked code cell of these notebook files that is not an
    answer: the tests and set-up cells the judge runs."""
    for path in notebooks:
        for cell in json.loads(Path(path).read_text(encoding="utf-8"))["cells"]:
            grading = cell.get("metadata", {}).get("nbgrader", {})
            if (cell["cell_type"] == "code" and grading.get("grade_id")
                    and (grading.get("locked") or grading.get("grade")) and not grading.get("solution")):
                yield _source(cell), grading["grade_id"]


def _source(cell: dict) -> str:
    """A notebook cell's source as one string (nbformat allows a list of lines)."""
    return "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]


def imports(source: str) -> set[str]:
    """The absolute module names a cell's ``import`` statements name (none if it does not parse)."""
    tree = parse_cell(source)
    if tree is None:
        return set()
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
    return names


def import_modules(names: Sequence[str]) -> None:
    """Import ``names``. One that fails is left to fail again in the notebook that imports it,
    where the student or the judge sees why."""
    for name in names:
        try:
            importlib.import_module(name)
        except Exception:  # noqa: BLE001 - reported by the cell that imports it
            pass
