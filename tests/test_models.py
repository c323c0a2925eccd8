"""course_lib.models: the lecture models equal their torch.nn twins, and reject bad input."""

import pytest
import torch

from course_lib.models import Forecaster, SequenceClassifier, SimpleLSTM, sliding_windows


def _twins(cls, *args, **kwargs):
    ours = cls(*args, backend="course_lib", **kwargs).double()
    theirs = cls(*args, backend="torch", **kwargs).double()
    theirs.load_state_dict(ours.state_dict())  # by name: same keys in both backends
    return ours, theirs


def test_simple_lstm_is_the_slide_model():
    m = SimpleLSTM(vocab_size=30, embedding_dim=8, hidden_dim=16, num_layers=2)
    assert [name for name, _ in m.named_children()] == ["embedding", "lstm", "fc"]
    assert m.lstm.batch_first and m.lstm.num_layers == 2
    logits, (h, c) = m(torch.randint(0, 30, (3, 5)))
    assert logits.shape == (3, 5, 30) and h.shape == c.shape == (2, 3, 16)


def test_simple_lstm_course_lib_equals_torch_with_the_same_state_dict():
    ours, theirs = _twins(SimpleLSTM, 20, 6, 12, 2)
    x = torch.randint(0, 20, (4, 7))
    (a, (ha, ca)), (b, (hb, cb)) = ours(x), theirs(x)
    torch.testing.assert_close(a, b)
    torch.testing.assert_close((ha, ca), (hb, cb))
    # carrying the state on, as in generation
    a2, _ = ours(x[:, :2], (ha, ca))
    b2, _ = theirs(x[:, :2], (hb, cb))
    torch.testing.assert_close(a2, b2)
    a.sum().backward()
    b.sum().backward()
    torch.testing.assert_close(ours.lstm.weight_hh_l1.grad, theirs.lstm.weight_hh_l1.grad)


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_classifier_course_lib_equals_torch(cell, bidirectional):
    ours, theirs = _twins(SequenceClassifier, 12, 3, hidden_size=8, embedding_dim=5, cell=cell,
                          bidirectional=bidirectional, padding_idx=11)
    x = torch.randint(0, 11, (4, 6))
    lengths = torch.tensor([6, 2, 4, 1])
    torch.testing.assert_close(ours(x, lengths), theirs(x, lengths))


def test_classifier_ignores_padding():
    model = SequenceClassifier(10, 2, hidden_size=8, embedding_dim=4, bidirectional=True, padding_idx=9)
    short = torch.tensor([[1, 2, 3]])
    padded = torch.tensor([[1, 2, 3, 9, 9], [4, 5, 6, 7, 8]])
    out_short = model(short, torch.tensor([3]))
    out_padded = model(padded, torch.tensor([3, 5]))
    torch.testing.assert_close(out_padded[0:1], out_short)


def test_classifier_one_hot_input():
    model = SequenceClassifier(7, 4, hidden_size=5, embedding_dim=None, cell="rnn")
    assert model.embedding is None and model.rnn.input_size == 7
    assert model(torch.randint(0, 7, (2, 3))).shape == (2, 4)


def test_forecaster_and_windows():
    series = torch.arange(10.0)
    X, y = sliding_windows(series, 3)
    assert X.shape == (7, 3, 1) and y.shape == (7, 1)
    assert X[0, :, 0].tolist() == [0.0, 1.0, 2.0] and y[0].item() == 3.0
    ours, theirs = _twins(Forecaster, hidden_size=6, cell="lstm")
    torch.testing.assert_close(ours(X.double()), theirs(X.double()))
    assert ours.rollout(series[:4].double(), 5).shape == (5,)


@pytest.mark.parametrize(
    "make, error",
    [
        (lambda: SimpleLSTM(0, 4, 4), ValueError),
        (lambda: SimpleLSTM(5, 4, 4, backend="tf"), ValueError),
        (lambda: SimpleLSTM(5, 4.0, 4), TypeError),
        (lambda: SequenceClassifier(5, 2, cell="transformer"), ValueError),
        (lambda: SequenceClassifier(5, 2, bidirectional=1), TypeError),
        (lambda: SequenceClassifier(5, 2, padding_idx=5), ValueError),
        (lambda: SequenceClassifier(5, 2)(torch.zeros(2, 3, dtype=torch.long), torch.tensor([4, 1])), ValueError),
        (lambda: SequenceClassifier(5, 2)(torch.zeros(2, 3)), ValueError),
        (lambda: SimpleLSTM(5, 4, 4)(torch.zeros(2, 3)), ValueError),
        (lambda: Forecaster(input_size=2)(torch.zeros(2, 3, 1)), ValueError),
        (lambda: sliding_windows(torch.arange(3.0), 3), ValueError),
    ],
)
def test_bad_inputs_raise(make, error):
    with pytest.raises(error):
        make()
