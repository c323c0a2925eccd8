"""Temporary folders that name the process owning them, and the sweep of those whose owner died.

A grading worker's scratch courses and its zygote's socket folder live in the temporary folder
(``/tmp``) and are removed by the processes that made them. A worker killed outright (``kill
-9``, a scheduler ending its job) removes nothing, and on a cluster node those folders would
pile up run after run. Each such folder's name therefore holds its owner's machine (a short
hash of the host name) and process id, and :func:`sweep` removes the ones whose owner is no
longer running on this machine: each new worker sweeps when it starts. A folder of a process
that still runs, of another machine (a temporary folder shared between nodes), or of another
user (not ours to remove) is left alone.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import socket
import tempfile


def _machine() -> str:
    return hashlib.sha1(socket.gethostname().encode()).hexdigest()[:6]


def prefix(kind: str) -> str:
    """The start of this process's folder names of ``kind``: ``rnn-course-<kind>-<machine>-<pid>-``
    (short: a kernel's Unix sockets live in a scratch course, and a socket's path is at most
    107 bytes)."""
    return f"rnn-course-{kind}-{_machine()}-{os.getpid()}-"


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def sweep(kind: str, folder: str | None = None) -> list[str]:
    """Remove the folders of ``kind`` in ``folder`` (the temporary folder) whose owner on this
    machine has ended; return their paths."""
    folder = folder or tempfile.gettempdir()
    pattern = re.compile(rf"rnn-course-{re.escape(kind)}-{_machine()}-(\d+)-")
    removed = []
    for entry in os.scandir(folder):
        found = pattern.match(entry.name)
        if found and entry.is_dir(follow_symlinks=False) and not _running(int(found.group(1))):
            shutil.rmtree(entry.path, ignore_errors=True)
            if not os.path.exists(entry.path):
                removed.append(entry.path)
    return removed
