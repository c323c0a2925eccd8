"""Build the corpus of hostile and broken submissions from a real released assignment.

``write_corpus(source, release, out)`` fills the released notebook with the solution's
answers (an honest student) and derives one submission file per case from it, named the
way an LMS export names them: ``<student>_attempt_<notebook>.ipynb``. Every case is one
entry of ``CASES``: the student id, what the submission does, and the grade ids whose
points it must not earn (``None``: all of them). ``ZIP_SLIP`` is written into the zip that
carries the corpus, by ``write_zip``.

Generated, not stored, so that the corpus follows the assignment when it changes.
"""

from __future__ import annotations

import copy
import json
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

# the function every tampering case answers wrongly, then tries to pass anyway
TARGET = "encode"
WRONG_TARGET = (
    "def encode(tokens, stoi):\n"
    "    return torch.zeros(len(tokens), dtype=torch.long)  # wrong on purpose\n"
)


@dataclass(frozen=True)
class Case:
    student: str
    what: str
    change: str  # name of the function below that derives the file
    no_points_on: tuple[str, ...] | None = field(default=())  # None: no points at all
    message: str = ""  # a phrase the student's messages must contain
    full_marks: bool = False  # the damage is contained: every test keeps its points


def _code(source: str) -> dict:
    return nbformat.v4.new_code_cell(source)


def _ids(nb) -> list[str | None]:
    return [c.metadata.get("nbgrader", {}).get("grade_id") for c in nb.cells]


def _index(nb, grade_id: str) -> int:
    return _ids(nb).index(grade_id)


def _tests_of(nb, answer: str) -> list[str]:
    """The test cells that follow answer cell ``answer`` up to the next answer."""
    tests, started = [], False
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("solution"):
            if started:
                break
            started = meta.get("grade_id") == answer
        elif started and meta.get("grade"):
            tests.append(meta["grade_id"])
    return tests


def fill(release, source):
    """The released notebook with every answer cell taken from the solution (markers dropped)."""
    answers = {
        c.metadata["nbgrader"]["grade_id"]: c.source
        for c in source.cells
        if c.metadata.get("nbgrader", {}).get("solution")
    }
    nb = copy.deepcopy(release)
    for cell in nb.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id in answers:
            lines = answers[grade_id].splitlines()
            cell.source = "\n".join(l for l in lines if "### BEGIN SOLUTION" not in l
                                    and "### END SOLUTION" not in l)
    return nb


def first_answer(nb) -> str:
    return next(c.metadata["nbgrader"]["grade_id"] for c in nb.cells
                if c.metadata.get("nbgrader", {}).get("solution") and c.cell_type == "code")


def _after(nb, grade_id: str, source: str):
    nb.cells.insert(_index(nb, grade_id) + 1, _code(source))
    return nb


def _wrong_target(nb, tamper: str, final: str = ""):
    nb.cells[_index(nb, TARGET)].source = WRONG_TARGET
    nb.cells.insert(_index(nb, TARGET) + 1, _code(tamper))
    if final:  # a last cell: prints what the tampering saw while the tests ran
        nb.cells.append(_code(final))
    return nb


TAMPERING = {
    "patchallclose": (
        "import torch, torch.testing\n"
        "torch.allclose = lambda *a, **k: True\n"
        "torch.equal = lambda *a, **k: True\n"
        "torch.testing.assert_close = lambda *a, **k: None\n"
    ),
    "patchnumpy": (
        "import numpy, numpy.testing\n"
        "numpy.testing.assert_allclose = lambda *a, **k: None\n"
        "numpy.testing.assert_array_equal = lambda *a, **k: None\n"
        "numpy.allclose = lambda *a, **k: True\n"
    ),
    "patchbuiltins": (
        "import builtins\n"
        "builtins.abs = lambda x: 0\n"
        "builtins.isinstance = lambda *a: True\n"
        "class _AnyList(list):\n"
        "    def __eq__(self, other): return True\n"
        "    def __ne__(self, other): return True\n"
        "builtins.list = _AnyList\n"
    ),
    "alwayseq": (
        "class _Equal(list):\n"
        "    def __eq__(self, other): return True\n"
        "    def __ne__(self, other): return True\n"
        "_real_encode = encode\n"
        "def encode(tokens, stoi):\n"
        "    out = _real_encode(tokens, stoi)\n"
        "    class _Lying(type(out)):\n"
        "        def tolist(self): return _Equal()\n"
        "    return out.as_subclass(_Lying)\n"
    ),
    "tensorsubclass": (
        "class Liar(torch.Tensor):\n"
        "    @classmethod\n"
        "    def __torch_function__(cls, func, types, args=(), kwargs=None):\n"
        "        if func in (torch.allclose, torch.equal):\n"
        "            return True\n"
        "        if getattr(func, '__name__', '') in ('eq', '__eq__'):\n"
        "            return torch.ones((), dtype=torch.bool)\n"
        "        return super().__torch_function__(func, types, args, kwargs or {})\n"
        "_wrong = encode\n"
        "encode = lambda tokens, stoi: _wrong(tokens, stoi).as_subclass(Liar)\n"
    ),
    "showtraceback": (
        "ip = get_ipython()\n"
        "ip.showtraceback = lambda *a, **k: None\n"
        "ip._showtraceback = lambda *a, **k: None\n"
        "type(ip)._showtraceback = lambda *a, **k: None\n"
        "ip.set_custom_exc((BaseException,), lambda *a, **k: None)\n"
    ),
    "helpers": (
        "import course_lib.checks as _checks\n"
        "for _name in _checks.__all__:\n"
        "    setattr(_checks, _name, lambda *a, **k: None)\n"
        "check_close = check_shape = check_from_scratch = lambda *a, **k: None\n"
    ),
}

# Cells that reach one layer each of what used to decide verdicts in the kernel, or of the
# judge's protocol; each follows the wrong ``encode`` and must earn nothing on its tests.
# A pair is (cell after the answer, last cell of the notebook).
REACHING = {
    "inputtransformer": (  # later cells (tests, in nbgrader) become `pass`
        "get_ipython().input_transformers_post.append(lambda lines: ['pass\\n'])\n"
    ),
    "listeq": (  # a list subclass that equals everything
        "class _Always(list):\n"
        "    def __eq__(self, other): return True\n"
        "    def __ne__(self, other): return False\n"
        "_wrong = encode\n"
        "encode = lambda tokens, stoi: _Always(_wrong(tokens, stoi).tolist())\n"
    ),
    "torchproxy": (  # the global name torch becomes a module whose comparisons always agree
        "import types, torch as _torch\n"
        "torch = types.ModuleType('torch')\n"
        "torch.__dict__.update(vars(_torch))\n"
        "torch.equal = lambda *a, **k: True\n"
        "torch.allclose = lambda *a, **k: True\n"
    ),
    "audithook": (  # records every compiled source and every unpickled name, prints them last
        "import sys\n"
        "_seen = []\n"
        "sys.addaudithook(lambda event, args: _seen.append(repr(args)[:3000]) if event in ('compile', 'exec', 'pickle.find_class') else None)\n",
        "print('audit', len(_seen), [s for s in _seen if ('_rng' in s or 'HIDDEN' in s) and '_seen' not in s])\n",
    ),
    "tracer": (  # a trace function on every frame, prints the code it saw
        "import sys, threading\n"
        "_codes = set()\n"
        "def _trace(frame, event, arg):\n"
        "    _codes.add(frame.f_code.co_filename)\n"
        "    return None\n"
        "sys.settrace(_trace); threading.settrace(_trace)\n",
        "import sys\nsys.settrace(None)\n"
        "print('traced', [c for c in _codes if 'hidden' in c.lower()])\n",
    ),
    "kernelmessaging": (  # every later execute request gets an 'ok' reply without running
        "_kernel = get_ipython().kernel\n"
        "def _fake(stream, ident, parent):\n"
        "    _kernel.session.send(stream, 'execute_reply', {'status': 'ok', 'execution_count': 1,\n"
        "                         'user_expressions': {}, 'payload': []}, parent, ident=ident)\n"
        "_kernel.shell_handlers['execute_request'] = _fake\n"
    ),
    "fakeserve": (  # the executor's protocol, faked (token shown): every request answered with True
        "import json, socket, struct\n"
        "import course_lib.grading.executor as _ex\n"
        "def _frame(body):\n"
        "    return struct.pack('>I', 4 + len(body)) + struct.pack('>I', len(body)) + body\n"
        "def _serve(path, token):\n"
        "    s = socket.socket(socket.AF_UNIX); s.connect(path); s.sendall(_frame(token.encode()))\n"
        "    while True:\n"
        "        n = struct.unpack('>I', s.recv(4))[0]; body = b''\n"
        "        while len(body) < n: body += s.recv(n - len(body))\n"
        "        if b'done' in body[:64]: return\n"
        "        s.sendall(_frame(json.dumps({'value': True, 'states': []}).encode()))\n"
        "_ex.serve = _serve\n"
    ),
    "hugereply": (  # the executor faked (token shown), announcing a 4 GB reply
        "import socket, struct\n"
        "import course_lib.grading.executor as _ex\n"
        "def _serve(path, token):\n"
        "    s = socket.socket(socket.AF_UNIX); s.connect(path); t = token.encode()\n"
        "    s.sendall(struct.pack('>I', 4 + len(t)) + struct.pack('>I', len(t)) + t)\n"
        "    s.recv(1 << 20); s.sendall(struct.pack('>I', 2**32 - 1) + b'x' * 1000)\n"
        "_ex.serve = _serve\n"
    ),
    "deepreply": (  # a result nested 100,000 levels deep
        "_wrong = encode\n"
        "def encode(tokens, stoi):\n"
        "    out = []\n"
        "    for _ in range(100_000):\n"
        "        out = [out]\n"
        "    return out\n"
    ),
    "hugetensor": (  # a 400 MB result
        "def encode(tokens, stoi):\n"
        "    return torch.zeros(100_000_000, dtype=torch.float32)\n"
    ),
    "nanreply": (  # NaNs where numbers are compared
        "def encode(tokens, stoi):\n"
        "    return torch.full((len(tokens),), float('nan'))\n"
    ),
    "earlyconnect": (  # a thread connects to every judge socket first and answers True
        "import glob, json, socket, struct, threading, time\n"
        "def _squat():\n"
        "    for _ in range(2000):\n"
        "        for path in glob.glob('/tmp/**/judge-*.sock', recursive=True) + glob.glob('../../../**/judge-*.sock', recursive=True):\n"
        "            try:\n"
        "                s = socket.socket(socket.AF_UNIX); s.connect(path)\n"
        "                h = json.dumps({'value': True, 'states': []}).encode()\n"
        "                s.sendall((struct.pack('>I', 4 + len(h)) + struct.pack('>I', len(h)) + h) * 50)\n"
        "            except OSError:\n"
        "                pass\n"
        "        time.sleep(0.05)\n"
        "threading.Thread(target=_squat, daemon=True).start()\n"
    ),
    "gcwalk": (  # looks through every object in the kernel for test code
        "",
        "import gc\n"
        "_needles = [''.join(['_rng', '.choice(']), ' '.join(['BEGIN HIDDEN', 'TESTS'])]\n"
        "_found = 0\n"
        "for _o in gc.get_objects():\n"
        "    _items = _o.values() if isinstance(_o, dict) else _o if isinstance(_o, (list, tuple)) else ()\n"
        "    _found += sum(isinstance(v, str) and v not in _needles and any(n in v for n in _needles) for v in _items)\n"
        "print('gc found', _found)\n",
    ),
    "procsnoop": (  # reads every process's command line, environment and memory maps it can
        "import glob\n"
        "_hits = []\n"
        "for _p in glob.glob('/proc/[0-9]*'):\n"
        "    for _f in ('cmdline', 'environ'):\n"
        "        try:\n"
        "            _hits += [_p] if b'HIDDEN' in open(_p + '/' + _f, 'rb').read() else []\n"
        "        except OSError:\n"
        "            pass\n"
        "print('processes seen', len(glob.glob('/proc/[0-9]*')), 'hits', _hits)\n"
    ),
    "ctypeswrite": (  # rewrites the small integer 0 to 1 in the kernel's memory
        "import ctypes, sys\n"
        "ctypes.cast(id(0), ctypes.POINTER(ctypes.c_long))[3 if sys.maxsize > 2**32 else 2] = 1\n"
    ),
    "torchc": (  # patches torch's C-level tensor methods so that any comparison agrees
        "import torch\n"
        "torch.Tensor.__eq__ = lambda a, b: torch.ones((), dtype=torch.bool)\n"
        "torch.Tensor.tolist = lambda self: [2, 3, 4, 1]\n"
        "torch._C.TensorBase.tolist = lambda self: [2, 3, 4, 1]\n"
    ),
    "generatorreply": (  # a result that is not data
        "def encode(tokens, stoi):\n"
        "    return (i for i in range(len(tokens)))\n"
    ),
}

SNOOPING = (
    "import glob, os, pathlib\n"
    "found = []\n"
    "for pattern in ['/work/*/solutions/**/*', '/work/*/gradebook.db', '/tmp/**/gradebook.db',\n"
    "                '/tmp/**/source/**/*.ipynb', '/tmp/**/release/**/*.ipynb',\n"
    "                '/tmp/**/submitted/**/*.ipynb', '../../../**/*.ipynb', './*.ipynb']:\n"
    "    for path in glob.glob(pattern, recursive=True)[:50]:\n"
    "        try:\n"
    "            text = pathlib.Path(path).read_text(errors='replace')\n"
    "        except OSError:\n"
    "            continue\n"
    "        if ('HIDDEN ' + 'TESTS') in text or ('BEGIN ' + 'SOLUTION') in text or path.endswith('.db'):\n"
    "            found.append(path)\n"
    "            print('LEA' + 'KED', path, text[:2000])\n"
    "print('snooped', len(found))\n"
    "import linecache\n"
    "print('history', [s for s in In if ('HIDDEN ' + 'TESTS') in s])\n"
)

WRITING = (
    "import glob, pathlib\n"
    "hits = 0\n"
    "for pattern in ['/tmp/**/gradebook.db', '/work/*/gradebook.db', '/tmp/**/submitted/**/*.ipynb',\n"
    "                '../../../**/*.ipynb']:\n"
    "    for path in glob.glob(pattern, recursive=True)[:50]:\n"
    "        try:\n"
    "            pathlib.Path(path).write_text('OVERWRITTEN BY A STUDENT')\n"
    "            hits += 1\n"
    "        except OSError:\n"
    "            pass\n"
    "print('overwrote', hits)\n"
)

NETWORK = (
    "import socket\n"
    "try:\n"
    "    socket.create_connection(('192.0.2.1', 80), timeout=1)\n"
    "    print('NETWORK OPEN')\n"
    "except OSError as error:\n"
    "    print('no network:', error)\n"
    "import torch\n"
    "print('kernel threads', torch.get_num_threads())\n"
)


def _derive(change: str, honest, release):
    nb = copy.deepcopy(honest)
    answer = first_answer(nb)
    test = _tests_of(nb, answer)[0]
    if change == "honest":
        return nb
    if change == "syntaxerror":
        nb.cells[_index(nb, answer)].source = "def broken(:\n    return"
    elif change == "importerror":
        nb.cells.insert(_index(nb, "imports") + 1, _code("import no_such_module_for_rnn_course"))
    elif change == "infloop":  # catches the interrupt: only stopping the kernel ends it
        _after(nb, answer, "import signal\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\nwhile True:\n    pass")
    elif change == "sleep":
        _after(nb, answer, "import time\ntime.sleep(10**6)")
    elif change == "osexit":
        _after(nb, answer, "import os\nos._exit(0)")
    elif change == "sysexit":
        _after(nb, answer, "import sys\nsys.exit()")
    elif change == "killkernel":
        _after(nb, answer, "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)")
    elif change == "membomb":
        _after(nb, answer, "hog = bytearray(40 * 1024**3)  # 40 GB")
    elif change == "forkbomb":  # children exit by themselves: bounded even without a limit
        _after(nb, answer, "import os, time\nchildren = []\nwhile len(children) < 100_000:\n"
                           "    pid = os.fork()\n    if pid == 0:\n        time.sleep(10)\n"
                           "        os._exit(0)\n    children.append(pid)")
    elif change == "bigprint":
        _after(nb, answer, "for _ in range(100):\n    print('x' * 1_000_000)")
    elif change == "hugeimage":
        _after(nb, answer, "from IPython.display import Image, display\n"
                           "display(Image(data=b'\\x89PNG\\r\\n\\x1a\\n' + bytes(60_000_000), format='png'))")
    elif change == "deletedtest":
        del nb.cells[_index(nb, test)]
    elif change == "duplicatedtest":
        copy_ = copy.deepcopy(nb.cells[_index(nb, test)])
        copy_.source = "pass  # my own version"
        copy_.id = "my-own-version"  # a pasted cell gets a new id, as in JupyterLab
        nb.cells.insert(_index(nb, test) + 1, copy_)
    elif change == "reorderedtest":
        nb.cells.insert(0, nb.cells.pop(_index(nb, test)))
    elif change == "editedtest":
        nb.cells[_index(nb, test)].source = '"""edited"""\npass'
    elif change == "celltype":
        cell = nb.cells[_index(nb, test)]
        nb.cells[_index(nb, test)] = nbformat.v4.new_markdown_cell(cell.source, metadata=cell.metadata)
    elif change in TAMPERING:
        _wrong_target(nb, TAMPERING[change])
    elif change in REACHING:
        tamper, *final = (REACHING[change],) if isinstance(REACHING[change], str) else REACHING[change]
        _wrong_target(nb, tamper, *final)
    elif change == "snoop":
        nb.cells.append(_code(SNOOPING))
        nb.cells.insert(_index(nb, "imports") + 1, _code(SNOOPING))
    elif change == "writegradebook":
        nb.cells.insert(_index(nb, "imports") + 1, _code(WRITING))
    elif change == "network":
        nb.cells.insert(_index(nb, "imports") + 1, _code(NETWORK))
    else:
        raise ValueError(f"unknown change {change!r}")
    return nb


def _test_ids(nb) -> tuple[str, ...]:
    return tuple(c.metadata["nbgrader"]["grade_id"] for c in nb.cells
                 if c.metadata.get("nbgrader", {}).get("grade") and c.cell_type == "code"
                 and not c.metadata["nbgrader"].get("solution"))


def cases(release) -> list[Case]:
    """Every case, with the tests it must not earn points on (from the release's cells)."""
    answer = first_answer(release)
    first_tests = tuple(_tests_of(release, answer))
    targets = tuple(_tests_of(release, TARGET))
    after_answer = tuple(t for t in _test_ids(release)
                         if _test_ids(release).index(t) >= _test_ids(release).index(first_tests[0]))
    table = [
        Case("honest", "the solution's answers", "honest", full_marks=True),
        Case("honesttwo", "the solution's answers (a second student)", "honest", full_marks=True),
        Case("syntaxerror", "a syntax error in the first answer", "syntaxerror", first_tests),
        Case("importerror", "an exception while importing", "importerror", full_marks=True),
        Case("infloop", "an infinite loop that ignores the interrupt", "infloop", after_answer,
             "ignored the interrupt"),
        Case("sleep", "time.sleep(10**6)", "sleep", (), "timed out after", full_marks=True),
        Case("osexit", "os._exit(0)", "osexit", after_answer, "kernel died"),
        Case("sysexit", "sys.exit()", "sysexit", full_marks=True),
        Case("killkernel", "SIGKILL to its own kernel", "killkernel", after_answer, "kernel died"),
        Case("membomb", "allocates 40 GB", "membomb", (), "memory limit", full_marks=True),
        Case("forkbomb", "forks until refused", "forkbomb", (), "process limit"),
        Case("bigprint", "prints 100 MB", "bigprint", (), "output cut", full_marks=True),
        Case("hugeimage", "displays a 60 MB image", "hugeimage", (), "output cut", full_marks=True),
        Case("deletedtest", "deletes a test cell", "deletedtest", (), "deleted: original restored",
             full_marks=True),
        Case("duplicatedtest", "duplicates a test cell", "duplicatedtest", (), "duplicated",
             full_marks=True),
        Case("reorderedtest", "moves a test cell to the top", "reorderedtest", (), "moved",
             full_marks=True),
        Case("editedtest", "edits a test cell", "editedtest", (), "edited: original restored",
             full_marks=True),
        Case("celltype", "turns a test cell into markdown", "celltype", (), "changed to markdown",
             full_marks=True),
        Case("snoop", "reads solutions, gradebook, release dirs, history", "snoop", full_marks=True),
        Case("writegradebook", "writes the gradebook and others' files", "writegradebook",
             full_marks=True),
        Case("network", "opens a network connection", "network", full_marks=True),
    ]
    table += [Case(name, f"tampering: {name}", name, targets) for name in TAMPERING]
    table += [Case(name, f"reaches past the kernel: {name}", name, targets) for name in REACHING]
    return table


# files that are broken as files, not as notebooks: (student, what, writer)
BROKEN_FILES = {
    "corruptjson": "truncated JSON",
    "emptyfile": "an empty file",
    "nbformatthree": "an nbformat 3 notebook",
    "nonutf": "bytes that are not UTF-8",
}
ZIP_SLIP = "../../zipslip_attempt_{notebook}.ipynb"


def write_corpus(source_nb: Path, release_nb: Path, out: Path) -> list[Case]:
    """Write one submission file per case into ``out``; return the cases."""
    out.mkdir(parents=True, exist_ok=True)
    release = nbformat.read(release_nb, as_version=4)
    honest = fill(release, nbformat.read(source_nb, as_version=4))
    notebook = release_nb.stem
    table = cases(release)
    for case in table:
        nb = _derive(case.change, honest, release)
        nbformat.write(nb, out / f"{case.student}_attempt_{notebook}.ipynb")
    text = json.dumps(honest)
    (out / f"corruptjson_attempt_{notebook}.ipynb").write_text(text[: len(text) // 2])
    (out / f"emptyfile_attempt_{notebook}.ipynb").write_bytes(b"")
    v3 = nbformat.convert(copy.deepcopy(honest), 3)
    (out / f"nbformatthree_attempt_{notebook}.ipynb").write_text(nbformat.writes(v3, version=3))
    raw = json.dumps(honest).encode()
    (out / f"nonutf_attempt_{notebook}.ipynb").write_bytes(raw.replace(b"tokenize", b"tok\xff\xfenize", 1))
    nbformat.write(honest, out / f"wrongname_attempt_{notebook}_final_v2.ipynb")
    (out / "missingnb_attempt_notes.txt").write_text("I forgot to attach my notebook.\n")
    table += [Case(s, w, s, None) for s, w in BROKEN_FILES.items()]
    table += [Case("wrongname", "the notebook under another name", "wrongname", None),
              Case("missingnb", "no notebook at all", "missingnb", None)]
    return table


def write_zip(folder: Path, zip_path: Path, notebook: str) -> None:
    """The corpus as an LMS zip, plus an entry whose path climbs out with ``../``."""
    with zipfile.ZipFile(zip_path, "w") as archive:
        for path in sorted(folder.iterdir()):
            archive.write(path, path.name)
        archive.writestr(ZIP_SLIP.format(notebook=notebook), "{}")
