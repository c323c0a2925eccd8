"""The grader's pure helpers, fast and without nbgrader runs: what names a folder safely, the
late policy's arithmetic, the options a run refuses, nbgrader settings as config, nbgrader's
regions, the end-of-run report."""

from __future__ import annotations

import os
import subprocess
from types import SimpleNamespace

import pytest
from traitlets.config import Config

from course_lib.grading.forkhost import exit_code
from course_lib.grading.grade import Options, Summary
from course_lib.grading.integrity import SandboxedExecute
from course_lib.grading import regions, sandbox
from course_lib.grading.late import SECONDS_PER_DAY, PerDayPenalty, settings
from course_lib.grading.sandbox import Limits
from course_lib.grading.settings import config_text
from course_lib.grading.tasks import Submission, check_relative_path, check_student_id


@pytest.mark.parametrize("path", ["a1.ipynb", "data/names.txt", "deep/er/file.csv"])
def test_relative_paths_inside_the_folder_are_accepted(path):
    assert check_relative_path(path) == path


@pytest.mark.parametrize("path", ["", "/etc/passwd", "../x.ipynb", "a/../../x", "a/.."])
def test_paths_that_leave_or_hide_the_folder_are_refused(path):
    with pytest.raises(ValueError, match="not a relative path inside the folder"):
        check_relative_path(path)


@pytest.mark.parametrize("student", ["alice", "bob_2", "Zoë", "a.b"])
def test_usable_student_ids_are_accepted(student):
    assert check_student_id(student) == student


@pytest.mark.parametrize("student", ["", ".", "..", "a/b", "a\\b", "a\x00b", " alice", "alice "])
def test_student_ids_that_cannot_name_a_folder_are_refused(student):
    with pytest.raises(ValueError, match="unusable student id"):
        check_student_id(student)


def test_a_submission_checks_its_student_and_every_path():
    with pytest.raises(ValueError, match="unusable student id"):
        Submission("../bob", {"a1.ipynb": b"{}"})
    with pytest.raises(ValueError, match="not a relative path"):
        Submission("bob", {"../../zipslip.ipynb": b"{}"})


@pytest.mark.parametrize("seconds_late, percent", [
    (-5.0, 0), (0.0, 0), (1.0, 10), (SECONDS_PER_DAY, 10), (SECONDS_PER_DAY + 1, 20),
    (3 * SECONDS_PER_DAY - 1, 30), (30 * SECONDS_PER_DAY, 50)])
def test_late_penalty_takes_its_percent_per_started_day_up_to_the_cap(seconds_late, percent):
    policy = PerDayPenalty(percent_per_day=10.0, max_percent=50.0)
    assert policy.late_submission_penalty("ann", 80.0, seconds_late) == pytest.approx(80.0 * percent / 100)


@pytest.mark.parametrize("per_day, cap", [(-1.0, 50.0), (10.0, 101.0)])
def test_late_policy_outside_0_to_100_percent_is_refused(per_day, cap):
    with pytest.raises(ValueError, match="between 0 and 100"):
        settings(per_day, cap)
    with pytest.raises(ValueError, match="must be between 0 and 100"):
        PerDayPenalty(percent_per_day=per_day, max_percent=cap)


def test_late_settings_written_as_config_configure_the_plugin_nbgrader_loads():
    c = Config()
    exec(config_text("late policy", settings(12.5, 40)), {"c": c})
    assert c.AssignLatePenalties.plugin_class == "course_lib.grading.late.PerDayPenalty"
    policy = PerDayPenalty(config=c)
    assert (policy.percent_per_day, policy.max_percent) == (12.5, 40.0)


@pytest.mark.parametrize("kwargs, message", [
    ({"workers": 0}, "--workers must be a positive int"),
    ({"workers": 2, "scheduler": "tcp://127.0.0.1:8786"}, "not both"),
    ({"keep_backups": 0}, "--keep-backups must be a positive int"),
    ({"cell_timeout": 0}, "--cell-timeout must be a positive int"),
    ({"notebook_timeout": -5}, "--notebook-timeout must be a positive int"),
    ({"worker_timeout": 0.0}, "--worker-timeout must be a positive number"),
    ({"worker_timeout": float("nan")}, "--worker-timeout must be a positive number"),
    ({"late_per_day": 10.0}, "give both --late-per-day and --late-cap"),
    ({"late_per_day": 10.0, "late_cap": 150.0}, "max_percent must be between 0 and 100")])
def test_options_a_run_cannot_honour_are_refused_naming_the_flag(kwargs, message):
    with pytest.raises(ValueError, match=message):
        Options(**kwargs)


def test_a_runs_cell_timeout_is_the_flag_else_the_courses_else_the_default():
    course_with_45, course_without = SimpleNamespace(cell_timeout=45), SimpleNamespace(cell_timeout=None)
    assert Options(cell_timeout=7).limits(course_with_45).cell_timeout == 7
    assert Options().limits(course_with_45).cell_timeout == 45
    assert Options().limits(course_without).cell_timeout == Limits.cell_timeout


def test_the_sandboxed_executes_defaults_are_the_limits_defaults():
    execute = SandboxedExecute()
    assert (execute.notebook_timeout, execute.max_output_bytes, execute.memory_bytes) == (
        Limits.notebook_timeout, Limits.max_output_bytes, Limits.memory_bytes)


def test_settings_become_config_lines_that_give_back_the_same_values():
    settings_ = {("CourseDirectory", "root"): "/tmp/x'y", ("Execute", "timeout"): 30,
                 ("Autograde", "autograde_preprocessors"): ["a.B", "c.D"], ("X", "flag"): False}
    c = Config()
    exec(config_text("test", settings_), {"c": c})
    assert {(s, t): c[s][t] for s, t in settings_} == settings_


def test_settings_that_are_not_plain_data_are_refused_naming_the_trait():
    with pytest.raises(TypeError, match="c.Autograde.autograde_preprocessors must be plain data"):
        config_text("test", {("Autograde", "autograde_preprocessors"): [PerDayPenalty]})


SOLUTION_CELL = """def f(x):
    ### BEGIN SOLUTION
    return x + 1
    ### END SOLUTION
### BEGIN HIDDEN TESTS
assert f(1) == 2
### END HIDDEN TESTS
print("shown")"""


def test_each_line_knows_its_region_and_whether_it_is_a_marker():
    found = [(line.text.strip(), line.region, line.marker) for line in regions.lines(SOLUTION_CELL)]
    assert found == [
        ("def f(x):", None, None),
        ("### BEGIN SOLUTION", regions.SOLUTION, "begin"),
        ("return x + 1", regions.SOLUTION, None),
        ("### END SOLUTION", regions.SOLUTION, "end"),
        ("### BEGIN HIDDEN TESTS", regions.HIDDEN_TESTS, "begin"),
        ("assert f(1) == 2", regions.HIDDEN_TESTS, None),
        ("### END HIDDEN TESTS", regions.HIDDEN_TESTS, "end"),
        ('print("shown")', None, None)]


def test_a_region_is_removed_with_its_markers_and_a_placeholder_indented_like_them():
    assert regions.without(SOLUTION_CELL, regions.SOLUTION, "...") == (
        "def f(x):\n    ...\n### BEGIN HIDDEN TESTS\nassert f(1) == 2\n### END HIDDEN TESTS\n"
        'print("shown")')
    assert regions.without(SOLUTION_CELL, regions.HIDDEN_TESTS).endswith('END SOLUTION\nprint("shown")')


def test_inside_a_region_only_its_own_end_marker_counts():
    source = "### BEGIN HIDDEN TESTS\n# not the END SOLUTION\n### END HIDDEN TESTS\nafter"
    assert [line.region for line in regions.lines(source)][1:] == [regions.HIDDEN_TESTS] * 2 + [None]


def test_the_report_lists_errors_and_students_not_recorded_with_what_to_do():
    summary = Summary(assignment="a1", found=3, graded=["ann", "bob"], errors={"bob": "bad JSON"},
                      lost={"cy": "worker died"}, wall_seconds=12.0)
    lines = summary.lines()
    assert lines[0].startswith("a1: 3 submissions found; graded 2, of which 1 with errors")
    assert "  error  bob: bad JSON" in lines
    assert "  NOT RECORDED  cy: worker died (rerun to retry)" in lines


@pytest.mark.parametrize("code, expected", [(None, 0), (0, 0), (3, 3), ("fatal", 1)])
def test_a_childs_sys_exit_becomes_the_exit_code_a_shell_would_see(code, expected):
    assert exit_code(SystemExit(code)) == expected


def test_a_scratch_folder_too_deep_for_the_kernels_sockets_is_refused_before_anything_is_written(tmp_path):
    deep = tmp_path / ("d" * 100)
    with pytest.raises(ValueError, match="scratch must be a shorter path.*107-byte limit"):
        sandbox.configure(deep, Limits())
    assert not deep.exists()


def test_the_command_and_the_dask_task_import_without_torch():
    """The CLI and the workers' task module never load torch (seconds per process): only the
    processes that run notebook code do (the fork host and the zygote)."""
    import subprocess
    import sys

    code = ("import sys, course_lib.grading.cli, course_lib.grading.worker; "
            "assert 'torch' not in sys.modules, 'torch was imported'")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


def test_an_assignment_preloads_what_its_notebooks_import_and_use(tmp_path):
    """Imports (magics ignored), plus torch._dynamo where a cell names an optimiser and pyplot
    where one turns on %matplotlib; a cell that is not Python adds nothing."""
    import json

    from course_lib.grading import preload

    cells = ["%matplotlib inline\nimport torch\nfrom course_lib.checks import check_close",
             "optimizer = torch.optim.Adam(params)", "!pip install x\nimport numpy as np",
             "def broken(:", "from . import relative"]
    notebook = tmp_path / "a.ipynb"
    notebook.write_text(json.dumps({"cells": [{"cell_type": "code", "source": c} for c in cells]
                                   + [{"cell_type": "markdown", "source": "import os"}]}))
    assert preload.assignment_modules([notebook]) == (
        "course_lib.checks", "matplotlib.pyplot", "numpy", "torch", "torch._dynamo")


def test_the_course_stack_holds_every_student_module_and_no_grader():
    from course_lib.grading import preload

    stack = preload.course_stack()
    assert {"torch", "torch._dynamo", "course_lib.lstm", "course_lib.seq2seq"} <= set(stack)
    assert not any(name.startswith("course_lib.grading") for name in stack)


_GRADED_CELL = {"grade": True, "solution": False, "locked": True, "grade_id": "t", "points": 2,
                "schema_version": 3}


@pytest.mark.parametrize("metadata", [
    _GRADED_CELL,
    {**_GRADED_CELL, "points": "two"},
    {**_GRADED_CELL, "grade_id": 7, "points": -1},
    {key: value for key, value in _GRADED_CELL.items() if key != "grade_id"},
])
def test_nbgraders_metadata_check_with_kept_validators_accepts_and_refuses_as_jsonschema_does(metadata):
    import jsonschema
    from nbgrader.nbgraderformat.v3 import MetadataValidatorV3

    from course_lib.grading.nbgrader_child import _KeptValidators

    schema = MetadataValidatorV3().schema

    def outcome(validate):
        try:
            validate(metadata, schema)
        except jsonschema.ValidationError as error:
            return error.message, list(error.path)
        return None

    kept = _KeptValidators()
    assert outcome(kept.validate) == outcome(jsonschema.validate)
    assert outcome(kept.validate) == outcome(jsonschema.validate)  # the second call, with the kept validator


def test_sqlite_engines_of_nbgraders_gradebooks_share_compiled_sql_and_keep_their_own_data(tmp_path):
    import sqlalchemy

    from course_lib.grading.nbgrader_child import _SharedCompiledSQL

    create_engine = _SharedCompiledSQL()
    table = sqlalchemy.table("student", sqlalchemy.column("id"))
    ids, hits = {}, {}
    for name in ("first", "second"):
        engine = create_engine(f"sqlite:///{tmp_path / name}.db", echo=False, future=True)
        with engine.begin() as connection:
            connection.execute(sqlalchemy.text("CREATE TABLE student (id VARCHAR)"))
            connection.execute(sqlalchemy.insert(table).values(id=name))
            result = connection.execute(sqlalchemy.select(table.c.id))
            ids[name], hits[name] = result.scalars().all(), result.context.cache_hit
        engine.dispose()
    assert ids == {"first": ["first"], "second": ["second"]}
    assert hits == {"first": engine.dialect.CACHE_MISS, "second": engine.dialect.CACHE_HIT}


def test_a_grading_child_keeps_a_files_engine_open_until_another_file_takes_its_path(tmp_path):
    import os
    import shutil

    from course_lib.grading.nbgrader_child import _SharedCompiledSQL

    create_engine = _SharedCompiledSQL()
    path = tmp_path / "scratch.db"
    with create_engine(f"sqlite:///{path}").begin() as connection:
        connection.exec_driver_sql("CREATE TABLE t (v INTEGER)")
    assert create_engine(f"sqlite:///{path}") is not create_engine(f"sqlite:///{path}")  # the host
    create_engine.keep_engines()  # what every forked child does first
    engine = create_engine(f"sqlite:///{path}", future=True)
    with engine.begin() as connection:
        connection.exec_driver_sql("INSERT INTO t VALUES (1)")
    engine.dispose()  # as Gradebook.close does
    assert create_engine(f"sqlite:///{path}", future=True) is engine
    assert engine.pool.checkedin() == 1  # its connection, still open
    shutil.copy(path, tmp_path / "copy.db")
    os.replace(tmp_path / "copy.db", path)  # another file at the same path
    other = create_engine(f"sqlite:///{path}", future=True)
    assert other is not engine
    with other.connect() as connection:
        assert connection.exec_driver_sql("SELECT count(*) FROM t").scalar() == 1


def test_a_grading_childs_sqlite_commits_do_not_sync_and_still_roll_back(tmp_path):
    import sqlalchemy

    from course_lib.grading.nbgrader_child import _SharedCompiledSQL

    engine = _SharedCompiledSQL()(f"sqlite:///{tmp_path / 'scratch.db'}", future=True)
    with engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA synchronous").scalar() == 0  # OFF
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "memory"
        connection.exec_driver_sql("CREATE TABLE t (v INTEGER)")
        connection.commit()
        connection.exec_driver_sql("INSERT INTO t VALUES (1)")
        connection.rollback()
        assert connection.exec_driver_sql("SELECT count(*) FROM t").scalar() == 0
    engine.dispose()


def test_a_gradebooks_tables_are_checked_once_per_file_and_a_new_file_at_the_same_path_again(tmp_path):
    import shutil

    from nbgrader.api import Gradebook

    from course_lib.grading import nbgrader_child

    checked = []
    schemas = nbgrader_child._SCHEMAS
    create_all = schemas._create_all
    schemas._create_all = lambda **kwargs: (checked.append(kwargs["bind"].url.database),
                                            create_all(**kwargs))
    try:
        path = tmp_path / "gradebook.db"
        for _ in range(3):
            with Gradebook(f"sqlite:///{path}") as gradebook:
                gradebook.update_or_create_student("s1")  # the tables exist
        assert checked == [str(path)]
        shutil.copy(path, tmp_path / "copy.db")
        path.unlink()
        (tmp_path / "copy.db").rename(path)  # another file (inode) at the same path
        with Gradebook(f"sqlite:///{path}") as gradebook:
            assert [s.id for s in gradebook.students] == ["s1"]
        assert checked == [str(path), str(path)]
    finally:
        schemas._create_all = create_all


def test_kept_highlights_give_what_nbconvert_renders_for_the_same_cell_and_options():
    from nbconvert.filters.highlight import Highlight2HTML

    from course_lib.grading.feedback import _KeptHighlights, keep_renderings

    source = "%%bash\necho hi\nx = [i ** 2 for i in range(3)]  # kept"
    keep_renderings({"code": [source]})
    kept, fresh = _KeptHighlights(pygments_lexer="ipython3"), Highlight2HTML(pygments_lexer="ipython3")
    assert kept(source) == fresh(source)
    bash = {"magics_language": "bash"}
    assert kept(source, metadata=bash) == fresh(source, metadata=bash) != fresh(source)
    assert kept(source, language="python") == fresh(source, language="python") != fresh(source)
    wide = {"linenos": "table"}
    assert (_KeptHighlights(pygments_lexer="ipython3", extra_formatter_options=wide)(source)
            == Highlight2HTML(pygments_lexer="ipython3", extra_formatter_options=wide)(source)
            != fresh(source))


def test_kept_markdown_gives_what_nbconvert_renders_and_attachments_are_rendered_afresh():
    from nbconvert.exporters import HTMLExporter

    from course_lib.grading.feedback import _MARKDOWN, FeedbackExporter, keep_renderings

    source = "# Title\n\nSome *text* with $x^2$ and ![a picture](attachment:p.png)"
    png = {"p.png": {"image/png": "iVBORw0KGgo="}}
    _MARKDOWN.clear()
    keep_renderings({"markdown": ["# Title", source]})  # the second needs its attachment: skipped
    assert [key[0] for key in _MARKDOWN] == ["# Title"]
    for key in _MARKDOWN:
        _MARKDOWN[key] = "<p>kept</p>"
    assert FeedbackExporter().markdown2html({}, "# Title") == "<p>kept</p>"
    assert (FeedbackExporter(anchor_link_text="#").markdown2html({}, "# Title")
            == HTMLExporter(anchor_link_text="#").markdown2html({}, "# Title") != "<p>kept</p>")
    with_attachment = {"cell": {"attachments": png}}
    assert (FeedbackExporter().markdown2html(with_attachment, source)
            == HTMLExporter().markdown2html(with_attachment, source))
    assert "data:image/png;base64,iVBORw0KGgo=" in HTMLExporter().markdown2html(with_attachment, source)
    _MARKDOWN.clear()


def test_kept_markdown_equals_nbconvert_rendering():
    from nbconvert.exporters import HTMLExporter

    from course_lib.grading.feedback import _MARKDOWN, FeedbackExporter, keep_renderings

    source = "## A heading\n\n- a list with `code`\n- and $$\\sum_i x_i$$"
    keep_renderings({"markdown": [source]})
    assert FeedbackExporter().markdown2html({}, source) == HTMLExporter().markdown2html({}, source)
    _MARKDOWN.clear()


def test_feedback_shows_the_code_cells_with_hidden_tests_replaced_and_the_markdown_cells(tmp_path):
    import nbformat
    from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

    from course_lib.grading.feedback import PLACEHOLDER, shown_cells

    test = "assert f(1) == 1\n### BEGIN HIDDEN TESTS\nassert f(2) == 4\n### END HIDDEN TESTS"
    path = tmp_path / "a.ipynb"
    nbformat.write(new_notebook(cells=[new_markdown_cell("# f"), new_code_cell("import torch"),
                                       new_code_cell(test), new_code_cell("import torch")]), path)
    assert shown_cells([path]) == {"code": ("import torch", f"assert f(1) == 1\n{PLACEHOLDER}"),
                                   "markdown": ("# f",)}


def test_kept_gradebook_lookups_return_nbgraders_own_rows_and_see_rows_added_later(tmp_path):
    from nbgrader.api import Gradebook, MissingEntry

    from course_lib.grading import nbgrader_child  # noqa: F401  (keeps the lookups)

    def own(method: str):
        return getattr(Gradebook, method).__wrapped__

    with Gradebook(f"sqlite:///{tmp_path / 'gradebook.db'}") as gradebook:
        gradebook.add_assignment("a")
        gradebook.add_notebook("n", "a")
        gradebook.add_grade_cell("test", "n", "a", max_score=2, cell_type="code")
        gradebook.add_solution_cell("answer", "n", "a")
        gradebook.add_task_cell("task", "n", "a", max_score=1, cell_type="markdown")
        for name in ("test", "answer", "task"):
            gradebook.add_source_cell(name, "n", "a", cell_type="code", source=name, checksum="x")
        gradebook.add_student("s")
        gradebook.update_or_create_submission("a", "s")
        lookups = [("find_source_cell", name, "n", "a") for name in ("test", "answer", "task")]
        lookups += [("find_graded_cell", name, "n", "a") for name in ("test", "task")]
        lookups += [("find_grade", name, "n", "a", "s") for name in ("test", "task")]
        lookups += [("find_comment", name, "n", "a", "s") for name in ("answer", "task")]
        for method, *args in lookups:
            assert getattr(gradebook, method)(*args) is own(method)(gradebook, *args)
        assert "_kept_loads" in vars(gradebook)  # answered from the kept loads
        for method, *args in [("find_grade", "answer", "n", "a", "s"), ("find_source_cell", "x", "n", "a"),
                              ("find_comment", "test", "n", "a", "s"), ("find_graded_cell", "t", "n", "b")]:
            with pytest.raises(MissingEntry):
                getattr(gradebook, method)(*args)
        assert gradebook.find_grade(grade_cell="test", notebook="n", assignment="a", student="s") is \
            own("find_grade")(gradebook, "test", "n", "a", "s")
        gradebook.add_grade_cell("later", "n", "a", max_score=1, cell_type="code")
        gradebook.add_student("t")
        gradebook.update_or_create_submission("a", "t")  # grades of every cell, "later" included
        assert gradebook.find_grade("later", "n", "a", "t") is own("find_grade")(gradebook, "later", "n", "a", "t")
        assert gradebook.find_graded_cell("later", "n", "a").name == "later"
        gradebook.remove_submission("a", "t")  # deletes its grades: kept loads are dropped
        with pytest.raises(MissingEntry):
            gradebook.find_grade("later", "n", "a", "t")


def test_the_report_reads_back_what_nbgraders_own_rows_hold(tmp_path):
    """The report (read as columns) says what nbgrader's ORM objects say: every notebook's late
    penalty, every grade and comment by its cell's name, for grade, task and solution cells."""
    import datetime

    from nbgrader.api import Gradebook

    from course_lib.grading.nbgrader_child import read_report

    url = f"sqlite:///{tmp_path / 'gradebook.db'}"
    with Gradebook(url) as gradebook:
        gradebook.add_assignment("a")
        for notebook in ("n", "m"):
            gradebook.add_notebook(notebook, "a")
            gradebook.add_grade_cell("test", notebook, "a", max_score=2, cell_type="code")
            gradebook.add_solution_cell("answer", notebook, "a")
            gradebook.add_task_cell("task", notebook, "a", max_score=1, cell_type="markdown")
        for student in ("s", "t"):
            gradebook.add_student(student)
            gradebook.update_or_create_submission("a", student, timestamp=datetime.datetime(2026, 12, 1, 9))
        gradebook.find_grade("test", "m", "a", "s").auto_score = 1.5
        gradebook.find_grade("task", "n", "a", "s").needs_manual_grade = True
        gradebook.find_comment("answer", "n", "a", "s").auto_comment = "No response."
        gradebook.find_submission_notebook("m", "a", "s").late_submission_penalty = 0.5
        gradebook.db.commit()
        submission = gradebook.find_submission("a", "s")
        expected = {
            "timestamp": submission.timestamp.isoformat(),
            "notebooks": {notebook.name: {
                "late_penalty": notebook.late_submission_penalty,
                "grades": {grade.name: [grade.auto_score, grade.needs_manual_grade] for grade in notebook.grades},
                "comments": {comment.name: comment.auto_comment for comment in notebook.comments},
            } for notebook in submission.notebooks},
        }
    assert read_report(url, "a", "s") == expected
    assert expected["notebooks"]["m"]["grades"]["test"][0] == 1.5
    assert expected["notebooks"]["n"]["comments"] == {"answer": "No response.", "task": None}
    assert read_report(url, "a", "nobody") is None


def test_saving_autogrades_once_records_what_nbgraders_step_records_in_one_commit(tmp_path):
    import shutil

    import sqlalchemy
    from nbformat.v4 import new_code_cell, new_notebook, new_output
    from nbgrader.api import Gradebook
    from nbgrader.preprocessors import SaveAutoGrades
    from nbgrader.utils import compute_checksum

    from course_lib.grading.autogrades import SaveAutoGradesOnce

    def graded(grade_id, outputs=()):
        meta = {"grade": True, "solution": False, "locked": True, "grade_id": grade_id, "points": 2,
                "schema_version": 3}
        return new_code_cell("assert f(1) == 1", metadata={"nbgrader": meta}, outputs=list(outputs))

    answer = new_code_cell("def f(x):\n    raise NotImplementedError()", metadata={"nbgrader": {
        "grade": False, "solution": True, "locked": False, "grade_id": "f", "schema_version": 3}})
    answer.metadata.nbgrader["checksum"] = compute_checksum(answer)  # left as released
    notebook = new_notebook(cells=[answer, graded("passes"), graded("fails", [new_output(
        "error", ename="AssertionError", evalue="", traceback=[])])])
    path = tmp_path / "template.db"
    with Gradebook(f"sqlite:///{path}") as gradebook:
        gradebook.add_assignment("a")
        gradebook.add_notebook("n", "a")
        for name in ("passes", "fails"):
            gradebook.add_grade_cell(name, "n", "a", max_score=2, cell_type="code")
        gradebook.add_solution_cell("f", "n", "a")
        gradebook.add_student("s")
        gradebook.update_or_create_submission("a", "s")

    commits = []

    def count(session) -> None:
        commits.append(session)

    sqlalchemy.event.listen(sqlalchemy.orm.Session, "after_commit", count)
    recorded = {}
    try:
        for step in (SaveAutoGrades, SaveAutoGradesOnce):
            copy = tmp_path / f"{step.__name__}.db"
            shutil.copy(path, copy)
            resources = {"nbgrader": {"notebook": "n", "assignment": "a", "student": "s",
                                      "db_url": f"sqlite:///{copy}"}}
            commits.clear()
            step().preprocess(notebook, resources)
            committed = len(commits)
            with Gradebook(f"sqlite:///{copy}") as gradebook:
                saved = gradebook.find_submission_notebook("n", "a", "s")
                recorded[step] = ({g.name: (g.auto_score, g.needs_manual_grade) for g in saved.grades},
                                  {c.name: c.auto_comment for c in saved.comments}, committed)
    finally:
        sqlalchemy.event.remove(sqlalchemy.orm.Session, "after_commit", count)
    grades, comments, _ = recorded[SaveAutoGrades]
    assert grades == {"passes": (2.0, False), "fails": (0.0, False)}
    assert comments == {"f": "No response."}
    # one commit when the Gradebook opens (nbgrader's check_course), then one per graded or
    # answer cell (nbgrader's), or one in all
    assert recorded[SaveAutoGrades][2] == 1 + 3
    assert recorded[SaveAutoGradesOnce] == (grades, comments, 1 + 1)


def test_a_sweep_removes_the_temporary_folders_of_ended_processes_on_this_machine_only(tmp_path):
    from course_lib.grading import tmpdirs

    ended = subprocess.Popen(["true"])
    ended.wait()
    mine = tmpdirs.prefix("grade")
    dead = mine.replace(f"-{os.getpid()}-", f"-{ended.pid}-")
    elsewhere = dead.replace(f"-{tmpdirs._machine()}-", "-ffffff-")  # another node's, shared /tmp
    for name in (f"{dead}a", f"{mine}b", f"{elsewhere}c", f"{dead.replace('grade', 'zygote')}d"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "gradebook.db").write_text("x")
    (tmp_path / f"{dead}file").write_text("not a folder")
    assert tmpdirs.sweep("grade", str(tmp_path)) == [str(tmp_path / f"{dead}a")]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [f"{mine}b", f"{elsewhere}c", f"{dead.replace('grade', 'zygote')}d", f"{dead}file"])
