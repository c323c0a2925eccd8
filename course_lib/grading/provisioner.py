"""The provisioner of warm grading kernels: the zygote forks the kernel, no launcher runs.

jupyter_client starts a kernel by running its kernelspec's command and then manages that
process. For a warm kernel the command (``kernel_launcher.py``'s outer stage) would only hand
its standard streams to the worker's zygote and wait for the kernel's end; yet a fresh
interpreter costs 30 to 45 ms of CPU, a tenth of what grading an Assignment-1 submission costs.
The kernelspec ``sandbox.configure`` writes for warm kernels names this provisioner instead
(``sandbox.WARM_PROVISIONER``, an entry point ``instructor/pyproject.toml`` declares), and
nbgrader's own process asks the zygote, with the same code (``kernel_launcher.start_warm``):
same policy, same files handed to the kernel's uid, same sandbox. The kernel's stdin is
``/dev/null``; its stdout and stderr are nbgrader's, as a launched kernel's would be.

jupyter_client then sees a :class:`~course_lib.grading.kernel_launcher.WarmKernel` where it
would see a ``Popen``. The kernel ends when it is asked to (any signal), when nbgrader's process
dies (the zygote sees its channel close), or by itself. Where the zygote cannot fork it, the
kernel starts as ``LocalProvisioner`` starts any: the launcher runs, and starts it cold.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from jupyter_client.connect import KernelConnectionInfo
from jupyter_client.provisioning import LocalProvisioner

from course_lib.grading import kernel_launcher


class WarmKernelProvisioner(LocalProvisioner):
    """``LocalProvisioner``, but the worker's zygote forks the kernel."""

    async def launch_kernel(self, cmd: list[str], **kwargs: Any) -> KernelConnectionInfo:
        policy_file, kernel_argv = kernel_launcher.parse_command(cmd)
        workdir = Path(kwargs.get("cwd") or os.getcwd()).resolve()
        env = kwargs.get("env") or os.environ
        with open(os.devnull, "rb") as stdin:
            kernel = kernel_launcher.start_warm(policy_file, kernel_argv, workdir, env,
                                                (stdin.fileno(), 1, 2))
        if isinstance(kernel, str):
            self.log.warning("rnn-course: no warm kernel (%s); starting a cold one", kernel)
            return await super().launch_kernel(cmd, **kwargs)
        self.process, self.pid, self.pgid, self.cwd = kernel, kernel.pid, None, workdir
        return self.connection_info
