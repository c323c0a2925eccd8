"""Scale-out grading (issue 11): a PostgreSQL gradebook and a real multi-process Dask cluster.

Everything is real: a PostgreSQL server started with ``initdb`` + ``pg_ctl`` in a temp dir, a
``dask scheduler`` and two ``dask worker`` processes on the loopback, and ``rnn-course grade``
(real nbgrader) grading a small class of the real assignment ``a1_text_to_tensors``: a correct,
a partly wrong and a broken student. Each run grades into its own copy of the course, and the
scores are read back from the gradebook itself.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.scale import classroom, gradebook, postgres
from tests.scale import slurm as slurm_cluster
from tests.scale.dask_cluster import LocalDaskCluster

pytestmark = [pytest.mark.slow, pytest.mark.timeout(480)]

RNN_COURSE = str(Path(sys.executable).parent / "rnn-course")
CLASS = {"alice": "correct", "bob": "partly", "carol": "broken"}
#: the class of the kill test: long enough that one worker dies with work in flight
BIG_CLASS = {**CLASS, "dave": "partly"}


@pytest.fixture(scope="module")
def workspace(tmp_path_factory, repo_root) -> Path:
    """The course's grading inputs once, and the class's submission folders."""
    root = tmp_path_factory.mktemp("scale")
    course = classroom.make_course(repo_root, root / "course")
    classroom.write_class(course, root / "class", CLASS)
    classroom.write_class(course, root / "big_class", BIG_CLASS)
    return root


def _course_copy(workspace: Path, name: str) -> Path:
    """A fresh course folder (own gradebook, own autograded/ and grading/ folders)."""
    return classroom.make_course(workspace / "course", workspace / name)


def _grade_command(submissions: Path, *options: str) -> list[str]:
    return [RNN_COURSE, "grade", classroom.ASSIGNMENT, str(submissions), *options]


def _env() -> dict[str, str]:
    return {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}


def _grade(course: Path, submissions: Path, *options: str) -> subprocess.CompletedProcess:
    done = subprocess.run(_grade_command(submissions, *options), cwd=course, env=_env(),
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, f"rnn-course grade failed ({done.returncode}):\n{done.stdout}\n{done.stderr}"
    return done


def _sqlite_url(course: Path) -> str:
    return f"sqlite:///{course / 'gradebook.db'}"


@pytest.fixture(scope="module")
def local_run(workspace) -> gradebook.Recorded:
    """The class graded the default way: a LocalCluster of 2 workers, the SQLite gradebook."""
    course = _course_copy(workspace, "local")
    _grade(course, workspace / "class", "--workers", "2")
    recorded = gradebook.read(_sqlite_url(course), classroom.ASSIGNMENT)
    # a class that tells runs apart: full marks, some marks, and fewer marks
    totals = recorded.totals()
    assert set(totals) == set(CLASS)
    assert totals["alice"] > totals["bob"] > 0 and totals["alice"] > totals["carol"]
    return recorded


@pytest.fixture(scope="module")
def postgres_server():
    bin_dir = postgres.find_bin_dir()
    if bin_dir is None:
        pytest.skip("PostgreSQL is not installed (no initdb on PATH or in /usr/lib/postgresql/*/bin); "
                    "`make setup` installs Debian's postgresql where it can")
    server = postgres.PostgresServer(bin_dir).start()
    yield server
    server.stop()


@pytest.fixture
def cluster():
    """A scheduler and two single-threaded workers, each its own OS process, on 127.0.0.1."""
    dask_cluster = LocalDaskCluster(n_workers=2, nthreads=1)
    try:
        dask_cluster.start()
        yield dask_cluster
    finally:
        dask_cluster.stop()


def test_postgres_gradebook_records_the_same_scores_as_sqlite(workspace, local_run, postgres_server):
    """Every cell's score in a PostgreSQL gradebook equals the SQLite gradebook's."""
    course = _course_copy(workspace, "postgres")
    postgres_server.create_database("gradebook")
    url = postgres_server.url("gradebook")  # plain postgresql://, as an instructor writes it
    _grade(course, workspace / "class", "--workers", "2", "--db-url", url)

    assert gradebook.read(url, classroom.ASSIGNMENT).grades == local_run.grades
    assert not (course / "gradebook.db").exists(), "--db-url must replace the SQLite gradebook"


def test_external_cluster_grades_like_the_local_cluster(workspace, local_run, cluster):
    """``--scheduler tcp://127.0.0.1:PORT`` sends the same tasks to a running cluster: same
    scores. Its workers stay light: nbgrader and nbconvert (2 s of CPU each) are their fork
    hosts', never imported by a worker itself."""
    from distributed import Client

    course = _course_copy(workspace, "external")
    _grade(course, workspace / "class", "--scheduler", cluster.address)

    assert gradebook.read(_sqlite_url(course), classroom.ASSIGNMENT).grades == local_run.grades
    assert cluster.worker_names() == ["worker-0", "worker-1"], "the cluster outlives the run"

    def heavy_modules() -> list[str]:
        import sys

        return [name for name in ("nbgrader", "nbconvert") if name in sys.modules]

    with Client(cluster.address, timeout=30) as client:
        assert {tuple(names) for names in client.run(heavy_modules).values()} == {()}


def _first_result_and_busy_worker(address: str, timeout: float) -> str:
    """Wait until a submission has been graded and a worker has one in flight; return that worker.

    Asks the scheduler (a second client on the loopback): its task stream lists finished
    tasks, ``processing()`` what each worker holds now.
    """
    from distributed import Client

    def grading(key) -> bool:
        return str(key).startswith("grade")  # rnn-course names its tasks grade-<assignment>-<student>-…

    deadline = time.monotonic() + timeout
    with Client(address, timeout=30) as client:
        client.get_task_stream()  # installs the scheduler's task-stream plugin
        while time.monotonic() < deadline:
            finished = [t for t in client.get_task_stream() if grading(t["key"])]
            busy = [addr for addr, keys in client.processing().items() if any(map(grading, keys))]
            if finished and busy:
                return client.scheduler_info(n_workers=-1)["workers"][busy[0]]["name"]
            time.sleep(0.1)
    raise TimeoutError("no submission was graded, or none was left in flight, in time")


def _disrupted_run(course: Path, address: str, disrupt, *options: str) -> tuple[int, str, str]:
    """Grade the big class on the cluster at ``address``; once one submission is graded and a
    worker holds another, call ``disrupt(that worker's name)``. Returns the run's exit code,
    its output and the worker's name."""
    with open(course.parent / f"{course.name}.log", "w+") as log:
        run = subprocess.Popen(_grade_command(course.parent / "big_class", "--scheduler", address,
                                              *options),
                               cwd=course, env=_env(), stdout=log, stderr=subprocess.STDOUT, text=True)
        try:
            victim = _first_result_and_busy_worker(address, timeout=240)
            disrupt(victim)
            returncode = run.wait(timeout=300)
        finally:
            if run.poll() is None:
                run.kill()
            log.seek(0)
            output = log.read()
    return returncode, output, victim


def _each_student_recorded_once_as_if_undisturbed(course: Path, local_run) -> None:
    recorded = gradebook.read(_sqlite_url(course), classroom.ASSIGNMENT)
    assert recorded.submissions == {student: 1 for student in BIG_CLASS}
    assert set(recorded.grade_rows.values()) == {1}, "a grade recorded twice"
    # ... and each got the grades of the same answers graded undisturbed (nothing lost)
    like = {kind: student for student, kind in CLASS.items()}
    assert recorded.grades == {(student, *cell): value
                               for (other, *cell), value in local_run.grades.items()
                               for student, kind in BIG_CLASS.items() if like[kind] == other}


def test_worker_killed_mid_run_every_student_is_graded_exactly_once(workspace, local_run, cluster):
    """SIGKILL a worker holding a submission: Dask reschedules it, the run completes, no duplicates."""
    course = _course_copy(workspace, "killed")
    returncode, output, victim = _disrupted_run(
        course, cluster.address, lambda name: cluster.kill_worker(int(name.rsplit("-", 1)[1])))
    assert returncode == 0, f"the run did not complete after a worker died:\n{output}"
    assert cluster.worker_names() == [w for w in ("worker-0", "worker-1") if w != victim]
    _each_student_recorded_once_as_if_undisturbed(course, local_run)


@pytest.fixture(scope="module")
def slurm():
    """A single-node SLURM cluster on the loopback (``tests/scale/slurm.py``)."""
    problem = slurm_cluster.missing()
    if problem:
        pytest.skip(problem)
    cluster = slurm_cluster.SlurmCluster().start()
    before = os.environ.get("SLURM_CONF")
    os.environ["SLURM_CONF"] = str(cluster.conf)  # dask-jobqueue runs sbatch from this process
    yield cluster
    if before is None:
        os.environ.pop("SLURM_CONF")
    else:
        os.environ["SLURM_CONF"] = before
    cluster.stop()


@contextmanager
def slurm_workers(slurm, jobs: int):
    """Dask workers as SLURM jobs, submitted by dask-jobqueue's ``sbatch`` as the instructor
    guide's recipe does: one single-threaded worker per job."""
    from dask_jobqueue import SLURMCluster
    from distributed import Client

    with SLURMCluster(cores=1, processes=1, memory="2GB", queue="grading", walltime="00:15:00",
                      job_directives_skip=["--mem"], python=sys.executable,
                      scheduler_options={"host": "127.0.0.1", "dashboard_address": ":0"},
                      log_directory=str(slurm.root / "logs"),
                      local_directory=str(slurm.root / "dask")) as cluster:
        cluster.scale(jobs=jobs)
        with Client(cluster) as client:
            try:
                client.wait_for_workers(jobs, timeout=120)
            except TimeoutError:
                pytest.fail(f"SLURM did not start {jobs} worker jobs:\n{slurm.log()}")
        yield cluster


def test_slurm_worker_jobs_grade_like_the_local_cluster_into_postgres(
        workspace, local_run, postgres_server, slurm):
    """Workers submitted with sbatch grade the class into PostgreSQL: the LocalCluster's scores."""
    course = _course_copy(workspace, "slurm")
    postgres_server.create_database("slurm_gradebook")
    url = postgres_server.url("slurm_gradebook")
    with slurm_workers(slurm, jobs=2) as cluster:
        assert sorted(slurm.jobs().values()) == ["RUNNING", "RUNNING"]
        _grade(course, workspace / "class", "--scheduler", cluster.scheduler_address, "--db-url", url)

    assert gradebook.read(url, classroom.ASSIGNMENT).grades == local_run.grades


def test_slurm_job_cancelled_mid_run_costs_nothing(workspace, local_run, slurm):
    """``scancel`` the job of a worker holding a submission: the run completes, each student once."""
    course = _course_copy(workspace, "slurm_cancelled")

    def cancel(name: str) -> None:
        cancelled = slurm.run("scancel", cluster.workers[name].job_id)
        assert cancelled.returncode == 0, cancelled.stderr

    with slurm_workers(slurm, jobs=2) as cluster:
        returncode, output, _ = _disrupted_run(course, cluster.scheduler_address, cancel)
    assert returncode == 0, f"the run did not complete after its job was cancelled:\n{output}"
    _each_student_recorded_once_as_if_undisturbed(course, local_run)


def _nothing_recorded(course: Path) -> bool:
    return not (course / "gradebook.db").exists() or not gradebook.read(
        _sqlite_url(course), classroom.ASSIGNMENT).submissions


def test_cluster_that_never_starts_workers_stops_the_run_naming_the_cause(workspace):
    cluster = LocalDaskCluster(n_workers=0).start()
    try:
        course = _course_copy(workspace, "no_workers")
        done = subprocess.run(_grade_command(workspace / "class", "--scheduler", cluster.address,
                                             "--worker-timeout", "3"),
                              cwd=course, env=_env(), capture_output=True, text=True, timeout=120)
    finally:
        cluster.stop()
    assert done.returncode == 1, done.stdout + done.stderr
    assert f"no Dask worker joined the scheduler at {cluster.address} within 3 s" in done.stderr
    assert _nothing_recorded(course)


def test_workers_without_the_grader_are_named_before_anyone_is_graded(workspace, tmp_path):
    """A worker whose Python cannot import course_lib (simulated by a preload that blocks it)."""
    blocker = tmp_path / "no_course_lib.py"
    blocker.write_text("import sys\nsys.modules['course_lib'] = None  # as if not installed\n")
    cluster = LocalDaskCluster(n_workers=1, worker_args=("--preload", str(blocker))).start()
    try:
        course = _course_copy(workspace, "no_grader")
        done = subprocess.run(_grade_command(workspace / "class", "--scheduler", cluster.address),
                              cwd=course, env=_env(), capture_output=True, text=True, timeout=120)
    finally:
        cluster.stop()
    assert done.returncode == 1, done.stdout + done.stderr
    assert "1 Dask worker(s) cannot import the grader" in done.stderr
    assert "course_lib" in done.stderr and "grading environment" in done.stderr
    assert _nothing_recorded(course)


def test_run_whose_workers_all_die_stops_and_lists_the_rest_for_a_rerun(workspace, local_run):
    cluster = LocalDaskCluster(n_workers=1).start()
    course = _course_copy(workspace, "all_died")
    try:
        returncode, output, _ = _disrupted_run(course, cluster.address,
                                               lambda name: cluster.kill_worker(0),
                                               "--worker-timeout", "5")
    finally:
        cluster.stop()
    assert returncode == 1, output
    recorded = gradebook.read(_sqlite_url(course), classroom.ASSIGNMENT).submissions
    not_recorded = re.findall(r"NOT RECORDED  (\w+): not graded: the cluster has had no worker for 5 s", output)
    assert not_recorded, output  # (a result not yet fetched from the killed worker counts here)
    assert sorted([*recorded, *not_recorded]) == sorted(BIG_CLASS)
    assert set(recorded.values()) <= {1}, "a student recorded twice"
