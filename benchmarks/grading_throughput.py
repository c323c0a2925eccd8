"""Grading throughput: sequential nbgrader against ``rnn-course grade --workers N``.

Builds a synthetic class for a real assignment (default ``a1_text_to_tensors``,
40 students): correct answers (the solutions), partly wrong ones (some answers
left as the release's stub) and broken ones (a corrupt file; an answer that
raises), all made from ``solutions/`` and the release. Grades it twice, in two
scratch copies of the course with the course's own ``nbgrader_config.py``:

- sequential: ``nbgrader autograde`` then ``nbgrader generate_feedback`` (the
  same work ``rnn-course grade`` does, one process each, as an instructor runs them);
- parallel: ``rnn-course grade --workers N`` (Dask LocalCluster, N worker processes; default
  2, one per core of the 2-core machine the target is set for),
  including its once-per-run costs (cluster start, registering the assignment,
  the template gradebook, the export).

Checks that every cell's score is identical, prints both wall times and the
per-phase breakdown of the parallel run, and ends with ``cpu_ratio=<sequential CPU / parallel
CPU>`` (the speed per core: the whole machine's CPU during each run, start-up included, so run
it on a quiet machine) and ``speedup=<sequential wall time / parallel wall time>``.

    python benchmarks/grading_throughput.py [--assignment a1_text_to_tensors] [--students 40] [--workers 2]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat

from course_lib.grading.cli import put_interpreter_bin_on_path

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
STUB_MARK = "BEGIN SOLUTION"


def solved(source_cell: str) -> str:
    """A solution cell's source without nbgrader's solution markers (what a strong student writes)."""
    return "\n".join(line for line in source_cell.split("\n")
                     if "BEGIN SOLUTION" not in line and "END SOLUTION" not in line)


def synthetic_class(assignment: str, released: Path, students: int) -> dict[str, dict[str, bytes]]:
    """``{student: {notebook file: bytes}}``: 60 % correct, 30 % partly wrong, 10 % broken."""
    source_dir = REPO / "solutions" / assignment
    notebooks = sorted(source_dir.glob("*.ipynb"))
    answers = {}
    for path in notebooks:
        for cell in nbformat.read(path, as_version=4).cells:
            meta = cell.metadata.get("nbgrader", {})
            if meta.get("solution"):
                answers[path.name, meta["grade_id"]] = solved(cell.source)
    klass = {}
    for number in range(students):
        student = f"s{number:03d}"
        kind = number % 10  # 0-5 correct, 6-8 partly wrong, 9 broken
        files = {}
        for path in notebooks:
            if kind == 9 and number % 20 == 9:
                files[path.name] = b'{"cells": [ this is not json'
                continue
            nb = nbformat.read(released / path.name, as_version=4)
            solution_cells = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("solution")]
            for index, cell in enumerate(solution_cells):
                wrong = kind in (6, 7, 8) and index % 3 == kind - 6  # a third of the answers missing
                if not wrong:
                    cell.source = answers[path.name, cell.metadata["nbgrader"]["grade_id"]]
            if kind == 9:
                code = next(c for c in solution_cells if c.cell_type == "code")
                code.source = 'raise RuntimeError("my code is broken")\n' + code.source
            files[path.name] = nbformat.writes(nb).encode()
        klass[student] = files
    return klass


def scratch_course(root: Path, assignment: str) -> Path:
    """A copy of the course's config and one assignment's source, ready for nbgrader."""
    root.mkdir(parents=True)
    shutil.copy(REPO / "nbgrader_config.py", root / "nbgrader_config.py")
    shutil.copytree(REPO / "solutions" / assignment, root / "solutions" / assignment)
    return root


def write_tree(tree: Path, assignment: str, klass: dict[str, dict[str, bytes]]) -> None:
    for student, files in klass.items():
        folder = tree / student / assignment
        folder.mkdir(parents=True)
        for name, content in files.items():
            (folder / name).write_bytes(content)


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _machine_cpu() -> float:
    """CPU seconds every process of this machine has used (``/proc/stat``: all but idle and
    I/O wait); 0 where there is no ``/proc/stat``."""
    try:
        fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:8]]
    except OSError:
        return 0.0
    return (sum(fields) - fields[3] - fields[4]) / os.sysconf("SC_CLK_TCK")


def run(command: list[str], cwd: Path, ok: tuple[int, ...] = (0,)) -> tuple[float, float, float]:
    """Run ``command`` in ``cwd``; return its wall seconds, its CPU seconds (with every process
    it waited for) and the whole machine's CPU seconds meanwhile (every process it started,
    waited for or not, and anything else that ran).

    Exits unless its exit code is in ``ok``.
    """
    started, cpu, machine = time.perf_counter(), _children_cpu(), _machine_cpu()
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True)
    elapsed, cpu, machine = (time.perf_counter() - started, _children_cpu() - cpu,
                             _machine_cpu() - machine)
    if done.returncode not in ok:
        sys.exit(f"{' '.join(command)} failed ({done.returncode}):\n{done.stdout}\n{done.stderr[-5000:]}")
    return elapsed, cpu, machine


def scores(course: Path, assignment: str) -> dict[tuple[str, str, str], tuple]:
    from nbgrader.api import Gradebook

    out = {}
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        for submission in gradebook.find_assignment(assignment).submissions:
            for notebook in submission.notebooks:
                for grade in notebook.grades:
                    out[submission.student_id, notebook.name, grade.name] = (
                        grade.auto_score, grade.score, grade.needs_manual_grade)
    return out


def main() -> None:
    put_interpreter_bin_on_path()  # nbgrader runs `alembic` by name
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--assignment", default="a1_text_to_tensors")
    parser.add_argument("--students", type=int, default=40)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    if args.students < 10:
        parser.error("--students must be at least 10 (the mix needs every kind)")

    with tempfile.TemporaryDirectory(prefix="grading-throughput-") as tmp:
        tmp = Path(tmp)
        sequential = scratch_course(tmp / "sequential", args.assignment)
        parallel = scratch_course(tmp / "parallel", args.assignment)
        nbgrader = str(BIN / "nbgrader")
        for course in (sequential, parallel):  # the release (and the gradebook it makes): untimed
            run([nbgrader, "generate_assignment", args.assignment], course)
        klass = synthetic_class(args.assignment, sequential / "assignments" / args.assignment,
                                args.students)
        write_tree(sequential / "submitted", args.assignment, klass)
        write_tree(tmp / "export", args.assignment, klass)
        print(f"{args.assignment}: {len(klass)} submissions (60 % correct, 30 % partly wrong, "
              f"10 % broken)")

        # nbgrader autograde exits 1 when a submission fails (the corrupt ones): expected
        autograde, autograde_cpu, autograde_machine = run([nbgrader, "autograde", args.assignment],
                                                          sequential, ok=(0, 1))
        feedback, feedback_cpu, feedback_machine = run([nbgrader, "generate_feedback", args.assignment],
                                                       sequential)
        t_sequential = autograde + feedback
        print(f"sequential nbgrader: autograde {autograde:.1f} s + generate_feedback "
              f"{feedback:.1f} s = {t_sequential:.1f} s ({t_sequential / len(klass):.2f} s/submission); "
              f"CPU {autograde_cpu + feedback_cpu:.1f} s")

        t_parallel, _, parallel_machine = run(
            [str(BIN / "rnn-course"), "grade", args.assignment, str(tmp / "export"),
             "--workers", str(args.workers), "--no-progress"], parallel)
        summary = json.loads((parallel / "grading" / args.assignment / "summary.json").read_text())
        print(f"rnn-course grade --workers {args.workers}: {t_parallel:.1f} s "
              f"({t_parallel / len(klass):.2f} s/submission); inside the run "
              f"{summary['wall_seconds']:.1f} s, the rest is Python start-up and imports")
        print(f"  graded {len(summary['graded'])}, errors {len(summary['errors'])}, "
              f"not recorded {len(summary['lost'])}")
        phases, n = summary["phases"], len(klass)
        child, kernel = phases["tasks cpu"], phases["kernels cpu"]
        autograde, feedback = phases.get("autograde cpu", 0.0), phases.get("feedback cpu", 0.0)
        print(f"  CPU per submission: {(child + kernel) / n:.2f} s = nbgrader child {child / n:.2f} s "
              f"(autograde with the judge {autograde / n:.2f}, feedback {feedback / n:.2f}, "
              f"report and fork {(child - autograde - feedback) / n:.2f}) + kernel {kernel / n:.2f} s "
              f"(counted when forked warm by the worker's zygote, 0 when cold)")
        sequential_cpu = autograde_cpu + feedback_cpu
        print(f"  sequential nbgrader's CPU per submission: {sequential_cpu / n:.2f} s, its kernels "
              f"and start-up included")
        sequential_machine = autograde_machine + feedback_machine
        whole_run = sequential_machine / parallel_machine if parallel_machine else float("nan")
        print(f"  the machine's CPU during each run, start-up included: sequential nbgrader "
              f"{sequential_machine:.1f} s, rnn-course grade {parallel_machine:.1f} s: {whole_run:.2f}x")
        print("  phases: " + ", ".join(f"{name} {seconds:.1f} s"
                                       for name, seconds in summary["phases"].items()))

        reference, ours = scores(sequential, args.assignment), scores(parallel, args.assignment)
        if reference != ours:
            differing = sorted(k for k in reference.keys() | ours.keys()
                               if reference.get(k) != ours.get(k))
            sys.exit(f"scores differ in {len(differing)} cells, e.g. {differing[:5]}")
        print(f"scores identical: {len(ours)} cells of {len(klass)} students")
    print(f"cpu_ratio={whole_run:.2f}")  # per core: the machine's CPU during each run
    print(f"speedup={t_sequential / t_parallel:.2f}")


if __name__ == "__main__":
    main()
