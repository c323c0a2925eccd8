"""Figures the lectures draw from training runs (lectures 6-10).

Every function returns a ``matplotlib.figure.Figure`` (and draws into ``ax`` if
one is given), so a notebook cell can end with the call and show the figure, and
a test can check what was drawn without a display.
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.figure import Figure

from course_lib.training import moving_average


def _axes(ax, figsize: tuple[float, float]):
    if ax is None:
        fig, ax = plt.subplots(figsize=figsize)
        return fig, ax
    return ax.figure, ax


def _numpy(x: object, name: str) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        return x.detach().cpu().float().numpy()
    try:
        return np.asarray(x, dtype=float)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a tensor or a sequence of numbers, got {type(x).__name__}") from None


def plot_loss(
    history: Sequence[float] | dict[str, Sequence[float]],
    smooth: int = 1,
    ax=None,
    title: str = "Training loss",
    xlabel: str = "step",
    ylabel: str = "loss",
    logy: bool = False,
) -> Figure:
    """Loss curve(s): a list of losses (as :func:`course_lib.training.train` returns), or a dict of named lists.

    ``smooth`` > 1 overlays a moving average over that many steps.
    """
    if isinstance(smooth, bool) or not isinstance(smooth, int) or smooth < 1:
        raise ValueError(f"smooth must be a positive int, got {smooth!r}")
    curves = history if isinstance(history, dict) else {"": history}
    fig, ax = _axes(ax, (6, 3.2))
    for label, values in curves.items():
        y = _numpy(values, "history")
        if y.ndim != 1 or y.size == 0:
            raise ValueError(f"history must be a non-empty 1-D sequence of losses, got shape {y.shape}")
        x = np.arange(1, y.size + 1)
        if smooth > 1 and y.size >= smooth:
            line = ax.plot(x, y, alpha=0.3)[0]
            avg = moving_average(y, smooth).numpy()  # (S - smooth + 1,)
            ax.plot(x[smooth - 1 :], avg, color=line.get_color(), label=label or f"mean of {smooth}")
        else:
            ax.plot(x, y, label=label or None)
    if logy:
        ax.set_yscale("log")
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
    if ax.get_legend_handles_labels()[0]:
        ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def plot_confusion_matrix(
    cm: torch.Tensor | np.ndarray,
    labels: Sequence[str],
    ax=None,
    title: str = "Confusion matrix",
    annotate: bool | None = None,
) -> Figure:
    """Heatmap of a confusion matrix: rows are the actual classes, columns the guesses (lecture 9).

    ``annotate`` writes the value in each cell (default: when there are at most 10 classes).
    """
    m = _numpy(cm, "cm")
    if m.ndim != 2 or m.shape[0] != m.shape[1]:
        raise ValueError(f"cm must be a square matrix, got shape {m.shape}")
    if len(labels) != m.shape[0]:
        raise ValueError(f"labels must name every class ({m.shape[0]}), got {len(labels)}")
    n = m.shape[0]
    fig, ax = _axes(ax, (0.45 * n + 2.5, 0.45 * n + 2))
    im = ax.imshow(m, cmap="Blues")
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
    ax.set_xticks(range(n), labels, rotation=90)
    ax.set_yticks(range(n), labels)
    ax.set(xlabel="guess", ylabel="actual", title=title)
    if annotate if annotate is not None else n <= 10:
        fmt = "{:.0f}" if np.allclose(m, np.round(m)) else "{:.2f}"
        for i in range(n):
            for j in range(n):
                ax.text(j, i, fmt.format(m[i, j]), ha="center", va="center", fontsize=8,
                        color="white" if m[i, j] > 0.6 * m.max() else "black")
    fig.tight_layout()
    return fig


def plot_attention(
    weights: torch.Tensor | np.ndarray,
    source: Sequence[str],
    target: Sequence[str],
    ax=None,
    title: str = "Attention weights",
) -> Figure:
    """Heatmap of attention weights ``alpha_ij`` (lecture 10): row ``i`` an output token, column ``j`` an input token."""
    w = _numpy(weights, "weights")
    if w.ndim != 2:
        raise ValueError(f"weights must be 2-D (target steps, source steps), got shape {w.shape}")
    if w.shape != (len(target), len(source)):
        raise ValueError(f"weights must have shape (len(target), len(source)) = ({len(target)}, {len(source)}), got {w.shape}")
    fig, ax = _axes(ax, (0.45 * len(source) + 2, 0.45 * len(target) + 1.5))
    im = ax.imshow(w, cmap="viridis", vmin=0.0, vmax=1.0)
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
    ax.set_xticks(range(len(source)), list(source), rotation=90)
    ax.set_yticks(range(len(target)), list(target))
    ax.set(xlabel="source (encoder states $h_j$)", ylabel="output step $i$", title=title)
    fig.tight_layout()
    return fig


def plot_forecast(
    series: torch.Tensor | np.ndarray,
    predictions: torch.Tensor | np.ndarray,
    start: int,
    ax=None,
    title: str = "One-step forecast",
) -> Figure:
    """The true series and predictions that begin at index ``start`` (lecture 10)."""
    y = _numpy(series, "series").reshape(-1)
    p = _numpy(predictions, "predictions").reshape(-1)
    if isinstance(start, bool) or not isinstance(start, int) or not 0 <= start <= y.size:
        raise ValueError(f"start must be an index in [0, {y.size}], got {start!r}")
    fig, ax = _axes(ax, (7, 3))
    ax.plot(np.arange(y.size), y, label="series", color="0.4")
    ax.plot(np.arange(start, start + p.size), p, "--", label="forecast", color="C3")
    ax.axvline(start, color="0.7", lw=0.8)
    ax.set(title=title, xlabel="t", ylabel="$x_t$")
    ax.legend()
    fig.tight_layout()
    return fig
