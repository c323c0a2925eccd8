"""The graded assignments, end to end with real nbgrader and the course's grader.

For every assignment in ``solutions/``:

- ``assignments/`` is exactly what ``nbgrader generate_assignment`` makes from ``solutions/`` now;
- nothing under ``assignments/`` holds solution markers, hidden tests or solution code lines;
- graded as an instructor grades (``rnn-course grade``: sandboxed kernel, tests in the judge),
  the solution earns full marks with nothing reported by the sandbox (manually graded answers
  left to the grader), and the released notebook, unchanged, scores 0 without crashing the run;
- a deliberately wrong submission (``tests/assignments/wrong_submissions.py``) loses exactly the
  points of the test cells its mistakes cover, and its feedback page shows the helpful message;
- ``nbgrader validate --invert`` flags the release's hidden-test cells (stripped to their
  docstring, they pass) and no visible test. (That the solution's answers pass the visible
  tests in the student's own kernel, the ``Validate`` button's check, is
  ``test_assignment_feedback``'s control case and ``test_student_package``'s fresh venv.)

The work is batched once per module: one temporary course holds every assignment, released by
``nbgrader generate_assignment``; one Dask cluster of two workers grades the three submissions of
each assignment (``rnn-course grade --scheduler``, its warm kernels shared by every run), while
``nbgrader validate --invert`` (all releases in one call) goes on meanwhile.
The solutions' passage through the judge is where a2's in-place clipping and numerical
gradients, a3's training loop run through the student's ``tbptt_step``, a4's model measured by
the judge and a5's scripted decoder reach the student's code only through proxies.
"""

from __future__ import annotations

import importlib.util
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest

from course_lib.grading import regions
from course_lib.grading.course import Course as CourseConfig
from course_lib.grading.release import setup_cell_source

REPO = Path(__file__).resolve().parents[1]


def _load_fixtures():
    path = Path(__file__).parent / "assignments" / "wrong_submissions.py"
    spec = importlib.util.spec_from_file_location("assignment_wrong_submissions", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


_fixtures = _load_fixtures()
CASES, make_submission, read = _fixtures.CASES, _fixtures.make_submission, _fixtures.read
NBGRADER = str(Path(sys.executable).parent / "nbgrader")
RNN_COURSE = str(Path(sys.executable).parent / "rnn-course")
ASSIGNMENTS = sorted(
    p.name for p in (REPO / "solutions").iterdir() if p.is_dir() and (p / f"{p.name}.ipynb").exists()
)
SOLUTION, RELEASE = "solution", "release"

pytestmark = pytest.mark.slow


def _nbgrader(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([NBGRADER, *args], cwd=cwd, capture_output=True, text=True, timeout=600)


def _background(*args: str, cwd: Path) -> subprocess.Popen:
    return subprocess.Popen([NBGRADER, *args], cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


class Course:
    """The temporary course every assignment is released into and graded in."""

    def __init__(self, root: Path):
        self.root = root
        self.runs: dict[tuple[str, str], subprocess.CompletedProcess] = {}
        root.mkdir(parents=True)
        shutil.copy(REPO / "nbgrader_config.py", root)
        for assignment in ASSIGNMENTS:
            shutil.copytree(REPO / "solutions" / assignment, root / "solutions" / assignment,
                            ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"))

    def notebook(self, folder: str, assignment: str) -> Path:
        return self.root / folder / assignment / f"{assignment}.ipynb"

    def release(self) -> None:
        """Every assignment, by one ``nbgrader generate_assignment`` (its id is a glob)."""
        from course_lib.grading import nbgrader_api

        # a gradebook stamped with nbgrader's schema revision: nbgrader then creates its tables
        # without running the `alembic` command (a second process that imports nbgrader)
        nbgrader_api.stamp_new_gradebook(f"sqlite:///{self.root / 'gradebook.db'}", nbgrader_api.head_revision())
        self.runs["generate"] = _nbgrader("generate_assignment", "*", "--force", cwd=self.root)

    def grade(self, assignment: str, scheduler: str) -> None:
        """Submit the release filled with the solution's answers, the release unchanged and the
        wrong submission; grade the three in one run."""
        release, solution = read(self.notebook("assignments", assignment)), read(self.notebook("solutions", assignment))
        case = CASES[assignment]
        export = self.root / "export" / assignment
        for student, nb in ((SOLUTION, make_submission(release, solution)), (RELEASE, release),
                            (case.student, make_submission(release, solution, case.replace))):
            (export / student / assignment).mkdir(parents=True)
            nbformat.write(nb, str(export / student / assignment / f"{assignment}.ipynb"))
        self.runs["grade", assignment] = subprocess.run(
            [RNN_COURSE, "grade", assignment, str(export), "--scheduler", scheduler,
             "--course-dir", str(self.root), "--no-progress"],
            cwd=self.root, capture_output=True, text=True, timeout=900)

    def messages(self, assignment: str, student: str) -> str:
        """The first line of the student's grading log: status, and the run's message if any."""
        log = self.root / "grading" / assignment / "logs" / f"{student}.log"
        return log.read_text().split("\n", 1)[0]


@pytest.fixture(scope="module")
def course(tmp_path_factory) -> Course:
    """Every assignment released into one temporary course and graded there, while `nbgrader
    validate --invert` runs on the releases in the background."""
    from tests.scale.dask_cluster import LocalDaskCluster

    base = tmp_path_factory.mktemp("courses")
    start = time.perf_counter()
    # run outside the course (no nbgrader_config.py): give cells the course's time limit, not
    # nbgrader's 30 s, which a training cell can pass on a busy 2-core machine
    limit = "--Execute.timeout=120"
    invert = _background("validate", limit, "--invert", *(str(REPO / "assignments" / a / f"{a}.ipynb") for a in ASSIGNMENTS), cwd=base)
    course = Course(base / "course")
    course.release()
    cluster = LocalDaskCluster(n_workers=2).start()
    try:
        for assignment in ASSIGNMENTS:
            course.grade(assignment, cluster.address)
    finally:
        cluster.stop()
    out, _ = invert.communicate(timeout=600)
    VALIDATE_RUNS["validate --invert"] = subprocess.CompletedProcess(invert.args, invert.returncode, out, "")
    print(f"\nreleased, graded and validated in {time.perf_counter() - start:.1f} s")
    return course


VALIDATE_RUNS: dict[str, subprocess.CompletedProcess] = {}


@pytest.fixture(scope="module")
def validate_runs(course) -> dict[str, subprocess.CompletedProcess]:
    return VALIDATE_RUNS


def _scores(course: Course, assignment: str, student: str) -> dict[str, tuple[float | None, float, str]]:
    """grade_id -> (score, max_score, cell type) from the gradebook."""
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course.root / 'gradebook.db'}") as gb:
        nb = gb.find_submission_notebook(assignment, assignment, student)
        return {g.name: (g.auto_score, g.max_score, g.cell.cell_type) for g in nb.grades}


def _cells(nb) -> list[tuple[str, str, dict]]:
    return [(c.cell_type, c.source, c.get("metadata", {}).get("nbgrader", {})) for c in nb.cells]


def test_there_are_at_least_four_assignments():
    assert len(ASSIGNMENTS) >= 4, ASSIGNMENTS


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_solution_notebook_follows_the_house_rules(assignment):
    nb = read(REPO / "solutions" / assignment / f"{assignment}.ipynb")
    ids = [m["grade_id"] for _, _, m in _cells(nb) if m]
    assert len(ids) == len(set(ids)), f"duplicate grade ids: {ids}"
    first = nb.cells[nb.cells.index(next(c for c in nb.cells if c.cell_type == "code"))]
    assert first.source == setup_cell_source(CourseConfig.load(REPO).install_source)
    assert first.metadata["nbgrader"]["locked"] and not first.metadata["nbgrader"]["grade"]
    total = 0
    for kind, source, meta in _cells(nb):
        if meta.get("grade") and kind == "code":
            assert meta["locked"], f"test cell {meta['grade_id']} must be locked"
            assert re.match(r'^"""[^\n]+"""\n', source), f"test cell {meta['grade_id']} must open with a one-line docstring"
            total += meta["points"]
        if meta.get("solution") and kind == "code":
            assert "### BEGIN SOLUTION" in source, f"answer cell {meta['grade_id']} has no solution region"
        if meta.get("grade") and kind == "markdown":
            total += meta["points"]
    stated = re.search(r"\*\*Total: (\d+) points\*\*", nb.cells[0].source)
    assert stated and int(stated.group(1)) == total, f"the first cell should state the total, {total} points"


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_release_is_what_nbgrader_generates_now(course, assignment):
    run = course.runs["generate"]
    assert run.returncode == 0, run.stderr
    committed = sorted(p.relative_to(REPO / "assignments" / assignment) for p in (REPO / "assignments" / assignment).rglob("*") if p.is_file())
    fresh = sorted(p.relative_to(course.root / "assignments" / assignment) for p in (course.root / "assignments" / assignment).rglob("*") if p.is_file())
    assert committed == fresh, "run `nbgrader generate_assignment <id> --force` and commit assignments/"
    for rel in fresh:
        a, b = REPO / "assignments" / assignment / rel, course.root / "assignments" / assignment / rel
        if rel.suffix == ".ipynb":
            assert _cells(read(a)) == _cells(read(b)), f"{rel} is out of date: regenerate the release"
        else:
            assert a.read_bytes() == b.read_bytes(), f"{rel} is out of date: regenerate the release"


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_release_holds_no_solution_or_hidden_tests(assignment):
    solution = read(REPO / "solutions" / assignment / f"{assignment}.ipynb")
    secret, public = set(), set()
    for cell in solution.cells:
        for line in regions.lines(cell.source):
            if line.marker is None:
                (secret if line.region else public).add(line.text.strip())
    distinctive = {line for line in secret - public if len(line) >= 12}
    assert distinctive, "expected solution lines to look for"
    for path in (REPO / "assignments" / assignment).rglob("*"):
        if not path.is_file():
            continue
        text = path.read_text(errors="replace")
        if path.suffix == ".ipynb":
            text = "\n".join(c.source for c in read(path).cells)
        for marker in regions.MARKERS:
            assert marker not in text, f"{path.relative_to(REPO)} contains {marker!r}"
        lines = {line.strip() for line in text.splitlines()}
        leaked = sorted(distinctive & lines)
        assert not leaked, f"{path.relative_to(REPO)} contains solution or hidden-test lines: {leaked[:5]}"


def _graded(course: Course, assignment: str) -> None:
    run = course.runs["grade", assignment]
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_solution_earns_full_marks_through_the_judge(course, assignment):
    _graded(course, assignment)
    scores = _scores(course, assignment, SOLUTION)
    auto = {k: v for k, v in scores.items() if v[2] == "code"}
    lost = {k: v for k, v in auto.items() if v[0] != v[1]}
    assert not lost, f"the solution loses points on {lost}"
    assert all(v[0] is None for v in scores.values() if v[2] == "markdown"), "written answers are graded by hand"
    assert course.messages(assignment, SOLUTION).startswith(f"{SOLUTION}: graded in "), \
        "the sandbox reported something on the solution"
    assert " - " not in course.messages(assignment, SOLUTION), course.messages(assignment, SOLUTION)


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_unchanged_release_autogrades_to_zero(course, assignment):
    _graded(course, assignment)
    assert (course.root / "autograded" / RELEASE / assignment / f"{assignment}.ipynb").exists()
    scores = _scores(course, assignment, RELEASE)
    assert scores and all(score in (0, None) for score, _, _ in scores.values()), scores


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_wrong_submission_loses_exactly_its_tests_and_says_why(course, assignment):
    case = CASES[assignment]
    _graded(course, assignment)
    scores = _scores(course, assignment, case.student)
    failed = {k for k, (score, top, kind) in scores.items() if kind == "code" and score != top}
    assert failed == case.fails
    html = (course.root / "feedback" / case.student / assignment / f"{assignment}.html").read_text()
    for message in case.messages:
        assert message in html, f"feedback for {case.student} lacks {message!r}"


def test_validate_invert_flags_exactly_the_hidden_test_cells_of_each_release(validate_runs):
    """On a release every visible test fails (answers are stubs); only the hidden-test cells,
    whose bodies nbgrader stripped to their docstring, pass, and --invert flags just those."""
    run = validate_runs["validate --invert"]
    assert run.returncode == 0, run.stdout
    hidden = []
    for assignment in ASSIGNMENTS:
        cells = read(REPO / "solutions" / assignment / f"{assignment}.ipynb").cells
        hidden += [c.source.splitlines()[0] for c in cells if regions.holds(c.source, regions.HIDDEN_TESTS)]
    flagged = re.findall(r"The following cell passed:\n\n\s*(.*)", run.stdout)
    assert sorted(line.strip()[:60] for line in flagged) == sorted(line[:60] for line in hidden), run.stdout
    counts = [int(n) for n in re.findall(r"NOTEBOOK PASSED ON (\d+) CELL", run.stdout)]
    assert sum(counts) == len(hidden) and len(counts) == len(ASSIGNMENTS), run.stdout


# -- course_lib.checks: the messages students read (fast, no nbgrader) ---------------------


def _message(fn, *args, **kwargs) -> str:
    with pytest.raises(AssertionError) as err:
        fn(*args, **kwargs)
    return str(err.value)


def test_check_shape_says_expected_and_got():
    import torch

    from course_lib.checks import check_shape

    msg = _message(check_shape, torch.zeros(3, 5, 8), (5, 3, 8), "rnn_forward output")
    assert msg.startswith("rnn_forward output: expected shape (5, 3, 8), got (3, 5, 8)")
    assert "forget a `return`" in _message(check_shape, None, (2,), "h")


def test_check_close_names_the_worst_error_and_survives_monkeypatching(monkeypatch):
    import torch

    from course_lib.checks import check_close

    got, want = torch.zeros(2, 3), torch.zeros(2, 3)
    want[1, 2] = 0.5
    monkeypatch.setattr(torch, "allclose", lambda *a, **k: True)
    monkeypatch.setattr(torch, "abs", lambda x: x * 0)
    msg = _message(check_close, got, want, "h_t")
    assert msg.startswith("h_t: max abs error 0.5 at index (1, 2): got 0, expected 0.5 (1 of 6 elements")


def test_lstm_gate_diagnosis_names_the_swapped_gates():
    import torch

    from course_lib.checks import check_lstm_gate_order, reference_lstm_cell

    def swapped(x, h, c, w_ih, w_hh, b_ih, b_hh):
        g = x @ w_ih.T + b_ih + h @ w_hh.T + b_hh
        i, f, gg, o = g.chunk(4, 1)
        c2 = torch.sigmoid(i) * c + torch.sigmoid(f) * torch.tanh(gg)  # f and i swapped
        return torch.sigmoid(o) * torch.tanh(c2), c2

    check_lstm_gate_order(reference_lstm_cell)
    assert "your i and f gates look swapped" in _message(check_lstm_gate_order, swapped)


def test_clip_and_detach_diagnoses():
    import torch

    from course_lib.checks import check_clip_by_norm, check_detached

    def by_value(grads, max_norm):
        for g in grads:
            g.clamp_(-max_norm, max_norm)

    assert "clipped by value instead of by norm" in _message(check_clip_by_norm, by_value)
    h = torch.ones(2, requires_grad=True) * 2
    assert "forgot to detach" in _message(check_detached, (h, h.detach()))
    check_detached((h.detach(), h.detach()))


def test_check_from_scratch_spots_ready_made_functions():
    import torch.nn.functional as F  # noqa: F401  (read by the functions below)

    from course_lib.checks import check_from_scratch

    namespace = {"F": F}
    exec("def one_hot(i, n):\n    return F.one_hot(i, n).float()", namespace)
    assert "uses `one_hot`" in _message(check_from_scratch, namespace["one_hot"], "one_hot", banned_attributes=("one_hot",))
    exec("import course_lib\ndef rnn_forward(x, h0, p):\n    return course_lib.rnn_forward(x, h0, p)", namespace)
    assert "ready-made" in _message(check_from_scratch, namespace["rnn_forward"], "rnn_forward")
    exec("def helper(i):\n    return i + 1\ndef mine(i):\n    return helper(i)", namespace)
    check_from_scratch(namespace["mine"], "mine", banned_attributes=("one_hot",))
    library_base = type("SequenceClassifier", (), {"__module__": "course_lib.models"})
    subclass = type("NameClassifier", (library_base,), {"__module__": "__main__"})
    assert "builds on `course_lib.models.SequenceClassifier`" in _message(check_from_scratch, subclass, "NameClassifier")


def test_student_guide_states_each_assignments_points():
    guide = (REPO / "book" / "guides" / "student_guide.md").read_text()
    for assignment in ASSIGNMENTS:
        nb = read(REPO / "solutions" / assignment / f"{assignment}.ipynb")
        total = re.search(r"\*\*Total: (\d+) points\*\*", nb.cells[0].source).group(1)
        row = re.search(rf"^\| `{assignment}` \|.*\| (\d+) \|$", guide, flags=re.M)
        assert row and row.group(1) == total, f"the student guide's points for {assignment}"
