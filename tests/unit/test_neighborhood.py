"""2-D neighbourhood attention against loops over coordinates; its backends and the `auto` rule."""

import warnings

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st_
from reference import brute_neighborhood

import swin_tutorial as st
from swin_tutorial import backends, neighborhood
from swin_tutorial.backends import DENSE_AUTO_MAX_SCORES, resolve_backend
from swin_tutorial.complexity import count_macs
from swin_tutorial.neighborhood import (
    NeighborhoodAttention2D,
    neighborhood_attention_2d,
    neighborhood_backend,
)


@st_.composite
def neighborhood_cases(draw, kernels=(1, 3, 5), dilations=(1, 3)):
    kernel = draw(st_.sampled_from(kernels))
    dilation = draw(st_.integers(*dilations))
    H = draw(st_.integers(kernel * dilation, kernel * dilation + 5))
    W = draw(st_.integers(kernel * dilation, kernel * dilation + 5))
    return H, W, kernel, dilation, draw(st_.booleans())


def _inputs(H, W, kernel, with_bias, seed, B=1, heads=2, d=4):
    torch.manual_seed(seed)
    q, k, v = (torch.randn(B, heads, H, W, d, dtype=torch.float64) for _ in range(3))
    table = (heads, 2 * kernel - 1, 2 * kernel - 1)
    return q, k, v, (torch.randn(*table, dtype=torch.float64) if with_bias else None)


@settings(max_examples=30, deadline=None)
@given(neighborhood_cases())
def test_neighborhood_attention_equals_brute_force(case):
    H, W, kernel, dilation, with_bias = case
    q, k, v, bias = _inputs(H, W, kernel, with_bias, H * 31 + W)
    expected = brute_neighborhood(q, k, v, kernel, dilation, bias)
    got = neighborhood_attention_2d(q, k, v, kernel, dilation, bias, backend="dense")
    assert torch.allclose(got, expected, atol=1e-10)


@settings(max_examples=12, deadline=None)
@given(neighborhood_cases(kernels=(5, 7), dilations=(1, 2)), st_.sampled_from([1, 2, 10**9]))
def test_gather_equals_dense_and_brute_force(case, band_rows):
    H, W, kernel, dilation, with_bias = case
    q, k, v, bias = _inputs(H, W, kernel, with_bias, H * 17 + W + kernel)
    budget = band_rows * 2 * W * kernel * kernel * 4  # elements of `band_rows` query rows
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(neighborhood, "GATHER_CHUNK_ELEMENTS", budget)
        got = neighborhood_attention_2d(q, k, v, kernel, dilation, bias, backend="gather")
    dense = neighborhood_attention_2d(q, k, v, kernel, dilation, bias, backend="dense")
    assert torch.allclose(got, dense, atol=1e-12)
    assert torch.allclose(got, brute_neighborhood(q, k, v, kernel, dilation, bias), atol=1e-12)


def _gradients(fn, q, k, v, bias, upstream):
    inputs = [t.clone().requires_grad_(True) for t in (q, k, v, bias)]
    (fn(*inputs) * upstream).sum().backward()
    return [t.grad for t in inputs]


@pytest.mark.parametrize("H, W, kernel, dilation", [(13, 11, 5, 2), (9, 17, 7, 1), (19, 16, 5, 3)])
def test_gather_gradients_equal_dense_and_brute_force(H, W, kernel, dilation, monkeypatch):
    monkeypatch.setattr(neighborhood, "GATHER_CHUNK_ELEMENTS", 1)  # one query row per band
    q, k, v, bias = _inputs(H, W, kernel, True, H + W)
    upstream = torch.randn(q.shape, dtype=torch.float64)
    grads = {
        name: _gradients(
            lambda q, k, v, b, name=name: neighborhood_attention_2d(
                q, k, v, kernel, dilation, b, backend=name
            ),
            q,
            k,
            v,
            bias,
            upstream,
        )
        for name in ("gather", "dense")
    }
    brute = _gradients(
        lambda q, k, v, b: brute_neighborhood(q, k, v, kernel, dilation, b), q, k, v, bias, upstream
    )
    for got, dense, expected in zip(grads["gather"], grads["dense"], brute, strict=True):
        assert torch.allclose(got, dense, atol=1e-10)
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


def test_module_runs_and_rejects_bad_maps():
    layer = NeighborhoodAttention2D(16, 2, kernel_size=5, dilation=1)
    assert layer(torch.randn(2, 7, 9, 16)).shape == (2, 7, 9, 16)
    with pytest.raises(ValueError, match="kernel_size=5 is larger than the map"):
        layer(torch.randn(1, 4, 9, 16))


@pytest.mark.parametrize("backend", ["flex", "gather"])
def test_module_backends_agree(backend):
    torch.manual_seed(3)
    reference = NeighborhoodAttention2D(8, 2, kernel_size=5, dilation=2, backend="dense").double()
    layer = NeighborhoodAttention2D(8, 2, kernel_size=5, dilation=2, backend=backend).double()
    layer.load_state_dict(reference.state_dict())
    x = torch.randn(2, 11, 13, 8, dtype=torch.float64)
    with torch.no_grad():
        assert torch.allclose(_quiet_flex(layer, x), reference(x), atol=1e-10)


# --------------------------------------------------------------------------- the `auto` rule


def test_resolve_backend_rule():
    at, above = DENSE_AUTO_MAX_SCORES, DENSE_AUTO_MAX_SCORES + 1
    flex_or_linear = "flex" if backends.flex_attention_available() else "gather"
    assert resolve_backend("auto", "cpu", at, "gather") == "dense"
    assert resolve_backend("auto", "cuda", at, "gather") == "dense"
    assert resolve_backend("auto", "cpu", above, "gather") == "gather"
    assert resolve_backend("auto", "cuda", above, "gather") == flex_or_linear
    for name in ("dense", "flex", "gather"):  # asked for: run as asked, whatever the size
        assert resolve_backend(name, "cpu", above, "gather") == name
        assert resolve_backend(name, "cpu", 1, "gather") == name


def test_auto_threshold_on_a_map():
    # batch_heads * (H * W) ** 2 <= 2 ** 24: a 64 x 64 map with one head is the last dense one
    assert DENSE_AUTO_MAX_SCORES == 2**24 == (64 * 64) ** 2
    assert neighborhood_backend("auto", 64, 64, "cpu") == "dense"
    assert neighborhood_backend("auto", 64, 65, "cpu") == "gather"
    assert neighborhood_backend("auto", 32, 32, "cpu", batch_heads=16) == "dense"
    assert neighborhood_backend("auto", 32, 32, "cpu", batch_heads=17) == "gather"
    assert neighborhood_backend("auto", 128, 128, "cpu", batch_heads=2) == "gather"


@pytest.mark.parametrize("H, W, dense", [(32, 32, True), (32, 33, False)])
def test_auto_runs_dense_only_below_the_threshold(H, W, dense):
    # B * heads = 16: 16 * (32 * 32) ** 2 = 2 ** 24 entries, the largest dense one
    q, k, v = (torch.randn(4, 4, H, W, 1) for _ in range(3))
    macs = count_macs(lambda *t: neighborhood_attention_2d(*t, 3), q, k, v)
    T = H * W
    assert macs == 2 * 16 * T * (T if dense else 9)  # q.k and weights @ v; d = 1


# --------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    "call, error, message",
    [
        (lambda: st.neighborhood_mask(8, 8, 4), ValueError, "kernel_size must be odd"),
        (lambda: st.neighborhood_mask(8, 8, 3, 3), ValueError, "dilation=3 with kernel_size=3"),
        (
            lambda: NeighborhoodAttention2D(16, 2, kernel_size=4),
            ValueError,
            "kernel_size must be odd",
        ),
        (lambda: NeighborhoodAttention2D(16, 3), ValueError, "num_heads=3 must divide dim=16"),
        (
            lambda: NeighborhoodAttention2D(16, 2, backend="fast"),
            ValueError,
            r"backend must be one of .*'gather'.*got backend='fast'",
        ),
        (
            lambda: neighborhood_backend("cuda-only", 8, 8, "cpu"),
            ValueError,
            "backend must be one of",
        ),
        (
            lambda: neighborhood_attention_2d(*(torch.randn(0, 1, 5, 5, 2) for _ in range(3)), 3),
            ValueError,
            r"must not be empty \(B, heads, H, W, d\), got shape \(0, 1, 5, 5, 2\)",
        ),
        (
            lambda: NeighborhoodAttention2D(4, 1, kernel_size=3)(torch.randn(2, 0, 5, 4)),
            ValueError,
            "must not be empty",
        ),
        (
            lambda: neighborhood_attention_2d(
                torch.randn(1, 1, 5, 5, 2), *(torch.randn(1, 1, 5, 5, 2).double() for _ in "kv"), 3
            ),
            ValueError,
            "q, k and v must share one dtype and device",
        ),
        (
            lambda: neighborhood_attention_2d(
                *(torch.randn(1, 2, 5, 5, 2) for _ in range(3)), 3, bias=torch.zeros(2, 3, 3)
            ),
            ValueError,
            r"bias must have shape \(heads, 2k-1, 2k-1\) = \(2, 5, 5\), got \(2, 3, 3\)",
        ),
    ],
)
def test_bad_input(call, error, message):
    with pytest.raises(error, match=message):
        call()


@pytest.mark.gpu
def test_flex_equals_dense_on_gpu():
    torch.manual_seed(2)
    q, k, v = (torch.randn(2, 3, 56, 56, 32, device="cuda") for _ in range(3))
    bias = torch.randn(3, 13, 13, device="cuda")
    assert neighborhood_backend("auto", 56, 56, "cuda", batch_heads=6) == "flex"
    dense = neighborhood_attention_2d(q, k, v, 7, 1, bias, backend="dense")
    for backend in ("flex", "gather", "auto"):
        other = neighborhood_attention_2d(q, k, v, 7, 1, bias, backend=backend)
        assert torch.allclose(dense, other, atol=1e-4)
