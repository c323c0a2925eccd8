"""Run each catalogued mistake against its visible test cell, directly, and print the outcomes.

For every assignment the honest submission (the release with the solution's answers) is run
once in-process, cell by cell, skipping the set-up cell, the test cells and the slow training
cells no catalogued test needs. Each mistake then gets a copy of that namespace, the answer
cells again (its own wrong answer in place of the honest one) and the one visible test cell it
must fail; the same test cell also runs once with the honest answers, where it must pass.
A notebook's code runs as it would in a kernel (``exec`` of the cell's source), so the outcome
is what the student sees under the cell: the exception's type and message.

Prints one JSON object: ``{"mistakes": {name: [type, message]}, "honest": {key: [type, message]}}``
with ``type`` ``None`` when the cell ran without an exception.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import torch  # noqa: E402

sys.path.insert(0, str(Path(__file__).parent))
import wrong_submissions as ws  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
# training cells (and what reads their results) that no catalogued test needs; a3's takes a second
# and its model is what test_sample samples from
SLOW = {"a4_packing_classification": {"train"}, "a5_seq2seq_attention": {"train", "attention_map"},
        "a6_beam_search_bleu": {"train", "decode"}}


def _meta(cell) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {})


def _outcome(source: str, namespace: dict, label: str) -> list:
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            exec(compile(source, label, "exec"), namespace)
    except BaseException as err:  # noqa: BLE001 - whatever the student would see
        return [type(err).__name__, str(err)]
    return [None, ""]


def run(assignment: str, mistakes: list) -> tuple[dict, dict]:
    torch.set_default_dtype(torch.float32)
    folder = REPO / "assignments" / assignment
    release = ws.read(folder / f"{assignment}.ipynb")
    solution = ws.read(REPO / "solutions" / assignment / f"{assignment}.ipynb")
    honest = ws.make_submission(release, solution)
    answers = [(_meta(c)["grade_id"], c.source) for c in honest.cells if _meta(c).get("solution") and c.cell_type == "code"]
    tests = {_meta(c)["grade_id"]: c.source for c in honest.cells if _meta(c).get("grade") and c.cell_type == "code"}
    base: dict = {"__name__": "__main__"}
    os.chdir(folder)
    for k, cell in enumerate(honest.cells):
        meta = _meta(cell)
        if cell.cell_type != "code" or meta.get("grade") or meta.get("grade_id") in SLOW.get(assignment, set()) | {"setup"}:
            continue
        kind, message = _outcome(cell.source, base, f"{assignment} cell {k}")
        assert kind is None, f"{assignment} cell {k} failed with the honest answers: {kind}: {message}"

    def attempt(replace: dict, test: str) -> list:
        namespace = dict(base)
        for gid, source in answers:
            _outcome(replace.get(gid, source), namespace, f"answer {gid}")
        return _outcome(tests[test], namespace, test)

    outcomes = {m.name: attempt({m.answer: m.source}, m.test) for m in mistakes}
    controls = {f"{assignment}/{test}": attempt({}, test) for test in sorted({m.test for m in mistakes})}
    return outcomes, controls


def main() -> None:
    threads = torch.get_num_threads()
    result: dict = {"mistakes": {}, "honest": {}}
    for assignment in sorted({m.assignment for m in ws.MISTAKES}):
        torch.set_num_threads(threads)
        outcomes, controls = run(assignment, [m for m in ws.MISTAKES if m.assignment == assignment])
        result["mistakes"].update(outcomes)
        result["honest"].update(controls)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
