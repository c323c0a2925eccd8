"""Instructor tooling behind the ``rnn-course`` command: release, grade, feedback, export.

Loaded only by the CLI and its tests (``import course_lib`` never imports it):
it needs nbgrader and Dask. One concept per module:

- ``cli``            the ``rnn-course`` command line
- ``course``         the course root, its ``nbgrader_config.py`` and gradebook URL
- ``release``        regenerate ``assignments/`` and refuse solution or hidden-test leaks
- ``collect``        LMS export (nbgrader ``zip_collect``) or ``submitted/`` tree -> submissions
- ``bundle``         what every task of one assignment needs (template gradebook, files, config)
- ``tasks``          the dataclasses that travel between client and workers
- ``grade``          the Dask client: send the bundle, submit, record results as they arrive, summary
- ``worker``         the Dask task: real ``nbgrader autograde`` + ``generate_feedback`` in a scratch course
- ``runner``, ``forkhost``, ``nbgrader_child``   run ``nbgrader`` in children forked from a
                     process that imported it once (no 2 s import per submission)
- ``preload``        what those processes import before they fork
- ``sandbox``        limits and isolation of the student's code (the kernel)
- ``kernel_launcher`` the kernel command: limits, bubblewrap, the judge's comm
- ``zygote``         warm kernels, each forked into a sandbox of its own
- ``tmpdirs``        temporary folders named after their owner; the sweep of dead owners' ones
- ``provisioner``    jupyter_client's provisioner of warm kernels: no launcher process
- ``kernel_client``  the client that is ready as soon as the kernel answers
- ``integrity``      nbgrader preprocessors: locked cells restored, cells run and judged
- ``autogrades``     nbgrader's SaveAutoGrades, committing a notebook's scores once
- ``judge``          runs every test cell outside the student's process; proxies to it
- ``executor``       the kernel's side: answers the judge's calls with data only
- ``wire``           the frames between them and the strict decoder of what comes back
- ``scratch``        "from scratch" checks decided from the student's source
- ``gradebook``      the one writer of the real gradebook (one transaction per student), backups
- ``feedback``       feedback that hides hidden tests
- ``late``           per-day late penalty with a cap (an nbgrader late-submission plugin)
- ``regions``        nbgrader's solution and hidden-test markers, and their one reader
- ``settings``       nbgrader settings as data, and where they become configuration
- ``export``         nbgrader's grades CSV, a per-test breakdown CSV, a histogram
- ``nbgrader_api``   nbgrader's Python API, in-process, for the client's once-per-run steps
"""

import sys

# nbformat (hence nbgrader) imports jsonschema, which imports the optional ``rfc3987_syntax``
# when it is installed (jupyter-events pulls it in) to check the "iri" string format; that
# module compiles 38 lark grammars at import: about 1 s of CPU in every process. Nothing in
# grading validates IRIs, so the processes of this package (the CLI, the fork hosts, the
# Dask workers) mark it absent and jsonschema goes on without that one format check.
sys.modules.setdefault("rfc3987_syntax", None)
