"""Every "lecture N" in a ``course_lib`` docstring points at a lecture that uses the name.

A docstring that says "(lecture 4)" sends the reader to ``book/lectures/04_*.ipynb``. The
reference is right when that notebook exists and mentions the name the docstring documents:

- a function's, class's or method's docstring documents that name, and also the
  ``course_lib`` names written on the reference's line ("what ``gradient_check`` (lecture 4)
  compares with autograd" in ``numerical_gradient``'s docstring sends the reader to a
  lecture that uses ``gradient_check``);
- in a module docstring (a module map, a list of bullets), a reference documents the
  ``course_lib`` names written on its line, or else in its bullet or paragraph (a submodule's
  name stands for the names it exports); with no such name there, the module's public names.

Comments count too: a section comment at the left margin ("# lecture 5: the LSTM's gates")
documents the functions and classes defined below it, up to the next section comment; any
other comment documents the ``course_lib`` names written on its line, or else the function
around it.
A method's docstring documents its class (``forward`` alone would be found in most lectures).

A lecture *mentions* a name when a code cell uses it as an identifier or a markdown cell has
it in inline code (prose words such as "train" do not count), outside the "Exercises" section
(which points ahead to assignments). ``course_lib/grading`` is instructor tooling and is not
scanned.
"""

from __future__ import annotations

import ast
import functools
import importlib
import io
import json
import re
import tokenize
from pathlib import Path
from typing import NamedTuple

import pytest

import course_lib

REPO = Path(__file__).resolve().parents[1]
LIB = REPO / "course_lib"
LECTURES = REPO / "book" / "lectures"

# "lecture 4", "Lecture 1", "lectures 7 and 9", "lectures 2, 5, 6", "lectures 6-10"
REFERENCE = re.compile(r"\blectures?\s+(\d+(?:\s*(?:,|and|-|–)\s*\d+)*)", re.IGNORECASE)
IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
QUOTED = re.compile(r"``([^`]+)``|:(?:func|class|meth|mod|data|attr):`~?([^`]+)`")
INLINE_CODE = re.compile(r"`([^`\n]+)`")
EXERCISES = re.compile(r"^#+\s*Exercises\b", re.MULTILINE)


class Reference(NamedTuple):
    where: str  # "course_lib/bptt.py:82 rnn_backward"
    lecture: int
    names: frozenset[str]  # the lecture must mention one of them


def lecture_numbers(text: str) -> list[int]:
    """The lecture numbers of one match of REFERENCE's group: "2, 5 and 6" -> [2, 5, 6]."""
    numbers: list[int] = []
    for part in re.split(r"\s*(?:,|and)\s*", text):
        if re.fullmatch(r"\d+\s*[-–]\s*\d+", part):
            first, last = (int(n) for n in re.split(r"\s*[-–]\s*", part))
            numbers += range(first, last + 1)
        elif part.strip():
            numbers.append(int(part))
    return numbers


def module_names(module: str) -> frozenset[str]:
    """The public names of course_lib.<module>: what __init__ exports from it, or else its
    public top-level functions and classes."""
    exported = course_lib._EXPORTS.get(module)
    if exported:
        return frozenset(exported)
    tree = ast.parse((LIB / f"{module}.py").read_text(encoding="utf8"))
    return frozenset(node.name for node in tree.body
                     if isinstance(node, (ast.FunctionDef, ast.ClassDef)) and not node.name.startswith("_"))


@functools.lru_cache(maxsize=None)
def library_names() -> dict[str, frozenset[str]]:
    """Every public course_lib name, mapped to the names it stands for (a submodule's name
    stands for its public names, any other name for itself)."""
    names: dict[str, frozenset[str]] = {}
    for path in sorted(LIB.glob("*.py")):
        if path.stem.startswith("_"):
            continue
        public = module_names(path.stem)
        names[path.stem] = public
        for name in public:
            names[name] = frozenset({name})
        module = importlib.import_module(f"course_lib.{path.stem}")
        for name, value in vars(module).items():
            if (not name.startswith("_") and getattr(value, "__module__", None) == module.__name__
                    and name not in names):
                names[name] = frozenset({name})
    return names


def quoted_library_names(text: str) -> frozenset[str]:
    """The course_lib names written in ``double backticks`` or :func:`roles` in ``text``."""
    known = library_names()
    found: set[str] = set()
    for match in QUOTED.finditer(text):
        for word in IDENTIFIER.findall(match.group(1) or match.group(2)):
            found |= known.get(word, frozenset())
    return frozenset(found)


def _blocks(docstring: str) -> list[tuple[int, int]]:
    """(first, last) line indices of each bullet item or paragraph of a docstring."""
    lines = docstring.splitlines()
    blocks, start = [], None
    for i, line in enumerate(lines):
        if not line.strip():
            if start is not None:
                blocks.append((start, i - 1))
            start = None
        elif line.lstrip().startswith(("- ", "* ")) or start is None:
            if start is not None:
                blocks.append((start, i - 1))
            start = i
    if start is not None:
        blocks.append((start, len(lines) - 1))
    return blocks


def references(source: str, module: str, filename: str = "") -> list[Reference]:
    """Every lecture reference in the docstrings of one module's source."""
    tree = ast.parse(source)
    fallback = module_names(module) if (LIB / f"{module}.py").exists() else frozenset()
    found: list[Reference] = []

    def visit(node: ast.AST, owner: str | None) -> None:
        docstring = ast.get_docstring(node, clean=False) if isinstance(
            node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) else None
        if docstring:
            first_line = node.body[0].lineno
            lines = docstring.splitlines()
            blocks = _blocks(docstring)
            for i, line in enumerate(lines):
                for match in REFERENCE.finditer(line):
                    if owner is not None:  # a function, class or method documents its own name
                        names = frozenset({owner}) | quoted_library_names(line)
                    else:
                        block = next(("\n".join(lines[a:b + 1]) for a, b in blocks if a <= i <= b), line)
                        names = quoted_library_names(line) or quoted_library_names(block) or fallback
                    for number in lecture_numbers(match.group(1)):
                        found.append(Reference(f"{filename}:{first_line + i} {owner or module}", number, names))
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                # a private name's docstring documents the module's public names; a method's its class
                if isinstance(node, ast.ClassDef):
                    visit(child, owner)
                else:
                    visit(child, None if child.name.startswith("_") else child.name)

    visit(tree, None)
    return found + comment_references(source, tree, module, filename)


def _definitions(tree: ast.Module) -> list[tuple[int, int, str, bool]]:
    """(first line, last line, name, top level) of every function and class, outermost first."""
    found = []

    def walk(node: ast.AST, top: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                found.append((child.lineno, child.end_lineno, child.name, top))
                walk(child, False)

    walk(tree, True)
    return found


def comment_references(source: str, tree: ast.Module, module: str, filename: str = "") -> list[Reference]:
    """Every lecture reference in the comments of one module's source (see the module docstring)."""
    definitions = _definitions(tree)
    comments = [(token.start[0], token.start[1], token.string)
                for token in tokenize.generate_tokens(io.StringIO(source).readline)
                if token.type == tokenize.COMMENT]
    sections = [line for line, column, text in comments if column == 0 and REFERENCE.search(text)]
    found = []
    for line, column, text in comments:
        for match in REFERENCE.finditer(text):
            if column == 0:  # a section heading: the public definitions below it
                end = min([s for s in sections if s > line], default=float("inf"))
                names = frozenset(name for first, _, name, top in definitions
                                  if top and line < first < end and not name.startswith("_"))
            else:  # the course_lib names on the line, or else the function around it
                known = library_names()
                names = frozenset().union(*(known.get(word, frozenset()) for word in IDENTIFIER.findall(text)))
                around = [name for first, last, name, _ in definitions if first <= line <= last]
                names = names or frozenset(around[-1:])
            for number in lecture_numbers(match.group(1)):
                found.append(Reference(f"{filename}:{line} # comment", number, names))
    return found


def library_references() -> list[Reference]:
    found = []
    for path in sorted(LIB.glob("*.py")):
        module = "__init__" if path.stem == "__init__" else path.stem
        found += references(path.read_text(encoding="utf8"), module, path.relative_to(REPO).as_posix())
    return found


@functools.lru_cache(maxsize=None)
def lecture_path(number: int) -> Path | None:
    matches = sorted(LECTURES.glob(f"{number:02d}_*.ipynb"))
    return matches[0] if len(matches) == 1 else None


@functools.lru_cache(maxsize=None)
def mentioned(number: int) -> frozenset[str]:
    """Identifiers of lecture ``number``'s code cells and of its markdown's inline code."""
    notebook = json.loads(lecture_path(number).read_text(encoding="utf8"))
    words: set[str] = set()
    for cell in notebook["cells"]:
        source = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
        if cell["cell_type"] == "code":
            words.update(IDENTIFIER.findall(source))
        elif cell["cell_type"] == "markdown":
            # the exercises point ahead to assignments and other lectures: they explain nothing
            source = EXERCISES.split(source)[0]
            for span in INLINE_CODE.findall(source):
                words.update(IDENTIFIER.findall(span))
    return frozenset(words)


def problems(refs: list[Reference]) -> list[str]:
    wrong = []
    for ref in refs:
        if lecture_path(ref.lecture) is None:
            wrong.append(f"{ref.where}: lecture {ref.lecture} does not exist")
        elif not ref.names:
            wrong.append(f"{ref.where}: no course_lib name to look for in lecture {ref.lecture}")
        elif not ref.names & mentioned(ref.lecture):
            wrong.append(f"{ref.where}: lecture {ref.lecture} ({lecture_path(ref.lecture).name}) "
                         f"never mentions {sorted(ref.names)}")
    return wrong


# ----------------------------------------------------------------------------------------------


def test_the_library_has_lecture_references():
    """The scan is not vacuous: it finds the references spread over the library's modules."""
    refs = library_references()
    assert len(refs) >= 50
    assert any(r.where.endswith("# comment") for r in refs)
    assert {r.where.split(":")[0] for r in refs} >= {
        "course_lib/__init__.py", "course_lib/bptt.py", "course_lib/gru.py", "course_lib/lstm.py",
        "course_lib/models.py", "course_lib/recurrent.py", "course_lib/training.py",
    }


def test_every_lecture_reference_points_at_a_lecture_that_uses_the_name():
    assert problems(library_references()) == []


@pytest.mark.parametrize("text, numbers", [
    ("lecture 4", [4]), ("lectures 7 and 9", [7, 9]), ("lectures 2, 5, 6", [2, 5, 6]),
    ("lectures 6-10", [6, 7, 8, 9, 10]), ("lecture 1, 7", [1, 7]),
])
def test_lecture_numbers(text, numbers):
    assert lecture_numbers(REFERENCE.search(text).group(1)) == numbers


def test_a_wrong_lecture_number_is_reported():
    """The check catches a docstring that points at a lecture which never uses the name."""
    right = '"""Helpers."""\n\ndef perplexity(x):\n    """exp of the mean loss (lecture 8)."""\n'
    assert problems(references(right, "training")) == []
    for wrong_number in (3, 11):
        wrong = right.replace("lecture 8", f"lecture {wrong_number}")
        reported = problems(references(wrong, "training"))
        assert len(reported) == 1 and f"lecture {wrong_number}" in reported[0]


def test_a_stale_section_comment_is_reported():
    """A section comment's lecture must use a function defined under it."""
    right = '"""Sliders."""\n\n# lecture 8: sampling\n\ndef perplexity(x):\n    return x\n'
    assert problems(references(right, "training")) == []
    reported = problems(references(right.replace("lecture 8", "lecture 3"), "training"))
    assert len(reported) == 1 and "lecture 3" in reported[0] and "perplexity" in reported[0]


def test_a_stale_comment_inside_a_function_is_reported():
    source = '"""Helpers."""\n\ndef perplexity(x):\n    return x  # as in lecture 3\n'
    reported = problems(references(source, "training"))
    assert len(reported) == 1 and "lecture 3" in reported[0]


def test_a_method_reference_is_checked_against_its_class():
    """``forward`` is in most lectures; a method's reference must point where its class is used."""
    source = '"""M."""\n\nclass SimpleLSTM:\n    def forward(self):\n        """Logits (lecture {n})."""\n'
    assert problems(references(source.format(n=8), "models")) == []
    assert len(problems(references(source.format(n=3), "models"))) == 1


def test_a_module_map_line_is_checked_against_the_names_on_it():
    """In a module docstring the names on the reference's line count, not the whole module."""
    source = '"""Map.\n\n- ``seq2seq``  attention (lecture 10)\n- ``seq2seq``  attention (lecture 2)\n"""\n'
    reported = problems(references(source, "__init__"))
    assert len(reported) == 1 and "lecture 2" in reported[0] and "Seq2Seq" in reported[0]
