"""Figures a reader moves with a slider, in the static book, with no kernel (lectures 4, 5, 8, 10).

Every state a slider can show is computed here, in Python, when the lecture runs: the browser
only switches between precomputed states. Each function returns a :class:`SliderFigure`, a
plotly figure with one animation frame per state and a slider that picks the frame.

- ``gradient_norm_slider``  ‖∂L_T/∂h_k‖ of a vanilla RNN and an LSTM as σ(W_hh) moves (lecture 4)
- ``lstm_gates_slider``     an LSTM cell's gates and states on a sequence as the input changes (lecture 5)
- ``temperature_slider``    softmax(scores / τ) over the next character, and a sample, as τ moves (lecture 8)
- ``attention_slider``      the attention weights α_i, one output position i at a time (lecture 10)

In the book a notebook output is the figure's HTML *without* plotly.js; the book serves its own
copy of plotly.js (``book/_ext/plotly_offline.py``) on the pages that draw one, so a page opened
from disk needs no network. In JupyterLab the output is plotly's own JSON, drawn by the
jupyterlab-plotly renderer that ships with the ``plotly`` package.

plotly is imported inside the functions, so ``import course_lib`` stays fast.
"""

from __future__ import annotations

import hashlib
import html
import json
from collections.abc import Sequence
from typing import TYPE_CHECKING

import torch
from torch.nn import functional as F

from course_lib.lstm import lstm_step
from course_lib.validation import check_int, check_labels

if TYPE_CHECKING:
    from course_lib.text import Vocab

PLOTLY_MIME = "application/vnd.plotly.v1+json"
# Drawn without plotly's logo link: nothing on the page points outside the site.
PLOTLY_CONFIG = {"displaylogo": False, "responsive": True}


class SliderFigure:
    """A plotly figure whose slider switches between precomputed states.

    Attributes:
        figure: the ``plotly.graph_objects.Figure`` (one frame per state, named by ``labels``).
        labels: the slider's label of each state, in order.
        values: what was computed for each state (a list of dicts of tensors, one per state),
            so a lecture can print numbers from the very data it draws.
    """

    def __init__(self, figure, labels: list[str], values: list[dict]) -> None:
        self.figure = figure
        self.labels = labels
        self.values = values

    def __repr__(self) -> str:
        return f"SliderFigure({len(self.labels)} states: {self.labels[0]!r} .. {self.labels[-1]!r})"

    def to_html(self) -> str:
        """The figure as an HTML fragment that expects plotly.js on the page (``window.Plotly``)."""
        import plotly.io as pio

        spec = json.dumps(self.figure.to_plotly_json(), sort_keys=True, default=str)
        div_id = "slider-" + hashlib.sha1(spec.encode()).hexdigest()[:12]  # stable across runs
        return pio.to_html(self.figure, include_plotlyjs=False, full_html=False, auto_play=False,
                           div_id=div_id, config=PLOTLY_CONFIG)

    def _repr_mimebundle_(self, include=None, exclude=None) -> dict:
        return {
            "text/html": self.to_html(),
            PLOTLY_MIME: {**self.figure.to_plotly_json(), "config": PLOTLY_CONFIG},
            "text/plain": repr(self),
        }


def _with_slider(fig, frames: list[list[dict]], labels: list[str], prefix: str, active: int,
                 frame_layouts: list[dict] | None = None) -> None:
    """Give ``fig`` one frame per state (its traces' data) and a slider that jumps between them.

    The figure starts in state ``active``; the slider animates to a frame at once (no transition),
    so what is drawn is exactly the precomputed state.
    """
    import plotly.graph_objects as go

    layouts = frame_layouts or [{} for _ in frames]
    kinds = [trace.type for trace in fig.data]
    fig.frames = [go.Frame(data=[{"type": kind, **d} for kind, d in zip(kinds, data)], name=label, layout=layout)
                  for data, label, layout in zip(frames, labels, layouts)]
    for trace, data in zip(fig.data, frames[active]):
        trace.update(data)
    fig.update_layout(layouts[active])
    jump = {"mode": "immediate", "frame": {"duration": 0, "redraw": True}, "transition": {"duration": 0}}
    fig.update_layout(sliders=[{
        "active": active,
        "currentvalue": {"prefix": prefix},
        "pad": {"t": 50},
        "steps": [{"label": label, "method": "animate", "args": [[label], jump]} for label in labels],
    }])


# ----------------------------------------------------------------------------------------------
# lecture 4: vanishing and exploding gradients


def gradient_norm_slider(
    spectral_radii: Sequence[float] | None = None,
    steps: int = 50,
    hidden_size: int = 32,
    input_scale: float = 0.1,
    forget_bias: float = 2.0,
    seed: int = 0,
) -> SliderFigure:
    """‖∂L_T/∂h_k‖ against k on a log scale for a vanilla RNN (left) and an LSTM (right), one
    slider state per spectral radius σ of W_hh (lecture 4).

    Each state is exactly what ``course_lib.diagnostics.plot_gradient_norms(σ, ...)`` draws: W_hh
    is σ·Q for a random orthogonal Q, the RNN's curve falls like σ^(T-k) for σ < 1 and can rise
    for σ > 1; the LSTM's cell state c_k gets its gradient through the additive path Π f_t.
    The default σ run from 0.3 to 2.0 in steps of 0.05; the slider starts at the σ closest to 1.

    ``values[s]`` holds the three curves of state s: ``"rnn"``, ``"lstm_h"``, ``"lstm_c"`` (each
    of shape (steps + 1,), float64) and ``"sigma"``.
    """
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    from course_lib.diagnostics import _lstm_curves, _rnn_curve

    if spectral_radii is None:
        spectral_radii = [round(0.3 + 0.05 * i, 2) for i in range(35)]
    if isinstance(spectral_radii, (str, bytes)) or not isinstance(spectral_radii, Sequence) or not spectral_radii:
        raise ValueError(f"spectral_radii must be a non-empty sequence of positive numbers, got {spectral_radii!r}")
    if not all(isinstance(s, (int, float)) and not isinstance(s, bool) and s > 0 for s in spectral_radii):
        raise ValueError(f"spectral_radii must be positive numbers, got {list(spectral_radii)}")
    check_int("steps", steps, 1)
    check_int("hidden_size", hidden_size, 1)

    values = []
    for sigma in spectral_radii:
        gen = torch.Generator().manual_seed(seed)  # the same draws as plot_gradient_norms(sigma)
        rnn = _rnn_curve(float(sigma), steps, hidden_size, input_scale, gen)  # (steps + 1,)
        lstm_h, lstm_c = _lstm_curves(float(sigma), steps, hidden_size, input_scale, forget_bias, gen)
        values.append({"sigma": float(sigma), "rnn": rnn, "lstm_h": lstm_h, "lstm_c": lstm_c})

    curves = torch.stack([v[name] for v in values for name in ("rnn", "lstm_h", "lstm_c")])
    positive = curves[curves > 0]
    # Below 1e-16 a gradient is lost in float64 rounding next to an O(1) one: the axis stops there.
    low = max(positive.min().log10().floor().item(), -16.0)
    high = positive.max().log10().ceil().item()
    k = list(range(steps + 1))
    fig = make_subplots(rows=1, cols=2, shared_yaxes=True, horizontal_spacing=0.05,
                        subplot_titles=("vanilla RNN", f"LSTM, forget bias {forget_bias:g}"))
    fig.add_trace(go.Scatter(x=k, name="RNN ‖∂L_T/∂h_k‖", line={"color": "#1f77b4"}), row=1, col=1)
    fig.add_trace(go.Scatter(x=k, name="LSTM ‖∂L_T/∂h_k‖", line={"color": "#ff7f0e"}), row=1, col=2)
    fig.add_trace(go.Scatter(x=k, name="LSTM ‖∂L_T/∂c_k‖ (additive path)",
                             line={"color": "#2ca02c", "dash": "dash"}), row=1, col=2)
    fig.update_yaxes(type="log", range=[low, high], exponentformat="power")
    fig.update_yaxes(title_text="gradient norm (log scale)", row=1, col=1)
    fig.update_xaxes(title_text="time step k")
    fig.update_layout(height=460, margin={"t": 90}, legend={"orientation": "h", "y": 1.25})
    frames = [[{"x": k, "y": v[name].tolist()} for name in ("rnn", "lstm_h", "lstm_c")] for v in values]
    labels = [f"{float(s):.2f}" for s in spectral_radii]
    active = min(range(len(values)), key=lambda s: abs(values[s]["sigma"] - 1.0))
    _with_slider(fig, frames, labels, "σ(W_hh) = ", active)
    return SliderFigure(fig, labels, values)


# ----------------------------------------------------------------------------------------------
# lecture 5: the LSTM's gates


def lstm_trace(cell: torch.nn.Module, inputs: torch.Tensor) -> dict[str, torch.Tensor]:
    """Run an LSTM cell over ``inputs`` (T, input_size) from zero states; return every step's
    gates and states, each (T, H): ``i, f, g, o`` (torch's gate order) and ``c, h``, what
    ``lstm_gates_slider`` (lecture 5) draws.

    ``c`` and ``h`` are the cell's own outputs; the gates are recomputed from its weights with
    ``course_lib.lstm.lstm_step``, i, f, o = σ(W_i* x_t + W_h* h_{t-1} + b), g = tanh(...), so
    that c_t = f_t c_{t-1} + i_t g_t.
    ``cell`` is a ``course_lib.LSTMCell`` or a ``torch.nn.LSTMCell``.
    """
    if not all(hasattr(cell, n) for n in ("weight_ih", "weight_hh", "hidden_size")) or not callable(cell):
        raise TypeError(f"cell must be an LSTMCell (course_lib or torch.nn), got {type(cell).__name__}")
    if not isinstance(inputs, torch.Tensor) or inputs.dim() != 2 or inputs.shape[1] != cell.weight_ih.shape[1]:
        raise ValueError(f"inputs must be a (T, {cell.weight_ih.shape[1]}) tensor, got "
                         f"{tuple(inputs.shape) if isinstance(inputs, torch.Tensor) else type(inputs).__name__}")
    h = inputs.new_zeros(1, cell.hidden_size)  # (1, H)
    c = inputs.new_zeros(1, cell.hidden_size)  # (1, H)
    rows: dict[str, list[torch.Tensor]] = {name: [] for name in ("i", "f", "g", "o", "c", "h")}
    with torch.no_grad():
        for x in inputs:  # x: (input_size,)
            gates = F.linear(x[None], cell.weight_ih, cell.bias_ih) + F.linear(h, cell.weight_hh, cell.bias_hh)  # (1, 4H)
            *_, (i, f, g, o) = lstm_step(gates, c)  # 4 x (1, H)
            h, c = cell(x[None], (h, c))  # (1, H) each
            for name, value in zip(rows, (i, f, g, o, c, h)):
                rows[name].append(value[0])
    return {name: torch.stack(steps) for name, steps in rows.items()}  # each (T, H)


def lstm_gates_slider(
    cell: torch.nn.Module,
    texts: Sequence[str],
    vocab: Vocab,
) -> SliderFigure:
    """Heat maps of an LSTM cell's gates i, f, g, o and states c, h (one row per unit, one
    column per character) while it reads a text; the slider picks the text (lecture 5).

    Each text is one-hot encoded with ``vocab`` (a character ``course_lib.Vocab``). Texts that
    differ in one character show the lecture's point: up to that character every gate and
    state is the same; from there on the difference is carried along in c and h.
    ``values[s]`` is :func:`lstm_trace` of text s plus ``"first_difference"``, the first step
    where its gates differ from those of the first text (None if they never do).
    """
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    if isinstance(texts, str) or not isinstance(texts, Sequence) or not texts:
        raise ValueError(f"texts must be a non-empty sequence of strings, got {texts!r}")
    texts = check_labels("texts", texts, len(texts))
    if not all(texts):
        raise ValueError("texts must not contain an empty string")
    if not hasattr(vocab, "encode") or not hasattr(vocab, "__len__"):
        raise TypeError(f"vocab must be a course_lib Vocab, got {type(vocab).__name__}")
    if len(vocab) != cell.weight_ih.shape[1]:
        raise ValueError(f"vocab must have the cell's input size {cell.weight_ih.shape[1]} tokens, got {len(vocab)}")

    param = cell.weight_ih
    values = []
    for text in texts:
        ids = torch.tensor(vocab.encode(text))  # (T,)
        one_hot = F.one_hot(ids, len(vocab)).to(param.dtype)  # (T, V)
        values.append(lstm_trace(cell, one_hot))
    first = values[0]
    for v in values:
        T = min(len(v["i"]), len(first["i"]))
        differs = [t for t in range(T) if not all(torch.equal(v[n][t], first[n][t]) for n in "ifgo")]
        longer_or_shorter = len(v["i"]) != len(first["i"])
        v["first_difference"] = differs[0] if differs else (T if longer_or_shorter else None)

    names = {"i": "input gate i_t", "f": "forget gate f_t", "g": "input node g_t",
             "o": "output gate o_t", "c": "cell state c_t", "h": "hidden state h_t"}
    c_max = max(v["c"].abs().max().item() for v in values)
    ranges = {"i": (0, 1), "f": (0, 1), "o": (0, 1), "g": (-1, 1), "h": (-1, 1), "c": (-c_max, c_max)}
    fig = make_subplots(rows=2, cols=3, subplot_titles=list(names.values()), shared_xaxes=True,
                        shared_yaxes=True, horizontal_spacing=0.06, vertical_spacing=0.14)
    for n, name in enumerate(names):
        low, high = ranges[name]
        scale = "Viridis" if low == 0 else "RdBu"
        fig.add_trace(go.Heatmap(zmin=low, zmax=high, colorscale=scale, showscale=False, name=name,
                                 hovertemplate=name + " unit %{y}, step %{x}: %{z:.3f}<extra></extra>"),
                      row=n // 3 + 1, col=n % 3 + 1)
    frames, layouts = [], []
    for text, v in zip(texts, values):
        steps = list(range(len(text)))
        frames.append([{"z": v[name].T.tolist(), "x": steps} for name in names])  # (H, T) each
        ticks = {"tickmode": "array", "tickvals": steps, "ticktext": [_show_char(ch) for ch in text]}
        layouts.append({f"xaxis{'' if a == 1 else a}": ticks for a in range(1, 7)})
    fig.update_yaxes(title_text="unit", col=1)
    fig.update_layout(height=560, margin={"t": 40})
    _with_slider(fig, frames, texts, "text: ", 0, layouts)
    return SliderFigure(fig, texts, values)


def _show_char(ch: str) -> str:
    """A character as a readable axis label: space and newline become visible symbols."""
    return {" ": "␣", "\n": "⏎", "\t": "⇥"}.get(ch, ch)


# ----------------------------------------------------------------------------------------------
# lecture 8: sampling temperature


def temperature_slider(
    model: torch.nn.Module,
    vocab: Vocab,
    prompt: str,
    temperatures: Sequence[float] | None = None,
    top: int = 12,
    sample_length: int = 80,
    seed: int = 1,
) -> SliderFigure:
    """The next-character distribution softmax(scores / τ) after ``prompt``, with a sample drawn at
    that τ, one slider state per temperature τ (lecture 8).

    ``model`` and ``vocab`` are what ``course_lib.training.sample`` takes; the samples are its
    output with ``torch.Generator().manual_seed(seed)`` at every τ, so the states differ only by
    τ. τ = 0 is greedy decoding (all mass on the argmax). The bars show the ``top`` characters
    with the highest scores (the same for every τ > 0: dividing by τ keeps the order).
    ``values[s]`` holds ``"temperature"``, ``"probs"`` (the whole distribution, (V,)) and
    ``"sample"`` (prompt + generated text).
    """
    import plotly.graph_objects as go

    from course_lib.training import sample

    if temperatures is None:
        temperatures = [0.0] + [round(0.1 * i, 1) for i in range(1, 21)]
    if isinstance(temperatures, (str, bytes)) or not isinstance(temperatures, Sequence) or not temperatures:
        raise ValueError(f"temperatures must be a non-empty sequence of numbers >= 0, got {temperatures!r}")
    if not all(isinstance(t, (int, float)) and not isinstance(t, bool) and t >= 0 for t in temperatures):
        raise ValueError(f"temperatures must be numbers >= 0, got {list(temperatures)}")
    if not isinstance(prompt, str) or not prompt:
        raise ValueError(f"prompt must be a non-empty str, got {prompt!r}")
    check_int("top", top, 1)
    check_int("sample_length", sample_length, 0)

    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    with torch.no_grad():
        logits, _ = model(torch.tensor([vocab.encode(prompt)], device=device))  # (1, T, V)
    model.train(was_training)
    scores = logits[0, -1].double().cpu()  # (V,)
    scores[[vocab.unk_index, vocab.pad_index]] = float("-inf")  # never sampled (as in sample)
    order = scores.argsort(descending=True)[: min(top, len(vocab) - 2)]  # (top,)
    chars = [_show_char(vocab.index_to_token(int(i))) for i in order]

    values = []
    for tau in temperatures:
        if tau == 0:
            probs = F.one_hot(scores.argmax(), len(scores)).double()  # (V,)
        else:
            probs = torch.softmax(scores / tau, dim=-1)  # (V,)
        text = sample(model, vocab, prompt, sample_length, temperature=float(tau),
                      generator=torch.Generator().manual_seed(seed))
        values.append({"temperature": float(tau), "probs": probs, "sample": text})

    fig = go.Figure(go.Bar(x=chars, marker={"color": "#1f77b4"},
                           hovertemplate="P(%{x}) = %{y:.3f}<extra></extra>"))
    fig.update_layout(height=460, margin={"t": 50, "b": 150},
                      title=f"next character after {prompt!r}",
                      xaxis={"title": f"the {len(order)} most likely characters (␣ is a space)",
                             "type": "category"},
                      yaxis={"title": "probability", "range": [0, 1]})
    frames, layouts = [], []
    for v in values:
        shown = v["probs"][order]
        frames.append([{"x": chars, "y": shown.tolist()}])
        lines = [v["sample"][i: i + 60] for i in range(0, len(v["sample"]), 60)]
        note = "sample: " + "<br>".join(html.escape(line, quote=False) for line in lines)
        layouts.append({"annotations": [{"text": note, "xref": "paper", "yref": "paper", "x": 0, "y": -0.32,
                                         "xanchor": "left", "yanchor": "top", "showarrow": False,
                                         "align": "left", "font": {"family": "monospace", "size": 12}}]})
    labels = [f"{v['temperature']:g}" for v in values]
    active = min(range(len(values)), key=lambda s: abs(values[s]["temperature"] - 1.0))
    _with_slider(fig, frames, labels, "temperature τ = ", active, layouts)
    fig.layout.sliders[0].pad = {"t": 150}
    return SliderFigure(fig, labels, values)


# ----------------------------------------------------------------------------------------------
# lecture 10: attention, one output position at a time


def attention_slider(
    weights: torch.Tensor,
    source: Sequence[str],
    target: Sequence[str],
) -> SliderFigure:
    """The attention map of one decoded sentence, revealed one output position i at a time, next
    to the bar chart of that step's weights α_i over the source positions (lecture 10).

    ``weights`` is (len(target), len(source)), row i the α_i the decoder used to write output
    token i (as ``Seq2Seq.greedy_decode`` returns them, one sentence). State i shows rows 1..i.
    ``values[i]`` holds ``"alpha"`` (row i, (len(source),)) and ``"argmax"``, the source
    position it attends to most.
    """
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    if not isinstance(weights, torch.Tensor) or weights.dim() != 2:
        raise ValueError(f"weights must be a 2-D tensor (target steps, source steps), got "
                         f"{tuple(weights.shape) if isinstance(weights, torch.Tensor) else type(weights).__name__}")
    L, S = weights.shape
    source = check_labels("source", source, S)
    target = check_labels("target", target, L)
    if L == 0 or S == 0:
        raise ValueError(f"weights must not be empty, got shape {(L, S)}")
    w = weights.detach().double().cpu()  # (L, S)

    fig = make_subplots(rows=1, cols=2, column_widths=[0.55, 0.45], horizontal_spacing=0.12,
                        subplot_titles=("attention map (rows 1..i)", "α_i over the source"))
    fig.add_trace(go.Heatmap(zmin=0, zmax=1, colorscale="Viridis", showscale=False,
                             hovertemplate="output %{y}, source %{x}: α = %{z:.3f}<extra></extra>"),
                  row=1, col=1)
    fig.add_trace(go.Bar(marker={"color": "#440154"},
                         hovertemplate="source %{x}: α = %{y:.3f}<extra></extra>"), row=1, col=2)
    src_ticks = {"tickmode": "array", "tickvals": list(range(S)), "ticktext": source}
    fig.update_xaxes(src_ticks, title_text="source position j")
    fig.update_yaxes({"tickmode": "array", "tickvals": list(range(L)), "ticktext": target,
                      "autorange": "reversed", "title_text": "output step i"}, row=1, col=1)
    fig.update_yaxes(range=[0, 1], title_text="α_ij", row=1, col=2)
    fig.update_layout(height=440, margin={"t": 90})

    values, frames, layouts = [], [], []
    for i in range(L):
        shown = [row.tolist() if r <= i else [None] * S for r, row in enumerate(w)]  # (L, S)
        frames.append([{"z": shown, "x": list(range(S)), "y": list(range(L))},
                       {"x": list(range(S)), "y": w[i].tolist()}])
        j = int(w[i].argmax())
        values.append({"alpha": w[i], "argmax": j})
        layouts.append({"title": {"text": f"output {i + 1}, {target[i]!r}: most attention on source "
                                          f"{j + 1}, {source[j]!r} (α = {w[i, j]:.2f})"}})
    labels = [f"{i + 1}: {tok}" for i, tok in enumerate(target)]
    _with_slider(fig, frames, labels, "output step ", 0, layouts)
    return SliderFigure(fig, labels, values)
