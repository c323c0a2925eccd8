"""A real executor for tests of the judge: a separate Python process with an IPython shell.

``start(student_source, folder)`` runs the student's code in a fresh process (an IPython
``InteractiveShell``, as in a kernel) and has it serve the judge on a Unix socket; it returns
the process and a ``Judge`` connected to it. No sandbox: these tests are about the protocol.
"""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

from course_lib.grading.judge import Judge

_SERVE = """
import sys
from IPython.core.interactiveshell import InteractiveShell
shell = InteractiveShell.instance()
result = shell.run_cell(open(sys.argv[1]).read())
from course_lib.grading.executor import serve
while True:
    serve(sys.argv[2], 'token')
"""


def start(student_source: str, folder: Path, call_timeout: float = 60) -> tuple[subprocess.Popen, Judge]:
    """The student's process (already past its cells) and a judge talking to it, which gives
    each call ``call_timeout`` seconds."""
    cells, path = folder / "student.py", folder / "judge.sock"
    cells.write_text(student_source)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(path))
    listener.listen(1)
    listener.settimeout(120)
    process = subprocess.Popen([sys.executable, "-c", _SERVE, str(cells), str(path)])
    try:
        conn, _ = listener.accept()
    finally:
        listener.close()
    conn.settimeout(call_timeout)
    from course_lib.grading import wire

    assert wire.recv_frame(conn)[0] == b"token"
    judge = Judge()
    judge.sock = conn
    judge.saw_student_cell(student_source)
    return process, judge
