"""Warm kernels: a process that imported torch once forks each submission's kernel, sandboxed.

A cold grading kernel costs about two seconds of one core before the student's first
cell runs: a fresh interpreter, ipykernel, ``import torch``. Each grading worker
therefore keeps one *zygote* that has those modules imported and only forks. The
worker's fork host (``forkhost.py``), which needs the same heavy modules for the judge,
imports them and then forks the zygote, so they are imported once per worker, not twice.
nbgrader's process asks it for a kernel over a Unix socket (``provisioner.py``; the kernel
command, ``kernel_launcher.py``, where no provisioner runs), passing the kernel's
stdin/stdout/stderr and the sandbox policy; the zygote forks, and the fork builds the same
sandbox bubblewrap builds on the cold path, then becomes the kernel.

Why one submission cannot see or affect another's, although all kernels of a worker
come from the same process:

- **Memory.** The zygote never runs student code and never holds a submission: it
  imports modules and forks, nothing else. Every kernel is a fresh fork of that clean
  image (copy-on-write: writes land in the kernel's own pages), never of another kernel.
  Its random generators are seeded from the OS, as a fresh interpreter's are.
- **Files.** Each kernel gets new mount, pid, network, IPC and UTS namespaces and a
  root of its own (``pivot_root``): read-only binds of the system, the Python install
  and ``course_lib``; writable only its own submission folder and its socket folder;
  a private ``/tmp``; the notebook files (which hold the hidden tests) replaced by an
  empty read-only file. Other submissions' folders, the zygote's socket and the grader's files
  are not in its view at all.
- **Processes.** The kernel runs in a pid namespace of its own, under a small init
  (:func:`_init`): when it ends, the kernel of the host kills everything it started; it
  cannot see or signal processes outside. It runs under a uid of its own with the same rlimits as a cold kernel
  (``kernel_launcher.apply_limits``).
- **Network.** A new network namespace has no interface but a loopback that is down;
  the kernel talks to nbgrader through Unix sockets in its socket folder.
- **Environment.** The fork host starts with only the variables a kernel needs
  (:func:`process_env`) and forks the zygote before it reads the worker's environment (which
  may hold a database password) from its pipe. So no secret of the worker is ever in the
  zygote's memory, and ``/proc/self/environ`` of a kernel shows that scrubbed list.

The fork needs the right to create namespaces (root, or unprivileged user namespaces).
:class:`Zygote` probes it when it starts; where it is missing, kernels start cold in
bubblewrap as before.

Protocol (``kernel_launcher.start_warm`` is the other end): the grader sends one JSON line
(``root``, ``ro_binds``, ``workdir``, ``connection``, ``ipc_dir``, ``limits``, ``argv``,
``env``) with the kernel's three standard file descriptors attached (``SCM_RIGHTS``); it gets
back ``{"pid": init}`` once the kernel is forked (``{"error": why}`` if it could not be), and
``{"exit": code, "cpu": seconds}`` when the kernel has ended (the CPU time of the kernel and its
init, which a grader cannot measure: the kernel is not its child). If the grader's end stops
writing or closes first (its process was killed), the kernel is killed.
The worker's end holds the zygote's stdin and stdout: the zygote says once whether it can fork
kernels, and closing its stdin ends it.
"""

from __future__ import annotations

import ctypes
import gc
import importlib
import json
import linecache
import os
import platform
import resource
import select
import shutil
import signal
import socket
import sys
import tempfile
import threading
from collections.abc import Sequence
from pathlib import Path

from course_lib.grading import kernel_launcher, preload, tmpdirs

#: imported once here with the run's modules (see ``preload``), inherited by every kernel:
#: ipykernel and what its start-up and ``_reseed`` import on the way (``ipykernel.debugger``
#: brings debugpy's 145 modules, 0.07 s of CPU per kernel; importing these starts no thread
#: and sets no hook). Not matplotlib's inline backend: it hooks into the IPython shell when
#: first imported, which must happen in the kernel, after its shell exists.
PRELOAD = ("ipykernel.kernelapp", "ipykernel.ipkernel", "ipykernel.zmqshell", "ipykernel.debugger",
           "IPython.core.debugger", "IPython.core.completerlib", "IPython.core.oinspect",
           "IPython.core.logger", "IPython.extensions.storemagic", "tornado.platform.asyncio",
           "sqlite3", "numpy.random", "course_lib.grading.executor")

_THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
DISABLE_ENV = "RNN_COURSE_WARM_KERNELS"  # "off": every kernel starts cold
_SOCKET_NAME = "zygote.sock"
_MAX_REQUEST = 1 << 20
_END_SECONDS = 5.0  # for a kernel's namespace to end when asked, before it is killed

_CLONE_NEWNS, _CLONE_NEWUTS, _CLONE_NEWIPC = 0x00020000, 0x04000000, 0x08000000
_CLONE_NEWUSER, _CLONE_NEWPID, _CLONE_NEWNET = 0x10000000, 0x20000000, 0x40000000
_MS_RDONLY, _MS_NOSUID, _MS_NODEV, _MS_REMOUNT = 1, 2, 4, 32
_MS_BIND, _MS_REC, _MS_PRIVATE = 4096, 16384, 1 << 18
_MNT_DETACH = 2
_PR_SET_PDEATHSIG = 1
_SYS_PIVOT_ROOT = {"x86_64": 155, "aarch64": 41}
_libc = ctypes.CDLL(None, use_errno=True)


# --------------------------------------------------------------------------- the worker's end
def process_env() -> dict[str, str]:
    """The environment a zygote starts with: what a kernel gets (``kernel_launcher.kernel_env``),
    one thread for BLAS and OpenMP (kernels are single-threaded, ``Limits.kernel_threads``, so no
    thread pools are started at import, and none exist in the process that forks), and the
    inline matplotlib backend (read by matplotlib when imported)."""
    return {**kernel_launcher.kernel_env(), **dict.fromkeys(_THREAD_VARIABLES, "1"),
            "MPLBACKEND": kernel_launcher.INLINE_BACKEND}


def switched_off() -> bool:
    """Whether warm kernels are switched off (:data:`DISABLE_ENV` is ``off``): every kernel starts cold."""
    return os.environ.get(DISABLE_ENV, "").lower() == "off"


class Zygote:
    """The worker's end of one zygote: where it listens, and the CPU its kernels have used.

    The zygote is forked by the worker's fork host (``runner.py``, ``forkhost.py``) before that
    host learns the worker's environment; this object makes the two pipes the zygote talks
    over. Its ends are :attr:`child_fds`, handed to the fork host; :meth:`started` then waits
    for the zygote's first line.
    """

    def __init__(self) -> None:
        self._folder = tempfile.mkdtemp(prefix=tmpdirs.prefix("zygote"))  # 0700: the grader's only
        self.socket_path = os.path.join(self._folder, _SOCKET_NAME)
        requests_in, requests_out = os.pipe()
        replies_in, replies_out = os.pipe()
        #: the zygote's stdin and stdout, for the process that forks it
        self.child_fds = (requests_in, replies_out)
        self._requests = os.fdopen(requests_out, "w", buffering=1)
        self._replies = os.fdopen(replies_in, "r")
        self._lock = threading.Lock()
        #: None when kernels can be forked here, else why not
        self.problem: str | None = "not started"

    def started(self) -> None:
        """Close the zygote's ends here (the fork host has them) and wait until it is ready."""
        for fd in self.child_fds:
            os.close(fd)
        ready = json.loads(self._replies.readline() or '{"warm": false, "why": "exited"}')
        self.problem = None if ready.get("warm") else ready.get("why", "unknown")

    @property
    def alive(self) -> bool:
        """Whether the zygote still runs: it writes only when asked, so a reply pipe with
        something to read between requests has reached its end."""
        with self._lock:
            return not self._replies.closed and not select.select([self._replies], [], [], 0)[0]

    def close(self) -> None:
        """Tell the zygote to end (kernels it started run on until their graders end them)."""
        with self._lock:
            for pipe in (self._requests, self._replies):
                try:
                    pipe.close()
                except OSError:
                    pass
        shutil.rmtree(self._folder, ignore_errors=True)


# --------------------------------------------------------------------------- the zygote
def main(socket_path: str, modules: Sequence[str] = ()) -> None:
    """Preload, probe, then fork a kernel per connection until stdin closes (run in the
    child the fork host forks, with stdin and stdout the pipes of :class:`Zygote`)."""
    for module in PRELOAD:
        importlib.import_module(module)
    preload.import_modules(modules)
    _warm_tracebacks()
    gc.freeze()  # kernels' collectors then leave the preloaded objects' pages shared
    problem = _probe()
    print(json.dumps({"warm": problem is None, "why": problem}), flush=True)
    if problem is not None:
        shutil.rmtree(os.path.dirname(socket_path), ignore_errors=True)
        return
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(socket_path)
    listener.listen(16)
    try:
        while True:
            ready, _, _ = select.select([sys.stdin, listener], [], [])
            _reap()
            if listener in ready:
                connection, _ = listener.accept()
                if os.fork() == 0:
                    listener.close()
                    os._exit(_serve(connection))
                connection.close()
            if sys.stdin in ready and not sys.stdin.readline():  # the worker has gone
                return
    finally:
        listener.close()
        # the folder the worker's end made for the socket alone (a Dask worker ends without
        # closing its Zygote, and its folder stayed behind in /tmp)
        shutil.rmtree(os.path.dirname(socket_path), ignore_errors=True)


def _reap() -> None:
    """Collect every ended child (the processes that served a kernel's connection)."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def _warm_tracebacks() -> None:
    """Format one traceback as a kernel formats a cell's error, so that every kernel inherits
    what the first one costs: about 0.06 s of CPU in each kernel whose cells raise.

    IPython imports ``stack_data`` and pygments' terminal formatter for its first traceback
    and builds its colour theme's formatter, and ``inspect.getmodule`` (which IPython asks for
    every frame's module) maps the file of every loaded module on its first call, torch's
    thousands among them. The frame's file is a cell's kind of file (its source only in
    ``linecache``) under a name no kernel's cell has; it is dropped from ``linecache`` again.
    """
    from IPython.core.interactiveshell import InteractiveShell
    from IPython.core.ultratb import AutoFormattedTB

    filename = "/rnn-course-zygote/warm-up.py"
    source = "def answer(x):\n    return x.missing\n\nanswer(1)\n"
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    formatter = AutoFormattedTB(mode="Context", theme_name=InteractiveShell.colors.default_value)
    try:
        exec(compile(source, filename, "exec"), {})
    except AttributeError as error:
        formatter.structured_traceback(type(error), error, error.__traceback__)
    finally:
        linecache.cache.pop(filename, None)


def _probe() -> str | None:
    """Why kernels cannot be forked into namespaces here, or None when they can."""
    if platform.machine() not in _SYS_PIVOT_ROOT:
        return f"no pivot_root system call number known for {platform.machine()}"
    pid = os.fork()
    if pid == 0:
        try:
            _enter_namespaces()
            os._exit(0)
        except OSError:
            os._exit(1)
    _, status = os.waitpid(pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        return "this process may not create mount, pid and network namespaces"
    return None


def _check(result: int, what: str) -> None:
    if result != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"{what}: {os.strerror(errno)}")


def _enter_namespaces() -> None:
    """New mount, pid, network, IPC and UTS namespaces (and a user one when not root)."""
    flags = _CLONE_NEWNS | _CLONE_NEWPID | _CLONE_NEWNET | _CLONE_NEWIPC | _CLONE_NEWUTS
    uid, gid = os.getuid(), os.getgid()
    if os.geteuid() != 0:
        flags |= _CLONE_NEWUSER
    _check(_libc.unshare(flags), "unshare")
    if flags & _CLONE_NEWUSER:  # be root inside, the same user outside
        Path("/proc/self/setgroups").write_text("deny")
        Path("/proc/self/uid_map").write_text(f"0 {uid} 1")
        Path("/proc/self/gid_map").write_text(f"0 {gid} 1")
    _check(_libc.mount(None, b"/", None, _MS_REC | _MS_PRIVATE, None), "make / private")


# --------------------------------------------------------------------------- one kernel
def _serve(connection: socket.socket) -> int:
    """In the fork for one connection: start the kernel sandboxed, wait, report its end."""
    try:
        message, fds, _, _ = socket.recv_fds(connection, _MAX_REQUEST, 3)
        request = json.loads(message)
        _enter_namespaces()
    except (OSError, ValueError) as error:
        connection.sendall(json.dumps({"error": str(error)}).encode() + b"\n")
        return 1
    # never written: its read end, kept by the init, ends (EOF) when this process does
    watcher_alive, watching = os.pipe()
    kernel = os.fork()  # pid 1 of the new pid namespace: the kernel's init
    if kernel == 0:
        connection.close()
        os.close(watching)
        _become_kernel(request, fds, watcher_alive)
    os.close(watcher_alive)
    for fd in fds:
        os.close(fd)
    try:
        connection.sendall(json.dumps({"pid": kernel}).encode() + b"\n")
    except OSError:  # the grader's end is gone: the loop below ends the namespace
        pass
    watched = os.pidfd_open(kernel)
    ready = []
    while watched not in ready:
        ready, _, _ = select.select([connection, watched], [], [])
        if connection in ready and not connection.recv(1):  # the grader has gone: so has the kernel
            _end_namespace(kernel, watched)
            break
    # the init's time includes the kernel's, which it reaped; with this process's, the zygote's
    _, status, usage = os.wait4(kernel, 0)
    ended = {"exit": os.waitstatus_to_exitcode(status), "cpu": usage.ru_utime + usage.ru_stime}
    try:
        connection.sendall(json.dumps(ended).encode() + b"\n")
    except OSError:
        pass
    return 0


def _end_namespace(init: int, watched: int) -> None:
    """Ask the namespace's init to end every process in it and reap them (``_init``); kill it
    if it has not ended within :data:`_END_SECONDS` (a signal it has no handler for yet, from
    outside its namespace, is ignored, and a killed init reaps nothing: its kernel's CPU time
    would never reach what the grader is told)."""
    os.kill(init, signal.SIGTERM)
    if not select.select([watched], [], [], _END_SECONDS)[0]:
        os.kill(init, signal.SIGKILL)


def _become_kernel(request: dict, fds: list[int], watcher_alive: int) -> None:
    """Enter the sandbox's root, become a fresh-looking process, run ipykernel (never returns).

    ``watcher_alive`` is the read end of a pipe the watching process holds open (see
    :func:`_init`); it becomes descriptor 3 of the init, and the kernel does not keep it.
    """
    try:
        os.setsid()
        for target, fd in enumerate((*fds, watcher_alive)):
            os.dup2(fd, target)
        os.closerange(len(fds) + 1, resource.getrlimit(resource.RLIMIT_NOFILE)[0])
        _enter_root(request)
        kernel = os.fork()
        if kernel != 0:
            os._exit(_init(kernel, watcher_alive=len(fds)))
        os.close(len(fds))
        os.environ.clear()
        os.environ.update(request["env"])
        _reseed()
        sys.argv = ["kernel", *request["argv"]]
        kernel_launcher.inner(request["limits"], request["argv"])
        code = 0
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else 1
    except BaseException as error:  # nothing to report to but the kernel's own stderr
        print(f"rnn-course zygote: the kernel could not start: {error!r}", file=sys.stderr)
        code = 1
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def _init(kernel: int, watcher_alive: int) -> int:
    """Pid 1 of the kernel's namespace: reap every orphan until the kernel ends; its exit code.
    On SIGTERM (``_end_namespace``) it kills every other process in the namespace, so that it
    reaps the kernel, whose CPU time then counts in its own.

    The kernel itself is pid 2, so that it gets the signals an ordinary process gets (the
    kernel of the host ignores a signal to pid 1 sent from inside its namespace, even SIGKILL)
    and orphaned processes do not pile up as zombies under it. When this process ends, every
    process left in the namespace is killed. When the process that watches it ends without
    asking (killed with its process group, as a killed grading run is), the kernel of the host
    sends it SIGTERM too (``PR_SET_PDEATHSIG``), so the kernel does not outlive the grader.
    A watcher that ended before this process asked for that signal is seen on ``watcher_alive``,
    a pipe only the watcher could write to, now at its end: then everything here ends at once.
    """
    signal.signal(signal.SIGTERM, lambda *_: os.kill(-1, signal.SIGKILL))  # all but pid 1
    _check(_libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM), "ask for SIGTERM when the watcher ends")
    if select.select([watcher_alive], [], [], 0)[0]:  # it ended before it could be asked to tell
        os.kill(-1, signal.SIGKILL)
    while True:
        pid, status = os.wait()
        if pid == kernel:
            return 128 + os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)


def _reseed() -> None:
    """Give this kernel the random state an interpreter of its own would start with.

    A fresh process seeds Python's, numpy's and torch's generators from the OS; a fork
    would otherwise repeat the zygote's draws in every kernel.
    """
    import random

    import numpy
    import torch

    random.seed()
    numpy.random.seed()
    torch.seed()


def _enter_root(request: dict) -> None:
    """Build the kernel's view of the filesystem under a tmpfs and make it the root.

    The same view ``kernel_launcher.bwrap_argv`` asks bubblewrap for on the cold path.
    """
    root = request["root"]
    _check(_libc.mount(b"tmpfs", root.encode(), b"tmpfs", _MS_NOSUID | _MS_NODEV, b"mode=0755"),
           "mount the new root")
    _mount_tmp(root, request["limits"]["tmp_bytes"])  # first: the binds below may lie under it
    _mount_dev(root)
    for source in request["ro_binds"]:
        _bind(source, root, read_only=True)
    for name in ("bin", "lib", "lib64", "sbin"):
        target = os.path.join("/", name)
        if os.path.islink(target):
            os.symlink(os.readlink(target), root + target)
        elif os.path.isdir(target):
            _bind(target, root, read_only=True)
    _bind(request["connection"], root, read_only=True)
    _bind(request["ipc_dir"], root, read_only=False)
    _bind(request["workdir"], root, read_only=False)
    empty = root + "/.notebook"  # what the kernel reads in place of each notebook: nothing
    open(empty, "w").close()
    for notebook in sorted(Path(request["workdir"]).glob("*.ipynb")):
        _bind(empty, root, read_only=True, at=str(notebook))
    os.makedirs(root + "/proc", exist_ok=True)
    old = root + "/.old-root"
    os.mkdir(old)
    _check(_libc.syscall(_SYS_PIVOT_ROOT[platform.machine()], root.encode(), old.encode()),
           "pivot_root")
    os.chdir("/")
    _check(_libc.umount2(b"/.old-root", _MNT_DETACH), "detach the old root")
    os.rmdir("/.old-root")
    _check(_libc.mount(b"proc", b"/proc", b"proc", _MS_NOSUID | _MS_NODEV, None), "mount /proc")
    _check(_libc.mount(None, b"/", None, _MS_BIND | _MS_REMOUNT | _MS_RDONLY, None),
           "make the new root read-only")
    os.chdir(request["workdir"])


def _bind(source: str, root: str, read_only: bool, at: str | None = None) -> None:
    """Bind ``source`` at the same path (or ``at``) under ``root``; read-only if asked.

    Read-only binds also lose set-uid bits and device files (a device is bound writable).
    """
    target = root + (at or source)
    if os.path.isdir(source):
        os.makedirs(target, exist_ok=True)
    else:
        os.makedirs(os.path.dirname(target), exist_ok=True)
        if not os.path.exists(target):
            open(target, "w").close()
    _check(_libc.mount(source.encode(), target.encode(), None, _MS_BIND | _MS_REC, None),
           f"bind {source}")
    if read_only:
        flags = _MS_BIND | _MS_REMOUNT | _MS_RDONLY | _MS_NOSUID | _MS_NODEV
        _check(_libc.mount(None, target.encode(), None, flags, None), f"read-only {source}")


def _mount_tmp(root: str, size: int) -> None:
    os.makedirs(root + "/tmp")
    _check(_libc.mount(b"tmpfs", (root + "/tmp").encode(), b"tmpfs", _MS_NOSUID | _MS_NODEV,
                       f"mode=1777,size={size}".encode()), "mount /tmp")


def _mount_dev(root: str) -> None:
    """A minimal /dev: the harmless character devices, a small shm, the std links."""
    dev = root + "/dev"
    os.makedirs(dev)
    _check(_libc.mount(b"tmpfs", dev.encode(), b"tmpfs", _MS_NOSUID, b"mode=0755"), "mount /dev")
    for name in ("null", "zero", "full", "random", "urandom", "tty"):
        if os.path.exists("/dev/" + name):
            _bind("/dev/" + name, root, read_only=False)
    os.makedirs(dev + "/shm")
    _check(_libc.mount(b"tmpfs", (dev + "/shm").encode(), b"tmpfs", _MS_NOSUID | _MS_NODEV,
                       b"mode=1777,size=64m"), "mount /dev/shm")
    for name, target in (("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"),
                         ("stdout", "/proc/self/fd/1"), ("stderr", "/proc/self/fd/2")):
        os.symlink(target, f"{dev}/{name}")

