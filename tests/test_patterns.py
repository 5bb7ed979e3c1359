"""Who-attends-whom patterns and the neighbourhood mask, against brute force from coordinates."""

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st_

from reference import coordinate_mask
from swin_tutorial.neighborhood import neighborhood_mask
from swin_tutorial.patterns import (
    global_pattern,
    neighborhood_pattern,
    receptive_field,
    shifted_window_pattern,
    window_pattern,
)

small = settings(max_examples=40, deadline=None)


# ----------------------------------------------------------------- brute force from coordinates


def brute_shifted_windows(H, W, window, shift):
    """Loop over token pairs. In the frame rolled up-left by the shift, token (i, j)
    sits at ((i - sh) mod H, (j - sw) mod W). Two tokens may attend each other when
    they share a window of the rolled frame on both axes AND lie on the same side
    of the wrap on both axes (both among the first ``s`` rows/columns, which the
    roll carries to the far end, or both not)."""
    (wh, ww), (sh, sw) = window, shift
    T = H * W
    out = torch.zeros(T, T, dtype=torch.bool)
    for q in range(T):
        i, j = divmod(q, W)
        for k in range(T):
            a, b = divmod(k, W)
            same_window = ((i - sh) % H) // wh == ((a - sh) % H) // wh and (
                (j - sw) % W
            ) // ww == ((b - sw) % W) // ww
            same_side = (i < sh) == (a < sh) and (j < sw) == (b < sw)
            out[q, k] = same_window and same_side
    return out


def segment(position, window, shift):
    """Window index along one axis of the shifted partition seen on the original map:
    [0, s) is window 0, then [s, s + M), [s + M, s + 2M), ... ."""
    return 0 if position < shift else 1 + (position - shift) // window


def brute_neighbourhood_axis(length, kernel, dilation, position):
    """Positions one query sees along one axis, listed from its dilation group."""
    group = [p for p in range(length) if p % dilation == position % dilation]
    index = group.index(position)
    start = min(max(index - kernel // 2, 0), len(group) - kernel)
    return set(group[start : start + kernel])


def brute_neighbourhood(H, W, kernel, dilation):
    T = H * W
    out = torch.zeros(T, T, dtype=torch.bool)
    for q in range(T):
        i, j = divmod(q, W)
        rows = brute_neighbourhood_axis(H, kernel, dilation, i)
        cols = brute_neighbourhood_axis(W, kernel, dilation, j)
        for k in range(T):
            a, b = divmod(k, W)
            out[q, k] = a in rows and b in cols
    return out


@st_.composite
def shifted_cases(draw):
    wh, ww = draw(st_.integers(1, 4)), draw(st_.integers(1, 4))
    H, W = wh * draw(st_.integers(1, 3)), ww * draw(st_.integers(1, 3))
    sh, sw = draw(st_.integers(0, wh - 1)), draw(st_.integers(0, ww - 1))
    return H, W, (wh, ww), (sh, sw)


# ----------------------------------------------------------------- window patterns


@small
@given(shifted_cases())
def test_shifted_window_pattern_equals_brute_force(case):
    H, W, window, shift = case
    pattern = shifted_window_pattern(H, W, window, shift)
    assert torch.equal(pattern, brute_shifted_windows(H, W, window, shift))
    # the same relation, seen as windows of the original map (segments per axis)
    rows = torch.tensor([segment(i, window[0], shift[0]) for i in range(H)])
    cols = torch.tensor([segment(j, window[1], shift[1]) for j in range(W)])
    seg = (rows[:, None] * (W + 1) + cols[None, :]).flatten()
    assert torch.equal(pattern, seg[:, None] == seg[None, :])
    # and the tests' shared reference, written independently
    assert torch.equal(pattern, coordinate_mask(H, W, window, shift))


@small
@given(shifted_cases())
def test_shifted_windows_count(case):
    H, W, (wh, ww), (sh, sw) = case
    pattern = shifted_window_pattern(H, W, (wh, ww), (sh, sw))
    classes = {tuple(row.nonzero().flatten().tolist()) for row in pattern}
    assert len(classes) == (H // wh + (sh > 0)) * (W // ww + (sw > 0))
    # an equivalence relation: reflexive, symmetric, transitive
    assert pattern.diagonal().all() and torch.equal(pattern, pattern.T)
    assert torch.equal((pattern.float() @ pattern.float()) > 0, pattern)


@small
@given(shifted_cases())
def test_window_pattern_is_block_diagonal_after_permutation(case):
    H, W, (wh, ww), _ = case
    pattern = window_pattern(H, W, (wh, ww))
    i, j = torch.meshgrid(torch.arange(H), torch.arange(W), indexing="ij")
    window_id = ((i // wh) * (W // ww) + j // ww).flatten()
    inside = ((i % wh) * ww + j % ww).flatten()
    order = torch.argsort(window_id * wh * ww + inside)  # tokens window by window
    blocks = [torch.ones(wh * ww, wh * ww, dtype=torch.bool)] * ((H // wh) * (W // ww))
    assert torch.equal(pattern[order][:, order], torch.block_diag(*blocks))
    assert torch.equal(pattern, shifted_window_pattern(H, W, (wh, ww), 0))


def test_global_pattern():
    assert global_pattern(3, 5).shape == (15, 15) and global_pattern(3, 5).all()


def test_pattern_errors():
    with pytest.raises(ValueError, match="window_size"):
        window_pattern(6, 6, 4)
    with pytest.raises(ValueError, match="shift_size"):
        shifted_window_pattern(8, 8, 4, 4)
    with pytest.raises(ValueError, match="H"):
        global_pattern(0, 3)


# ----------------------------------------------------------------- neighbourhood


@st_.composite
def neighbourhood_cases(draw):
    kernel = draw(st_.sampled_from([1, 3, 5]))
    dilation = draw(st_.integers(1, 3))
    H = draw(st_.integers(kernel * dilation, kernel * dilation + 4))
    W = draw(st_.integers(kernel * dilation, kernel * dilation + 4))
    return H, W, kernel, dilation


@small
@given(neighbourhood_cases())
def test_neighbourhood_mask_equals_brute_force(case):
    H, W, kernel, dilation = case
    mask = neighborhood_mask(H, W, kernel, dilation)
    assert mask.dtype == torch.bool and mask.shape == (H * W, H * W)
    assert torch.equal(mask, brute_neighbourhood(H, W, kernel, dilation))
    assert (mask.sum(dim=1) == kernel * kernel).all()
    assert mask.diagonal().all()
    assert torch.equal(neighborhood_pattern(H, W, kernel, dilation), mask)


def test_neighbourhood_is_centred_away_from_borders():
    H = W = 11
    mask = neighborhood_mask(H, W, 3, dilation=2)
    q = 5 * W + 5
    seen = {divmod(k, W) for k in mask[q].nonzero().flatten().tolist()}
    assert seen == {(5 + 2 * a, 5 + 2 * b) for a in (-1, 0, 1) for b in (-1, 0, 1)}
    # at a corner the neighbourhood is shifted inward, not cut
    corner = {divmod(k, W) for k in mask[0].nonzero().flatten().tolist()}
    assert corner == {(2 * a, 2 * b) for a in range(3) for b in range(3)}


def test_neighbourhood_mask_errors():
    with pytest.raises(ValueError, match="kernel_size"):
        neighborhood_mask(8, 8, 4)
    with pytest.raises(ValueError, match="kernel_size"):
        neighborhood_mask(8, 4, 5)
    with pytest.raises(ValueError, match="dilation"):
        neighborhood_mask(8, 8, 3, dilation=3)
    with pytest.raises(ValueError, match="dilation"):
        neighborhood_mask(8, 8, 3, dilation=0)


# ----------------------------------------------------------------- receptive field


def test_receptive_field_order_and_composition():
    # query t sees t-1 and t: after L layers token 4 is reached from 4-L .. 4
    T = 5
    causal_pair = torch.eye(T, dtype=torch.bool) | torch.eye(T, dtype=torch.bool).roll(-1, dims=1).tril()
    assert receptive_field([causal_pair] * 2, 4).nonzero().flatten().tolist() == [2, 3, 4]
    # the first layer is applied first: windows then shifted != shifted then windows
    regular, shifted = window_pattern(8, 8, 4), shifted_window_pattern(8, 8, 4, 2)
    assert int(receptive_field([regular, shifted], 0).sum()) == 16
    assert int(receptive_field([shifted, regular], 0).sum()) == 36


@settings(max_examples=20, deadline=None)
@given(shifted_cases(), st_.integers(1, 6), st_.data())
def test_windows_without_shift_never_leave_the_window(case, layers, data):
    H, W, window, _ = case
    regular = window_pattern(H, W, window)
    query = data.draw(st_.integers(0, H * W - 1))
    reach = receptive_field([regular] * layers, query)
    assert torch.equal(reach, regular[query])
    # a fixed point: one more layer adds nothing, so no number of layers ever does
    assert torch.equal(receptive_field([regular], query), receptive_field([regular] * 2, query))


def layers_to_cover(H, W, window, shift):
    """Fewest alternating (regular, shifted, regular, ...) layers after which every
    query's receptive field is the whole map."""
    regular, shifted = window_pattern(H, W, window), shifted_window_pattern(H, W, window, shift)
    for layers in range(1, 4 * (H + W)):
        stack = [regular if layer % 2 == 0 else shifted for layer in range(layers)]
        if all(receptive_field(stack, q).all() for q in range(H * W)):
            return layers
    raise AssertionError("never covered")


def test_alternating_shift_covers_8x8_in_3_layers():
    assert layers_to_cover(8, 8, 4, 2) == 3
    regular, shifted = window_pattern(8, 8, 4), shifted_window_pattern(8, 8, 4, 2)
    assert not receptive_field([regular, shifted], 0).all()  # 2 layers are not enough
    assert receptive_field([regular, shifted, regular], 0).all()


@pytest.mark.parametrize("H, W, window, shift", [(4, 4, 4, 2), (12, 8, 4, 1), (9, 6, 3, 1), (10, 10, 5, 3)])
def test_alternating_shift_covers_in_2n_minus_1_layers(H, W, window, shift):
    # n windows along the longer axis: each layer reaches about half a window further
    assert layers_to_cover(H, W, window, shift) == 2 * max(H, W) // window - 1


def test_global_covers_everything_after_one_layer():
    assert all(receptive_field([global_pattern(5, 7)], q).all() for q in range(35))


def test_receptive_field_errors():
    regular = window_pattern(4, 4, 2)
    with pytest.raises(ValueError, match="patterns"):
        receptive_field([], 0)
    with pytest.raises(ValueError, match="patterns"):
        receptive_field([regular, window_pattern(2, 2, 2)], 0)
    with pytest.raises(ValueError, match="query"):
        receptive_field([regular], 16)
    with pytest.raises(TypeError, match="patterns"):
        receptive_field([regular.float()], 0)
