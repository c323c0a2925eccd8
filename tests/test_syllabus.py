"""The syllabus page (book/syllabus.md) against the notebooks it schedules: every lecture once,
in order; every assignment released no earlier than the lectures its code and its parts use,
due after it is released; hours as the assignments state them; seed decks that hold the
lecture's topic."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import nbformat
import pytest

from course_lib.grading import regions

REPO = Path(__file__).resolve().parents[1]
SYLLABUS = REPO / "book" / "syllabus.md"
LECTURES = {int(p.name[:2]): p for p in (REPO / "book" / "lectures").glob("*.ipynb")}
ASSIGNMENTS = sorted(p.name for p in (REPO / "solutions").iterdir() if (p / f"{p.name}.ipynb").exists())
SEEDS = REPO.parent / "shared" / "seeds"

# Topics an assignment part can be named after, and how a lecture's prose names them.
TOPICS = {
    "tokenising": r"tokeni[sz]", "vocabulary": r"vocabular", "bag-of-words": r"bag.of.words",
    "one-hot": r"one.hot", "embedding": r"embedding", "padding": r"\bpadd",
    "backpropagation through time": r"backpropagation through time|\bBPTT\b",
    "gradient check": r"gradient.check", "clipping": r"\bclip", "vanishing gradients": r"vanishing",
    "LSTM": r"\bLSTM", "GRU": r"\bGRU", "truncated BPTT": r"truncated", "temperature": r"temperature",
    "perplexity": r"perplexity", "packing": r"\bpack", "bidirectional": r"bidirectional",
    "confusion matrix": r"confusion", "attention": r"attention", "teacher forcing": r"teacher.forc",
    "greedy decoding": r"greedy", "many-to-one": r"many.to.one", "decoding": r"decod",
}
# What a seed deck must mention to be said to cover a lecture.
LECTURE_SIGNATURES = {
    1: r"bag.of.words|Markov|fixed.window", 2: r"unroll|nn\.RNN|h_\{?t-1|hidden state",
    3: r"many.to.one|one.to.many|caption", 4: r"BPTT|through time|vanishing|exploding",
    5: r"forget gate|conveyor|cell state", 6: r"\bGRU\b|bidirectional", 7: r"vocabulary|\bpack|sentiment",
    8: r"language model|perplexity|quick br", 9: r"Satoshi|surname|confusion",
    10: r"attention|seq2seq|<START>|encoder",
}


def _rows(heading: str) -> list[list[str]]:
    """The body rows of the first Markdown table under ``## heading``."""
    text = SYLLABUS.read_text(encoding="utf8").split(f"## {heading}\n", 1)[1].split("\n## ", 1)[0]
    lines = [line for line in text.splitlines() if line.startswith("|")]
    return [[cell.strip() for cell in line.strip("|").split("|")] for line in lines[2:]]


def schedule() -> dict:
    """``{"lecture_week": {lecture: week}, "released": {a: week}, "due": {a: week},
    "decks": {lecture: [ids]}, "needs": {a: [lectures]}, "hours": {a: "2–3"}}`` from the page."""
    out = {"lecture_week": {}, "released": {}, "due": {}, "decks": {}, "weekly_released": {},
           "weekly_due": {}, "needs": {}, "hours": {}}
    for week, lecture, decks, released, due, _hours in _rows("Weekly schedule"):
        week = int(week)
        if lecture:
            n = int(re.search(r"lectures/(\d\d)_", lecture).group(1))
            out["lecture_week"][n] = week
            out["decks"][n] = [d.strip() for d in decks.split(",") if d.strip()]
        for key, cell in (("weekly_released", released), ("weekly_due", due)):
            for name in re.findall(r"`(\w+)`", cell):
                out[key][name] = week
    for name, needs, released, due, hours in _rows("Assignments"):
        name = name.strip("`")
        out["needs"][name] = [int(n) for n in needs.split(",")]
        out["released"][name] = int(released.removeprefix("week "))
        out["due"][name] = int(due.removeprefix("week "))
        out["hours"][name] = hours
    return out


def _code_names(path: Path) -> set[str]:
    """``course_lib`` names a notebook's code imports or reads as ``course_lib.X``, leaving out
    the test helpers of ``course_lib.checks`` and what hidden tests import (the grader's oracles,
    never the student's)."""
    names = set()
    for cell in nbformat.read(path, as_version=4).cells:
        if cell.cell_type != "code":
            continue
        visible = regions.without(cell.source, regions.HIDDEN_TESTS)
        source = "\n".join(line for line in visible.splitlines() if not line.lstrip().startswith(("%", "!")))
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("course_lib"):
                if node.module != "course_lib.checks":
                    names |= {a.name for a in node.names}
            elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "course_lib":
                names.add(node.attr)
    return names


def _prose(path: Path) -> str:
    return "\n".join(c.source for c in nbformat.read(path, as_version=4).cells if c.cell_type == "markdown")


def _part_topics(assignment: str) -> set[str]:
    """Topics named in the assignment's ``## Part`` headings."""
    heads = [line for line in _prose(REPO / "solutions" / assignment / f"{assignment}.ipynb").splitlines()
             if line.startswith("## Part")]
    return {topic for topic, pattern in TOPICS.items() for h in heads if re.search(pattern, h, re.I)}


def order_problems(plan: dict) -> list[str]:
    """Everything an assignment uses that no lecture up to its release week teaches."""
    order = sorted(plan["lecture_week"], key=plan["lecture_week"].get)
    code = {n: _code_names(LECTURES[n]) for n in order}
    prose = {n: _prose(LECTURES[n]) for n in order}
    problems = []
    for a in ASSIGNMENTS:
        before = [n for n in order if plan["lecture_week"][n] <= plan["released"][a]]
        for name in sorted(_code_names(REPO / "solutions" / a / f"{a}.ipynb")):
            if not any(name in code[n] for n in before):
                where = [n for n in order if name in code[n]]
                problems.append(f"{a} imports course_lib's {name}, first used in lecture(s) {where[:1]}, "
                                f"not before week {plan['released'][a]}")
        for topic in sorted(_part_topics(a)):
            if not any(re.search(TOPICS[topic], prose[n], re.I) for n in before):
                where = [n for n in order if re.search(TOPICS[topic], prose[n], re.I)]
                problems.append(f"{a} has a part on {topic}, first taught in lecture(s) {where[:1]}, "
                                f"not before week {plan['released'][a]}")
    return problems


def test_every_lecture_is_scheduled_once_in_order():
    weeks = schedule()["lecture_week"]
    assert sorted(weeks) == sorted(LECTURES)
    assert [weeks[n] for n in sorted(weeks)] == sorted(weeks.values())
    assert len(set(weeks.values())) == len(weeks)


def test_every_assignment_is_released_and_due_once_and_both_tables_agree():
    plan = schedule()
    assert sorted(plan["released"]) == ASSIGNMENTS
    assert plan["weekly_released"] == plan["released"] and plan["weekly_due"] == plan["due"]
    assert all(plan["released"][a] < plan["due"][a] for a in ASSIGNMENTS)


def test_no_assignment_is_released_before_the_lectures_it_uses():
    assert order_problems(schedule()) == []


def test_the_order_check_catches_a3_released_before_language_models():
    """a3 samples with a temperature, which lecture 8 (week 8) teaches; a4 uses lecture 9's names."""
    plan = schedule()
    plan["released"]["a3_lstm_gru"] = plan["lecture_week"][6]
    problems = order_problems(plan)
    assert any("a3_lstm_gru" in p and "temperature" in p for p in problems)
    plan = schedule()
    plan["released"]["a4_packing_classification"] = plan["lecture_week"][8]
    assert any("NamesDataset" in p for p in order_problems(plan))


def test_each_assignment_is_released_after_the_lectures_it_builds_on():
    plan = schedule()
    late = {a: n for a in ASSIGNMENTS for n in plan["needs"][a] if plan["lecture_week"][n] > plan["released"][a]}
    assert late == {}


def test_assignment_hours_are_the_ones_each_assignment_states():
    stated = {}
    for a in ASSIGNMENTS:
        match = re.search(r"Expect (\S+) hours", _prose(REPO / "solutions" / a / f"{a}.ipynb"))
        stated[a] = match and match.group(1)
    assert schedule()["hours"] == stated


def test_seed_decks_named_for_a_lecture_exist_and_cover_its_topic():
    if not SEEDS.is_dir():
        pytest.skip(f"the seed decks are not beside the repository ({SEEDS})")
    files = {p.name[:3]: p for p in SEEDS.glob("*.txt")}
    decks = schedule()["decks"]
    wrong = {}
    for lecture, ids in decks.items():
        assert ids, f"lecture {lecture} names no seed deck"
        for i in ids:
            if i not in files or not re.search(LECTURE_SIGNATURES[lecture], files[i].read_text(encoding="utf8"), re.I):
                wrong.setdefault(lecture, []).append(i)
    assert wrong == {}
    assert set(files) == {i for ids in decks.values() for i in ids}
