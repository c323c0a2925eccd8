"""Execute lectures N times in a row, the way the book build executes them, to catch stalls.

A lecture that sometimes hangs (for example a cell that waits on the kernel until the cell
timeout) shows up as one run far slower than the others. Each run here is exactly the book
build's execution: jupyter-cache's ``single_nb_execution`` (which myst-nb calls with
``execute_notebooks: cache``) on the lecture as stored, with the timeout and ``allow_errors``
of ``_config.yml``, in the lecture's own folder, with the environment of ``make book``
(``PYTHONHASHSEED=0``, ``MPLBACKEND=Agg``, the venv first on ``PATH``) and the notebook's
kernel (``python3``). A run that fails or hits the cell timeout is reported, not retried.

Prints one line per run and, per lecture, the median and the maximum wall time, and flags every
run over twice its lecture's median; exits 1 if any run failed or was flagged.

Run: ``.venv/bin/python benchmarks/lecture_repeats.py -n 20`` (all lectures), or name some:
``.venv/bin/python benchmarks/lecture_repeats.py -n 5 04_bptt``.

Measured for every lecture, 20 runs each (200 runs), on the 2-core machine with nothing else
running but this script twice: two processes at once, each with OMP_NUM_THREADS=1 (as the test
suite runs the book build), one taking lectures 1, 2, 6 and 8, the other the rest. Median / max
seconds: 01 7.8/12.0, 02 7.8/10.0, 03 12.8/18.1, 04 15.0/19.1, 05 17.1/20.1, 06 86.4/101.1,
07 20.6/25.1, 08 79.1/89.1, 09 16.9/21.1, 10 90.1/99.1. No run failed, none took more than twice
its lecture's median; both processes exited 0. (Before lecture 4's ipywidgets ``interact`` cell
was replaced by a kernel-free slider figure, 3 of 7 timed executions hung in that cell until the
300 s cell timeout.)
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
from pathlib import Path

import nbformat
import yaml

REPO = Path(__file__).resolve().parents[1]
LECTURES = REPO / "book" / "lectures"
VENV_BIN = Path(sys.executable).parent


def book_execution_settings() -> tuple[int, bool]:
    """The cell timeout and allow_errors the book build uses (``_config.yml``, section execute)."""
    config = yaml.safe_load((REPO / "_config.yml").read_text(encoding="utf8"))
    execute = config.get("execute", {})
    return int(execute.get("timeout", 30)), bool(execute.get("allow_errors", False))


def run_once(path: Path, timeout: int, allow_errors: bool) -> tuple[float, str | None]:
    """Execute one lecture as the book build does; return (seconds, error or None)."""
    from jupyter_cache.executors.utils import single_nb_execution

    nb = nbformat.read(path, as_version=4)
    result = single_nb_execution(nb, cwd=str(path.parent), timeout=timeout,
                                 allow_errors=allow_errors, meta_override=True)
    error = None if result.err is None else f"{type(result.err).__name__}: {str(result.err).splitlines()[0][:200]}"
    return result.time, error


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("lectures", nargs="*", help="lecture names (e.g. 04_bptt); default: all")
    parser.add_argument("-n", "--repeats", type=int, default=20, help="runs per lecture (default 20)")
    args = parser.parse_args()
    if args.repeats < 1:
        parser.error(f"--repeats must be at least 1, got {args.repeats}")
    paths = sorted(LECTURES.glob("*.ipynb"))
    if args.lectures:
        wanted = {name.removesuffix(".ipynb") for name in args.lectures}
        unknown = wanted - {p.stem for p in paths}
        if unknown:
            parser.error(f"no such lecture(s): {sorted(unknown)}; have {[p.stem for p in paths]}")
        paths = [p for p in paths if p.stem in wanted]

    os.environ["PATH"] = f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}"
    os.environ.update(PYTHONHASHSEED="0", MPLBACKEND="Agg")
    timeout, allow_errors = book_execution_settings()
    print(f"{len(paths)} lecture(s) x {args.repeats} runs, cell timeout {timeout} s, allow_errors={allow_errors}")

    bad = 0
    summary = []
    for path in paths:
        times = []
        for run in range(1, args.repeats + 1):
            seconds, error = run_once(path, timeout, allow_errors)
            times.append(seconds)
            print(f"{path.stem} run {run:2d}: {seconds:7.1f} s" + (f"  FAILED {error}" if error else ""), flush=True)
            bad += error is not None
        median = statistics.median(times)
        slow = [(i + 1, t) for i, t in enumerate(times) if t > 2 * median]
        bad += len(slow)
        summary.append(f"{path.stem:32s} median {median:6.1f} s  max {max(times):6.1f} s  "
                       f"min {min(times):6.1f} s  runs over 2x median: "
                       + (", ".join(f"#{i} ({t:.1f} s)" for i, t in slow) or "none"))
    print("\n".join(["", *summary]))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
