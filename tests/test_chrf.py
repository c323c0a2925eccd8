"""course_lib.chrf: corpus chrF and chrF++ equal to sacrebleu's CHRF on the same corpora."""

import random

import pytest
import sacrebleu

from course_lib.chrf import chrf_words, corpus_chrf

PUNCT = list(".,;:!?()'\"-/")


def random_corpus(rng: random.Random) -> tuple[list[str], list[list[str]]]:
    """Strings over a few short words with punctuation glued on, 1-3 references a sentence (edited
    copies of the hypothesis, or unrelated), empty sentences included."""
    words = ["".join(rng.choice("abcde") for _ in range(rng.randint(1, 4))) for _ in range(rng.randint(2, 6))]

    def word() -> str:
        w = rng.choice(words)
        r = rng.random()
        return rng.choice(PUNCT) + w if r < 0.1 else w + rng.choice(PUNCT) if r < 0.25 else rng.choice(PUNCT) if r < 0.3 else w

    n_refs = rng.randint(1, 3)
    hyps, refs = [], []
    for _ in range(rng.randint(1, 10)):
        hyp = [word() for _ in range(rng.randint(0, 10))]
        sentence_refs = []
        for _ in range(n_refs):
            if rng.random() < 0.7:
                ref = [w if rng.random() < 0.7 else word() for w in hyp][: rng.randint(0, len(hyp))]
                ref += [word() for _ in range(rng.randint(0, 3))]
            else:
                ref = [word() for _ in range(rng.randint(0, 10))]
            sentence_refs.append(" ".join(ref))
        hyps.append(" ".join(hyp))
        refs.append(sentence_refs)
    return hyps, refs


@pytest.mark.parametrize("char_order, word_order, beta", [(6, 0, 2), (6, 2, 2), (4, 1, 1), (2, 3, 3)])
def test_corpus_chrf_equals_sacrebleu_on_200_random_corpora(char_order, word_order, beta):
    rng = random.Random(f"chrf{char_order}{word_order}{beta}")
    metric = sacrebleu.metrics.CHRF(char_order=char_order, word_order=word_order, beta=beta)
    scores = []
    for _ in range(200):
        hyps, refs = random_corpus(rng)
        theirs = metric.corpus_score(hyps, [list(stream) for stream in zip(*refs)]).score
        ours = corpus_chrf(hyps, refs, char_order, word_order, beta)
        assert ours.score == pytest.approx(theirs, abs=1e-6), (hyps, refs)
        scores.append(ours.score)
    assert sum(0 < s < 100 for s in scores) > 150  # real scores, not only the 0 and 100 cases


def test_chrf_plus_plus_counts_words_with_punctuation_split_off_one_end():
    assert chrf_words("(hi) there, you .") == ["(hi", ")", "there", ",", "you", "."]
    assert chrf_words("'quoted") == ["'", "quoted"]


def test_a_near_miss_keeps_most_of_its_chrf_but_no_bleu():
    from course_lib.bleu import corpus_bleu

    near, far = corpus_chrf(["1998-09-18"], [["1998-09-08"]]).score, corpus_chrf(["2041-12-30"], [["1998-09-08"]]).score
    assert near > 60 > 10 > far
    assert corpus_bleu([["1998-09-18"]], [[["1998-09-08"]]], smooth="exp").score == 0.0


@pytest.mark.parametrize("kwargs, argument", [
    ({"hypotheses": []}, "hypotheses"),
    ({"hypotheses": "abc"}, "hypotheses"),
    ({"references": [["a"], ["b"]]}, "references"),
    ({"references": [[]]}, r"references\[0\]"),
    ({"references": ["abc"]}, r"references\[0\]"),
    ({"hypotheses": [3]}, r"hypotheses\[0\]"),
    ({"char_order": 0}, "char_order"),
    ({"word_order": -1}, "word_order"),
    ({"word_order": 1.5}, "word_order"),
    ({"beta": 0}, "beta"),
    ({"beta": float("nan")}, "beta"),
])
def test_bad_input_names_the_argument(kwargs, argument):
    call = {"hypotheses": ["abc"], "references": [["abd"]], **kwargs}
    with pytest.raises(ValueError, match=argument):
        corpus_chrf(**call)
