"""Run the ``nbgrader`` command in forked children of a host that imported it once.

Why not ``subprocess.run(["nbgrader", ...])``: importing nbgrader costs about 2 s
(nbformat's schema validator, jupyter_server, ...), as much as grading a small
submission, so a fresh process per submission would halve the speed-up. Each
grading worker starts one ``forkhost`` process (see ``forkhost.py``) that imports
nbgrader once; every call forks a child from it, in its own working directory,
environment and log file. The worker's threads share the host, and their calls' children run
side by side (a local run's one worker has a thread per core). A submission is one call:
``nbgrader_child.grade``
runs the very code of the ``nbgrader`` console script
(``NbGraderApp.launch_instance``) for autograde and then for feedback.
A child that passes its deadline is killed together with everything it started
(the notebook's kernel included). The host also forks the worker's zygote, the process
that forks warm kernels (``zygote.py``), so that the two import torch once between them.
"""

from __future__ import annotations

import itertools
import json
import os
import queue
import subprocess
import sys
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import psutil

from course_lib.grading import zygote
from course_lib.grading.kernel_launcher import JsonLines


@dataclass(frozen=True)
class Finished:
    """How a child ended: its exit code and the CPU seconds it (and its kernel) used."""

    code: int
    cpu_seconds: float


class ChildTimeout(Exception):
    """The child ran past its deadline and was killed with everything it started."""


class ForkHostError(RuntimeError):
    """The fork host died or answered nonsense."""


class ForkHost:
    """The client end of one ``forkhost`` process (and of the zygote it forks, when asked for
    one). Safe to call from many threads at once: each call's child runs beside the others'."""

    def __init__(self, modules: tuple[str, ...], kernels: bool, cells: dict | None = None) -> None:
        #: the worker's zygote, forked by the host; None when kernels start cold
        self.zygote = zygote.Zygote() if kernels else None
        argv = [sys.executable, "-m", "course_lib.grading.forkhost"]
        if self.zygote is not None:
            argv += ["--zygote", self.zygote.socket_path, *map(str, self.zygote.child_fds)]
        # started with a kernel's environment: the zygote is forked from it (see forkhost.py)
        self._process = subprocess.Popen(
            [*argv, *modules], stdin=subprocess.PIPE, stdout=subprocess.PIPE, close_fds=True,
            pass_fds=self.zygote.child_fds if self.zygote else (), env=zygote.process_env(),
        )
        first = {"env": dict(os.environ), "cells": cells or {}}
        self._process.stdin.write((json.dumps(first) + "\n").encode())
        self._process.stdin.flush()
        if self.zygote is not None:
            self.zygote.started()
        replies = JsonLines(self._process.stdout.fileno())
        try:
            replies.next(None)  # {"ready": true}: nbgrader is imported
        except EOFError:
            raise ForkHostError(self._exited()) from None
        self._lock = threading.Lock()  #: guards the pipe to the host and the calls' queues
        self._calls: dict[int, queue.SimpleQueue] = {}
        self._ids = itertools.count(1)
        self._ended: str | None = None  #: why the host stopped answering, once it has
        threading.Thread(target=self._dispatch, args=(replies,), name="rnn-course fork host",
                         daemon=True).start()

    @property
    def alive(self) -> bool:
        """The host runs, and so does its zygote if it had a warm one (one that found no
        namespaces to fork into ends at once, and kernels then start cold)."""
        warm = self.zygote is not None and self.zygote.problem is None
        return self._process.poll() is None and (not warm or self.zygote.alive)

    def close(self) -> None:
        """End the host (once its running children have ended) and its zygote."""
        if self.zygote is not None:
            self.zygote.close()
        with self._lock:
            self._process.stdin.close()
        self._process.wait()

    def call(self, request: dict, timeout: float | None) -> Finished:
        """Run ``request`` in a forked child; how it ended. Kills the child (and everything it
        started) and raises :class:`ChildTimeout` after ``timeout`` seconds."""
        answers: queue.SimpleQueue = queue.SimpleQueue()
        with self._lock:
            if self._ended is not None:
                raise ForkHostError(self._ended)
            ident = next(self._ids)
            self._calls[ident] = answers
            try:
                self._process.stdin.write((json.dumps({**request, "id": ident}) + "\n").encode())
                self._process.stdin.flush()
            except (OSError, ValueError):
                del self._calls[ident]
                raise ForkHostError(self._exited()) from None
        try:
            pid = self._answer(answers, None)["pid"]
            try:
                reply = self._answer(answers, timeout)
                return Finished(reply["exit"], reply["cpu"])
            except TimeoutError:
                _kill_tree(pid)
                self._answer(answers, None)  # the host reaps the child and reports it
                raise ChildTimeout(f"{request['target']} ran past its {timeout:g} s deadline "
                                   "and was killed") from None
        finally:
            with self._lock:
                self._calls.pop(ident, None)

    def _answer(self, answers: queue.SimpleQueue, timeout: float | None) -> dict:
        try:
            reply = answers.get(timeout=timeout)
        except queue.Empty:
            raise TimeoutError from None
        if reply is None:
            raise ForkHostError(self._ended)
        return reply

    def _exited(self) -> str:
        """Why calls fail once the host's pipes have closed: it has exited, with this code."""
        return f"the fork host exited (code {self._process.wait()})"

    def _dispatch(self, replies: JsonLines) -> None:
        """Hand each reply of the host to the call it answers; when the host has gone, tell
        every call still waiting."""
        try:
            while True:
                reply = replies.next(None)
                with self._lock:
                    answers = self._calls.get(reply.get("id"))
                if answers is not None:
                    answers.put(reply)
        except (EOFError, OSError, ValueError):
            pass
        ended = self._exited()
        with self._lock:
            self._ended = ended
            for answers in self._calls.values():
                answers.put(None)


_host: ForkHost | None = None
_host_lock = threading.Lock()


def _get_host(modules: Sequence[str], cells: dict | None = None) -> ForkHost:
    """This process's fork host, started with ``modules`` imported and the assignment's
    ``cells`` prepared (see ``forkhost.py``) when there is none (or when it or its zygote has
    died).

    A host started by an earlier run keeps what it imported and prepared; a child imports and
    prepares what it lacks.
    """
    global _host
    if _host is None or not _host.alive:
        if _host is not None:
            _host.close()
        _host = ForkHost(tuple(modules), kernels=not zygote.switched_off(), cells=cells)
    return _host


def call(target: str, *args: str, cwd: Path, log_path: Path | None = None,
         env: Mapping[str, str] | None = None, timeout: float | None = None,
         preload: Sequence[str] = ()) -> Finished:
    """Run ``target`` (``"module:function"``) with string ``args`` in a forked child; say how it ended.

    The child works in ``cwd``, with ``env`` added to the host's environment, and
    its stdout and stderr appended to ``log_path``. Returning gives exit code 0,
    ``sys.exit(n)`` gives ``n``, an exception 1 (its traceback goes to the log).
    Raises :class:`ChildTimeout` after ``timeout`` seconds, once the child and all
    its descendants are killed. The host that forks it has imported ``preload``.
    """
    if ":" not in target:
        raise ValueError(f"target must look like 'module:function', got {target!r}")
    if timeout is not None and timeout <= 0:
        raise ValueError(f"timeout must be positive, got {timeout!r}")
    request = {"target": target, "args": list(args), "cwd": str(cwd),
               "log": None if log_path is None else str(log_path), "env": dict(env or {})}
    with _host_lock:
        host = _get_host(preload)
    return host.call(request, timeout)


def warm_up(modules: Sequence[str], cells: dict | None = None) -> None:
    """Start this process's fork host and zygote; wait until they have imported ``modules`` and
    the host has prepared the assignment's ``cells`` (see ``forkhost.py``)."""
    with _host_lock:
        _get_host(modules, cells)


def kernels(modules: Sequence[str]) -> zygote.Zygote | None:
    """This process's zygote (its fork host's), started with ``modules`` imported when there is
    none; None where kernels start cold (switched off, or no namespaces here)."""
    if zygote.switched_off():
        return None
    with _host_lock:
        warm = _get_host(modules).zygote
    return warm if warm is not None and warm.problem is None else None


def _kill_tree(pid: int) -> None:
    try:
        root = psutil.Process(pid)
        family = root.children(recursive=True) + [root]
    except psutil.NoSuchProcess:
        return
    for process in family:
        try:
            process.kill()
        except psutil.NoSuchProcess:
            pass
    psutil.wait_procs(family, timeout=10)
