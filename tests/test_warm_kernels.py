"""Warm kernels: forked from a worker's zygote, each inside a sandbox of its own.

Each test starts a real fork host and the zygote it forks (``course_lib.grading.zygote``), as a
grading worker does, and real sandboxed kernels
through jupyter_client with the kernelspec ``sandbox.configure`` writes, exactly as
nbgrader starts them, and runs code in them.
"""

from __future__ import annotations

import os
import pickle
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from uuid import uuid4

import psutil
import pytest
from jupyter_client import KernelManager
from jupyter_client.connect import write_connection_file

from course_lib.grading import kernel_launcher, preload, runner, sandbox, wire, zygote

pytestmark = pytest.mark.timeout(300)

SECRET = "rnn-course-test-secret-3f9c"


@pytest.fixture(scope="module")
def warm():
    """A zygote forked by a fork host started with a secret and a non-inline matplotlib backend
    in the grader's environment (``make`` exports MPLBACKEND=Agg)."""
    before = os.environ.get("MPLBACKEND")
    os.environ.update(RNN_COURSE_TEST_PASSWORD=SECRET, MPLBACKEND="Agg")
    try:
        host = runner.ForkHost(preload.course_stack(), kernels=True)  # a worker's: it forks the zygote
        started = host.zygote
    finally:
        del os.environ["RNN_COURSE_TEST_PASSWORD"]
        if before is None:
            del os.environ["MPLBACKEND"]
        else:
            os.environ["MPLBACKEND"] = before
    if started.problem is not None:
        assert sandbox.bwrap_problem() is not None, f"bubblewrap works here, so must this: {started.problem}"
        pytest.skip(f"no sandbox on this machine: {started.problem}")
    yield started
    host.close()


class Kernel:
    """A sandboxed kernel for the submission folder ``work`` of the scratch course ``scratch``."""

    def __init__(self, scratch: Path, socket_path: str | None, monkeypatch) -> None:
        self.work = scratch / "submitted" / "student" / "a1"
        self.work.mkdir(parents=True)
        (self.work / "a1.ipynb").write_text("HIDDEN TESTS live here")
        env, _ = sandbox.configure(scratch, sandbox.Limits(cell_timeout=30), socket_path)
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        self.manager = KernelManager(kernel_name=sandbox.KERNEL_NAME, transport="ipc",
                                     ip=str(scratch / ".sandbox" / "ipc" / "kernel"))
        self.manager.start_kernel(cwd=str(self.work))
        self.client = self.manager.client()
        self.client.start_channels()
        self.client.wait_for_ready(timeout=120)

    def run(self, code: str) -> str:
        """Run ``code``; return what it printed (an error's name and message included)."""
        printed: list[str] = []

        def keep(message):
            content = message["content"]
            if message["msg_type"] == "stream":
                printed.append(content["text"])
            elif message["msg_type"] == "error":
                printed.append(f"{content['ename']}: {content['evalue']}")

        self.client.execute_interactive(code, output_hook=keep, timeout=60)
        return "".join(printed)

    def displayed(self, code: str) -> list[str]:
        """Run ``code``; return the MIME types of everything it displayed."""
        shown: list[str] = []

        def keep(message):
            if message["msg_type"] in ("display_data", "execute_result"):
                shown.extend(message["content"]["data"])

        self.client.execute_interactive(code, output_hook=keep, timeout=60)
        return shown

    def stop(self) -> None:
        self.client.stop_channels()
        self.manager.shutdown_kernel(now=True)


@pytest.fixture
def kernels(tmp_path, warm, monkeypatch):
    started: list[Kernel] = []

    def start(name: str) -> Kernel:
        kernel = Kernel(tmp_path / name, warm.socket_path, monkeypatch)
        started.append(kernel)
        return kernel

    yield start
    for kernel in started:
        kernel.stop()


def test_kernel_runs_student_code_with_torch_already_imported(kernels):
    """... and when it ends, the zygote tells its grader the CPU it used (``WarmKernel.ended_cpu``)."""
    before = kernel_launcher.WarmKernel.ended_cpu
    kernel = kernels("alice")
    assert kernel.run("import sys; print('torch' in sys.modules)") == "True\n"
    assert kernel.run("import torch; print(torch.ones(2, 3).sum().item())") == "6.0\n"
    kernel.stop()
    assert kernel_launcher.WarmKernel.ended_cpu > before


def test_kernel_reads_its_notebook_as_an_empty_file_it_cannot_write(kernels):
    code = ("print(repr(open('a1.ipynb').read()))\ntry:\n    open('a1.ipynb', 'w').write('x')\n"
            "except OSError as error:\n    print(type(error).__name__)\n")
    assert kernels("alice").run(code) == "''\nOSError\n"


def test_kernel_runs_the_limits_number_of_torch_threads(kernels):
    assert kernels("alice").run("import torch; print(torch.get_num_threads())") == "1\n"


def test_kernel_shows_figures_inline_as_a_cold_kernel_does(kernels, monkeypatch):
    monkeypatch.setenv("MPLBACKEND", "Agg")  # the grader's own backend must not reach the kernel
    shown = kernels("alice").displayed("import matplotlib.pyplot as plt\nplt.plot([1, 2, 3])\nplt.show()")
    assert "image/png" in shown


def test_kernel_sees_its_own_folder_but_not_another_submission_or_the_notebook(kernels):
    alice, bob = kernels("alice"), kernels("bob")
    (bob.work / "answers.txt").write_text("bob's work")
    code = (f"import os; print(os.path.exists({str(bob.work)!r}), os.listdir('.'), "
            f"open('a1.ipynb').read() == '', os.path.exists({str(zygote.__file__)!r}))")
    assert alice.run(code) == "False ['a1.ipynb'] True True\n"
    assert bob.run("print(open('answers.txt').read())") == "bob's work\n"


def test_kernel_cannot_reach_the_zygote_socket(kernels, warm):
    alice = kernels("alice")
    code = (f"import socket\ns = socket.socket(socket.AF_UNIX)\n"
            f"try:\n    s.connect({warm.socket_path!r}); print('REACHED')\n"
            f"except OSError as error:\n    print('refused', type(error).__name__)\n")
    assert alice.run(code).startswith("refused")


def test_kernel_has_no_network(kernels):
    code = ("import socket\ntry:\n    socket.create_connection(('192.0.2.1', 80), timeout=1)\n"
            "    print('OPEN')\nexcept OSError as error:\n    print('closed')\n")
    assert kernels("alice").run(code) == "closed\n"


def test_kernel_environment_holds_no_secret_of_the_grader(kernels, monkeypatch):
    monkeypatch.setenv("RNN_COURSE_TEST_PASSWORD", SECRET)  # in the launcher's environment too
    code = ("import os\ntry:\n    environ = open('/proc/self/environ').read()\n"
            "except PermissionError:\n    environ = ''\n"
            "print(environ.count('3f9c'), str(dict(os.environ)).count('3f9c'))")
    assert kernels("alice").run(code) == "0 0\n"


def test_kernel_memory_holds_no_secret_of_the_grader(kernels):
    """The fork host had the secret in its environment, but only after it forked the zygote:
    no page of a kernel holds it. The kernel counts the secret and a control string of the same
    length in its readable anonymous memory (heap, stack with the environment block, the
    interpreter's arenas); both are built at run time, so each is there as often as the count's
    own copies, unless the secret leaked."""
    code = (
        "import ctypes\n"
        "secret, control = bytes.fromhex(%r), bytes.fromhex(%r)\n"
        "counts, scanned = {secret: 0, control: 0}, 0\n"
        "with open('/proc/self/maps') as maps:\n"
        "    regions = [line.split() for line in maps]\n"
        "for fields in regions:\n"
        "    if not fields[1].startswith('r') or (len(fields) > 5 and fields[5] not in ('[heap]', '[stack]')):\n"
        "        continue\n"
        "    start, end = (int(x, 16) for x in fields[0].split('-'))\n"
        "    for at in range(start, end, 1 << 24):\n"
        "        chunk = ctypes.string_at(at, min(1 << 24, end - at))\n"
        "        scanned += len(chunk)\n"
        "        for needle in counts:\n"
        "            counts[needle] += chunk.count(needle)\n"
        "print(counts[secret], counts[control], scanned > 10_000_000)\n"
    ) % (SECRET.encode().hex(), ("x" * len(SECRET)).encode().hex())
    counts = kernels("alice").run(code).split()
    assert counts[2] == "True", f"the kernel could not read its own memory: {counts}"
    assert int(counts[1]) >= 1, "the scan should find the control string the kernel built"
    assert counts[0] == counts[1], f"the secret is in the kernel's memory {counts[0]} times, the control {counts[1]}"


def test_files_and_processes_of_one_kernel_are_gone_before_the_next(kernels):
    first = kernels("alice")
    pid = first.run("import subprocess; p = subprocess.Popen(['sleep', '1000']); "
                    "open('/tmp/left-behind', 'w').write('x'); print(p.pid)")
    sleepers = [p for p in psutil.process_iter(["cmdline"]) if p.info["cmdline"] == ["sleep", "1000"]]
    assert pid.strip().isdigit() and sleepers, "the kernel's child did not start"
    first.stop()
    psutil.wait_procs(sleepers, timeout=30)
    assert not any(p.is_running() for p in sleepers)
    second = kernels("bob")
    assert second.run("import os; print('left-behind' in os.listdir('/tmp'))") == "False\n"
    assert second.run("import os; print(any('sleep' in open(f'/proc/{p}/cmdline').read() "
                      "for p in os.listdir('/proc') if p.isdigit()))") == "False\n"


def test_kernels_do_not_repeat_each_others_random_draws(kernels):
    draws = ("import random, numpy, torch; "
             "print(random.random(), numpy.random.rand(), torch.rand(1).item())")
    first, second = (kernels(name).run(draws).split() for name in ("alice", "bob"))
    assert len(first) == 3 and all(a != b for a, b in zip(first, second))


def test_a_kernels_first_traceback_imports_nothing(kernels):
    """The zygote formatted a traceback before forking (``zygote._warm_tracebacks``): what
    IPython imports for its first one is already there."""
    kernel = kernels("alice")
    kernel.run("import sys\nbefore = set(sys.modules)")
    assert kernel.run("def answer(x):\n    return x.missing\nanswer(1)").startswith("AttributeError")
    assert kernel.run("print(sorted(set(sys.modules) - before))") == "[]\n"


def test_a_cells_frame_has_no_module_and_inspect_does_not_search_for_one(kernels):
    """``kernel_launcher._cells_have_no_module``: inspect answers None for a cell's frame without
    mapping files to modules; a function a cell defines still belongs to ``__main__``."""
    kernel = kernels("alice")
    kernel.run("import inspect, sys\nmapped = []\nlookup = inspect.getabsfile\n"
               "inspect.getabsfile = lambda *a: mapped.append(a) or lookup(*a)\n"
               "def answer(): pass")
    assert kernel.run("print(inspect.getmodule(sys._getframe()), len(mapped))") == "None 0\n"
    assert kernel.run("print(inspect.getmodule(answer).__name__)") == "__main__\n"
    traceback = kernel.run("inspect.getabsfile = lookup\nanswer(1)")
    assert traceback.startswith("TypeError") and "answer()" in traceback


def test_a_warm_kernel_starts_without_a_launcher_process(kernels):
    """The grader's process asks the zygote itself (``provisioner.py``): no interpreter runs
    the kernelspec's command for a warm kernel."""
    kernel = kernels("alice")
    assert isinstance(kernel.manager.provisioner.process, kernel_launcher.WarmKernel)
    launchers = [child.cmdline() for child in psutil.Process().children()
                 if any(part.endswith("kernel_launcher.py") for part in child.cmdline())]
    assert launchers == []


def test_a_killed_warm_kernel_ends_as_a_killed_process_does(kernels):
    """jupyter_client's view of the kernel: running until killed, then ended by signal 9."""
    process = kernels("alice").manager.provisioner.process
    assert process.poll() is None
    with pytest.raises(subprocess.TimeoutExpired):
        process.wait(timeout=0.1)
    process.kill()
    assert process.wait(timeout=30) == 128 + signal.SIGKILL
    assert process.poll() == 128 + signal.SIGKILL


#: a grader's process: starts a warm kernel that starts ``sleep 1003``, then waits to be killed
_STARTS_A_KERNEL = """
import os, sys, time
from pathlib import Path
from jupyter_client import KernelManager
from course_lib.grading import sandbox
scratch, socket_path = Path(sys.argv[1]), sys.argv[2]
work = scratch / "work"
work.mkdir(parents=True)
os.environ.update(sandbox.configure(scratch, sandbox.Limits(cell_timeout=30), socket_path)[0])
manager = KernelManager(kernel_name=sandbox.KERNEL_NAME, transport="ipc",
                        ip=str(scratch / ".sandbox" / "ipc" / "kernel"))
manager.start_kernel(cwd=str(work))
client = manager.client()
client.start_channels()
client.wait_for_ready(timeout=120)
client.execute_interactive("import subprocess; sleeper = subprocess.Popen(['sleep', '1003'])", timeout=60)
print("started", flush=True)
time.sleep(600)
"""


def test_a_warm_kernel_dies_with_the_process_that_started_it(tmp_path, warm):
    """A grading child killed at its deadline (``runner``) takes its kernel, and all the kernel
    started, with it: the zygote sees the kernel's channel close."""
    grader = subprocess.Popen([sys.executable, "-c", _STARTS_A_KERNEL, str(tmp_path), warm.socket_path],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert "started\n" in iter(grader.stdout.readline, ""), "the grader did not start its kernel"
        (sleeper,) = [p for p in psutil.process_iter(["cmdline"]) if p.info["cmdline"] == ["sleep", "1003"]]
        grader.kill()
        gone, alive = psutil.wait_procs([sleeper], timeout=30)
        assert not alive, "the kernel's process outlived the grader that started the kernel"
    finally:
        grader.kill()
        grader.wait()


def test_kernel_that_kills_itself_dies_as_an_ordinary_process_does(kernels):
    kernel = kernels("alice")
    kernel.client.execute("import os, signal; os.kill(os.getpid(), signal.SIGKILL)")
    deadline = time.monotonic() + 60
    while kernel.manager.is_alive() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not kernel.manager.is_alive()


def test_grader_falls_back_to_a_cold_kernel_when_the_zygote_is_gone(tmp_path, monkeypatch):
    kernel = Kernel(tmp_path / "carol", str(tmp_path / "no-such.sock"), monkeypatch)
    try:
        assert kernel.run("print(2 + 2)") == "4\n"
    finally:
        kernel.stop()


def test_warm_kernels_can_be_switched_off(monkeypatch):
    monkeypatch.setenv(zygote.DISABLE_ENV, "off")
    assert runner.kernels(()) is None


def test_a_fork_host_is_replaced_when_its_warm_zygote_ends_but_not_for_a_zygote_never_warm():
    """A zygote that finds no namespaces ends at once, and kernels start cold: its host must
    stay (replacing it would start a new host for every submission)."""
    host = runner.ForkHost((), kernels=True)
    try:
        if host.zygote.problem is not None:
            pytest.skip(f"no warm kernels on this machine: {host.zygote.problem}")
        assert host.alive
        host.zygote.close()  # the zygote ends
        assert not host.alive
        host.zygote.problem = "this process may not create mount, pid and network namespaces"
        assert host.alive
    finally:
        host.close()


def test_kernel_dies_when_the_process_watching_it_is_killed(kernels):
    """A grading run killed with its process group (the interrupted-run test does so) takes the
    process that watches each kernel with it, but not the kernel's namespace, a session of its
    own: the kernel must end all the same."""
    kernel = kernels("alice")
    kernel.run("import subprocess; subprocess.Popen(['sleep', '1002'])")
    (sleeper,) = [p for p in psutil.process_iter(["cmdline"]) if p.info["cmdline"] == ["sleep", "1002"]]
    family = sleeper.parents()  # the kernel, the namespace's init, the watcher, the zygote, ...
    watcher = family[2]
    watcher.kill()
    gone, alive = psutil.wait_procs([sleeper, *family[:2]], timeout=30)
    assert not alive, f"still running after their watcher was killed: {alive}"


def test_kernel_dies_when_the_process_watching_it_is_killed_while_the_kernel_starts(tmp_path, warm,
                                                                                     monkeypatch):
    """The watcher killed at once, while the namespace's init is still building the sandbox and
    has not yet asked to be told of its watcher's end (a grading run killed as a kernel starts):
    the kernel must not outlive it."""
    work = tmp_path / "submitted" / "student" / "a1"
    work.mkdir(parents=True)
    for name, value in sandbox.configure(tmp_path, sandbox.Limits(cell_timeout=30), warm.socket_path)[0].items():
        monkeypatch.setenv(name, value)
    connection = tmp_path / "kernel.json"
    write_connection_file(str(connection), transport="ipc", ip=str(tmp_path / ".sandbox" / "ipc" / "kernel"))
    policy = tmp_path / ".sandbox" / "policy.json"
    with open(os.devnull, "rb") as stdin:
        started = kernel_launcher.start_warm(policy, ["-f", str(connection)], work, os.environ,
                                             (stdin.fileno(), 1, 2))
    assert isinstance(started, kernel_launcher.WarmKernel), started
    init = psutil.Process(started.pid)
    psutil.Process(init.ppid()).kill()  # the watcher, as soon as it has forked the init
    gone, alive = psutil.wait_procs([init, *init.children(recursive=True)], timeout=30)
    assert not alive, f"still running after their watcher was killed: {alive}"


def test_a_zygote_whose_worker_has_gone_removes_its_sockets_folder():
    """A Dask worker ends without closing its Zygote: the zygote, which sees its pipes close,
    leaves nothing in /tmp."""
    host = runner.ForkHost((), kernels=True)
    try:
        if host.zygote.problem is not None:
            pytest.skip(f"no warm kernels on this machine: {host.zygote.problem}")
        folder = Path(host.zygote.socket_path).parent
        assert folder.is_dir()
        host.zygote._requests.close()  # the worker's ends, as its process exits
        host.zygote._replies.close()
        deadline = time.monotonic() + 30
        while folder.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not folder.exists()
    finally:
        host.close()


def test_zygote_forks_kernels_from_a_single_thread(warm):
    """What it preloads (ipykernel, debugpy, torch, ...) starts no thread: a fork copies only the
    thread that forks, and a lock another thread held would stay held in every kernel."""
    owners = {connection.pid for connection in psutil.net_connections(kind="unix")
              if connection.laddr == warm.socket_path}
    assert len(owners) == 1, f"one process listens on the zygote's socket, found {owners}"
    assert psutil.Process(owners.pop()).num_threads() == 1


def _judge_reaches_serve_through_the_comm(kernel: Kernel) -> bytes:
    """Open the judge's comm and send one message, as the judge does; return the first frame
    ``executor.serve`` sends back on the judge's socket (the call's token)."""
    path = Path(kernel.manager.ip).parent / "judge-test.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as listener:
        listener.bind(str(path))
        path.chmod(0o777)  # the kernel runs as a uid of its own
        listener.listen(1)
        listener.settimeout(60)
        comm_id = uuid4().hex
        for msg_type, content in (
            ("comm_open", {"comm_id": comm_id, "target_name": kernel_launcher.JUDGE_COMM, "data": {}}),
            ("comm_msg", {"comm_id": comm_id, "data": {"path": str(path), "token": "t0k3n"}}),
        ):
            kernel.client.shell_channel.send(kernel.client.session.msg(msg_type, content))
        connection, _ = listener.accept()
        with connection:
            token, _ = wire.recv_frame(connection, limit=64)
            wire.send_frame(connection, pickle.dumps(("done",)))
    return token


def test_a_warm_kernel_serves_the_judge_on_a_message_of_its_comm(kernels):
    assert _judge_reaches_serve_through_the_comm(kernels("alice")) == b"t0k3n"


def test_a_cold_kernel_imports_nothing_before_the_students_cells_and_serves_the_judge(tmp_path,
                                                                                       monkeypatch):
    kernel = Kernel(tmp_path / "dave", str(tmp_path / "no-such.sock"), monkeypatch)  # starts cold
    try:
        assert kernel.run("import sys; print('torch' in sys.modules)") == "False\n"
        assert _judge_reaches_serve_through_the_comm(kernel) == b"t0k3n"
    finally:
        kernel.stop()
