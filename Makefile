# Two commands do everything: `make book` and `make test`.
# Both create .venv (Python 3.11) and install requirements-dev.txt first (every
# dependency pinned exactly, and the repository's two packages, editable); a
# second run finds the stamp files and skips straight to the work.

PYTHON ?= python3.11
VENV   := .venv
BIN    := $(CURDIR)/$(VENV)/bin
STAMP  := $(VENV)/.installed
SYSTEM_STAMP := $(VENV)/.system-deps

# nbgrader runs the `alembic` command it finds on PATH: keep .venv/bin first.
export PATH := $(BIN):$(PATH)
export PYTHONHASHSEED := 0
export MPLBACKEND := Agg
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: setup book test release grade bench clean system-deps slides

setup: $(STAMP) $(SYSTEM_STAMP)

$(VENV)/bin/python:
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "error: Python 3.11 is needed, but '$(PYTHON)' was not found. Install python3.11 or run 'make PYTHON=/path/to/python3.11 ...'." >&2; exit 1; }
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else 1)' 2>/dev/null || { echo "error: Python 3.11 is needed, but '$(PYTHON)' is Python $$($(PYTHON) -c 'import platform; print(platform.python_version())' 2>/dev/null || echo '?'). Run 'make PYTHON=/path/to/python3.11 ...'." >&2; exit 1; }
	$(PYTHON) -m venv $(VENV)

$(STAMP): requirements-dev.txt pyproject.toml instructor/pyproject.toml | $(VENV)/bin/python
	$(BIN)/python -m pip install --quiet --upgrade "pip>=23.2"
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (rnn-course)" >/dev/null
	touch $@

# Debian packages the suite needs: chromium (browser tests), bubblewrap (the
# grading sandbox), postgresql (the scale-out gradebook test), slurmctld, slurmd,
# slurm-client and munge (the SLURM scheduler test).
$(SYSTEM_STAMP): .ci/system-deps.sh | $(VENV)/bin/python
	bash .ci/system-deps.sh
	touch $@

book: setup
	$(BIN)/jupyter-book build --warningiserror --nitpick --keep-going --path-output . .
	@echo "Book built: $(CURDIR)/_build/html/index.html"

# two pytest processes, a test file each at a time (a file's fixtures stay in one process):
# most heavy tests wait on kernels and subprocesses, so two keep both cores busy
# (tests/conftest.py gives every process one compute thread, so they do not thrash).
# Files go out longest first, in tests/conftest.py's order (--no-loadscope-reorder: not
# xdist's most-tests-first, which left the long few-test files to the end).
# TEST_JOBS=0 runs the suite in this process.
TEST_JOBS ?= 2

test: setup
	$(BIN)/python -m pytest --numprocesses $(TEST_JOBS) --dist loadfile --no-loadscope-reorder

release: setup
	$(BIN)/rnn-course release

grade: setup
	@test -n "$(ASSIGNMENT)" -a -n "$(SUBMISSIONS)" || { echo "usage: make grade ASSIGNMENT=<id> SUBMISSIONS=<zip or folder>" >&2; exit 2; }
	$(BIN)/rnn-course grade $(ASSIGNMENT) $(SUBMISSIONS)

bench: setup
	$(BIN)/python benchmarks/lstm_vs_torch.py
	$(BIN)/python benchmarks/grading_throughput.py
	$(BIN)/python benchmarks/book_build.py

clean:
	rm -rf _build .pytest_cache gradebook.db submitted autograded feedback

# reveal.js decks of every lecture into _build/slides (open _build/slides/index.html from disk).
# Outputs come from the book's execution cache; a lecture the cache lacks is executed here.
slides: setup
	$(BIN)/python tools/slides/build_slides.py --out _build/slides
