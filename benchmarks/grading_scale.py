"""How ``rnn-course grade`` scales: 1 worker vs 2, the cost per submission, the client's share.

Builds a class of the real assignment ``a1_text_to_tensors`` (correct, partly wrong and broken
answers in turn), grades it with ``rnn-course grade --workers 1`` and ``--workers 2`` (a Dask
LocalCluster, SQLite gradebook), then measures what the client does per submission, which no
number of workers can parallelise:

- scheduler + network: a task that takes a real ``Submission`` and returns a ``GradingResult`` of
  real size (the autograded notebook, feedback page and log a real task returned), round trip
  through the scheduler and a worker, with the result pickled back;
- gradebook writes: ``GradebookWriter.record`` of real results, one transaction per student,
  into SQLite and (where PostgreSQL is installed) into a PostgreSQL server started here;
- files: the autograded notebook, feedback page and log written per student.

Prints every number it measured and a projection for 10,000 submissions. Run::

    .venv/bin/python benchmarks/grading_scale.py [--students 12] [--replicas 200]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
BIN = Path(sys.executable).parent

from course_lib.grading.cli import put_interpreter_bin_on_path  # noqa: E402
from tests.scale import classroom, postgres  # noqa: E402

KINDS = ("correct", "partly", "broken")
_LOG_HEADER = re.compile(r"^(\S+): (\w+) in ([0-9.]+) s")


def make_class(root: Path, n: int) -> Path:
    course = classroom.make_course(REPO, root / "course")
    students = {f"s{i:03d}": KINDS[i % len(KINDS)] for i in range(n)}
    return classroom.write_class(course, root / "class", students)


def grade_cli(root: Path, name: str, workers: int) -> dict:
    """One ``rnn-course grade`` run in a fresh course copy; wall time, task seconds, summary."""
    course = classroom.make_course(root / "course", root / name)
    started = time.perf_counter()
    done = subprocess.run([str(BIN / "rnn-course"), "grade", classroom.ASSIGNMENT, str(root / "class"),
                           "--workers", str(workers), "--no-progress"],
                          cwd=course, capture_output=True, text=True)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        sys.exit(f"rnn-course grade --workers {workers} failed:\n{done.stdout}\n{done.stderr}")
    run_dir = course / "grading" / classroom.ASSIGNMENT
    seconds = {}
    for log in (run_dir / "logs").glob("*.log"):
        match = _LOG_HEADER.match(log.read_text(errors="replace").splitlines()[0])
        if match:
            seconds[match.group(1)] = float(match.group(3))
    summary = json.loads((run_dir / "summary.json").read_text())
    return {"course": course, "wall": wall, "seconds": seconds, "summary": summary}


def real_results(course: Path, class_dir: Path, k: int):
    """``k`` real ``GradingResult``s, from the very task the CLI runs (one per kind of student)."""
    from distributed import Client, LocalCluster

    from course_lib.grading.bundle import make_bundle
    from course_lib.grading.collect import DEFAULT_PATTERN, collect
    from course_lib.grading.course import Course
    from course_lib.grading.sandbox import Limits
    from course_lib.grading.worker import grade_submission

    c = Course.load(course)
    bundle = make_bundle(c, classroom.ASSIGNMENT, limits=Limits(), settings={})
    submissions = collect(c, classroom.ASSIGNMENT, class_dir, DEFAULT_PATTERN).submissions[:k]
    with LocalCluster(n_workers=2, threads_per_worker=1, host="127.0.0.1", dashboard_address=None) as cl, \
            Client(cl) as client:
        shared = client.scatter(bundle, broadcast=True, hash=False)
        results = client.gather([client.submit(grade_submission, shared, s, pure=False) for s in submissions])
    return c, bundle, submissions, results


def _echo(bundle, submission, template):
    """A task with a real task's inputs and a result of a real result's size, and no grading."""
    return dataclasses.replace(template, student_id=submission.student_id)


def scheduler_overhead(bundle, submissions, template, n: int) -> float:
    """Seconds per task for ``n`` echo tasks on one worker, results gathered one by one."""
    from distributed import Client, LocalCluster, as_completed

    with LocalCluster(n_workers=1, threads_per_worker=1, host="127.0.0.1", dashboard_address=None) as cl, \
            Client(cl) as client:
        shared = client.scatter(bundle, broadcast=True, hash=False)
        template_f = client.scatter(template, broadcast=True, hash=False)
        many = [dataclasses.replace(submissions[i % len(submissions)], student_id=f"r{i:05d}")
                for i in range(n)]
        client.gather(client.submit(_echo, shared, many[0], template_f, pure=False))  # warm
        started = time.perf_counter()
        futures = [client.submit(_echo, shared, s, template_f, pure=False) for s in many]
        for future in as_completed(futures):
            future.result()
        return (time.perf_counter() - started) / n


def write_overhead(course_dir: Path, db_url: str | None, results, n: int) -> tuple[float, float]:
    """Seconds per student to record ``n`` results: (gradebook transaction, files).

    Also counts the SQL statements per student (``write_overhead.statements``): each is a
    round trip to a database server, which is what a remote PostgreSQL adds per submission.
    """
    from course_lib.grading import grade as grade_module
    from course_lib.grading.bundle import register_assignment
    from course_lib.grading.course import Course
    from course_lib.grading.gradebook import GradebookWriter

    course = Course.load(course_dir, db_url=db_url)
    # nbgrader's steps use CourseDirectory.course_id ("" unless set), which PostgreSQL's foreign
    # key refuses; harmless once Course.load sets it
    course.config.CourseDirectory.course_id = course.course_id
    register_assignment(course, classroom.ASSIGNMENT)
    many = [dataclasses.replace(results[i % len(results)], student_id=f"r{i:05d}") for i in range(n)]
    run_dir = course.grading / classroom.ASSIGNMENT
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    statements = [0]

    def count(*_):
        statements[0] += 1

    with GradebookWriter(course, classroom.ASSIGNMENT) as writer:
        event.listen(Engine, "before_cursor_execute", count)  # every engine: only the writer's runs here
        started = time.perf_counter()
        for result in many:
            writer.record(result)
        db = (time.perf_counter() - started) / n
        event.remove(Engine, "before_cursor_execute", count)
    # (+1 per student: the COMMIT, which is no cursor statement)
    write_overhead.statements = statements[0] / n + 1
    started = time.perf_counter()
    for result in many:
        grade_module._save_files(course, run_dir, classroom.ASSIGNMENT, result)
    files = (time.perf_counter() - started) / n
    return db, files


def main() -> None:
    put_interpreter_bin_on_path()  # nbgrader runs `alembic` by name
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--students", type=int, default=12, help="class size (default: %(default)s)")
    parser.add_argument("--replicas", type=int, default=200,
                        help="results replayed to time the client's share (default: %(default)s)")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="rnn-course-scale-"))
    server = None
    try:
        make_class(root, args.students)
        one = grade_cli(root, "one", 1)
        two = grade_cli(root, "two", 2)
        n = args.students
        cost = statistics.mean(one["seconds"].values())
        cost2 = statistics.mean(two["seconds"].values())
        print(f"class: {n} submissions of {classroom.ASSIGNMENT} (correct / partly wrong / broken)")
        print(f"1 worker : wall {one['wall']:.1f} s   ({one['wall'] / n:.2f} s per submission)")
        print(f"2 workers: wall {two['wall']:.1f} s   ({two['wall'] / n:.2f} s per submission)")
        # the CLI times its phases (summary.json): "grade" is the part that grows with the class
        phase1, phase2 = one["summary"]["phases"]["grade"], two["summary"]["phases"]["grade"]
        fixed = one["wall"] - phase1
        print(f"fixed cost per run (start the CLI and cluster, register, bundle, export): "
              f"{fixed:.1f} s with 1 worker, {two['wall'] - phase2:.1f} s with 2")
        print(f"ratio (1 worker / 2 workers): {one['wall'] / two['wall']:.2f} whole runs, "
              f"{phase1 / phase2:.2f} grading phase ({phase1:.1f} s / {phase2:.1f} s)")
        print(f"per-submission cost on a worker (autograde + feedback, mean of task times): "
              f"{cost:.2f} s with 1 worker, {cost2:.2f} s with 2 workers busy")

        c, bundle, submissions, results = real_results(one["course"], root / "class", len(KINDS))
        template = max(results, key=lambda r: sum(len(nb.autograded or b"") + len(nb.feedback or b"")
                                                  for nb in r.notebooks) + len(r.log))
        size = sum(len(nb.autograded or b"") + len(nb.feedback or b"") for nb in template.notebooks) + len(template.log)
        sub_size = sum(len(v) for v in submissions[0].files.values())
        print(f"payloads: submission {sub_size / 1e3:.0f} kB in, result {size / 1e3:.0f} kB back, "
              f"bundle {len(bundle.template_gradebook) / 1e3:.0f} kB once per worker")
        sched = scheduler_overhead(bundle, submissions, template, args.replicas)
        db_sqlite, files = write_overhead(classroom.make_course(root / "course", root / "w-sqlite"),
                                          None, results, args.replicas)
        print(f"client per submission: scheduler + transfer {sched * 1e3:.1f} ms, "
              f"SQLite transaction {db_sqlite * 1e3:.1f} ms "
              f"({write_overhead.statements:.0f} SQL statements), files {files * 1e3:.1f} ms")
        db, gradebook = db_sqlite, "SQLite"
        bin_dir = postgres.find_bin_dir()
        if bin_dir is not None:
            server = postgres.PostgresServer(bin_dir).start(durable=True)  # fsync on, as in production
            server.create_database("bench")
            db, gradebook = write_overhead(classroom.make_course(root / "course", root / "w-pg"),
                                           server.url("bench", dialect="postgresql+psycopg"),
                                           results, args.replicas)[0], "PostgreSQL"
            print(f"client per submission: PostgreSQL transaction {db * 1e3:.1f} ms (server on this "
                  f"machine, fsync on; {write_overhead.statements:.0f} statements, so a server 1 ms away "
                  f"adds ~{write_overhead.statements:.0f} ms)")
        else:
            print("PostgreSQL not installed: its transaction was not measured")
        client = sched + db + files
        print(f"client total per submission ({gradebook}): {client * 1e3:.1f} ms -> one client keeps "
              f"up with ~{cost / client:.0f} workers busy on {cost:.1f} s submissions")
        print("projection for 10,000 submissions (cost per submission measured above, "
              "client serial, fixed cost once):")
        for workers in (1, 2, 8, 32, 128, 512):
            t = fixed + 10_000 * max(cost / workers, client)
            bound = "client-bound" if client >= cost / workers else "worker-bound"
            print(f"  {workers:4d} workers: {t / 3600:6.2f} h  ({t:8.0f} s, {bound})")
    finally:
        if server is not None:
            server.stop()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
