"""course_lib.seq2seq.beam_search: greedy at width 1, exhaustive search when nothing is pruned, never
worse than greedy in model log-probability on the date task's test split."""

import itertools
import math

import pytest
import torch

from course_lib.seq2seq import Seq2Seq, beam_search, encode_pairs
from course_lib.translation import date_splits, date_vocabulary

PAD, BOS, EOS = 0, 1, 2  # beam_search's defaults: the layout of Vocab(..., pad_first=True)


def table_model(log_probs: torch.Tensor):
    """A model whose probabilities are set by hand: ``log_probs[b, t, prev, next]`` for input ``b`` at step ``t``.

    Its state is ``(N, 2)``: the input each row belongs to and the step."""

    def step(y_prev, state):
        b, t = state[:, 0], state[:, 1]
        return log_probs[b, t, y_prev], torch.stack([b, t + 1], dim=1)

    return step


def initial_state(batch_size: int, beam_width: int) -> torch.Tensor:
    rows = torch.arange(batch_size).repeat_interleave(beam_width)
    return torch.stack([rows, torch.zeros_like(rows)], dim=1)  # (B*K, 2)


def exhaustive(log_probs: torch.Tensor, b: int, max_len: int, alpha: float) -> tuple[list[int], float]:
    """Score every output of at most max_len tokens (ending at <eos> or at max_len) and return the best."""
    V = log_probs.shape[-1]
    best, best_rank, best_lp = None, -math.inf, None
    for n in range(1, max_len + 1):
        for seq in itertools.product(range(V), repeat=n):
            if EOS in seq[:-1] or (n < max_len and seq[-1] != EOS):
                continue
            prev, lp = BOS, 0.0
            for t, tok in enumerate(seq):
                lp += float(log_probs[b, t, prev, tok])
                prev = tok
            rank = lp / n**alpha
            if rank > best_rank:
                best, best_rank, best_lp = list(seq), rank, lp
    return best, best_lp


def strip(row: torch.Tensor) -> list[int]:
    out = []
    for tok in row.tolist():
        out.append(tok)
        if tok == EOS:
            break
    return out


def test_greedy_picks_the_locally_best_token_and_a_beam_of_two_finds_the_most_probable_output():
    probs = torch.zeros(5, 5)  # rows: previous token, columns: next token over <pad>, <bos>, <eos>, a, b
    probs[BOS, [EOS, 3, 4]] = torch.tensor([0.1, 0.5, 0.4])
    probs[3, [EOS, 3, 4]] = torch.tensor([0.3, 0.36, 0.34])  # after "a" nothing is likely
    probs[4, [EOS, 3]] = torch.tensor([0.9, 0.1])  # after "b" the output ends: "b <eos>" has 0.36
    probs[EOS, EOS] = probs[PAD, PAD] = 1.0
    log_probs = probs.log().expand(1, 3, 5, 5)
    greedy, greedy_lp = beam_search(table_model(log_probs), initial_state(1, 1), 1, 3, beam_width=1)
    beam, beam_lp = beam_search(table_model(log_probs), initial_state(1, 2), 1, 3, beam_width=2)
    assert strip(greedy[0])[:2] == [3, 3] and math.exp(greedy_lp) < 0.19
    assert strip(beam[0]) == [4, EOS] == exhaustive(log_probs, 0, 3, 0.0)[0]
    assert beam_lp.item() == pytest.approx(math.log(0.36))


@pytest.mark.parametrize("alpha", [0.0, 0.7, 1.0])
def test_a_beam_wide_enough_to_prune_nothing_returns_what_exhaustive_search_returns(alpha):
    gen = torch.Generator().manual_seed(int(10 * alpha))
    B, L, V = 6, 3, 5
    log_probs = torch.log_softmax(3 * torch.randn(B, L, V, V, generator=gen, dtype=torch.float64), dim=-1)
    K = V**L  # at least the number of outputs of length <= L
    tokens, lp = beam_search(table_model(log_probs), initial_state(B, K), B, L, beam_width=K, length_penalty=alpha)
    for b in range(B):
        best, best_lp = exhaustive(log_probs, b, L, alpha)
        assert strip(tokens[b]) == best
        assert lp[b].item() == pytest.approx(best_lp, abs=1e-9)


def test_length_penalty_one_prefers_the_output_with_the_best_mean_log_probability():
    probs = torch.zeros(5, 5)
    probs[BOS, [EOS, 3]] = torch.tensor([0.4, 0.6])  # "<eos>": 0.4, the most probable output
    probs[3, [EOS, 4]] = torch.tensor([0.5, 0.5])  # "a <eos>": 0.3, mean log-probability -0.60
    probs[4, [EOS, 3]] = torch.tensor([0.95, 0.05])  # "a b <eos>": 0.285, mean -0.42, the best mean
    probs[EOS, EOS] = probs[PAD, PAD] = 1.0
    log_probs = probs.log().expand(1, 4, 5, 5)
    short, _ = beam_search(table_model(log_probs), initial_state(1, 3), 1, 4, beam_width=3, length_penalty=0.0)
    long, _ = beam_search(table_model(log_probs), initial_state(1, 3), 1, 4, beam_width=3, length_penalty=1.0)
    assert strip(short[0]) == [EOS] == exhaustive(log_probs, 0, 4, 0.0)[0]
    assert strip(long[0]) == exhaustive(log_probs, 0, 4, 1.0)[0] == [3, 4, EOS]


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Models this small run faster on one thread, and a busy machine cannot stall them."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def date_model():
    """A small model trained for 100 steps on the date task (a few seconds), and the test split.

    Trained, because on an untrained model (nearly uniform next-token distributions) a beam of 4
    does prune the greedy output and ends lower in a few sentences of 200."""
    torch.manual_seed(0)
    vocab = date_vocabulary()
    splits = date_splits(3000, 10, 200, seed=3)
    src, lengths, dec_in, out = encode_pairs(splits["train"], vocab)
    model = Seq2Seq(len(vocab), embedding_dim=8, hidden_size=16, backend="torch")
    optimizer = torch.optim.Adam(model.parameters(), lr=0.02)
    for _ in range(100):
        i = torch.randint(0, len(src), (64,))
        logits = model(src[i], lengths[i], dec_in[i])  # (64, T, V)
        loss = torch.nn.functional.cross_entropy(logits.flatten(0, 1), out[i].flatten(), ignore_index=vocab.pad_index)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    test_src, test_lengths, _, test_out = encode_pairs(splits["test"], vocab)
    return model, test_src, test_lengths, test_out.shape[1]


@pytest.mark.parametrize("alpha", [0.0, 1.0])
def test_beam_width_one_is_greedy_decoding(date_model, alpha):
    model, src, lengths, T = date_model
    greedy, _ = model.greedy_decode(src, lengths, max_len=T)
    beam, lp = model.beam_decode(src, lengths, max_len=T, beam_width=1, length_penalty=alpha)
    assert torch.equal(beam, greedy)
    torch.testing.assert_close(lp, model.log_prob(src, lengths, greedy), atol=1e-4, rtol=0)


def test_beam_search_is_never_less_probable_than_greedy_on_the_test_split(date_model):
    model, src, lengths, T = date_model
    greedy, _ = model.greedy_decode(src, lengths, max_len=T)
    beam, lp = model.beam_decode(src, lengths, max_len=T, beam_width=4)
    greedy_lp = model.log_prob(src, lengths, greedy)
    assert (lp >= greedy_lp - 1e-5).all()
    assert (lp > greedy_lp + 1e-3).sum() > 10  # and it does find more probable outputs
    torch.testing.assert_close(lp, model.log_prob(src, lengths, beam), atol=1e-4, rtol=0)


def test_after_eos_every_output_is_padding(date_model):
    model, src, lengths, T = date_model
    beam, _ = model.beam_decode(src, lengths, max_len=T, beam_width=3)
    is_eos = (beam == EOS).long()
    after = (is_eos.cumsum(1) - is_eos) > 0
    assert (beam[after] == PAD).all()


@pytest.mark.parametrize(
    "kwargs, name",
    [
        (dict(beam_width=0), "beam_width"),
        (dict(beam_width=2.0), "beam_width"),
        (dict(length_penalty=float("nan")), "length_penalty"),
        (dict(length_penalty=float("inf")), "length_penalty"),
        (dict(length_penalty="1"), "length_penalty"),
    ],
)
def test_bad_beam_width_or_length_penalty_raises_value_error_naming_it(date_model, kwargs, name):
    model, src, lengths, T = date_model
    with pytest.raises(ValueError, match=name):
        model.beam_decode(src, lengths, max_len=T, **kwargs)
    with pytest.raises(ValueError, match=name):
        beam_search(table_model(torch.zeros(1, 2, 3, 3)), initial_state(1, 1), 1, 2, **kwargs)


def test_teacher_forcing_zero_in_training_mode_reads_the_models_own_argmax_like_greedy_decoding(date_model):
    model, src, lengths, T = date_model
    greedy, _ = model.greedy_decode(src, lengths, max_len=T)
    dec_in = torch.cat([torch.full_like(greedy[:, :1], BOS), greedy[:, :-1]], dim=1)  # any prefix: it is not read
    model.teacher_forcing = 0.0
    try:
        model.train()
        free = model(src, lengths, torch.zeros_like(dec_in).fill_(BOS)).argmax(-1)  # (B, L)
        model.eval()
        forced = model(src, lengths, dec_in).argmax(-1)  # eval mode ignores the attribute: reads dec_in
    finally:
        model.teacher_forcing = 1.0
    is_eos = (greedy == EOS).long()
    upto_eos = (is_eos.cumsum(1) - is_eos) == 0  # greedy pads after <eos>, the forward pass does not
    assert torch.equal(free[upto_eos], greedy[upto_eos])
    assert torch.equal(forced[upto_eos], greedy[upto_eos])  # reading its own greedy output gives it back
