"""course_lib.packing: every function equals its torch.nn.utils.rnn counterpart, gradients included."""

import pytest
import torch
import torch.nn.utils.rnn as tr

from course_lib import packing as cl

SEEDS = range(6)


def random_batch(seed, batch_first=False, dtype=torch.float64, features=(3,)):
    """A padded batch with random lengths (each >= 1), as (input, lengths)."""
    g = torch.Generator().manual_seed(seed)
    batch = int(torch.randint(1, 7, (1,), generator=g))
    lengths = torch.randint(1, 8, (batch,), generator=g)
    longest = int(lengths.max()) + int(torch.randint(0, 3, (1,), generator=g))  # extra padding allowed
    shape = (batch, longest, *features) if batch_first else (longest, batch, *features)
    if dtype.is_floating_point:
        x = torch.randn(shape, generator=g, dtype=dtype)
    else:
        x = torch.randint(0, 100, shape, generator=g, dtype=dtype)
    return x, lengths


def assert_packed_equal(ours, theirs):
    assert isinstance(ours, tr.PackedSequence)
    assert torch.equal(ours.data, theirs.data)
    assert ours.data.dtype == theirs.data.dtype
    assert torch.equal(ours.batch_sizes, theirs.batch_sizes)
    assert ours.batch_sizes.dtype == torch.int64 and ours.batch_sizes.device.type == "cpu"
    for name in ("sorted_indices", "unsorted_indices"):
        a, b = getattr(ours, name), getattr(theirs, name)
        assert (a is None) == (b is None)
        if a is not None:
            assert torch.equal(a, b)


# --- the slide's example -----------------------------------------------------------


def test_slide_lengths_give_slide_batch_sizes():
    x = torch.randn(9, 6, 4)
    packed = cl.pack_padded_sequence(x, [9, 8, 6, 4, 3, 2])
    assert packed.batch_sizes.tolist() == [6, 6, 5, 4, 3, 3, 2, 2, 1]


def test_slide_multiplication_count_is_54_vs_32():
    cost = cl.packing_multiplications([9, 8, 6, 4, 3, 2])
    assert (cost.padded_multiplications, cost.packed_multiplications) == (54, 32)
    assert (cost.padded_additions, cost.packed_additions) == (48, 26)


def test_multiplication_count_scales_with_out_features():
    cost = cl.packing_multiplications(torch.tensor([9, 8, 6, 4, 3, 2]), out_features=3)
    assert (cost.padded_multiplications, cost.packed_multiplications) == (162, 96)


def test_docs_example_unsorted_batch_first():
    seq = torch.tensor([[1, 2, 0], [3, 0, 0], [4, 5, 6]])
    packed = cl.pack_padded_sequence(seq, [2, 1, 3], batch_first=True, enforce_sorted=False)
    assert packed.data.tolist() == [4, 1, 3, 5, 2, 6]
    assert packed.batch_sizes.tolist() == [3, 2, 1]
    assert packed.sorted_indices.tolist() == [2, 0, 1]
    assert packed.unsorted_indices.tolist() == [1, 2, 0]
    padded, lengths = cl.pad_packed_sequence(packed, batch_first=True)
    assert torch.equal(padded, seq)
    assert lengths.tolist() == [2, 1, 3]


# --- equal to torch, property-style ------------------------------------------------


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("padding_side", ["right", "left"])
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32, torch.int64])
def test_pad_sequence_matches_torch(seed, batch_first, padding_side, dtype):
    g = torch.Generator().manual_seed(seed)
    lengths = torch.randint(1, 8, (int(torch.randint(1, 6, (1,), generator=g)),), generator=g).tolist()
    seqs = [torch.randn(n, 2, generator=g).to(dtype) for n in lengths]
    ours = cl.pad_sequence(seqs, batch_first=batch_first, padding_value=-7, padding_side=padding_side)
    theirs = tr.pad_sequence(seqs, batch_first=batch_first, padding_value=-7, padding_side=padding_side)
    assert ours.dtype == theirs.dtype
    assert torch.equal(ours, theirs)


@pytest.mark.parametrize("seed", SEEDS)
def test_pad_sequence_of_1d_sequences_matches_torch(seed):
    g = torch.Generator().manual_seed(seed)
    seqs = [torch.randint(0, 9, (int(n),), generator=g) for n in torch.randint(1, 6, (4,), generator=g)]
    assert torch.equal(cl.pad_sequence(seqs), tr.pad_sequence(seqs))


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32, torch.int64])
def test_pack_padded_unsorted_matches_torch(seed, batch_first, dtype):
    x, lengths = random_batch(seed, batch_first, dtype)
    ours = cl.pack_padded_sequence(x, lengths, batch_first=batch_first, enforce_sorted=False)
    theirs = tr.pack_padded_sequence(x, lengths, batch_first=batch_first, enforce_sorted=False)
    assert_packed_equal(ours, theirs)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("batch_first", [False, True])
def test_pack_padded_sorted_matches_torch(seed, batch_first):
    x, lengths = random_batch(seed, batch_first)
    lengths = lengths.sort(descending=True).values
    ours = cl.pack_padded_sequence(x, lengths.tolist(), batch_first=batch_first)
    theirs = tr.pack_padded_sequence(x, lengths, batch_first=batch_first)
    assert_packed_equal(ours, theirs)


def test_pack_padded_with_tied_lengths_sorts_like_torch():
    x = torch.randn(5, 8, 2)
    lengths = [3, 5, 3, 3, 1, 5, 2, 3]
    ours = cl.pack_padded_sequence(x, lengths, enforce_sorted=False)
    theirs = tr.pack_padded_sequence(x, lengths, enforce_sorted=False)
    assert_packed_equal(ours, theirs)


@pytest.mark.parametrize("seed", SEEDS)
def test_pack_padded_with_no_trailing_features_matches_torch(seed):
    x, lengths = random_batch(seed, features=())
    ours = cl.pack_padded_sequence(x, lengths, enforce_sorted=False)
    theirs = tr.pack_padded_sequence(x, lengths, enforce_sorted=False)
    assert_packed_equal(ours, theirs)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("extra", [0, 3])
def test_pad_packed_matches_torch(seed, batch_first, extra):
    x, lengths = random_batch(seed)
    packed = tr.pack_padded_sequence(x, lengths, enforce_sorted=False)
    total = int(lengths.max()) + extra
    ours, our_lengths = cl.pad_packed_sequence(packed, batch_first, padding_value=-1.5, total_length=total)
    theirs, their_lengths = tr.pad_packed_sequence(packed, batch_first, padding_value=-1.5, total_length=total)
    assert torch.equal(ours, theirs)
    assert torch.equal(our_lengths, their_lengths)
    assert our_lengths.dtype == torch.int64 and our_lengths.device.type == "cpu"


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("enforce_sorted", [False, True])
def test_pack_sequence_matches_torch(seed, enforce_sorted):
    g = torch.Generator().manual_seed(seed)
    lengths = torch.randint(1, 8, (5,), generator=g).tolist()
    if enforce_sorted:
        lengths.sort(reverse=True)
    seqs = [torch.randn(n, 3, generator=g, dtype=torch.float64) for n in lengths]
    assert_packed_equal(cl.pack_sequence(seqs, enforce_sorted), tr.pack_sequence(seqs, enforce_sorted))


@pytest.mark.parametrize("seed", SEEDS)
def test_unpack_sequence_matches_torch(seed):
    g = torch.Generator().manual_seed(seed)
    seqs = [torch.randn(int(n), 2, generator=g) for n in torch.randint(1, 8, (5,), generator=g)]
    packed = tr.pack_sequence(seqs, enforce_sorted=False)
    ours, theirs = cl.unpack_sequence(packed), tr.unpack_sequence(packed)
    assert len(ours) == len(theirs)
    assert all(torch.equal(a, b) for a, b in zip(ours, theirs))


# --- round trips -------------------------------------------------------------------


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("batch_first", [False, True])
def test_pack_then_pad_restores_the_real_entries(seed, batch_first):
    x, lengths = random_batch(seed, batch_first)
    packed = cl.pack_padded_sequence(x, lengths, batch_first=batch_first, enforce_sorted=False)
    padded, back = cl.pad_packed_sequence(packed, batch_first=batch_first, total_length=x.shape[1 if batch_first else 0])
    assert torch.equal(back, lengths)
    time_dim = 1 if batch_first else 0
    mask = torch.arange(x.shape[time_dim]).unsqueeze(1) < lengths.unsqueeze(0)  # (T, B)
    mask = (mask.T if batch_first else mask).unsqueeze(-1).expand_as(x)
    assert torch.equal(padded[mask], x[mask])
    assert torch.equal(padded[~mask], torch.zeros_like(x[~mask]))


@pytest.mark.parametrize("seed", SEEDS)
def test_pack_sequence_then_unpack_is_identity(seed):
    g = torch.Generator().manual_seed(seed)
    seqs = [torch.randn(int(n), 2, generator=g) for n in torch.randint(1, 8, (6,), generator=g)]
    back = cl.unpack_sequence(cl.pack_sequence(seqs, enforce_sorted=False))
    assert all(torch.equal(a, b) for a, b in zip(seqs, back))


# --- gradients -----------------------------------------------------------------------


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("batch_first", [False, True])
def test_gradient_through_pack_and_pad_matches_torch(seed, batch_first):
    x, lengths = random_batch(seed, batch_first)
    weights = torch.randn(x.shape, dtype=torch.float64)
    grads = []
    for lib in (cl, tr):
        leaf = x.clone().requires_grad_()
        packed = lib.pack_padded_sequence(leaf, lengths, batch_first=batch_first, enforce_sorted=False)
        squared = tr.PackedSequence(packed.data**2, packed.batch_sizes, packed.sorted_indices, packed.unsorted_indices)
        padded, _ = lib.pad_packed_sequence(squared, batch_first=batch_first, total_length=x.shape[1 if batch_first else 0])
        (padded * weights).sum().backward()
        grads.append(leaf.grad)
    torch.testing.assert_close(grads[0], grads[1], rtol=0, atol=1e-12)


@pytest.mark.parametrize("seed", SEEDS)
def test_gradient_through_pad_sequence_matches_torch(seed):
    g = torch.Generator().manual_seed(seed)
    base = [torch.randn(int(n), 3, generator=g, dtype=torch.float64) for n in torch.randint(1, 6, (4,), generator=g)]
    grads = []
    for lib in (cl, tr):
        leaves = [b.clone().requires_grad_() for b in base]
        padded = lib.pad_sequence(leaves, batch_first=True, padding_side="left")
        (padded.sin() * torch.arange(padded.numel(), dtype=torch.float64).view_as(padded)).sum().backward()
        grads.append([leaf.grad for leaf in leaves])
    for a, b in zip(*grads):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-12)


def test_torch_lstm_accepts_our_packed_sequence():
    x, lengths = random_batch(3)
    lstm = torch.nn.LSTM(3, 4, dtype=torch.float64)
    ours, (h_ours, _) = lstm(cl.pack_padded_sequence(x, lengths, enforce_sorted=False))
    theirs, (h_theirs, _) = lstm(tr.pack_padded_sequence(x, lengths, enforce_sorted=False))
    torch.testing.assert_close(ours.data, theirs.data, rtol=0, atol=0)
    torch.testing.assert_close(h_ours, h_theirs, rtol=0, atol=0)


def test_packing_works_with_torch_rnn_utilities_disabled(monkeypatch):
    names = ("pad_sequence", "pack_padded_sequence", "pad_packed_sequence", "pack_sequence",
             "unpack_sequence", "unpad_sequence", "invert_permutation")

    def forbidden(*args, **kwargs):
        raise AssertionError("course_lib.packing called a torch.nn.utils.rnn function")

    for name in names:
        monkeypatch.setattr(tr, name, forbidden)
    monkeypatch.setattr(torch._VF, "_pack_padded_sequence", forbidden)
    monkeypatch.setattr(torch._VF, "_pad_packed_sequence", forbidden)
    seqs = [torch.randn(2, 3), torch.randn(4, 3), torch.randn(1, 3)]
    back = cl.unpack_sequence(cl.pack_sequence(seqs, enforce_sorted=False))
    assert all(torch.equal(a, b) for a, b in zip(seqs, back))


def test_packing_module_holds_no_torch_rnn_function():
    borrowed = [name for name, value in vars(cl).items()
                if callable(value) and getattr(value, "__module__", "") == "torch.nn.utils.rnn"
                and value is not tr.PackedSequence]
    assert borrowed == []


# --- bad input ------------------------------------------------------------------------


def assert_raises_naming(error, argument, fn, *args, **kwargs):
    with pytest.raises(error) as info:
        fn(*args, **kwargs)
    assert argument in str(info.value)


def test_lengths_with_a_zero_raise_value_error():
    assert_raises_naming(ValueError, "lengths", cl.pack_padded_sequence, torch.randn(4, 3), [4, 2, 0])


def test_negative_lengths_raise_value_error():
    assert_raises_naming(ValueError, "lengths", cl.pack_padded_sequence, torch.randn(4, 3), [4, -2, 1], enforce_sorted=False)


def test_lengths_longer_than_the_tensor_raise_value_error():
    assert_raises_naming(ValueError, "lengths", cl.pack_padded_sequence, torch.randn(4, 3), [5, 2, 1])


def test_lengths_not_matching_the_batch_raise_value_error():
    assert_raises_naming(ValueError, "lengths", cl.pack_padded_sequence, torch.randn(4, 3), [4, 2])


def test_unsorted_lengths_with_enforce_sorted_raise_value_error():
    assert_raises_naming(ValueError, "enforce_sorted", cl.pack_padded_sequence, torch.randn(4, 3), [2, 4, 1])


def test_float_lengths_are_truncated_to_ints_as_in_torch():
    x = torch.randn(4, 3)
    ours = cl.pack_padded_sequence(x, torch.tensor([4.0, 2.9, 1.5]))
    assert_packed_equal(ours, tr.pack_padded_sequence(x, torch.tensor([4, 2, 1])))


def test_lengths_of_text_raise_type_error():
    assert_raises_naming(TypeError, "lengths", cl.pack_padded_sequence, torch.randn(4, 3), "abc")


def test_two_dimensional_lengths_raise_value_error():
    assert_raises_naming(ValueError, "lengths", cl.pack_padded_sequence, torch.randn(4, 3), torch.tensor([[4, 2, 1]]))


def test_input_of_rank_one_raises_value_error():
    assert_raises_naming(ValueError, "input", cl.pack_padded_sequence, torch.randn(4), [4])


def test_input_that_is_not_a_tensor_raises_type_error():
    assert_raises_naming(TypeError, "input", cl.pack_padded_sequence, [[1, 2], [3, 4]], [2, 2])


def test_empty_sequence_list_raises_value_error():
    assert_raises_naming(ValueError, "sequences", cl.pad_sequence, [])


def test_sequences_with_different_feature_sizes_raise_value_error():
    assert_raises_naming(ValueError, "sequences", cl.pad_sequence, [torch.randn(3, 2), torch.randn(2, 5)])


def test_zero_dimensional_sequence_raises_value_error():
    assert_raises_naming(ValueError, "sequences", cl.pad_sequence, [torch.tensor(1.0)])


def test_unknown_padding_side_raises_value_error():
    assert_raises_naming(ValueError, "padding_side", cl.pad_sequence, [torch.randn(3)], padding_side="middle")


def test_unsorted_sequences_with_enforce_sorted_raise_value_error():
    assert_raises_naming(ValueError, "enforce_sorted", cl.pack_sequence, [torch.randn(2), torch.randn(3)])


def test_empty_sequence_in_pack_sequence_raises_value_error():
    assert_raises_naming(ValueError, "sequences", cl.pack_sequence, [torch.randn(2), torch.randn(0)])


def test_total_length_shorter_than_longest_raises_value_error():
    packed = cl.pack_sequence([torch.randn(4), torch.randn(2)])
    assert_raises_naming(ValueError, "total_length", cl.pad_packed_sequence, packed, total_length=3)


def test_pad_packed_of_a_tensor_raises_type_error():
    assert_raises_naming(TypeError, "sequence", cl.pad_packed_sequence, torch.randn(4, 2))


def test_unpack_of_a_tensor_raises_type_error():
    assert_raises_naming(TypeError, "packed_sequences", cl.unpack_sequence, torch.randn(4, 2))


def test_packing_multiplications_with_zero_length_raises_value_error():
    assert_raises_naming(ValueError, "lengths", cl.packing_multiplications, [3, 0])


def test_packing_multiplications_with_bad_out_features_raises_value_error():
    assert_raises_naming(ValueError, "out_features", cl.packing_multiplications, [3, 2], out_features=0)
