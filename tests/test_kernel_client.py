"""The grading kernel's client is ready as soon as the kernel answers, not once IOPub falls silent."""

from __future__ import annotations

import asyncio
from queue import Empty

import pytest
from jupyter_client.manager import AsyncKernelManager

from course_lib.grading import sandbox
from course_lib.grading.kernel_client import PromptKernelClient

#: prints on IOPub every 50 ms for 20 s from a thread, while the kernel answers requests
CHATTER = """
import threading, time
def _chatter():
    for _ in range(400):
        print('.', end='', flush=True)
        time.sleep(0.05)
threading.Thread(target=_chatter, daemon=True).start()
"""


async def _ready_then_listen(tmp_path) -> tuple[str, list[str]]:
    """Start a kernel, make it chatter, connect a PromptKernelClient; what it then hears."""
    manager = AsyncKernelManager(kernel_name="python3", transport="ipc", ip=str(tmp_path / "k"))
    await manager.start_kernel()
    try:
        first = manager.client()
        first.start_channels()
        await first.wait_for_ready(timeout=60)
        await first.execute_interactive(CHATTER, timeout=30)
        first.stop_channels()

        manager.client_class = f"{PromptKernelClient.__module__}.PromptKernelClient"
        client = manager.client()
        client.start_channels()
        await client.wait_for_ready(timeout=60)  # jupyter_client's own returns only after the chatter
        heard = []  # the chatter's prints (status messages of kernel_info may come between)
        try:
            while len(heard) < 3:
                message = await client.iopub_channel.get_msg(timeout=2)
                if message["msg_type"] == "stream":
                    heard.append(message["content"]["text"])
        except Empty:
            pass
        outputs = []
        await client.execute_interactive(
            "print(6 * 7)", timeout=30,
            output_hook=lambda msg: outputs.append(msg["content"].get("text", "")))
        client.stop_channels()
        return "".join(outputs), heard
    finally:
        await manager.shutdown_kernel(now=True)


def test_ready_returns_while_the_kernel_is_still_printing(tmp_path):
    printed, heard = asyncio.run(_ready_then_listen(tmp_path))
    assert heard == ["."] * 3, "IOPub fell silent before wait_for_ready returned"
    assert printed == "42\n", "output of the client's own request, and nothing else"


def test_every_grading_kernel_gets_the_prompt_client(tmp_path):
    _, settings = sandbox.configure(tmp_path / "scratch", sandbox.Limits())
    assert settings["AsyncKernelManager", "client_class"] == (
        "course_lib.grading.kernel_client.PromptKernelClient")
