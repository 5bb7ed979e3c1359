"""Neighbourhood (2-D) and sliding-window (1-D) attention against loops over coordinates."""

import warnings

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st_
from reference import brute_neighborhood, brute_sliding

import swin_tutorial as st
from swin_tutorial.neighborhood import (
    NeighborhoodAttention2D,
    RollingKVCache,
    neighborhood_attention_2d,
    resolve_backend,
    sliding_window_attention_1d,
)


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
    bias = (
        torch.randn(2, 2 * kernel - 1, 2 * kernel - 1, dtype=torch.float64) if with_bias else None
    )
    expected = brute_neighborhood(q, k, v, kernel, dilation, bias)
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


@settings(max_examples=30, deadline=None)
@given(st_.integers(1, 30), st_.integers(1, 12), st_.booleans())
def test_sliding_window_equals_brute_force(L, window, causal):
    torch.manual_seed(L * 13 + window)
    q, k, v = (torch.randn(2, 2, L, 4, dtype=torch.float64) for _ in range(3))
    got = sliding_window_attention_1d(q, k, v, window, causal, backend="dense")
    assert torch.allclose(got, brute_sliding(q, k, v, window, causal), atol=1e-10)


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


# --------------------------------------------------------------------------- 1-D: Longformer, blocked backend, caches


def _brute_longformer(length, window, global_tokens):
    """Longformer's pattern listed pair by pair from positions."""
    mask = torch.zeros(length, length, dtype=torch.bool)
    for t in range(length):
        for s in range(length):
            mask[t, s] = abs(t - s) <= window // 2 or t in global_tokens or s in global_tokens
    return mask


@settings(max_examples=30, deadline=None)
@given(st_.integers(1, 20), st_.integers(1, 9), st_.data())
def test_longformer_mask_equals_pairs_listed_from_positions(length, window, data):
    global_tokens = data.draw(st_.lists(st_.integers(0, length - 1), max_size=3))
    got = st.neighborhood.longformer_mask(length, window, global_tokens)
    assert torch.equal(got, _brute_longformer(length, window, global_tokens))


def test_longformer_global_tokens_see_and_are_seen_by_all():
    mask = st.neighborhood.longformer_mask(30, 4, [0, 17])
    assert mask[[0, 17]].all() and mask[:, [0, 17]].all()
    others = [t for t in range(30) if t not in (0, 17)]
    band = st.neighborhood.sliding_window_mask(30, 4, causal=False)
    kept = mask[others][:, others]
    assert torch.equal(kept, band[others][:, others])  # between other tokens: the band only
    assert (band[10].sum(), mask[10].sum()) == (5, 7)  # w = 4: 2 on each side, plus 2 global keys


@settings(max_examples=40, deadline=None)
@given(st_.integers(1, 40), st_.integers(1, 12), st_.booleans())
def test_blocked_backend_equals_brute_force(L, window, causal):
    torch.manual_seed(L * 7 + window)
    q, k, v = (torch.randn(2, 3, L, 4, dtype=torch.float64) for _ in range(3))
    got = sliding_window_attention_1d(q, k, v, window, causal, backend="blocked")
    assert got.shape == q.shape
    assert torch.allclose(got, brute_sliding(q, k, v, window, causal), atol=1e-10)


@pytest.mark.parametrize(
    "L, window, causal", [(37, 5, True), (37, 5, False), (64, 16, True), (50, 1, False)]
)
def test_blocked_score_count_matches_the_flop_counter(L, window, causal):
    from swin_tutorial.complexity import count_macs
    from swin_tutorial.neighborhood import blocked_score_count

    B, heads, d = 1, 2, 8
    q, k, v = (torch.randn(B, heads, L, d) for _ in range(3))
    macs = count_macs(
        lambda *t: sliding_window_attention_1d(*t, window, causal, backend="blocked"), q, k, v
    )
    assert macs == 2 * B * heads * d * blocked_score_count(L, window, causal)  # q.k and weights @ v
    assert blocked_score_count(L, window, causal) <= (2 if causal else 3) * (L + window) * max(
        window, 2
    )


@settings(max_examples=20, deadline=None)
@given(st_.integers(1, 30), st_.one_of(st_.none(), st_.integers(1, 8)))
def test_full_cache_equals_full_sequence_token_by_token(L, window):
    torch.manual_seed(L + 17 * (window or 0))
    q, k, v = (torch.randn(2, 3, L, 4, dtype=torch.float64) for _ in range(3))
    if window is None:
        full = torch.nn.functional.scaled_dot_product_attention(q, k, v, is_causal=True)
    else:
        full = brute_sliding(q, k, v, window, causal=True)
    cache = st.neighborhood.FullKVCache(window)
    assert cache.nbytes() == 0
    for t in range(L):
        out = cache.step(q[:, :, t : t + 1], k[:, :, t : t + 1], v[:, :, t : t + 1])
        assert torch.allclose(out[:, :, 0], full[:, :, t], atol=1e-10)
        assert (
            cache.nbytes() == 2 * 2 * 3 * (t + 1) * 4 * 8
        )  # keys and values of every token so far


@pytest.mark.parametrize(
    "call, error, message",
    [
        (
            lambda: st.neighborhood.longformer_mask(10, 4, [10]),
            ValueError,
            r"positions in \[0, 10\).*got 10",
        ),
        (lambda: st.neighborhood.longformer_mask(10, 4, [-1]), ValueError, "got -1"),
        (
            lambda: st.neighborhood.longformer_mask(10, 4, [1.0]),
            TypeError,
            "global_tokens must hold ints",
        ),
        (
            lambda: st.neighborhood.longformer_mask(10, 4, 3),
            TypeError,
            "global_tokens must be a sequence",
        ),
        (
            lambda: st.neighborhood.longformer_mask(10, 0),
            ValueError,
            "window must be a positive int",
        ),
        (lambda: st.neighborhood.FullKVCache(0), ValueError, "window must be a positive int"),
        (
            lambda: st.neighborhood.blocked_score_count(0, 3),
            ValueError,
            "length must be a positive int",
        ),
        (
            lambda: sliding_window_attention_1d(
                *(torch.randn(1, 1, 5, 2) for _ in range(3)), 3, backend="banded"
            ),
            ValueError,
            "backend must be one of .*'blocked'.*got 'banded'",
        ),
        (
            lambda: sliding_window_attention_1d(*(torch.randn(1, 1, 5, 2) for _ in range(3)), 0),
            ValueError,
            "window must be a positive int",
        ),
        (
            lambda: st.neighborhood.FullKVCache(3).step(
                *(torch.randn(1, 1, 2, 4) for _ in range(3))
            ),
            ValueError,
            "step takes one token",
        ),
        (
            lambda: RollingKVCache(3).step(*(torch.randn(1, 2, 4) for _ in range(3))),
            ValueError,
            r"q must have rank 4 \(B, heads, 1, d\)",
        ),
    ],
)
def test_bad_input_1d(call, error, message):
    with pytest.raises(error, match=message):
        call()
