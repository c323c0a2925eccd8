"""``rnn-course``: the instructor's command line (release, grade, feedback, export).

    rnn-course release [ASSIGNMENT ...]
    rnn-course grade ASSIGNMENT SUBMISSIONS [--workers N | --scheduler tcp://HOST:PORT] [--force] ...
    rnn-course feedback ASSIGNMENT [--student ID] [--show-hidden-tests]
    rnn-course export ASSIGNMENT [--out DIR]

Every command works on the nbgrader course at ``--course-dir`` (default: the
current folder) and its gradebook (``--db-url`` overrides the config's).
``rnn-course <command> --help`` lists each command's options.
"""

from __future__ import annotations

import argparse
import os
import sys
from datetime import datetime
from pathlib import Path

from . import sandbox
from .sandbox import Limits

#: exit codes (2, as argparse's, for options a run cannot honour)
OK, FAILED, USAGE, INTERRUPTED = 0, 1, 2, 130


class UsageError(ValueError):
    """An option the command cannot honour; the message names the flag."""


def main(argv: list[str] | None = None) -> int:
    """Run the command line; return the exit code."""
    args = _parser().parse_args(argv)
    put_interpreter_bin_on_path()
    from .course import Course

    try:
        options = args.options(args)  # refused before the course is even read
        course = Course.load(args.course_dir, db_url=args.db_url)
        return args.run(course, args, options)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return INTERRUPTED
    except UsageError as error:
        print(f"rnn-course {args.command}: error: {error} (see rnn-course {args.command} --help)",
              file=sys.stderr)
        return USAGE
    except (OSError, ValueError, RuntimeError) as error:
        print(f"rnn-course {args.command}: {error}", file=sys.stderr)
        return FAILED


def put_interpreter_bin_on_path() -> None:
    """nbgrader runs the ``alembic`` command by name: find it beside this interpreter even when
    the virtual environment is not activated (``.venv/bin/rnn-course ...``)."""
    bin_dir = str(Path(sys.executable).parent)
    path = os.environ.get("PATH", "")
    if bin_dir not in path.split(os.pathsep):
        os.environ["PATH"] = f"{bin_dir}{os.pathsep}{path}"


def _release(course, args, _options) -> int:
    from .release import release

    for name in release(course, args.assignments or None):
        print(f"released {name} -> {course.release / name}")
    return OK


def _grade_options(args):
    from .grade import Options

    try:
        return Options(
            workers=args.workers, scheduler=args.scheduler, force=args.force, pattern=args.pattern,
            cell_timeout=args.cell_timeout, notebook_timeout=args.notebook_timeout,
            show_hidden_tests=args.show_hidden_tests, duedate=args.duedate,
            late_per_day=args.late_per_day, late_cap=args.late_cap,
            progress=not args.no_progress, keep_backups=args.keep_backups,
            worker_timeout=args.worker_timeout,
        )
    except (ValueError, TypeError) as error:
        raise UsageError(error) from None


def _grade(course, args, options) -> int:
    from .grade import grade

    warning = sandbox.isolation_warning(options.limits(course))
    if warning:
        print(warning, file=sys.stderr)
    summary = grade(course, args.assignment, Path(args.submissions), options)
    print("\n".join(summary.lines()))
    if summary.interrupted:
        return INTERRUPTED
    return FAILED if summary.lost else OK


def _feedback(course, args, _options) -> int:
    from . import feedback
    from .nbgrader_api import api, run_step
    from .settings import apply

    nbgrader = api(course)
    apply(nbgrader.config, feedback.settings(args.show_hidden_tests))
    run_step(f"nbgrader generate_feedback {args.assignment}",
             nbgrader.generate_feedback(args.assignment, args.student))
    print(f"feedback written under {course.feedback}")
    return OK


def _export(course, args, _options) -> int:
    from .export import export

    files = export(course, args.assignment, Path(args.out) if args.out else
                   course.grading / args.assignment)
    for path in (files.grades, files.breakdown, files.histogram):
        print(path)
    return OK


def _parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--course-dir", type=Path, default=Path.cwd(),
                        help="the nbgrader course root, holding nbgrader_config.py (default: here)")
    common.add_argument("--db-url", help="SQLAlchemy URL of the gradebook (default: the course "
                        "config's, SQLite); e.g. postgresql+psycopg://user@host/db")
    hidden = argparse.ArgumentParser(add_help=False)
    hidden.add_argument("--show-hidden-tests", action="store_true",
                        help="show hidden tests' source and tracebacks in feedback (default: hide)")

    parser = argparse.ArgumentParser(prog="rnn-course", description=__doc__.split("\n\n")[0])
    parser.set_defaults(options=lambda args: None)  # only grade has options to check
    commands = parser.add_subparsers(dest="command", required=True)

    release = commands.add_parser("release", parents=[common],
                                  help="regenerate assignments/ from solutions/, refusing leaks")
    release.add_argument("assignments", nargs="*", help="which assignments (default: all)")
    release.set_defaults(run=_release)

    grade = commands.add_parser("grade", parents=[common, hidden],
                                help="autograde a class in parallel, make feedback, export grades")
    grade.add_argument("assignment")
    grade.add_argument("submissions", help="an LMS export (zip or folder of "
                       "<student>_<anything>_<notebook>.ipynb) or an nbgrader submitted/ tree")
    where = grade.add_mutually_exclusive_group()
    where.add_argument("--workers", type=int,
                       help="submissions graded at once on this machine (default: CPU count)")
    where.add_argument("--scheduler", metavar="tcp://HOST:PORT",
                       help="grade on this existing Dask cluster instead")
    grade.add_argument("--force", action="store_true", help="regrade students already graded")
    from .collect import DEFAULT_PATTERN
    from .gradebook import KEEP_BACKUPS
    from .grade import WORKER_TIMEOUT

    grade.add_argument("--worker-timeout", type=float, default=WORKER_TIMEOUT, metavar="SECONDS",
                       help="wait this long for a first Dask worker, and stop a run that has had "
                            f"none for this long (default {WORKER_TIMEOUT:g})")
    grade.add_argument("--keep-backups", type=int, default=KEEP_BACKUPS, metavar="N",
                       help="gradebook backups to keep, the one made by this run included; "
                       "older ones are deleted (default: %(default)s)")
    grade.add_argument("--pattern", default=DEFAULT_PATTERN,
                       help="regex for LMS export file names, capturing student_id and file_id; "
                       "{notebooks} stands for the notebook names (default: %(default)s)")
    grade.add_argument("--cell-timeout", type=int,
                       help="seconds per cell (default: the config's ExecutePreprocessor.timeout)")
    grade.add_argument("--notebook-timeout", type=int, default=Limits.notebook_timeout,
                       help="seconds per submission (default: %(default)s)")
    grade.add_argument("--duedate", type=datetime.fromisoformat,
                       help="set the assignment's due date (ISO 8601, UTC unless an offset is given)")
    grade.add_argument("--late-per-day", type=float, metavar="PERCENT",
                       help="late policy: percent of the score taken per started day late")
    grade.add_argument("--late-cap", type=float, metavar="PERCENT",
                       help="late policy: the most percent taken, however late")
    grade.add_argument("--no-progress", action="store_true", help="no progress bar")
    grade.set_defaults(run=_grade, options=_grade_options)

    feedback = commands.add_parser("feedback", parents=[common, hidden],
                                   help="(re)generate feedback pages from the gradebook")
    feedback.add_argument("assignment")
    feedback.add_argument("--student", help="only this student (default: all autograded)")
    feedback.set_defaults(run=_feedback)

    export = commands.add_parser("export", parents=[common],
                                 help="grades.csv, breakdown.csv and histogram.png")
    export.add_argument("assignment")
    export.add_argument("--out", help="output folder (default: grading/<assignment>/)")
    export.set_defaults(run=_export)
    return parser


if __name__ == "__main__":
    sys.exit(main())
