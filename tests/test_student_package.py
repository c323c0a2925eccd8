"""What a student gets works without the course repository, and gives nothing away.

The student package (``rnn-course-lib``) is built once as a wheel. A course released with that
wheel as its install source (``c.RnnCourse.install_source``) hands out notebooks whose first
code cell installs it. Those notebooks run in a fresh virtual environment outside the
repository that has only nbclient, ipykernel and the local torch wheel (a stand-in for Colab or
a lab image with its own torch): the cell installs ``course_lib`` with pip offline (no index;
the wheel and its dependencies' wheels in one folder), torch stays as it was, and none of the
instructor's tooling comes along. A source that cannot be installed stops the first cell with
one sentence.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import zipfile
from importlib.metadata import distribution, version
from pathlib import Path

import nbformat
import pytest

from course_lib.grading import regions
from course_lib.grading.course import Course
from course_lib.grading.release import SETUP_MARK, setup_cell_source

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
ASSIGNMENT = "a1_text_to_tensors"
LECTURE = "03_sequence_tasks"
KERNEL = "rnn-student"
INSTRUCTOR_ONLY = ("nbgrader", "dask", "distributed", "psycopg", "sqlalchemy")
STUDENT_DEPENDENCIES = ("numpy", "matplotlib", "tqdm", "ipywidgets", "plotly")

pytestmark = pytest.mark.slow

# Runs in the student's venv: execute one notebook with nbclient in its own folder; on a cell
# error print the error's name and value as JSON and exit 3.
RUNNER = r"""
import json, sys
from pathlib import Path
import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

path = Path(sys.argv[1])
nb = nbformat.read(path, as_version=4)
client = NotebookClient(nb, kernel_name=sys.argv[2], timeout=600,
                        resources={"metadata": {"path": str(path.parent)}})
try:
    client.execute()
except CellExecutionError as error:
    print(json.dumps({"ename": error.ename, "evalue": error.evalue}))
    sys.exit(3)
finally:
    nbformat.write(nb, path)
"""


def _pip(python: Path, *args: str, env: dict | None = None) -> str:
    done = subprocess.run([str(python), "-m", "pip", "--disable-pip-version-check", *args],
                          capture_output=True, text=True, env=env, timeout=900)
    assert done.returncode == 0, f"pip {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def _first_code_cell(path: Path) -> str:
    return next(c.source for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code")


@pytest.fixture(scope="module")
def student_wheel(tmp_path_factory) -> Path:
    """The student package's wheel, built from a copy of the files it is made of."""
    tree = tmp_path_factory.mktemp("student-src")
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(REPO / name, tree / name)
    shutil.copytree(REPO / "course_lib", tree / "course_lib",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    out = tmp_path_factory.mktemp("student-wheel")
    _pip(Path(sys.executable), "wheel", "--quiet", "--no-deps", "--no-build-isolation", "-w", str(out), str(tree))
    (wheel,) = out.glob("rnn_course_lib-*.whl")
    return wheel


@pytest.fixture(scope="module")
def wheelhouse(student_wheel, tmp_path_factory) -> Path:
    """The wheel and the wheels of its dependencies at the dev pins: what the set-up cell's
    pip may use, with no index."""
    house = tmp_path_factory.mktemp("wheelhouse")
    shutil.copy(student_wheel, house)
    started = time.perf_counter()
    _pip(Path(sys.executable), "download", "--quiet", "--only-binary=:all:", "-d", str(house),
         *(f"{name}=={version(name)}" for name in STUDENT_DEPENDENCIES))
    print(f"\nwheelhouse: {time.perf_counter() - started:.1f} s to download the dependencies' wheels")
    return house


@pytest.fixture(scope="module")
def released(student_wheel, tmp_path_factory) -> tuple[Path, str]:
    """A course holding one assignment and one lecture, released by ``rnn-course release`` with
    the student wheel as its install source."""
    root = tmp_path_factory.mktemp("course")
    source = f"rnn-course-lib @ {student_wheel.as_uri()}"
    config = (REPO / "nbgrader_config.py").read_text() + f"\nc.RnnCourse.install_source = {source!r}\n"
    (root / "nbgrader_config.py").write_text(config)
    shutil.copytree(REPO / "solutions" / ASSIGNMENT, root / "solutions" / ASSIGNMENT)
    (root / "book" / "lectures").mkdir(parents=True)
    shutil.copy(REPO / "book" / "lectures" / f"{LECTURE}.ipynb", root / "book" / "lectures")
    done = subprocess.run([str(BIN / "rnn-course"), "release", ASSIGNMENT, "--course-dir", str(root)],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    return root, source


@pytest.fixture(scope="module")
def student_venv(tmp_path_factory, wheelhouse) -> dict:
    """A fresh venv outside the repository with nbclient, ipykernel and torch 2.13.0+cpu only
    (with their dependencies), a kernel of its own, and the environment its kernels run in (pip: no index, the
    wheelhouse only)."""
    home = tmp_path_factory.mktemp("student-venv")
    venv = home / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    python = venv / "bin" / "python"
    started = time.perf_counter()
    _link_installed_torch(venv)
    _pip(python, "install", "--quiet", "--no-compile", f"torch=={version('torch')}",
         f"ipykernel=={version('ipykernel')}", f"nbclient=={version('nbclient')}")
    print(f"\nstudent venv: {time.perf_counter() - started:.1f} s to install nbclient, ipykernel, torch")
    subprocess.run([str(python), "-m", "ipykernel", "install", "--prefix", str(venv), "--name", KERNEL],
                   check=True, capture_output=True, timeout=300)
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "VIRTUAL_ENV") and not k.startswith(("PIP_", "JUPYTER"))}
    env.update(PATH=f"{venv / 'bin'}{os.pathsep}{os.environ['PATH']}", JUPYTER_PATH=str(venv / "share" / "jupyter"),
               JUPYTER_DATA_DIR=str(home / "jupyter-data"), PIP_NO_INDEX="1", PIP_FIND_LINKS=str(wheelhouse),
               PIP_DISABLE_PIP_VERSION_CHECK="1", PIP_NO_COMPILE="1", MPLBACKEND="Agg")
    runner = home / "run_notebook.py"
    runner.write_text(RUNNER)
    return {"python": python, "env": env, "runner": runner, "workdir": home / "work",
            "torch": _freeze(python)["torch"]}


def _link_installed_torch(venv: Path) -> None:
    """Put this environment's torch (installed by pip from the local CPU wheel) into ``venv``
    as hard links: the same files and dist-info a pip install of that wheel writes, without
    writing 750 MB again. pip then sees torch installed and adds only its dependencies."""
    torch = distribution("torch")
    site = Path(torch.locate_file(""))
    tops = {Path(str(f)).parts[0] for f in torch.files if not str(f).startswith("..")}
    (target,) = venv.glob("lib/python*/site-packages")
    for top in sorted(tops):
        if (site / top).is_dir():
            shutil.copytree(site / top, target / top, copy_function=_link_or_copy)


def _link_or_copy(source: str, target: str) -> None:
    try:
        os.link(source, target)
    except OSError:  # another file system
        shutil.copy2(source, target)


def _freeze(python: Path) -> dict[str, str]:
    """``pip freeze``: name -> version, or the URL a package was installed from."""
    frozen = {}
    for line in _pip(python, "freeze", "--all").splitlines():
        name, _, pin = line.partition(" @ ") if " @ " in line else line.partition("==")
        frozen[name.strip().lower()] = pin.strip()
    return frozen


def _run(venv: dict, notebook: Path) -> subprocess.CompletedProcess:
    """Copy ``notebook`` into an empty folder and execute it in the student's venv."""
    folder = venv["workdir"] / notebook.stem
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    shutil.copy(notebook, folder)
    started = time.perf_counter()
    done = subprocess.run([str(venv["python"]), str(venv["runner"]), str(folder / notebook.name), KERNEL],
                          capture_output=True, text=True, env=venv["env"], cwd=folder, timeout=900)
    print(f"\n{notebook.name}: executed in the student venv in {time.perf_counter() - started:.1f} s")
    return done


def _uninstall_course_lib(venv: dict) -> None:
    _pip(venv["python"], "uninstall", "--quiet", "--yes", "rnn-course-lib")


def _filled_from_solution(released_notebook: Path, solution: Path, target: Path) -> Path:
    """The released notebook with every answer cell replaced by the solution's."""
    answers = {c.metadata["nbgrader"]["grade_id"]: c.source for c in nbformat.read(solution, as_version=4).cells
               if c.cell_type == "code" and c.metadata.get("nbgrader", {}).get("solution")}
    nb = nbformat.read(released_notebook, as_version=4)
    filled = 0
    for cell in nb.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if cell.cell_type == "code" and cell.metadata.get("nbgrader", {}).get("solution"):
            cell.source = answers[grade_id]
            filled += 1
    assert filled == len(answers) > 0
    target.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, target)
    return target


def _assert_installed_alone(venv: dict) -> None:
    frozen = _freeze(venv["python"])
    assert frozen["torch"] == venv["torch"], "installing course_lib changed torch"
    assert "rnn-course-lib" in frozen, "the set-up cell did not install into the student's venv"
    assert not [name for name in frozen if name.startswith(INSTRUCTOR_ONLY)], sorted(frozen)


# ----------------------------------------------------------------------------------------------
# the wheel


def test_student_wheel_holds_course_lib_without_the_grader(student_wheel):
    names = zipfile.ZipFile(student_wheel).namelist()
    library = {str(p.relative_to(REPO)) for p in (REPO / "course_lib").rglob("*")
               if p.is_file() and p.suffix != ".pyc" and "grading" not in p.parts}
    assert {n for n in names if n.startswith("course_lib/")} == library
    dist_info = next(n.split("/")[0] for n in names if ".dist-info/" in n)
    assert {n.split("/")[0] for n in names} == {"course_lib", dist_info}
    metadata = zipfile.ZipFile(student_wheel).read(
        next(n for n in names if n.endswith(".dist-info/METADATA"))).decode()
    requires = [line.split(":", 1)[1].strip().lower() for line in metadata.splitlines() if line.startswith("Requires-Dist:")]
    assert requires and not [r for r in requires if r.startswith(INSTRUCTOR_ONLY)], requires
    assert not [n for n in names if n.endswith("entry_points.txt")], "the student package installs no commands"


PASSAGE = 3  # consecutive lines: a single line (`return grads`) is too common to count


def _secret_passages(solution: Path) -> list[tuple[str, ...]]:
    """Every run of PASSAGE consecutive lines inside a solution or hidden-test region."""
    passages = []
    for cell in nbformat.read(solution, as_version=4).cells:
        inside = []
        for line in regions.lines(cell.source):
            if line.marker == "end":
                passages += [tuple(inside[i:i + PASSAGE]) for i in range(len(inside) - PASSAGE + 1)]
                inside = []
            elif line.region and line.marker is None and line.text.strip():
                inside.append(line.text.strip())
    return passages


def _passages_found(passages: list[tuple[str, ...]], root: Path) -> list[str]:
    found = []
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        lines = [line.strip() for line in path.read_text(errors="replace").splitlines() if line.strip()]
        runs = {tuple(lines[i:i + PASSAGE]) for i in range(len(lines) - PASSAGE + 1)}
        found += [f"{path.relative_to(root)}: {' / '.join(p)}" for p in passages if p in runs]
    return found


def test_a_copied_passage_is_found(tmp_path):
    solution = REPO / "solutions" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
    passage = _secret_passages(solution)[0]
    (tmp_path / "copied.py").write_text("def f():\n" + "\n".join(f"    {line}" for line in passage) + "\n")
    assert _passages_found([passage], tmp_path) == [f"copied.py: {' / '.join(passage)}"]


@pytest.mark.parametrize("assignment", Course.load(REPO).assignments())
def test_student_wheel_holds_no_passage_of_a_solution_or_hidden_test(student_wheel, tmp_path, assignment):
    zipfile.ZipFile(student_wheel).extractall(tmp_path)
    passages = _secret_passages(REPO / "solutions" / assignment / f"{assignment}.ipynb")
    assert passages
    assert _passages_found(passages, tmp_path) == []


def test_instructor_wheel_holds_only_the_grader_and_its_command(tmp_path):
    tree = tmp_path / "src"
    shutil.copytree(REPO / "course_lib" / "grading", tree / "course_lib" / "grading",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    (tree / "instructor").mkdir()
    shutil.copy(REPO / "instructor" / "pyproject.toml", tree / "instructor")
    _pip(Path(sys.executable), "wheel", "--quiet", "--no-deps", "--no-build-isolation", "-w", str(tmp_path),
         str(tree / "instructor"))
    (wheel,) = tmp_path.glob("rnn_course-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    shipped = {n for n in names if not n.startswith("rnn_course-")}
    assert shipped == {f"course_lib/grading/{p.name}" for p in (REPO / "course_lib" / "grading").glob("*.py")}
    entry_points = zipfile.ZipFile(wheel).read(next(n for n in names if n.endswith("entry_points.txt"))).decode()
    assert "rnn-course = course_lib.grading.cli:main" in entry_points


# ----------------------------------------------------------------------------------------------
# the set-up cell


def test_every_notebook_a_student_gets_opens_with_the_configured_source():
    course = Course.load(REPO)
    expected = setup_cell_source(course.install_source)
    notebooks = ([*(REPO / "assignments").glob("*/*.ipynb"), *(REPO / "solutions").glob("*/*.ipynb")]
                 + course.student_notebooks())
    assert len(notebooks) >= 15
    wrong = [str(p.relative_to(REPO)) for p in notebooks if _first_code_cell(p) != expected]
    assert not wrong, f"first code cell is not the set-up cell for {course.install_source!r}: run `make release`"


def test_release_writes_exactly_the_configured_source_into_the_first_cell(released):
    root, source = released
    for notebook in [root / "assignments" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb",
                     root / "book" / "lectures" / f"{LECTURE}.ipynb"]:
        cell = _first_code_cell(notebook)
        assert cell == setup_cell_source(source)
        assert cell.startswith(SETUP_MARK) and f'COURSE_LIB = "{source}"' in cell


@pytest.mark.parametrize("source", ["rnn-course-lib==0.1.0 --index-url http://x", 'a"; rm -rf ~', "$(reboot)", "-e ."])
def test_a_source_that_is_not_one_plain_requirement_is_refused(source):
    with pytest.raises(ValueError, match="install_source must be one pip requirement"):
        setup_cell_source(source)


# ----------------------------------------------------------------------------------------------
# a student's fresh environment


def test_released_assignment_installs_course_lib_and_passes_its_visible_tests(released, student_venv):
    root, _ = released
    notebook = _filled_from_solution(root / "assignments" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb",
                                     root / "solutions" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb",
                                     student_venv["workdir"].parent / "filled" / f"{ASSIGNMENT}.ipynb")
    done = _run(student_venv, notebook)
    assert done.returncode == 0, done.stdout + done.stderr
    _assert_installed_alone(student_venv)


def test_lecture_installs_course_lib_and_runs(released, student_venv):
    root, _ = released
    _uninstall_course_lib(student_venv)
    done = _run(student_venv, root / "book" / "lectures" / f"{LECTURE}.ipynb")
    assert done.returncode == 0, done.stdout + done.stderr
    _assert_installed_alone(student_venv)


@pytest.mark.parametrize("source", ["", "rnn-course-lib @ file:///nonexistent/rnn_course_lib-0.1.0-py3-none-any.whl"],
                         ids=["no source", "unreachable source"])
def test_without_course_lib_the_first_cell_stops_with_one_sentence(student_venv, tmp_path, source):
    _uninstall_course_lib(student_venv)
    notebook = tmp_path / "setup_only.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(setup_cell_source(source)),
                                                   nbformat.v4.new_code_cell("import course_lib")]), notebook)
    done = _run(student_venv, notebook)
    assert done.returncode == 3, done.stdout + done.stderr
    error = json.loads(done.stdout.strip().splitlines()[-1])
    assert error["ename"] == "RuntimeError"
    sentence = error["evalue"]
    assert "\n" not in sentence and sentence.count(": ") == 1 and sentence.endswith(".")
    assert "course_lib" in sentence and ("ask your instructor" in sentence)
    if source:
        assert source in sentence and "check that this machine can reach that address" in sentence
