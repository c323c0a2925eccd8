"""course_lib.text: tokenisers, Vocab and bag_of_words, with the slides' numbers exactly."""

import pytest
import torch

from course_lib.text import Vocab, bag_of_words, char_tokenize, check_vocab, word_tokenize

SLIDE_TEXTS = [
    "The sun is shining",
    "The weather is sweet",
    "The sun is shining, the weather is sweet, and one and one is two",
]


# --- the slides' worked examples --------------------------------------------------------


def test_bag_of_words_vocabulary_is_the_slides():
    _, vocabulary = bag_of_words(SLIDE_TEXTS)
    assert vocabulary == {"and": 0, "is": 1, "one": 2, "shining": 3, "sun": 4,
                          "sweet": 5, "the": 6, "two": 7, "weather": 8}


def test_bag_of_words_design_matrix_is_the_slides():
    X, _ = bag_of_words(SLIDE_TEXTS)
    assert X.dtype == torch.int64
    assert X.tolist() == [[0, 1, 0, 1, 1, 0, 1, 0, 0],
                          [0, 1, 0, 0, 0, 1, 1, 0, 1],
                          [2, 3, 2, 1, 1, 1, 2, 1, 1]]


def test_bag_of_words_with_given_vocabulary_ignores_unknown_words():
    _, vocabulary = bag_of_words(SLIDE_TEXTS)
    X, same = bag_of_words(["the moon is shining"], vocabulary)
    assert same is vocabulary
    assert X.tolist() == [[0, 1, 0, 1, 0, 0, 1, 0, 0]]


def test_rnn_vocabulary_is_the_slides():
    vocab = Vocab(SLIDE_TEXTS, order="alphabetical")
    assert vocab.tokens == ["<unk>", "and", "is", "one", "shining", "sun", "sweet", "the", "two", "weather", "<pad>"]
    assert (vocab.unk_index, vocab.pad_index, len(vocab)) == (0, 10, 11)


def test_slide_sentences_encode_to_the_slides_indices_padded_with_ten():
    vocab = Vocab(SLIDE_TEXTS, order="alphabetical")
    indices, lengths = vocab.encode_batch(SLIDE_TEXTS, length=17)
    assert indices.tolist() == [
        [7, 5, 2, 4] + [10] * 13,
        [7, 9, 2, 6] + [10] * 13,
        [7, 5, 2, 4, 7, 9, 2, 6, 1, 3, 1, 3, 2, 8] + [10] * 3,
    ]
    assert lengths.tolist() == [4, 4, 14]


# --- tokenisers ------------------------------------------------------------------------------


def test_word_tokenize_lowercases_and_drops_punctuation():
    assert word_tokenize("The sun is shining, the weather!") == ["the", "sun", "is", "shining", "the", "weather"]


def test_word_tokenize_keeps_case_when_asked():
    assert word_tokenize("The Sun", lower=False) == ["The", "Sun"]


def test_word_tokenize_keeps_inner_apostrophes():
    assert word_tokenize("Don't stop") == ["don't", "stop"]


def test_char_tokenize_keeps_every_character():
    assert char_tokenize("Ab, c") == ["A", "b", ",", " ", "c"]


# --- Vocab -------------------------------------------------------------------------------------


def test_unknown_token_maps_to_unk():
    vocab = Vocab(SLIDE_TEXTS)
    assert vocab.token_to_index("moon") == vocab.unk_index == 0
    assert vocab.encode("the moon") == [vocab.token_to_index("the"), 0]


def test_contains_reports_known_tokens_only():
    vocab = Vocab(SLIDE_TEXTS)
    assert "sun" in vocab and "<pad>" in vocab and "moon" not in vocab


def test_frequency_order_puts_most_frequent_first_ties_alphabetical():
    vocab = Vocab(SLIDE_TEXTS, order="frequency")
    assert vocab.tokens[1:6] == ["is", "the", "and", "one", "shining"]


def test_first_seen_order_follows_the_texts():
    vocab = Vocab(["b a", "c a"], order="first_seen")
    assert vocab.tokens == ["<unk>", "b", "a", "c", "<pad>"]


@pytest.mark.parametrize("min_freq, expected", [(1, 9), (2, 8), (3, 2), (5, 1), (6, 0)])
def test_min_freq_drops_rare_tokens(min_freq, expected):
    assert len(Vocab(SLIDE_TEXTS, min_freq=min_freq)) == expected + 2


@pytest.mark.parametrize("max_size", [0, 1, 3, 9, 20])
def test_max_size_keeps_the_most_frequent_tokens(max_size):
    vocab = Vocab(SLIDE_TEXTS, max_size=max_size, order="alphabetical")
    full = Vocab(SLIDE_TEXTS, order="frequency").tokens[1:-1]
    assert sorted(vocab.tokens[1:-1]) == sorted(full[:max_size])


def test_bos_and_eos_follow_unk_and_wrap_encodings():
    vocab = Vocab(["ab"], tokenizer="char", bos=True, eos=True, order="alphabetical")
    assert vocab.tokens == ["<unk>", "<bos>", "<eos>", "a", "b", "<pad>"]
    assert vocab.encode("ba", add_bos=True, add_eos=True) == [1, 4, 3, 2]


def test_pad_first_puts_pad_at_zero_and_unk_after_bos_and_eos():
    vocab = Vocab(["ab"], tokenizer="char", bos=True, eos=True, order="alphabetical", pad_first=True)
    assert vocab.tokens == ["<pad>", "<bos>", "<eos>", "<unk>", "a", "b"]
    assert (vocab.pad_index, vocab.bos_index, vocab.eos_index, vocab.unk_index) == (0, 1, 2, 3)
    assert Vocab(["ab"], tokenizer="char", pad_first=True).tokens[:2] == ["<pad>", "<unk>"]


def test_pad_first_pads_batches_with_zero():
    vocab = Vocab(SLIDE_TEXTS, pad_first=True)
    indices, lengths = vocab.encode_batch(SLIDE_TEXTS[:2] + ["the"])
    assert indices[2, 1:].tolist() == [0, 0, 0] and lengths.tolist() == [4, 4, 1]


@pytest.mark.parametrize("seed", range(5))
def test_decode_inverts_encode_for_known_words(seed):
    g = torch.Generator().manual_seed(seed)
    vocab = Vocab(SLIDE_TEXTS)
    words = [vocab.tokens[int(i)] for i in torch.randint(1, len(vocab) - 1, (8,), generator=g)]
    text = " ".join(words)
    assert vocab.decode(vocab.encode(text)) == text


def test_char_vocab_decodes_without_spaces():
    vocab = Vocab(["Hashimoto", "Xiong"], tokenizer="char")
    assert vocab.decode(torch.tensor(vocab.encode("Xiong") + [vocab.pad_index])) == "Xiong"


def test_encode_batch_time_major_is_the_transpose():
    vocab = Vocab(SLIDE_TEXTS)
    batch_major, _ = vocab.encode_batch(SLIDE_TEXTS)
    time_major, _ = vocab.encode_batch(SLIDE_TEXTS, batch_first=False)
    assert torch.equal(time_major, batch_major.T)


def test_encode_batch_cuts_texts_longer_than_length():
    vocab = Vocab(SLIDE_TEXTS, order="alphabetical")
    indices, lengths = vocab.encode_batch(SLIDE_TEXTS, length=5)
    assert indices[2].tolist() == [7, 5, 2, 4, 7] and lengths.tolist() == [4, 4, 5]


def test_decode_batch_drops_padding():
    vocab = Vocab(SLIDE_TEXTS)
    indices, _ = vocab.encode_batch(SLIDE_TEXTS, length=20)
    assert vocab.decode_batch(indices) == [" ".join(word_tokenize(t)) for t in SLIDE_TEXTS]


def test_pretokenised_texts_are_accepted_with_tokenizer_none():
    vocab = Vocab([["New", "York"], ["York"]], tokenizer=None)
    assert vocab.encode(["York", "Paris"]) == [vocab.token_to_index("York"), vocab.unk_index]


@pytest.mark.parametrize("tokenizer, pad_first", [("word", False), ("char", False), ("char", True)])
def test_save_then_load_keeps_every_index(tmp_path, tokenizer, pad_first):
    vocab = Vocab(SLIDE_TEXTS, tokenizer=tokenizer, bos=True, pad_first=pad_first)
    vocab.save(tmp_path / "vocab.json")
    loaded = Vocab.load(tmp_path / "vocab.json")
    assert loaded.tokens == vocab.tokens
    assert loaded.encode(SLIDE_TEXTS[2]) == vocab.encode(SLIDE_TEXTS[2])
    assert loaded.decode(vocab.encode(SLIDE_TEXTS[0])) == vocab.decode(vocab.encode(SLIDE_TEXTS[0]))


# --- bad input -------------------------------------------------------------------------------------


def assert_raises_naming(error, argument, fn, *args, **kwargs):
    with pytest.raises(error) as info:
        fn(*args, **kwargs)
    assert argument in str(info.value)


def test_empty_text_list_raises_value_error():
    assert_raises_naming(ValueError, "texts", Vocab, [])


def test_bag_of_words_of_empty_list_raises_value_error():
    assert_raises_naming(ValueError, "texts", bag_of_words, [])


def test_a_single_string_instead_of_a_list_raises_type_error():
    assert_raises_naming(TypeError, "texts", Vocab, "The sun is shining")


def test_non_string_text_raises_type_error():
    assert_raises_naming(TypeError, "texts[1]", Vocab, ["the sun", 42])


def test_non_string_token_with_tokenizer_none_raises_type_error():
    assert_raises_naming(TypeError, "texts[0]", Vocab, [["the", 3]], tokenizer=None)


def test_non_string_token_lookup_raises_type_error():
    assert_raises_naming(TypeError, "token", Vocab(SLIDE_TEXTS).token_to_index, 7)


def test_word_tokenize_of_bytes_raises_type_error():
    assert_raises_naming(TypeError, "text", word_tokenize, b"the sun")


def test_unknown_tokenizer_raises_value_error():
    assert_raises_naming(ValueError, "tokenizer", Vocab, SLIDE_TEXTS, tokenizer="bpe")


def test_unknown_order_raises_value_error():
    assert_raises_naming(ValueError, "order", Vocab, SLIDE_TEXTS, order="random")


def test_min_freq_of_zero_raises_value_error():
    assert_raises_naming(ValueError, "min_freq", Vocab, SLIDE_TEXTS, min_freq=0)


def test_negative_max_size_raises_value_error():
    assert_raises_naming(ValueError, "max_size", Vocab, SLIDE_TEXTS, max_size=-1)


def test_index_out_of_range_raises_value_error():
    assert_raises_naming(ValueError, "index", Vocab(SLIDE_TEXTS).index_to_token, 11)


def test_float_index_raises_type_error():
    assert_raises_naming(TypeError, "index", Vocab(SLIDE_TEXTS).index_to_token, 1.0)


def test_non_bool_pad_first_raises_type_error():
    assert_raises_naming(TypeError, "pad_first", Vocab, SLIDE_TEXTS, pad_first=1)


def test_check_vocab_names_the_argument_and_the_missing_token():
    assert_raises_naming(TypeError, "vocab", check_vocab, "vocab", ["<pad>", "<bos>", "<eos>"])
    assert_raises_naming(ValueError, "<eos>", check_vocab, "vocab", Vocab(SLIDE_TEXTS, bos=True), bos=True, eos=True)
    vocab = Vocab(SLIDE_TEXTS, bos=True, eos=True)
    assert check_vocab("vocab", vocab, bos=True, eos=True) is vocab


def test_add_bos_without_bos_token_raises_value_error():
    assert_raises_naming(ValueError, "add_bos", Vocab(SLIDE_TEXTS).encode, "the sun", add_bos=True)


def test_zero_length_raises_value_error():
    assert_raises_naming(ValueError, "length", Vocab(SLIDE_TEXTS).encode_batch, SLIDE_TEXTS, length=0)


def test_decode_of_float_tensor_raises_type_error():
    assert_raises_naming(TypeError, "indices", Vocab(SLIDE_TEXTS).decode, torch.tensor([1.0, 2.0]))


def test_decode_batch_of_1d_tensor_raises_value_error():
    assert_raises_naming(ValueError, "indices", Vocab(SLIDE_TEXTS).decode_batch, torch.tensor([1, 2]))


def test_load_of_a_non_vocab_json_raises_value_error(tmp_path):
    (tmp_path / "other.json").write_text('{"tokens": ["a", "b"]}')
    assert_raises_naming(ValueError, "path", Vocab.load, tmp_path / "other.json")


def test_bag_of_words_vocabulary_with_gaps_raises_value_error():
    assert_raises_naming(ValueError, "vocabulary", bag_of_words, SLIDE_TEXTS, {"the": 0, "sun": 2})
