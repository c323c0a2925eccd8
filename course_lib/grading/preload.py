"""What notebooks import, imported once by the processes that fork one per submission.

The zygote forks each warm kernel and the fork host forks each nbgrader child, where the judge
runs the tests and the instructor's locked cells. Both import these modules before they fork,
so that no submission pays for them again: a torch optimiser pulls in ``torch._dynamo`` on its
first use (about 2 s of CPU), the course's plots ``matplotlib.pyplot`` (about 1 s), and each
assignment its own ``course_lib`` modules.
"""

from __future__ import annotations

import importlib
import pkgutil

NOTEBOOK_MODULES = ("numpy", "torch", "torch.optim", "torch._dynamo", "torch.utils.data",
                    "matplotlib.pyplot")


def import_notebook_modules() -> None:
    """Import :data:`NOTEBOOK_MODULES` and every module of the student library ``course_lib``."""
    for name in NOTEBOOK_MODULES:
        importlib.import_module(name)
    import course_lib

    for module in pkgutil.iter_modules(course_lib.__path__):
        if module.name != "grading":
            importlib.import_module(f"course_lib.{module.name}")
