"""A real Dask cluster on localhost: one ``dask scheduler`` and N ``dask worker`` processes.

Every process is a separate OS process started from the CLI an instructor would use on a
cluster, listening on 127.0.0.1 only, without dashboards. Each ``dask worker`` runs in its own
process group (its nanny and the worker process under it), so ``kill_worker(i)`` can SIGKILL one
worker for good — the nanny too, else it would restart the worker — and ``stop()`` can end
everything without touching any other process on the machine.

Workers start in their own scratch directory, not in the course: tasks must carry what they
need (the course's files are still readable on this one machine, but nothing is handed over
through the working directory).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

DASK = str(Path(sys.executable).parent / "dask")


def _group_kill(proc: subprocess.Popen, sig: int) -> None:
    try:
        os.killpg(proc.pid, sig)  # the process group this Popen leads (start_new_session)
    except ProcessLookupError:
        pass


def _tree_kill(proc: subprocess.Popen) -> None:
    """SIGKILL ``proc`` and every descendant, also those in sessions of their own.

    jupyter_client starts each kernel in a new session, so the process group alone would
    leave the kernel of a task in flight running: a machine that dies takes it along.
    """
    import psutil

    try:
        family = psutil.Process(proc.pid).children(recursive=True)
    except psutil.NoSuchProcess:
        family = []
    _group_kill(proc, signal.SIGKILL)
    for child in family:
        try:
            child.kill()
        except psutil.NoSuchProcess:
            pass
    psutil.wait_procs(family, timeout=10)


class LocalDaskCluster:
    """``start()`` it, grade against ``address``, ``stop()`` it (also on failure)."""

    def __init__(self, n_workers: int = 2, nthreads: int = 1, worker_args: tuple[str, ...] = ()):
        self.n_workers = n_workers
        self.nthreads = nthreads
        self.worker_args = worker_args  # more ``dask worker`` options, e.g. ("--preload", FILE)
        self.root = Path(tempfile.mkdtemp(prefix="rnn-course-dask-"))
        self.scheduler: subprocess.Popen | None = None
        self.workers: list[subprocess.Popen] = []
        self.address: str | None = None
        self.env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
                    "PYTHONUNBUFFERED": "1"}

    def _spawn(self, name: str, args: list[str]) -> subprocess.Popen:
        cwd = self.root / name
        cwd.mkdir()
        log = open(self.root / f"{name}.log", "wb")
        try:
            return subprocess.Popen([DASK, *args], cwd=cwd, env=self.env, stdin=subprocess.DEVNULL,
                                    stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        finally:
            log.close()  # the child keeps its own descriptor

    def log(self, name: str) -> str:
        path = self.root / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def start(self, timeout: float = 90) -> "LocalDaskCluster":
        scheduler_file = self.root / "scheduler.json"
        self.scheduler = self._spawn("scheduler", [
            "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
            "--scheduler-file", str(scheduler_file)])
        deadline = time.monotonic() + timeout
        while not scheduler_file.exists():
            self._check_alive(self.scheduler, "scheduler")
            if time.monotonic() > deadline:
                raise TimeoutError(f"dask scheduler did not start:\n{self.log('scheduler')}")
            time.sleep(0.2)
        time.sleep(0.2)  # the file is written in one go, but let the writer finish
        self.address = json.loads(scheduler_file.read_text())["address"]
        for i in range(self.n_workers):
            self.workers.append(self._spawn(f"worker-{i}", [
                "worker", self.address, "--name", f"worker-{i}", "--host", "127.0.0.1",
                "--nthreads", str(self.nthreads), "--nworkers", "1", "--no-dashboard",
                "--memory-limit", "0", "--death-timeout", "60",
                "--local-directory", str(self.root / f"worker-{i}"), *self.worker_args]))
        if self.n_workers:
            self.wait_for_workers(self.n_workers, deadline - time.monotonic())
        return self

    def _check_alive(self, proc: subprocess.Popen, name: str) -> None:
        if proc.poll() is not None:
            raise RuntimeError(f"dask {name} exited with {proc.returncode}:\n{self.log(name)}")

    def worker_names(self) -> list[str]:
        """Names of the workers the scheduler knows now (asks it over the loopback)."""
        from distributed import Client

        with Client(self.address, timeout=30) as client:
            return sorted(w["name"] for w in client.scheduler_info(n_workers=-1)["workers"].values())

    def wait_for_workers(self, n: int, timeout: float = 60) -> None:
        from distributed import Client

        with Client(self.address, timeout=30) as client:
            client.wait_for_workers(n, timeout=max(timeout, 1))

    def kill_worker(self, i: int) -> None:
        """SIGKILL worker ``i``, its nanny and its kernels: gone mid-task, no goodbye."""
        _tree_kill(self.workers[i])
        self.workers[i].wait(timeout=30)

    def stop(self) -> None:
        """End every process this cluster started (politely, then SIGKILL); delete its dir."""
        import psutil

        procs = [p for p in [*self.workers, self.scheduler] if p is not None]
        family = []  # looked up first: once a parent exits, its children cannot be found
        for p in procs:
            try:
                family += psutil.Process(p.pid).children(recursive=True)
            except psutil.NoSuchProcess:
                pass
        for p in procs:
            if p.poll() is None:
                _group_kill(p, signal.SIGTERM)
        deadline = time.monotonic() + 15
        for p in procs:
            try:
                p.wait(timeout=max(deadline - time.monotonic(), 0.1))
            except subprocess.TimeoutExpired:
                _tree_kill(p)
                p.wait(timeout=10)
        for child in family:  # kernels or fork servers left behind
            try:
                child.kill()
            except psutil.NoSuchProcess:
                pass
        psutil.wait_procs(family, timeout=10)
        shutil.rmtree(self.root, ignore_errors=True)
