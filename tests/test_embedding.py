"""course_lib.embedding: one_hot and Embedding equal torch's, and lookup == one-hot @ weight."""

import inspect
import math

import pytest
import torch
import torch.nn.functional as F

from course_lib.embedding import Embedding, one_hot

SEEDS = range(5)


def random_indices(seed, num_embeddings=11, shape=(4, 3)):
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, num_embeddings, shape, generator=g)


# --- one_hot --------------------------------------------------------------------------


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("shape", [(7,), (3, 4), (2, 3, 2)])
@pytest.mark.parametrize("num_classes", [-1, 12])
def test_one_hot_matches_torch(seed, shape, num_classes):
    x = random_indices(seed, 11, shape)
    ours, theirs = one_hot(x, num_classes), F.one_hot(x, num_classes)
    assert ours.dtype == theirs.dtype == torch.int64
    assert torch.equal(ours, theirs)


def test_one_hot_of_the_slide_index_seven():
    assert one_hot(torch.tensor(7), 11).tolist() == [0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0]


def test_one_hot_of_an_empty_tensor_with_num_classes_matches_torch():
    x = torch.zeros(0, dtype=torch.int64)
    assert torch.equal(one_hot(x, 5), F.one_hot(x, 5))


# --- Embedding ---------------------------------------------------------------------------


@pytest.mark.parametrize("padding_idx", [None, 0, 4, -1])
def test_initial_weight_matches_torch_under_the_same_seed(padding_idx):
    torch.manual_seed(1)
    ours = Embedding(11, 4, padding_idx=padding_idx)
    torch.manual_seed(1)
    theirs = torch.nn.Embedding(11, 4, padding_idx=padding_idx)
    assert ours.padding_idx == theirs.padding_idx
    assert torch.equal(ours.weight, theirs.weight)


def test_padding_row_starts_at_zero():
    assert torch.equal(Embedding(11, 4, padding_idx=10).weight[10], torch.zeros(4))


def test_initial_weight_is_standard_normal():
    w = Embedding(2000, 50).weight.detach()
    assert abs(float(w.mean())) < 0.01 and abs(float(w.std()) - 1.0) < 0.01


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("shape", [(5,), (4, 3), (2, 3, 2)])
@pytest.mark.parametrize("padding_idx", [None, 10])
def test_forward_matches_torch(seed, shape, padding_idx):
    ours = Embedding(11, 4, padding_idx=padding_idx, dtype=torch.float64)
    theirs = torch.nn.Embedding(11, 4, padding_idx=padding_idx, dtype=torch.float64)
    theirs.load_state_dict(ours.state_dict())
    x = random_indices(seed, 11, shape)
    assert torch.equal(ours(x), theirs(x))


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("padding_idx", [None, 0, 10])
def test_gradient_matches_torch_including_zero_on_padding_row(seed, padding_idx):
    ours = Embedding(11, 4, padding_idx=padding_idx, dtype=torch.float64)
    theirs = torch.nn.Embedding(11, 4, padding_idx=padding_idx, dtype=torch.float64)
    theirs.load_state_dict(ours.state_dict())
    x = random_indices(seed, 11, (6, 3))
    x[0, 0] = 10 if padding_idx is None else padding_idx  # the padding index is always used
    upstream = torch.randn(6, 3, 4, dtype=torch.float64)
    (ours(x) * upstream).sum().backward()
    (theirs(x) * upstream).sum().backward()
    torch.testing.assert_close(ours.weight.grad, theirs.weight.grad, rtol=0, atol=1e-12)
    if padding_idx is not None:
        assert torch.equal(ours.weight.grad[padding_idx], torch.zeros(4, dtype=torch.float64))


@pytest.mark.parametrize("seed", SEEDS)
def test_lookup_equals_one_hot_times_weight(seed):
    emb = Embedding(11, 4, dtype=torch.float64)
    x = random_indices(seed, 11, (9,))
    by_product = one_hot(x, 11).double() @ emb.weight  # (9, 4)
    torch.testing.assert_close(emb(x), by_product, rtol=0, atol=1e-12)


def test_slide_lookup_of_row_seven():
    weight = torch.tensor(
        [[0.1, 4.2, 2.1, 1.9], [1.1, 1.2, 1.3, 1.4], [2.1, 2.2, 2.3, 2.4], [3.1, 2.6, 1.5, 9.1],
         [4.1, 2.6, 2.2, 8.8], [5.1, 3.6, 1.5, 9.1], [6.1, 9.1, 7.4, 9.0], [7.1, 2.5, 1.5, 1.5],
         [8.1, 6.1, 1.5, 6.2], [9.1, 5.5, 1.1, 9.1], [1.1, 5.3, 4.8, 9.1]], dtype=torch.float64)
    emb = Embedding.from_pretrained(weight)
    assert emb(torch.tensor(7)).tolist() == [7.1, 2.5, 1.5, 1.5]


@pytest.mark.parametrize("freeze", [True, False])
@pytest.mark.parametrize("padding_idx", [None, 2])
def test_from_pretrained_matches_torch(freeze, padding_idx):
    weight = torch.randn(6, 3, dtype=torch.float64)
    ours = Embedding.from_pretrained(weight, freeze=freeze, padding_idx=padding_idx)
    theirs = torch.nn.Embedding.from_pretrained(weight, freeze=freeze, padding_idx=padding_idx)
    assert ours.weight.requires_grad == theirs.weight.requires_grad == (not freeze)
    assert torch.equal(ours.weight, theirs.weight)  # the padding row is kept as given
    x = torch.tensor([[0, 2, 5], [1, 2, 3]])
    assert torch.equal(ours(x), theirs(x))


def test_signature_matches_torch():
    assert list(inspect.signature(Embedding).parameters) == list(
        inspect.signature(torch.nn.Embedding).parameters)
    assert list(inspect.signature(Embedding.from_pretrained).parameters) == list(
        inspect.signature(torch.nn.Embedding.from_pretrained).parameters)


def pair(**options):
    """Our Embedding and torch's with the same float64 weight, rows of norm well above 1."""
    weight = 3 * torch.randn(11, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    ours = Embedding(11, 4, _weight=weight.clone(), **options)
    theirs = torch.nn.Embedding(11, 4, _weight=weight.clone(), **options)
    return ours, theirs


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("norm_type", [1.0, 2.0, math.inf])
def test_max_norm_renormalises_the_used_rows_in_place_like_torch(seed, norm_type):
    ours, theirs = pair(max_norm=1.5, norm_type=norm_type)
    x = random_indices(seed, 11, (3, 2))
    torch.testing.assert_close(ours(x), theirs(x), rtol=0, atol=1e-12)
    torch.testing.assert_close(ours.weight, theirs.weight, rtol=0, atol=1e-12)
    used = torch.linalg.vector_norm(ours.weight[x.unique()], ord=norm_type, dim=1)
    assert bool((used <= 1.5).all()), f"rows used must end with norm <= max_norm, got {used}"


def test_max_norm_leaves_rows_the_input_does_not_use():
    ours, _ = pair(max_norm=0.5)
    before = ours.weight.detach().clone()
    ours(torch.tensor([1, 3]))
    unused = [i for i in range(11) if i not in (1, 3)]
    assert torch.equal(ours.weight[unused], before[unused])


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("padding_idx", [None, 0])
def test_scale_grad_by_freq_gradient_matches_torch(seed, padding_idx):
    ours, theirs = pair(scale_grad_by_freq=True, padding_idx=padding_idx)
    x = random_indices(seed, 4, (5, 3))  # few distinct indices: each occurs several times
    upstream = torch.randn(5, 3, 4, dtype=torch.float64)
    value = ours(x)
    torch.testing.assert_close(value, theirs(x), rtol=0, atol=0)
    (value * upstream).sum().backward()
    (theirs(x) * upstream).sum().backward()
    torch.testing.assert_close(ours.weight.grad, theirs.weight.grad, rtol=0, atol=1e-12)


def test_from_pretrained_passes_max_norm_and_scale_grad_by_freq_on_like_torch():
    weight = 3 * torch.randn(6, 3, dtype=torch.float64)
    options = dict(freeze=False, max_norm=1.0, scale_grad_by_freq=True)
    ours = Embedding.from_pretrained(weight.clone(), **options)
    theirs = torch.nn.Embedding.from_pretrained(weight.clone(), **options)
    x = torch.tensor([[0, 2, 2], [5, 2, 0]])
    ours(x).sum().backward()
    theirs(x).sum().backward()
    torch.testing.assert_close(ours.weight, theirs.weight, rtol=0, atol=1e-12)
    torch.testing.assert_close(ours.weight.grad, theirs.weight.grad, rtol=0, atol=1e-12)


def test_int32_indices_match_torch():
    ours = Embedding(5, 2)
    theirs = torch.nn.Embedding.from_pretrained(ours.weight.detach())
    x = torch.tensor([4, 0, 2], dtype=torch.int32)
    assert torch.equal(ours(x), theirs(x))


# --- bad input ------------------------------------------------------------------------------


def assert_raises_naming(error, argument, fn, *args, **kwargs):
    with pytest.raises(error) as info:
        fn(*args, **kwargs)
    assert argument in str(info.value)


def test_float_indices_to_embedding_raise_type_error():
    assert_raises_naming(TypeError, "input", Embedding(5, 2), torch.tensor([1.0, 2.0]))


def test_indices_out_of_range_raise_value_error():
    assert_raises_naming(ValueError, "input", Embedding(5, 2), torch.tensor([1, 5]))


def test_negative_indices_raise_value_error():
    assert_raises_naming(ValueError, "input", Embedding(5, 2), torch.tensor([-1, 2]))


def test_padding_idx_out_of_range_raises_value_error():
    assert_raises_naming(ValueError, "padding_idx", Embedding, 5, 2, padding_idx=5)


def test_non_positive_num_embeddings_raises_value_error():
    assert_raises_naming(ValueError, "num_embeddings", Embedding, 0, 2)


def test_float_embedding_dim_raises_type_error():
    assert_raises_naming(TypeError, "embedding_dim", Embedding, 5, 2.0)


def test_pretrained_weight_of_wrong_rank_raises_value_error():
    assert_raises_naming(ValueError, "embeddings", Embedding.from_pretrained, torch.randn(3, 2, 2))


def test_weight_of_wrong_shape_raises_value_error():
    assert_raises_naming(ValueError, "_weight", Embedding, 5, 2, _weight=torch.randn(5, 3))


@pytest.mark.parametrize("max_norm", [0, -1.0, math.nan, math.inf])
def test_max_norm_not_positive_and_finite_raises_value_error(max_norm):
    with pytest.raises(ValueError, match="max_norm"):
        Embedding(5, 2, max_norm=max_norm)


@pytest.mark.parametrize("norm_type", [0, -2.0, math.nan])
def test_norm_type_not_positive_raises_value_error(norm_type):
    with pytest.raises(ValueError, match="norm_type"):
        Embedding(5, 2, max_norm=1.0, norm_type=norm_type)


def test_max_norm_as_text_raises_type_error():
    with pytest.raises(TypeError, match="max_norm"):
        Embedding(5, 2, max_norm="1")


def test_scale_grad_by_freq_not_bool_raises_type_error():
    with pytest.raises(TypeError, match="scale_grad_by_freq"):
        Embedding(5, 2, scale_grad_by_freq=1)


def test_sparse_gradients_raise_value_error_naming_torch():
    with pytest.raises(ValueError, match="sparse=True.*torch.nn.Embedding"):
        Embedding(5, 2, sparse=True)


def test_one_hot_of_floats_raises_type_error():
    assert_raises_naming(TypeError, "tensor", one_hot, torch.tensor([0.0, 1.0]))


def test_one_hot_index_at_num_classes_raises_value_error():
    assert_raises_naming(ValueError, "num_classes", one_hot, torch.tensor([0, 3]), 3)


def test_one_hot_of_negative_index_raises_value_error():
    assert_raises_naming(ValueError, "tensor", one_hot, torch.tensor([0, -1]))


def test_one_hot_of_empty_tensor_without_num_classes_raises_value_error():
    assert_raises_naming(ValueError, "num_classes", one_hot, torch.zeros(0, dtype=torch.int64))
