"""The checkers' harness: any return value is reported, arguments are checked, written
answers are compared by exact type, the call trace leaves the profilers as it found them."""

import re
import sys
import threading

import numpy as np
import pytest
import torch
from reference import partition

from swin_tutorial import coursework as ex
from swin_tutorial.coursework import harness

# Small tensors: one thread is several times faster than a pool on a busy machine.
pytestmark = pytest.mark.usefixtures("one_thread")


class StrangeEq:
    """Equal to everything, true, of any length: it must never pass."""

    def __eq__(self, other):
        return True

    __hash__ = object.__hash__

    def __bool__(self):
        return True

    def __len__(self):
        return 1


class Explosive:
    """Every comparison, conversion and printing raises."""

    def __eq__(self, other):
        raise RuntimeError("eq")

    __hash__ = object.__hash__

    def __bool__(self):
        raise RuntimeError("bool")

    def __len__(self):
        raise RuntimeError("len")

    def __repr__(self):
        raise RuntimeError("repr")

    def __getattr__(self, name):
        if name.startswith("__"):  # pytest asks for __name__ when it names the test
            raise AttributeError(name)
        raise RuntimeError(name)


class TensorSubclass(torch.Tensor):
    pass


def sparse_partition(x, M):
    return partition(x, M).to_sparse()


STRANGE = {
    "wrong size": (lambda x, M: partition(x, M)[:-1], "expected shape"),
    "numpy array": (lambda x, M: partition(x, M).numpy(), "numpy.ndarray"),
    "list": (lambda x, M: partition(x, M).tolist(), "received list"),
    "None": (lambda x, M: None, "received NoneType"),
    "strange __eq__": (lambda x, M: StrangeEq(), "StrangeEq"),
    "everything raises": (lambda x, M: Explosive(), "Explosive"),
    "meta tensor": (lambda x, M: torch.empty(partition(x, M).shape, device="meta"), "meta"),
    "sparse tensor": (sparse_partition, "layout torch.sparse_coo"),
    "complex tensor": (lambda x, M: partition(x, M) * 1j, "torch.complex64"),
    "tensor subclass": (lambda x, M: partition(x, M).as_subclass(TensorSubclass), "subclass"),
    "generator": (lambda x, M: (t for t in [x]), "generator"),
    "nan": (lambda x, M: partition(x, M) * float("nan"), "entries differ"),
    "exception with a broken __str__": (
        lambda x, M: (_ for _ in ()).throw(type("Odd", (Exception,), {"__str__": None})()),
        "your function raised",
    ),
}


@pytest.mark.parametrize("kind", sorted(STRANGE))
def test_any_return_value_is_reported(kind):
    answer, words = STRANGE[kind]
    result = ex.check_window_partition(answer, trials=1, seed=0, verbose=False)
    assert not result.passed and result.score == 0.0
    assert words in result.message, result.message
    assert "received:" in result.message or "raised" in result.message


def test_summary_shows_meta_and_sparse_tensors_without_values():
    meta = harness.summary(torch.empty(2, 3, device="meta"))
    assert meta == "shape (2, 3), dtype torch.float32, on the meta device (no values)"
    assert "layout torch.sparse_coo" in harness.summary(torch.eye(3).to_sparse())
    assert "first values [1, 0, 0" in harness.summary(torch.eye(3).long())
    assert harness.summary(Explosive()).endswith("that cannot be printed>")


@pytest.mark.parametrize(
    "received, words",
    [
        (torch.tensor([1, 2]), "torch.Tensor of shape (2,)"),
        ("12", "received str"),
        (None, "received NoneType"),
        (float("inf"), "received float"),
        (StrangeEq(), "StrangeEq"),
    ],
)
def test_flops_checker_reports_what_is_not_a_number(received, words):
    result = ex.check_attention_flops(lambda *a: received, trials=1, seed=0, verbose=False)
    assert result.score == 0.0 and words in result.message, result.message


def test_a_student_exception_is_reported_not_raised():
    def crashes(*args):
        raise RuntimeError("student bug")

    result = ex.check_shift_mask(crashes, trials=1, seed=0, verbose=False)
    assert not result.passed and result.score == 0.0
    assert "raised RuntimeError: student bug" in result.message


def test_sys_exit_in_a_student_function_is_reported():
    result = ex.check_shift_mask(lambda *a: sys.exit(3), trials=1, seed=0, verbose=False)
    assert result.score == 0.0 and "SystemExit" in result.message


def test_warnings_and_stderr_of_the_student_stay_out_of_the_cell(capfd):
    def noisy(x, M):
        import warnings

        warnings.warn("careful", UserWarning, stacklevel=1)
        print("to stderr", file=sys.stderr)
        return partition(x, M)

    assert ex.check_window_partition(noisy, trials=1, seed=0, verbose=False).passed
    assert capfd.readouterr().err == ""


def test_the_checker_leaves_the_thread_count_as_it_was():
    torch.set_num_threads(2)
    ex.check_window_partition(partition, trials=1, seed=0, verbose=False)
    assert torch.get_num_threads() == 2
    torch.set_num_threads(1)


# --------------------------------------------------------------------------- the call trace


def test_the_profilers_are_restored_even_when_the_student_raises():
    seen = []

    def mine(frame, event, arg):
        seen.append(event)

    threading.setprofile(mine)
    sys.setprofile(mine)
    try:
        ex.check_window_partition(partition, trials=1, seed=0, verbose=False)
        assert sys.getprofile() is mine and threading.getprofile() is mine
        ex.check_window_partition(lambda x, M: 1 / 0, trials=1, seed=0, verbose=False)
        assert sys.getprofile() is mine and threading.getprofile() is mine
    finally:
        sys.setprofile(None)
        threading.setprofile(None)
    assert seen


def test_a_c_profiler_such_as_cprofile_is_enabled_again():
    import cProfile

    profile = cProfile.Profile()
    profile.enable()
    try:
        result = ex.check_window_partition(partition, trials=1, seed=0, verbose=False)
        assert sys.getprofile() is profile
    finally:
        profile.disable()
    assert result.passed


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_a_thread_started_by_the_student_is_traced():
    import swin_tutorial as st

    def threaded(x, M):
        out = []
        worker = threading.Thread(target=lambda: out.append(st.window_partition(x, M)))
        worker.start()
        worker.join()
        return out[0]

    result = ex.check_window_partition(threaded, trials=1, seed=0, verbose=False)
    assert result.score == 0.0 and "`window_partition`" in result.message


def test_file_kind_tells_the_package_the_coursework_and_the_rest():
    assert harness.file_kind(harness.__file__) == "coursework"
    assert harness.file_kind(torch.__file__) == "other"
    assert harness.file_kind("/elsewhere/swin_tutorial/windows.py") == "package"
    assert harness.file_kind("/elsewhere/swin_tutorial/coursework/harness.py") == "coursework"
    assert harness.file_kind("<stdin>") == "other"


# --------------------------------------------------------------------------- arguments

CHECKERS = [
    getattr(ex, name) for name in ex.__all__ if name.startswith("check_") and name != "check_value"
]


@pytest.mark.parametrize("checker", CHECKERS, ids=lambda c: c.__name__)
@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        ({"trials": 0}, ValueError, "trials must be a positive int, got trials=0"),
        ({"trials": -2}, ValueError, "trials must be a positive int, got trials=-2"),
        ({"trials": True}, TypeError, "trials must be an int, got trials=True"),
        ({"trials": 2.5}, TypeError, "trials must be an int, got trials=2.5"),
        ({"seed": "0"}, TypeError, "seed must be an int, got seed='0'"),
        ({"seed": 1.0}, TypeError, "seed must be an int, got seed=1.0"),
        ({"verbose": "yes"}, TypeError, "verbose must be True or False, got verbose='yes'"),
        ({"fn": None}, TypeError, "fn must be your function"),
        ({"fn": 3}, TypeError, "got fn=3"),
    ],
)
def test_every_argument_of_every_checker_is_checked_by_name(checker, kwargs, error, message):
    arguments = {"fn": partition, **kwargs}
    with pytest.raises(error, match=message.replace("(", r"\(").replace(")", r"\)")):
        checker(arguments.pop("fn"), **arguments)


def test_every_checker_is_exposed_by_the_checkers_module():
    from swin_tutorial.coursework import checkers

    names = {name for name in dir(checkers) if name.startswith("check_")}
    assert {c.__name__ for c in CHECKERS} | {"check_value"} <= names
    assert {"check_merge_order", "check_value"} <= set(checkers.__all__)


# --------------------------------------------------------------------------- written answers


@pytest.mark.parametrize(
    "received, expected, rel_tol",
    [
        (64, 64, 0.0),
        (64, 64.0, 0.0),
        (0.5001, 0.5, 1e-3),
        (True, True, 0.0),
        ("  Causal ", "causal", 0.0),
        ((4, 5, 6), (4, 5, 6), 0.0),
        ([4, 5, 6], (4, 5, 6), 0.0),
        ((1, "a", 2), [1, "A", 2.0], 0.0),
        (((1, 2), [3]), ((1, 2), (3,)), 0.0),
    ],
)
def test_check_value_accepts_the_same_answer(received, expected, rel_tol):
    result = ex.check_value("q", received, expected, rel_tol=rel_tol, verbose=False)
    assert result.passed and result.score == 1.0


@pytest.mark.parametrize(
    "received, expected, words",
    [
        (True, 1, "expected an int, received bool"),
        (1, True, "expected a bool, received int"),
        (64.0, 64, "expected an int, received float"),
        (StrangeEq(), 64, "received StrangeEq"),
        (Explosive(), (1, 2), "received Explosive"),
        (np.int64(64), 64, "received int64"),
        ((4, 5), (4, 5, 6), "expected 3 items, received 2"),
        ((4, 5, 7), (4, 5, 6), "item 2: 7 is not the expected value"),
        ("acausal", "causal", "'acausal' is not the expected value"),
        (0.51, 0.5, "0.51 is not the expected value"),
        (float("nan"), 0.5, "nan is not the expected value"),
    ],
)
def test_check_value_rejects_other_answers_without_giving_the_answer(received, expected, words):
    result = ex.check_value("q", received, expected, rel_tol=1e-3, verbose=False)
    assert not result.passed and result.score == 0.0
    assert words in result.message, result.message
    if isinstance(expected, int) and not isinstance(expected, bool):
        assert not re.search(rf"\b{expected}\b", result.message)  # the answer is not shown


def test_check_value_prints_and_requires():
    result = ex.check_value("ex (a)", 3, 4, verbose=False)
    with pytest.raises(ex.ExerciseFailed, match="ex \\(a\\): 3 is not the expected value"):
        result.require()
    assert ex.check_value("ex (a)", 4, 4, verbose=False).require() is None


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        ({"name": ""}, TypeError, "name must be a non-empty str"),
        ({"name": 3}, TypeError, "name must be a non-empty str, got name=3"),
        ({"rel_tol": -1.0}, ValueError, "rel_tol must be a finite number >= 0, got rel_tol=-1.0"),
        ({"rel_tol": "0"}, TypeError, "rel_tol must be a number, got rel_tol='0'"),
        ({"rel_tol": True}, TypeError, "got rel_tol=True"),
        ({"rel_tol": float("inf")}, ValueError, "got rel_tol=inf"),
        ({"expected": {1, 2}}, TypeError, "expected must be an int, float, bool, str"),
        ({"expected": None}, TypeError, "got expected=None"),
        ({"verbose": 1}, TypeError, "verbose must be True or False"),
    ],
)
def test_check_value_arguments_are_checked_by_name(kwargs, error, message):
    arguments = {"name": "q", "received": 1, "expected": 1, **kwargs}
    with pytest.raises(error, match=message.replace("(", r"\(").replace(")", r"\)")):
        ex.check_value(**arguments)
