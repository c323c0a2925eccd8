"""course_lib.conditional: a character GRU conditioned on a surname's origin, and sampling from it."""

import pytest
import torch

from course_lib.conditional import ConditionalCharRNN, encode_names, generate_names, name_tokens

TABLE = {"A": ["Abe", "Ito"], "B": ["Li"]}


def test_encode_names_frames_each_name_with_start_and_eos():
    tokens = name_tokens([n for v in TABLE.values() for n in v])
    inputs, targets, origins, names = encode_names(TABLE, tokens)
    assert names == ["A", "B"] and origins.tolist() == [0, 0, 1]
    assert inputs.shape == targets.shape == (3, 4)
    assert [tokens[i] for i in inputs[2, :3]] == ["<START>", "L", "i"] and inputs[2, 3] == 0
    assert [tokens[i] for i in targets[2, :3]] == ["L", "i", "<EOS>"] and targets[2, 3] == 0
    chars = targets[:, :-1] > 2  # a character, not <EOS> or <PAD>
    assert torch.equal(inputs[:, 1:][chars], targets[:, :-1][chars])  # the input is the target shifted by one


def test_the_origin_changes_the_next_character_distribution():
    torch.manual_seed(0)
    model = ConditionalCharRNN(vocab_size=9, n_origins=3, hidden_size=8)
    chars = torch.tensor([[1, 4, 5], [1, 4, 5]])
    logits, _ = model(chars, torch.tensor([0, 2]))
    assert logits.shape == (2, 3, 9) and not torch.allclose(logits[0], logits[1])
    same, _ = model(chars, torch.tensor([2, 2]))
    torch.testing.assert_close(same[0], same[1])


def test_generation_at_temperature_zero_follows_the_argmax_and_is_seeded_otherwise():
    torch.manual_seed(0)
    tokens = name_tokens(["Abe", "Ito", "Li"])
    model = ConditionalCharRNN(len(tokens), 2, hidden_size=8)
    greedy = generate_names(model, tokens, 1, 3, temperature=0, max_len=5)
    assert len(set(greedy)) == 1 and len(greedy[0]) <= 5
    ids = torch.tensor([[tokens.index("<START>")] + [tokens.index(c) for c in greedy[0]]])
    logits, _ = model(ids, torch.tensor([1]))
    logits[..., :2] = float("-inf")  # <PAD> and <START> are never written
    expected = [tokens[i] for i in logits[0].argmax(-1).tolist()]
    assert list(greedy[0]) == expected[: len(greedy[0])]
    a = generate_names(model, tokens, 0, 4, 1.0, generator=torch.Generator().manual_seed(3))
    assert a == generate_names(model, tokens, 0, 4, 1.0, generator=torch.Generator().manual_seed(3))


@pytest.mark.parametrize("kwargs, name", [(dict(temperature=-1.0), "temperature"), (dict(origin=2), "origin")])
def test_bad_temperature_or_origin_raises_value_error_naming_it(kwargs, name):
    tokens = name_tokens(["Abe"])
    model = ConditionalCharRNN(len(tokens), 2, hidden_size=4)
    with pytest.raises(ValueError, match=name):
        generate_names(model, tokens, **{"origin": 0, "n": 2, **kwargs})
