"""Neighbourhood (2-D) and sliding-window (1-D) attention against loops over coordinates."""

import math
import warnings

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st_

import swin_tutorial as st
from swin_tutorial.neighborhood import (
    NeighborhoodAttention2D,
    RollingKVCache,
    neighborhood_attention_2d,
    resolve_backend,
    sliding_window_attention_1d,
)


def _axis_keys(position: int, length: int, kernel: int, dilation: int) -> list[int]:
    """The ``kernel`` positions one query sees along an axis, listed explicitly."""
    group = [p for p in range(length) if p % dilation == position % dilation]
    a = group.index(position)
    start = min(max(a - kernel // 2, 0), len(group) - kernel)
    return group[start : start + kernel]


def _brute_neighborhood(q, k, v, kernel, dilation, bias):
    B, heads, H, W, d = q.shape
    out = torch.zeros_like(q)
    for i in range(H):
        for j in range(W):
            keys = [(r, c) for r in _axis_keys(i, H, kernel, dilation) for c in _axis_keys(j, W, kernel, dilation)]
            rows = torch.tensor([r for r, _ in keys])
            cols = torch.tensor([c for _, c in keys])
            scores = (q[:, :, i, j, None, :] * k[:, :, rows, cols, :]).sum(-1) / math.sqrt(d)
            if bias is not None:
                dh = (rows - i) // dilation + kernel - 1
                dw = (cols - j) // dilation + kernel - 1
                scores = scores + bias[:, dh, dw]
            out[:, :, i, j] = (scores.softmax(-1)[..., None] * v[:, :, rows, cols, :]).sum(-2)
    return out


@st_.composite
def neighborhood_cases(draw):
    kernel = draw(st_.sampled_from([1, 3, 5]))
    dilation = draw(st_.integers(1, 3))
    H = draw(st_.integers(kernel * dilation, kernel * dilation + 5))
    W = draw(st_.integers(kernel * dilation, kernel * dilation + 5))
    return H, W, kernel, dilation, draw(st_.booleans())


@settings(max_examples=30, deadline=None)
@given(neighborhood_cases())
def test_neighborhood_attention_equals_brute_force(case):
    H, W, kernel, dilation, with_bias = case
    torch.manual_seed(H * 31 + W)
    q, k, v = (torch.randn(1, 2, H, W, 4, dtype=torch.float64) for _ in range(3))
    bias = torch.randn(2, 2 * kernel - 1, 2 * kernel - 1, dtype=torch.float64) if with_bias else None
    expected = _brute_neighborhood(q, k, v, kernel, dilation, bias)
    got = neighborhood_attention_2d(q, k, v, kernel, dilation, bias, backend="dense")
    assert torch.allclose(got, expected, atol=1e-10)


def test_every_query_sees_exactly_k_squared_keys_even_in_corners():
    mask = st.neighborhood_mask(11, 12, 5, 2)
    assert (mask.sum(-1) == 25).all()
    # the corner query's neighbourhood is shifted inward, not cut
    corner = mask[0].reshape(11, 12).nonzero()
    assert corner[:, 0].tolist().count(0) == 5 and corner[:, 0].max() == 8


def _quiet_flex(*args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # eager FlexAttention on a CPU warns that it is unfused
        return args[0](*args[1:], **kwargs)


@pytest.mark.parametrize("H, W, kernel, dilation", [(9, 11, 3, 2), (14, 14, 7, 1), (8, 13, 3, 1)])
def test_flex_equals_dense_for_neighborhoods(H, W, kernel, dilation):
    torch.manual_seed(0)
    q, k, v = (torch.randn(2, 2, H, W, 8) for _ in range(3))
    bias = torch.randn(2, 2 * kernel - 1, 2 * kernel - 1)
    dense = neighborhood_attention_2d(q, k, v, kernel, dilation, bias, backend="dense")
    flex = _quiet_flex(neighborhood_attention_2d, q, k, v, kernel, dilation, bias, backend="flex")
    assert torch.allclose(dense, flex, atol=1e-5)


def _brute_sliding(q, k, v, window, causal):
    L, d = q.shape[2], q.shape[3]
    out = torch.zeros_like(q)
    for t in range(L):
        if causal:
            keys = [s for s in range(L) if t - window < s <= t]
        else:
            keys = [s for s in range(L) if abs(t - s) <= window // 2]
        scores = (q[:, :, t, None] * k[:, :, keys]).sum(-1) / math.sqrt(d)
        out[:, :, t] = (scores.softmax(-1)[..., None] * v[:, :, keys]).sum(-2)
    return out


@settings(max_examples=30, deadline=None)
@given(st_.integers(1, 30), st_.integers(1, 12), st_.booleans())
def test_sliding_window_equals_brute_force(L, window, causal):
    torch.manual_seed(L * 13 + window)
    q, k, v = (torch.randn(2, 2, L, 4, dtype=torch.float64) for _ in range(3))
    got = sliding_window_attention_1d(q, k, v, window, causal, backend="dense")
    assert torch.allclose(got, _brute_sliding(q, k, v, window, causal), atol=1e-10)


@pytest.mark.parametrize("causal", [True, False])
def test_flex_equals_dense_for_sliding_windows(causal):
    torch.manual_seed(1)
    q, k, v = (torch.randn(1, 2, 50, 8) for _ in range(3))
    dense = sliding_window_attention_1d(q, k, v, 9, causal, backend="dense")
    flex = _quiet_flex(sliding_window_attention_1d, q, k, v, 9, causal, backend="flex")
    assert torch.allclose(dense, flex, atol=1e-5)


@settings(max_examples=20, deadline=None)
@given(st_.integers(1, 40), st_.integers(1, 10))
def test_rolling_cache_equals_full_causal_computation_token_by_token(L, window):
    torch.manual_seed(L + 100 * window)
    q, k, v = (torch.randn(2, 3, L, 4, dtype=torch.float64) for _ in range(3))
    full = sliding_window_attention_1d(q, k, v, window, causal=True, backend="dense")
    cache = RollingKVCache(window)
    for t in range(L):
        out = cache.step(q[:, :, t : t + 1], k[:, :, t : t + 1], v[:, :, t : t + 1])
        assert torch.allclose(out[:, :, 0], full[:, :, t], atol=1e-10)
    assert cache.keys.shape[2] == window
    assert cache.nbytes() == 2 * 2 * 3 * window * 4 * 8


def test_module_runs_and_rejects_bad_maps():
    layer = NeighborhoodAttention2D(16, 2, kernel_size=5, dilation=1)
    assert layer(torch.randn(2, 7, 9, 16)).shape == (2, 7, 9, 16)
    with pytest.raises(ValueError, match="kernel_size=5 is larger than the map"):
        layer(torch.randn(1, 4, 9, 16))


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: st.neighborhood_mask(8, 8, 4), "kernel_size must be odd"),
        (lambda: st.neighborhood_mask(8, 8, 3, 3), "dilation=3 with kernel_size=3"),
        (lambda: NeighborhoodAttention2D(16, 2, kernel_size=4), "kernel_size must be odd"),
        (lambda: NeighborhoodAttention2D(16, 3), "num_heads=3 must divide dim=16"),
        (lambda: RollingKVCache(0), "window must be a positive int"),
        (lambda: st.neighborhood.sliding_window_mask(10, 0), "window must be a positive int"),
        (lambda: resolve_backend("cuda-only", "cpu"), "backend must be one of"),
    ],
)
def test_bad_input(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_auto_backend_is_dense_on_cpu():
    assert resolve_backend("auto", "cpu") == "dense"


@pytest.mark.gpu
def test_flex_equals_dense_on_gpu():
    torch.manual_seed(2)
    q, k, v = (torch.randn(2, 3, 56, 56, 32, device="cuda") for _ in range(3))
    bias = torch.randn(3, 13, 13, device="cuda")
    assert resolve_backend("auto", "cuda") == "flex"
    dense = neighborhood_attention_2d(q, k, v, 7, 1, bias, backend="dense")
    flex = neighborhood_attention_2d(q, k, v, 7, 1, bias, backend="flex")
    assert torch.allclose(dense, flex, atol=1e-4)
