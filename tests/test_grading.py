"""``rnn-course``: a class graded in parallel with real nbgrader and a real Dask LocalCluster.

Everything runs for real on the tiny course in ``tests/grading/toy_course.py``:
the CLI as a subprocess (2 worker processes), plain ``nbgrader`` as the
reference, SQLite gradebooks read back through nbgrader's ``Gradebook`` API.
One graded class (:func:`graded`) is shared by the tests that only read it.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest

from course_lib.grading import late
from course_lib.grading.course import Course
from course_lib.grading.gradebook import backup
from course_lib.grading.settings import config_text
from tests.grading import toy_course as toy

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

BIN = Path(sys.executable).parent
DUE = "2026-01-10 12:00:00"
ON_TIME = "2026-01-09 10:00:00"
#: 2 days 6 hours late: 3 started days at 10 % a day
ERIN_LATE = "2026-01-12 18:00:00"
LATE_POLICY = {"percent_per_day": 10.0, "max_percent": 50.0}
CLASS = {
    "alice": toy.submission(toy.CORRECT),
    "bob": toy.submission(toy.PARTIAL),
    "carol": toy.submission(toy.BLANK),
    "dave": toy.CORRUPT,
    "erin": toy.submission(toy.CORRECT),
    # an LMS that exports e-mail addresses as ids: long enough that a kernel socket under a
    # scratch folder named after it would pass the 107 bytes a Unix socket path may have
    "frank.from.a.long.lms.export@students.department-of-computing.university.example.edu":
        toy.submission(toy.PARTIAL),
}
TIMESTAMPS = {student: ERIN_LATE if student == "erin" else ON_TIME for student in CLASS}


def rnn_course(course: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN / "rnn-course"), *args, "--course-dir", str(course)],
                          capture_output=True, text=True, timeout=240)


def nbgrader(course: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN / "nbgrader"), *args], cwd=course,
                          capture_output=True, text=True, timeout=240)


def recorded_scores(course: Path) -> dict[tuple[str, str], tuple]:
    """(student, cell or 'late penalty') -> what the gradebook holds, via nbgrader's API."""
    from nbgrader.api import Gradebook

    scores = {}
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        for submission in gradebook.find_assignment(toy.ASSIGNMENT).submissions:
            for notebook in submission.notebooks:
                scores[submission.student_id, "late penalty"] = (notebook.late_submission_penalty,)
                for grade in notebook.grades:
                    scores[submission.student_id, grade.name] = (
                        grade.auto_score, grade.score, grade.needs_manual_grade)
    return scores


def recorded_students(course: Path) -> set[str]:
    """Students with a submission row, read with plain sqlite3 (works while the CLI writes)."""
    database = course / "gradebook.db"
    if not database.exists():
        return set()
    try:
        with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as connection:
            return {row[0] for row in connection.execute("SELECT student_id FROM submitted_assignment")}
    except sqlite3.OperationalError:  # tables not created yet, or locked for a moment
        return set()


def summary(course: Path) -> dict:
    return json.loads((course / "grading" / toy.ASSIGNMENT / "summary.json").read_text())


@pytest.fixture(scope="module")
def graded(tmp_path_factory) -> Path:
    """The class graded by ``rnn-course grade --workers 2``, with a due date and a late policy."""
    root = tmp_path_factory.mktemp("parallel")
    course = toy.write_course(root / "course")
    export = toy.write_submitted_tree(root / "submitted", CLASS, TIMESTAMPS)
    run = rnn_course(course, "grade", toy.ASSIGNMENT, str(export), "--workers", "2",
                     "--duedate", DUE, "--late-per-day", str(LATE_POLICY["percent_per_day"]),
                     "--late-cap", str(LATE_POLICY["max_percent"]))
    assert run.returncode == 0, run.stdout + run.stderr
    return course


@pytest.fixture(scope="module")
def sequential(tmp_path_factory) -> Path:
    """The same class graded by plain, sequential ``nbgrader autograde`` with the same config."""
    course = toy.write_course(tmp_path_factory.mktemp("sequential") / "course")
    with (course / "nbgrader_config.py").open("a") as config:
        config.write("\n" + config_text("late policy", late.settings(**LATE_POLICY)) + "\n")
    toy.write_submitted_tree(course / "submitted", CLASS, TIMESTAMPS)
    for step in (["db", "assignment", "add", toy.ASSIGNMENT, f"--duedate={DUE}"],
                 ["generate_assignment", toy.ASSIGNMENT], ["autograde", toy.ASSIGNMENT]):
        nbgrader(course, *step)  # autograde exits 1 for dave's corrupt notebook: expected
    return course


def test_class_graded_in_parallel_equals_sequential_nbgrader(graded, sequential):
    parallel, reference = recorded_scores(graded), recorded_scores(sequential)
    assert {student for student, _ in reference} == set(CLASS)
    assert parallel == reference


def test_broken_submission_gets_a_score_and_a_message_while_the_rest_is_graded(graded):
    result = summary(graded)
    assert "JSON" in result["errors"]["dave"]
    assert sorted(result["graded"]) == sorted(CLASS)
    dave = [values[1] for (student, cell), values in recorded_scores(graded).items()
            if student == "dave" and cell != "late penalty"]
    assert len(dave) == 4 and sum(dave) == 0
    page = (graded / "feedback" / "dave" / toy.ASSIGNMENT / f"{toy.NOTEBOOK}.html").read_text()
    assert "could not grade this submission" in page and "JSON" in page


def test_late_policy_takes_its_percentage_per_started_day(graded):
    scores = recorded_scores(graded)
    raw = sum(values[1] for (student, cell), values in scores.items()
              if student == "erin" and cell != "late penalty")
    assert scores["erin", "late penalty"] == (pytest.approx(raw * 0.30),)
    assert scores["alice", "late penalty"] == (None,)


def test_feedback_hides_hidden_test_source_but_shows_name_points_and_message(graded):
    page = (graded / "feedback" / "bob" / toy.ASSIGNMENT / f"{toy.NOTEBOOK}.html").read_text()
    assert toy.HIDDEN_SOURCE.replace('"', "&quot;") not in page and "squares(5) ==" not in page
    assert toy.HIDDEN_MESSAGE in page
    assert "test_squares_hidden" in page and "Score: 0.0 / 3.0" in page


def test_feedback_shows_hidden_tests_when_asked(graded, tmp_path):
    course = shutil.copytree(graded, tmp_path / "course")
    run = rnn_course(course, "feedback", toy.ASSIGNMENT, "--student", "bob", "--show-hidden-tests")
    assert run.returncode == 0, run.stdout + run.stderr
    page = (course / "feedback" / "bob" / toy.ASSIGNMENT / f"{toy.NOTEBOOK}.html").read_text()
    assert "squares(5)" in page and "BEGIN HIDDEN TESTS" in page


def test_export_writes_grades_breakdown_and_histogram(graded):
    out = graded / "grading" / toy.ASSIGNMENT
    with (out / "breakdown.csv").open() as handle:
        breakdown = list(csv.DictReader(handle))
    with (out / "grades.csv").open() as handle:
        grades = list(csv.DictReader(handle))
    assert sorted(row["student_id"] for row in breakdown) == sorted(CLASS)
    assert sorted(row["student_id"] for row in grades) == sorted(CLASS)
    bob = next(row for row in breakdown if row["student_id"] == "bob")
    assert (bob["test_squares"], bob["test_squares_hidden"], bob["test_mean"]) == ("2.0", "0.0", "1.0")
    assert (out / "histogram.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_interrupted_run_resumes_without_grading_anyone_twice(tmp_path):
    course = toy.write_course(tmp_path / "course")
    students = [f"student{i}" for i in range(6)]
    export = tmp_path / "lms_export.zip"
    with zipfile.ZipFile(export, "w") as archive:  # <student>_<anything>_<notebook>.ipynb
        for number, student in enumerate(students):
            archive.writestr(f"{student}_{1000 + number}_attempt_{toy.NOTEBOOK}.ipynb",
                             toy.submission(toy.CORRECT, slow_seconds=1.5))
    command = [str(BIN / "rnn-course"), "grade", toy.ASSIGNMENT, str(export), "--workers", "2",
               "--course-dir", str(course)]
    first = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                             start_new_session=True)
    try:
        deadline = time.monotonic() + 180
        while not recorded_students(course) and first.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)
        os.killpg(first.pid, signal.SIGKILL)  # the CLI, its workers and their kernels
    finally:
        first.wait()
    before = recorded_students(course)
    assert before and before != set(students), "the run must be killed part-way"
    complete = {(student, cell) for (student, cell), (auto, *_) in recorded_scores(course).items()
                if cell.startswith("test_") and auto is not None}
    assert complete == {(s, c) for s in before for c in ("test_squares", "test_squares_hidden", "test_mean")}

    second = subprocess.run(command, capture_output=True, text=True, timeout=240)
    assert second.returncode == 0, second.stdout + second.stderr
    result = summary(course)
    assert set(result["skipped"]) == before
    assert set(result["graded"]) == set(students) - before
    assert recorded_students(course) == set(students)
    backup = Path(result["backup"])
    assert backup.exists() and recorded_students_in(backup) == before


def recorded_students_in(database: Path) -> set[str]:
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as connection:
        return {row[0] for row in connection.execute("SELECT student_id FROM submitted_assignment")}


def test_release_writes_the_student_version_without_secrets(tmp_path):
    course = toy.write_course(tmp_path / "course")
    run = rnn_course(course, "release")
    assert run.returncode == 0, run.stdout + run.stderr
    released = (course / "assignments" / toy.ASSIGNMENT / f"{toy.NOTEBOOK}.ipynb").read_text()
    assert "squares(5)" not in released and "i * i for i" not in released
    assert "squares(3)" in released  # the visible test stays


def test_release_refuses_solution_text_outside_notebooks(tmp_path):
    course = toy.write_course(tmp_path / "course")
    (course / "solutions" / toy.ASSIGNMENT / "helper.py").write_text(
        "def squares(n):\n    return [i * i for i in range(n)]\n")
    run = rnn_course(course, "release")
    assert run.returncode == 1
    assert "helper.py" in run.stderr and "solution or hidden-test text" in run.stderr
    assert not (course / "assignments" / toy.ASSIGNMENT).exists()


def sqlite_course(root: Path) -> Course:
    """A course whose gradebook is an SQLite file holding one row."""
    root.mkdir(exist_ok=True)
    (root / "nbgrader_config.py").write_text('c.CourseDirectory.db_url = "sqlite:///gradebook.db"\n')
    with sqlite3.connect(root / "gradebook.db") as connection:
        connection.execute("CREATE TABLE marker (value TEXT)")
        connection.execute("INSERT INTO marker VALUES ('original')")
    return Course.load(root)


def test_backup_keeps_only_the_newest_backups(tmp_path):
    course = sqlite_course(tmp_path)
    made = [backup(course, keep=3) for _ in range(5)]
    left = sorted(tmp_path.glob("gradebook.db.*.bak"))
    assert left == made[-3:], f"expected the 3 newest backups, found {[p.name for p in left]}"
    with sqlite3.connect(made[-1]) as connection:
        assert connection.execute("SELECT value FROM marker").fetchall() == [("original",)]
    assert (tmp_path / "gradebook.db").exists()


def test_backup_leaves_other_files_that_look_alike(tmp_path):
    course = sqlite_course(tmp_path)
    other = tmp_path / "gradebook.db.notes.bak"
    other.write_text("an instructor's own file")
    for _ in range(3):
        backup(course, keep=1)
    assert other.exists()
    assert len(list(tmp_path.glob("gradebook.db.*Z.bak"))) == 1


@pytest.mark.parametrize("keep", [0, -1])
def test_backup_keeping_fewer_than_one_raises_value_error(tmp_path, keep):
    with pytest.raises(ValueError, match="keep must be at least 1"):
        backup(sqlite_course(tmp_path), keep=keep)


def test_keep_backups_below_one_is_refused_by_the_command_line(tmp_path):
    done = rnn_course(tmp_path, "grade", "toy", str(tmp_path), "--keep-backups", "0")
    assert done.returncode == 2 and "--keep-backups must be a positive int" in done.stderr


def test_submission_past_the_hard_deadline_is_stopped_scored_zero_and_reported(tmp_path):
    # nbgrader itself stalls in the grading child, where no cell's time limit can stop it (the
    # course config sleeps whenever autograde loads it): the child is killed at the deadline,
    # and the scores nbgrader left in the scratch gradebook are read back by a second child
    course = toy.write_course(tmp_path / "course")
    with (course / "nbgrader_config.py").open("a") as config:
        config.write('import sys, time\nif sys.argv[1:2] == ["autograde"]:\n    time.sleep(60)\n')
    export = toy.write_submitted_tree(tmp_path / "submitted", {"slow": toy.submission(toy.CORRECT)},
                                      {"slow": ON_TIME})
    run = rnn_course(course, "grade", toy.ASSIGNMENT, str(export), "--workers", "1",
                     "--notebook-timeout", "2")
    assert run.returncode == 0, run.stdout + run.stderr
    result = summary(course)
    assert "timed out: grading took longer than 2 s" in result["errors"]["slow"]
    scores = {cell: values[1] for (student, cell), values in recorded_scores(course).items()
              if student == "slow" and cell != "late penalty"}
    assert scores and all(not score for score in scores.values()), scores


def test_a_grading_childs_temporary_folders_live_in_its_scratch_course(tmp_path):
    """The judge's copy of the assignment is a temporary folder of the grading child. It must
    be in the task's scratch course, which the worker removes even when it kills the child at
    its deadline, not in the fork host's temporary folder, where such a child left it behind."""
    from course_lib.grading import runner, worker
    from course_lib.grading.tasks import AssignmentBundle, Submission

    scratch = tmp_path / "scratch"
    scratch.mkdir()
    bundle = AssignmentBundle("a1", ("a1",), b"template", {}, "")
    env = worker._materialise(scratch, bundle, Submission("s1", {}), None)
    assert env["TMPDIR"] == str(scratch)
    host = runner.ForkHost((), kernels=False)  # it made temporary folders of its own at start
    try:
        finished = host.call({"target": "tempfile:mkdtemp", "args": [], "cwd": str(scratch),
                              "log": None, "env": env}, timeout=60)
    finally:
        host.close()
    assert finished.code == 0
    assert [p.name for p in scratch.iterdir() if p.name.startswith("tmp")], "not made in TMPDIR"


def _run_in_a_fork_host_child(tmp_path, script: str, cells: dict | None = None):
    """Run the Python source ``script`` in a child of a new fork host (cold kernels); how it
    ended (``runner.Finished``: its exit code tells the test's finding)."""
    from course_lib.grading import runner

    path = tmp_path / "script.py"
    path.write_text(script)
    host = runner.ForkHost((), kernels=False, cells=cells)
    try:
        return host.call({"target": "runpy:run_path", "args": [str(path)], "cwd": str(tmp_path),
                          "log": str(tmp_path / "log"), "env": {}}, timeout=60)
    finally:
        host.close()


def test_a_fork_host_compiles_the_judged_cells_once_for_all_its_children(tmp_path):
    """``integrity.prepare_judge`` runs in the host: a child compiles none of those cells again."""
    source = "x = 1\nx + 1"
    check = ("import sys\nfrom course_lib.grading import judge\n"
             "before = judge._compiled.cache_info().misses\n"
             f"judge.prepare({source!r}, '`t`')\n"
             "sys.exit(0 if judge._compiled.cache_info().misses == before else 3)\n")
    finished = _run_in_a_fork_host_child(tmp_path, check, cells={"judged": [[source, "t"]]})
    assert finished.code == 0, "the child compiled the cell again"


GRADEBOOK_LOOKUPS = """
import sqlite3, sys, tempfile
from nbgrader.api import Gradebook
from sqlalchemy.sql.compiler import SQLCompiler

path = f"{tempfile.mkdtemp()}/gradebook.db"
with sqlite3.connect(path) as database:  # a schema revision: nbgrader runs no alembic
    database.execute("CREATE TABLE alembic_version (version_num VARCHAR(32))")
url = f"sqlite:///{path}"
with Gradebook(url) as gradebook:
    gradebook.add_assignment("a1")
    gradebook.add_notebook("nb", "a1")
    gradebook.add_solution_cell("answer", "nb", "a1")
    gradebook.add_grade_cell("test", "nb", "a1", max_score=2, cell_type="code")
    for name in ("answer", "test"):
        gradebook.add_source_cell(name, "nb", "a1", cell_type="code", source="1", checksum="c")
    gradebook.add_student("ann")
    gradebook.update_or_create_submission("a1", "ann")
compiled = []
init = SQLCompiler.__init__
SQLCompiler.__init__ = lambda self, *args, **kw: compiled.append(args) or init(self, *args, **kw)
with Gradebook(url) as gradebook:  # autograde: cells restored and overwritten, scores saved
    gradebook.find_source_cell("test", "nb", "a1")
    gradebook.find_graded_cell("test", "nb", "a1")
    gradebook.find_comment("answer", "nb", "a1", "ann").auto_comment = None
    grade = gradebook.find_grade("test", "nb", "a1", "ann")
    grade.auto_score, grade.needs_manual_grade = 2, False
    gradebook.db.commit()
with Gradebook(url) as gradebook:  # feedback: scores and comments read back
    grade = gradebook.find_grade("test", "nb", "a1", "ann")
    print(grade.score, grade.max_score, gradebook.find_comment("answer", "nb", "a1", "ann").comment,
          gradebook.find_submission_notebook("nb", "a1", "ann").score)
sys.exit(min(len(compiled), 100))
"""


def test_a_fork_hosts_child_compiles_no_sql_for_the_gradebook_lookups_of_a_submission(tmp_path):
    """The host ran autograde's and feedback's gradebook steps at start
    (``nbgrader_child._warm_gradebook``): a child's lookups of cells, grades and comments, and
    the scores feedback reads, reuse the SQL compiled there."""
    finished = _run_in_a_fork_host_child(tmp_path, GRADEBOOK_LOOKUPS)
    assert finished.code == 0, f"the child compiled {finished.code} statements"


def _rendezvous(folder, me: str, other: str) -> str:
    """A script that marks ``me`` started and exits 0 once ``other`` has started too (1 after
    20 s without it)."""
    return (f"import pathlib, sys, time\nfolder = pathlib.Path({str(folder)!r})\n"
            f"(folder / {me!r}).touch()\ndeadline = time.monotonic() + 20\n"
            f"while not (folder / {other!r}).exists() and time.monotonic() < deadline:\n"
            "    time.sleep(0.05)\n"
            f"sys.exit(0 if (folder / {other!r}).exists() else 1)\n")


def test_a_fork_host_runs_the_calls_of_several_threads_side_by_side(tmp_path):
    """A worker's threads share one host (``runner.ForkHost``): two calls' children run at the
    same time (each waits until the other has started), and each gets its own reply."""
    from concurrent.futures import ThreadPoolExecutor

    from course_lib.grading import runner

    for me, other in (("a", "b"), ("b", "a")):
        (tmp_path / f"{me}.py").write_text(_rendezvous(tmp_path, me, other))
    host = runner.ForkHost((), kernels=False)
    try:
        with ThreadPoolExecutor(2) as pool:
            finished = list(pool.map(lambda me: host.call(
                {"target": "runpy:run_path", "args": [str(tmp_path / f"{me}.py")],
                 "cwd": str(tmp_path), "log": None, "env": {}}, timeout=60), ("a", "b")))
    finally:
        host.close()
    assert [f.code for f in finished] == [0, 0]


def test_a_child_past_its_deadline_is_killed_while_the_others_finish(tmp_path):
    from concurrent.futures import ThreadPoolExecutor

    from course_lib.grading import runner

    (tmp_path / "slow.py").write_text("import time\ntime.sleep(600)\n")
    (tmp_path / "quick.py").write_text(_rendezvous(tmp_path, "quick", "slow-started"))
    (tmp_path / "slow-started").touch()
    host = runner.ForkHost((), kernels=False)

    def call(name: str, timeout: float):
        return host.call({"target": "runpy:run_path", "args": [str(tmp_path / f"{name}.py")],
                          "cwd": str(tmp_path), "log": None, "env": {}}, timeout=timeout)

    try:
        with ThreadPoolExecutor(2) as pool:
            slow, quick = pool.submit(call, "slow", 2), pool.submit(call, "quick", 60)
            assert quick.result().code == 0
            with pytest.raises(runner.ChildTimeout, match="deadline"):
                slow.result()
        assert call("quick", 60).code == 0  # the host goes on
    finally:
        host.close()


COURSE_LOOKUPS = """
import sqlite3, sys, tempfile
import sqlalchemy
from nbgrader.api import Gradebook

path = f"{tempfile.mkdtemp()}/gradebook.db"
with sqlite3.connect(path) as database:  # a schema revision: nbgrader runs no alembic
    database.execute("CREATE TABLE alembic_version (version_num VARCHAR(32))")
looked_up = []
sqlalchemy.event.listen(sqlalchemy.engine.Engine, "before_cursor_execute",
                        lambda *args: looked_up.append(1) if "FROM course" in args[2] else None)
for _ in range(3):
    with Gradebook(f"sqlite:///{path}", "course101") as gradebook:
        gradebook.add_student(f"s{len(looked_up)}-{_}")
sys.exit(len(looked_up))
"""


def test_a_fork_hosts_child_looks_a_gradebooks_course_up_once(tmp_path):
    """``nbgrader_child._KnownCourses``: of three Gradebooks a child opens on one file, the first
    looks the course up (and adds it); the others find it known."""
    finished = _run_in_a_fork_host_child(tmp_path, COURSE_LOOKUPS)
    assert finished.code == 1, (tmp_path / "log").read_text()[-2000:]


def test_grading_processes_skip_the_slow_optional_iri_checker():
    """The CLI, fork hosts and workers import nbgrader without jsonschema's rfc3987_syntax (~1 s each)."""
    code = ("import sys, course_lib.grading, nbgrader.api; "
            "assert 'jsonschema' in sys.modules and sys.modules.get('rfc3987_syntax', 0) is None")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


def test_feedback_that_cannot_be_rendered_keeps_the_scores_and_says_why(tmp_path):
    # a template nbconvert cannot find breaks generate_feedback and nothing else
    course = toy.write_course(tmp_path / "course")
    with (course / "nbgrader_config.py").open("a") as config:
        config.write("c.HTMLExporter.template_name = 'no-such-template'\n")
    export = toy.write_submitted_tree(tmp_path / "submitted", {"ann": toy.submission(toy.CORRECT)},
                                      {"ann": ON_TIME})
    run = rnn_course(course, "grade", toy.ASSIGNMENT, str(export), "--workers", "1")
    assert run.returncode == 0, run.stdout + run.stderr
    message = summary(course)["errors"]["ann"]
    assert message.startswith("nbgrader could not render feedback") and "no-such-template" in message
    scores = {cell: values[0] for (student, cell), values in recorded_scores(course).items()
              if cell.startswith("test")}
    assert scores == {"test_squares": 2.0, "test_squares_hidden": 3.0, "test_mean": 1.0}
    page = (course / "feedback" / "ann" / toy.ASSIGNMENT / f"{toy.NOTEBOOK}.html").read_text()
    assert "could not render feedback" in page
