"""course_lib.conditional: a character GRU conditioned on a surname's origin, and sampling from it."""

import pytest
import torch

from course_lib.conditional import ConditionalCharRNN, encode_names, generate_names
from course_lib.text import Vocab

TABLE = {"A": ["Abe", "Ito"], "B": ["Li"]}


def char_vocab(names: list[str]) -> Vocab:
    """The default layout, <pad> last: every index must come from the vocabulary."""
    return Vocab(names, tokenizer="char", bos=True, eos=True)


def test_encode_names_frames_each_name_with_bos_and_eos_and_pads_with_pad_index():
    vocab = char_vocab([n for v in TABLE.values() for n in v])
    inputs, targets, origins, names = encode_names(TABLE, vocab)
    assert names == ["A", "B"] and origins.tolist() == [0, 0, 1]
    assert inputs.shape == targets.shape == (3, 4)
    assert vocab.decode(inputs[2], skip_pad=False) == "<bos>Li<pad>"
    assert vocab.decode(targets[2], skip_pad=False) == "Li<eos><pad>"
    chars = targets[:, :-1] > vocab.eos_index  # a character, not <unk>, <bos>, <eos> or <pad>
    chars &= targets[:, :-1] != vocab.pad_index
    assert torch.equal(inputs[:, 1:][chars], targets[:, :-1][chars])  # the input is the target shifted by one


def test_encode_names_needs_a_vocab_with_bos_and_eos():
    with pytest.raises(ValueError, match="<bos>"):
        encode_names(TABLE, Vocab(["AbeItoLi"], tokenizer="char", eos=True))


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
    vocab = char_vocab(["Abe", "Ito", "Li"])
    model = ConditionalCharRNN(len(vocab), 2, hidden_size=8)
    greedy = generate_names(model, vocab, 1, 3, temperature=0, max_len=5)
    assert len(set(greedy)) == 1 and len(greedy[0]) <= 5
    ids = torch.tensor([vocab.encode(greedy[0], add_bos=True)])
    logits, _ = model(ids, torch.tensor([1]))
    logits[..., [vocab.pad_index, vocab.bos_index, vocab.unk_index]] = float("-inf")  # never written
    expected = [vocab.index_to_token(i) for i in logits[0].argmax(-1).tolist()]
    assert list(greedy[0]) == expected[: len(greedy[0])]
    a = generate_names(model, vocab, 0, 4, 1.0, generator=torch.Generator().manual_seed(3))
    assert a == generate_names(model, vocab, 0, 4, 1.0, generator=torch.Generator().manual_seed(3))


@pytest.mark.parametrize("kwargs, name", [(dict(temperature=-1.0), "temperature"), (dict(origin=2), "origin")])
def test_bad_temperature_or_origin_raises_value_error_naming_it(kwargs, name):
    vocab = char_vocab(["Abe"])
    model = ConditionalCharRNN(len(vocab), 2, hidden_size=4)
    with pytest.raises(ValueError, match=name):
        generate_names(model, vocab, **{"origin": 0, "n": 2, **kwargs})
