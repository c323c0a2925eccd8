"""Training and evaluation helpers shared by lectures 6-10 and the assignments.

One small training loop (:func:`train`) serves every model of the course, because
every batch follows one convention: ``(*inputs, target)``. The loop calls
``model(*inputs)``; if the model returns a tuple (``SimpleLSTM`` returns
``(logits, hidden)``) the first element is the prediction. Sequence outputs
``(B, T, V)`` with targets ``(B, T)`` are flattened before the loss, which makes
``nn.CrossEntropyLoss`` the per-step cross-entropy of lecture 8:

    J(theta) = 1/T sum_t -log y_hat^{(t)}[x_{t+1}]

and :func:`perplexity` is ``exp(J)``.

Everything runs on CUDA unchanged when it is available (``device=None``) and on
the CPU otherwise. Progress bars are plain-text ``tqdm`` bars written to stdout
(not the ``tqdm.auto`` widget): they read the same in a terminal, in Jupyter and
in the static book, where a widget would be an empty box. They redraw at most about ten
times, because the book's renderer keeps every redraw as a line of text.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable, Iterable, Sequence

import torch
from torch import nn
from tqdm.std import tqdm

from course_lib.validation import check_callable, check_module, check_positive_finite, check_positive_int


def default_device(device: str | torch.device | None = None) -> torch.device:
    """The device to train on: ``device`` if given, else CUDA when available, else the CPU."""
    if device is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if not isinstance(device, (str, torch.device)):
        raise TypeError(f"device must be a str, torch.device or None, got {type(device).__name__}")
    return torch.device(device)


def _to(batch: object, device: torch.device) -> object:
    """Move every tensor of a (nested) batch to ``device``."""
    if isinstance(batch, torch.Tensor):
        return batch.to(device)
    if isinstance(batch, (list, tuple)):
        return type(batch)(_to(b, device) for b in batch)
    return batch


def _split_batch(batch: object) -> tuple[tuple, torch.Tensor]:
    if not isinstance(batch, (list, tuple)) or len(batch) < 2:
        raise TypeError(
            "each batch must be a tuple (*inputs, target) with at least one input, "
            f"got {type(batch).__name__}"
        )
    *inputs, target = batch
    return tuple(inputs), target


def _prediction(output: object) -> torch.Tensor:
    """The model's prediction: the output itself, or its first element for ``(logits, hidden)``."""
    if isinstance(output, (tuple, list)):
        output = output[0]
    if not isinstance(output, torch.Tensor):
        raise TypeError(f"the model must return a tensor or a tuple starting with one, got {type(output).__name__}")
    return output


def _flatten_for_loss(pred: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-step classification: ``(B, T, V)`` and ``(B, T)`` become ``(B*T, V)`` and ``(B*T,)``."""
    if pred.dim() == 3 and target.dim() == 2 and not target.is_floating_point():
        return pred.reshape(-1, pred.size(-1)), target.reshape(-1)  # (B*T, V), (B*T,)
    return pred, target


def train(
    model: nn.Module,
    loader: Iterable,
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    optimizer: torch.optim.Optimizer,
    epochs: int,
    device: str | torch.device | None = None,
    clip: float | None = None,
    progress: bool = True,
    desc: str = "train",
) -> list[float]:
    """Train ``model`` for ``epochs`` passes over ``loader``; return the loss of every step.

    Each batch is ``(*inputs, target)``: the loop computes
    ``loss_fn(model(*inputs), target)`` (see the module docstring for tuples and
    sequence outputs), back-propagates, clips the global gradient norm to ``clip``
    if given (``clip_grad_norm_`` of lecture 4: ``g <- clip * g / ||g||`` when
    ``||g|| > clip``) and takes
    an optimizer step. The model is moved to ``device`` (default: CUDA if
    available, else CPU) and left in training mode.

    Returns:
        the training loss of every optimizer step, in order (``epochs * len(loader)`` floats);
        :func:`course_lib.plots.plot_loss` draws it.
    """
    check_module("model", model)
    check_callable("loss_fn", loss_fn)
    check_positive_int("epochs", epochs)
    if clip is not None:
        check_positive_finite("clip", clip)
    if not isinstance(optimizer, torch.optim.Optimizer):
        raise TypeError(f"optimizer must be a torch.optim.Optimizer, got {type(optimizer).__name__}")
    if not isinstance(loader, Iterable):
        raise TypeError(f"loader must be an iterable of batches, got {type(loader).__name__}")
    dev = default_device(device)
    model.to(dev)
    model.train()
    history: list[float] = []
    total = len(loader) * epochs if hasattr(loader, "__len__") else None
    # At most ~10 redraws: a live notebook shows one bar updating in place; the static book, whose
    # renderer (myst-nb, nb_merge_streams) keeps every redraw as a line, shows a short log.
    bar = tqdm(total=total, desc=desc, disable=not progress, file=sys.stdout, ncols=90,
               mininterval=0.5, miniters=max(1, math.ceil(total / 10)) if total else None)
    for epoch in range(epochs):
        for batch in loader:
            inputs, target = _split_batch(_to(batch, dev))
            pred, target = _flatten_for_loss(_prediction(model(*inputs)), target)
            loss = loss_fn(pred, target)
            optimizer.zero_grad()
            loss.backward()
            if clip is not None:
                # torch's version of lecture 4's clip_grad_norm_ (course_lib.clipping is equal to it)
                nn.utils.clip_grad_norm_(model.parameters(), clip)
            optimizer.step()
            history.append(loss.item())
            bar.set_postfix(epoch=epoch + 1, loss=f"{history[-1]:.3f}", refresh=False)
            bar.update()
    bar.close()
    if not history:
        raise ValueError("loader must yield at least one batch")
    return history


@torch.no_grad()
def evaluate_loss(
    model: nn.Module,
    loader: Iterable,
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    device: str | torch.device | None = None,
) -> float:
    """Mean of ``loss_fn`` over every batch of ``loader``, weighted by batch size, in eval mode."""
    check_module("model", model)
    check_callable("loss_fn", loss_fn)
    dev = default_device(device)
    model.to(dev)
    was_training = model.training
    model.eval()
    total, count = 0.0, 0
    for batch in loader:
        inputs, target = _split_batch(_to(batch, dev))
        pred, target = _flatten_for_loss(_prediction(model(*inputs)), target)
        n = target.shape[0]
        total += loss_fn(pred, target).item() * n
        count += n
    model.train(was_training)
    if count == 0:
        raise ValueError("loader must yield at least one batch")
    return total / count


@torch.no_grad()
def predict(model: nn.Module, loader: Iterable, device: str | torch.device | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Class predictions (argmax of the logits) and targets over ``loader``, both ``(N,)`` on the CPU."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    dev = default_device(device)
    model.to(dev)
    was_training = model.training
    model.eval()
    preds, targets = [], []
    for batch in loader:
        inputs, target = _split_batch(_to(batch, dev))
        logits = _prediction(model(*inputs))  # (B, C)
        if logits.dim() != 2:
            raise ValueError(f"predict expects class logits of shape (B, C), got {tuple(logits.shape)}")
        preds.append(logits.argmax(dim=-1).cpu())  # (B,)
        targets.append(target.cpu())
    model.train(was_training)
    if not preds:
        raise ValueError("loader must yield at least one batch")
    return torch.cat(preds), torch.cat(targets)


def evaluate_accuracy(model: nn.Module, loader: Iterable, device: str | torch.device | None = None) -> float:
    """Fraction of examples in ``loader`` whose argmax prediction equals the target."""
    preds, targets = predict(model, loader, device)
    return (preds == targets).float().mean().item()


def confusion_matrix(
    y_true: Sequence[int] | torch.Tensor,
    y_pred: Sequence[int] | torch.Tensor,
    num_classes: int,
    normalize: bool = False,
) -> torch.Tensor:
    """Counts ``C[i, j]`` of examples of true class ``i`` predicted as ``j`` (lecture 9).

    Rows are the actual classes, columns the guesses, as in the case study.
    ``normalize=True`` divides every row by its sum (rows with no examples stay 0).
    Returns a ``(num_classes, num_classes)`` tensor (int64 counts, or float32 rates).
    """
    if isinstance(num_classes, bool) or not isinstance(num_classes, int):
        raise TypeError(f"num_classes must be an int, got {type(num_classes).__name__}")
    if num_classes < 1:
        raise ValueError(f"num_classes must be at least 1, got {num_classes}")
    y_true = torch.as_tensor(y_true).reshape(-1).long()  # (N,)
    y_pred = torch.as_tensor(y_pred).reshape(-1).long()  # (N,)
    if y_true.shape != y_pred.shape:
        raise ValueError(f"y_true and y_pred must have the same length, got {len(y_true)} and {len(y_pred)}")
    for name, y in (("y_true", y_true), ("y_pred", y_pred)):
        if len(y) and (y.min() < 0 or y.max() >= num_classes):
            raise ValueError(f"{name} must hold class indices in [0, {num_classes - 1}]")
    cm = torch.bincount(y_true * num_classes + y_pred, minlength=num_classes**2)
    cm = cm.reshape(num_classes, num_classes)  # (C, C)
    if normalize:
        rows = cm.sum(dim=1, keepdim=True).clamp(min=1)  # (C, 1)
        return cm.float() / rows
    return cm


def top_k_predictions(
    logits: torch.Tensor, labels: Sequence[str], k: int = 3
) -> list[list[tuple[float, str]]]:
    """The ``k`` most likely labels of each row of ``logits``, with their log-probabilities.

    ``logits`` is ``(C,)`` or ``(B, C)``; the result has one list per row of
    ``(log_prob, label)`` pairs, best first, as the case study's ``predict('Jackson')``
    prints them ("(-0.09) Scottish").
    """
    if not isinstance(logits, torch.Tensor):
        raise TypeError(f"logits must be a torch.Tensor, got {type(logits).__name__}")
    if logits.dim() == 1:
        logits = logits.unsqueeze(0)  # (1, C)
    if logits.dim() != 2:
        raise ValueError(f"logits must be (C,) or (B, C), got shape {tuple(logits.shape)}")
    if len(labels) != logits.size(1):
        raise ValueError(f"labels must have one name per class ({logits.size(1)}), got {len(labels)}")
    if isinstance(k, bool) or not isinstance(k, int):
        raise TypeError(f"k must be an int, got {type(k).__name__}")
    if not 1 <= k <= logits.size(1):
        raise ValueError(f"k must be in [1, {logits.size(1)}], got {k}")
    log_probs = torch.log_softmax(logits.detach().float(), dim=-1)  # (B, C)
    values, indices = log_probs.topk(k, dim=-1)  # (B, k)
    return [
        [(round(v, 4), labels[i]) for v, i in zip(vs.tolist(), ix.tolist())]
        for vs, ix in zip(values, indices)
    ]


def moving_average(values: Sequence[float], window: int) -> torch.Tensor:
    """The mean of every ``window`` consecutive values, ``out[i] = mean(values[i : i + window])``:
    ``len(values) - window + 1`` of them, in float64.

    A training curve is noisy step to step; this is the smoothed curve that
    :func:`course_lib.plots.plot_loss` draws (``smooth=``) and :func:`first_step_below` reads.
    """
    check_positive_int("window", window)
    series = torch.as_tensor([float(value) for value in values], dtype=torch.float64)  # (S,)
    if len(series) < window:
        raise ValueError(f"values must hold at least window={window} numbers, got {len(series)}")
    return series.unfold(0, window, 1).mean(dim=1)  # (S - window + 1,)


def first_step_below(history: Sequence[float], threshold: float, window: int = 1) -> int | None:
    """How many training steps it took for the loss to fall below ``threshold``: the first
    ``t`` whose mean of the last ``window`` losses ``history[t - window : t]`` is below it, or
    None if it never falls that low.

    A training curve is noisy step to step, so a single lucky batch should not count as
    learning: ``window`` smooths it first (lecture 6 measures how long each cell stays on the
    adding problem's plateau this way).
    """
    check_positive_finite("threshold", threshold)
    check_positive_int("window", window)
    if len(history) < window:
        raise ValueError(f"history must hold at least window={window} losses, got {len(history)}")
    below = (moving_average(history, window) < threshold).nonzero()
    return None if len(below) == 0 else int(below[0]) + window


def perplexity(mean_loss: float | torch.Tensor) -> float:
    """Perplexity ``exp(J)`` of a mean per-token cross-entropy ``J`` (in nats), lecture 8.

    A model that spreads its probability uniformly over ``V`` tokens has
    ``J = log V`` and perplexity ``V``: perplexity is the effective number of
    equally likely choices the model hesitates between.
    """
    if isinstance(mean_loss, torch.Tensor):
        if mean_loss.numel() != 1:
            raise ValueError(f"mean_loss must be a single number, got a tensor of shape {tuple(mean_loss.shape)}")
        mean_loss = mean_loss.item()
    if isinstance(mean_loss, bool) or not isinstance(mean_loss, (int, float)):
        raise TypeError(f"mean_loss must be a float, got {type(mean_loss).__name__}")
    if math.isnan(mean_loss) or mean_loss < 0:
        raise ValueError(f"mean_loss must be a non-negative cross-entropy, got {mean_loss}")
    return math.exp(mean_loss)


@torch.no_grad()
def sample(
    model: nn.Module,
    vocab,
    prompt: str,
    length: int,
    temperature: float = 1.0,
    generator: torch.Generator | None = None,
) -> str:
    """Generate ``length`` tokens after ``prompt`` by repeated sampling (lecture 8).

    ``model(x, hidden)`` must return ``(logits, hidden)`` like
    :class:`course_lib.models.SimpleLSTM`. The prompt is fed once to warm up the
    hidden state; then each sampled token is the next step's input. The next
    token is drawn from ``softmax(logits / temperature)``: low temperatures
    sharpen the distribution, ``temperature=0`` takes the argmax (greedy).
    ``<unk>`` and ``<pad>`` are never generated (their scores are set to ``-inf``).

    Returns the prompt followed by the generated text, decoded with ``vocab``
    (a :class:`course_lib.text.Vocab`).
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    for attr in ("encode", "decode"):
        if not hasattr(vocab, attr):
            raise TypeError(f"vocab must be a course_lib Vocab (with encode/decode), got {type(vocab).__name__}")
    if not isinstance(prompt, str):
        raise TypeError(f"prompt must be a str, got {type(prompt).__name__}")
    if isinstance(length, bool) or not isinstance(length, int):
        raise TypeError(f"length must be an int, got {type(length).__name__}")
    if length < 0:
        raise ValueError(f"length must be non-negative, got {length}")
    if isinstance(temperature, bool) or not isinstance(temperature, (int, float)):
        raise TypeError(f"temperature must be a number, got {type(temperature).__name__}")
    if temperature < 0:
        raise ValueError(f"temperature must be non-negative, got {temperature}")
    if generator is not None and not isinstance(generator, torch.Generator):
        raise TypeError(f"generator must be a torch.Generator or None, got {type(generator).__name__}")
    ids = vocab.encode(prompt)
    if not ids:
        raise ValueError("prompt must contain at least one token")
    dev = next(model.parameters()).device
    was_training = model.training
    model.eval()
    x = torch.tensor([ids], dtype=torch.long, device=dev)  # (1, T0)
    logits, hidden = model(x, None)  # (1, T0, V)
    out = list(ids)
    banned = [i for i in (getattr(vocab, "unk_index", None), getattr(vocab, "pad_index", None)) if i is not None]
    for _ in range(length):
        last = logits[0, -1].float().cpu()  # (V,)
        last[banned] = float("-inf")
        if temperature == 0:
            nxt = int(last.argmax())
        else:
            probs = torch.softmax(last / temperature, dim=-1)  # (V,)
            nxt = int(torch.multinomial(probs, 1, generator=generator))
        out.append(nxt)
        x = torch.tensor([[nxt]], dtype=torch.long, device=dev)  # (1, 1)
        logits, hidden = model(x, hidden)  # (1, 1, V)
    model.train(was_training)
    return vocab.decode(out)
