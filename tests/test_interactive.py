"""course_lib.interactive: slider figures whose every state is computed in Python.

What the browser draws is checked on the built book (tests/test_book.py); here: each state holds
what course_lib (or torch) computes for it, the frames and the slider agree, the HTML needs no
network, and bad arguments are refused with a message naming them.
"""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch

from course_lib import LSTMCell, Vocab, interactive
from course_lib.models import SimpleLSTM
from course_lib.training import sample

TEXTS = ["the dog runs", "the cat runs", "the dogs run"]


def _frame_data(fig, state: int) -> list[dict]:
    return [trace.to_plotly_json() for trace in fig.frames[state].data]


def _check_slider(result: interactive.SliderFigure) -> None:
    """Every slider step animates to the frame of its own name, and what is drawn first is the
    active step's frame."""
    fig = result.figure
    slider = fig.layout.sliders[0]
    assert [f.name for f in fig.frames] == result.labels == [s.label for s in slider.steps]
    assert [list(s.args[0]) for s in slider.steps] == [[label] for label in result.labels]
    assert len(result.values) == len(result.labels)
    for trace, frame_trace in zip(fig.data, fig.frames[slider.active].data):
        drawn, frame = trace.to_plotly_json(), frame_trace.to_plotly_json()
        for key in ("x", "y", "z"):
            if key in frame:
                assert list(map(str, drawn[key])) == list(map(str, frame[key]))


@pytest.fixture(scope="module")
def char_model():
    vocab = Vocab(["the quick brown fox jumps over the lazy dog."], tokenizer="char")
    torch.manual_seed(0)
    return SimpleLSTM(vocab_size=len(vocab), embedding_dim=8, hidden_dim=16, num_layers=1), vocab


def test_import_course_lib_does_not_import_plotly():
    code = "import sys, course_lib, course_lib.interactive; print('plotly' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_gradient_norm_states_are_what_plot_gradient_norms_draws():
    """State σ holds the very curves course_lib.plot_gradient_norms(σ) plots with matplotlib."""
    from course_lib.diagnostics import plot_gradient_norms

    result = interactive.gradient_norm_slider([0.6, 1.0, 1.4], steps=12, hidden_size=8)
    _check_slider(result)
    assert result.labels == ["0.60", "1.00", "1.40"] and result.figure.layout.sliders[0].active == 1
    for state, sigma in enumerate([0.6, 1.0, 1.4]):
        drawn = plot_gradient_norms(sigma, steps=12, hidden_size=8)
        (rnn_line,), (lstm_h_line, lstm_c_line) = drawn.axes[0].lines, drawn.axes[1].lines
        frame = _frame_data(result.figure, state)
        for line, key, trace in zip((rnn_line, lstm_h_line, lstm_c_line), ("rnn", "lstm_h", "lstm_c"), frame):
            torch.testing.assert_close(result.values[state][key], torch.as_tensor(line.get_ydata()),
                                       rtol=1e-12, atol=0.0)
            assert trace["y"] == result.values[state][key].tolist()


def test_gradient_norm_rnn_curve_falls_below_one_and_rises_above():
    result = interactive.gradient_norm_slider([0.5, 1.8], steps=30, hidden_size=16)
    shrink, grow = (v["rnn"][0] / v["rnn"][-1] for v in result.values)
    assert shrink < 1e-3 and grow > 1.0


def test_lstm_trace_equals_torch_lstm_cell_and_the_gate_equations():
    torch.manual_seed(0)
    cell = torch.nn.LSTMCell(5, 4, dtype=torch.float64)
    inputs = torch.randn(7, 5, dtype=torch.float64)  # (T, I)
    trace = interactive.lstm_trace(cell, inputs)
    h = c = torch.zeros(1, 4, dtype=torch.float64)
    c_prev = c[0]
    for t in range(7):
        h, c = cell(inputs[t : t + 1], (h, c))  # (1, H) each
        torch.testing.assert_close(trace["h"][t], h[0], rtol=0, atol=0)
        torch.testing.assert_close(trace["c"][t], c[0], rtol=0, atol=0)
        i, f, g, o = (trace[k][t] for k in "ifgo")
        torch.testing.assert_close(f * c_prev + i * g, c[0], rtol=1e-12, atol=1e-12)
        torch.testing.assert_close(o * torch.tanh(c[0]), h[0], rtol=1e-12, atol=1e-12)
        c_prev = c[0]


def test_lstm_gates_states_agree_until_the_first_changed_character():
    vocab = Vocab(TEXTS, tokenizer="char")
    torch.manual_seed(1)
    cell = LSTMCell(len(vocab), 6)
    result = interactive.lstm_gates_slider(cell, TEXTS, vocab)
    _check_slider(result)
    assert [v["first_difference"] for v in result.values] == [None, 4, 7]
    dog, cat = result.values[0], result.values[1]
    for key in "ifgoch":
        assert torch.equal(dog[key][:4], cat[key][:4])
        assert not torch.equal(dog[key][4:], cat[key][4:])
    # Each frame's heat map is (units, steps): the transpose of the trace.
    assert _frame_data(result.figure, 1)[4]["z"] == cat["c"].T.tolist()


def test_temperature_states_are_softmax_of_scaled_scores_with_samples(char_model):
    model, vocab = char_model
    result = interactive.temperature_slider(model, vocab, "the qu", temperatures=[0, 0.5, 1.0, 2.0],
                                            top=5, sample_length=20, seed=3)
    _check_slider(result)
    with torch.no_grad():
        scores = model(torch.tensor([vocab.encode("the qu")]))[0][0, -1].double()  # (V,)
    scores[[vocab.unk_index, vocab.pad_index]] = float("-inf")
    for v, tau in zip(result.values, [0, 0.5, 1.0, 2.0]):
        expected = torch.softmax(scores / tau, -1) if tau else torch.nn.functional.one_hot(
            scores.argmax(), len(vocab)).double()
        torch.testing.assert_close(v["probs"], expected, rtol=1e-12, atol=1e-15)
        assert v["sample"] == sample(model, vocab, "the qu", 20, temperature=float(tau),
                                     generator=torch.Generator().manual_seed(3))
    sharp, flat = result.values[1]["probs"].max(), result.values[3]["probs"].max()
    assert sharp > flat
    # The bars show the 5 best-scored characters, in score order, at every temperature.
    bars = [_frame_data(result.figure, s)[0]["y"] for s in range(4)]
    assert all(len(b) == 5 and b == sorted(b, reverse=True) for b in bars)


def test_attention_state_i_shows_rows_up_to_i_and_the_weights_of_row_i():
    weights = torch.softmax(torch.randn(4, 5, generator=torch.Generator().manual_seed(0)), -1)  # (L, S)
    result = interactive.attention_slider(weights, list("abcd") + ["<eos>"], list("dcb") + ["<eos>"])
    _check_slider(result)
    for i in range(4):
        heat, bars = _frame_data(result.figure, i)
        assert [row is not None and row[0] is not None for row in heat["z"]] == [r <= i for r in range(4)]
        assert bars["y"] == weights[i].double().tolist()
        assert result.values[i]["argmax"] == int(weights[i].argmax())


def test_html_draws_with_plotly_from_the_page_and_loads_nothing():
    result = interactive.attention_slider(torch.eye(2), ["a", "b"], ["b", "a"])
    page = result.to_html()
    assert "Plotly.newPlot" in page and 'class="plotly-graph-div"' in page
    assert "<script src" not in page and "cdn" not in page.lower()
    assert page == result.to_html()  # a stable div id: the same figure gives the same HTML
    bundle = result._repr_mimebundle_()
    assert bundle["text/html"] == page
    assert bundle[interactive.PLOTLY_MIME]["frames"]


@pytest.mark.parametrize("call, match", [
    (lambda: interactive.gradient_norm_slider([]), "spectral_radii"),
    (lambda: interactive.gradient_norm_slider([1.0, -0.5]), "spectral_radii"),
    (lambda: interactive.gradient_norm_slider([1.0], steps=0), "steps"),
    (lambda: interactive.lstm_trace(torch.nn.LSTMCell(3, 2), torch.zeros(4, 2)), "inputs"),
    (lambda: interactive.lstm_trace("cell", torch.zeros(4, 2)), "cell"),
    (lambda: interactive.lstm_gates_slider(LSTMCell(3, 2), "abc", Vocab(["abc"], tokenizer="char")), "texts"),
    (lambda: interactive.lstm_gates_slider(LSTMCell(3, 2), ["abc"], Vocab(["abc"], tokenizer="char")), "vocab"),
    (lambda: interactive.attention_slider(torch.zeros(3), ["a"], ["b"]), "weights"),
    (lambda: interactive.attention_slider(torch.zeros(2, 3), ["a", "b"], ["x", "y"]), "source"),
    (lambda: interactive.attention_slider(torch.zeros(2, 2), ["a", "b"], ["x"]), "target"),
])
def test_bad_arguments_are_refused_by_name(call, match):
    with pytest.raises((ValueError, TypeError), match=match):
        call()


@pytest.mark.parametrize("kwargs, match", [
    (dict(temperatures=[1.0, -1.0]), "temperatures"),
    (dict(prompt=""), "prompt"),
    (dict(top=0), "top"),
    (dict(sample_length=-1), "sample_length"),
])
def test_bad_temperature_arguments_are_refused_by_name(char_model, kwargs, match):
    model, vocab = char_model
    with pytest.raises(ValueError, match=match):
        interactive.temperature_slider(model, vocab, **{"prompt": "the", **kwargs})
