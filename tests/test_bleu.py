"""course_lib.bleu: corpus BLEU equal to sacrebleu's on the same tokenised corpora."""

import math
import random

import pytest
import sacrebleu

from course_lib.bleu import corpus_bleu, ngram_counts, sentence_bleu

SMOOTHINGS = [("none", None), ("floor", None), ("floor", 0.3), ("add-k", None), ("add-k", 0.5), ("exp", None)]


def random_corpus(rng: random.Random) -> tuple[list[list[str]], list[list[list[str]]]]:
    """A corpus over a small vocabulary (so that n-grams match), 1-3 references a sentence, lengths 0-12;
    references are edited copies of the hypothesis, or unrelated."""
    vocab = [f"w{i}" for i in range(rng.randint(3, 8))]
    n_refs = rng.randint(1, 3)
    hyps, refs = [], []
    for _ in range(rng.randint(1, 12)):
        hyp = [rng.choice(vocab) for _ in range(rng.randint(0, 12))]
        sent_refs = []
        for _ in range(n_refs):
            if rng.random() < 0.7:
                ref = [t if rng.random() < 0.7 else rng.choice(vocab) for t in hyp]
                ref = ref[: rng.randint(0, len(ref))] + [rng.choice(vocab) for _ in range(rng.randint(0, 4))]
            else:
                ref = [rng.choice(vocab) for _ in range(rng.randint(0, 12))]
            sent_refs.append(ref)
        hyps.append(hyp)
        refs.append(sent_refs)
    return hyps, refs


def sacrebleu_score(metric, hyps, refs):
    streams = [[" ".join(r[k]) for r in refs] for k in range(len(refs[0]))]  # sacrebleu: one stream per reference
    return metric.corpus_score([" ".join(h) for h in hyps], streams)


@pytest.mark.parametrize("smooth, smooth_value", SMOOTHINGS)
@pytest.mark.parametrize("max_order, effective_order", [(4, False), (4, True), (2, False)])
def test_corpus_bleu_equals_sacrebleu_on_200_random_corpora(smooth, smooth_value, max_order, effective_order):
    rng = random.Random(f"{smooth}{smooth_value}{max_order}{effective_order}")
    metric = sacrebleu.metrics.BLEU(
        tokenize="none", force=True, smooth_method=smooth, smooth_value=smooth_value,
        max_ngram_order=max_order, effective_order=effective_order,
    )
    nonzero = 0
    for _ in range(200):
        hyps, refs = random_corpus(rng)
        ours = corpus_bleu(hyps, refs, max_order, smooth, smooth_value, effective_order)
        theirs = sacrebleu_score(metric, hyps, refs)
        assert ours.score == pytest.approx(theirs.score, abs=1e-6), (hyps, refs)
        assert ours.brevity_penalty == pytest.approx(theirs.bp, abs=1e-12)
        assert (ours.hyp_len, ours.ref_len) == (theirs.sys_len, theirs.ref_len)
        assert list(ours.precisions) == pytest.approx(theirs.precisions, abs=1e-6)
        nonzero += ours.score > 0
    assert nonzero > 60  # the corpora exercise real scores, not only the zero cases


def test_sentence_bleu_equals_sacrebleu_sentence_score():
    rng = random.Random(1)
    metric = sacrebleu.metrics.BLEU(tokenize="none", force=True, effective_order=True)
    for _ in range(200):
        hyps, refs = random_corpus(rng)
        theirs = metric.sentence_score(
            " ".join(hyps[0]), [" ".join(r) for r in refs[0]])
        assert sentence_bleu(hyps[0], refs[0]).score == pytest.approx(theirs.score, abs=1e-6)


def test_a_repeated_word_counts_only_as_often_as_in_the_reference():
    # Papineni et al.'s example: "the" x 7 against "the cat is on the mat" has unigram precision 2/7
    score = corpus_bleu([["the"] * 7], [[["the", "cat", "is", "on", "the", "mat"]]], max_order=1)
    assert score.matches == (2,) and score.totals == (7,)
    assert score.precisions[0] == pytest.approx(100 * 2 / 7)


def test_clipping_uses_the_most_generous_single_reference():
    refs = [["a", "a", "b"], ["a", "c", "c"]]
    score = corpus_bleu([["a", "a", "c", "c"]], [refs], max_order=1)
    assert score.matches == (4,)  # "a" clipped at 2 by the first, "c" at 2 by the second


def test_brevity_penalty_uses_the_closest_reference_length_ties_to_the_shorter():
    score = corpus_bleu([["a", "b", "c"]], [[["a", "b"], ["a", "b", "c", "d"]]], max_order=1)
    assert score.ref_len == 2 and score.brevity_penalty == 1.0
    short = corpus_bleu([["a", "b"]], [[["a", "b", "c", "d"]]], max_order=1)
    assert short.brevity_penalty == pytest.approx(math.exp(1 - 4 / 2))


def test_a_perfect_corpus_scores_100_and_one_order_without_matches_scores_0():
    sents = [["x", "y", "z", "w", "v"], ["p", "q", "r", "s"]]
    assert corpus_bleu(sents, [[s] for s in sents]).score == pytest.approx(100.0)
    assert corpus_bleu([["a", "b", "c", "d"]], [[["a", "c", "b", "d"]]]).score == 0.0  # no 4-gram matches


def test_ngram_counts_counts_every_order():
    assert ngram_counts(["a", "b", "a"], 2) == {("a",): 2, ("b",): 1, ("a", "b"): 1, ("b", "a"): 1}


@pytest.mark.parametrize(
    "kwargs, name",
    [
        (dict(hypotheses=[["a"], ["b"]], references=[[["a"]]]), "references"),
        (dict(hypotheses=[], references=[]), "hypotheses"),
        (dict(hypotheses=[["a"]], references=[[]]), r"references\[0\]"),
        (dict(hypotheses=["a b"], references=[[["a"]]]), r"hypotheses\[0\]"),
        (dict(hypotheses=[["a"]], references=[[["a"]]], smooth="laplace"), "smooth"),
        (dict(hypotheses=[["a"]], references=[[["a"]]], smooth="floor", smooth_value=float("nan")), "smooth_value"),
        (dict(hypotheses=[["a"]], references=[[["a"]]], max_order=0), "max_order"),
    ],
)
def test_bad_input_raises_value_error_naming_the_argument(kwargs, name):
    with pytest.raises(ValueError, match=name):
        corpus_bleu(**kwargs)
