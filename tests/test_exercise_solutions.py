"""Worked solutions to the lecture exercises (solutions/lectures/exercises/, instructors only):
one per exercise, they execute, and none of their text is in what students get — the book's
sources, the released assignments or the course_lib package."""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
SOLUTIONS = REPO / "solutions" / "lectures" / "exercises"
LECTURES = sorted((REPO / "book" / "lectures").glob("*.ipynb"))
STUDENT_MATERIAL = [REPO / "book", REPO / "assignments", REPO / "course_lib"]
MIN_CHARS = 30  # shorter lines ("import torch", "print(counts)") are too common to count as a leak


def _exercises(lecture: Path) -> list[str]:
    """The numbered items of the lecture's ``## Exercises`` section."""
    for cell in nbformat.read(lecture, as_version=4).cells:
        if cell.cell_type == "markdown" and "## Exercises" in cell.source:
            section = cell.source.split("## Exercises", 1)[1].split("\n## ", 1)[0]
            return re.findall(r"^\d+\.\s", section, re.M)
    return []


def _answered(solution: Path) -> list[int]:
    cells = nbformat.read(solution, as_version=4).cells
    return [int(m.group(1)) for c in cells if c.cell_type == "markdown"
            for m in [re.match(r"## Exercise (\d+)\n", c.source)] if m]


def secret_lines(solution: Path) -> set[str]:
    """Answer text: every line of the answers' prose and code (not the set-up cell that rebuilds
    the lecture's state, nor the title), stripped, of at least MIN_CHARS characters."""
    cells = nbformat.read(solution, as_version=4).cells[1:]
    lines = {line.strip() for c in cells if "setup" not in c.metadata.get("tags", [])
             for line in c.source.splitlines()}
    return {line for line in lines if len(line) >= MIN_CHARS}


def found_in(lines: set[str], roots: list[Path]) -> list[str]:
    """``path: line`` for each of ``lines`` that occurs in a text file under ``roots``."""
    hits = []
    for root in roots:
        for path in sorted(p for p in root.rglob("*") if p.is_file() and "__pycache__" not in p.parts):
            try:
                text = path.read_text(encoding="utf8")
            except (UnicodeDecodeError, OSError):
                continue
            if path.suffix == ".ipynb":  # compare cell sources, not their JSON escaping
                text = "\n".join(c.source for c in nbformat.reads(text, as_version=4).cells)
            hits += [f"{path.relative_to(root.parent)}: {line}" for line in lines if line in text]
    return hits


@pytest.mark.parametrize("lecture", LECTURES, ids=lambda p: p.stem)
def test_every_exercise_of_the_lecture_has_a_worked_solution(lecture):
    solution = SOLUTIONS / lecture.name
    assert solution.exists(), f"no solutions notebook {solution.relative_to(REPO)}"
    count = len(_exercises(lecture))
    assert count > 0
    assert _answered(solution) == list(range(1, count + 1))


def test_solutions_are_stored_without_outputs():
    stored = {p.name: [i for i, c in enumerate(nbformat.read(p, as_version=4).cells)
                       if c.cell_type == "code" and (c.outputs or c.execution_count)]
              for p in sorted(SOLUTIONS.glob("*.ipynb"))}
    assert {name: cells for name, cells in stored.items() if cells} == {}


def test_no_solution_text_is_in_the_book_the_assignments_or_course_lib():
    secret = set().union(*(secret_lines(p) for p in sorted(SOLUTIONS.glob("*.ipynb"))))
    assert len(secret) > 100
    assert found_in(secret, STUDENT_MATERIAL) == []


def test_the_leak_check_finds_a_copied_answer(tmp_path):
    solution = SOLUTIONS / "04_bptt.ipynb"
    line = sorted(secret_lines(solution))[0]
    page = tmp_path / "book" / "page.md"
    page.parent.mkdir()
    page.write_text(f"Some page\n\n    {line}\n", encoding="utf8")
    assert found_in(secret_lines(solution), [tmp_path / "book"]) == [f"book/page.md: {line}"]


def test_solutions_are_neither_released_nor_built_into_the_book():
    """nbgrader's source folder holds them one level down, where no assignment is looked for;
    the book builds only the pages of its table of contents, which names none of them."""
    from course_lib.grading.course import Course

    assert "lectures" not in Course.load(REPO).assignments()
    assert not any(SOLUTIONS.parent.glob("*.ipynb"))
    assert not (REPO / "assignments" / "lectures").exists()
    config = yaml.safe_load((REPO / "_config.yml").read_text(encoding="utf8"))
    assert config.get("only_build_toc_files") is True
    toc = (REPO / "_toc.yml").read_text(encoding="utf8")
    assert "solutions/" not in toc


@pytest.mark.slow
def test_solutions_execute_without_error(monkeypatch):
    """All ten notebooks in one kernel (one start, one torch import), the namespace cleared
    between them, training answers with a few epochs only (COURSE_EXERCISES_QUICK=1)."""
    from nbclient import NotebookClient

    monkeypatch.setenv("COURSE_EXERCISES_QUICK", "1")
    monkeypatch.setenv("MPLBACKEND", "Agg")
    cells = []
    for path in sorted(SOLUTIONS.glob("*.ipynb")):
        cells.append(nbformat.v4.new_code_cell(f"%reset -f\nprint({path.name!r})"))
        cells += [c for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code"]
    nb = nbformat.v4.new_notebook(cells=cells, metadata={"kernelspec": {
        "name": "python3", "display_name": "Python 3", "language": "python"}})
    NotebookClient(nb, timeout=300, kernel_name="python3",
                   resources={"metadata": {"path": str(SOLUTIONS)}}).execute()
    errors = [o for c in nb.cells for o in c.outputs if o.output_type == "error"]
    assert errors == []
    printed = "".join(o.get("text", "") for c in nb.cells for o in c.outputs if o.output_type == "stream")
    assert "FAIL: max relative error" in printed and "PASS: max relative error" in printed
    assert "context equals h_j: True True" in printed
