"""course_lib.translation: the shipped date-translation task, generated offline from a seed."""

import datetime

import pytest

from course_lib.seq2seq import encode_pairs
from course_lib.translation import DATE_FORMATS, date_pairs, date_splits, date_vocabulary, days_apart, ids_to_text


def test_every_target_is_the_iso_form_of_the_date_its_source_writes():
    for source, target in date_pairs(2000, seed=5):
        date = datetime.date.fromisoformat(target)
        assert source in {fmt(date) for fmt in DATE_FORMATS.values()}


def test_each_format_writes_the_date_it_is_given():
    d = datetime.date(1998, 9, 8)  # a Tuesday
    written = {name: fmt(d) for name, fmt in DATE_FORMATS.items()}
    assert written["weekday"] == "Tuesday, September 8, 1998"
    assert written["ordinal"] == "the 8th of september, 1998"
    assert written["us numeric"] == "09/08/1998"
    assert DATE_FORMATS["ordinal"](datetime.date(2001, 1, 11)) == "the 11th of january, 2001"
    assert DATE_FORMATS["ordinal"](datetime.date(2001, 1, 22)) == "the 22nd of january, 2001"


def test_the_same_seed_gives_the_same_pairs_and_another_seed_others():
    assert date_pairs(50, seed=1) == date_pairs(50, seed=1)
    assert date_pairs(50, seed=1) != date_pairs(50, seed=2)


def test_splits_have_the_asked_sizes_and_share_no_source():
    splits = date_splits(3000, 500, 500, seed=0)
    assert {k: len(v) for k, v in splits.items()} == {"train": 3000, "val": 500, "test": 500}
    sources = [s for pairs in splits.values() for s, _ in pairs]
    assert len(set(sources)) == len(sources)


def test_every_format_and_both_centuries_are_in_the_training_split():
    train = date_splits()["train"]
    written = {name for s, t in train for name, fmt in DATE_FORMATS.items() if fmt(datetime.date.fromisoformat(t)) == s}
    assert written == set(DATE_FORMATS)
    assert {t[:2] for _, t in train} == {"19", "20"}


def test_the_vocabulary_has_seq2seqs_layout_and_knows_every_character_of_every_split():
    vocab = date_vocabulary()
    assert vocab.tokens[:4] == ["<pad>", "<bos>", "<eos>", "<unk>"] and len(set(vocab.tokens)) == len(vocab)
    for pairs in date_splits().values():
        src, lengths, dec_in, out = encode_pairs(pairs, vocab)
        assert out.shape[1] == 11  # ten characters of YYYY-MM-DD and <eos>
        assert not (src == vocab.unk_index).any() and not (out == vocab.unk_index).any()


@pytest.mark.parametrize(
    "kwargs, name",
    [(dict(n=0), "n"), (dict(n=5, formats=["klingon"]), "formats"), (dict(n=5, formats=[]), "formats"), (dict(n=5, seed=1.5), "seed")],
)
def test_bad_input_raises_value_error_naming_the_argument(kwargs, name):
    with pytest.raises(ValueError, match=name):
        date_pairs(**kwargs)


def test_bad_split_size_names_it():
    with pytest.raises(ValueError, match="n_val"):
        date_splits(n_val=0)


def test_ids_to_text_stops_at_eos_and_drops_the_other_specials():
    vocab = date_vocabulary()
    ids = [vocab.bos_index] + vocab.encode("1998-09-08") + [vocab.eos_index, vocab.pad_index] + vocab.encode("7")
    assert ids_to_text(ids, vocab) == "1998-09-08"
    assert ids_to_text([vocab.unk_index] + vocab.encode("19") + [vocab.pad_index], vocab) == "19"
    with pytest.raises(ValueError, match="ids"):
        ids_to_text([len(vocab)], vocab)


def test_days_apart_counts_days_and_refuses_what_is_not_a_date():
    assert days_apart("1998-09-09", "1998-09-08") == 1
    assert days_apart("2998-09-08", "1998-09-08") == 365243  # a thousand years, 243 of them leap years
    assert days_apart("1998-02-30", "1998-09-08") is None
