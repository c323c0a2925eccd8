"""course_lib.ngram: add-k and interpolated Kneser-Ney n-gram language models, counted by hand."""

import math
import random

import pytest
import torch

from course_lib.ngram import NGramLM


def random_text(seed: int, V: int = 6, n: int = 400) -> list[int]:
    rng = random.Random(seed)
    return [rng.choice(range(V)) if rng.random() < 0.5 else (i % V) for i in range(n)]


@pytest.mark.parametrize("smoothing", ["add-k", "kneser-ney"])
@pytest.mark.parametrize("order", [1, 2, 3, 4])
def test_probabilities_sum_to_one_after_seen_unseen_and_short_contexts(smoothing, order):
    V = 7  # token 6 never occurs in the text
    lm = NGramLM(order, V, smoothing, k=0.5).fit([random_text(order)])
    for context in [(), (2,), (0, 1), (6, 6, 6), (1, 2, 3, 4, 5), (6, 0, 1)]:
        total = sum(lm.prob(context, w) for w in range(V))
        assert total == pytest.approx(1.0, abs=1e-12), context
        assert all(lm.prob(context, w) > 0 for w in range(V))


def test_add_k_is_count_plus_k_over_context_count_plus_k_v():
    text = [0, 1, 0, 1, 0, 2]  # bigrams after 0: 1, 1, 2
    lm = NGramLM(2, 4, "add-k", k=0.5).fit([text])
    assert lm.prob([3, 0], 1) == pytest.approx((2 + 0.5) / (3 + 0.5 * 4))
    assert lm.prob([0], 3) == pytest.approx(0.5 / (3 + 0.5 * 4))
    assert lm.prob([2], 0) == pytest.approx(0.25)  # "2" is never followed by anything: uniform
    assert lm.prob([], 0) == pytest.approx((3 + 0.5) / (6 + 0.5 * 4))  # a text's first token: the unigram


def test_kneser_ney_bigram_by_hand():
    # text a b a c a b  (a=0, b=1, c=2, V=4), D = 0.5
    lm = NGramLM(2, 4, "kneser-ney", discount=0.5).fit([[0, 1, 0, 2, 0, 1]])
    # continuation unigram: distinct left neighbours: a <- {b, c}: 2, b <- {a}: 1, c <- {a}: 1; total 4 types
    # P_cont(w) = max(N - D, 0) / 4 + D * 3 / 4 * 1/4
    p_cont = {w: max(n - 0.5, 0) / 4 + 0.5 * 3 / 4 / 4 for w, n in {0: 2, 1: 1, 2: 1, 3: 0}.items()}
    # after a: b twice, c once (3 in all, 2 distinct)
    for w, c in {0: 0, 1: 2, 2: 1, 3: 0}.items():
        assert lm.prob([0], w) == pytest.approx(max(c - 0.5, 0) / 3 + 0.5 * 2 / 3 * p_cont[w])
    assert lm.prob([3], 1) == pytest.approx(p_cont[1])  # an unseen context backs off entirely


def test_kneser_ney_gives_less_to_a_frequent_token_that_follows_one_context_only():
    # "z" (1) is frequent but always after "q" (0); "y" (2) is rarer but follows many tokens
    text = [0, 1] * 20 + [3, 2, 4, 2, 5, 2, 6, 2, 3, 4, 5, 6]
    counts = {w: text.count(w) for w in (1, 2)}
    assert counts[1] > counts[2]
    kn = NGramLM(2, 8, "kneser-ney").fit([text])
    add = NGramLM(2, 8, "add-k", k=1.0).fit([text])
    unseen = [7]
    assert kn.prob(unseen, 2) > kn.prob(unseen, 1)  # continuation counts: y follows 4 tokens, z one
    assert add.prob([], 1) > add.prob([], 2)  # raw frequency says the opposite


def test_perplexity_is_exp_of_the_mean_negative_log_probability_of_each_target_given_its_chunk():
    text = torch.tensor(random_text(3, V=5, n=130))
    lm = NGramLM(3, 5).fit([text[:100]])
    x, y = text[100:128].view(2, 14), text[101:129].view(2, 14)
    nll = [-math.log(lm.prob(x[b, : t + 1].tolist(), int(y[b, t]))) for b in range(2) for t in range(14)]
    assert lm.perplexity(x, y) == pytest.approx(math.exp(sum(nll) / len(nll)))



def test_a_periodic_text_is_almost_certain_to_a_trigram_model():
    text = torch.tensor([0, 1, 2, 3, 4] * 26)
    lm = NGramLM(3, 5).fit([text[:100]])
    assert lm.perplexity(text[100:128].view(2, 14), text[101:129].view(2, 14)) < 1.5  # uniform would be 5


@pytest.mark.parametrize(
    "kwargs, name",
    [
        (dict(order=0), "order"),
        (dict(vocab_size=0), "vocab_size"),
        (dict(smoothing="good-turing"), "smoothing"),
        (dict(k=0), "k"),
        (dict(k=float("inf")), "k"),
        (dict(discount=1.0), "discount"),
    ],
)
def test_bad_arguments_raise_value_error_naming_them(kwargs, name):
    with pytest.raises(ValueError, match=name):
        NGramLM(**{"order": 2, "vocab_size": 5, **kwargs})


def test_a_token_outside_the_vocabulary_is_refused():
    with pytest.raises(ValueError, match="sequences"):
        NGramLM(2, 3).fit([[0, 1, 3]])
