"""The kernel client autograde talks to a grading kernel with: ready as soon as the kernel is.

jupyter_client's ``wait_for_ready`` asks for ``kernel_info`` until the kernel answers, then
empties IOPub by reading until nothing has come for 0.2 s. That last wait is 0.2 s per
submission in which neither the grader nor the kernel does anything: a core left idle, a
fifth of a second of every submission's grading time. Nothing here needs the quiet: every
reader of IOPub after it (nbclient's cell execution, the judge's ``_collect``) keeps only
the messages whose parent is its own request. :class:`PromptKernelClient` takes what IOPub
already holds and returns.

``sandbox.configure`` makes it the client of every grading kernel
(``AsyncKernelManager.client_class``).
"""

from __future__ import annotations

import time
from queue import Empty

from jupyter_client.asynchronous import AsyncKernelClient

#: how long IOPub may take to deliver the status message of the first answered ``kernel_info``
IOPUB_CONNECT_SECONDS = 0.2


class PromptKernelClient(AsyncKernelClient):
    """jupyter_client's asynchronous client, without the final wait for a silent IOPub."""

    async def wait_for_ready(self, timeout: float | None = None) -> None:
        """Return once the kernel answers ``kernel_info`` and IOPub is connected.

        Raises RuntimeError when the kernel dies first or ``timeout`` seconds pass, as
        jupyter_client's own does.
        """
        deadline = time.monotonic() + (float("inf") if timeout is None else timeout)
        while True:
            self.kernel_info()
            try:
                reply = await self.shell_channel.get_msg(timeout=1)
            except Empty:
                reply = None
            if reply is not None and reply["msg_type"] == "kernel_info_reply":
                try:  # a status message on IOPub: its subscription is live
                    await self.iopub_channel.get_msg(timeout=IOPUB_CONNECT_SECONDS)
                except Empty:
                    pass
                else:
                    self._handle_kernel_info_reply(reply)
                    break
            if not await self._async_is_alive():
                raise RuntimeError("Kernel died before replying to kernel_info")
            if time.monotonic() > deadline:
                raise RuntimeError(f"Kernel didn't respond in {timeout:g} seconds")
        while True:  # drop what IOPub holds now, without waiting for more
            try:
                await self.iopub_channel.get_msg(timeout=0)
            except Empty:
                break
