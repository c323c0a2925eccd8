"""course_lib.validation: each check names the argument, and each error class is both ours and torch's."""

import math

import pytest
import torch

from course_lib import validation as v


@pytest.mark.parametrize(("error", "bases"), [
    (v.BadValue, (ValueError, RuntimeError)),
    (v.BadType, (TypeError, RuntimeError)),
    (v.BadDimensions, (ValueError, RuntimeError, IndexError)),
    (v.BadTypedValue, (TypeError, ValueError, RuntimeError)),
    (v.OutOfRange, (ValueError, IndexError)),
    (v.BadIndex, (TypeError, IndexError)),
])
def test_each_error_is_an_instance_of_our_class_and_torchs(error, bases):
    assert all(isinstance(error("x"), base) for base in bases)


def test_a_bad_value_is_not_a_type_error():
    """The combined classes keep TypeError and ValueError apart where torch does."""
    assert not isinstance(v.BadValue("x"), TypeError) and not isinstance(v.BadType("x"), ValueError)


@pytest.mark.parametrize(("check", "args", "error"), [
    (v.check_bool, (1,), TypeError),
    (v.check_int, (True,), TypeError),
    (v.check_int, (2.0,), TypeError),
    (v.check_int, (0, 1), ValueError),
    (v.check_positive_int, (0,), ValueError),
    (v.check_positive_int, ("3",), TypeError),
    (v.check_number, (True,), TypeError),
    (v.check_number, (math.nan, 0.0), ValueError),
    (v.check_torch_number, ("1", "float"), TypeError),
    (v.check_positive_finite, (math.inf,), ValueError),
    (v.check_probability, (1.0,), ValueError),
    (v.check_probability, ("0.5",), TypeError),
    (v.check_str, (b"x",), TypeError),
    (v.check_list, ("abc", "strings"), TypeError),
    (v.check_list, ([], "strings"), ValueError),
    (v.check_labels, (["a"], 2), ValueError),
    (v.check_labels, ([1, 2], 2), TypeError),
    (v.check_choice, ("x", ("a", "b")), ValueError),
    (v.check_module, (torch.zeros(1),), TypeError),
    (v.check_callable, (3,), TypeError),
    (v.check_tensor, ([1.0],), TypeError),
    (v.check_float_tensor, (torch.zeros(1, dtype=torch.long),), TypeError),
    (v.check_index_tensor, (torch.zeros(1),), TypeError),
    (v.check_shape, (torch.zeros(2, 3), (3, 2)), ValueError),
])
def test_a_failed_check_names_the_argument(check, args, error):
    with pytest.raises(error, match="the_argument"):
        check("the_argument", *args)


@pytest.mark.parametrize(("check", "args"), [
    (v.check_bool, (False,)), (v.check_int, (0, 0)), (v.check_positive_int, (1,)), (v.check_number, (0.5, 0.0)),
    (v.check_torch_number, (True, "Number")), (v.check_positive_finite, (1e-9,)), (v.check_probability, (0.0,)),
    (v.check_str, ("",)), (v.check_list, (("a",), "strings")), (v.check_labels, (("a", "b"), 2)),
    (v.check_choice, ("a", ("a", "b"))), (v.check_module, (torch.nn.Linear(1, 1),)), (v.check_callable, (len,)),
    (v.check_tensor, (torch.zeros(1),)), (v.check_float_tensor, (torch.zeros(1),)),
    (v.check_index_tensor, (torch.zeros(1, dtype=torch.int32),)), (v.check_shape, (torch.zeros(2, 3), (2, 3))),
])
def test_a_passed_check_returns_the_value(check, args):
    result = check("the_argument", *args)
    if isinstance(args[0], torch.Tensor):
        assert result is args[0]
    elif isinstance(args[0], tuple):  # a sequence comes back as a list
        assert result == list(args[0])
    else:
        assert result == args[0]


def test_a_dtype_mismatch_says_how_to_convert():
    with pytest.raises(v.BadTypedValue, match=r"input dtype \(torch.float32\) does not match .*input.to\(torch.float64\)"):
        v.check_same_dtype("input", torch.zeros(1), torch.zeros(1, dtype=torch.float64))
