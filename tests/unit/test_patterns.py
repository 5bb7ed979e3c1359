"""Who-attends-whom patterns and the neighbourhood mask, against brute force from coordinates."""

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st_
from reference import coordinate_mask

from swin_tutorial.complexity import attention_flops
from swin_tutorial.neighborhood import neighborhood_mask
from swin_tutorial.patterns import (
    PatternCost,
    check_layer_patterns,
    global_pattern,
    halo_pattern,
    neighborhood_pattern,
    overlapping_window_pattern,
    pattern_cost,
    receptive_field,
    receptive_field_sizes,
    separable_factors,
    shifted_window_pattern,
    window_pattern,
)
from swin_tutorial.patterns import layers_to_cover as package_layers_to_cover

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
            same_window = ((i - sh) % H) // wh == ((a - sh) % H) // wh and ((j - sw) % W) // ww == (
                (b - sw) % W
            ) // ww
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
    causal_pair = (
        torch.eye(T, dtype=torch.bool) | torch.eye(T, dtype=torch.bool).roll(-1, dims=1).tril()
    )
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


@pytest.mark.parametrize(
    "H, W, window, shift", [(4, 4, 4, 2), (12, 8, 4, 1), (9, 6, 3, 1), (10, 10, 5, 3)]
)
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


# ============================================================ variants of the window (chapter 8)


def brute_windows_1d(length, window, stride):
    """Window starts along one axis, listed one by one: every `stride` from 0, the last
    one moved back so that it ends exactly at the border."""
    starts, t = [], 0
    while True:
        start = min(t * stride, length - window)
        starts.append(start)
        if start + window >= length:
            return starts
        t += 1


def brute_overlapping_axis(length, window, stride, rule, position):
    """Positions one query sees along one axis, from the list of windows."""
    starts = brute_windows_1d(length, window, stride)
    if rule == "union":
        return {p for a in starts if a <= position < a + window for p in range(a, a + window)}
    # nearest centre, in fractions; the earlier window wins a tie
    best = min(starts, key=lambda a: (abs(position - (a + (window - 1) / 2)), a))
    return set(range(best, best + window))


def brute_from_axes(H, W, row_rule, col_rule):
    """Loop over all (query, key) pairs of an H x W map with a per-axis rule."""
    T = H * W
    out = torch.zeros(T, T, dtype=torch.bool)
    for q in range(T):
        i, j = divmod(q, W)
        rows, cols = row_rule(i), col_rule(j)
        for k in range(T):
            a, b = divmod(k, W)
            out[q, k] = a in rows and b in cols
    return out


def brute_overlapping(H, W, window, stride, rule):
    (wh, ww), (sh, sw) = window, stride
    return brute_from_axes(
        H,
        W,
        lambda i: brute_overlapping_axis(H, wh, sh, rule, i),
        lambda j: brute_overlapping_axis(W, ww, sw, rule, j),
    )


def brute_halo(H, W, block, halo):
    (bh, bw), (hh, hw) = block, halo
    T = H * W
    out = torch.zeros(T, T, dtype=torch.bool)
    for q in range(T):
        i, j = divmod(q, W)
        top, left = i - i % bh, j - j % bw  # corner of the query's block
        for k in range(T):
            a, b = divmod(k, W)
            out[q, k] = top - hh <= a < top + bh + hh and left - hw <= b < left + bw + hw
    return out


def halo_by_unfold(H, W, block, halo):
    """HaloNet's gather: pad the id map with zeros (ids + 1, so 0 is padding) and unfold
    (b + 2h)-sized regions with stride b, one per query block."""
    (bh, bw), (hh, hw) = block, halo
    ids = torch.arange(1, H * W + 1, dtype=torch.float64).reshape(1, 1, H, W)
    padded = F.pad(ids, (hw, hw, hh, hh))
    regions = F.unfold(padded, kernel_size=(bh + 2 * hh, bw + 2 * hw), stride=(bh, bw))[0].T.long()
    out = torch.zeros(H * W, H * W, dtype=torch.bool)
    for q in range(H * W):
        i, j = divmod(q, W)
        region = regions[(i // bh) * (W // bw) + j // bw]
        out[q, region[region > 0] - 1] = True
    return out, regions


@st_.composite
def overlapping_cases(draw):
    wh, ww = draw(st_.integers(1, 5)), draw(st_.integers(1, 5))
    H, W = draw(st_.integers(wh, wh + 7)), draw(st_.integers(ww, ww + 7))
    sh, sw = draw(st_.integers(1, wh)), draw(st_.integers(1, ww))
    return H, W, (wh, ww), (sh, sw)


@st_.composite
def halo_cases(draw):
    bh, bw = draw(st_.integers(1, 4)), draw(st_.integers(1, 4))
    H, W = bh * draw(st_.integers(1, 4)), bw * draw(st_.integers(1, 4))
    hh, hw = draw(st_.integers(0, 3)), draw(st_.integers(0, 3))
    return H, W, (bh, bw), (hh, hw)


# ----------------------------------------------------------------- overlapping windows


@small
@given(overlapping_cases(), st_.sampled_from(["nearest", "union"]))
def test_overlapping_window_pattern_equals_brute_force(case, rule):
    H, W, window, stride = case
    pattern = overlapping_window_pattern(H, W, window, stride, rule=rule)
    assert pattern.dtype == torch.bool and pattern.shape == (H * W, H * W)
    assert torch.equal(pattern, brute_overlapping(H, W, window, stride, rule))
    assert pattern.diagonal().all()  # a query always lies in its own window


@small
@given(overlapping_cases())
def test_overlapping_nearest_sees_one_whole_window(case):
    H, W, (wh, ww), stride = case
    nearest = overlapping_window_pattern(H, W, (wh, ww), stride)
    union = overlapping_window_pattern(H, W, (wh, ww), stride, rule="union")
    assert (nearest.sum(dim=1) == wh * ww).all()
    assert not (nearest & ~union).any()  # the union contains the nearest window
    assert torch.equal(union, union.T)  # sharing a window is symmetric
    # each row of "nearest" is a whole window: a rectangle of wh x ww tokens
    for q in range(0, H * W, max(1, H * W // 7)):
        a, b = nearest[q].reshape(H, W).nonzero().unbind(1)
        assert int(a.max() - a.min()) == wh - 1 and int(b.max() - b.min()) == ww - 1


@small
@given(overlapping_cases())
def test_overlapping_union_equals_unfold_windows(case):
    # when the windows fit exactly, they are unfold's windows: two tokens see each other
    # under "union" iff some unfold window holds both
    H, W, (wh, ww), (sh, sw) = case
    H, W = H - (H - wh) % sh, W - (W - ww) % sw  # make (L - M) a multiple of S
    ids = torch.arange(H * W, dtype=torch.float64).reshape(1, 1, H, W)
    windows = F.unfold(ids, kernel_size=(wh, ww), stride=(sh, sw))[0].T.long()  # (n, M*M)
    member = torch.zeros(windows.shape[0], H * W)
    member.scatter_(1, windows, 1.0)
    together = (member.T @ member) > 0
    assert torch.equal(overlapping_window_pattern(H, W, (wh, ww), (sh, sw), rule="union"), together)


@small
@given(neighbourhood_cases())
def test_overlapping_stride_one_is_neighbourhood_attention(case):
    H, W, kernel, _ = case
    assert torch.equal(
        overlapping_window_pattern(H, W, kernel, 1), neighborhood_pattern(H, W, kernel)
    )


@small
@given(shifted_cases())
def test_overlapping_stride_equal_to_window_is_block_windows(case):
    H, W, window, _ = case
    for rule in ("nearest", "union"):
        assert torch.equal(
            overlapping_window_pattern(H, W, window, window, rule=rule),
            window_pattern(H, W, window),
        )


def test_overlapping_known_line():
    # 8 positions, windows of 4 every 2: windows [0,4), [2,6), [4,8)
    pattern = overlapping_window_pattern(8, 1, (4, 1), (2, 1))
    seen = [pattern[p].nonzero().flatten().tolist() for p in range(8)]
    assert (
        seen[:3] == [[0, 1, 2, 3]] * 3
        and seen[3:5] == [[2, 3, 4, 5]] * 2
        and seen[5:] == [[4, 5, 6, 7]] * 3
    )
    union = overlapping_window_pattern(8, 1, (4, 1), (2, 1), rule="union")
    assert union[3].nonzero().flatten().tolist() == [0, 1, 2, 3, 4, 5]
    # 10 positions, windows of 4 every 3: starts 0, 3, 6 (the last pulled back from 9 is not needed)
    assert overlapping_window_pattern(10, 1, (4, 1), (3, 1))[9].nonzero().flatten().tolist() == [
        6,
        7,
        8,
        9,
    ]
    # 9 positions, windows of 4 every 3: starts 0, 3, 5 (the last pulled back to end at 9)
    assert overlapping_window_pattern(9, 1, (4, 1), (3, 1))[8].nonzero().flatten().tolist() == [
        5,
        6,
        7,
        8,
    ]


def test_overlapping_errors():
    with pytest.raises(ValueError, match="stride"):
        overlapping_window_pattern(8, 8, 4, 5)
    with pytest.raises(ValueError, match="stride"):
        overlapping_window_pattern(8, 8, 4, 0)
    with pytest.raises(TypeError, match="stride"):
        overlapping_window_pattern(8, 8, 4, 1.5)
    with pytest.raises(ValueError, match="window_size"):
        overlapping_window_pattern(8, 3, 4, 2)
    with pytest.raises(ValueError, match="window_size"):
        overlapping_window_pattern(8, 8, 0, 1)
    with pytest.raises(ValueError, match="rule"):
        overlapping_window_pattern(8, 8, 4, 2, rule="centre")
    with pytest.raises(ValueError, match="W"):
        overlapping_window_pattern(8, 0, 4, 2)


# ----------------------------------------------------------------- HaloNet


@small
@given(halo_cases())
def test_halo_pattern_equals_brute_force_and_unfold(case):
    H, W, block, halo = case
    pattern = halo_pattern(H, W, block, halo)
    assert pattern.dtype == torch.bool and pattern.shape == (H * W, H * W)
    assert torch.equal(pattern, brute_halo(H, W, block, halo))
    gathered, regions = halo_by_unfold(H, W, block, halo)
    assert torch.equal(pattern, gathered)
    (bh, bw), (hh, hw) = block, halo
    assert regions.shape == (H * W // (bh * bw), (bh + 2 * hh) * (bw + 2 * hw))  # slots per block
    assert int(pattern.sum(dim=1).max()) <= (bh + 2 * hh) * (bw + 2 * hw)
    assert pattern.diagonal().all()


@small
@given(halo_cases())
def test_halo_queries_of_a_block_share_their_keys(case):
    H, W, (bh, bw), halo = case
    pattern = halo_pattern(H, W, (bh, bw), halo)
    i, j = torch.meshgrid(torch.arange(H), torch.arange(W), indexing="ij")
    block = ((i // bh) * W + j // bw).flatten()
    same_block = block[:, None] == block[None, :]
    rows_equal = (pattern[:, None, :] == pattern[None, :, :]).all(dim=2)
    assert not (same_block & ~rows_equal).any()
    assert torch.equal(halo_pattern(H, W, (bh, bw), 0), window_pattern(H, W, (bh, bw)))


def test_halo_counts_real_keys_only():
    # b = 4, h = 2 on 16 x 16: interior blocks see (4 + 4)^2 = 64 tokens,
    # corner blocks (4 + 2)^2 = 36
    pattern = halo_pattern(16, 16, 4, 2)
    keys = pattern.sum(dim=1).reshape(16, 16)
    assert int(keys[0, 0]) == 36 and int(keys[5, 5]) == 64 and int(keys[0, 5]) == 6 * 8
    # one-token blocks: a centred (2h + 1)^2 window, cut (not shifted) at the border
    sasa = halo_pattern(9, 9, 1, 2)
    assert int(sasa[4 * 9 + 4].sum()) == 25 and int(sasa[0].sum()) == 9
    # one block covering the map: global attention
    assert torch.equal(halo_pattern(6, 6, 6, 0), global_pattern(6, 6))


def test_halo_errors():
    with pytest.raises(ValueError, match="block_size"):
        halo_pattern(10, 8, 4, 1)
    with pytest.raises(ValueError, match="block_size"):
        halo_pattern(8, 8, 0, 1)
    with pytest.raises(ValueError, match="halo"):
        halo_pattern(8, 8, 4, -1)
    with pytest.raises(TypeError, match="halo"):
        halo_pattern(8, 8, 4, (1, 2, 3))
    with pytest.raises(ValueError, match="H"):
        halo_pattern(-4, 8, 4, 1)


# ----------------------------------------------------------------- cost, reach, separability


@small
@given(overlapping_cases(), st_.integers(1, 64))
def test_pattern_cost_counts_keys(case, channels):
    H, W, window, stride = case
    pattern = overlapping_window_pattern(H, W, window, stride, rule="union")
    counts = [sum(bool(v) for v in row) for row in pattern.tolist()]
    cost = pattern_cost(pattern, channels)
    assert isinstance(cost, PatternCost)
    assert (cost.keys_min, cost.keys_max) == (min(counts), max(counts))
    assert cost.keys_mean == pytest.approx(sum(counts) / len(counts))
    assert cost.score_macs == 2 * channels * sum(counts)


@small
@given(shifted_cases(), st_.integers(1, 32))
def test_pattern_cost_of_windows_matches_the_swin_formula(case, channels):
    H, W, window, _ = case
    projections = 4 * H * W * channels * channels
    macs = pattern_cost(window_pattern(H, W, window), channels).score_macs
    assert macs == attention_flops(H, W, channels, window) - projections
    assert (
        pattern_cost(global_pattern(H, W), channels).score_macs
        == attention_flops(H, W, channels) - projections
    )


def random_pattern_with_diagonal(T, density, generator):
    return (torch.rand(T, T, generator=generator) < density) | torch.eye(T, dtype=torch.bool)


@small
@given(st_.integers(1, 12), st_.integers(1, 3), st_.integers(1, 5), st_.integers(0, 2**31 - 1))
def test_receptive_field_sizes_equal_receptive_field(T, period, layers, seed):
    generator = torch.Generator().manual_seed(seed)
    patterns = [random_pattern_with_diagonal(T, 0.15, generator) for _ in range(period)]
    sizes = receptive_field_sizes(patterns, layers)
    assert sizes.shape == (layers, T)
    for depth in range(1, layers + 1):
        stack = [patterns[layer % period] for layer in range(depth)]
        expected = [int(receptive_field(stack, q).sum()) for q in range(T)]
        assert sizes[depth - 1].tolist() == expected


def brute_layers_to_cover(patterns, limit):
    """Try 1, 2, ... layers, checking every query with receptive_field."""
    T = patterns[0].shape[0]
    for depth in range(1, limit + 1):
        stack = [patterns[layer % len(patterns)] for layer in range(depth)]
        if all(receptive_field(stack, q).all() for q in range(T)):
            return depth
    return None


@small
@given(st_.integers(1, 10), st_.integers(1, 3), st_.integers(0, 2**31 - 1))
def test_layers_to_cover_equals_brute_force(T, period, seed):
    generator = torch.Generator().manual_seed(seed)
    patterns = [random_pattern_with_diagonal(T, 0.12, generator) for _ in range(period)]
    expected = brute_layers_to_cover(patterns, limit=T * period + 1)  # growth stops within T cycles
    assert package_layers_to_cover(patterns) == expected
    if expected is not None and expected > 1:
        assert package_layers_to_cover(patterns, max_layers=expected - 1) is None
        assert package_layers_to_cover(patterns, max_layers=expected) == expected


@pytest.mark.parametrize("H, W, window, shift", [(8, 8, 4, 2), (12, 8, 4, 1), (9, 6, 3, 1)])
def test_layers_to_cover_swin_matches_the_test_helper(H, W, window, shift):
    stack = [window_pattern(H, W, window), shifted_window_pattern(H, W, window, shift)]
    assert package_layers_to_cover(stack) == layers_to_cover(H, W, window, shift)


def test_layers_to_cover_never():
    assert package_layers_to_cover(window_pattern(8, 8, 4)) is None
    assert (
        package_layers_to_cover([neighborhood_pattern(9, 9, 3, dilation=3)]) is None
    )  # stays in its group
    mixed = [neighborhood_pattern(9, 9, 3), neighborhood_pattern(9, 9, 3, dilation=3)]
    assert package_layers_to_cover(mixed) == brute_layers_to_cover(mixed, 20) is not None
    assert package_layers_to_cover(global_pattern(3, 4)) == 1
    # a layer that adds nothing does not end the search while another pattern of the cycle may
    regular, shifted = window_pattern(8, 8, 4), shifted_window_pattern(8, 8, 4, 2)
    assert (
        package_layers_to_cover([regular, regular, shifted])
        == brute_layers_to_cover([regular, regular, shifted], 20)
        == 4
    )


@small
@given(overlapping_cases(), st_.data())
def test_separable_factors_rebuild_every_variant(case, data):
    H, W, window, stride = case
    patterns = [
        overlapping_window_pattern(H, W, window, stride, rule=r) for r in ("nearest", "union")
    ]
    bh, bw = data.draw(st_.sampled_from([d for d in range(1, H + 1) if H % d == 0])), 1
    patterns.append(halo_pattern(H, W, (bh, bw), data.draw(st_.integers(0, 2))))
    for pattern in patterns:
        rows, cols = separable_factors(pattern, H, W)
        assert rows.shape == (H, H) and cols.shape == (W, W)
        assert torch.equal(torch.kron(rows.long(), cols.long()) > 0, pattern)


@pytest.mark.parametrize("name", ["window", "swin", "neighbourhood", "dilated", "halo", "overlap"])
def test_layers_to_cover_a_map_is_the_slower_axis(name):
    H, W = 12, 8
    stacks = {
        "window": [window_pattern(H, W, 4)],
        "swin": [window_pattern(H, W, 4), shifted_window_pattern(H, W, 4, 2)],
        "neighbourhood": [neighborhood_pattern(H, W, 3)],
        "dilated": [neighborhood_pattern(H, W, 3), neighborhood_pattern(H, W, 3, dilation=2)],
        "halo": [halo_pattern(H, W, 4, 1)],
        "overlap": [overlapping_window_pattern(H, W, 4, 2)],
    }
    stack = stacks[name]
    rows = [separable_factors(p, H, W)[0] for p in stack]
    cols = [separable_factors(p, H, W)[1] for p in stack]
    per_axis = [package_layers_to_cover(rows), package_layers_to_cover(cols)]
    expected = None if None in per_axis else max(per_axis)
    assert package_layers_to_cover(stack) == expected == brute_layers_to_cover(stack, 40)


def test_cost_and_reach_errors():
    regular = window_pattern(4, 4, 2)
    with pytest.raises(ValueError, match="channels"):
        pattern_cost(regular, 0)
    with pytest.raises(TypeError, match="pattern"):
        pattern_cost(regular.long(), 8)
    with pytest.raises(ValueError, match="pattern"):
        pattern_cost(regular[:3], 8)
    with pytest.raises(ValueError, match="num_layers"):
        receptive_field_sizes([regular], 0)
    with pytest.raises(ValueError, match="layer_patterns"):
        receptive_field_sizes([], 2)
    no_diagonal = regular & ~torch.eye(16, dtype=torch.bool)
    with pytest.raises(ValueError, match="layer_patterns\\[1\\]"):
        package_layers_to_cover([regular, no_diagonal])
    with pytest.raises(ValueError, match="layer_patterns\\[1\\]"):
        package_layers_to_cover([regular, window_pattern(2, 2, 2)])
    with pytest.raises(ValueError, match="max_layers"):
        package_layers_to_cover([regular], max_layers=0)
    with pytest.raises(ValueError, match="separable"):
        separable_factors(torch.ones(16, 16, dtype=torch.bool).tril(), 4, 4)
    with pytest.raises(ValueError, match="pattern"):
        separable_factors(regular, 4, 5)
    with pytest.raises(ValueError, match="True"):
        separable_factors(torch.zeros(16, 16, dtype=torch.bool), 4, 4)


def test_check_layer_patterns_lists_them_at_one_size():
    regular = window_pattern(4, 4, 2)
    no_diagonal = regular & ~torch.eye(16, dtype=torch.bool)
    listed = check_layer_patterns(regular)
    assert len(listed) == 1 and listed[0] is regular
    assert len(check_layer_patterns((regular, no_diagonal), 16)) == 2  # no diagonal needed here
    with pytest.raises(ValueError, match="layer_patterns\\[0\\]"):
        check_layer_patterns([regular], 9)
    with pytest.raises(ValueError, match="layer_patterns must be a bool"):
        check_layer_patterns(3)
