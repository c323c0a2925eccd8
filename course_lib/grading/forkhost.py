"""A small process that imports nbgrader once and forks a fresh child per request.

Run as ``python -m course_lib.grading.forkhost [--zygote SOCKET IN OUT] [MODULE ...]`` by
``runner.py``, with the environment of a kernel (``zygote.process_env``). It starts in stages:

1. it imports the modules (see ``preload``) and what the judge and the kernels share;
2. with ``--zygote``, it forks the worker's zygote (``zygote.py``), whose stdin and stdout
   are the inherited descriptors IN and OUT; the zygote imports what kernels add;
3. only then it reads its first line, ``{"env": {...}, "cells": {"shown": {...}, "judged":
   [...]}}``, the worker's whole environment, the cells every feedback page of the assignment
   shows and the instructor's cells the judge runs; it takes the environment, imports
   nbgrader, renders the shown cells (``feedback.keep_renderings``) and parses and compiles the
   judged ones (``integrity.prepare_judge``) once for all its children, says
   ``{"ready": true}``, and serves requests.

So the heavy modules are imported once for both, and nothing the worker's environment holds
(a database password) is in the zygote's memory. After that it talks to ``runner.py`` over
stdin/stdout, one JSON line each way:

- request: ``{"id": ..., "target": "module:function", "args": [...], "cwd": ..., "log": ...,
  "env": {...}}``
- replies, each with the request's ``id``: ``{"pid": <child pid>}`` at once, then
  ``{"exit": <code>, "cpu": <seconds>}`` when the child ends (a negative code is the signal
  that killed it; ``cpu`` is the user + system time of the child and everything it waited
  for: not a kernel in bwrap's own pid namespace, whose time never reaches its parent's
  rusage).

Requests may come while earlier children run (a worker's threads share the host): each is
forked as it arrives, and the replies of different children interleave.

The child works in ``cwd`` with ``env`` added to the environment (its temporary files go
where that environment's ``TMPDIR`` says), its stdout and stderr appended to ``log``, and
calls the target: returning gives exit code 0,
``sys.exit(n)`` gives ``n``, an exception 1 with its traceback in the log.

Why not multiprocessing's "forkserver": in Python 3.11 its children re-run the
parent's ``__main__`` script, and Dask's daemonic workers may not use it.
The host is single-threaded, so forking it is safe; it exits when its parent
closes the pipe and its last child has ended.
"""

from __future__ import annotations

import gc
import importlib
import json
import os
import resource
import select
import sys
import tempfile
import traceback

from course_lib.grading import preload
from course_lib.grading.kernel_launcher import JsonLines

#: imported before the zygote is forked: the judge and the kernels' executor both use them
SHARED = ("course_lib.grading.executor",)
#: imported after, inherited by every child
PRELOAD = ("course_lib.grading.nbgrader_child", "course_lib.grading.integrity",
           "course_lib.grading.autogrades", "course_lib.grading.kernel_client",
           "course_lib.grading.provisioner")


def _split_argv(argv: list[str]) -> tuple[tuple[str, int, int] | None, list[str]]:
    """``([--zygote SOCKET IN OUT] MODULE ...)`` -> the zygote's arguments or None, the modules."""
    if argv[:1] != ["--zygote"]:
        return None, argv
    socket_path, requests, replies = argv[1:4]
    return (socket_path, int(requests), int(replies)), argv[4:]


def _fork_zygote(socket_path: str, requests: int, replies: int) -> None:
    """Fork the zygote: it serves on ``socket_path`` and talks over ``requests``/``replies``.

    Forked before this process has read anything from its own stdin: the child keeps only
    the two pipes (as its stdin and stdout) and ``/dev/null`` as stderr.
    """
    if os.fork() == 0:
        code = 1
        try:
            os.dup2(requests, 0)
            os.dup2(replies, 1)
            null = os.open(os.devnull, os.O_WRONLY)
            os.dup2(null, 2)
            os.closerange(3, resource.getrlimit(resource.RLIMIT_NOFILE)[0])
            from course_lib.grading import zygote

            zygote.main(socket_path)
            code = 0
        finally:
            os._exit(code)
    os.close(requests)
    os.close(replies)


def _take_environment(env: dict[str, str]) -> None:
    """Become a process of the worker's environment (modules already imported keep what they
    read at import: one BLAS thread, which suits a worker that grades one submission per core)."""
    os.environ.clear()
    os.environ.update(env)
    if "matplotlib" in sys.modules:  # imported under the kernels' inline backend
        import matplotlib

        matplotlib.use("agg")  # what the judge's figures need: no display, no IPython


def main() -> None:
    """Import, fork the zygote if asked, take the worker's environment, serve requests from
    stdin until it closes."""
    zygote_args, modules = _split_argv(sys.argv[1:])
    preload.import_modules((*SHARED, *modules))
    if zygote_args is not None:
        _fork_zygote(*zygote_args)
    requests = JsonLines(sys.stdin.fileno())
    first = requests.next(None)
    _take_environment(first["env"])
    for module in PRELOAD:
        importlib.import_module(module)
    from course_lib.grading.feedback import keep_renderings  # imported with PRELOAD
    from course_lib.grading.integrity import prepare_judge

    cells = first.get("cells", {})
    keep_renderings(cells.get("shown", {}))
    prepare_judge(cells.get("judged", ()))
    # the preloaded modules (torch among them) hold millions of objects; a child's garbage
    # collector walking them would write to every page they live on, copying each page the
    # fork shared. Frozen, the collector leaves them alone.
    gc.freeze()
    replies = os.fdopen(os.dup(1), "w", buffering=1)
    _redirect(os.devnull)  # stray prints of the host go nowhere, never into the protocol
    _send(replies, {"ready": True})
    _serve(requests, replies)


def _serve(requests: JsonLines, replies) -> None:
    """Fork a child for each request as it comes, report each child's end as it ends; return
    once the requests have closed and every child has ended.

    Requests and children are many at a time (a worker's threads share one host): each child
    is watched through a pidfd, and its CPU time is what ``wait4`` says of that child alone.
    """
    running: dict[int, tuple[int, object]] = {}  #: pidfd -> (pid, the request's id)
    reading = _start_children(requests, replies, running)  # any that came with the first line
    while reading or running:
        ready, _, _ = select.select(([0] if reading else []) + list(running), [], [])
        for fd in ready:
            if fd == 0:
                reading = _start_children(requests, replies, running)
                continue
            pid, ident = running.pop(fd)
            os.close(fd)
            _, status, usage = os.wait4(pid, 0)
            _send(replies, {"id": ident, "exit": os.waitstatus_to_exitcode(status),
                            "cpu": usage.ru_utime + usage.ru_stime})


def _start_children(requests: JsonLines, replies, running: dict) -> bool:
    """Fork a child for every request that has arrived; False once the requests have closed."""
    while True:
        try:
            request = requests.next(0)
        except EOFError:
            return False
        if request is None:
            return True
        pid = os.fork()
        if pid == 0:
            replies.close()
            for fd in running:
                os.close(fd)
            os._exit(_child(request))
        running[os.pidfd_open(pid)] = (pid, request.get("id"))
        _send(replies, {"id": request.get("id"), "pid": pid})


def _send(replies, message: dict) -> None:
    replies.write(json.dumps(message) + "\n")


def _redirect(path: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)


def exit_code(exit_: SystemExit) -> int:
    """The process exit code ``sys.exit(...)`` asks for: ``None`` is 0, any non-int 1."""
    return exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else 1)


def _child(request: dict) -> int:
    """Run one request in the forked child; return its exit code."""
    try:
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.close(null)
        _redirect(request.get("log") or os.devnull)
        os.chdir(request["cwd"])
        os.environ.update(request.get("env") or {})
        tempfile.tempdir = None  # the host's cached choice: the child's files follow its TMPDIR
        module, function = request["target"].split(":", 1)
        getattr(importlib.import_module(module), function)(*request.get("args", []))
        code = 0
    except SystemExit as exit_:
        code = exit_code(exit_)
    except BaseException:
        traceback.print_exc()
        code = 1
    sys.stdout.flush()
    sys.stderr.flush()
    return code


if __name__ == "__main__":
    main()
