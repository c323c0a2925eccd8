"""course_lib.seq2seq: the slide's padding example, Bahdanau attention, encoder-decoder."""

import pytest
import torch

from course_lib.seq2seq import (
    BahdanauAttention,
    Seq2Seq,
    encode_pairs,
    pad_seq2seq,
    reversal_pairs,
)
from course_lib.text import Vocab

LETTERS = Vocab(["abcd"], tokenizer="char", bos=True, eos=True, pad_first=True)  # <pad> 0, <bos> 1, <eos> 2, <unk> 3


def test_the_slides_padding_example_exactly():
    encoder_input, decoder_input, output = pad_seq2seq("hello, how are you", "i am fine", 7, 6)
    assert encoder_input == ["hello", "how", "are", "you", "<eos>", "<pad>", "<pad>"]
    assert decoder_input == ["<bos>", "i", "am", "fine", "<eos>", "<pad>"]
    assert output == ["i", "am", "fine", "<eos>", "<pad>", "<pad>"]


def test_decoder_output_is_input_shifted_by_one():
    _, dec_in, out = pad_seq2seq(list("abc"), list("xyz"), 4, 4)
    assert dec_in[1:] == out[:-1] and dec_in[0] == "<bos>" and out[-1] == "<eos>"


@pytest.mark.parametrize("args", [("a b c", "x", 3, 5), ("a", "x y z", 5, 3)])
def test_too_long_sentence_raises(args):
    with pytest.raises(ValueError, match="steps"):
        pad_seq2seq(*args)


def test_attention_weights_sum_to_one_and_mask_padding():
    att = BahdanauAttention(query_size=5, key_size=6, attention_size=4).double()
    query, keys = torch.randn(3, 5).double(), torch.randn(3, 4, 6).double()
    mask = torch.tensor([[True] * 4, [True, True, False, False], [True, False, False, False]])
    context, alpha = att(query, keys, mask)
    torch.testing.assert_close(alpha.sum(-1), torch.ones(3, dtype=torch.double))
    assert (alpha[~mask] == 0).all() and alpha[2, 0] == 1.0
    torch.testing.assert_close(context[2], keys[2, 0])
    # the equations, written once more from the docstring: e = v^T tanh(W_s s + W_h h)
    e = att.v(torch.tanh(att.W_s(query)[:, None] + att.W_h(keys))).squeeze(-1)
    expected = torch.softmax(e.masked_fill(~mask, float("-inf")), -1)
    torch.testing.assert_close(alpha, expected)
    torch.testing.assert_close(context, torch.einsum("bs,bsh->bh", expected, keys))


def test_attention_rejects_bad_shapes():
    att = BahdanauAttention(5, 6, 4)
    with pytest.raises(ValueError):
        att(torch.randn(3, 5), torch.randn(2, 4, 6))
    with pytest.raises(ValueError):
        att(torch.randn(3, 5), torch.randn(3, 4, 6), torch.zeros(3, 4, dtype=torch.bool))


def test_encode_pairs_and_seq2seq_shapes():
    src, lengths, dec_in, out = encode_pairs(reversal_pairs(5, alphabet="abcd", min_len=2, max_len=4), LETTERS)
    assert src.shape[0] == lengths.shape[0] == dec_in.shape[0] == out.shape[0] == 5
    assert (dec_in[:, 0] == LETTERS.bos_index).all() and (src.gather(1, lengths[:, None] - 1) == LETTERS.eos_index).all()
    model = Seq2Seq(len(LETTERS), embedding_dim=4, hidden_size=6)
    assert model(src, lengths, dec_in).shape == (*dec_in.shape, len(LETTERS))
    tok, alpha = model.greedy_decode(src, lengths, max_len=6)
    assert tok.shape == alpha.shape[:2] and alpha.shape[2] == src.shape[1]
    mask = torch.arange(src.shape[1]) < lengths[:, None]
    assert (alpha.masked_select(~mask[:, None, :].expand_as(alpha)) == 0).all()


def test_encode_gives_keys_the_padding_mask_and_the_first_decoder_state():
    src, lengths, _, _ = encode_pairs(reversal_pairs(3, alphabet="abcd", min_len=1, max_len=4), LETTERS)
    model = Seq2Seq(len(LETTERS), embedding_dim=4, hidden_size=6)  # bidirectional: C = 12
    keys, mask, s0 = model.encode(src, lengths)
    assert keys.shape == (3, src.shape[1], 12) and s0.shape == (3, 6)
    assert torch.equal(mask, torch.arange(src.shape[1]) < lengths[:, None])
    _, final = model.encoder(src, lengths)
    torch.testing.assert_close(s0, torch.tanh(model.bridge(final)), atol=0, rtol=0)


def test_encode_rejects_lengths_beyond_the_source():
    model = Seq2Seq(7, embedding_dim=4, hidden_size=6)
    with pytest.raises(ValueError, match="src_lengths"):
        model.encode(torch.ones(2, 3, dtype=torch.long), torch.tensor([3, 4]))


def test_seq2seq_course_lib_equals_torch():
    src, lengths, dec_in, _ = encode_pairs(reversal_pairs(4, alphabet="abcd"), LETTERS)
    ours = Seq2Seq(len(LETTERS), 4, 6, backend="course_lib").double()
    theirs = Seq2Seq(len(LETTERS), 4, 6, backend="torch").double()
    theirs.load_state_dict(ours.state_dict())
    torch.testing.assert_close(ours(src, lengths, dec_in), theirs(src, lengths, dec_in))


def test_encode_pairs_reads_every_index_from_the_vocab():
    vocab = Vocab(["abcd"], tokenizer="char", bos=True, eos=True)  # <unk> 0, <bos> 1, <eos> 2, ..., <pad> last
    src, lengths, dec_in, out = encode_pairs([("abc", "cba"), ("ax", "xa")], vocab)
    assert src.tolist() == [[3, 4, 5, 2], [3, 0, 2, vocab.pad_index]] and lengths.tolist() == [4, 3]
    assert dec_in.tolist() == [[1, 5, 4, 3], [1, 0, 3, 2]]  # x is unknown: <unk>
    assert out.tolist() == [[5, 4, 3, 2], [0, 3, 2, vocab.pad_index]]


def test_encode_pairs_needs_a_vocab_with_bos_and_eos():
    with pytest.raises(TypeError, match="vocab"):
        encode_pairs([("ab", "ba")], ["<pad>", "<bos>", "<eos>", "a", "b"])
    with pytest.raises(ValueError, match="<bos>"):
        encode_pairs([("ab", "ba")], Vocab(["ab"], tokenizer="char", eos=True))
