"""course_lib.interpretable: the quoted text's true states, cell states, correlations, coloured text."""

import numpy as np
import pytest
import torch

from course_lib.interpretable import cell_states, coloured_text, correlations, quoted_text
from course_lib.models import SimpleLSTM


def test_states_follow_the_quotes_and_parentheses_of_the_text():
    text, inside, depth = quoted_text(3000, seed=1)
    assert len(text) == len(inside) == len(depth) >= 3000
    assert text.count('"') % 2 == 0 and max(depth) >= 2 and depth[-1] == 0 and min(depth) == 0
    for t, ch in enumerate(text):
        assert inside[t] == text[: t + 1].count('"') % 2
        assert depth[t] == text[: t + 1].count("(") - text[: t + 1].count(")")
        if inside[t] and ch.isalpha():
            assert ch.isupper()  # quotations are spoken in capitals
    assert quoted_text(500, seed=1) == quoted_text(500, seed=1) != quoted_text(500, seed=2)


def test_cell_states_are_the_memory_cells_after_each_token():
    torch.manual_seed(0)
    model = SimpleLSTM(vocab_size=6, embedding_dim=3, hidden_dim=5, num_layers=2, backend="torch")
    ids = torch.randint(0, 6, (12,))
    cells = cell_states(model, ids)
    assert cells.shape == (12, 5)
    for t in (0, 5, 11):
        _, (_, c) = model(ids[: t + 1].view(1, -1))  # the whole prefix at once
        torch.testing.assert_close(cells[t], c[-1, 0], atol=1e-6, rtol=0)


def test_correlations_equal_numpys_and_a_constant_cell_scores_zero():
    gen = torch.Generator().manual_seed(0)
    acts, state = torch.randn(50, 4, generator=gen), torch.randint(0, 2, (50,), generator=gen)
    acts[:, 2] = 1.0
    r = correlations(acts, state)
    for h in (0, 1, 3):
        assert r[h].item() == pytest.approx(np.corrcoef(acts[:, h].numpy(), state.numpy())[0, 1], abs=1e-12)
    assert r[2] == 0


def test_coloured_text_has_one_escaped_span_per_character():
    out = coloured_text('a<"', [1.0, 0.0, -1.0])
    assert out.count("<span") == 3 and "&lt;" in out and "&quot;" in out
    assert "rgb(255,0,0)" in out and "rgb(0,0,255)" in out and "rgb(255,255,255)" in out


@pytest.mark.parametrize(
    "call, name",
    [
        (lambda: quoted_text(0), "n_chars"),
        (lambda: correlations(torch.zeros(3, 2), [1, 2]), "state"),
        (lambda: coloured_text("ab", [0.1]), "values"),
        (lambda: cell_states(SimpleLSTM(3, 2, 2), torch.zeros(2, 2, dtype=torch.long)), "ids"),
    ],
)
def test_bad_input_raises_value_error_naming_it(call, name):
    with pytest.raises(ValueError, match=name):
        call()
