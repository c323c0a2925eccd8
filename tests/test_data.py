"""course_lib.data: offline datasets are deterministic, well-formed, and batch through pad_collate."""

from functools import partial

import pytest
import torch
import torch.nn.utils.rnn as tr
from torch.utils.data import DataLoader

from course_lib import data
from course_lib.text import Vocab, bag_of_words


# --- text classification ---------------------------------------------------------------


def test_toy_sentences_are_the_slides():
    texts, labels = data.toy_sentences()
    assert texts[0] == "The sun is shining" and len(texts) == 3
    assert labels == [0, 1, 0]


@pytest.mark.parametrize("seed", range(3))
def test_order_sentiment_is_deterministic_given_a_seed(seed):
    assert data.order_sentiment(50, seed) == data.order_sentiment(50, seed)
    assert data.order_sentiment(50, seed) != data.order_sentiment(50, seed + 1)


def test_order_sentiment_label_follows_the_not_before_the_adjective():
    texts, labels = data.order_sentiment(400, seed=0)
    for text, label in zip(texts, labels):
        words = text.split()
        assert words.count("not") == 1
        adjective_positive = words[-1] in data._GOOD
        verdict_negated = words[-2] == "not"
        assert label == int(adjective_positive != verdict_negated)


def test_moving_the_not_keeps_the_bag_of_words_and_flips_the_label():
    texts, labels = data.order_sentiment(200, seed=1)
    for text, label in zip(texts, labels):
        words = text.split()
        words.remove("not")
        at = words.index("is") + 1 if text.split()[-2] != "not" else words.index("has") + 1
        swapped = " ".join(words[:at] + ["not"] + words[at:])
        X, _ = bag_of_words([text, swapped])
        assert torch.equal(X[0], X[1])
        positive = swapped.split()[-1] in data._GOOD
        assert int(positive != (swapped.split()[-2] == "not")) == 1 - label


def test_order_sentiment_labels_are_balanced():
    _, labels = data.order_sentiment(2000, seed=0)
    assert 0.45 < sum(labels) / len(labels) < 0.55


def test_text_classification_dataset_encodes_with_the_vocab():
    texts, labels = data.toy_sentences()
    vocab = Vocab(texts, order="alphabetical")
    ds = data.TextClassificationDataset(texts, labels, vocab)
    sequence, label = ds[1]
    assert sequence.tolist() == [7, 9, 2, 6] and int(label) == 1 and len(ds) == 3


# --- characters --------------------------------------------------------------------------


def test_char_corpus_is_between_20_and_50_kilobytes_of_text():
    corpus = data.char_corpus()
    assert 20_000 <= len(corpus.encode("utf-8")) <= 50_000
    assert "Four score and seven years ago" in corpus


@pytest.mark.parametrize("seq_len", [1, 16, 100])
def test_char_lm_targets_are_inputs_shifted_by_one(seq_len):
    ds = data.CharLMDataset(seq_len=seq_len)
    x0, y0 = ds[0]
    x1, _ = ds[1]
    assert x0.shape == y0.shape == (seq_len,)
    assert torch.equal(y0[:-1], x0[1:]) and int(y0[-1]) == int(x1[0])
    assert ds.vocab.decode(x0) == data.char_corpus()[:seq_len]


def test_char_lm_has_no_unknown_characters():
    ds = data.CharLMDataset(seq_len=50)
    assert int((ds.ids == ds.vocab.unk_index).sum()) == 0


def test_names_cover_ten_origins_with_60_to_150_names_each():
    table = data.names_by_origin()
    assert len(table) == 10
    assert {"Chinese", "English", "Japanese", "Russian"} <= set(table)
    assert all(60 <= len(names) <= 150 for names in table.values())


def test_no_surname_is_listed_under_two_origins():
    names = [n for ns in data.names_by_origin().values() for n in ns]
    assert len(names) == len(set(names))


def test_names_dataset_labels_index_origins():
    ds = data.NamesDataset()
    table = data.names_by_origin()
    for i in range(0, len(ds), 37):
        characters, label = ds[i]
        name = ds.vocab.decode(characters)
        assert name in table[ds.origins[int(label)]]


# --- synthetic long-range tasks ------------------------------------------------------------


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("length", [2, 9, 50])
def test_adding_task_target_is_the_sum_of_the_two_marked_numbers(seed, length):
    ds = data.AddingTask(n=64, length=length, seed=seed)
    x, y = ds.tensors
    assert x.shape == (64, length, 2) and y.shape == (64,)
    half = length // 2
    assert torch.equal(x[:, :half, 1].sum(1), torch.ones(64))
    assert torch.equal(x[:, half:, 1].sum(1), torch.ones(64))
    torch.testing.assert_close(y, (x[..., 0] * x[..., 1]).sum(1), rtol=0, atol=0)


def test_adding_task_is_deterministic_given_a_seed():
    a, b, c = (data.AddingTask(8, 10, seed=s).tensors[0] for s in (3, 3, 4))
    assert torch.equal(a, b) and not torch.equal(a, c)


@pytest.mark.parametrize("length, delay", [(1, 1), (5, 3), (10, 20)])
def test_copy_task_target_repeats_the_symbols_after_the_delay(length, delay):
    ds = data.CopyTask(n=16, length=length, delay=delay, num_symbols=8, seed=0)
    x, y = ds.tensors
    total = 2 * length + delay
    assert x.shape == y.shape == (16, total)
    assert torch.equal(y[:, -length:], x[:, :length])
    assert torch.equal(x[:, length + delay - 1], torch.full((16,), 9))
    assert int(y[:, : length + delay].abs().sum()) == 0
    assert int(x.max()) < ds.num_tokens == 10


def test_copy_task_is_deterministic_given_a_seed():
    assert torch.equal(data.CopyTask(4, seed=1).tensors[0], data.CopyTask(4, seed=1).tensors[0])


# --- series ---------------------------------------------------------------------------------


def test_sine_series_without_noise_is_the_formula():
    s = data.sine_series(100, period=10.0, season=40.0, noise=0.0)
    t = torch.arange(100, dtype=torch.float32)
    expected = torch.sin(2 * torch.pi * t / 10) + 0.5 * torch.sin(2 * torch.pi * t / 40)
    torch.testing.assert_close(s, expected, rtol=0, atol=1e-5)


def test_sine_series_is_deterministic_given_a_seed():
    assert torch.equal(data.sine_series(seed=2), data.sine_series(seed=2))
    assert not torch.equal(data.sine_series(seed=2), data.sine_series(seed=3))


@pytest.mark.parametrize("window", [1, 5, 20])
def test_sine_forecast_target_is_the_next_value(window):
    ds = data.SineForecast(window=window, n_steps=60)
    assert len(ds) == 60 - window
    for i in (0, 7, len(ds) - 1):
        x, y = ds[i]
        assert x.shape == (window, 1) and y.shape == (1,)
        assert torch.equal(x[:, 0], ds.series[i : i + window]) and float(y) == float(ds.series[i + window])


# --- pad_collate ------------------------------------------------------------------------------


def make_batch(seed):
    g = torch.Generator().manual_seed(seed)
    lengths = torch.randint(1, 9, (5,), generator=g).tolist()
    return [(torch.randint(0, 20, (n,), generator=g), k % 3) for k, n in enumerate(lengths)], lengths


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("batch_first", [False, True])
def test_pad_collate_pads_like_torch_and_returns_lengths(seed, batch_first):
    batch, lengths = make_batch(seed)
    padded, out_lengths, targets = data.pad_collate(batch, padding_value=21, batch_first=batch_first)
    expected = tr.pad_sequence([s for s, _ in batch], batch_first=batch_first, padding_value=21)
    assert torch.equal(padded, expected)
    assert out_lengths.tolist() == lengths and out_lengths.dtype == torch.int64
    assert targets.tolist() == [k % 3 for k in range(5)]


@pytest.mark.parametrize("seed", range(4))
def test_pad_collate_sorted_batch_packs_with_enforce_sorted(seed):
    batch, lengths = make_batch(seed)
    padded, out_lengths, targets = data.pad_collate(batch, padding_value=21, sort=True)
    assert out_lengths.tolist() == sorted(lengths, reverse=True)
    order = sorted(range(5), key=lambda k: -lengths[k])
    assert targets.tolist() == [k % 3 for k in order]
    tr.pack_padded_sequence(padded, out_lengths, enforce_sorted=True)


def test_pad_collate_pads_sequence_targets_with_ignore_index():
    batch = [(torch.tensor([1, 2, 3]), torch.tensor([2, 3, 4])), (torch.tensor([5]), torch.tensor([6]))]
    _, _, targets = data.pad_collate(batch, padding_value=0, batch_first=True)
    assert targets.tolist() == [[2, 3, 4], [6, -100, -100]]


def test_data_loader_batches_names_with_pad_collate():
    ds = data.NamesDataset()
    loader = DataLoader(ds, batch_size=8, shuffle=False,
                        collate_fn=partial(data.pad_collate, padding_value=ds.vocab.pad_index))
    padded, lengths, labels = next(iter(loader))
    assert padded.shape == (int(lengths.max()), 8) and labels.shape == (8,)
    assert int((padded == ds.vocab.pad_index).sum()) == int((lengths.max() - lengths).sum())


# --- bad input -----------------------------------------------------------------------------------


def assert_raises_naming(error, argument, fn, *args, **kwargs):
    with pytest.raises(error) as info:
        fn(*args, **kwargs)
    assert argument in str(info.value)


def test_order_sentiment_with_zero_sentences_raises_value_error():
    assert_raises_naming(ValueError, "n", data.order_sentiment, 0)


def test_negative_seed_raises_value_error():
    assert_raises_naming(ValueError, "seed", data.AddingTask, 4, 10, seed=-1)


def test_float_length_raises_type_error():
    assert_raises_naming(TypeError, "length", data.CopyTask, 4, 2.5)


def test_adding_task_of_length_one_raises_value_error():
    assert_raises_naming(ValueError, "length", data.AddingTask, 4, 1)


def test_negative_noise_raises_value_error():
    assert_raises_naming(ValueError, "noise", data.sine_series, 10, noise=-0.1)


def test_window_as_long_as_the_series_raises_value_error():
    assert_raises_naming(ValueError, "n_steps", data.SineForecast, window=10, n_steps=10)


def test_word_vocab_for_char_lm_raises_type_error():
    assert_raises_naming(TypeError, "vocab", data.CharLMDataset, "abcdef" * 5, 4, Vocab(["a b"]))


def test_labels_not_matching_texts_raise_value_error():
    texts, _ = data.toy_sentences()
    assert_raises_naming(ValueError, "labels", data.TextClassificationDataset, texts, [0, 1], Vocab(texts))


def test_empty_batch_raises_value_error():
    assert_raises_naming(ValueError, "batch", data.pad_collate, [])


def test_batch_item_without_target_raises_type_error():
    assert_raises_naming(TypeError, "batch[0]", data.pad_collate, [torch.tensor([1, 2])])


def test_pad_collate_without_a_padding_value_refuses_to_guess_one():
    """0 is <unk> in every Vocab: the caller names the padding index."""
    batch, _ = make_batch(0)
    assert Vocab(["a b"]).unk_index == 0
    assert_raises_naming(ValueError, "padding_value", data.pad_collate, batch)
    assert_raises_naming(TypeError, "padding_value", data.pad_collate, batch, padding_value="<pad>")


# --- tagged_sentences ------------------------------------------------------------------------


def test_tagged_sentences_are_seeded_and_give_one_tag_per_word():
    sentences, tags = data.tagged_sentences(200, seed=3)
    assert (sentences, tags) == data.tagged_sentences(200, seed=3)
    assert sentences != data.tagged_sentences(200, seed=4)[0]
    assert len(sentences) == len(tags) == 200
    assert all(len(s) == len(t) >= 2 for s, t in zip(sentences, tags))
    assert {t for ts in tags for t in ts} == set(data.TAGS)


def test_tagged_sentences_hold_words_whose_tag_only_context_decides():
    sentences, tags = data.tagged_sentences(400, seed=0)
    seen: dict[str, set] = {}
    for s, ts in zip(sentences, tags):
        for w, t in zip(s, ts):
            seen.setdefault(w, set()).add(t)
    assert {w for w, ts in seen.items() if len(ts) > 1} == {"fish", "watch", "can"}


def test_tagged_sentences_bad_arguments_raise():
    assert_raises_naming(ValueError, "n", data.tagged_sentences, 0)
    assert_raises_naming(TypeError, "seed", data.tagged_sentences, 5, "0")


# --- number_agreement ------------------------------------------------------------------------


def test_number_agreement_labels_follow_the_subject_not_the_nearest_noun():
    texts, labels, attractors = data.number_agreement(300, seed=1)
    assert (texts, labels, attractors) == data.number_agreement(300, seed=1)
    number_of = {form: k for pair in data.AGREEMENT_NOUNS for k, form in enumerate(pair)}
    nearest_wrong = 0
    for text, label, attractor in zip(texts, labels, attractors):
        numbers = [number_of[w] for w in text.split() if w in number_of]
        assert label == numbers[0], text
        assert attractor == any(n != label for n in numbers[1:]), text
        nearest_wrong += numbers[-1] != label
    assert 0 < nearest_wrong <= sum(attractors) < len(texts)


def test_number_agreement_bad_arguments_raise():
    assert_raises_naming(ValueError, "n", data.number_agreement, 0)
    assert_raises_naming(TypeError, "seed", data.number_agreement, 5, 1.5)
