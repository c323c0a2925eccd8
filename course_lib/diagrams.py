"""Schematic diagrams for the lectures, drawn with matplotlib at build time.

The book must build offline and every figure must come from code, so the
classic pictures of RNN courses (Raschka & Mirjalili's RNN figures,
Karpathy's "kinds of sequence tasks", colah's LSTM cell) are redrawn here
from boxes and arrows:

- ``plot_sequence_tasks``  one-to-one ... many-to-many (delayed)      (lecture 3)
- ``plot_task``            one of those on a given axis               (lecture 3)
- ``plot_unrolled_rnn``    folded cell = unrolled chain, U / W / V    (lecture 2, 4)
- ``plot_stacked_rnn``     a multilayer RNN: depth up, time right     (lecture 2)
- ``plot_hmm``             hidden Markov model in one picture         (lecture 1)
- ``plot_lstm_cell``       the LSTM cell and its cell-state conveyor belt (lecture 5)
- ``plot_gate_activations`` an LSTM cell's gates and states over a sequence (lecture 5)

Every function returns the ``matplotlib.figure.Figure`` (or draws on ``ax``)
and never calls ``plt.show()``.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
from matplotlib.patches import Circle, FancyArrowPatch, FancyBboxPatch

# One colour per role, used by every diagram so the pictures read alike.
COLORS = {
    "input": "#f4a6a6",  # red-ish: x
    "hidden": "#a8d5a2",  # green: h (and LSTM gates)
    "output": "#9ec5e8",  # blue: y / o
    "cell": "#f6d58e",  # yellow: the LSTM cell state c
    "edge": "#333333",
}

TASKS = {
    # kind: (input steps, output steps, total steps, caption)
    "one-to-one": ([0], [0], 1, "one-to-one\nimage classification"),
    "one-to-many": ([0], [0, 1, 2, 3], 4, "one-to-many\nimage captioning"),
    "many-to-one": ([0, 1, 2, 3], [3], 4, "many-to-one\nsentiment analysis"),
    "many-to-many (aligned)": ([0, 1, 2, 3], [0, 1, 2, 3], 4, "many-to-many, aligned\nPOS / NER tagging"),
    "many-to-many (delayed)": ([0, 1, 2], [3, 4, 5], 6, "many-to-many, delayed\ntranslation (seq2seq)"),
}


def _box(ax, x, y, text, color, w=0.8, h=0.6, fontsize=11):
    """A rounded box centred at (x, y) with a label."""
    ax.add_patch(
        FancyBboxPatch(
            (x - w / 2, y - h / 2), w, h,
            boxstyle="round,pad=0.02,rounding_size=0.1",
            facecolor=color, edgecolor=COLORS["edge"], linewidth=1.2,
        )
    )
    ax.text(x, y, text, ha="center", va="center", fontsize=fontsize)


def _arrow(ax, start, end, text=None, color=None, lw=1.4, offset=(0.12, 0.0), style="-|>", rad=0.0):
    """An arrow from ``start`` to ``end``; an optional label sits beside its middle."""
    ax.add_patch(
        FancyArrowPatch(
            start, end, arrowstyle=style, mutation_scale=12, linewidth=lw,
            color=color or COLORS["edge"], connectionstyle=f"arc3,rad={rad}",
            shrinkA=0, shrinkB=0,
        )
    )
    if text:
        mx, my = (start[0] + end[0]) / 2 + offset[0], (start[1] + end[1]) / 2 + offset[1]
        ax.text(mx, my, text, fontsize=10, ha="left", va="center", style="italic")


def _clean(ax, xlim, ylim):
    ax.set_xlim(*xlim)
    ax.set_ylim(*ylim)
    ax.set_aspect("equal")
    ax.axis("off")


def plot_task(kind: str, ax=None):
    """Draw one kind of sequence task: red inputs, green hidden states, blue outputs.

    ``kind`` is a key of ``TASKS``. Time runs to the right; every hidden state
    feeds the next one (the recurrent edge) and the same weights are used at
    every step.
    """
    if kind not in TASKS:
        raise ValueError(f"kind must be one of {sorted(TASKS)}, got {kind!r}")
    ins, outs, steps, caption = TASKS[kind]
    if ax is None:
        _, ax = plt.subplots(figsize=(1.2 * steps + 0.8, 3.2))
    for t in range(steps):
        _box(ax, t, 1, "", COLORS["hidden"])
        if t in ins:
            _box(ax, t, 0, "", COLORS["input"])
            _arrow(ax, (t, 0.3), (t, 0.7))
        if t in outs:
            _box(ax, t, 2, "", COLORS["output"])
            _arrow(ax, (t, 1.3), (t, 1.7))
        if t + 1 < steps:
            _arrow(ax, (t + 0.4, 1), (t + 0.6, 1))
    ax.set_title(caption, fontsize=10)
    pad = 0.6 if steps > 1 else 1.1
    _clean(ax, (-pad, steps - 1 + pad), (-0.5, 2.5))
    return ax


def plot_sequence_tasks():
    """All five kinds of sequence tasks side by side (lecture 3)."""
    widths = [max(TASKS[k][2], 2.2) for k in TASKS]
    fig, axes = plt.subplots(1, len(TASKS), figsize=(15, 3.4), gridspec_kw={"width_ratios": widths})
    for ax, kind in zip(axes, TASKS):
        plot_task(kind, ax=ax)
    fig.text(0.5, 0.02, "red: input $x^{(t)}$    green: hidden state $h^{(t)}$    blue: output $y^{(t)}$    "
             "→ time", ha="center", fontsize=10)
    fig.tight_layout(rect=(0, 0.06, 1, 1))
    return fig


def plot_unrolled_rnn(steps: int = 3, losses: bool = False):
    """The folded RNN cell next to its unrolled chain, edges labelled U, W, V.

    U is input-to-hidden (torch: ``weight_ih``), W hidden-to-hidden
    (``weight_hh``), V hidden-to-output (the ``nn.Linear`` head). With
    ``losses=True`` each output also feeds a per-step loss L^(t), as in BPTT.
    """
    top = 3 if losses else 2
    fig, ax = plt.subplots(figsize=(2.0 + 1.6 * steps + 1.5, 1.2 * (top + 1)))
    # Folded: one cell with a self-loop.
    _box(ax, 0, 0, "$x^{(t)}$", COLORS["input"])
    _box(ax, 0, 1, "$h^{(t)}$", COLORS["hidden"])
    _box(ax, 0, 2, "$o^{(t)}$", COLORS["output"])
    _arrow(ax, (0, 0.3), (0, 0.7), "U")
    _arrow(ax, (0, 1.3), (0, 1.7), "V")
    ax.add_patch(FancyArrowPatch((-0.4, 1.15), (-0.4, 0.85), arrowstyle="-|>", mutation_scale=12,
                                 linewidth=1.4, color=COLORS["edge"], connectionstyle="bar,fraction=1.0"))
    ax.text(-1.05, 1.0, "W", fontsize=10, style="italic", ha="center", va="center")
    ax.text(0.95, 1.0, "unroll\n$\\Longrightarrow$", ha="center", va="center", fontsize=11)
    # Unrolled chain.
    x0 = 2.7
    names = {0: "t-1", 1: "t", 2: "t+1"} if steps == 3 else {i: str(i + 1) for i in range(steps)}
    for i in range(steps):
        x, tag = x0 + 1.6 * i, names[i]
        _box(ax, x, 0, f"$x^{{({tag})}}$", COLORS["input"], w=1.0)
        _box(ax, x, 1, f"$h^{{({tag})}}$", COLORS["hidden"], w=1.0)
        _box(ax, x, 2, f"$o^{{({tag})}}$", COLORS["output"], w=1.0)
        _arrow(ax, (x, 0.3), (x, 0.7), "U")
        _arrow(ax, (x, 1.3), (x, 1.7), "V")
        if losses:
            _box(ax, x, 3, f"$L^{{({tag})}}$", "#dddddd", w=1.0)
            _arrow(ax, (x, 2.3), (x, 2.7))
        _arrow(ax, (x - 1.1, 1), (x - 0.5, 1), "W", offset=(-0.1, 0.18))
    _arrow(ax, (x0 + 1.6 * (steps - 1) + 0.5, 1), (x0 + 1.6 * (steps - 1) + 1.1, 1))
    ax.text(x0 - 1.2, 0.55, "$h^{(0)}$" if steps != 3 else "", fontsize=10)
    _clean(ax, (-1.4, x0 + 1.6 * steps), (-0.5, top + 0.5))
    ax.set_title("the same U, W, V at every time step (parameter sharing)", fontsize=10)
    fig.tight_layout()
    return fig


def plot_stacked_rnn(num_layers: int = 2, steps: int = 4):
    """A multilayer (stacked) RNN: layer l's hidden states are layer l+1's inputs."""
    fig, ax = plt.subplots(figsize=(1.4 * steps + 1.5, 1.1 * (num_layers + 2)))
    for t in range(steps):
        x = 1.3 * t
        _box(ax, x, 0, f"$x^{{({t + 1})}}$", COLORS["input"])
        _box(ax, x, num_layers + 1, f"$y^{{({t + 1})}}$", COLORS["output"])
        for layer in range(1, num_layers + 1):
            _box(ax, x, layer, f"$h_{layer}^{{({t + 1})}}$", COLORS["hidden"])
            _arrow(ax, (x, layer - 0.7), (x, layer - 0.3))
            if t + 1 < steps:
                _arrow(ax, (x + 0.4, layer), (x + 0.9, layer))
        _arrow(ax, (x, num_layers + 0.3), (x, num_layers + 0.7))
    for layer in range(1, num_layers + 1):
        ax.text(-0.8, layer, f"layer {layer}", ha="right", va="center", fontsize=10)
    ax.annotate("", xy=(1.3 * steps - 0.6, -0.75), xytext=(-0.4, -0.75),
                arrowprops=dict(arrowstyle="-|>", color="grey"))
    ax.text(1.3 * steps / 2 - 0.5, -1.0, "time: pass memories", ha="center", va="top", fontsize=9, color="grey")
    ax.text(1.3 * steps - 0.2, (num_layers + 1) / 2, "depth:\nmore abstract\nfeatures", ha="left",
            va="center", fontsize=9, color="grey")
    _clean(ax, (-2.0, 1.3 * steps + 1.2), (-1.3, num_layers + 1.5))
    fig.tight_layout()
    return fig


def plot_hmm(states=("Rainy", "Sunny", "Sunny", "Rainy"), observations=("clean", "walk", "shop", "clean")):
    """A hidden Markov model in one picture (the Wikipedia weather example).

    The hidden weather X_t follows a Markov chain; each day's activity Y_t
    depends only on that day's weather: P(Y_n | X_1..X_n) = P(Y_n | X_n).
    """
    n = len(states)
    fig, ax = plt.subplots(figsize=(1.9 * n + 1, 3.0))
    for t, (s, o) in enumerate(zip(states, observations)):
        x = 1.9 * t
        ax.add_patch(Circle((x, 1.4), 0.5, facecolor=COLORS["hidden"], edgecolor=COLORS["edge"]))
        ax.text(x, 1.4, f"$X_{t + 1}$\n{s}", ha="center", va="center", fontsize=9)
        _box(ax, x, 0, f"$Y_{t + 1}$: {o}", COLORS["output"], w=1.4, h=0.5, fontsize=9)
        _arrow(ax, (x, 0.9), (x, 0.25), "$P(Y|X)$" if t == 0 else None)
        if t + 1 < n:
            _arrow(ax, (x + 0.5, 1.4), (x + 1.4, 1.4), "$P(X_{t+1}|X_t)$" if t == 0 else None,
                   offset=(-0.55, 0.25))
    ax.text(-1.2, 1.4, "hidden\n(weather)", ha="center", va="center", fontsize=9)
    ax.text(-1.2, 0.0, "observed\n(activity)", ha="center", va="center", fontsize=9)
    _clean(ax, (-1.9, 1.9 * (n - 1) + 0.9), (-0.5, 2.1))
    fig.tight_layout()
    return fig


def plot_lstm_cell():
    """The LSTM cell: the cell state runs along the top like a conveyor belt.

    Only an element-wise product with the forget gate f and an addition of
    i * g touch it, which is why gradients flow along it more easily than
    through a vanilla RNN's repeated matrix product. Gate order as torch:
    i, f, g, o.
    """
    fig, ax = plt.subplots(figsize=(10, 4.6))
    ax.add_patch(FancyBboxPatch((0, 0), 8, 3.6, boxstyle="round,pad=0.05,rounding_size=0.3",
                                facecolor="#f7f7f7", edgecolor="#999999"))
    belt_y, gate_y, in_y = 3.1, 1.3, 0.35
    # The conveyor belt: c_{t-1} -> (x f) -> (+ i*g) -> c_t.
    _arrow(ax, (-0.9, belt_y), (1.75, belt_y), color="#b07d00", lw=3)
    _arrow(ax, (2.25, belt_y), (3.75, belt_y), color="#b07d00", lw=3)
    _arrow(ax, (4.25, belt_y), (8.9, belt_y), color="#b07d00", lw=3)
    ax.text(-0.9, belt_y + 0.3, "$c^{(t-1)}$", fontsize=12)
    ax.text(8.3, belt_y + 0.3, "$c^{(t)}$", fontsize=12)
    ax.text(4.5, belt_y + 0.3, "cell state: the conveyor belt", fontsize=9, color="#b07d00")
    for x, sym in [(2, "×"), (4, "+")]:
        ax.add_patch(Circle((x, belt_y), 0.25, facecolor=COLORS["cell"], edgecolor=COLORS["edge"]))
        ax.text(x, belt_y, sym, ha="center", va="center", fontsize=13)
    # Inputs h_{t-1} and x_t join at the bottom and feed four layers.
    _arrow(ax, (-0.9, in_y), (6.6, in_y), lw=1.6)
    ax.text(-0.9, in_y - 0.45, "$h^{(t-1)}$", fontsize=12)
    ax.text(0.3, -0.85, "$x^{(t)}$", fontsize=12)
    _arrow(ax, (0.5, -0.5), (0.5, in_y), lw=1.6)
    gates = [(2.0, "$f_t$: σ"), (2.9, "$i_t$: σ"), (4.0, "$g_t$: tanh"), (5.5, "$o_t$: σ")]
    for x, label in gates:
        _box(ax, x, gate_y, label, COLORS["hidden"], w=0.85, h=0.5, fontsize=10)
        _arrow(ax, (x, in_y), (x, gate_y - 0.25))
    ax.text(4.0, -0.75, "forget gate f, input gate i, input node g, output gate o\n"
            "each: a linear layer on $[x^{(t)}, h^{(t-1)}]$ + its activation", ha="center", fontsize=9)
    # f multiplies the belt; i * g is added to it.
    _arrow(ax, (2.0, gate_y + 0.25), (2.0, belt_y - 0.25))
    ax.add_patch(Circle((4.0, 2.2), 0.22, facecolor=COLORS["cell"], edgecolor=COLORS["edge"]))
    ax.text(4.0, 2.2, "×", ha="center", va="center", fontsize=12)
    _arrow(ax, (2.9, gate_y + 0.25), (3.8, 2.12))
    _arrow(ax, (4.0, gate_y + 0.25), (4.0, 1.98))
    _arrow(ax, (4.0, 2.42), (4.0, belt_y - 0.25))
    # Output: h_t = o * tanh(c_t).
    _box(ax, 6.6, 2.4, "tanh", COLORS["cell"], w=0.7, h=0.45, fontsize=10)
    _arrow(ax, (6.6, belt_y), (6.6, 2.62))
    ax.add_patch(Circle((6.6, 1.3), 0.22, facecolor=COLORS["cell"], edgecolor=COLORS["edge"]))
    ax.text(6.6, 1.3, "×", ha="center", va="center", fontsize=12)
    _arrow(ax, (6.6, 2.18), (6.6, 1.52))
    _arrow(ax, (5.93, gate_y), (6.38, 1.3))
    _arrow(ax, (6.82, 1.3), (8.9, 1.3), lw=1.6)
    ax.text(8.3, 1.45, "$h^{(t)}$", fontsize=12)
    _arrow(ax, (7.6, 1.3), (7.6, 4.3), lw=1.2)
    ax.text(7.7, 4.0, "$h^{(t)}$ to the output layer", fontsize=9)
    _clean(ax, (-1.2, 10.6), (-1.1, 4.5))
    fig.tight_layout()
    return fig


def plot_gate_activations(cell, inputs, tokens=None):
    """Heat maps of an LSTM cell's gates i, f, g, o and its states c, h over a sequence.

    ``cell`` is a ``course_lib.LSTMCell`` or ``torch.nn.LSTMCell`` (same parameter names),
    ``inputs`` a (T, input_size) tensor, ``tokens`` optional labels for the time axis.
    The gates are recomputed from the cell's weights (``course_lib.interactive.lstm_trace``).
    Returns the figure.
    """
    from course_lib.interactive import lstm_trace

    rows = lstm_trace(cell, inputs)  # each (T, H)
    titles = {"i": "input gate $i_t$", "f": "forget gate $f_t$", "g": "input node $g_t$",
              "o": "output gate $o_t$", "c": "cell state $c_t$", "h": "hidden state $h_t$"}
    fig, axes = plt.subplots(2, 3, figsize=(12, 5), sharex=True, sharey=True)
    for ax, name in zip(axes.flat, rows):
        values = rows[name].T  # (H, T)
        gate = name in ("i", "f", "o")
        im = ax.imshow(values, aspect="auto", cmap="viridis" if gate else "RdBu_r",
                       vmin=0 if gate else -1, vmax=1)
        ax.set_title(titles[name], fontsize=10)
        fig.colorbar(im, ax=ax, fraction=0.05)
    for ax in axes[1]:
        ax.set_xlabel("time step")
        if tokens is not None:
            ax.set_xticks(range(len(tokens)), tokens, rotation=60, fontsize=8)
    for ax in axes[:, 0]:
        ax.set_ylabel("unit")
    fig.suptitle("σ gates live in (0, 1): 0 blocks, 1 lets through; tanh values in (-1, 1)")
    fig.tight_layout()
    return fig
