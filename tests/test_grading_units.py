"""The grader's pure helpers, fast and without nbgrader runs: what names a folder safely, the
late policy's arithmetic, the options a run refuses, the end-of-run report."""

from __future__ import annotations

import pytest
from traitlets.config import Config

from course_lib.grading.forkhost import exit_code
from course_lib.grading.grade import Options, Summary
from course_lib.grading.late import SECONDS_PER_DAY, PerDayPenalty, config_lines
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
        config_lines(per_day, cap)
    with pytest.raises(ValueError, match="must be between 0 and 100"):
        PerDayPenalty(percent_per_day=per_day, max_percent=cap)


def test_late_config_lines_configure_the_plugin_nbgrader_loads():
    c = Config()
    exec("\n".join(config_lines(12.5, 40)), {"c": c})
    assert c.AssignLatePenalties.plugin_class == "course_lib.grading.late.PerDayPenalty"
    policy = PerDayPenalty(config=c)
    assert (policy.percent_per_day, policy.max_percent) == (12.5, 40.0)


@pytest.mark.parametrize("kwargs, message", [
    ({"workers": 0}, "--workers must be at least 1"),
    ({"workers": 2, "scheduler": "tcp://127.0.0.1:8786"}, "not both"),
    ({"keep_backups": 0}, "--keep-backups must be at least 1"),
    ({"worker_timeout": 0.0}, "--worker-timeout must be a positive number"),
    ({"worker_timeout": float("nan")}, "--worker-timeout must be a positive number")])
def test_options_a_run_cannot_honour_are_refused_naming_the_flag(kwargs, message):
    with pytest.raises(ValueError, match=message):
        Options(**kwargs)


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
