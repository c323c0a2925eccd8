"""A throw-away PostgreSQL server for the scale-out tests: ``initdb`` + ``pg_ctl`` in a temp dir.

The server listens on 127.0.0.1 only, on a free port, with trust authentication for the one
superuser ``grader`` (nothing else can reach a loopback socket on a test machine), and is
stopped and deleted by ``stop()``. PostgreSQL refuses to run as root, so as root the server
runs as the ``postgres`` system user (or ``nobody``) in a directory that user owns; as any
other user it runs as that user.

``find_bin_dir()`` says where ``initdb`` is, or None: the tests skip with that reason only
where PostgreSQL is not installed (``.ci/system-deps.sh`` installs Debian's ``postgresql``).
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

SUPERUSER = "grader"


def find_bin_dir() -> Path | None:
    """The directory holding ``initdb`` and ``pg_ctl``: PATH first, then Debian's layout."""
    on_path = shutil.which("initdb")
    candidates = [Path(on_path).resolve().parent] if on_path else []
    # Debian puts the server binaries in /usr/lib/postgresql/<major>/bin, newest last
    candidates += [Path(p) for p in sorted(glob.glob("/usr/lib/postgresql/*/bin"),
                                           key=lambda p: int(Path(p).parent.name)
                                           if Path(p).parent.name.isdigit() else 0, reverse=True)]
    for d in candidates:
        if (d / "initdb").exists() and (d / "pg_ctl").exists():
            return d
    return None


def _server_user() -> pwd.struct_passwd | None:
    """Who runs the server: None (this user) unless we are root, then an unprivileged user."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        try:
            return pwd.getpwnam(name)
        except KeyError:
            continue
    raise RuntimeError("running as root and neither 'postgres' nor 'nobody' exists: "
                       "PostgreSQL cannot run as root")


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now (the caller retries if another process takes it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PostgresServer:
    """One PostgreSQL cluster in a temp dir. ``start()``, then ``create_database(name)``."""

    def __init__(self, bin_dir: Path):
        self.bin_dir = bin_dir
        self.user = _server_user()
        self.root = Path(tempfile.mkdtemp(prefix="rnn-course-pg-"))
        self.data = self.root / "data"
        self.log = self.root / "server.log"
        self.port: int | None = None
        if self.user is not None:
            os.chown(self.root, self.user.pw_uid, self.user.pw_gid)
            os.chmod(self.root, 0o700)

    def _run(self, *args: str, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess:
        kwargs = {}
        env = {**os.environ, "LC_ALL": "C", "LANG": "C"}
        if self.user is not None:
            kwargs = dict(user=self.user.pw_uid, group=self.user.pw_gid, extra_groups=[])
            env["HOME"] = str(self.root)
        return subprocess.run([str(self.bin_dir / args[0]), *args[1:]], cwd=self.root, env=env,
                              capture_output=True, text=True, check=check, timeout=timeout, **kwargs)

    def start(self, attempts: int = 5, durable: bool = False) -> "PostgresServer":
        """initdb and start; ``durable``: keep fsync on (to time commits as in production)."""
        self._run("initdb", "-D", str(self.data), "-U", SUPERUSER, "--auth=trust",
                  "-E", "UTF8", "--locale=C", "--no-sync")
        for _ in range(attempts):
            port = free_port()
            # sockets only on loopback TCP and in our own dir; a test server need not survive a crash
            options = f"-p {port} -c listen_addresses=127.0.0.1 -k {self.root}"
            if not durable:
                options += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
            done = self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", options,
                             "-w", "-t", "60", "start", check=False)
            if done.returncode == 0:
                self.port = port
                return self
        raise RuntimeError(f"PostgreSQL did not start:\n{done.stdout}{done.stderr}\n"
                           f"{self.log.read_text() if self.log.exists() else ''}")

    def url(self, database: str = "postgres", dialect: str = "postgresql") -> str:
        """SQLAlchemy URL of ``database`` (plain ``postgresql://`` means psycopg 3 from SQLAlchemy 2.1 on)."""
        return f"{dialect}://{SUPERUSER}@127.0.0.1:{self.port}/{database}"

    def connect(self, database: str = "postgres"):
        import psycopg

        return psycopg.connect(host="127.0.0.1", port=self.port, user=SUPERUSER,
                               dbname=database, autocommit=True)

    def create_database(self, name: str) -> str:
        """Create an empty database ``name``; return its ``postgresql+psycopg://`` URL."""
        with self.connect() as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name, dialect="postgresql+psycopg")

    def stop(self) -> None:
        """Stop the server (fast: abort connections) and delete its directory."""
        if self.port is not None and self.data.exists():
            self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "-t", "60", "stop", check=False)
            self.port = None
        shutil.rmtree(self.root, ignore_errors=True)
