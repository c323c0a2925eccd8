"""Assignments 2-5 graded as ``rnn-course grade`` grades them: sandboxed kernel, tests in the judge.

``test_assignments.py`` grades every assignment with plain nbgrader (tests in the student's
kernel, as in the student's own notebook); ``test_hostile.py`` grades Assignment 1 through the
judge. Here the other four solutions go through the judge, where their tests reach the
student's code only through proxies: a2's in-place clipping and numerical gradients, a3's
training loop run by the judge through the student's ``tbptt_step`` (model and optimizer
copied in and back), a4's model trained in the student's process and measured by the judge,
a5's training through the student's loss (gradients across the boundary) and its scripted
decoder. Each must earn full marks, with nothing reported by the sandbox.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import nbformat
import pytest

from tests.hostile import corpus, direct

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

REPO = Path(__file__).resolve().parents[1]
ASSIGNMENTS = ("a2_rnn_step_by_step", "a3_lstm_gru", "a4_packing_classification",
               "a5_seq2seq_attention")


def _grade(root: Path, name: str):
    from course_lib.grading import sandbox

    source = REPO / "solutions" / name / f"{name}.ipynb"
    release = direct.make_course(root / name / "course", source)
    honest = corpus.fill(nbformat.read(release, as_version=4), nbformat.read(source, as_version=4))
    submission = root / name / f"honest_attempt_{name}.ipynb"
    nbformat.write(honest, submission)
    limits = sandbox.Limits(cell_timeout=120, notebook_timeout=600)
    return name, direct.grade_one(root / name / "course", root / name / "scratch", "honest",
                                  submission, name, True, limits)


@pytest.fixture(scope="module")
def judged(tmp_path_factory):
    root = tmp_path_factory.mktemp("judged")
    with ThreadPoolExecutor(2) as pool:
        return dict(pool.map(lambda name: _grade(root, name), ASSIGNMENTS))


@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_solution_earns_full_marks_through_the_judge(judged, name):
    scores, messages, log = judged[name]
    tests = {k: v for k, v in scores.items() if k.startswith("test")}
    assert len(tests) >= 8, f"{name}: not graded: {scores}\n{log[-3000:]}"
    failed = [k for k, v in tests.items() if not v]
    assert not failed, f"{name}: lost {failed}\n{log[-3000:]}"
    assert messages == [], messages
