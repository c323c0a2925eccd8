"""Start a grading kernel inside limits and, where possible, inside a bubblewrap sandbox.

nbgrader runs student code in an ordinary IPython kernel with the instructor's rights:
no memory or process limit, full view of the disk, the network open. This script is the
kernel command of the sandbox kernelspec that ``sandbox.configure`` writes, and runs in
two stages:

1. **outer** (``--policy FILE``), started by jupyter_client in the notebook's folder:
   reads the policy, hides the notebooks of that folder, and re-executes itself as the
   inner stage inside ``bwrap`` — read-only binds of only the Python install, the venv
   and ``course_lib``; the notebook folder and the kernel's socket folder writable; a
   private ``/tmp``; no network (``--unshare-net``: the kernel talks to nbgrader over
   unix sockets, jupyter_client's ``ipc`` transport); separate pid, ipc and uts
   namespaces; killed with its parent. Without bubblewrap it becomes the inner stage
   in place. Where the worker has a zygote (``zygote.py``), the zygote forks the kernel
   (:func:`start_warm`) and this stage waits for its end (:class:`WarmKernel`); nbgrader's
   own process does that work where it runs the warm kernels' provisioner
   (``provisioner.py``), and no launcher runs at all.
2. **inner** (``--inner LIMITS``): sets the rlimits (memory as RLIMIT_DATA, processes,
   CPU seconds, file size), drops root to a uid of its own and starts ipykernel.

RLIMIT_NPROC counts the tasks of a real uid and is never enforced for root, which is why
root gives the kernel a uid of its own (``KERNEL_UID_BASE`` + the pid of the process that
starts it, unique while the kernel lives); an ordinary user gets a user namespace from bwrap,
in which the count covers only that sandbox's tasks.

Test cells never run in this kernel: the grader's judge (``judge.py``) runs them in its own
process and calls the student's functions through ``executor.serve``, which the kernel runs
while a test is being judged, on each message of a comm (``JUDGE_COMM``) rather than as a cell
to execute: ipykernel then skips IPython's cell machinery (transforming and compiling a cell,
the execution reply), about half of what a request costs the kernel, some 17 times per
Assignment-1 submission.

Only the standard library is imported at module level: this file runs before the
kernel's own imports and inside a sandbox that sees little.
"""

from __future__ import annotations

import ctypes
import json
import os
import resource
import select
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

KERNEL_UID_BASE = 2_000_000_000  # far above login, systemd-dynamic and subuid ranges
#: what the kernel sees of the system, read-only (besides the Python install and course_lib)
SYSTEM_PATHS = ("/usr", "/etc/ld.so.cache", "/etc/localtime", "/etc/passwd", "/etc/group",
                "/etc/nsswitch.conf", "/etc/fonts")
#: top-level folders that are links into /usr on merged-/usr systems (bound when they are not)
ROOT_DIRS = ("bin", "lib", "lib64", "sbin")
#: variables a kernel keeps from the grader's environment (besides JPY_* and LC_*)
KERNEL_ENV = ("PATH", "LANG", "TZ", "TERM", "PYTHONHASHSEED", "PYTHONPATH", "VIRTUAL_ENV",
              "MPLBACKEND")
#: the matplotlib backend of every kernel: figures show as cell outputs
INLINE_BACKEND = "module://matplotlib_inline.backend_inline"
#: the comm target on which the judge asks the kernel to run ``executor.serve``: each message
#: ``{"path": ..., "token": ...}`` runs it once, and what it prints goes to that message's outputs
JUDGE_COMM = "rnn-course-judge"
_PR_SET_PDEATHSIG = 1


# --------------------------------------------------------------------------- outer stage
def _connection_file(argv: list[str]) -> Path:
    """The ``-f FILE`` argument jupyter_client gives every kernel."""
    for i, arg in enumerate(argv):
        if arg == "-f" and i + 1 < len(argv):
            return Path(argv[i + 1])
        if arg.startswith("-f="):
            return Path(arg[3:])
    raise SystemExit("kernel_launcher: no connection file (-f FILE) given")


def _chown_tree(path: Path, uid: int) -> None:
    """Hand ``path`` and everything under it to ``uid`` (root only): the kernel's rights."""
    os.chown(path, uid, uid, follow_symlinks=False)
    if path.is_dir() and not path.is_symlink():
        for root, dirs, files in os.walk(path):
            for name in dirs + files:
                os.chown(os.path.join(root, name), uid, uid, follow_symlinks=False)


def _with_parents(path: str) -> list[str]:
    """``--dir`` arguments making every ancestor of ``path`` traversable (bwrap makes them 0700)."""
    args: list[str] = []
    parts = Path(path).parts
    for depth in range(2, len(parts)):
        args += ["--perms", "0755", "--dir", str(Path(*parts[:depth]))]
    return args


def _others_can_read(path: str) -> bool:
    """Whether a uid of no group can reach ``path`` (every ancestor o+x, itself o+r)."""
    parts = Path(path).resolve().parts
    for depth in range(1, len(parts) + 1):
        mode = os.stat(Path(*parts[:depth])).st_mode
        if not mode & 0o001 or (depth == len(parts) and not mode & 0o004):
            return False
    return True


def read_only_paths(policy: dict) -> list[str]:
    """Every path the kernel sees read-only: the system's, the Python install's, course_lib's."""
    return [path for path in SYSTEM_PATHS if os.path.exists(path)] + list(policy["ro_binds"])


def bwrap_argv(policy: dict, workdir: Path, connection: Path, ipc_dir: Path) -> list[str]:
    """The bubblewrap command line: what the kernel may see, and nothing else."""
    argv = [policy["bwrap"], "--unshare-net", "--unshare-ipc", "--unshare-pid",
            "--unshare-uts", "--die-with-parent", "--new-session"]
    if os.geteuid() != 0:
        argv += ["--unshare-user", "--disable-userns"]
    argv += ["--proc", "/proc", "--dev", "/dev",
             "--perms", "1777", "--size", str(policy["limits"]["tmp_bytes"]), "--tmpfs", "/tmp"]
    for name in ROOT_DIRS:
        target = os.path.join("/", name)
        if os.path.islink(target):
            argv += ["--symlink", os.readlink(target), target]
        elif os.path.isdir(target):
            argv += ["--ro-bind", target, target]
    for src in read_only_paths(policy):
        argv += _with_parents(src) + ["--ro-bind", src, src]
    argv += _with_parents(str(connection.parent))
    argv += ["--ro-bind", str(connection), str(connection)]
    argv += _with_parents(str(ipc_dir)) + ["--bind", str(ipc_dir), str(ipc_dir)]
    argv += _with_parents(str(workdir)) + ["--bind", str(workdir), str(workdir)]
    # the notebook being graded holds the hidden tests: the kernel sees an empty file
    for notebook in sorted(workdir.glob("*.ipynb")):
        argv += ["--ro-bind", "/dev/null", str(notebook)]
    argv += ["--chdir", str(workdir)]
    return argv


def outer(policy_file: Path, kernel_argv: list[str]) -> None:
    """Start the kernel: warm from the zygote where the policy names one, else cold, in the inner
    stage (under bwrap when the policy has it); this process then is, or waits for, the kernel."""
    policy = json.loads(policy_file.read_text())
    workdir = Path.cwd()
    if policy.get("zygote"):
        kernel = start_warm(policy_file, kernel_argv, workdir, os.environ, (0, 1, 2))
        if isinstance(kernel, WarmKernel):
            raise SystemExit(kernel.wait())
        print(f"rnn-course: no warm kernel ({kernel}); starting a cold one", file=sys.stderr)
    connection, ipc_dir, limits = _prepare(policy, kernel_argv, workdir)
    inner_argv = [sys.executable, os.path.abspath(__file__), "--inner", json.dumps(limits),
                  *kernel_argv]
    if not policy["bwrap"]:
        inner(limits, kernel_argv)
        return
    # the kernel's own NPROC budget is set inside; the namespace it is counted in is new
    soft, hard = resource.getrlimit(resource.RLIMIT_NPROC)
    resource.setrlimit(resource.RLIMIT_NPROC, (hard, hard))
    argv = bwrap_argv(policy, workdir, connection, ipc_dir) + inner_argv
    os.execve(policy["bwrap"], argv, kernel_env())


def _prepare(policy: dict, kernel_argv: list[str], workdir: Path) -> tuple[Path, Path, dict]:
    """The kernel's connection file, its socket folder and its limits; as root, the kernel's
    files are handed to a uid of its own (the limits name it), the notebooks kept from it."""
    connection = _connection_file(kernel_argv).resolve()
    ipc_dir = Path(json.loads(connection.read_text())["ip"]).parent
    limits = dict(policy["limits"])
    limits["sandboxed"] = bool(policy["bwrap"])
    # bwrap re-creates the ancestors of its binds traversable; without it the kernel's uid
    # must reach Python by itself, else it stays root and RLIMIT_NPROC does not bind
    reachable = policy["bwrap"] or all(map(_others_can_read, policy["ro_binds"]))
    if os.geteuid() == 0 and reachable:
        # unique while the kernel lives: a process starts its next kernel only once the last
        # one has ended (``WarmKernel.wait``, ``Popen.wait``)
        limits["uid"] = KERNEL_UID_BASE + os.getpid()
        for path in (workdir, connection, ipc_dir):
            _chown_tree(path, limits["uid"])
        for notebook in workdir.glob("*.ipynb"):  # hidden tests: not for the kernel's uid
            os.chown(notebook, 0, 0)
            notebook.chmod(0o600)
    return connection, ipc_dir, limits


def parse_command(command: list[str]) -> tuple[Path, list[str]]:
    """This script's command line, ``[python, kernel_launcher.py, --policy, FILE, *KERNEL_ARGS]``
    (the kernelspec's, see ``sandbox.configure``) -> the policy file and the kernel's arguments."""
    try:
        at = command.index("--policy")
        return Path(command[at + 1]), command[at + 2:]
    except (ValueError, IndexError):
        raise ValueError(f"not a kernel_launcher command (no --policy FILE): {command!r}") from None


def start_warm(policy_file: Path, kernel_argv: list[str], workdir: Path,
               env: Mapping[str, str], streams: Sequence[int]) -> WarmKernel | str:
    """Have the worker's zygote (``zygote.py``) fork the kernel of ``workdir``, with the
    environment ``env`` scrubbed as every kernel's (``kernel_env``) and ``streams`` as its
    stdin, stdout and stderr; the running kernel, or why not."""
    policy = json.loads(policy_file.read_text())
    connection, ipc_dir, limits = _prepare(policy, kernel_argv, workdir)
    root = tempfile.mkdtemp(prefix="root-", dir=policy_file.parent)
    request = {"root": root, "ro_binds": read_only_paths(policy), "workdir": str(workdir),
               "connection": str(connection), "ipc_dir": str(ipc_dir),
               "limits": {**limits, "sandboxed": True}, "argv": kernel_argv,
               "env": kernel_env(env)}
    channel = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        channel.connect(policy["zygote"])
        socket.send_fds(channel, [json.dumps(request).encode()], list(streams))
        kernel = WarmKernel(channel)
        answer = kernel.next_answer(None) or {"error": "the zygote closed the connection"}
    except OSError as error:
        channel.close()
        return f"the zygote did not answer: {error}"
    if "error" in answer:
        channel.close()
        return str(answer["error"])
    kernel.pid = answer["pid"]
    return kernel


class WarmKernel:
    """A kernel the zygote forked, as jupyter_client sees a kernel's process (the part of
    ``subprocess.Popen`` it uses).

    Its channel to the zygote stays open while it runs. The zygote writes ``{"exit": code,
    "cpu": seconds}`` on it once the kernel's namespace has ended, and ends the namespace as
    soon as this end stops writing (:meth:`send_signal`) or closes, as it does when the process
    that holds it dies.
    """

    #: what jupyter_client closes when a kernel's process has ended: none here
    stdin = stdout = stderr = None
    #: CPU seconds of the warm kernels this process started that have ended (the zygote
    #: measures each; a kernel in a pid namespace never reaches its grader's own rusage)
    ended_cpu = 0.0

    def __init__(self, channel: socket.socket) -> None:
        self._channel = channel
        self._answers = JsonLines(channel.fileno())
        #: the pid of the namespace's init, which waits for the kernel
        self.pid: int | None = None
        self.returncode: int | None = None

    def poll(self) -> int | None:
        """The exit code once the kernel has ended, else None."""
        if self.returncode is None:
            self._take_exit(0)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        """Wait for the kernel's end; its exit code (128 + the signal that killed it)."""
        if self.returncode is None:
            self._take_exit(timeout)
        if self.returncode is None:
            raise subprocess.TimeoutExpired("warm kernel", timeout)
        return self.returncode

    def send_signal(self, signum: int) -> None:
        """End the kernel, whatever the signal: it runs in a pid namespace of its own, and the
        grader interrupts it by a message (the kernelspec's ``interrupt_mode``), never a signal."""
        if self.returncode is None:
            try:
                self._channel.shutdown(socket.SHUT_WR)
            except OSError:  # the zygote's end has gone: so has the kernel
                pass

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)

    def _take_exit(self, timeout: float | None) -> None:
        answer = self.next_answer(timeout)
        if answer is not None:
            # no exit line: the zygote's watcher died, and the kernel with it (its init's
            # PR_SET_PDEATHSIG); 1, as for any kernel that failed
            self.returncode = int(answer.get("exit", 1))
            WarmKernel.ended_cpu += float(answer.get("cpu", 0.0))
            self._channel.close()

    def next_answer(self, timeout: float | None) -> dict | None:
        """The zygote's next line (``{}`` once it has closed the channel), or None if none came
        within ``timeout`` seconds."""
        try:
            return self._answers.next(timeout)
        except EOFError:
            return {}


class JsonLines:
    """One JSON object a line, read from a pipe or a socket with a deadline: the zygote's
    answers here, the fork host's replies in ``runner.py``."""

    def __init__(self, fd: int) -> None:
        self._fd = fd
        self._buffer = b""

    def next(self, timeout: float | None) -> dict | None:
        """The next line's object, or None if none came within ``timeout`` seconds; raises
        ``EOFError`` once the other end has closed."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while b"\n" not in self._buffer:
            wait = None if deadline is None else max(0.0, deadline - time.monotonic())
            if not select.select([self._fd], [], [], wait)[0]:
                return None
            chunk = os.read(self._fd, 65536)
            if not chunk:
                raise EOFError
            self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\n", 1)
        return json.loads(line)


def kernel_env(environ: Mapping[str, str] = os.environ) -> dict[str, str]:
    """The environment a kernel gets from ``environ``: what Python and Jupyter need, no
    grader's secrets."""
    return {name: value for name, value in environ.items()
            if name in KERNEL_ENV or name.startswith(("JPY_", "LC_"))}


# --------------------------------------------------------------------------- inner stage
def _tasks_of_current_user() -> int:
    """How many tasks (threads count) this uid runs now: RLIMIT_NPROC's own count."""
    uid, count = os.getuid(), 0
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            status = Path("/proc", pid, "status").read_text()
        except OSError:
            continue
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        if int(fields.get("Uid", "-1").split()[0]) == uid:
            count += int(fields.get("Threads", "1"))
    return count


def apply_limits(limits: dict) -> None:
    """Set the rlimits and drop root; called in the process that becomes the kernel."""
    def cap(kind: int, value: int) -> None:
        hard = resource.getrlimit(kind)[1]
        value = value if hard == resource.RLIM_INFINITY else min(value, hard)
        resource.setrlimit(kind, (value, value))

    cap(resource.RLIMIT_DATA, limits["memory_bytes"])
    cap(resource.RLIMIT_CPU, limits["cpu_seconds"])
    cap(resource.RLIMIT_FSIZE, limits["file_bytes"])
    cap(resource.RLIMIT_CORE, 0)
    if "uid" in limits:
        os.setgroups([])
        os.setgid(limits["uid"])
        os.setuid(limits["uid"])
    nproc = limits["max_processes"]
    if not limits["sandboxed"] and "uid" not in limits:
        # no namespace of its own: the count includes everything this user runs
        nproc += _tasks_of_current_user()
    cap(resource.RLIMIT_NPROC, nproc)
    # die with nbgrader even where no bwrap does it (cleared by setuid, so set after)
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


def inner(limits: dict, kernel_argv: list[str]) -> None:
    """Limit this process, then run ipykernel in it."""
    apply_limits(limits)
    # the kernel's parent is bwrap (or a pid namespace's init), not the grader whose pid
    # this names: ipykernel would take that for its parent's death. PDEATHSIG covers it.
    scrubbed = kernel_env()
    scrubbed.pop("JPY_PARENT_PID", None)
    os.environ.clear()
    os.environ.update(scrubbed)
    home = "/tmp" if limits["sandboxed"] else os.getcwd()
    os.environ.update(HOME=home, MPLCONFIGDIR=os.path.join(home, ".matplotlib"),
                      TMPDIR=home, MPLBACKEND=INLINE_BACKEND,
                      OMP_NUM_THREADS=str(limits["kernel_threads"]),
                      MKL_NUM_THREADS=str(limits["kernel_threads"]))
    if "torch" in sys.modules:  # a warm kernel: torch was imported before the variables above
        sys.modules["torch"].set_num_threads(limits["kernel_threads"])
    script_dir = os.path.dirname(os.path.abspath(__file__))
    sys.path[:] = [p for p in sys.path if p not in ("", script_dir)]
    _cells_have_no_module()
    from ipykernel.kernelapp import IPKernelApp

    app = IPKernelApp.instance()
    # input history in memory, not in a SQLite file written by a thread of its own: nobody
    # reads a grading kernel's history after it ends
    app.initialize([*kernel_argv, "--HistoryManager.enabled=False"])
    app.kernel.comm_manager.register_target(JUDGE_COMM, _judge_comm_opened)
    app.start()


def _cells_have_no_module() -> None:
    """Answer ``inspect.getmodule`` at once for a frame or code object of a notebook cell.

    IPython's traceback asks for the module of every frame. A cell's file (ipykernel's
    ``<tmp>/ipykernel_<pid>/<hash>.py``) belongs to no module, and inspect only concludes that
    after walking every loaded module, thousands with torch: about 8 ms of CPU per traceback.
    The answer is the same, None; anything else (a function's ``__module__``) is looked up as
    before.
    """
    import inspect
    import types

    from ipykernel.compiler import get_tmp_directory

    getmodule = inspect.getmodule

    def cell_aware_getmodule(object, _filename=None):  # noqa: A002  (inspect's signature)
        code = object.f_code if isinstance(object, types.FrameType) else object
        if (_filename is None and isinstance(code, types.CodeType)
                and code.co_filename.startswith(get_tmp_directory() + os.sep)):
            return None
        return getmodule(object, _filename)

    inspect.getmodule = cell_aware_getmodule


def _judge_comm_opened(comm, _open_message) -> None:
    """Run ``executor.serve`` for each message of the judge's comm. The executor, and torch
    with it, is imported with the first message, after the student's first cells: a cold
    kernel imports nothing before they do."""

    def serve(message: dict) -> None:
        from course_lib.grading import executor

        data = message["content"]["data"]
        executor.serve(str(data["path"]), str(data["token"]))

    comm.on_msg(serve)


def main(argv: list[str]) -> None:
    """``--policy FILE KERNEL_ARGS`` (outer stage) or ``--inner LIMITS KERNEL_ARGS``."""
    if len(argv) >= 2 and argv[0] == "--policy":
        outer(*parse_command(argv))
    elif len(argv) >= 2 and argv[0] == "--inner":
        inner(json.loads(argv[1]), argv[2:])
    else:
        raise SystemExit("usage: kernel_launcher.py --policy FILE -f CONNECTION_FILE [...]")


if __name__ == "__main__":
    main(sys.argv[1:])
