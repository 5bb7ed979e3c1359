"""The exercise checkers accept the reference and reject realistic wrong answers."""

import json

import pytest
import torch
from reference import brute_neighborhood, brute_sliding

import swin_tutorial as st
from swin_tutorial import coursework as ex
from swin_tutorial.attention import window_attention
from swin_tutorial.complexity import attention_flops


def _partition_without_permute(x, m):
    return x.reshape(-1, m, m, x.shape[-1])


def _partition_with_unfold(x, m):
    return x.unfold(1, m, m).unfold(2, m, m).reshape(-1, m, m, x.shape[-1])


def _reverse_without_permute(windows, m, H, W):
    return windows.reshape(-1, H, W, windows.shape[-1])


def _unshifted_mask(H, W, m, s):
    return torch.ones((H // m) * (W // m), m * m, m * m, dtype=torch.bool)


def _inverted_mask(H, W, m, s):
    return ~st.shifted_window_mask(H, W, m, s)


def _key_minus_query(window_size):
    return st.relative_position_index(window_size).T


def _flops_not_macs(H, W, C, window_size=None):
    return 2 * attention_flops(H, W, C, window_size)


def _flops_without_projections(H, W, C, window_size=None):
    return attention_flops(H, W, C, window_size) - 4 * H * W * C * C


def _attention(q, k, v, bias, mask):
    return window_attention(q, k, v, bias, mask, fused=True)[0]


def _attention_unscaled(q, k, v, bias, mask):
    return window_attention(q * q.shape[-1] ** 0.5, k, v, bias, mask, fused=False)[0]


def _attention_without_bias(q, k, v, bias, mask):
    return window_attention(q, k, v, None, mask, fused=False)[0]


def _attention_mask_interleaved(q, k, v, bias, mask):
    scores = (q @ k.transpose(-2, -1)) * q.shape[-1] ** -0.5 + bias
    blocked = (~mask).repeat_interleave(q.shape[0] // mask.shape[0], dim=0)[:, None]
    return scores.masked_fill(blocked, float("-inf")).softmax(-1) @ v


def _neighborhood(q, k, v, kernel, dilation):
    return st.neighborhood_attention_2d(q, k, v, kernel, dilation)


def _neighborhood_from_coordinates(q, k, v, kernel, dilation):
    return brute_neighborhood(q, k, v, kernel, dilation, None)


def _neighborhood_clipped_at_borders(q, k, v, kernel, dilation):
    """A centred window cut off at the border (fewer keys there), from coordinates."""
    B, heads, H, W, d = q.shape
    rows, cols = torch.meshgrid(torch.arange(H), torch.arange(W), indexing="ij")
    rows, cols = rows.reshape(-1), cols.reshape(-1)
    dr, dc = rows[:, None] - rows[None, :], cols[:, None] - cols[None, :]
    reach = kernel // 2 * dilation
    allowed = (
        (dr.abs() <= reach) & (dc.abs() <= reach) & (dr % dilation == 0) & (dc % dilation == 0)
    )
    flat = [t.reshape(B, heads, H * W, d) for t in (q, k, v)]
    out = torch.nn.functional.scaled_dot_product_attention(*flat, attn_mask=allowed)
    return out.reshape(q.shape)


def _neighborhood_unscaled(q, k, v, kernel, dilation):
    return _neighborhood(q * q.shape[-1] ** 0.5, k, v, kernel, dilation)


def _sliding(q, k, v, window, causal):
    return st.sliding_window_attention_1d(q, k, v, window, causal)


def _sliding_band(q, k, v, allowed_offsets):
    t = torch.arange(q.shape[2])
    allowed = allowed_offsets(t[:, None] - t[None, :])
    return torch.nn.functional.scaled_dot_product_attention(q, k, v, attn_mask=allowed)


def _sliding_one_key_too_many(q, k, v, window, causal):
    if causal:
        return _sliding_band(q, k, v, lambda off: (off >= 0) & (off <= window))
    return _sliding(q, k, v, window, causal)


def _sliding_band_too_wide(q, k, v, window, causal):
    if causal:
        return _sliding(q, k, v, window, causal)
    return _sliding_band(q, k, v, lambda off: off.abs() <= window)


def _log_coordinates(window_size, divide_by_window=True, log=torch.log2, swap=False):
    """Swin V2's offsets written from the formula, optionally with one of the usual slips."""
    wh, ww = (window_size, window_size) if isinstance(window_size, int) else window_size
    rows = [
        (dh / (wh - 1) if divide_by_window else dh, dw / (ww - 1) if divide_by_window else dw)
        for dh in range(-(wh - 1), wh)
        for dw in range(-(ww - 1), ww)
    ]
    x = torch.tensor(rows, dtype=torch.float64) * 8
    x = torch.sign(x) * log(1 + x.abs()) / log(torch.tensor(8.0, dtype=torch.float64))
    return x.flip(-1) if swap else x


def _erf_loop_over_channels(model, images, query):
    """The field written plainly: one backward pass per output channel."""
    model.eval()
    x = images.detach().clone().requires_grad_(True)
    token = model.forward_features(x)[:, query[0], query[1], :]  # (B, C)
    squares = torch.zeros_like(x)
    for c in range(token.shape[1]):
        (grad,) = torch.autograd.grad(token[:, c].sum(), x, retain_graph=True)
        squares += grad.square()
    return squares.sum(dim=1).sqrt().mean(dim=0)


def _erf_of_channel_sum(model, images, query):
    model.eval()
    x = images.detach().clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(model.forward_features(x)[:, query[0], query[1], :].sum(), x)
    return grad.abs().sum(dim=1).mean(dim=0)


def _erf_summed_over_images(model, images, query):
    return _erf_loop_over_channels(model, images, query) * images.shape[0]


def _crashes(*args):
    raise RuntimeError("student bug")


@pytest.mark.parametrize(
    "checker, reference",
    [
        (ex.check_window_partition, st.window_partition),
        (ex.check_window_reverse, st.window_reverse),
        (ex.check_shift_mask, st.shifted_window_mask),
        (ex.check_relative_position_index, st.relative_position_index),
        (ex.check_attention_flops, attention_flops),
        (ex.check_window_attention, _attention),
        (ex.check_neighborhood_attention, _neighborhood),
        (ex.check_sliding_window_1d, _sliding),
        (ex.check_neighborhood_attention, _neighborhood_from_coordinates),
        (ex.check_sliding_window_1d, brute_sliding),
        (ex.check_log_spaced_coordinates, _log_coordinates),
        (ex.check_effective_receptive_field, _erf_loop_over_channels),
    ],
)
def test_reference_passes(checker, reference, capsys):
    result = checker(reference)
    assert result.passed and result.score == 1.0
    assert "passed" in capsys.readouterr().out


@pytest.mark.parametrize(
    "checker, wrong, hint",
    [
        (ex.check_window_partition, _partition_without_permute, "without permuting"),
        (ex.check_window_partition, _partition_with_unfold, "unfold"),
        (ex.check_window_reverse, _reverse_without_permute, "undo its permute"),
        (ex.check_shift_mask, _unshifted_mask, "unshifted grid"),
        (ex.check_shift_mask, _inverted_mask, "inverted"),
        (ex.check_relative_position_index, _key_minus_query, "key minus query"),
        (ex.check_attention_flops, _flops_not_macs, "multiply-adds"),
        (ex.check_attention_flops, _flops_without_projections, "projections"),
        (ex.check_window_attention, _attention_unscaled, "d ** -0.5"),
        (ex.check_window_attention, _attention_without_bias, "relative position bias"),
        (ex.check_window_attention, _attention_mask_interleaved, "repeat the mask over the batch"),
        (ex.check_neighborhood_attention, _neighborhood_clipped_at_borders, "shifted inward"),
        (ex.check_neighborhood_attention, _neighborhood_unscaled, "d ** -0.5"),
        (ex.check_sliding_window_1d, _sliding_one_key_too_many, "window + 1 keys"),
        (ex.check_sliding_window_1d, _sliding_band_too_wide, "window // 2 on each side"),
        (
            ex.check_log_spaced_coordinates,
            lambda m: _log_coordinates(m, divide_by_window=False),
            "minus one (M - 1)",
        ),
        (ex.check_log_spaced_coordinates, lambda m: _log_coordinates(m, swap=True), "(dh, dw)"),
        (ex.check_effective_receptive_field, _erf_of_channel_sum, "gradient of their sum"),
        (ex.check_effective_receptive_field, _erf_summed_over_images, "average the per-image"),
    ],
)
def test_wrong_solution_fails_with_hint(checker, wrong, hint):
    result = checker(wrong, seed=0, verbose=False)
    assert not result.passed
    assert result.score < 1.0
    assert "failed on" in result.message
    assert hint in result.message


def test_student_exception_is_reported_not_raised():
    result = ex.check_shift_mask(_crashes, seed=0, verbose=False)
    assert not result.passed and result.score == 0.0
    assert "raised RuntimeError: student bug" in result.message


def test_failure_shows_expected_and_received_shapes():
    result = ex.check_window_partition(lambda x, m: x, seed=0, verbose=False)
    assert "expected shape" in result.message and "received shape" in result.message


def test_results_reach_the_grader_log(tmp_path, monkeypatch):
    log = tmp_path / "grades.jsonl"
    monkeypatch.setenv(ex.GRADE_LOG_VARIABLE, str(log))
    ex.check_window_partition(st.window_partition, seed=0, verbose=False)
    ex.check_shift_mask(_inverted_mask, seed=0, verbose=False)
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    assert [(r["name"], r["passed"]) for r in lines] == [
        ("check_window_partition", True),
        ("check_shift_mask", False),
    ]
    assert lines[1]["score"] < 1.0 and "inverted" in lines[1]["message"]


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        ({"trials": 0}, ValueError, "trials must be a positive int, got trials=0"),
        ({"trials": 2.5}, TypeError, "trials must be an int"),
        ({"seed": "0"}, TypeError, "seed must be an int"),
        ({"verbose": "yes"}, TypeError, "verbose must be True or False"),
    ],
)
def test_checker_arguments_are_checked_by_name(kwargs, error, message):
    with pytest.raises(error, match=message):
        ex.check_window_partition(st.window_partition, **kwargs)


def test_checker_needs_a_function():
    with pytest.raises(TypeError, match="fn must be your function"):
        ex.check_shift_mask(None, seed=0)
