"""A throw-away single-node SLURM cluster on the loopback: ``munged``, ``slurmctld``, ``slurmd``.

Debian's packages (``slurmctld``, ``slurmd``, ``slurm-client``, ``munge``; installed by
``.ci/system-deps.sh``), run from a temp dir with a generated ``slurm.conf``: one node,
``localhost``, with this machine's cores, one partition, free ports, no accounting, no
cgroups (``proctrack/linuxproc``), and a munge key and socket of its own. Every client
command (``sbatch``, ``squeue``, ``scancel``, dask-jobqueue's) finds the cluster through
the ``SLURM_CONF`` variable that :meth:`SlurmCluster.env` returns. ``stop()`` cancels
every job and ends the daemons.

``slurmd`` launches jobs as the submitting user only when it runs as root; elsewhere
:func:`missing` says why the tests cannot run.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from tests.scale.postgres import free_port

DAEMONS = ("munged", "slurmctld", "slurmd", "sbatch", "squeue", "scancel", "sinfo")

_CONF = """\
ClusterName=rnncourse
SlurmctldHost=localhost(127.0.0.1)
SlurmctldPort={ctld_port}
SlurmdPort={d_port}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket={root}/munge.socket
CredType=cred/munge
StateSaveLocation={root}/state
SlurmdSpoolDir={root}/spool
SlurmctldPidFile={root}/slurmctld.pid
SlurmdPidFile={root}/slurmd.pid
SlurmctldLogFile={root}/slurmctld.log
SlurmdLogFile={root}/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
MpiDefault=none
ReturnToService=2
KillWait=5
MinJobAge=300
NodeName=localhost NodeAddr=127.0.0.1 CPUs={cpus} State=UNKNOWN
PartitionName=grading Nodes=ALL Default=YES MaxTime=INFINITE State=UP OverSubscribe=YES
"""


def missing() -> str | None:
    """Why a SLURM cluster cannot be started here, or None."""
    absent = [name for name in DAEMONS if shutil.which(name) is None]
    if absent:
        return (f"SLURM is not installed (no {', '.join(absent)} on PATH); `make setup` installs "
                "Debian's slurmctld, slurmd, slurm-client and munge where it can")
    if os.geteuid() != 0:
        return "slurmd runs jobs as their users only as root; run the suite as root to test SLURM"
    return None


class SlurmCluster:
    """``start()`` it, submit through ``env()``, ``stop()`` it (also on failure)."""

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="rnn-course-slurm-"))
        self.root.chmod(0o755)  # munge wants its socket's folder searchable by everyone
        self.conf = self.root / "slurm.conf"
        self._daemons: list[subprocess.Popen] = []

    def env(self) -> dict[str, str]:
        """What a client process needs in its environment to use this cluster."""
        return {**os.environ, "SLURM_CONF": str(self.conf)}

    def start(self, timeout: float = 60) -> "SlurmCluster":
        for folder in ("state", "spool", "logs"):
            (self.root / folder).mkdir()
        key = self.root / "munge.key"
        key.write_bytes(os.urandom(1024))
        key.chmod(0o400)
        self.conf.write_text(_CONF.format(root=self.root, ctld_port=free_port(),
                                          d_port=free_port(), cpus=os.cpu_count() or 1))
        self._spawn(["munged", "--foreground", "--force", f"--socket={self.root}/munge.socket",
                     f"--key-file={key}", f"--log-file={self.root}/munged.log",
                     f"--pid-file={self.root}/munged.pid", f"--seed-file={self.root}/munged.seed"],
                    "munged")
        self._wait_for(lambda: (self.root / "munge.socket").exists(), timeout, "munged")
        self._spawn(["slurmctld", "-D", "-f", str(self.conf)], "slurmctld")
        self._spawn(["slurmd", "-D", "-f", str(self.conf), "-N", "localhost"], "slurmd")
        self._wait_for(lambda: self.run("sinfo", "-h", "-o", "%T").stdout.strip() == "idle",
                       timeout, "the node to become idle")
        return self

    def run(self, *command: str) -> subprocess.CompletedProcess:
        """A SLURM client command against this cluster."""
        return subprocess.run(list(command), env=self.env(), capture_output=True, text=True,
                              timeout=60)

    def jobs(self) -> dict[str, str]:
        """``{job id: state}`` of every job the controller knows."""
        listed = self.run("squeue", "-h", "-o", "%i %T").stdout.split("\n")
        return dict(line.split() for line in listed if line.strip())

    def stop(self) -> None:
        if self._daemons:
            self.run("scancel", "--full", "--user", "root")
        for daemon in reversed(self._daemons):
            daemon.terminate()
        for daemon in reversed(self._daemons):
            try:
                daemon.wait(timeout=20)
            except subprocess.TimeoutExpired:
                daemon.kill()
                daemon.wait()
        self._daemons.clear()
        shutil.rmtree(self.root, ignore_errors=True)

    def log(self) -> str:
        """The daemons' logs, for a failing test's message."""
        return "\n".join(f"--- {path.name}\n{path.read_text(errors='replace')[-3000:]}"
                         for path in sorted(self.root.glob("*.log")) + sorted(self.root.glob("*.out")))

    def _spawn(self, command: list[str], name: str) -> None:
        with open(self.root / f"{name}.out", "w") as out:
            self._daemons.append(subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT,
                                                  env=self.env(), start_new_session=True))

    def _wait_for(self, ready, timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while not ready():
            dead = [d.args[0] for d in self._daemons if d.poll() is not None]
            if dead or time.monotonic() > deadline:
                raise RuntimeError(f"SLURM did not start ({what}; exited: {dead}):\n{self.log()}")
            time.sleep(0.2)
