"""Deliberately wrong submissions, one per assignment, built from the *released* notebook.

A submission is what a student hands in: the released notebook (visible tests only) with every
answer cell filled in. `make_submission` fills each answer cell with the solution's code (its
``### BEGIN/END SOLUTION`` marker lines removed) unless the case replaces that cell with a
typical mistake. Each case lists exactly the test cells (grade ids) its mistakes must fail and
the helpful messages the feedback page must show.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

import nbformat

MARKERS = ("### BEGIN SOLUTION", "### END SOLUTION")


@dataclass(frozen=True)
class WrongCase:
    student: str
    replace: dict[str, str]  # answer cell grade_id -> the wrong source
    fails: frozenset[str]  # test cells that must lose their points (and no others)
    messages: tuple[str, ...] = field(default=())  # must appear in the feedback HTML


def _grade_id(cell) -> str | None:
    return cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")


def strip_markers(source: str) -> str:
    return "\n".join(line for line in source.splitlines() if line.strip() not in MARKERS)


def make_submission(release_nb, solution_nb, replace: dict[str, str] | None = None):
    """The release with its answer cells filled from the solution, except those in `replace`."""
    replace = replace or {}
    answers = {
        _grade_id(c): strip_markers(c.source)
        for c in solution_nb.cells
        if c.get("metadata", {}).get("nbgrader", {}).get("solution")
    }
    nb = copy.deepcopy(release_nb)
    unknown = set(replace) - set(answers)
    assert not unknown, f"no answer cells {sorted(unknown)} in the solution notebook"
    for cell in nb.cells:
        gid = _grade_id(cell)
        if cell.get("metadata", {}).get("nbgrader", {}).get("solution") and gid in answers:
            cell.source = replace.get(gid, answers[gid])
    return nb


def read(path) -> nbformat.NotebookNode:
    return nbformat.read(str(path), as_version=4)


ONE_HOT_WITH_TORCH = '''\
import torch.nn.functional as F


def one_hot(indices, num_classes):
    """Float one-hot encoding (uses PyTorch's ready-made one_hot: not allowed)."""
    return F.one_hot(indices, num_classes).float()
'''

CLIP_BY_VALUE = '''\
def clip_grad_norm(grads, max_norm):
    """Clips every entry to [-max_norm, max_norm]: clipping by value, not by norm."""
    total = torch.sqrt(sum((g**2).sum() for g in grads))
    for g in grads:
        g.clamp_(-max_norm, max_norm)
    return total
'''

LSTM_SWAPPED_GATES = '''\
def lstm_cell_forward(x, h, c, weight_ih, weight_hh, bias_ih, bias_hh):
    """One LSTM step, reading the gate blocks in the order f, i, g, o (i and f swapped)."""
    gates = x @ weight_ih.T + bias_ih + h @ weight_hh.T + bias_hh
    f, i, g, o = gates.chunk(4, dim=1)
    c_new = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
    h_new = torch.sigmoid(o) * torch.tanh(c_new)
    return h_new, c_new
'''

TBPTT_NO_DETACH = '''\
def tbptt_step(model, optimizer, x, y, state):
    """One truncated-BPTT update that forgets to detach the carried state."""
    logits, state = model(x, state)
    loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))
    optimizer.zero_grad()
    loss.backward()
    nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    optimizer.step()
    return loss.item(), state
'''

PACK_UNSORTED = '''\
def pack_padded(padded, lengths):
    """Packs time step by time step but keeps the original batch order (no sorting)."""
    lengths = torch.as_tensor(lengths, dtype=torch.int64)
    order = torch.arange(len(lengths))
    batch_sizes = torch.stack([(lengths > t).sum() for t in range(int(lengths.max()))])
    data = torch.cat([padded[t][lengths > t] for t in range(len(batch_sizes))])
    return data, batch_sizes, order, order
'''

ATTENTION_UNMASKED = '''\
def additive_attention(query, keys, mask, W_q, W_k, v):
    """Bahdanau attention that forgets to mask the <PAD> positions of the source."""
    hidden = torch.tanh((query @ W_q.T).unsqueeze(1) + keys @ W_k.T)  # (B, S, A)
    weights = torch.softmax(hidden @ v, dim=-1)  # (B, S), padding included
    return (weights.unsqueeze(-1) * keys).sum(dim=1), weights
'''

CASES: dict[str, WrongCase] = {
    "a1_text_to_tensors": WrongCase(
        student="wrong_one_hot",
        replace={"one_hot": ONE_HOT_WITH_TORCH},
        fails=frozenset({"test_one_hot_examples", "test_one_hot_hidden"}),
        messages=("one_hot: uses `one_hot`, a ready-made implementation",),
    ),
    "a2_rnn_step_by_step": WrongCase(
        student="wrong_clip_by_value",
        replace={"clip_grad_norm": CLIP_BY_VALUE},
        fails=frozenset({"test_clip_examples", "test_clip_hidden"}),
        messages=("you clipped by value instead of by norm",),
    ),
    "a3_lstm_gru": WrongCase(
        student="wrong_gates_no_detach",
        replace={"lstm_cell_forward": LSTM_SWAPPED_GATES, "tbptt_step": TBPTT_NO_DETACH},
        # without the detach the given training loop stops at its second chunk: the
        # trained-model test fails too
        fails=frozenset({"test_lstm_cell_examples", "test_lstm_cell_hidden", "test_tbptt_step", "test_training"}),
        messages=("your i and f gates look swapped", "you forgot to detach the hidden state"),
    ),
    "a4_packing_classification": WrongCase(
        student="wrong_pack_unsorted",
        replace={"pack_padded": PACK_UNSORTED},
        fails=frozenset({"test_pack_examples", "test_pack_hidden"}),
        messages=("sorted_indices: expected [1, 0, 2]",),
    ),
    "a5_seq2seq_attention": WrongCase(
        student="wrong_attention_unmasked",
        replace={"additive_attention": ATTENTION_UNMASKED},
        fails=frozenset({"test_attention_examples", "test_attention_hidden"}),
        messages=("you forgot to mask the padding",),
    ),
}
