"""Shared test set-up: the venv's tools come first on PATH (nbgrader shells out to
`alembic`), plots never open a window, and every test starts from the same seed."""

import os
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
VENV_BIN = Path(sys.executable).parent

os.environ["PATH"] = f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}"
os.environ.setdefault("MPLBACKEND", "Agg")
# One compute thread per process: `make test` runs two pytest processes on two
# cores, and each starts kernels, book builds and graders of its own. With torch's
# default (a thread per core, spinning between parallel regions) those processes
# steal each other's cores and the suite runs slower, not faster. Set before
# torch is imported here or in any subprocess, which inherit it.
for _threads in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_threads, "1")


@pytest.fixture(autouse=True)
def _seed_everything():
    import torch

    torch.manual_seed(0)
    yield


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO


#: The test files that build the book, grade classes or install packages, longest first.
#: `make test` hands whole files to its two pytest processes, each taking the next file in
#: line when it runs dry; starting with the longest keeps both busy to the end (longest
#: processing time first) instead of leaving one to run a long file alone.
LONGEST_FIRST = ("test_book", "test_hostile", "test_assignments", "test_scale_out", "test_grading",
                 "test_student_package", "test_warm_kernels", "test_exercise_solutions")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    rank = {name: place for place, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.stem, len(rank)))  # stable: same order within a file
