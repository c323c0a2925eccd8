"""The grading sandbox: limits and isolation for the kernel that runs a student's notebook.

``configure(scratch, limits)`` prepares one scratch nbgrader course so that its
``nbgrader autograde`` runs student code

- in a kernel started by ``kernel_launcher.py``: rlimits on memory, processes, CPU time
  and file size, root dropped to a uid of the kernel's own, and — when bubblewrap works
  on this machine — inside ``bwrap`` with read-only binds of only the Python install, the
  venv and ``course_lib``, a private ``/tmp``, no network, and only the submission's own
  folder writable (the notebook file itself, which holds the hidden tests, hidden);
- through ``integrity.RestoreTestCells`` and ``integrity.SandboxedExecute``: test cells
  restored from the gradebook and run by the judge outside the kernel (``judge.py``),
  per-cell and per-notebook time limits, an output cap, every test failed with a message
  after a dead kernel.

It returns the environment for the nbgrader subprocess and the nbgrader settings for the
scratch course. What the sandbox did for a student is read back
with ``read_messages(scratch)``. ``isolation_warning()`` says, for the CLI to print once
per run, what protection is missing on this machine.

Costs and the table of hostile cases: the instructor guide, "Hostile submissions".
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path

import course_lib
from course_lib.validation import check_positive_int

from .settings import Settings

KERNEL_NAME = "rnn-course-sandbox"
#: the kernel provisioner of warm kernels (``provisioner.py``), an entry point of the package
WARM_PROVISIONER = "rnn-course-warm-kernel"
DISABLE_ENV = "RNN_COURSE_SANDBOX"  # "off": no bubblewrap (limits still apply)
REPORT_FILE = "sandbox-report.jsonl"
_LAUNCHER = Path(__file__).with_name("kernel_launcher.py")
_INTEGRITY = f"{__package__}.integrity"  # the preprocessors that run the judge
_SOCKET_PATH_MAX = 107  # bytes in a Unix socket's path (sun_path, less its final NUL)
_PORT_SUFFIX = len("-65535")


@dataclass(frozen=True)
class Limits:
    """What one submission may use. Times in seconds, sizes in bytes."""

    cell_timeout: int = 60
    notebook_timeout: int = 600
    memory_bytes: int = 2 * 1024**3
    max_processes: int = 256
    max_output_bytes: int = 1_000_000
    file_bytes: int = 100 * 1024**2
    tmp_bytes: int = 256 * 1024**2
    #: threads of torch/numpy in the kernel; a worker grades one notebook at a time, so one
    #: thread each keeps N workers on N cores instead of oversubscribing them
    kernel_threads: int = 1
    isolate: bool = True

    def __post_init__(self) -> None:
        for name in ("cell_timeout", "notebook_timeout", "memory_bytes", "max_processes",
                     "max_output_bytes", "file_bytes", "tmp_bytes", "kernel_threads"):
            check_positive_int(f"Limits.{name}", getattr(self, name))


@lru_cache(maxsize=1)
def bwrap_problem() -> str | None:
    """Why bubblewrap cannot sandbox kernels here, or None when it can (probed once)."""
    if os.environ.get(DISABLE_ENV, "").lower() == "off":
        return f"bubblewrap switched off ({DISABLE_ENV}=off)"
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        return "bubblewrap (bwrap) is not installed"
    probe = [bwrap, "--unshare-net", "--unshare-pid", "--die-with-parent",
             "--ro-bind", "/", "/", "--proc", "/proc", "--dev", "/dev", "true"]
    if os.geteuid() != 0:
        probe.insert(1, "--unshare-user")
    try:
        result = subprocess.run(probe, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as error:
        return f"bubblewrap does not run: {error}"
    if result.returncode != 0:
        return f"bubblewrap does not run here: {result.stderr.strip() or result.returncode}"
    return None


def isolation_warning(limits: Limits = Limits()) -> str | None:
    """The loud once-per-run warning when kernels will not be isolated, else None."""
    problem = "isolation switched off (Limits.isolate=False)" if not limits.isolate else bwrap_problem()
    if problem is None:
        return None
    lost = ("student code can read solutions/, the gradebook and other students' work, "
            "write wherever the grading user can, open network connections and signal "
            "the grader's processes")
    kept = "time, memory, CPU, file-size and output limits still apply"
    if os.geteuid() == 0:
        lost += ("; as root the kernel keeps root unless the Python install is readable by "
                 "other users, and then the process limit (fork bombs) is not enforced")
    else:
        kept += "; the process limit counts all of this user's processes"
    return f"WARNING: grading WITHOUT a sandbox: {problem}. Unprotected: {lost}. Kept: {kept}."


def configure(scratch: Path, limits: Limits, zygote: str | None = None) -> tuple[dict[str, str], Settings]:
    """Prepare ``scratch`` for sandboxed autograding: (subprocess environment, nbgrader settings).

    ``zygote`` is the socket of the worker's zygote (``zygote.py``): when given and the
    sandbox is on, kernels are forked from it warm instead of started cold in bubblewrap.
    """
    scratch = Path(scratch).resolve()
    home = scratch / ".sandbox"
    sockets = home / "ipc" / "kernel"  # the kernel's channels: kernel-<port> Unix sockets
    if len(os.fsencode(sockets)) + _PORT_SUFFIX > _SOCKET_PATH_MAX:
        raise ValueError(f"scratch must be a shorter path: the kernel's Unix sockets under it would "
                         f"pass the {_SOCKET_PATH_MAX}-byte limit of a socket path ({scratch})")
    kernel_dir = home / "jupyter" / "kernels" / KERNEL_NAME
    for folder in (kernel_dir, home / "runtime", home / "ipc"):
        folder.mkdir(parents=True, exist_ok=True)
    bwrap = shutil.which("bwrap") if limits.isolate and bwrap_problem() is None else None
    policy = {
        "bwrap": bwrap or "",
        "ro_binds": sorted({sys.base_prefix, sys.prefix, str(Path(course_lib.__file__).parent)}),
        # warm kernels only where the cold ones would be sandboxed too: one switch for both
        "zygote": zygote if bwrap else None,
        "limits": {**asdict(limits), "cpu_seconds": limits.notebook_timeout + 60},
    }
    (home / "policy.json").write_text(json.dumps(policy, indent=1))
    spec = {
        "argv": [sys.executable, str(_LAUNCHER), "--policy", str(home / "policy.json"),
                 "-f", "{connection_file}"],
        "display_name": "rnn-course sandbox",
        "language": "python",
        # the kernel interrupts itself on request: no signal reaches it through bwrap
        "interrupt_mode": "message",
    }
    if policy["zygote"]:  # nbgrader's process asks the zygote itself: no launcher process
        spec["metadata"] = {"kernel_provisioner": {"provisioner_name": WARM_PROVISIONER}}
    (kernel_dir / "kernel.json").write_text(json.dumps(spec, indent=1))
    env = {
        "JUPYTER_PATH": str(home / "jupyter"),
        "JUPYTER_RUNTIME_DIR": str(home / "runtime"),
        "RNN_COURSE_SANDBOX_REPORT": str(scratch / REPORT_FILE),
    }
    settings: Settings = {
        ("Autograde", "sanitize_preprocessors"): [
            "nbgrader.preprocessors.ClearOutput", f"{_INTEGRITY}.RestoreTestCells",
            "nbgrader.preprocessors.DeduplicateIds", "nbgrader.preprocessors.OverwriteKernelspec",
            "nbgrader.preprocessors.OverwriteCells", "nbgrader.preprocessors.CheckCellMetadata"],
        ("Autograde", "autograde_preprocessors"): [
            f"{_INTEGRITY}.SandboxedExecute", "nbgrader.preprocessors.IgnorePattern",
            "nbconvert.preprocessors.ClearMetadataPreprocessor", "nbgrader.preprocessors.LimitOutput",
            "course_lib.grading.autogrades.SaveAutoGradesOnce", "nbgrader.preprocessors.AssignLatePenalties",
            "nbgrader.preprocessors.CheckCellMetadata"],
        ("KernelManager", "transport"): "ipc",
        ("KernelManager", "ip"): str(sockets),
        ("AsyncKernelManager", "client_class"): "course_lib.grading.kernel_client.PromptKernelClient",
        ("SandboxedExecute", "kernel_name"): KERNEL_NAME,
        ("SandboxedExecute", "timeout"): limits.cell_timeout,
        # below the worker's hard kill, so that the notebook still ends with grades
        ("SandboxedExecute", "notebook_timeout"):
            max(limits.notebook_timeout - 30, limits.notebook_timeout * 3 // 4),
        ("SandboxedExecute", "max_output_bytes"): limits.max_output_bytes,
        ("SandboxedExecute", "memory_bytes"): limits.memory_bytes,
    }
    return env, settings


def describe_unreadable(data: bytes) -> str | None:
    """Why a submitted notebook file cannot be graded at all, in the student's terms; else None."""
    if not data.strip():
        return "the notebook file is empty"
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        return f"the notebook file is not UTF-8 text (bad byte at offset {error.start})"
    try:
        content = json.loads(text)
    except json.JSONDecodeError as error:
        return f"the notebook file is not valid JSON (line {error.lineno}: {error.msg})"
    if not isinstance(content, dict) or "nbformat" not in content:
        return "the file is JSON but not a Jupyter notebook"
    return None


def read_messages(scratch: Path) -> list[str]:
    """What the sandbox did for the student graded in ``scratch``, in order."""
    path = Path(scratch) / REPORT_FILE
    if not path.exists():
        return []
    return [json.loads(line)["message"] for line in path.read_text().splitlines() if line.strip()]
