"""The two-command set-up: pins agree everywhere, a wrong Python is refused with one
clear line, and `import course_lib` stays light."""

import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _pyproject_pins() -> dict[str, str]:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    pins = {}
    for spec in project["dependencies"] + project["optional-dependencies"]["dev"]:
        name, version = spec.split("==")
        pins[name.lower()] = version
    return pins


def test_every_dependency_is_pinned_to_one_version():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    specs = project["dependencies"] + project["optional-dependencies"]["dev"]
    unpinned = [spec for spec in specs if "==" not in spec]
    assert not unpinned, f"unpinned dependencies in pyproject.toml: {unpinned}"


def test_torch_is_pinned_to_the_local_cpu_wheel_version():
    assert _pyproject_pins()["torch"] == "2.13.0"


def test_environment_yml_has_the_same_pins_as_pyproject():
    text = (REPO / "environment.yml").read_text()
    conda = dict(re.findall(r"^\s+- ([A-Za-z0-9_.\-\[\]]+)==(\S+)$", text, flags=re.M))
    conda = {name.lower(): version for name, version in conda.items()}
    assert conda == _pyproject_pins()
    assert re.search(r"^\s+- python=3\.11$", text, flags=re.M), "environment.yml must ask for python=3.11"


def test_installed_versions_match_the_pins():
    from importlib.metadata import version

    mismatched = {
        name: (pin, version(name.split("[")[0]))
        for name, pin in _pyproject_pins().items()
        if not version(name.split("[")[0]).startswith(pin)
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
    for name in ["Makefile", "pyproject.toml", "README.md"]:
        shutil.copy(REPO / name, tmp_path / name)
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
