"""book/glossary.md: the English–Chinese key terms, each taught in the lecture its row points at."""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import yaml

REPO = Path(__file__).resolve().parents[1]
GLOSSARY = REPO / "book" / "glossary.md"
ROW = re.compile(r"^\| (?P<en>[^|]+?) \| (?P<zh>[^|]+?) \| \{doc\}`(?P<n>\d+) <lectures/(?P<file>[^>]+)>` \|$", re.M)


def _rows() -> list[re.Match]:
    return list(ROW.finditer(GLOSSARY.read_text(encoding="utf-8")))


def test_the_glossary_has_a_row_for_each_key_term():
    rows = _rows()
    table_lines = [line for line in GLOSSARY.read_text(encoding="utf-8").splitlines() if line.startswith("| ")]
    assert len(rows) >= 40 and len(rows) == len(table_lines) - 2, "every table row must parse (header and rule aside)"
    english = [r["en"].lower() for r in rows]
    assert len(english) == len(set(english)), "a term is listed twice"


def test_every_chinese_term_is_written_in_chinese():
    for r in _rows():
        assert re.search(r"[\u4e00-\u9fff]", r["zh"]), f"{r['en']}: {r['zh']!r} has no Chinese characters"


def test_every_term_appears_in_the_lecture_its_row_points_at():
    for r in _rows():
        path = REPO / "book" / "lectures" / f"{r['file']}.ipynb"
        assert path.exists(), f"{r['en']}: no lecture {r['file']}"
        assert path.name.startswith(f"{int(r['n']):02d}_"), f"{r['en']}: link text {r['n']} vs {r['file']}"
        text = "\n".join(c.source for c in nbformat.read(str(path), as_version=4).cells).lower()
        assert r["en"].lower() in text, f"{r['en']!r} does not appear in lecture {r['n']}"


def test_the_glossary_is_in_the_table_of_contents():
    toc = yaml.safe_load((REPO / "_toc.yml").read_text())
    files = [ch["file"] for part in toc["parts"] for ch in part["chapters"]]
    assert "book/glossary" in files
