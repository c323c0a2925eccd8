"""What runs inside a forked nbgrader child (see ``forkhost.py``).

Importing this module imports nbgrader and the parts of IPython, nbconvert and
nbclient that autograde and feedback load lazily, and pays the first-use costs
of nbformat's schema validator and of the feedback HTML pipeline (compiled
regular expressions, the HTML entity table, syntax-highlighting lexers,
SQLAlchemy's mappers; about 1.7 s), so that the fork host pays them once and
every child inherits them. A single ``nbgrader`` process grading a whole class
pays them once too. Only the fork host and its children import this module.
"""

from __future__ import annotations

import copy
import functools
import json
import os
import sqlite3
import sys
import tempfile
import time
import traceback
import warnings
from contextlib import closing
from pathlib import Path

import IPython.core.interactiveshell  # noqa: F401  (preloaded: autograde's execution imports it)
import IPython.lib.lexers  # noqa: F401  (preloaded: feedback highlights code with them)
import ipykernel.kernelspec  # noqa: F401  (preloaded: autograde starts kernels with it)
import jsonschema
import psutil  # noqa: F401  (preloaded: jupyter_client's kernel restarter)
import sqlalchemy
import sqlalchemy.dialects.sqlite  # noqa: F401  (preloaded: the gradebook)
import nbclient  # noqa: F401  (preloaded: autograde executes notebooks with it)
import nbformat
import nbgrader
import nbgrader.api
import nbgrader.nbgraderformat.common
import nbgrader.utils
from jupyter_client.provisioning.factory import KernelProvisionerFactory
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output
from nbgrader.api import (Assignment, Comment, Grade, GradeCell, Gradebook, Notebook, SolutionCell,
                          SourceCell, Student, SubmittedAssignment, SubmittedNotebook, TaskCell)
from nbgrader.apps.nbgraderapp import NbGraderApp
from nbgrader.nbgraderformat import MetadataValidator
from nbgrader.preprocessors import AssignLatePenalties, GetGrades, OverwriteCells
from sqlalchemy.exc import SAWarning
from traitlets.config import SingletonConfigurable

from course_lib.grading.feedback import FeedbackExporter, HideHiddenTests
from course_lib.grading.forkhost import exit_code
from course_lib.grading.kernel_launcher import WarmKernel

_FORMGRADER = Path(nbgrader.__file__).parent / "server_extensions" / "formgrader"


class _KeptValidators:
    """``jsonschema`` as nbgrader's cell-metadata validator sees it: ``validate`` builds each
    schema's validator, and checks the schema, once per fork host instead of once per call.

    nbgrader calls ``jsonschema.validate(metadata, schema)`` for every graded cell each time it
    reads a notebook (autograde, then feedback), and that function checks the schema against its
    meta-schema and builds a validator on every call: 0.07 s of CPU per read of an Assignment-1
    notebook, 0.006 s with the validator kept. It raises what ``jsonschema.validate`` raises (the
    best-matching error); every other name is ``jsonschema``'s own.
    """

    def __init__(self) -> None:
        self._validators: dict[str, jsonschema.protocols.Validator] = {}

    def validate(self, instance, schema, *args, **kwargs) -> None:
        if args or kwargs:
            return jsonschema.validate(instance, schema, *args, **kwargs)
        key = json.dumps(schema, sort_keys=True)  # nbgrader loads its schema afresh per validator
        validator = self._validators.get(key)
        if validator is None:
            cls = jsonschema.validators.validator_for(schema)
            cls.check_schema(schema)
            validator = self._validators[key] = cls(schema)
        error = jsonschema.exceptions.best_match(validator.iter_errors(instance))
        if error is not None:
            raise error

    def __getattr__(self, name: str):
        return getattr(jsonschema, name)


nbgrader.nbgraderformat.common.jsonschema = _KeptValidators()


class _SharedCompiledSQL:
    """``create_engine`` as nbgrader's ``Gradebook`` sees it: every SQLite engine gets the first
    one's dialect and compiled-statement cache, and commits without waiting for the disk
    (:func:`_without_waiting_for_the_disk`).

    SQLAlchemy compiles each ORM query to SQL once per engine: its cache is keyed by the engine's
    dialect object. nbgrader opens a new ``Gradebook``, hence a new engine, several times per
    submission (autograde, feedback, the report), so every child compiled every query again:
    about 0.25 s of CPU per Assignment-1 submission. With one dialect and one cache, the queries
    the fork host ran at start-up (``_warm_gradebook``) are compiled for every child it forks,
    and each child compiles the rest once. Compiled SQL depends on the dialect, not on the
    database file, so engines on different files share it safely; each engine keeps its own
    connection pool.

    In a forked child, which grades one submission, a file's engine is also kept open from one
    ``Gradebook`` to the next (its ``dispose`` leaves its one connection in the pool): making an
    engine and connecting cost about 1 ms of CPU, and nbgrader opens the scratch gradebook about
    ten times. A file is known by its path, device and inode, so a new file at the same path
    gets an engine of its own.
    """

    def __init__(self) -> None:
        self._shared: tuple | None = None  #: (dialect, compiled cache) of the first SQLite engine
        self._kept: dict[tuple, sqlalchemy.engine.Engine] | None = None  #: in a child: by file
        os.register_at_fork(after_in_child=self.keep_engines)

    def keep_engines(self) -> None:
        """From now on, keep each file's engine open (called in every forked child)."""
        self._kept = {}

    def __call__(self, url, **kwargs) -> sqlalchemy.engine.Engine:
        key = self._key(url, kwargs)
        if key is not None and key in self._kept:
            return self._kept[key]
        engine = sqlalchemy.create_engine(url, **kwargs)
        if engine.dialect.name != "sqlite":
            return engine
        sqlalchemy.event.listen(engine, "connect", _without_waiting_for_the_disk)
        if key is not None:
            engine.dispose = _kept_open
            self._kept[key] = engine
        if engine._compiled_cache is None:
            return engine
        if self._shared is None:
            self._shared = engine.dialect, engine._compiled_cache
        else:
            engine.dialect, engine._compiled_cache = self._shared
        return engine

    def keeps(self, engine: sqlalchemy.engine.Engine) -> bool:
        """Whether ``engine`` is one this child keeps open (and so lives as long as the child)."""
        return self._kept is not None and any(kept is engine for kept in self._kept.values())

    def _key(self, url, kwargs: dict) -> tuple | None:
        """What names a kept engine: the URL, the engine's options and the file's identity;
        None where engines are not kept (the host, a database that is not an SQLite file)."""
        text = str(url)
        if self._kept is None or not text.startswith("sqlite:///") or ":memory:" in text:
            return None
        try:
            stat = os.stat(text[len("sqlite:///"):])
        except OSError:
            return None
        return text, tuple(sorted(kwargs.items())), stat.st_dev, stat.st_ino


def _kept_open(close: bool = True) -> None:
    """``Engine.dispose`` of a kept engine: its pooled connection stays open for the next
    ``Gradebook`` of this child (and closes when the child exits)."""


def _without_waiting_for_the_disk(connection: sqlite3.Connection, _record) -> None:
    """Commit to this SQLite connection without syncing the file to the disk.

    The only SQLite databases a grading child opens are scratch copies of the template
    gradebook, read back and deleted after one submission, so a crash loses nothing that is
    not graded again. nbgrader commits once per graded cell; each commit waited for the disk
    (fsync) and cost about 0.4 ms of CPU, 0.08 ms without. Transactions still roll back
    (their journal is kept in memory).
    """
    connection.execute("PRAGMA synchronous = OFF")
    connection.execute("PRAGMA journal_mode = MEMORY")


_ENGINES = _SharedCompiledSQL()
nbgrader.api.create_engine = _ENGINES


class _CheckedSchemas:
    """SQLAlchemy's schema tools as nbgrader's ``Gradebook`` sees them: an SQLite gradebook's
    tables are listed and created once per file, not each time it is opened.

    ``Gradebook(url)`` lists the database's tables and then creates the missing ones, which
    reflects each of nbgrader's tables, and nbgrader opens the scratch gradebook about ten
    times per submission: about 0.02 s of CPU. Once a file has all the tables, its later
    opens in the same process skip both. A file is known by its device and inode while this
    process runs (tables are never dropped while a child grades); a forked child starts
    knowing none, so an inode reused after the host's warm-up file is checked again. Other
    databases are always checked.
    """

    def __init__(self) -> None:
        self._create_all = nbgrader.api.Base.metadata.create_all
        self._complete: set[tuple[int, int]] = set()  #: (st_dev, st_ino) of checked files
        os.register_at_fork(after_in_child=self._complete.clear)

    def _file(self, engine: sqlalchemy.engine.Engine) -> tuple[int, int] | None:
        database = engine.url.database
        if engine.dialect.name != "sqlite" or not database or database == ":memory:":
            return None
        try:
            stat = os.stat(database)
        except OSError:
            return None
        return stat.st_dev, stat.st_ino

    def inspect(self, engine: sqlalchemy.engine.Engine):
        """``sqlalchemy.inspect``, or for a checked file, what its table listing would say."""
        if self._file(engine) in self._complete:
            return self
        return sqlalchemy.inspect(engine)

    def get_table_names(self) -> list[str]:
        return list(nbgrader.api.Base.metadata.tables)

    def create_all(self, bind: sqlalchemy.engine.Engine, **kwargs) -> None:
        """``Base.metadata.create_all``, skipped for a file already checked."""
        file = self._file(bind)
        if file is None or file not in self._complete:
            self._create_all(bind=bind, **kwargs)
            if file is not None:
                self._complete.add(file)


_SCHEMAS = _CheckedSchemas()
nbgrader.api.inspect = _SCHEMAS.inspect
nbgrader.api.Base.metadata.create_all = _SCHEMAS.create_all


class _KnownCourses:
    """nbgrader's ``Gradebook.check_course`` as a forked child sees it: a course found in a
    kept engine's file is not looked up again.

    Every ``Gradebook`` looks its course up (a query, and a commit that adds it when missing) as
    it opens: about 1 ms of CPU, and nbgrader opens the scratch gradebook about ten times per
    submission. A child grades one submission in files nobody else writes, and no step deletes a
    course, so once found (or added) it stays. Only engines a child keeps (see
    :class:`_SharedCompiledSQL`) are remembered; the host, and any other database, check as
    nbgrader does.
    """

    def __init__(self) -> None:
        self._known: set[tuple[int, str]] = set()  #: (id of a kept engine, course id)
        os.register_at_fork(after_in_child=self._known.clear)
        check, known = Gradebook.check_course, self._known

        @functools.wraps(check)
        def check_course(gradebook, course_id: str = "default_course", **kwargs):
            key = (id(gradebook.engine), course_id)
            if key in known and not kwargs:
                return None  # nbgrader's Gradebook ignores what it returns
            course = check(gradebook, course_id=course_id, **kwargs)
            if _ENGINES.keeps(gradebook.engine):
                known.add(key)
            return course

        Gradebook.check_course = check_course


class _KeptLookups:
    """The gradebook lookups nbgrader's preprocessors make cell by cell, as a grading child makes
    them: one query per kind of row and notebook, not one per cell.

    OverwriteCells, SaveAutoGrades and GetGrades look up each graded cell's source, grade cell,
    grade and comment on their own (``Gradebook.find_source_cell``, ``find_graded_cell``,
    ``find_grade``, ``find_comment``): about 80 queries of up to six joins per Assignment-1
    submission, and building them is most of their cost. Here a Gradebook's first lookup of a
    kind loads every row of that kind for the notebook (and student), with nbgrader's joins and
    filters less the cell's name, and its later lookups read them.

    The rows are the ORM objects nbgrader's own query returns (a session has one object per
    row), and where a cell name is in two tables the one nbgrader tries first wins. A name that
    is not found, a call with keywords, and any lookup while the session holds rows added or
    deleted but not yet flushed go to nbgrader's own method; a flush that adds or deletes rows
    makes every Gradebook load afresh. Names of cells, notebooks, assignments and students
    never change while a child grades.
    """

    def __init__(self) -> None:
        self.generation = 0  #: bumped by every flush that adds or deletes rows
        sqlalchemy.event.listen(sqlalchemy.orm.Session, "after_flush", self._flushed)
        for name, load in (("find_source_cell", _source_cells), ("find_graded_cell", _graded_cells),
                           ("find_grade", _grades), ("find_comment", _comments)):
            setattr(Gradebook, name, self._kept(getattr(Gradebook, name), load))

    def _flushed(self, session, _context) -> None:
        if session.new or session.deleted:
            self.generation += 1

    def _kept(self, find, load):
        lookups = self
        arity = load.__code__.co_argcount  # the cell's name and the scope (the load's less ``db``)

        @functools.wraps(find)
        def kept(gradebook, *args, **keywords):
            db = gradebook.db
            if keywords or len(args) != arity or db.new or db.deleted:
                return find(gradebook, *args, **keywords)
            name, *scope = args
            loads = gradebook.__dict__.setdefault("_kept_loads", {})
            generation, rows = loads.get((find.__name__, *scope), (None, None))
            if generation != lookups.generation:
                rows = load(db, *scope)
                loads[(find.__name__, *scope)] = (lookups.generation, rows)
            row = rows.get(name)
            return row if row is not None else find(gradebook, name, *scope)

        return kept


def _notebook_cells(db, cell_class, notebook: str, assignment: str) -> dict:
    """``{cell name: cell}`` of one ``cell_class`` in one notebook, joined as nbgrader's
    ``find_source_cell`` and ``find_graded_cell`` join them."""
    rows = (db.query(cell_class)
            .join(Notebook, Notebook.id == cell_class.notebook_id)
            .join(Assignment, Assignment.id == Notebook.assignment_id)
            .filter(Notebook.name == notebook, Assignment.name == assignment))
    return {cell.name: cell for cell in rows}


def _source_cells(db, notebook: str, assignment: str) -> dict:
    return _notebook_cells(db, SourceCell, notebook, assignment)


def _graded_cells(db, notebook: str, assignment: str) -> dict:
    return {**_notebook_cells(db, TaskCell, notebook, assignment),
            **_notebook_cells(db, GradeCell, notebook, assignment)}  # GradeCell wins


def _submitted(db, row_class, cell_class, notebook: str, assignment: str, student: str) -> dict:
    """``{cell name: row}`` of one student's grades or comments in one notebook, through
    ``cell_class``, joined as nbgrader's ``find_grade`` and ``find_comment`` join them."""
    rows = (db.query(row_class, cell_class.name)
            .join(cell_class, cell_class.id == row_class.cell_id)
            .join(SubmittedNotebook, SubmittedNotebook.id == row_class.notebook_id)
            .join(Notebook, Notebook.id == SubmittedNotebook.notebook_id)
            .join(SubmittedAssignment, SubmittedAssignment.id == SubmittedNotebook.assignment_id)
            .join(Assignment, Assignment.id == SubmittedAssignment.assignment_id)
            .join(Student, Student.id == SubmittedAssignment.student_id)
            .filter(Notebook.name == notebook, Assignment.name == assignment, Student.id == student))
    return {name: row for row, name in rows}


#: the cell tables that name a grade or a comment: where a name is in both, the last wins, the
#: one nbgrader's ``find_grade`` and ``find_comment`` try first
_NAMED_BY = {Grade: (TaskCell, GradeCell), Comment: (TaskCell, SolutionCell)}


def _named(db, row_class, notebook: str, assignment: str, student: str) -> dict:
    rows: dict = {}
    for cell_class in _NAMED_BY[row_class]:
        rows.update(_submitted(db, row_class, cell_class, notebook, assignment, student))
    return rows


def _grades(db, notebook: str, assignment: str, student: str) -> dict:
    return _named(db, Grade, notebook, assignment, student)


def _comments(db, notebook: str, assignment: str, student: str) -> dict:
    return _named(db, Comment, notebook, assignment, student)


_COURSES = _KnownCourses()
_LOOKUPS = _KeptLookups()


# jupyter_client's KernelProvisionerFactory, a singleton that every app makes afresh (see
# _forget_singletons), lists every installed package's entry points when it is made: about
# 0.01 s of CPU per submission. Nothing is installed while a fork host runs: list them once.
_PROVISIONERS = KernelProvisionerFactory._get_all_provisioners()
KernelProvisionerFactory._get_all_provisioners = staticmethod(lambda: _PROVISIONERS)


def nbgrader_main(*argv: str) -> None:
    """Run ``nbgrader <argv>`` exactly as the ``nbgrader`` console script does."""
    sys.argv = ["nbgrader", *argv]
    NbGraderApp.launch_instance(argv=list(argv))


def grade(assignment_id: str, student_id: str, db_url: str, out_path: str) -> None:
    """Autograde one submission, render its feedback and read back what was recorded.

    Runs ``nbgrader autograde``, then (when it succeeded) ``nbgrader
    generate_feedback``, then :func:`read_report`, one after the other in this one
    process, as nbgrader's own ``NbGraderAPI`` runs its apps. Feedback and report
    then reuse what autograde loaded (SQLAlchemy's compiled queries and mappers,
    the exporters' set-up): about 0.4 s of CPU less per submission than a process
    each. Writes ``{"autograde": code, "feedback": code or null, "report": ...,
    "cpu": {"autograde": seconds, "feedback": seconds}, "kernel_cpu": seconds}`` to
    ``out_path`` (JSON); the ``cpu`` seconds are this process's own, ``kernel_cpu`` those of the
    warm kernels it started (the zygote measures them; a cold kernel's are this process's).
    """
    started = time.process_time()
    autograde = _run_app("autograde", assignment_id, "--student", student_id)
    autograded = time.process_time()
    feedback = None
    if autograde == 0:
        feedback = _run_app("generate_feedback", assignment_id, "--student", student_id)
    steps = {"autograde": autograde, "feedback": feedback,
             "report": read_report(db_url, assignment_id, student_id),
             "cpu": {"autograde": autograded - started, "feedback": time.process_time() - autograded},
             "kernel_cpu": WarmKernel.ended_cpu}
    with open(out_path, "w") as handle:
        json.dump(steps, handle)


def _run_app(*argv: str) -> int:
    """Run ``nbgrader <argv>`` as a fresh app in this process; return its exit code."""
    _forget_singletons()
    try:
        nbgrader_main(*argv)
    except SystemExit as exit_:
        return exit_code(exit_)
    except Exception:
        traceback.print_exc()
        return 1
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
    return 0


def _forget_singletons() -> None:
    """Drop every traitlets singleton (the apps) so that the next app starts as in a fresh process."""
    pending = [SingletonConfigurable]
    while pending:
        cls = pending.pop()
        if "_instance" in vars(cls):
            cls._instance = None
        pending.extend(cls.__subclasses__())


def write_report(db_url: str, assignment_id: str, student_id: str, out_path: str) -> None:
    """Write :func:`read_report` for one submission to ``out_path`` (JSON)."""
    with open(out_path, "w") as handle:
        json.dump(read_report(db_url, assignment_id, student_id), handle)


def read_report(db_url: str, assignment_id: str, student_id: str) -> dict | None:
    """What the gradebook at ``db_url`` holds for one submission.

    ``{"timestamp": ..., "notebooks": {name: {"late_penalty", "grades",
    "comments"}}}``; ``None`` for a submission nbgrader never recorded.

    Read as columns, not ORM objects: nbgrader's rows load computed scores and names through
    their relationships, one query each (about 0.01 s of CPU a submission); these are six
    queries. A grade or comment is named by its cell, found as nbgrader's ``find_grade`` and
    ``find_comment`` find it (:data:`_NAMED_BY`).
    """
    with Gradebook(db_url) as gradebook:
        db = gradebook.db
        found = db.execute(
            sqlalchemy.select(SubmittedAssignment.id, SubmittedAssignment.timestamp)
            .join(Assignment, Assignment.id == SubmittedAssignment.assignment_id)
            .where(Assignment.name == assignment_id, SubmittedAssignment.student_id == student_id)
        ).first()
        if found is None:
            return None
        submission, timestamp = found
        notebooks = {name: {"late_penalty": penalty, "grades": {}, "comments": {}}
                     for name, penalty in db.execute(
                         sqlalchemy.select(Notebook.name, SubmittedNotebook.late_submission_penalty)
                         .join(Notebook, Notebook.id == SubmittedNotebook.notebook_id)
                         .where(SubmittedNotebook.assignment_id == submission))}
        for kind, row_class, columns in (
                ("grades", Grade, (Grade.auto_score, Grade.needs_manual_grade)),
                ("comments", Comment, (Comment.auto_comment,))):
            for cell_class in _NAMED_BY[row_class]:  # the last wins
                for notebook, cell, *values in db.execute(
                        sqlalchemy.select(Notebook.name, cell_class.name, *columns)
                        .join(cell_class, cell_class.id == row_class.cell_id)
                        .join(SubmittedNotebook, SubmittedNotebook.id == row_class.notebook_id)
                        .join(Notebook, Notebook.id == SubmittedNotebook.notebook_id)
                        .where(SubmittedNotebook.assignment_id == submission)):
                    notebooks[notebook][kind][cell] = values if kind == "grades" else values[0]
        return {"timestamp": None if timestamp is None else timestamp.isoformat(),
                "notebooks": notebooks}


def _warm_caches() -> None:
    """Validate and render one tiny graded notebook the way autograde and feedback do."""
    _warm_gradebook()
    grading = {"grade": True, "solution": False, "grade_id": "t", "points": 1, "score": 0}
    notebook = new_notebook(cells=[
        new_markdown_cell("*warm* &amp; &lt;up&gt;"),
        new_code_cell("### BEGIN HIDDEN TESTS\nassert False, 'x'\n### END HIDDEN TESTS",
                      metadata={"nbgrader": grading},
                      outputs=[new_output("error", ename="AssertionError", evalue="x",
                                          traceback=["\x1b[0;31mAssertionError\x1b[0m: x"])]),
    ])
    notebook.metadata["language_info"] = {"name": "python", "pygments_lexer": "ipython3"}
    nbformat.validate(notebook)
    metadata = MetadataValidator()
    metadata.validate_nb(metadata.upgrade_notebook_metadata(copy.deepcopy(notebook)))
    exporter = FeedbackExporter(  # configured as nbgrader's GenerateFeedback configures it
        template_name="feedback", extra_template_basedirs=[str(_FORMGRADER / "templates")],
        extra_template_paths=[str(_FORMGRADER / "static" / "node_modules" / "bootstrap" / "dist" / "css")])
    exporter.register_preprocessor(HideHiddenTests(), enabled=True)
    exporter.from_notebook_node(notebook, resources={
        "nbgrader": {"notebook": "warm", "score": 0, "max_score": 1, "late_penalty": 0}})


def _warm_gradebook() -> None:
    """Record, grade and read back one tiny submission through the steps of autograde, feedback
    and the report that touch the gradebook.

    SQLAlchemy configures nbgrader's mappers and their loaders on first use (about 0.17 s of
    CPU), and compiles each query once per dialect (see :class:`_SharedCompiledSQL`): about
    0.02 s of CPU per submission for the queries of these steps. Done here, every child
    inherits both.
    """
    from course_lib.grading.autogrades import SaveAutoGradesOnce
    from course_lib.grading.integrity import RestoreTestCells

    answer = new_code_cell("x = 1", metadata={"nbgrader": {
        "grade": False, "solution": True, "locked": False, "grade_id": "answer",
        "schema_version": 3}})
    test = new_code_cell("assert x == 1", metadata={"nbgrader": {
        "grade": True, "solution": False, "locked": True, "grade_id": "test", "points": 1,
        "schema_version": 3}})
    notebook = new_notebook(cells=[answer, test])
    for cell in notebook.cells:
        cell.metadata.nbgrader["checksum"] = nbgrader.utils.compute_checksum(cell)
    with tempfile.TemporaryDirectory(prefix="rnn-course-warm-") as tmp, warnings.catch_warnings():
        # nbgrader's add_submission trips SQLAlchemy's autoflush warning (in autograde too);
        # the warm-up keeps the host's stderr clean
        warnings.simplefilter("ignore", SAWarning)
        path = Path(tmp) / "gradebook.db"
        url = f"sqlite:///{path}"
        with closing(sqlite3.connect(path)) as database:  # tables present: nbgrader skips alembic
            database.execute("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL)")
            database.commit()
        with Gradebook(url) as gradebook:
            gradebook.add_assignment("a")
            gradebook.add_notebook("n", "a")
            gradebook.add_solution_cell("answer", "n", "a")
            gradebook.add_grade_cell("test", "n", "a", max_score=1, cell_type="code")
            for cell in notebook.cells:
                grading = cell.metadata.nbgrader
                gradebook.add_source_cell(grading["grade_id"], "n", "a", cell_type="code",
                                          source=cell.source, checksum=grading["checksum"],
                                          locked=grading["locked"])
            gradebook.add_student("s")
            gradebook.update_or_create_submission("a", "s")
        resources = {"nbgrader": {"db_url": url, "notebook": "n", "assignment": "a", "student": "s"}}
        for step in (RestoreTestCells(), OverwriteCells(), SaveAutoGradesOnce(),
                     AssignLatePenalties(), GetGrades()):
            notebook, resources = step.preprocess(notebook, resources)
        read_report(url, "a", "s")


_warm_caches()
