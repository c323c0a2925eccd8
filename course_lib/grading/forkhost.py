"""A small process that imports nbgrader once and forks a fresh child per request.

Run as ``python -m course_lib.grading.forkhost [MODULE ...]`` by ``runner.py``. It
imports the modules (see ``preload``), then talks
to it over stdin/stdout, one JSON line each way:

- request: ``{"target": "module:function", "args": [...], "cwd": ..., "log": ..., "env": {...}}``
- replies: ``{"pid": <child pid>}`` at once, then ``{"exit": <code>, "cpu": <seconds>}``
  when the child ends (a negative code is the signal that killed it; ``cpu`` is the
  user + system time of the child and everything it waited for: not a kernel in
  bwrap's own pid namespace, whose time never reaches its parent's rusage).

The child works in ``cwd`` with ``env`` added to the environment, its stdout and
stderr appended to ``log``, and calls the target: returning gives exit code 0,
``sys.exit(n)`` gives ``n``, an exception 1 with its traceback in the log.

Why not multiprocessing's "forkserver": in Python 3.11 its children re-run the
parent's ``__main__`` script, and Dask's daemonic workers may not use it.
The host is single-threaded, so forking it is safe; it exits when its parent
closes the pipe.
"""

from __future__ import annotations

import gc
import importlib
import json
import os
import resource
import sys
import traceback

from course_lib.grading import preload

#: imported once here, inherited by every child
PRELOAD = ("course_lib.grading.nbgrader_child", "course_lib.grading.integrity")


def main() -> None:
    """Serve requests from stdin until it closes."""
    for module in PRELOAD:
        importlib.import_module(module)
    preload.import_modules(sys.argv[1:])
    # the preloaded modules (torch among them) hold millions of objects; a child's garbage
    # collector walking them would write to every page they live on, copying each page the
    # fork shared. Frozen, the collector leaves them alone.
    gc.freeze()
    replies = os.fdopen(os.dup(1), "w", buffering=1)
    _redirect(os.devnull)  # stray prints of the host go nowhere, never into the protocol
    _send(replies, {"ready": True})
    for line in sys.stdin:
        request = json.loads(line)
        pid = os.fork()
        if pid == 0:
            replies.close()
            os._exit(_child(request))
        _send(replies, {"pid": pid})
        before = _children_cpu()
        _, status = os.waitpid(pid, 0)
        _send(replies, {"exit": os.waitstatus_to_exitcode(status), "cpu": _children_cpu() - before})


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


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
