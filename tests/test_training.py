"""course_lib.training and course_lib.plots: the loop learns, the metrics mean what they say."""

import math

import matplotlib
import numpy as np
import pytest
import torch
from torch import nn

from course_lib import plots
from course_lib.models import SimpleLSTM
from course_lib.text import Vocab
from course_lib.training import (
    confusion_matrix,
    default_device,
    evaluate_accuracy,
    evaluate_loss,
    first_step_below,
    moving_average,
    perplexity,
    sample,
    top_k_predictions,
    train,
)


def test_perplexity_of_a_uniform_model_is_the_vocabulary_size():
    V = 37
    logits = torch.zeros(50, V)
    loss = nn.functional.cross_entropy(logits, torch.randint(0, V, (50,)))
    assert perplexity(loss) == pytest.approx(V)
    assert perplexity(0.0) == 1.0
    for bad, error in [(-1.0, ValueError), (float("nan"), ValueError), ("2", TypeError), (torch.ones(2), ValueError)]:
        with pytest.raises(error):
            perplexity(bad)


def _char_task():
    text = "abcabcabcabc" * 4
    vocab = Vocab([text], tokenizer="char")
    ids = torch.tensor(vocab.encode(text))
    x = ids[:-1].reshape(1, -1)  # (1, T)
    y = ids[1:].reshape(1, -1)  # (1, T)
    return vocab, [(x, y)]


def test_training_reduces_loss_on_a_tiny_seeded_task(capsys):
    torch.manual_seed(0)
    vocab, loader = _char_task()
    model = SimpleLSTM(len(vocab), 8, 16, backend="torch")
    before = evaluate_loss(model, loader, nn.CrossEntropyLoss())
    history = train(model, loader, nn.CrossEntropyLoss(), torch.optim.Adam(model.parameters(), 0.05),
                    epochs=60, clip=1.0)
    assert len(history) == 60 and history[-1] < 0.2 * history[0]
    assert evaluate_loss(model, loader, nn.CrossEntropyLoss()) < 0.2 * before
    assert "60/60" in capsys.readouterr().out  # a plain-text progress bar on stdout
    assert sample(model, vocab, "ab", 7, temperature=0) == "abcabcabc"


def test_sampling_at_temperature_zero_is_argmax_and_seeded_sampling_repeats():
    torch.manual_seed(1)
    vocab, _ = _char_task()
    model = SimpleLSTM(len(vocab), 4, 8, backend="torch")
    greedy = sample(model, vocab, "a", 10, temperature=0)
    ids = vocab.encode("a")
    hidden = None
    x = torch.tensor([ids])
    for _ in range(10):
        logits, hidden = model(x, hidden)
        scores = logits[0, -1].clone()
        scores[[vocab.unk_index, vocab.pad_index]] = float("-inf")  # sample never emits these
        ids.append(int(scores.argmax()))
        x = torch.tensor([[ids[-1]]])
    assert greedy == vocab.decode(ids)
    assert sample(model, vocab, "a", 10, temperature=1e-6, generator=torch.Generator().manual_seed(0)) == greedy
    a = sample(model, vocab, "a", 20, temperature=2.0, generator=torch.Generator().manual_seed(3))
    b = sample(model, vocab, "a", 20, temperature=2.0, generator=torch.Generator().manual_seed(3))
    assert a == b and len(a) == 21 and "<unk>" not in a
    for kwargs, error in [({"temperature": -1.0}, ValueError), ({"length": -1}, ValueError), ({"prompt": 3}, TypeError)]:
        with pytest.raises(error):
            sample(model, vocab, **{"prompt": "a", "length": 3, **kwargs})


def test_accuracy_confusion_matrix_and_top_k():
    model = nn.Linear(2, 3, bias=False)
    with torch.no_grad():
        model.weight.copy_(torch.tensor([[1.0, 0.0], [0.0, 1.0], [-1.0, -1.0]]))
    x = torch.tensor([[2.0, 0.0], [0.0, 2.0], [-1.0, -1.0], [3.0, 0.0]])
    y = torch.tensor([0, 1, 2, 1])
    assert evaluate_accuracy(model, [(x, y)]) == pytest.approx(0.75)
    cm = confusion_matrix(y, torch.tensor([0, 1, 2, 0]), 3)
    assert cm.tolist() == [[1, 0, 0], [1, 1, 0], [0, 0, 1]]
    assert confusion_matrix(y, torch.tensor([0, 1, 2, 0]), 3, normalize=True)[1].tolist() == [0.5, 0.5, 0.0]
    with pytest.raises(ValueError):
        confusion_matrix([0, 3], [0, 1], 3)
    top = top_k_predictions(torch.tensor([0.0, 2.0, 1.0]), ["a", "b", "c"], k=2)
    assert [label for _, label in top[0]] == ["b", "c"]
    assert top[0][0][0] == pytest.approx(2.0 - math.log(1 + math.e**2 + math.e), abs=1e-4)
    with pytest.raises(ValueError):
        top_k_predictions(torch.zeros(3), ["a", "b"], k=1)


def test_train_rejects_bad_arguments():
    model = nn.Linear(2, 2)
    opt = torch.optim.SGD(model.parameters(), 0.1)
    loader = [(torch.zeros(1, 2), torch.tensor([0]))]
    for kwargs, error in [({"epochs": 0}, ValueError), ({"epochs": 1.5}, TypeError), ({"clip": -1.0}, ValueError),
                          ({"model": "net"}, TypeError), ({"loss_fn": 3}, TypeError), ({"optimizer": None}, TypeError)]:
        args = {"model": model, "loader": loader, "loss_fn": nn.CrossEntropyLoss(), "optimizer": opt, "epochs": 1, **kwargs}
        with pytest.raises(error):
            train(**args, progress=False)
    with pytest.raises(TypeError, match="batch"):
        train(model, [torch.zeros(1, 2)], nn.CrossEntropyLoss(), opt, 1, progress=False)


def test_default_device(monkeypatch):
    assert default_device("cpu") == torch.device("cpu")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert default_device() == torch.device("cuda")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert default_device() == torch.device("cpu")
    with pytest.raises(TypeError):
        default_device(0.5)


def test_plots_return_figures():
    figs = [
        plots.plot_loss([3.0, 2.0, 1.5, 1.0], smooth=2),
        plots.plot_loss({"lstm": [2.0, 1.0], "gru": [2.5, 0.5]}),
        plots.plot_confusion_matrix(torch.eye(3), ["a", "b", "c"]),
        plots.plot_attention(torch.full((2, 3), 1 / 3), ["x", "y", "z"], ["p", "q"]),
        plots.plot_forecast(torch.arange(10.0), torch.arange(7.0, 10.0), start=7),
    ]
    assert all(isinstance(f, matplotlib.figure.Figure) for f in figs)
    with pytest.raises(ValueError):
        plots.plot_attention(torch.ones(2, 2), ["x"], ["p", "q"])
    with pytest.raises(ValueError):
        plots.plot_confusion_matrix(torch.ones(2, 3), ["a", "b"])
    matplotlib.pyplot.close("all")


def test_first_step_below_counts_the_steps_until_the_loss_falls_below_the_threshold():
    assert first_step_below([1.0, 0.9, 0.2, 0.1], threshold=0.5) == 3


def test_first_step_below_is_none_when_the_loss_never_falls_that_low():
    assert first_step_below([1.0, 0.9, 0.8], threshold=0.5) is None


def test_first_step_below_ignores_one_lucky_batch_once_smoothed():
    history = [1.0, 0.1, 1.0, 1.0, 0.2, 0.2, 0.2]
    assert first_step_below(history, threshold=0.3) == 2
    assert first_step_below(history, threshold=0.3, window=3) == 7  # mean of steps 5-7: 0.2


@pytest.mark.parametrize("kwargs, error, phrase", [
    ({"threshold": 0.0}, ValueError, "threshold"),
    ({"threshold": "low"}, TypeError, "threshold"),
    ({"threshold": 0.5, "window": 0}, ValueError, "window"),
    ({"threshold": 0.5, "window": 9}, ValueError, "at least window=9"),
])
def test_first_step_below_refuses_bad_arguments_naming_them(kwargs, error, phrase):
    with pytest.raises(error, match=phrase):
        first_step_below([1.0, 0.5, 0.2], **kwargs)


def test_moving_average_equals_numpys_valid_convolution_with_a_box():
    values = torch.rand(50, dtype=torch.float64, generator=torch.Generator().manual_seed(0)).tolist()
    expected = np.convolve(values, np.ones(7) / 7, mode="valid")
    torch.testing.assert_close(moving_average(values, 7), torch.from_numpy(expected), rtol=0, atol=1e-12)


@pytest.mark.parametrize("window, phrase", [(0, "window"), (4, "at least window=4")])
def test_moving_average_refuses_a_window_it_cannot_fill(window, phrase):
    with pytest.raises(ValueError, match=phrase):
        moving_average([1.0, 2.0, 3.0], window)
