"""nbgrader's ``SaveAutoGrades`` step, committing a notebook's scores once.

nbgrader's ``SaveAutoGrades`` records each graded cell's score (and each answer's "No
response." comment) and commits after every cell. A commit expires every object the session
holds, so the next cell's grade is read from the database again, and its computed columns
with it: for an Assignment-1 notebook (17 graded cells, 9 answers) about 0.04 s of CPU per
submission went to commits and those reloads. ``sandbox.configure`` puts
:class:`SaveAutoGradesOnce` in its place.
"""

from __future__ import annotations

from nbconvert.exporters.exporter import ResourcesDict
from nbformat import NotebookNode
from nbgrader.api import Gradebook
from nbgrader.preprocessors import NbGraderPreprocessor, SaveAutoGrades


class SaveAutoGradesOnce(SaveAutoGrades):
    """``SaveAutoGrades``, whose commit after each cell only writes the cell's rows (a flush);
    the transaction commits once, after the last cell.

    The database ends in the same state: the same rows, written in the same order. When a cell
    raises, what was written before the error is committed before the error goes on, as
    nbgrader's commit per cell kept it (the calls that can raise, the lookups and the checksum,
    come before a cell changes anything).
    """

    def preprocess(self, nb: NotebookNode, resources: ResourcesDict) -> tuple[NotebookNode, ResourcesDict]:
        self.notebook_id = resources["nbgrader"]["notebook"]
        self.assignment_id = resources["nbgrader"]["assignment"]
        self.student_id = resources["nbgrader"]["student"]
        self.db_url = resources["nbgrader"]["db_url"]
        self.gradebook = Gradebook(self.db_url)
        with self.gradebook:
            session = self.gradebook.db
            session.commit = session.flush  # what _add_score and _add_comment call after each cell
            try:
                nb, resources = NbGraderPreprocessor.preprocess(self, nb, resources)
            finally:
                del session.commit
                session.commit()
        return nb, resources
