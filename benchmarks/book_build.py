"""Clean book build vs cached rebuild, measured in one run (issue 7).

The book's sources (`_config.yml`, `_toc.yml`, `book/`) are copied into a temporary folder
and built there, exactly as `make book` builds them (warnings as errors, nitpicky), so the
repository's `_build` and its execution cache are left alone:

1. **clean**: an empty `_build`, so every lecture is executed;
2. **cached**: `--all` (Sphinx re-reads and re-writes every page) with the jupyter-cache of
   step 1 kept, so no lecture is executed again.

Prints both wall times and the ratio clean / cached; the last line is
`ratio_clean_to_cached=<x>`. Run: `.venv/bin/python benchmarks/book_build.py`
(`--toc FILE` builds with another table of contents, e.g. a subset of the lectures).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
VENV_BIN = Path(sys.executable).parent
SOURCES = ["_config.yml", "_toc.yml", "book"]


def build(root: Path, *extra: str) -> float:
    """Run the `make book` command in ``root``; return its wall time in seconds."""
    env = dict(os.environ)
    env["PATH"] = f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}"
    env.update(PYTHONHASHSEED="0", MPLBACKEND="Agg")
    cmd = [str(VENV_BIN / "jupyter-book"), "build", "--warningiserror", "--nitpick", "--keep-going",
           *extra, "--path-output", ".", "."]
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=root, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"build failed (exit {proc.returncode}):\n{(proc.stdout + proc.stderr)[-4000:]}")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--toc", type=Path, default=REPO / "_toc.yml", help="table of contents to build")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="book-bench-") as tmp:
        root = Path(tmp)
        for name in SOURCES:
            src = args.toc.resolve() if name == "_toc.yml" else REPO / name
            if src.is_dir():
                shutil.copytree(src, root / name, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
            else:
                shutil.copy2(src, root / name)
        clean = build(root)
        cached = build(root, "--all")
    print(f"clean build (executes every lecture): {clean:7.1f} s")
    print(f"cached rebuild (execution cache hit): {cached:7.1f} s")
    print(f"ratio_clean_to_cached={clean / cached:.2f}")


if __name__ == "__main__":
    main()
