"""The set-up: one pinned lock (requirements-dev.txt) that make installs and environment.yml
repeats, two packages that declare ranges the pins lie in (the student package without the
grader, the instructor package with it), a wrong Python refused with one clear line, and
`import course_lib` kept light."""

import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

REPO = Path(__file__).resolve().parents[1]
LOCK = REPO / "requirements-dev.txt"


def _lock_lines(text: str) -> list[str]:
    """The requirement lines of a requirements file (comments and blank lines dropped)."""
    return [line.strip() for line in text.splitlines() if line.strip() and not line.strip().startswith("#")]


def _lock_pins() -> dict[str, str]:
    """Package name (canonical) -> pinned version, for every package line of the lock."""
    pins = {}
    for line in _lock_lines(LOCK.read_text()):
        if line.startswith("-"):
            continue
        name, version = line.split("==")
        pins[canonicalize_name(Requirement(name).name)] = version
    return pins


def _project(path: str) -> dict:
    return tomllib.loads((REPO / path).read_text())["project"]


STUDENT = _project("pyproject.toml")
INSTRUCTOR = _project("instructor/pyproject.toml")


def test_every_package_in_the_lock_is_pinned_to_one_version():
    packages = [line for line in _lock_lines(LOCK.read_text()) if not line.startswith("-")]
    unpinned = [line for line in packages if not re.fullmatch(r"[A-Za-z0-9_.\-\[\]]+==[^=<>~!,;\s]+", line)]
    assert packages and not unpinned, f"lines of requirements-dev.txt that pin no single version: {unpinned}"


def test_the_lock_installs_both_packages_of_the_repository_editable():
    editable = [line for line in _lock_lines(LOCK.read_text()) if line.startswith("-e ")]
    assert [line.split()[1] for line in editable] == [".", "./instructor"]


def test_torch_is_pinned_to_the_local_cpu_wheel_version():
    assert _lock_pins()["torch"] == "2.13.0"


def test_make_installs_the_lock():
    makefile = (REPO / "Makefile").read_text()
    assert "pip install --quiet -r requirements-dev.txt" in makefile
    stamp = re.search(r"^\$\(STAMP\):([^|\n]*)", makefile, flags=re.M)
    assert stamp and set(stamp.group(1).split()) == {"requirements-dev.txt", "pyproject.toml", "instructor/pyproject.toml"}


def test_environment_yml_lists_exactly_the_lock():
    text = (REPO / "environment.yml").read_text()
    conda = [m.strip() for m in re.findall(r"^      - (.+)$", text, flags=re.M)]
    assert conda == _lock_lines(LOCK.read_text())
    assert re.search(r"^\s+- python=3\.11$", text, flags=re.M), "environment.yml must ask for python=3.11"


@pytest.mark.parametrize("project", [STUDENT, INSTRUCTOR], ids=["student", "instructor"])
def test_every_declared_dependency_is_pinned_in_the_lock_inside_its_range(project):
    pins = _lock_pins()
    outside = {}
    for spec in project["dependencies"]:
        requirement = Requirement(spec)
        name = canonicalize_name(requirement.name)
        if name == canonicalize_name(STUDENT["name"]):
            continue
        if name not in pins or not requirement.specifier.contains(pins[name], prereleases=True):
            outside[spec] = pins.get(name)
    assert not outside, f"dependency ranges that the lock's pin misses (range: pin): {outside}"


def test_student_package_declares_ranges_for_python_310_to_313():
    pinned = [spec for spec in STUDENT["dependencies"] if "==" in spec]
    assert not pinned, f"the student package must declare ranges, not pins: {pinned}"
    python = Requirement(f"python{STUDENT['requires-python']}").specifier
    assert all(python.contains(v) for v in ("3.10", "3.11", "3.12", "3.13"))
    torch = next(Requirement(s) for s in STUDENT["dependencies"] if s.startswith("torch"))
    # the local CPU build and the torch 2.x a Colab or lab image already has
    assert all(torch.specifier.contains(v) for v in ("2.13.0+cpu", "2.2.0", "2.9.0+cu126"))


def test_student_package_pulls_in_no_instructor_tooling():
    names = {canonicalize_name(Requirement(spec).name) for spec in STUDENT["dependencies"]}
    assert names == {"torch", "numpy", "matplotlib", "tqdm", "ipywidgets", "plotly"}
    assert "scripts" not in STUDENT
    found = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]["find"]
    assert {"course_lib.grading", "course_lib.grading.*"} <= set(found["exclude"])


def test_instructor_package_ships_the_grader_on_the_same_student_package():
    assert f"{STUDENT['name']}=={STUDENT['version']}" in INSTRUCTOR["dependencies"]
    assert INSTRUCTOR["version"] == STUDENT["version"]
    assert INSTRUCTOR["scripts"] == {"rnn-course": "course_lib.grading.cli:main"}
    setuptools = tomllib.loads((REPO / "instructor/pyproject.toml").read_text())["tool"]["setuptools"]
    assert setuptools["packages"] == ["course_lib.grading"]


def test_installed_versions_match_the_pins():
    from importlib.metadata import version

    mismatched = {
        name: (pin, version(name))
        for name, pin in _lock_pins().items()
        if not version(name).startswith(pin)
    }
    assert not mismatched, f"installed versions differ from the pins (pin, installed): {mismatched}"


def test_ci_runs_exactly_make_test():
    lines = [line.strip() for line in (REPO / ".ci/run").read_text().splitlines()]
    commands = [line for line in lines if line and not line.startswith("#")]
    assert "set -euo pipefail" in commands
    assert commands[-1] == "make test"


def test_readme_quick_start_shows_the_two_commands():
    readme = (REPO / "README.md").read_text()
    quick_start = readme.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    assert "make book" in quick_start and "make test" in quick_start


@pytest.mark.parametrize(
    "path",
    [".venv/bin/python", "_build/html/index.html", "gradebook.db", "submitted/s1/a1/a1.ipynb",
     "autograded/s1/a1/a1.ipynb", "feedback/s1/a1/a1.html"],
)
def test_gitignore_keeps_grading_data_and_builds_out_of_git(path):
    result = subprocess.run(["git", "check-ignore", "-q", path], cwd=REPO)
    assert result.returncode == 0, f"git would track {path}"


def test_gitignore_leaves_test_fixtures_named_like_grading_folders_alone():
    result = subprocess.run(["git", "check-ignore", "-q", "tests/grading/submitted/x.ipynb"], cwd=REPO)
    assert result.returncode == 1


@pytest.fixture
def bare_checkout(tmp_path: Path) -> Path:
    """A copy of the files make needs, with no .venv, so make must create one."""
    for name in ["Makefile", "pyproject.toml", "README.md", "requirements-dev.txt"]:
        shutil.copy(REPO / name, tmp_path / name)
    (tmp_path / "instructor").mkdir()
    shutil.copy(REPO / "instructor/pyproject.toml", tmp_path / "instructor/pyproject.toml")
    (tmp_path / ".ci").mkdir()
    shutil.copy(REPO / ".ci/system-deps.sh", tmp_path / ".ci/system-deps.sh")
    return tmp_path


def _make_setup(checkout: Path, python: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["make", "--no-print-directory", "setup", f"PYTHON={python}"],
        cwd=checkout, capture_output=True, text=True, timeout=60,
    )


def test_missing_python311_is_one_clear_line(bare_checkout: Path):
    result = _make_setup(bare_checkout, "/nonexistent/python3.11")
    assert result.returncode != 0
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "Python 3.11 is needed" in errors[0], result.stderr
    assert "Traceback" not in result.stderr
    assert not (bare_checkout / ".venv").exists()


def test_other_python_version_is_one_clear_line(bare_checkout: Path, tmp_path_factory):
    fake = tmp_path_factory.mktemp("bin") / "python3.12"
    fake.write_text(
        "#!/bin/sh\n"
        'case "$*" in *version_info*) exit 1;; *python_version*) echo 3.12.4;; esac\n'
    )
    fake.chmod(0o755)
    result = _make_setup(bare_checkout, str(fake))
    assert result.returncode != 0
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, result.stderr
    assert "Python 3.11 is needed" in errors[0] and "3.12.4" in errors[0]


def test_second_setup_reinstalls_nothing():
    result = subprocess.run(
        ["make", "--no-print-directory", "-n", "setup"], cwd=REPO, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert "pip install" not in result.stdout, f"make would reinstall:\n{result.stdout}"


def test_import_course_lib_loads_no_grading_machinery():
    code = (
        "import sys, course_lib; "
        "heavy = [m for m in ('nbgrader', 'dask', 'distributed', 'psycopg', 'sqlalchemy', 'matplotlib') if m in sys.modules]; "
        "print(heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
