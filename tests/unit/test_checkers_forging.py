"""Forging a verdict takes more than a line: each attempt goes through ``fresh_checkers()``,
as the chapters' graded test cells do."""

import sys

import pytest
import torch
from reference import partition

import swin_tutorial as st
import swin_tutorial.coursework.checks_windows as checks_windows
import swin_tutorial.coursework.harness as harness
import swin_tutorial.windows as windows
from swin_tutorial.complexity import attention_flops
from swin_tutorial.coursework import fresh_checkers

# Small tensors: one thread is several times faster than a pool on a busy machine.
pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def checkers():
    return fresh_checkers()


def without_permute(x, M):
    return x.reshape(-1, M, M, x.shape[-1])


def score(checkers, fn, check="check_window_partition"):
    return getattr(checkers, check)(fn, trials=2, seed=0, verbose=False).score


def test_a_fresh_copy_is_new_and_leaves_no_module_behind(checkers):
    again = fresh_checkers()
    assert again is not checkers and again.check_window_partition is not (
        checkers.check_window_partition
    )
    assert not [name for name in sys.modules if name.startswith("swin_tutorial_fresh_")]
    assert score(again, partition) == 1.0


def test_patching_the_imported_package_does_not_reach_a_fresh_checker(monkeypatch):
    monkeypatch.setattr(harness, "compare", lambda expected, received: None)
    monkeypatch.setattr(harness, "forbidden_call_problem", lambda call: None)
    monkeypatch.setattr(windows, "window_partition", without_permute)
    monkeypatch.setattr(st, "window_partition", without_permute)
    monkeypatch.setattr(checks_windows, "window_partition", without_permute)
    checkers = fresh_checkers()
    assert score(checkers, without_permute) == 0.0
    assert score(checkers, partition) == 1.0
    assert score(checkers, lambda x, M: None) == 0.0


def test_the_package_function_as_the_answer_scores_zero(checkers):
    result = checkers.check_window_partition(st.window_partition, trials=2, seed=0, verbose=False)
    assert result.score == 0.0
    assert "calls the package's own `window_partition`: write it yourself" in result.message


@pytest.mark.parametrize(
    "check, fn",
    [
        ("check_window_reverse", st.window_reverse),
        ("check_shift_mask", st.shifted_window_mask),
        ("check_relative_position_index", st.relative_position_index),
        ("check_log_spaced_coordinates", st.log_spaced_coordinates),
        (
            "check_attention_flops",
            attention_flops,
        ),
        ("check_sliding_window_1d", st.sliding_window_attention_1d),
        ("check_neighborhood_attention", st.neighborhood_attention_2d),
        ("check_merge_order", lambda x: st.PatchMerging(x.shape[-1]).forward(x)),
        ("check_window_attention", lambda *a: st.window_attention(*a)[0]),
    ],
)
def test_every_package_reference_as_the_answer_scores_zero(checkers, check, fn):
    result = getattr(checkers, check)(fn, trials=1, seed=0, verbose=False)
    assert result.score == 0.0 and "calls the package's own" in result.message, result.message


def test_calling_the_package_inside_scores_zero(checkers):
    def wrapped(x, M):
        return st.window_partition(x.clone(), M) + 0

    def from_a_fresh_copy(x, M):
        module = fresh_checkers().check_window_partition.__globals__["window_partition"]
        return module(x, M)

    assert score(checkers, wrapped) == 0.0
    assert score(checkers, from_a_fresh_copy) == 0.0


def test_calling_the_shift_mask_through_another_package_function_scores_zero(checkers):
    def via_regions(H, W, M, s):
        ids = st.region_ids(H, W, M, s).float()
        labels = partition(ids[None, :, :, None], M).reshape(-1, M * M)
        return labels[:, :, None] == labels[:, None, :]

    result = checkers.check_shift_mask(via_regions, trials=1, seed=0, verbose=False)
    assert result.score == 0.0 and "`region_ids`" in result.message


def test_a_right_answer_that_uses_other_package_functions_passes(checkers):
    def shift_mask(H, W, M, s):  # chapter 2's solution: labels, then st.window_partition
        labels = torch.zeros(H, W)
        for r, rows in enumerate((slice(0, H - M), slice(H - M, H - s), slice(H - s, H))):
            for c, cols in enumerate((slice(0, W - M), slice(W - M, W - s), slice(W - s, W))):
                labels[rows, cols] = 3 * r + c
        per_window = st.window_partition(labels[None, :, :, None], M).reshape(-1, M * M)
        return per_window[:, :, None] == per_window[:, None, :]

    assert score(checkers, shift_mask, "check_shift_mask") == 1.0


def frame_walker(x, M):
    """Look up the stack for a tensor of the answer's shape and return it."""
    B, H, W, C = x.shape
    wanted = (B * (H // M) * (W // M), M, M, C)
    frame = sys._getframe(1)
    while frame is not None:
        for value in list(frame.f_locals.values()):
            items = value if isinstance(value, tuple | list) else (value,)
            for item in items:
                if isinstance(item, torch.Tensor) and tuple(item.shape) == wanted:
                    return item
        frame = frame.f_back
    return torch.zeros(wanted)


def reverse_frame_walker(windows, M, H, W):
    """The same for window_reverse: a tensor of the map's shape anywhere up the stack."""
    wanted = (windows.shape[0] // ((H // M) * (W // M)), H, W, windows.shape[-1])
    frame = sys._getframe(1)
    while frame is not None:
        for value in list(frame.f_locals.values()):
            if isinstance(value, torch.Tensor) and tuple(value.shape) == wanted:
                return value
        frame = frame.f_back
    return torch.zeros(wanted)


def gc_walker(x, M):
    """Look through every object the garbage collector tracks for the answer's shape."""
    import gc

    B, H, W, C = x.shape
    wanted = (B * (H // M) * (W // M), M, M, C)
    for value in gc.get_objects():
        if type(value) is torch.Tensor and tuple(value.shape) == wanted:
            return value
    return torch.zeros(wanted)


def test_walking_the_stack_or_the_heap_for_the_expected_value_scores_zero(checkers):
    assert score(checkers, frame_walker) == 0.0
    assert score(checkers, reverse_frame_walker, "check_window_reverse") == 0.0
    assert score(checkers, gc_walker) == 0.0


def test_calling_the_checkers_own_reference_from_the_stack_scores_zero(checkers):
    def reuse_the_case(x, M):
        frame = sys._getframe(1)
        while frame is not None:
            case = frame.f_locals.get("case")
            if case is not None:
                return case.reference(*case.make_args())
            frame = frame.f_back
        return None

    result = checkers.check_merge_order(
        lambda x: reuse_the_case(x, 2), trials=1, seed=0, verbose=False
    )
    assert result.score == 0.0 and "checker's own code" in result.message


def test_switching_the_call_trace_off_scores_zero(checkers):
    def quiet(x, M):
        sys.setprofile(None)
        return st.window_partition(x, M)

    result = checkers.check_window_partition(quiet, trials=1, seed=0, verbose=False)
    assert result.score == 0.0 and "sys.setprofile" in result.message
    assert sys.getprofile() is None


def test_mutating_the_input_cannot_change_the_verdict(checkers):
    def zero_everything(x, M):  # zeros in, zeros out: right only if the expected came from x
        x.zero_()
        return partition(x, M)

    def answer_then_mutate(x, M):
        out = partition(x, M).clone()
        x.mul_(-3.0)
        return out

    def answer_then_zero(x, M):  # the answer is returned first, the input zeroed after
        out = partition(x, M)
        x.zero_()
        return out

    assert score(checkers, zero_everything) == 0.0
    assert score(checkers, answer_then_mutate) == 1.0
    assert score(checkers, answer_then_zero) == 1.0


def test_mutating_the_windows_given_to_reverse_cannot_change_the_verdict(checkers):
    def reverse(windows, M, H, W):
        C = windows.shape[-1]
        grid = windows.reshape(-1, H // M, W // M, M, M, C).permute(0, 1, 3, 2, 4, 5)
        out = grid.reshape(-1, H, W, C)
        windows.fill_(7.0)
        return out

    assert score(checkers, reverse, "check_window_reverse") == 1.0


@pytest.mark.parametrize(
    "owner, name, replacement, words",
    [
        (torch.Tensor, "permute", lambda self, *dims: self, "torch.Tensor.permute"),
        (torch, "equal", lambda a, b: True, "torch.equal"),
        (torch.nn.functional, "softmax", lambda x, dim: x, "torch.nn.functional.softmax"),
        (torch.nn.Linear, "forward", lambda self, x: x, "torch.nn.Linear.forward"),
        (__import__("builtins"), "abs", lambda x: 0, "builtins.abs"),
        (sys, "setprofile", lambda f: None, "sys.setprofile"),
    ],
)
def test_replacing_python_or_torch_fails_every_case(monkeypatch, owner, name, replacement, words):
    monkeypatch.setattr(owner, name, replacement)
    checkers = fresh_checkers()
    result = checkers.check_window_partition(without_permute, trials=1, seed=0, verbose=False)
    monkeypatch.undo()
    assert result.score == 0.0 and not result.passed
    assert words in result.message and "Restart the kernel" in result.message, result.message


def test_the_integrity_check_finds_nothing_in_a_clean_session():
    from swin_tutorial.coursework.checks_integrity import replaced_tools

    assert replaced_tools() == []


def test_catching_the_stop_at_the_package_door_scores_zero(checkers):
    def sneaky(x, M):
        try:
            return st.window_partition(x, M)
        except BaseException:
            sys.getprofile() and sys.getprofile().hits.clear()
            return partition(x, M)

    result = checkers.check_window_partition(sneaky, trials=1, seed=0, verbose=False)
    assert result.score == 0.0 and "`window_partition`" in result.message


def test_rebinding_a_name_of_the_checker_from_the_stack_scores_zero(checkers):
    def rebinds(x, M):
        frame = sys._getframe(1)
        while frame is not None and "compare" not in frame.f_globals:
            frame = frame.f_back
        frame.f_globals["compare"] = lambda expected, received: None
        return None

    checkers = fresh_checkers()  # this copy is spoilt by the test
    result = checkers.check_window_partition(rebinds, trials=2, seed=0, verbose=False)
    assert result.score == 0.0 and "changed the checker's code" in result.message
    assert "harness.compare" in result.message


def test_replacing_torch_during_the_call_scores_zero(checkers, monkeypatch):
    def patches(x, M):
        monkeypatch.setattr(torch.Tensor, "permute", lambda self, *dims: self)
        return without_permute(x, M)

    result = checkers.check_window_partition(patches, trials=2, seed=0, verbose=False)
    monkeypatch.undo()
    assert result.score == 0.0 and "torch.Tensor.permute" in result.message
