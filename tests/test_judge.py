"""The judge/executor boundary: data only comes back, strictly decoded; calls, copy-restore,
gradients and "from scratch" checks work across it; what must stay in the judge stays there.

The executor here is a real separate process running the student's code in an IPython shell
(``tests/grading/executor_process.py``); the sandboxed kernel version is graded end to end in
``test_hostile.py`` and ``test_grading.py``.
"""

from __future__ import annotations

import json
import socket
import struct

import pytest
import torch

from course_lib.grading import scratch, wire
from course_lib.grading.judge import GradingError, RemoteObject, StudentError
from tests.grading import executor_process

pytestmark = pytest.mark.timeout(120)

STUDENT = '''
import time
import torch

class Tagged(list):
    def __eq__(self, other):
        return True

class Liar(torch.Tensor):
    pass

def double(x):
    return 2 * x

def tagged():
    return Tagged([1, 2])

def liar():
    return torch.ones(3).as_subclass(Liar)

def scale_in_place(tensors, factor):
    for t in tensors:
        t.mul_(factor)

def train_step(model, optimizer, x):
    loss = model(x).pow(2).sum()
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    return loss.item()

def draw(generator):
    return torch.rand(2, generator=generator)

def energy(x, w):
    return torch.tanh(x @ w).pow(2).sum()

def unfinished():
    raise NotImplementedError("write me")

class MyError(Exception):
    pass

def custom():
    raise MyError("mine")

def deep():
    out = []
    for _ in range(200):
        out = [out]
    return out

def big():
    return torch.zeros(2_000_000)

def generator():
    return (i for i in range(3))

def slow():
    time.sleep(30)

def apply(f, x):
    return f(x)
'''


@pytest.fixture(scope="module")
def judge(tmp_path_factory):
    process, judge = executor_process.start(STUDENT, tmp_path_factory.mktemp("executor"))
    judge.namespace["torch"] = torch
    yield judge
    process.kill()
    process.wait()


def run(judge, source: str, label: str = "`test`") -> list[dict]:
    return judge.run(source, label, test=True)


def error_of(outputs: list[dict]) -> str:
    errors = [f"{o['ename']}: {o['evalue']}" for o in outputs if o["output_type"] == "error"]
    return errors[0] if errors else ""


def test_a_call_returns_data_decoded_in_the_judge(judge):
    assert error_of(run(judge, "assert double(torch.arange(3)).tolist() == [0, 2, 4]\n"
                               "assert double(1.5) == 3.0 and double('ab') == 'abab'")) == ""


def test_a_list_subclass_arrives_as_a_plain_list_and_equals_only_its_values(judge):
    assert error_of(run(judge, "got = tagged()\nassert type(got) is list and got == [1, 2]\n"
                               "assert got != [9]")) == ""


def test_a_tensor_subclass_arrives_as_a_plain_tensor(judge):
    assert error_of(run(judge, "got = liar()\nassert type(got) is torch.Tensor\n"
                               "assert torch.equal(got, torch.ones(3))")) == ""


def test_an_object_that_is_not_data_is_a_proxy_that_cannot_be_compared(judge):
    outputs = run(judge, "got = generator()\nassert got == [0, 1, 2]")
    assert error_of(outputs).startswith("TypeError: ") and "not data" in error_of(outputs)
    assert error_of(run(judge, "assert list(generator()) == [0, 1, 2]")) == ""


def test_a_test_never_sees_a_name_an_instructor_cell_bound_from_the_student(judge):
    judge.instructor_names.add("double_reference")
    outputs = run(judge, "double_reference(1)")
    assert error_of(outputs) == "NameError: name 'double_reference' is not defined"


def test_in_place_changes_to_tensor_arguments_come_back(judge):
    assert error_of(run(judge, "ts = [torch.ones(2), torch.full((3,), 2.0)]\n"
                               "scale_in_place(ts, 3.0)\n"
                               "assert ts[0].tolist() == [3.0, 3.0] and ts[1].tolist() == [6.0] * 3")) == ""


def test_a_model_and_its_optimizer_come_back_trained(judge):
    source = (
        "torch.manual_seed(0)\n"
        "m = torch.nn.Linear(3, 2)\n"
        "opt = torch.optim.Adam(m.parameters(), lr=0.1)\n"
        "ref = torch.nn.Linear(3, 2)\nref.load_state_dict(m.state_dict())\n"
        "ref_opt = torch.optim.Adam(ref.parameters(), lr=0.1)\n"
        "x = torch.randn(4, 3)\n"
        "for _ in range(3):\n"
        "    loss = train_step(m, opt, x)\n"
        "    ref_opt.zero_grad(); ref(x).pow(2).sum().backward(); ref_opt.step()\n"
        "for a, b in zip(m.parameters(), ref.parameters()):\n"
        "    assert torch.allclose(a, b, atol=1e-6), (a, b)\n"
        "assert opt.state_dict()['state'][0]['step'].item() == 3\n"
    )
    assert error_of(run(judge, source)) == ""


def test_a_random_generator_comes_back_advanced(judge):
    source = ("g = torch.Generator().manual_seed(1)\nh = torch.Generator().manual_seed(1)\n"
              "a = draw(g)\nassert torch.equal(a, torch.rand(2, generator=h))\n"
              "assert torch.equal(draw(g), torch.rand(2, generator=h))")
    assert error_of(run(judge, source)) == ""


def test_a_test_double_comes_back_with_what_it_recorded(judge):
    source = ("from course_lib.checks import ScriptedSeq2Seq\n"
              "model = ScriptedSeq2Seq(torch.tensor([[3, 2]]), 2)\n"
              "step = apply(lambda m: m.decoder.step(torch.tensor([1]), None, None, None), model)\n"
              "assert model.decoder.fed == [[1]], model.decoder.fed")
    assert error_of(run(judge, source)) == ""


def test_gradients_through_the_boundary_equal_local_autograd_in_float64(judge):
    source = (
        "torch.manual_seed(0)\n"
        "x = torch.randn(4, 3, dtype=torch.float64, requires_grad=True)\n"
        "w = torch.randn(3, 5, dtype=torch.float64, requires_grad=True)\n"
        "h = x * 2\n"  # a non-leaf input: its gradient flows on to x
        "energy(h, w).backward()\n"
        "x2, w2 = x.detach().clone().requires_grad_(), w.detach().clone().requires_grad_()\n"
        "torch.tanh((x2 * 2) @ w2).pow(2).sum().backward()\n"
        "assert (x.grad - x2.grad).abs().max() < 1e-12 and (w.grad - w2.grad).abs().max() < 1e-12\n"
    )
    assert error_of(run(judge, source)) == ""


def test_a_visible_cells_function_is_sent_by_value(judge):
    assert error_of(run(judge, "assert apply(lambda v: v + 1, 2) == 3")) == ""


def test_a_hidden_tests_function_never_reaches_the_student(judge):
    outputs = run(judge, "### BEGIN HIDDEN TESTS\napply(lambda v: v + 1, 2)\n### END HIDDEN TESTS",
                  "`hidden_case`")
    assert error_of(outputs).startswith("GradingError: ")
    assert "hidden tests" in error_of(outputs) and "cannot be sent" in error_of(outputs)


def test_the_students_builtin_exceptions_keep_their_type_and_message(judge):
    outputs = run(judge, "unfinished()")
    assert error_of(outputs) == "NotImplementedError: write me"
    assert "In the submission's code" in "".join(outputs[-1]["traceback"])


def test_the_students_own_exception_classes_stay_in_the_student_process(judge):
    assert error_of(run(judge, "custom()")) == "StudentError: MyError: mine"
    with pytest.raises(StudentError):
        judge.namespace["custom"] = judge.request(("resolve", ["custom"]), "x")[0][1]
        judge.namespace["custom"]()


def test_a_result_nested_too_deep_fails_its_test_with_a_message_naming_the_call(judge):
    outputs = run(judge, "deep()")
    assert error_of(outputs).startswith("GradingError: deep(...)")


def test_a_reply_over_the_size_limit_fails_its_test_and_the_judge_goes_on(tmp_path):
    process, judge = executor_process.start(STUDENT, tmp_path)
    judge.max_reply_bytes = 1_000_000
    try:
        assert "above the 1 MB limit" in error_of(run(judge, "big()"))
        assert "not answering" in error_of(run(judge, "double(1)"))
    finally:
        process.kill()
        process.wait()


def test_wire_refuses_unknown_tags_dtypes_and_mismatched_bytes():
    for header in ({"v": {"X": 1}}, {"v": {"T": ["float128", [1], 0, 16, False]}},
                   {"v": {"T": ["float32", [2], 0, 4, False]}}, {"v": {"L": [1], "U": [2]}},
                   {"v": {"H": ["1", "x", True]}}):
        with pytest.raises(wire.WireError):
            wire.decode_reply(json.dumps(header).encode(), b"\0" * 4)


def test_wire_keeps_dict_keys_sets_and_nan():
    header, buffers = wire.encode_reply({"v": {1: {2, 3}, (4, "a"): frozenset([5]), "n": float("nan")}},
                                        lambda value: (_ for _ in ()).throw(TypeError()))
    value = wire.decode_reply(header, buffers)["v"]
    assert value[1] == {2, 3} and value[(4, "a")] == frozenset([5]) and value["n"] != value["n"]


def test_wire_reads_no_more_than_the_limit_from_the_socket():
    a, b = socket.socketpair()
    with a, b:
        a.sendall(struct.pack(">I", 2**31) + b"x" * 100)
        with pytest.raises(wire.WireError, match="above"):
            wire.recv_frame(b, limit=1000)


def test_a_remote_object_is_never_truthy_or_equal():
    proxy = RemoteObject(None, wire.Handle(1, "Model", True), "model")
    for compare in (bool, lambda p: p == p, lambda p: p != 1, lambda p: p < 1):
        with pytest.raises(TypeError, match="not data"):
            compare(proxy)


def test_a_student_function_past_the_time_limit_fails_its_test(tmp_path):
    process, judge = executor_process.start(STUDENT, tmp_path, call_timeout=2)
    try:
        assert error_of(run(judge, "slow()")) == "GradingError: slow(...): timed out (the cell's time limit)"
        assert "not answering" in error_of(run(judge, "double(1)"))
    finally:
        process.kill()
        process.wait()


# -------------------------------------------------------------------- from scratch, by source
def test_a_cells_last_statement_runs_after_the_rest_as_ipython_runs_them(judge):
    """The body is compiled and run before the last statement is compiled: a last statement
    that does not compile fails the cell after the body has run."""
    outputs = run(judge, "print('body ran')\nreturn 1")
    assert outputs[0]["text"] == "body ran\n"
    assert error_of(outputs).startswith("SyntaxError: 'return' outside function")
    assert run(judge, "y = 3\ny * 2")[-1]["data"]["text/plain"] == "6"


def test_a_prepared_cell_runs_the_code_compiled_ahead():
    from course_lib.grading import judge as judge_module
    from course_lib.grading.judge import Judge

    source = "total = 20\ntotal + 22"
    judge_module.prepare(source, "`ahead`")
    compiled = judge_module._compiled.cache_info()
    assert Judge().run(source, "`ahead`", test=True)[-1]["data"]["text/plain"] == "42"
    assert judge_module._compiled.cache_info().misses == compiled.misses


def test_a_plain_python_cell_parses_with_its_own_line_numbers_and_magics_through_ipython():
    import ast

    assert scratch.parse_cell("\n\nx = 1").body[0].lineno == 3
    assert ast.unparse(scratch.parse_cell("%matplotlib inline\nx = 1")) == (
        "get_ipython().run_line_magic('matplotlib', 'inline')\nx = 1")
    assert ast.unparse(scratch.parse_cell("    y = 2\n    z = y")) == "y = 2\nz = y"
    assert scratch.parse_cell("def f(:\n    pass") is None


def check(student: str, name: str, instructor: str = "", **banned) -> None:
    scratch.check(name, name, [scratch.parse_cell(student)], [scratch.parse_cell(instructor or "pass")],
                  **banned)


def test_from_scratch_refuses_a_banned_attribute_in_the_function_or_its_helpers():
    with pytest.raises(AssertionError, match="uses `one_hot`"):
        check("import torch.nn.functional as F\ndef helper(i, n):\n    return F.one_hot(i, n)\n"
              "def one_hot_mine(i, n):\n    return helper(i, n).float()", "one_hot_mine",
              banned_attributes=("one_hot",))


def test_from_scratch_allows_a_local_variable_named_like_a_banned_function():
    check("def numerical_gradient(f, x):\n    grad = x * 0\n    return grad", "numerical_gradient",
          banned_attributes=("grad",))


def test_from_scratch_refuses_names_imported_from_course_lib_but_not_its_checks():
    with pytest.raises(AssertionError, match="ready-made"):
        check("from course_lib.text import tokenize as tk\ndef tokenize(s):\n    return tk(s)", "tokenize")
    check("def tokenize(s):\n    check_shape(s, (1,))\n    return s.split()", "tokenize",
          instructor="from course_lib.checks import check_shape")


def test_from_scratch_refuses_a_class_built_on_a_banned_base_and_a_missing_def():
    with pytest.raises(AssertionError, match="builds on"):
        check("from torch import nn\nclass Cell(nn.LSTMCell):\n    pass", "Cell", banned_attributes=("LSTMCell",))
    with pytest.raises(AssertionError, match="expected a function defined in the notebook"):
        check("x = 1", "tokenize")
