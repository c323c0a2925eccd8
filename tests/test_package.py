"""The package's public surface: every advertised name resolves, and the lazy loader
refuses unknown names the way a module should."""

import pytest

import course_lib


@pytest.mark.parametrize("name", course_lib.__all__)
def test_every_exported_name_resolves(name):
    assert getattr(course_lib, name) is not None


def test_layers_import_in_one_line():
    from course_lib import GRU, LSTM, RNN, GRUCell, LSTMCell, RNNCell  # noqa: F401


def test_unknown_name_raises_attribute_error():
    with pytest.raises(AttributeError, match="no attribute 'Transformer'"):
        course_lib.Transformer  # noqa: B018


def test_dir_lists_the_public_names():
    assert set(course_lib.__all__) <= set(dir(course_lib))
