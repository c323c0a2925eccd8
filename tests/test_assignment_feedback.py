"""Feedback that names the mistake: every catalogued wrong answer fails its visible test with a
message that says what is wrong, and the points follow the assignments' difficulty.

The catalogue is ``tests/assignments/wrong_submissions.py`` (``MISTAKES``). One subprocess
(``tests/assignments/run_visible.py``) runs the released notebooks' visible test cells directly
against each mistake and against the honest answers: seconds, where a full nbgrader run per
mistake would take minutes. ``test_assignments.py`` grades one whole wrong submission per
assignment through real nbgrader.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import nbformat
import pytest

REPO = Path(__file__).resolve().parents[1]
HERE = Path(__file__).parent / "assignments"
sys.path.insert(0, str(HERE))
import wrong_submissions as ws  # noqa: E402

ASSIGNMENTS = sorted(p.name for p in (REPO / "solutions").iterdir() if (p / f"{p.name}.ipynb").exists())


@pytest.fixture(scope="module")
def outcomes() -> dict:
    run = subprocess.run([sys.executable, str(HERE / "run_visible.py")], capture_output=True, text=True,
                         timeout=300, cwd=REPO)
    assert run.returncode == 0, run.stderr[-3000:]
    return json.loads(run.stdout)


def _meta(cell) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {})


def _release(assignment: str):
    return nbformat.read(str(REPO / "assignments" / assignment / f"{assignment}.ipynb"), as_version=4)


def test_the_catalogue_holds_at_least_25_mistakes_across_every_assignment():
    names = [m.name for m in ws.MISTAKES]
    assert len(names) == len(set(names)), "mistake names must be unique"
    per_assignment = Counter(m.assignment for m in ws.MISTAKES)
    assert len(ws.MISTAKES) >= 25 and set(per_assignment) == set(ASSIGNMENTS), per_assignment
    assert min(per_assignment.values()) >= 3, per_assignment


@pytest.mark.parametrize("mistake", ws.MISTAKES, ids=lambda m: f"{m.assignment[:2]}-{m.name}")
def test_each_mistake_targets_a_visible_test_below_its_answer_cell(mistake):
    cells = _release(mistake.assignment).cells
    ids = [_meta(c).get("grade_id") for c in cells]
    assert mistake.answer in ids and _meta(cells[ids.index(mistake.answer)]).get("solution")
    test = cells[ids.index(mistake.test)]
    assert _meta(test).get("grade") and test.source.count("\n") > 1, f"{mistake.test} is not a visible test cell"
    assert ids.index(mistake.test) > ids.index(mistake.answer), "the test must come after the answer it checks"


@pytest.mark.parametrize("mistake", ws.MISTAKES, ids=lambda m: f"{m.assignment[:2]}-{m.name}")
def test_each_mistake_fails_its_visible_test_with_the_message_that_names_it(outcomes, mistake):
    kind, message = outcomes["mistakes"][mistake.name]
    assert kind == "AssertionError", f"{mistake.name}: {mistake.test} gave {kind}: {message}"
    assert mistake.message in message, f"{mistake.name}: {mistake.test} said {message!r}"


def test_the_same_visible_tests_pass_with_the_honest_answers(outcomes):
    tested = {f"{m.assignment}/{m.test}" for m in ws.MISTAKES}
    assert set(outcomes["honest"]) == tested
    failed = {k: v for k, v in outcomes["honest"].items() if v[0] is not None}
    assert not failed, failed


def _points(assignment: str) -> float:
    nb = nbformat.read(str(REPO / "solutions" / assignment / f"{assignment}.ipynb"), as_version=4)
    return sum(_meta(c).get("points", 0) for c in nb.cells if _meta(c).get("grade"))


def test_points_follow_difficulty():
    """Assignment 1 (text to tensors, plain Python) is the easiest and carries the fewest points;
    Assignment 2 (BPTT by hand) the most; the stretch assignment 5 carries more than packing (4)."""
    points = {a[:2]: _points(a) for a in ASSIGNMENTS}
    assert points["a1"] < points["a4"] < points["a5"] <= points["a3"] < points["a2"], points


def test_each_assignment_states_the_points_of_each_part_in_its_table():
    for assignment in ASSIGNMENTS:
        nb = nbformat.read(str(REPO / "solutions" / assignment / f"{assignment}.ipynb"), as_version=4)
        table = [int(n) for n in re.findall(r"^\| \d+ \|.*\| (\d+) \|$", nb.cells[0].source, flags=re.M)]
        assert sum(table) == _points(assignment), f"{assignment}: the parts add up to {sum(table)}"


def test_rnn_backward_diagnosis_is_silent_on_the_right_gradients():
    import torch

    from course_lib.checks import _rnn_bptt, diagnose_rnn_backward

    g = torch.Generator().manual_seed(0)
    p = {k: torch.randn(*s, generator=g, dtype=torch.float64) for k, s in
         (("weight_ih", (4, 3)), ("weight_hh", (4, 4)), ("bias_ih", (4,)), ("bias_hh", (4,)))}
    x, h0 = torch.randn(5, 2, 3, generator=g, dtype=torch.float64), torch.randn(2, 4, generator=g, dtype=torch.float64)
    leaves = {k: v.clone().requires_grad_() for k, v in p.items()}
    xx, hh = x.clone().requires_grad_(), h0.clone().requires_grad_()
    h, hs = hh, []
    for t in range(5):
        h = torch.tanh(xx[t] @ leaves["weight_ih"].T + leaves["bias_ih"] + h @ leaves["weight_hh"].T + leaves["bias_hh"])
        hs.append(h)
    go = torch.randn(5, 2, 4, generator=g, dtype=torch.float64)
    (torch.stack(hs) * go).sum().backward()
    outputs = torch.stack(hs).detach()
    right = _rnn_bptt(x, h0, p, outputs, go)
    truth = {**{k: v.grad for k, v in leaves.items()}, "h0": hh.grad, "x": xx.grad}
    for k in truth:
        torch.testing.assert_close(right[k], truth[k], atol=1e-12, rtol=0)
    diagnose_rnn_backward(right, x, h0, p, outputs, go)
    wrong = _rnn_bptt(x, h0, p, outputs, go, transpose_hh=True)
    with pytest.raises(AssertionError, match="is transposed"):
        diagnose_rnn_backward(wrong, x, h0, p, outputs, go)
