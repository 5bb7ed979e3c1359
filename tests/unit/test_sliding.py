"""1-D sliding-window attention and the key/value caches against loops over positions."""

import warnings

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st_
from reference import brute_sliding

import swin_tutorial as st
from swin_tutorial import sliding
from swin_tutorial.backends import DENSE_AUTO_MAX_SCORES
from swin_tutorial.complexity import count_macs
from swin_tutorial.sliding import (
    FullKVCache,
    RollingKVCache,
    blocked_score_count,
    longformer_mask,
    sliding_window_attention_1d,
    sliding_window_backend,
    sliding_window_mask,
)


def _qkv(B, heads, L, d, seed, dtype=torch.float64):
    torch.manual_seed(seed)
    return tuple(torch.randn(B, heads, L, d, dtype=dtype) for _ in range(3))


@settings(max_examples=30, deadline=None)
@given(st_.integers(1, 30), st_.integers(1, 12), st_.booleans())
def test_sliding_window_equals_brute_force(L, window, causal):
    q, k, v = _qkv(2, 2, L, 4, L * 13 + window)
    got = sliding_window_attention_1d(q, k, v, window, causal, backend="dense")
    assert torch.allclose(got, brute_sliding(q, k, v, window, causal), atol=1e-10)


@pytest.mark.parametrize("causal", [True, False])
def test_flex_equals_dense_for_sliding_windows(causal):
    q, k, v = _qkv(1, 2, 50, 8, 1, torch.float32)
    dense = sliding_window_attention_1d(q, k, v, 9, causal, backend="dense")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # eager FlexAttention on a CPU warns that it is unfused
        flex = sliding_window_attention_1d(q, k, v, 9, causal, backend="flex")
    assert torch.allclose(dense, flex, atol=1e-5)


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
    got = longformer_mask(length, window, global_tokens)
    assert torch.equal(got, _brute_longformer(length, window, global_tokens))


def test_longformer_global_tokens_see_and_are_seen_by_all():
    mask = longformer_mask(30, 4, [0, 17])
    assert mask[[0, 17]].all() and mask[:, [0, 17]].all()
    others = [t for t in range(30) if t not in (0, 17)]
    band = sliding_window_mask(30, 4, causal=False)
    kept = mask[others][:, others]
    assert torch.equal(kept, band[others][:, others])  # between other tokens: the band only
    assert (band[10].sum(), mask[10].sum()) == (5, 7)  # w = 4: 2 on each side, plus 2 global keys


@settings(max_examples=40, deadline=None)
@given(st_.integers(1, 40), st_.integers(1, 12), st_.booleans(), st_.sampled_from([1, 300, 10**9]))
def test_blocked_backend_equals_brute_force(L, window, causal, budget):
    q, k, v = _qkv(2, 3, L, 4, L * 7 + window)
    with pytest.MonkeyPatch.context() as patch:  # 1: one query block at a time
        patch.setattr(sliding, "BLOCKED_CHUNK_SCORES", budget)
        got = sliding_window_attention_1d(q, k, v, window, causal, backend="blocked")
    assert got.shape == q.shape
    assert torch.allclose(got, brute_sliding(q, k, v, window, causal), atol=1e-10)


@pytest.mark.parametrize(
    "L, window, causal", [(37, 5, True), (37, 5, False), (64, 16, True), (50, 1, False)]
)
def test_blocked_score_count_matches_the_flop_counter(L, window, causal, monkeypatch):
    monkeypatch.setattr(sliding, "BLOCKED_CHUNK_SCORES", 500)  # several groups of blocks
    B, heads, d = 1, 2, 8
    q, k, v = _qkv(B, heads, L, d, 0, torch.float32)
    macs = count_macs(
        lambda *t: sliding_window_attention_1d(*t, window, causal, backend="blocked"), q, k, v
    )
    assert macs == 2 * B * heads * d * blocked_score_count(L, window, causal)  # q.k and weights @ v
    assert blocked_score_count(L, window, causal) <= (2 if causal else 3) * (L + window) * max(
        window, 2
    )


# --------------------------------------------------------------------------- the `auto` rule


def test_auto_threshold_on_a_sequence():
    # batch_heads * L ** 2 <= 2 ** 24: L = 4096 with one head is the last dense length
    assert DENSE_AUTO_MAX_SCORES == 4096**2
    assert sliding_window_backend("auto", 4096, "cpu") == "dense"
    assert sliding_window_backend("auto", 4097, "cpu") == "blocked"
    assert sliding_window_backend("auto", 1024, "cpu", batch_heads=16) == "dense"
    assert sliding_window_backend("auto", 1024, "cpu", batch_heads=17) == "blocked"
    assert sliding_window_backend("auto", 100_000, "cpu", batch_heads=2) == "blocked"
    assert sliding_window_backend("auto", 20, "cuda") == "dense"
    assert sliding_window_backend("dense", 100_000, "cpu") == "dense"  # asked for: as asked


@pytest.mark.parametrize("L, dense", [(1024, True), (1025, False)])
def test_auto_runs_dense_only_below_the_threshold(L, dense):
    q, k, v = _qkv(4, 4, L, 1, 0, torch.float32)  # B * heads = 16: 16 * 1024 ** 2 = 2 ** 24
    macs = count_macs(lambda *t: sliding_window_attention_1d(*t, 8), q, k, v)
    assert macs == 2 * 16 * (L * L if dense else blocked_score_count(L, 8))


# --------------------------------------------------------------------------- caches


def _through(cache, q, k, v):
    return torch.cat(
        [cache.step(*(t[:, :, i : i + 1] for t in (q, k, v))) for i in range(q.shape[2])], 2
    )


@settings(max_examples=20, deadline=None)
@given(st_.integers(1, 40), st_.integers(1, 10))
def test_rolling_cache_equals_full_causal_computation_token_by_token(L, window):
    q, k, v = _qkv(2, 3, L, 4, L + 100 * window)
    full = sliding_window_attention_1d(q, k, v, window, causal=True, backend="dense")
    cache = RollingKVCache(window)
    assert torch.allclose(_through(cache, q, k, v), full, atol=1e-10)
    assert cache.keys.shape[2] == window
    assert cache.nbytes() == 2 * 2 * 3 * window * 4 * 8


@settings(max_examples=20, deadline=None)
@given(st_.integers(1, 30), st_.one_of(st_.none(), st_.integers(1, 8)))
def test_full_cache_equals_full_sequence_token_by_token(L, window):
    q, k, v = _qkv(2, 3, L, 4, L + 17 * (window or 0))
    if window is None:
        full = torch.nn.functional.scaled_dot_product_attention(q, k, v, is_causal=True)
    else:
        full = brute_sliding(q, k, v, window, causal=True)
    cache = FullKVCache(window)
    assert cache.nbytes() == 0
    for t in range(L):
        out = cache.step(q[:, :, t : t + 1], k[:, :, t : t + 1], v[:, :, t : t + 1])
        assert torch.allclose(out[:, :, 0], full[:, :, t], atol=1e-10)
        assert cache.nbytes() == 2 * 2 * 3 * (t + 1) * 4 * 8  # keys and values of every token


def _token(B=2, heads=3, d=4, dtype=torch.float64, device="cpu"):
    return tuple(torch.randn(B, heads, 1, d, dtype=dtype, device=device) for _ in range(3))


@pytest.mark.parametrize("kind", [RollingKVCache, FullKVCache])
@pytest.mark.parametrize(
    "token, error, message",
    [
        (dict(B=1), ValueError, r"\(B, heads, d\) = \(2, 3, 4\), got \(1, 3, 4\)"),
        (dict(heads=2), ValueError, r"\(B, heads, d\) = \(2, 3, 4\), got \(2, 2, 4\)"),
        (dict(d=6), ValueError, r"\(B, heads, d\) = \(2, 3, 4\), got \(2, 3, 6\)"),
        (dict(dtype=torch.float32), TypeError, "torch.float64/cpu, got torch.float32/cpu"),
        (dict(device="meta"), TypeError, "torch.float64/cpu, got torch.float64/meta"),
        (dict(B=0), ValueError, "must not be empty"),
    ],
)
def test_a_failed_step_leaves_the_cache_as_it_was(kind, token, error, message):
    cache = kind(3)
    for _ in range(2):
        cache.step(*_token())
    before = (cache.length, cache.keys.clone(), cache.values.clone(), cache.nbytes())
    with pytest.raises(error, match=message):
        cache.step(*_token(**token))
    assert cache.length == before[0] and cache.nbytes() == before[3]
    assert torch.equal(cache.keys, before[1]) and torch.equal(cache.values, before[2])
    cache.step(*_token())  # and it goes on
    assert cache.length == 3


# --------------------------------------------------------------------------- errors

_FIVE = (1, 1, 5, 2)


@pytest.mark.parametrize(
    "call, error, message",
    [
        (lambda: longformer_mask(10, 4, [10]), ValueError, r"global_tokens\[0\] must be <= 9"),
        (lambda: longformer_mask(10, 4, [3, -1]), ValueError, r"got global_tokens\[1\]=-1"),
        (lambda: longformer_mask(10, 4, [1.0]), TypeError, r"global_tokens\[0\] must be an int"),
        (lambda: longformer_mask(10, 4, 3), TypeError, "global_tokens must be a sequence"),
        (lambda: longformer_mask(10, 0), ValueError, "window must be a positive int"),
        (lambda: FullKVCache(0), ValueError, "window must be a positive int"),
        (lambda: RollingKVCache(0), ValueError, "window must be a positive int"),
        (lambda: sliding_window_mask(10, 0), ValueError, "window must be a positive int"),
        (lambda: blocked_score_count(0, 3), ValueError, "length must be a positive int"),
        (
            lambda: sliding_window_attention_1d(
                *(torch.randn(*_FIVE) for _ in range(3)), 3, backend="banded"
            ),
            ValueError,
            r"backend must be one of \('auto', 'dense', 'flex', 'blocked'\), got backend='banded'",
        ),
        (
            lambda: sliding_window_backend("gather", 10, "cpu"),
            ValueError,
            "backend must be one of",
        ),
        (
            lambda: sliding_window_attention_1d(*(torch.randn(*_FIVE) for _ in range(3)), 0),
            ValueError,
            "window must be a positive int",
        ),
        (
            lambda: sliding_window_attention_1d(*(torch.randn(1, 1, 0, 2) for _ in range(3)), 3),
            ValueError,
            r"q, k and v must not be empty \(B, heads, L, d\), got shape \(1, 1, 0, 2\)",
        ),
        (
            lambda: sliding_window_attention_1d(
                torch.randn(*_FIVE), torch.randn(*_FIVE), torch.randn(*_FIVE).double(), 3
            ),
            ValueError,
            "q, k and v must share one dtype and device",
        ),
        (
            lambda: FullKVCache(3).step(*(torch.randn(1, 1, 2, 4) for _ in range(3))),
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
def test_bad_input(call, error, message):
    with pytest.raises(error, match=message):
        call()


@pytest.mark.parametrize(
    "call",
    [
        lambda causal: sliding_window_mask(10, 3, causal),
        lambda causal: sliding_window_attention_1d(
            *(torch.randn(*_FIVE) for _ in range(3)), 3, causal
        ),
        lambda causal: sliding_window_attention_1d(
            *(torch.randn(*_FIVE) for _ in range(3)), 3, causal, backend="blocked"
        ),
        lambda causal: blocked_score_count(10, 3, causal),
    ],
)
@pytest.mark.parametrize("causal", ["no", 1, None])
def test_causal_must_be_a_bool(call, causal):
    with pytest.raises(TypeError, match=f"causal must be True or False, got causal={causal!r}"):
        call(causal)


def test_names_of_the_reader_namespace():
    assert st.sliding_window_attention_1d is sliding_window_attention_1d
    assert st.RollingKVCache is RollingKVCache and st.FullKVCache is FullKVCache
    assert st.longformer_mask is longformer_mask and st.sliding_window_mask is sliding_window_mask
