"""Bad arguments to RNN, LSTM, GRU and their cells raise ValueError/TypeError naming the argument.

One test per kind of bad input, each swept over the three layer types (or cells): the
error type, and that the message names the argument and, for shapes, the expected shape.
"""

import pytest
import torch
from torch.nn.utils.rnn import pack_sequence

from course_lib import GRU, LSTM, RNN, GRUCell, LSTMCell, RNNCell, parameter_table

LAYERS = [RNN, LSTM, GRU]
CELLS = [RNNCell, LSTMCell, GRUCell]


def initial_state(layer, shape):
    """A tensor of ``shape`` as h_0 (RNN, GRU), or (h_0, good c_0) for LSTM."""
    h0 = torch.zeros(shape)
    if isinstance(layer, LSTM):
        return h0, torch.zeros(shape[:-1] + (layer.hidden_size,))
    return h0


# -- constructor arguments ---------------------------------------------------------------------


@pytest.mark.parametrize("cls", LAYERS + CELLS)
@pytest.mark.parametrize("name", ["input_size", "hidden_size"])
@pytest.mark.parametrize("value", [0, -3])
def test_size_not_positive_is_a_value_error(cls, name, value):
    kwargs = {"input_size": 3, "hidden_size": 4, name: value}
    with pytest.raises(ValueError, match=f"{name} must be a positive int"):
        cls(**kwargs)


@pytest.mark.parametrize("cls", LAYERS + CELLS)
@pytest.mark.parametrize("name", ["input_size", "hidden_size"])
@pytest.mark.parametrize("value", [2.0, "4", True, None])
def test_size_not_an_int_is_a_type_error(cls, name, value):
    kwargs = {"input_size": 3, "hidden_size": 4, name: value}
    with pytest.raises(TypeError, match=f"{name} must be a positive int"):
        cls(**kwargs)


@pytest.mark.parametrize("cls", LAYERS)
def test_num_layers_not_positive_is_a_value_error(cls):
    with pytest.raises(ValueError, match="num_layers must be a positive int"):
        cls(3, 4, num_layers=0)


@pytest.mark.parametrize("cls", LAYERS)
@pytest.mark.parametrize("value", [1.0, "2", False])
def test_num_layers_not_an_int_is_a_type_error(cls, value):
    with pytest.raises(TypeError, match="num_layers must be a positive int"):
        cls(3, 4, num_layers=value)


@pytest.mark.parametrize("cls", LAYERS)
@pytest.mark.parametrize("value", [-0.1, 1.0, 1.5])
def test_dropout_outside_zero_one_is_a_value_error(cls, value):
    with pytest.raises(ValueError, match=r"dropout must be a probability in \[0, 1\)"):
        cls(3, 4, num_layers=2, dropout=value)


@pytest.mark.parametrize("cls", LAYERS)
@pytest.mark.parametrize("value", ["0.5", None, True])
def test_dropout_not_a_number_is_a_type_error(cls, value):
    with pytest.raises(TypeError, match="dropout must be a float"):
        cls(3, 4, num_layers=2, dropout=value)


@pytest.mark.parametrize("cls", LAYERS + CELLS)
def test_bias_not_a_bool_is_a_type_error(cls):
    with pytest.raises(TypeError, match="bias must be bool"):
        cls(3, 4, bias="yes")


@pytest.mark.parametrize("name", ["batch_first", "bidirectional"])
@pytest.mark.parametrize("cls", LAYERS)
def test_layer_flags_not_a_bool_are_a_type_error(cls, name):
    with pytest.raises(TypeError, match=f"{name} must be bool"):
        cls(3, 4, **{name: 1})


@pytest.mark.parametrize("proj_size", [4, 5])
def test_proj_size_not_below_hidden_size_is_a_value_error(proj_size):
    with pytest.raises(ValueError, match="proj_size must be smaller than hidden_size = 4"):
        LSTM(3, 4, proj_size=proj_size)


def test_negative_proj_size_is_a_value_error():
    with pytest.raises(ValueError, match="proj_size must be at least 0"):
        LSTM(3, 4, proj_size=-1)


def test_proj_size_not_an_int_is_a_type_error():
    with pytest.raises(TypeError, match="proj_size must be an int"):
        LSTM(3, 4, proj_size=2.0)


@pytest.mark.parametrize("cls", [RNN, RNNCell])
def test_unknown_nonlinearity_is_a_value_error(cls):
    with pytest.raises(ValueError, match="nonlinearity must be 'tanh' or 'relu'"):
        cls(3, 4, nonlinearity="sigmoid")


def test_unknown_backward_is_a_value_error():
    with pytest.raises(ValueError, match="backward must be one of"):
        LSTM(3, 4, backward="cudnn")


def test_manual_backward_with_projection_is_a_value_error():
    with pytest.raises(ValueError, match="backward='manual' does not implement proj_size"):
        LSTM(3, 4, proj_size=2, backward="manual")


# -- forward: input ----------------------------------------------------------------------------


@pytest.mark.parametrize("cls", LAYERS)
@pytest.mark.parametrize("shape", [(3,), (5, 2, 3, 1)])
def test_input_of_wrong_rank_is_a_value_error(cls, shape):
    with pytest.raises(ValueError, match=r"input must have shape \(L, H_in\).*\(L, N, H_in\)"):
        cls(3, 4)(torch.zeros(shape))


@pytest.mark.parametrize("cls", LAYERS)
@pytest.mark.parametrize("shape", [(5, 2), (5, 2, 4)])
def test_input_of_wrong_feature_size_is_a_value_error(cls, shape):
    with pytest.raises(ValueError, match=r"input must have shape .*H_in = input_size = 3"):
        cls(3, 4)(torch.zeros(shape))


@pytest.mark.parametrize("cls", LAYERS)
def test_input_not_a_tensor_is_a_type_error(cls):
    with pytest.raises(TypeError, match="input must be a Tensor of shape"):
        cls(3, 4)([[0.0, 0.0, 0.0]])


@pytest.mark.parametrize("cls", LAYERS)
def test_integer_input_is_a_type_error(cls):
    with pytest.raises(TypeError, match="input must be a floating point Tensor"):
        cls(3, 4)(torch.zeros(5, 2, 3, dtype=torch.long))


@pytest.mark.parametrize("cls", LAYERS)
def test_packed_input_of_wrong_feature_size_is_a_value_error(cls):
    packed = pack_sequence([torch.zeros(3, 2), torch.zeros(1, 2)])
    with pytest.raises(ValueError, match=r"input \(PackedSequence\).*input_size = 3"):
        cls(3, 4)(packed)


def test_manual_backward_with_packed_input_is_a_value_error():
    pytest.importorskip("course_lib.lstm_manual")
    packed = pack_sequence([torch.zeros(3, 3), torch.zeros(1, 3)])
    with pytest.raises(ValueError, match="backward='manual' takes a dense"):
        LSTM(3, 4, backward="manual")(packed)


# -- forward: initial state --------------------------------------------------------------------


@pytest.mark.parametrize("cls", LAYERS)
@pytest.mark.parametrize("shape", [(1, 2, 4), (2, 3, 4), (2, 2, 5), (2, 4)])
def test_h0_of_wrong_shape_is_a_value_error(cls, shape):
    layer = cls(3, 4, num_layers=2)
    with pytest.raises(ValueError, match=r"hx \(h_0\) must have shape \(2, 2, 4\)"):
        layer(torch.zeros(5, 2, 3), initial_state(layer, shape))


@pytest.mark.parametrize("cls", LAYERS)
def test_batched_h0_for_unbatched_input_is_a_value_error(cls):
    layer = cls(3, 4, bidirectional=True)
    expected = r"hx \(h_0\) must have shape \(2, 4\) \(D \* num_layers, H\), unbatched"
    with pytest.raises(ValueError, match=expected):
        layer(torch.zeros(5, 3), initial_state(layer, (2, 1, 4)))


@pytest.mark.parametrize("cls", LAYERS)
def test_h0_of_wrong_batch_for_packed_input_is_a_value_error(cls):
    layer = cls(3, 4)
    packed = pack_sequence([torch.zeros(3, 3), torch.zeros(1, 3)])
    with pytest.raises(ValueError, match=r"hx \(h_0\) must have shape \(1, 2, 4\)"):
        layer(packed, initial_state(layer, (1, 3, 4)))


def test_lstm_c0_of_wrong_shape_is_a_value_error():
    with pytest.raises(ValueError, match=r"hx \(c_0\) must have shape \(1, 2, 4\)"):
        LSTM(3, 4)(torch.zeros(5, 2, 3), (torch.zeros(1, 2, 4), torch.zeros(1, 2, 3)))


def test_lstm_projected_h0_must_have_proj_size_features():
    with pytest.raises(ValueError, match=r"hx \(h_0\) must have shape \(1, 2, 2\)"):
        LSTM(3, 4, proj_size=2)(torch.zeros(5, 2, 3), (torch.zeros(1, 2, 4), torch.zeros(1, 2, 4)))


def test_lstm_hx_not_a_pair_is_a_type_error():
    with pytest.raises(TypeError, match=r"hx must be a tuple \(h_0, c_0\)"):
        LSTM(3, 4)(torch.zeros(5, 2, 3), torch.zeros(1, 2, 4))


@pytest.mark.parametrize("cls", [RNN, GRU])
@pytest.mark.parametrize("hx", [[[0.0] * 4] * 2, (torch.zeros(1, 2, 4), torch.zeros(1, 2, 4))])
def test_h0_not_a_tensor_is_a_type_error(cls, hx):
    with pytest.raises(TypeError, match=r"hx \(h_0\) must be a Tensor of shape \(1, 2, 4\)"):
        cls(3, 4)(torch.zeros(5, 2, 3), hx)


# -- cells -------------------------------------------------------------------------------------


@pytest.mark.parametrize("cls", CELLS)
@pytest.mark.parametrize("shape", [(), (2, 1, 3), (2, 4)])
def test_cell_input_of_wrong_shape_is_a_value_error(cls, shape):
    with pytest.raises(ValueError, match=r"input must have shape \(N, H_in\) or \(H_in,\)"):
        cls(3, 4)(torch.zeros(shape))


@pytest.mark.parametrize("cls", [RNNCell, GRUCell])
@pytest.mark.parametrize("shape", [(2, 5), (3, 4), (4,)])
def test_cell_hx_of_wrong_shape_is_a_value_error(cls, shape):
    with pytest.raises(ValueError, match=r"hx must have shape \(2, 4\)"):
        cls(3, 4)(torch.zeros(2, 3), torch.zeros(shape))


def test_lstm_cell_c_of_wrong_shape_is_a_value_error():
    with pytest.raises(ValueError, match=r"hx\[1\] \(c\) must have shape \(2, 4\)"):
        LSTMCell(3, 4)(torch.zeros(2, 3), (torch.zeros(2, 4), torch.zeros(2, 5)))


def test_lstm_cell_hx_not_a_pair_is_a_type_error():
    with pytest.raises(TypeError, match=r"hx must be tuple \(h, c\)"):
        LSTMCell(3, 4)(torch.zeros(2, 3), torch.zeros(2, 4))


def test_parameter_table_of_a_non_module_is_a_type_error():
    with pytest.raises(TypeError, match="module must be a torch.nn.Module"):
        parameter_table({"weight": torch.zeros(2)})
