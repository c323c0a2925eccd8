"""Typical mistakes in the six assignments, and the messages their visible tests must give.

``MISTAKES`` is the catalogue: one typical wrong answer each, the visible test cell (grade id)
that must fail on it, and the words its failure message must contain, so that a student reads
what is wrong rather than which number is off. ``run_visible.py`` runs every one directly (the
answer cells and the one visible test cell, in-process), which costs seconds.

``CASES`` are whole wrong submissions, one per assignment, graded end to end by real nbgrader
in ``test_assignments.py``. A submission is what a student hands in: the released notebook
(visible tests only) with every answer cell filled in. `make_submission` fills each answer cell
with the solution's code (its ``### BEGIN/END SOLUTION`` marker lines removed) unless the case
replaces that cell with a typical mistake. Each case lists exactly the test cells (grade ids)
its mistakes must fail and the helpful messages the feedback page must show.
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
    """Bahdanau attention that forgets to mask the <pad> positions of the source."""
    hidden = torch.tanh((query @ W_q.T).unsqueeze(1) + keys @ W_k.T)  # (B, S, A)
    weights = torch.softmax(hidden @ v, dim=-1)  # (B, S), padding included
    return (weights.unsqueeze(-1) * keys).sum(dim=1), weights
'''

BLEU_WITHOUT_BREVITY_PENALTY = '''\
def corpus_bleu(hypotheses, references, max_order=4, smooth="none"):
    """Corpus BLEU that forgets the brevity penalty: short hypotheses are not charged."""
    matches, totals = [0] * max_order, [0] * max_order
    for hypothesis, refs in zip(hypotheses, references):
        for n in range(1, max_order + 1):
            m, t = clipped_counts(hypothesis, refs, n)
            matches[n - 1] += m
            totals[n - 1] += t
    if sum(matches) == 0 or min(totals) == 0:
        return 0.0
    log_precisions, zero_orders = [], 0
    for m, t in zip(matches, totals):
        if m > 0:
            log_precisions.append(math.log(m / t))
        elif smooth == "floor":
            log_precisions.append(math.log(0.1 / t))
        elif smooth == "exp":
            zero_orders += 1
            log_precisions.append(math.log(1 / (2**zero_orders * t)))
        else:
            return 0.0
    return 100 * math.exp(sum(log_precisions) / max_order)
'''


def _bleu_variant(combine: str, length: str = "") -> str:
    """A corpus_bleu answer with one part swapped for a typical mistake (the rest as the lecture says)."""
    return (
        "def corpus_bleu(hypotheses, references, max_order=4, smooth='none'):\n"
        "    matches, totals = [0] * max_order, [0] * max_order\n"
        "    c = r = 0\n"
        "    for hypothesis, refs in zip(hypotheses, references):\n"
        "        for n in range(1, max_order + 1):\n"
        "            m, t = clipped_counts(hypothesis, refs, n)\n"
        "            matches[n - 1] += m\n"
        "            totals[n - 1] += t\n"
        "        c += len(hypothesis)\n"
        f"        r += {length or 'min((len(x) for x in refs), key=lambda k: (abs(k - len(hypothesis)), k))'}\n"
        "    if c == 0 or sum(matches) == 0 or min(totals) == 0:\n"
        "        return 0.0\n"
        "    if 0 in matches:\n"
        "        return 0.0\n"
        "    brevity = 1.0 if c >= r else math.exp(1 - r / c)\n"
        f"    return 100 * brevity * {combine}\n"
    )


GEOMETRIC = "math.exp(sum(math.log(m / t) for m, t in zip(matches, totals)) / max_order)"


def _beam_variant(extend_finished: bool = False, rank: str = "lp / len(tokens) ** length_penalty",
                  returned: str = "best[1]", first: str = "start_index") -> str:
    """A beam_search answer with one typical mistake (a list of (tokens, log P, finished) hypotheses)."""
    keep = "" if extend_finished else (
        "            if done:\n"
        "                candidates.append((tokens, lp, True, row))\n"
        "                continue\n")
    return (
        "def beam_search(step, state, max_len, beam_width=4, length_penalty=0.0, start_index=1, eos_index=2):\n"
        "    def score(h):\n"
        "        tokens, lp = h[0], h[1]\n"
        f"        return {rank}\n"
        "    kept = [([], 0.0, False)]\n"
        "    for _ in range(max_len):\n"
        "        if all(h[2] for h in kept):\n"
        "            break\n"
        f"        last = torch.tensor([h[0][-1] if h[0] else {first} for h in kept])\n"
        "        log_probs, new_state = step(last, state)\n"
        "        candidates = []\n"
        "        for row, (tokens, lp, done) in enumerate(kept):\n"
        f"{keep}"
        "            for token, token_lp in enumerate(log_probs[row].tolist()):\n"
        "                candidates.append((tokens + [token], lp + token_lp, token == eos_index, row))\n"
        "        candidates.sort(key=score, reverse=True)\n"
        "        kept = [c[:3] for c in candidates[:beam_width]]\n"
        "        state = reorder(new_state, torch.tensor([c[3] for c in candidates[:beam_width]]))\n"
        "    best = max(kept, key=score)\n"
        f"    return best[0], {returned}\n"
    )


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
        # without the detach the given training loop stops at its second chunk in the student's
        # kernel; the grader's judge gets the returned state back as a copy, without history, so
        # its run of the same loop trains: the mistake costs the step's own test, not two
        fails=frozenset({"test_lstm_cell_examples", "test_lstm_cell_hidden", "test_tbptt_step"}),
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
    "a6_beam_search_bleu": WrongCase(
        student="wrong_bleu_no_brevity_penalty",
        replace={"corpus_bleu": BLEU_WITHOUT_BREVITY_PENALTY},
        fails=frozenset({"test_bleu_examples", "test_bleu_hidden"}),
        messages=("you left out the brevity penalty",),
    ),
}


# -- the catalogue: one typical mistake each, run directly against its visible test ---------


@dataclass(frozen=True)
class Mistake:
    assignment: str
    name: str
    answer: str  # the answer cell's grade_id
    source: str  # what the student wrote in it
    test: str  # the visible test cell that must fail
    message: str  # words the failure message must contain


A1, A2, A3, A4, A5, A6 = ("a1_text_to_tensors", "a2_rnn_step_by_step", "a3_lstm_gru",
                          "a4_packing_classification", "a5_seq2seq_attention", "a6_beam_search_bleu")

MISTAKES: tuple[Mistake, ...] = (
    # -- Assignment 1: text to tensors
    Mistake(A1, "tokenize with str.split", "tokenize",
            "def tokenize(text):\n    return text.lower().split()\n",
            "test_tokenize_examples", "punctuation must be split off words (looks like str.split())"),
    Mistake(A1, "tokenize without lower-casing", "tokenize",
            "def tokenize(text):\n    return re.findall(r\"[A-Za-z0-9']+|[^\\sA-Za-z0-9']\", text)\n",
            "test_tokenize_examples", "lower-case the text first"),
    Mistake(A1, "tokenize dropping punctuation (lecture 1's word_tokenize)", "tokenize",
            "def tokenize(text):\n    return re.findall(r\"[a-z0-9']+\", text.lower())\n",
            "test_tokenize_examples", "punctuation marks are tokens too"),
    Mistake(A1, "tokenize keeping only inner apostrophes (lecture 1's style)", "tokenize",
            "def tokenize(text):\n    return re.findall(r\"[a-z0-9]+(?:'[a-z0-9]+)*|[^\\sa-z0-9]\", text.lower())\n",
            "test_tokenize_examples", "an apostrophe at the start or end of a word stays in it"),
    Mistake(A1, "vocabulary ties in first-seen order", "build_vocab",
            "def build_vocab(token_lists, min_freq=1):\n"
            "    counts = Counter(tok for tokens in token_lists for tok in tokens)\n"
            "    itos = [\"<pad>\", \"<unk>\"] + [tok for tok, n in counts.most_common() if n >= min_freq]\n"
            "    return itos, {tok: i for i, tok in enumerate(itos)}\n",
            "test_build_vocab_examples", "you kept ties in first-seen order"),
    Mistake(A1, "vocabulary with course_lib.Vocab's layout (<unk> first, <pad> last)", "build_vocab",
            "def build_vocab(token_lists, min_freq=1):\n"
            "    counts = Counter(tok for tokens in token_lists for tok in tokens)\n"
            "    kept = sorted((t for t, n in counts.items() if n >= min_freq), key=lambda t: (-counts[t], t))\n"
            "    itos = [\"<unk>\"] + kept + [\"<pad>\"]\n"
            "    return itos, {tok: i for i, tok in enumerate(itos)}\n",
            "test_build_vocab_examples", "this assignment's convention is <pad> = 0, <unk> = 1"),
    Mistake(A1, "unknown words encoded as <pad>", "encode",
            "def encode(tokens, stoi):\n    return torch.tensor([stoi.get(t, 0) for t in tokens], dtype=torch.long)\n",
            "test_encode_examples", "it must map to <unk> (1), not <pad> (0)"),
    Mistake(A1, "indices as a float tensor", "encode",
            "def encode(tokens, stoi):\n    return torch.Tensor([stoi.get(t, stoi['<unk>']) for t in tokens])\n",
            "test_encode_examples", "expected dtype torch.int64 (long)"),
    Mistake(A1, "bag of words marks presence instead of counting", "bag_of_words",
            "def bag_of_words(token_lists, stoi):\n"
            "    bow = torch.zeros(len(token_lists), len(stoi))\n"
            "    for n, tokens in enumerate(token_lists):\n"
            "        for j in encode(tokens, stoi).tolist():\n"
            "            bow[n, j] = 1\n"
            "    return bow\n",
            "test_bag_of_words_examples", "count occurrences"),
    Mistake(A1, "bag of words as an integer tensor", "bag_of_words",
            "def bag_of_words(token_lists, stoi):\n"
            "    bow = torch.zeros(len(token_lists), len(stoi), dtype=torch.long)\n"
            "    for n, tokens in enumerate(token_lists):\n"
            "        for j in encode(tokens, stoi).tolist():\n"
            "            bow[n, j] += 1\n"
            "    return bow\n",
            "test_bag_of_words_examples", "expected a float tensor"),
    Mistake(A1, "one-hot with torch.nn.functional.one_hot", "one_hot", ONE_HOT_WITH_TORCH,
            "test_one_hot_examples", "one_hot: uses `one_hot`, a ready-made implementation"),
    Mistake(A1, "one-hot as an integer tensor", "one_hot",
            "def one_hot(indices, num_classes):\n    return torch.eye(num_classes, dtype=torch.long)[indices]\n",
            "test_one_hot_examples", "expected a float tensor (it is multiplied by float weights)"),
    Mistake(A1, "padding at the start", "pad_batch",
            "def pad_batch(sequences, pad_value=0):\n"
            "    lengths = torch.tensor([len(s) for s in sequences])\n"
            "    padded = torch.full((len(sequences), int(lengths.max())), pad_value, dtype=torch.long)\n"
            "    for b, s in enumerate(sequences):\n"
            "        padded[b, padded.shape[1] - len(s):] = s\n"
            "    return padded, lengths\n",
            "test_pad_batch_examples", "pad at the end of each sequence, not at the start"),
    Mistake(A1, "a time-major padded batch", "pad_batch",
            "def pad_batch(sequences, pad_value=0):\n"
            "    lengths = torch.tensor([len(s) for s in sequences])\n"
            "    padded = torch.full((int(lengths.max()), len(sequences)), pad_value, dtype=torch.long)\n"
            "    for b, s in enumerate(sequences):\n"
            "        padded[: len(s), b] = s\n"
            "    return padded, lengths\n",
            "test_pad_batch_examples", "pad_batch returned (T_max, B), time-major"),
    Mistake(A1, "padding always with 0", "pad_batch",
            "def pad_batch(sequences, pad_value=0):\n"
            "    lengths = torch.tensor([len(s) for s in sequences])\n"
            "    padded = torch.zeros(len(sequences), int(lengths.max()), dtype=torch.long)\n"
            "    for b, s in enumerate(sequences):\n"
            "        padded[b, : len(s)] = s\n"
            "    return padded, lengths\n",
            "test_pad_batch_examples", "pad_value=-1 was not used"),
    Mistake(A1, "the pipeline pads with 0 instead of <pad>'s index", "texts_to_batch",
            "def texts_to_batch(texts, stoi):\n    return pad_batch([encode(tokenize(t), stoi) for t in texts])\n",
            "test_texts_to_batch", "texts_to_batch padded with 0, which is <unk> in this vocabulary"),
    # -- Assignment 2: an RNN, step by step
    Mistake(A2, "h_prev times W_hh without the transpose", "rnn_cell_forward",
            "def rnn_cell_forward(x_t, h_prev, weight_ih, weight_hh, bias_ih, bias_hh):\n"
            "    return torch.tanh(x_t @ weight_ih.T + bias_ih + h_prev @ weight_hh + bias_hh)\n",
            "test_rnn_cell_examples", "h_prev must be multiplied by weight_hh transposed"),
    Mistake(A2, "outputs stacked batch-first", "rnn_forward",
            "def rnn_forward(x, h0, params):\n"
            "    h, outputs = h0, []\n"
            "    for x_t in x:\n"
            "        h = rnn_cell_forward(x_t, h, **params)\n"
            "        outputs.append(h)\n"
            "    return torch.stack(outputs, dim=1), h\n",
            "test_rnn_forward_examples", "rnn_forward output: expected shape (5, 3, 8), got (3, 5, 8)"),
    Mistake(A2, "BPTT that drops the gradient from t+1", "rnn_backward",
            "def rnn_backward(x, h0, params, outputs, grad_outputs):\n"
            "    grads = {name: torch.zeros_like(value) for name, value in params.items()}\n"
            "    dx = torch.zeros_like(x)\n"
            "    for t in reversed(range(x.shape[0])):\n"
            "        h_prev = outputs[t - 1] if t > 0 else h0\n"
            "        da = grad_outputs[t] * (1 - outputs[t] ** 2)\n"
            "        grads['weight_ih'] += da.T @ x[t]\n"
            "        grads['weight_hh'] += da.T @ h_prev\n"
            "        grads['bias_ih'] += da.sum(0)\n"
            "        grads['bias_hh'] += da.sum(0)\n"
            "        dx[t] = da @ params['weight_ih']\n"
            "    grads['h0'] = da @ params['weight_hh']\n"
            "    grads['x'] = dx\n"
            "    return grads\n",
            "test_rnn_backward_examples", "you dropped the gradient that flows back from step t+1"),
    Mistake(A2, "BPTT with h_t where h_{t-1} belongs", "rnn_backward",
            "def rnn_backward(x, h0, params, outputs, grad_outputs):\n"
            "    grads = {name: torch.zeros_like(value) for name, value in params.items()}\n"
            "    dx, dh_next = torch.zeros_like(x), torch.zeros_like(h0)\n"
            "    for t in reversed(range(x.shape[0])):\n"
            "        da = (grad_outputs[t] + dh_next) * (1 - outputs[t] ** 2)\n"
            "        grads['weight_ih'] += da.T @ x[t]\n"
            "        grads['weight_hh'] += da.T @ outputs[t]\n"
            "        grads['bias_ih'] += da.sum(0)\n"
            "        grads['bias_hh'] += da.sum(0)\n"
            "        dx[t] = da @ params['weight_ih']\n"
            "        dh_next = da @ params['weight_hh']\n"
            "    grads['h0'], grads['x'] = dh_next, dx\n"
            "    return grads\n",
            "test_rnn_backward_examples", "dweight_hh uses h_t"),
    Mistake(A2, "BPTT without the tanh derivative", "rnn_backward",
            "def rnn_backward(x, h0, params, outputs, grad_outputs):\n"
            "    grads = {name: torch.zeros_like(value) for name, value in params.items()}\n"
            "    dx, dh_next = torch.zeros_like(x), torch.zeros_like(h0)\n"
            "    for t in reversed(range(x.shape[0])):\n"
            "        h_prev = outputs[t - 1] if t > 0 else h0\n"
            "        da = grad_outputs[t] + dh_next\n"
            "        grads['weight_ih'] += da.T @ x[t]\n"
            "        grads['weight_hh'] += da.T @ h_prev\n"
            "        grads['bias_ih'] += da.sum(0)\n"
            "        grads['bias_hh'] += da.sum(0)\n"
            "        dx[t] = da @ params['weight_ih']\n"
            "        dh_next = da @ params['weight_hh']\n"
            "    grads['h0'], grads['x'] = dh_next, dx\n"
            "    return grads\n",
            "test_rnn_backward_examples", "you left out the tanh derivative"),
    Mistake(A2, "forward differences", "numerical_gradient",
            "def numerical_gradient(f, x, eps=1e-5):\n"
            "    grad = torch.zeros_like(x)\n"
            "    flat, gflat = x.view(-1), grad.view(-1)\n"
            "    base = float(f(x))\n"
            "    for i in range(flat.numel()):\n"
            "        old = flat[i].item()\n"
            "        flat[i] = old + eps\n"
            "        gflat[i] = (float(f(x)) - base) / eps\n"
            "        flat[i] = old\n"
            "    return grad\n",
            "test_numerical_gradient_examples", "looks like a forward difference"),
    Mistake(A2, "x left perturbed", "numerical_gradient",
            "def numerical_gradient(f, x, eps=1e-5):\n"
            "    grad = torch.zeros_like(x)\n"
            "    flat, gflat = x.view(-1), grad.view(-1)\n"
            "    for i in range(flat.numel()):\n"
            "        old = flat[i].item()\n"
            "        flat[i] = old + eps\n"
            "        f_plus = float(f(x))\n"
            "        flat[i] = old - eps\n"
            "        gflat[i] = (f_plus - float(f(x))) / (2 * eps)\n"
            "    return grad\n",
            "test_numerical_gradient_examples", "restore every entry you perturb"),
    Mistake(A2, "clipping by value", "clip_grad_norm", CLIP_BY_VALUE,
            "test_clip_examples", "you clipped by value instead of by norm"),
    Mistake(A2, "clipping each tensor by its own norm", "clip_grad_norm",
            "def clip_grad_norm(grads, max_norm):\n"
            "    total = torch.sqrt(sum((g**2).sum() for g in grads))\n"
            "    for g in grads:\n"
            "        norm = g.norm()\n"
            "        if norm > max_norm:\n"
            "            g.mul_(max_norm / (norm + 1e-6))\n"
            "    return total\n",
            "test_clip_examples", "you rescaled each gradient by its own norm"),
    Mistake(A2, "clipped copies instead of in place", "clip_grad_norm",
            "def clip_grad_norm(grads, max_norm):\n"
            "    total = torch.sqrt(sum((g**2).sum() for g in grads))\n"
            "    scale = max_norm / (total + 1e-6)\n"
            "    if scale < 1:\n"
            "        grads = [g * scale for g in grads]\n"
            "    return total\n",
            "test_clip_examples", "the gradients were not changed in place"),
    Mistake(A2, "gradient norms in reverse order", "hidden_gradient_norms",
            "def hidden_gradient_norms(x, h0, params):\n"
            "    outputs, _ = rnn_forward(x, h0, params)\n"
            "    norms, dh = [], torch.ones_like(h0)\n"
            "    for t in reversed(range(x.shape[0])):\n"
            "        norms.append(dh.norm())\n"
            "        dh = (dh * (1 - outputs[t] ** 2)) @ params['weight_hh']\n"
            "    return torch.stack(norms)\n",
            "test_gradient_norms_examples", "is norms[t] the gradient at step t (not reversed)?"),
    # -- Assignment 3: LSTM and GRU
    Mistake(A3, "LSTM gates read as f, i, g, o", "lstm_cell_forward", LSTM_SWAPPED_GATES,
            "test_lstm_cell_examples", "your i and f gates look swapped"),
    Mistake(A3, "LSTM output without tanh of the cell", "lstm_cell_forward",
            "def lstm_cell_forward(x, h, c, weight_ih, weight_hh, bias_ih, bias_hh):\n"
            "    i, f, g, o = (x @ weight_ih.T + bias_ih + h @ weight_hh.T + bias_hh).chunk(4, dim=1)\n"
            "    c_new = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)\n"
            "    return torch.sigmoid(o) * c_new, c_new\n",
            "test_lstm_cell_examples", "c_new is right but h_new is not: h_new = o * tanh(c_new)"),
    Mistake(A3, "GRU update gate flipped (the lecture slides' convention)", "gru_cell_forward",
            "def gru_cell_forward(x, h, weight_ih, weight_hh, bias_ih, bias_hh):\n"
            "    r_x, z_x, n_x = (x @ weight_ih.T + bias_ih).chunk(3, dim=1)\n"
            "    r_h, z_h, n_h = (h @ weight_hh.T + bias_hh).chunk(3, dim=1)\n"
            "    r, z = torch.sigmoid(r_x + r_h), torch.sigmoid(z_x + z_h)\n"
            "    n = torch.tanh(n_x + r * n_h)\n"
            "    return z * n + (1 - z) * h\n",
            "test_gru_cell_examples", "you used h_new = z * n + (1 - z) * h; PyTorch uses h_new = (1 - z) * n + z * h"),
    Mistake(A3, "GRU reset gate applied to h before the product", "gru_cell_forward",
            "def gru_cell_forward(x, h, weight_ih, weight_hh, bias_ih, bias_hh):\n"
            "    H = h.shape[1]\n"
            "    r_x, z_x, n_x = (x @ weight_ih.T + bias_ih).chunk(3, dim=1)\n"
            "    r_h, z_h, _ = (h @ weight_hh.T + bias_hh).chunk(3, dim=1)\n"
            "    r, z = torch.sigmoid(r_x + r_h), torch.sigmoid(z_x + z_h)\n"
            "    n = torch.tanh(n_x + (r * h) @ weight_hh[2 * H:].T + bias_hh[2 * H:])\n"
            "    return (1 - z) * n + z * h\n",
            "test_gru_cell_examples", "the reset gate must multiply W_hn h, not h before the matrix product"),
    Mistake(A3, "truncated BPTT without detaching the state", "tbptt_step", TBPTT_NO_DETACH,
            "test_tbptt_step", "you forgot to detach the hidden state"),
    Mistake(A3, "the loss returned as a tensor", "tbptt_step",
            "def tbptt_step(model, optimizer, x, y, state):\n"
            "    logits, state = model(x, state)\n"
            "    loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))\n"
            "    optimizer.zero_grad()\n"
            "    loss.backward()\n"
            "    optimizer.step()\n"
            "    return loss, tuple(s.detach() for s in state)\n",
            "test_tbptt_step", "return the loss as a Python float (loss.item())"),
    Mistake(A3, "no optimizer step", "tbptt_step",
            "def tbptt_step(model, optimizer, x, y, state):\n"
            "    logits, state = model(x, state)\n"
            "    loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))\n"
            "    optimizer.zero_grad()\n"
            "    loss.backward()\n"
            "    return loss.item(), tuple(s.detach() for s in state)\n",
            "test_tbptt_step", "the parameters did not change: call optimizer.step()"),
    Mistake(A3, "logits multiplied by the temperature", "temperature_probs",
            "def temperature_probs(logits, temperature):\n    return torch.softmax(logits * temperature, dim=-1)\n",
            "test_temperature_probs", "you multiplied the logits by the temperature; divide by it"),
    Mistake(A3, "sampling that forgets the state", "sample",
            "def sample(model, prefix, n, temperature=1.0, generator=None):\n"
            "    with torch.no_grad():\n"
            "        out = list(prefix)\n"
            "        logits, _ = model(torch.tensor([[stoi[ch] for ch in prefix]]))\n"
            "        for _ in range(n):\n"
            "            probs = temperature_probs(logits[0, -1], temperature)\n"
            "            nxt = torch.multinomial(probs, 1, generator=generator).item()\n"
            "            out.append(itos[nxt])\n"
            "            logits, _ = model(torch.tensor([[nxt]]))\n"
            "    return ''.join(out)\n",
            "test_sample", "do you carry the state from step to step?"),
    Mistake(A3, "perplexity without the exp", "perplexity",
            "def perplexity(logits, targets):\n"
            "    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1)).item()\n",
            "test_perplexity_examples", "perplexity returned the cross-entropy ln V: take exp of it"),
    Mistake(A3, "perplexity of the summed cross-entropy", "perplexity",
            "def perplexity(logits, targets):\n"
            "    total = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1), reduction='sum')\n"
            "    return math.exp(total.item())\n",
            "test_perplexity_examples", "(exp of the *mean* cross-entropy?)"),
    # -- Assignment 4: packing and classification
    Mistake(A4, "packing without sorting", "pack_padded", PACK_UNSORTED,
            "test_pack_examples", "sorted_indices: expected [1, 0, 2]"),
    Mistake(A4, "packing sequence by sequence", "pack_padded",
            "def pack_padded(padded, lengths):\n"
            "    lengths = torch.as_tensor(lengths, dtype=torch.int64)\n"
            "    sorted_lengths, order = torch.sort(lengths, descending=True)\n"
            "    unsorted = torch.empty_like(order)\n"
            "    unsorted[order] = torch.arange(len(order))\n"
            "    batch_sizes = torch.stack([(sorted_lengths > t).sum() for t in range(int(sorted_lengths[0]))])\n"
            "    data = torch.cat([padded[: int(lengths[b]), b] for b in order.tolist()])\n"
            "    return data, batch_sizes, order, unsorted\n",
            "test_pack_examples", "pack_padded data is sequence by sequence: it must be time step by time step"),
    Mistake(A4, "unpacking into the sorted order", "unpack",
            "def unpack(data, batch_sizes, sorted_indices, unsorted_indices):\n"
            "    B, T = int(batch_sizes[0]), len(batch_sizes)\n"
            "    padded = data.new_zeros((T, B) + tuple(data.shape[1:]))\n"
            "    offset = 0\n"
            "    for t, n in enumerate(batch_sizes.tolist()):\n"
            "        padded[t, :n] = data[offset : offset + n]\n"
            "        offset += n\n"
            "    lengths = torch.stack([(batch_sizes > b).sum() for b in range(B)])\n"
            "    return padded, lengths\n",
            "test_unpack_examples", "the batch is still in sorted order; reorder it with unsorted_indices"),
    Mistake(A4, "a classifier that reads the last padded step", "name_classifier",
            "class NameClassifier(nn.Module):\n"
            "    def __init__(self, vocab_size, num_classes, pad_index, embed_dim=32, hidden_size=64):\n"
            "        super().__init__()\n"
            "        self.embed = nn.Embedding(vocab_size, embed_dim, padding_idx=pad_index)\n"
            "        self.lstm = nn.LSTM(embed_dim, hidden_size, bidirectional=True)\n"
            "        self.head = nn.Linear(2 * hidden_size, num_classes)\n"
            "\n"
            "    def forward(self, padded, lengths):\n"
            "        output, _ = self.lstm(self.embed(padded))\n"
            "        return self.head(output[-1])\n",
            "test_classifier", "the model must not read padding: pack, and use h_n"),
    Mistake(A4, "a one-directional classifier", "name_classifier",
            "class NameClassifier(nn.Module):\n"
            "    def __init__(self, vocab_size, num_classes, pad_index, embed_dim=32, hidden_size=64):\n"
            "        super().__init__()\n"
            "        self.embed = nn.Embedding(vocab_size, embed_dim, padding_idx=pad_index)\n"
            "        self.lstm = nn.LSTM(embed_dim, hidden_size)\n"
            "        self.head = nn.Linear(hidden_size, num_classes)\n"
            "\n"
            "    def forward(self, padded, lengths):\n"
            "        packed = pack_padded_sequence(self.embed(padded), lengths.cpu(), enforce_sorted=False)\n"
            "        _, (h_n, _) = self.lstm(packed)\n"
            "        return self.head(h_n[-1])\n",
            "test_classifier", "use a bidirectional LSTM"),
    Mistake(A4, "a transposed confusion matrix", "metrics",
            "def accuracy(y_true, y_pred):\n    return (y_true == y_pred).float().mean().item()\n\n\n"
            "def confusion_matrix(y_true, y_pred, num_classes):\n"
            "    cm = torch.zeros(num_classes, num_classes, dtype=torch.int64)\n"
            "    for t, p in zip(y_true.tolist(), y_pred.tolist()):\n"
            "        cm[p, t] += 1\n"
            "    return cm\n",
            "test_confusion_examples", "confusion_matrix is transposed"),
    Mistake(A4, "accuracy as a tensor", "metrics",
            "def accuracy(y_true, y_pred):\n    return (y_true == y_pred).float().mean()\n\n\n"
            "def confusion_matrix(y_true, y_pred, num_classes):\n"
            "    cm = torch.zeros(num_classes, num_classes, dtype=torch.int64)\n"
            "    for t, p in zip(y_true.tolist(), y_pred.tolist()):\n"
            "        cm[t, p] += 1\n"
            "    return cm\n",
            "test_accuracy", "accuracy should return a Python float"),
    # -- Assignment 5: seq2seq with attention
    Mistake(A5, "attention over the padding", "additive_attention", ATTENTION_UNMASKED,
            "test_attention_examples", "you forgot to mask the padding"),
    Mistake(A5, "padding zeroed after the softmax", "additive_attention",
            "def additive_attention(query, keys, mask, W_q, W_k, v):\n"
            "    hidden = torch.tanh((query @ W_q.T).unsqueeze(1) + keys @ W_k.T)\n"
            "    weights = torch.softmax(hidden @ v, dim=-1) * mask\n"
            "    return (weights.unsqueeze(-1) * keys).sum(dim=1), weights\n",
            "test_attention_examples", "do not zero the weights after it"),
    Mistake(A5, "the summed loss", "seq2seq_loss",
            "def seq2seq_loss(logits, targets, pad_index=0):\n"
            "    picked = torch.log_softmax(logits, -1).gather(-1, targets.unsqueeze(-1)).squeeze(-1)\n"
            "    return -(picked * (targets != pad_index)).sum()\n",
            "test_loss_examples", "you returned the sum; divide by the number of real (non-<pad>) targets"),
    Mistake(A5, "the loss scores <pad> targets", "seq2seq_loss",
            "def seq2seq_loss(logits, targets, pad_index=0):\n"
            "    picked = torch.log_softmax(logits, -1).gather(-1, targets.unsqueeze(-1)).squeeze(-1)\n"
            "    return -picked.mean()\n",
            "test_loss_examples", "you scored the <pad> targets too"),
    Mistake(A5, "the loss averaged over all B*T positions", "seq2seq_loss",
            "def seq2seq_loss(logits, targets, pad_index=0):\n"
            "    picked = torch.log_softmax(logits, -1).gather(-1, targets.unsqueeze(-1)).squeeze(-1)\n"
            "    return -(picked * (targets != pad_index)).sum() / targets.numel()\n",
            "test_loss_examples", "you divided by all B*T positions"),
    Mistake(A5, "decoding that always feeds <bos>", "greedy_decode",
            "def greedy_decode(model, src, src_lengths, max_len, start_index=1, eos_index=2):\n"
            "    with torch.no_grad():\n"
            "        keys, mask, s = model.encode(src, src_lengths)\n"
            "        B = src.shape[0]\n"
            "        start = torch.full((B,), start_index, dtype=torch.long)\n"
            "        done = torch.zeros(B, dtype=torch.bool)\n"
            "        tokens, weights = [], []\n"
            "        for _ in range(max_len):\n"
            "            logits, s, alpha = model.decoder.step(start, s, keys, mask)\n"
            "            y = logits.argmax(dim=-1).masked_fill(done, 0)\n"
            "            tokens.append(y)\n"
            "            weights.append(alpha.masked_fill(done.unsqueeze(1), 0.0))\n"
            "            done = done | (y == eos_index)\n"
            "            if done.all():\n"
            "                break\n"
            "    return torch.stack(tokens, dim=1), torch.stack(weights, dim=1)\n",
            "test_greedy_examples", "feed back each step's argmax"),
    Mistake(A5, "decoding that keeps writing after <eos>", "greedy_decode",
            "def greedy_decode(model, src, src_lengths, max_len, start_index=1, eos_index=2):\n"
            "    with torch.no_grad():\n"
            "        keys, mask, s = model.encode(src, src_lengths)\n"
            "        y = torch.full((src.shape[0],), start_index, dtype=torch.long)\n"
            "        done = torch.zeros(src.shape[0], dtype=torch.bool)\n"
            "        tokens, weights = [], []\n"
            "        for _ in range(max_len):\n"
            "            logits, s, alpha = model.decoder.step(y, s, keys, mask)\n"
            "            y = logits.argmax(dim=-1)\n"
            "            tokens.append(y)\n"
            "            weights.append(alpha)\n"
            "            done = done | (y == eos_index)\n"
            "            if done.all():\n"
            "                break\n"
            "    return torch.stack(tokens, dim=1), torch.stack(weights, dim=1)\n",
            "test_greedy_examples", "then <pad> = 0 for finished rows"),
    Mistake(A5, "exact match per token", "exact_match",
            "def exact_match(decoded, expected):\n"
            "    L = max(decoded.shape[1], expected.shape[1])\n"
            "    a = F.pad(decoded, (0, L - decoded.shape[1]))\n"
            "    b = F.pad(expected, (0, L - expected.shape[1]))\n"
            "    return (a == b).float().mean().item()\n",
            "test_exact_match", "expected 0.75 (3 of 4 rows right)"),
    # -- Assignment 6: beam search and BLEU
    Mistake(A6, "n-grams counted without clipping", "clipped_counts",
            "def ngrams(tokens, n):\n"
            "    return Counter(tuple(tokens[i:i + n]) for i in range(len(tokens) - n + 1))\n\n\n"
            "def clipped_counts(hypothesis, references, n):\n"
            "    counts = ngrams(hypothesis, n)\n"
            "    seen = set().union(*(ngrams(r, n) for r in references))\n"
            "    return sum(c for g, c in counts.items() if g in seen), sum(counts.values())\n",
            "test_clipped_examples", "you did not clip"),
    Mistake(A6, "clipped by the references' counts added up", "clipped_counts",
            "def ngrams(tokens, n):\n"
            "    return Counter(tuple(tokens[i:i + n]) for i in range(len(tokens) - n + 1))\n\n\n"
            "def clipped_counts(hypothesis, references, n):\n"
            "    counts, limit = ngrams(hypothesis, n), Counter()\n"
            "    for r in references:\n"
            "        limit += ngrams(r, n)\n"
            "    return sum(min(c, limit[g]) for g, c in counts.items()), sum(counts.values())\n",
            "test_clipped_examples", "you added up the references' counts"),
    Mistake(A6, "clipped by the least generous reference", "clipped_counts",
            "def ngrams(tokens, n):\n"
            "    return Counter(tuple(tokens[i:i + n]) for i in range(len(tokens) - n + 1))\n\n\n"
            "def clipped_counts(hypothesis, references, n):\n"
            "    counts = ngrams(hypothesis, n)\n"
            "    limits = [ngrams(r, n) for r in references]\n"
            "    return sum(min([c] + [lim[g] for lim in limits]) for g, c in counts.items()), sum(counts.values())\n",
            "test_clipped_examples", "you clipped by the smallest count over the references"),
    Mistake(A6, "BLEU without the brevity penalty", "corpus_bleu", BLEU_WITHOUT_BREVITY_PENALTY,
            "test_bleu_examples", "you left out the brevity penalty"),
    Mistake(A6, "brevity penalty from the shortest reference", "corpus_bleu",
            _bleu_variant(GEOMETRIC, length="min(len(x) for x in refs)"),
            "test_bleu_examples", "take the reference closest in length to the hypothesis"),
    Mistake(A6, "BLEU as the arithmetic mean of the precisions", "corpus_bleu",
            _bleu_variant("sum(m / t for m, t in zip(matches, totals)) / max_order"),
            "test_bleu_examples", "you took the arithmetic mean of the precisions"),
    Mistake(A6, "BLEU as the mean of sentence scores", "corpus_bleu",
            "def corpus_bleu(hypotheses, references, max_order=4, smooth='none'):\n"
            "    scores = []\n"
            "    for hypothesis, refs in zip(hypotheses, references):\n"
            "        stats = [clipped_counts(hypothesis, refs, n) for n in range(1, max_order + 1)]\n"
            "        if any(m == 0 for m, _ in stats):\n"
            "            scores.append(0.0)\n"
            "            continue\n"
            "        c = len(hypothesis)\n"
            "        r = min((len(x) for x in refs), key=lambda k: (abs(k - c), k))\n"
            "        brevity = 1.0 if c >= r else math.exp(1 - r / c)\n"
            "        scores.append(100 * brevity * math.exp(sum(math.log(m / t) for m, t in stats) / max_order))\n"
            "    return sum(scores) / len(scores)\n",
            "test_bleu_examples", "the mean of the sentence scores 100 and 0"),
    Mistake(A6, "beam search that extends finished hypotheses", "beam_search", _beam_variant(extend_finished=True),
            "test_beam_examples", "do not extend a finished hypothesis"),
    Mistake(A6, "beam search that ignores the length penalty", "beam_search", _beam_variant(rank="lp"),
            "test_beam_examples", "with length_penalty=1 ranks by log P / length"),
    Mistake(A6, "beam search that returns the normalised score", "beam_search",
            _beam_variant(returned="best[1] / len(best[0]) ** length_penalty"),
            "test_beam_examples", "not its length-normalised score"),
    Mistake(A6, "beam search that starts from <pad>", "beam_search", _beam_variant(first="0"),
            "test_beam_examples", "the first decoder input must be start_index"),
)
