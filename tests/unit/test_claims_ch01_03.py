"""Claims of chapters 1 to 3 checked over more cases than the chapters show.

Each chapter keeps one representative named check per cell; the sweeps over
sizes and shifts, the threshold checks and the side facts live here.
"""

import itertools
import math
from collections import Counter
from fractions import Fraction

import pytest
import torch
import torch.nn.functional as F

import swin_tutorial as st
from swin_tutorial.complexity import attention_flops
from swin_tutorial.neighborhood import neighborhood_mask
from swin_tutorial.patterns import (
    neighborhood_pattern,
    receptive_field,
    shifted_window_pattern,
    window_pattern,
)
from swin_tutorial.perf import peak_memory_bytes
from swin_tutorial.position import bias_table_size

# ----------------------------------------------------------------------------- chapter 1


def test_patch_sizes_and_token_counts():
    image = 224
    assert ((image // 16) ** 2, (image // 4) ** 2) == (196, 3136)
    # halving the patch side multiplies the attention weights by 16
    for patch in (32, 16, 8):
        coarse, fine = (image // patch) ** 2, (image // (patch // 2)) ** 2
        assert fine**2 == 16 * coarse**2


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_dot_product_variance_grows_like_d_and_the_scale_undoes_it(seed):
    generator = torch.Generator().manual_seed(seed)
    for d in (4, 16, 64, 256, 1024):
        q, k = torch.randn(2, 4096, d, generator=generator, dtype=torch.float64)
        dots = (q * k).sum(dim=-1)
        assert 0.9 * d < dots.var().item() < 1.1 * d
        assert 0.9 < (dots / math.sqrt(d)).var().item() < 1.1


@pytest.mark.parametrize("seed", [0, 1])
def test_unscaled_softmax_saturates_and_the_scaled_one_does_not(seed):
    generator = torch.Generator().manual_seed(seed)
    largest, largest_scaled = [], []
    for d in (4, 16, 64, 256, 1024):
        q = torch.randn(256, d, generator=generator, dtype=torch.float64)
        k = torch.randn(64, d, generator=generator, dtype=torch.float64)
        largest.append((q @ k.T).softmax(-1).max(-1).values.mean().item())
        scaled = (q @ k.T / math.sqrt(d)).softmax(-1)
        largest_scaled.append(scaled.max(-1).values.mean().item())
    assert largest == sorted(largest) and largest[-1] > 0.9
    assert all(w < 0.15 for w in largest_scaled)


def _global(side, fused):
    """Global attention over a (1, side, side, 96) map: written out (the package's
    explicit path, one window as large as the map) or fused (no bias, so no T x T
    tensor at all)."""
    layer = st.WindowAttention(96, 3, window_size=side, fused=False).eval()

    def written_out(x):
        return layer(x.reshape(1, side * side, 96))

    def fused_global(x):
        qkv = layer.qkv(x.reshape(1, side * side, 96)).reshape(1, -1, 3, 3, 32)
        q, k, v = qkv.permute(2, 0, 3, 1, 4).unbind(0)
        return layer.proj(F.scaled_dot_product_attention(q, k, v).transpose(1, 2).flatten(2))

    return fused_global if fused else written_out


def _loglog_slope(tokens, values):
    xs, ys = [math.log(t) for t in tokens], [math.log(v) for v in values]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    num = sum((a - mx) * (b - my) for a, b in zip(xs, ys, strict=True))
    return num / sum((a - mx) ** 2 for a in xs)


@torch.no_grad()
def test_peak_memory_is_exact_quadratic_written_out_and_linear_fused():
    sides = [16, 20, 24, 28, 32]
    maps = {side: torch.randn(1, side, side, 96) for side in sides}
    written = [peak_memory_bytes(_global(s, False), maps[s]) for s in sides]
    fused = [peak_memory_bytes(_global(s, True), maps[s]) for s in sides]
    # deterministic: the same bytes on a second run
    assert peak_memory_bytes(_global(32, False), maps[32]) == written[-1]
    tokens = [s * s for s in sides]
    assert 1.8 <= _loglog_slope(tokens, written) <= 2.05
    assert 0.85 <= _loglog_slope(tokens, fused) <= 1.15
    # the written-out layer holds the scores and the weights at once
    assert written[-1] >= 2 * 3 * (32 * 32) ** 2 * 4


def test_ratio_of_the_two_formulas_grows_linearly_with_the_tokens():
    C, M = 96, 7
    sides = [7, 14, 28, 56, 112]
    ratios = [
        Fraction(attention_flops(s, s, C), attention_flops(s, s, C, window_size=M)) for s in sides
    ]
    for side, ratio in zip(sides, ratios, strict=True):
        assert ratio == Fraction(4 * C + 2 * side * side, 4 * C + 2 * M * M)
    assert [round(float(r)) for r in ratios] == [1, 2, 4, 14, 53]
    per_token = [
        (r2 - r1) / (s2 * s2 - s1 * s1)
        for (s1, r1), (s2, r2) in itertools.pairwise(zip(sides, ratios, strict=True))
    ]
    assert set(per_token) == {Fraction(1, 2 * C + M * M)} == {Fraction(1, 241)}
    # doubling the side: the gap grows by a factor that approaches 4 from below
    growth = [float(r2 / r1) for r1, r2 in itertools.pairwise(ratios)]
    assert all(g1 < g2 < 4 for g1, g2 in itertools.pairwise(growth))


def test_unfold_partition_mixes_channels_into_space():
    def unfold_windows(x, M):
        windows = x.unfold(1, M, M).unfold(2, M, M)
        return windows.contiguous().view(-1, M * M, x.shape[-1])

    for H, W, C, M in [(4, 4, 3, 2), (8, 12, 5, 4), (6, 6, 2, 3)]:
        x = torch.randn(2, H, W, C)
        wrong, right = unfold_windows(x, M), st.window_partition(x, M).reshape(-1, M * M, C)
        assert wrong.shape == right.shape and not torch.equal(wrong, right)
        # the first "token" of the first window is none of the map's tokens
        assert not (x[0].reshape(-1, C) == wrong[0, 0]).all(dim=-1).any()


def test_vit_attention_is_global():
    timm = pytest.importorskip("timm")
    torch.manual_seed(0)
    vit = timm.create_model("vit_tiny_patch16_224", pretrained=False, depth=1).eval()
    image = torch.randn(1, 3, 224, 224)
    for corner in (0, 96, 208):
        nudged = image.clone()
        nudged[:, :, corner : corner + 16, corner : corner + 16] += 1.0
        with torch.no_grad():
            moved = (vit.forward_features(nudged) - vit.forward_features(image)).abs()
        assert bool((moved.amax(dim=-1) > 0).all())


def test_swin_t_config_has_the_paper_sizes():
    config = st.SWIN_T
    assert (config.embed_dim, config.depths, config.window_size) == (96, (2, 2, 6, 2), 7)
    channels = [config.embed_dim * 2**i for i in range(4)]
    assert [c // h for c, h in zip(channels, config.num_heads, strict=True)] == [32] * 4


# ----------------------------------------------------------------------------- chapter 2


def _coordinates(H, W):
    i, j = torch.meshgrid(torch.arange(H), torch.arange(W), indexing="ij")
    return i.flatten(), j.flatten()


def _windows_of(pattern):
    return {tuple(row.nonzero().flatten().tolist()) for row in pattern}


@pytest.mark.parametrize("h, w, m", [(8, 8, 4), (8, 12, 4), (6, 9, 3), (14, 14, 7)])
def test_window_pattern_equals_the_formula(h, w, m):
    i, j = _coordinates(h, w)
    by_hand = (i[:, None] // m == i[None, :] // m) & (j[:, None] // m == j[None, :] // m)
    assert torch.equal(window_pattern(h, w, m), by_hand)
    assert (window_pattern(h, w, m).sum(dim=1) == m * m).all()


@pytest.mark.parametrize("h, w, m", [(8, 8, 4), (8, 12, 4), (12, 6, 3), (14, 14, 7), (56, 56, 7)])
def test_shifted_window_count(h, w, m):
    shifted = _windows_of(shifted_window_pattern(h, w, m, m // 2))
    assert len(shifted) == (h // m + 1) * (w // m + 1)
    assert len(_windows_of(window_pattern(h, w, m))) == (h // m) * (w // m)
    # each layer is a partition: every token in exactly one window
    members = Counter(t for window in shifted for t in window)
    assert sorted(members) == list(range(h * w)) and set(members.values()) == {1}


def test_naive_padding_costs_27_percent_on_swin_t_stage_1():
    assert Fraction((56 // 7 + 1) ** 2 * 7 * 7, 56 * 56) == Fraction(81, 64)


def _shift_mask_by_hand(H, W, M, s):
    i, j = torch.meshgrid(torch.arange(H), torch.arange(W), indexing="ij")
    came_from = torch.stack([(i + s) % H, (j + s) % W], dim=-1)
    both = torch.cat([torch.stack([i, j], dim=-1), came_from], dim=-1)[None].float()
    per_window = st.window_partition(both, M).reshape(-1, M * M, 4)
    rolled = per_window[:, :, None, :2] - per_window[:, None, :, :2]
    original = per_window[:, :, None, 2:] - per_window[:, None, :, 2:]
    return (rolled == original).all(dim=-1)


@pytest.mark.parametrize("h, w, m", [(8, 8, 4), (8, 12, 4), (12, 6, 3), (14, 14, 7), (10, 15, 5)])
def test_shift_mask_by_offsets_equals_the_package(h, w, m):
    for shift in range(m):
        assert torch.equal(
            _shift_mask_by_hand(h, w, m, shift), st.shifted_window_mask(h, w, m, shift)
        )


@pytest.mark.parametrize("h, w, m", [(8, 8, 4), (8, 12, 4), (12, 6, 3), (14, 14, 7)])
def test_shifted_pattern_equals_the_pieces_on_the_original_map(h, w, m):
    i, j = _coordinates(h, w)
    for shift in range(m):
        row = torch.where(i < shift, 0, 1 + (i - shift) // m)
        col = torch.where(j < shift, 0, 1 + (j - shift) // m)
        by_hand = (row[:, None] == row[None, :]) & (col[:, None] == col[None, :])
        assert torch.equal(shifted_window_pattern(h, w, m, shift), by_hand)


def test_chapter_2_mask_figure_and_regions():
    H, W, M, s = 8, 8, 4, 2
    mask = st.shifted_window_mask(H, W, M, s)
    assert mask[0].all()
    assert int(mask[-1].sum()) == 4 * 4 * 4
    assert len({tuple(row.tolist()) for row in mask[-1]}) == 4
    assert (mask[-1].sum(dim=1) == 4).all()
    axis_labels = torch.tensor([0, 0, 0, 0, 1, 1, 2, 2])
    assert torch.equal(st.region_ids(H, W, M, s), 3 * axis_labels[:, None] + axis_labels[None, :])


def test_chapter_2_rolls_and_partitions_undo_each_other():
    x = torch.randn(2, 8, 8, 16, dtype=torch.float64)
    assert torch.equal(st.window_reverse(st.window_partition(x, 4), 4, 8, 8), x)
    assert torch.equal(st.reverse_cyclic_shift(st.cyclic_shift(x, 2), 2), x)
    ids = torch.arange(64, dtype=torch.float32).reshape(1, 8, 8, 1)
    rolled = st.window_partition(st.cyclic_shift(ids, 2), 4).reshape(-1, 16)
    assert rolled.shape == (4, 16)


def test_patch_merging_halves_the_map():
    assert st.PatchMerging(dim=3)(torch.randn(1, 8, 8, 3)).shape == (1, 4, 4, 6)


def test_swin_t_stages_windows_and_shifts():
    model = st.swin_t(init_std=None)
    side = model.img_size[0] // model.patch_embed.patch_size
    assert [side // 2**k // 7 for k in range(4)] == [8, 4, 2, 1]
    for stage in model.layers:
        shifts = [b.shift_size[0] for b in stage.blocks]
        assert shifts == [0, 3] * (len(shifts) // 2)


def test_timm_turns_the_last_stage_shift_off():
    timm = pytest.importorskip("timm")
    model = timm.create_model("swin_tiny_patch4_window7_224", pretrained=False)
    assert [b.shift_size for b in model.layers[3].blocks] == [(0, 0), (0, 0)]
    assert [b.shift_size for b in model.layers[0].blocks] == [(0, 0), (3, 3)]


@pytest.mark.parametrize("h, w, k", [(8, 8, 3), (8, 8, 5), (7, 10, 3), (9, 9, 9), (5, 12, 1)])
def test_neighbourhood_clamp_rule(h, w, k):
    i, j = _coordinates(h, w)
    top, left = (i - k // 2).clamp(0, h - k), (j - k // 2).clamp(0, w - k)
    rows = (i[None, :] >= top[:, None]) & (i[None, :] < top[:, None] + k)
    cols = (j[None, :] >= left[:, None]) & (j[None, :] < left[:, None] + k)
    assert torch.equal(neighborhood_mask(h, w, k), rows & cols)
    assert (neighborhood_mask(h, w, k).sum(dim=1) == k * k).all()


def test_chapter_2_border_queries():
    H = W = 8
    shifted = shifted_window_pattern(H, W, 4, 2)
    neighbours = neighborhood_pattern(H, W, 3)
    # query (0, 6): a 2x2 shifted corner piece, a neighbourhood moved down to rows 0-2
    assert shifted[6].nonzero().flatten().tolist() == [6, 7, 14, 15]
    assert neighbours[6].reshape(H, W).any(dim=1).nonzero().flatten().tolist() == [0, 1, 2]
    # one-way pairs of neighbourhoods always have their query on the border
    i, j = _coordinates(H, W)
    one_way = neighbours & ~neighbours.T
    on_border = (i == 0) | (i == H - 1) | (j == 0) | (j == W - 1)
    assert one_way.any() and on_border[one_way.nonzero()[:, 0]].all()


@pytest.mark.parametrize(
    "h, w, m, stride", [(8, 8, 4, 2), (16, 16, 4, 2), (64, 64, 8, 4), (12, 20, 6, 3)]
)
def test_overlapping_window_count(h, w, m, stride):
    n = F.unfold(torch.zeros(1, 1, h, w), kernel_size=m, stride=stride).shape[-1]
    assert n == ((h - m) // stride + 1) * ((w - m) // stride + 1)


def test_halo_key_regions_duplicate_tokens():
    H = W = 8
    ids = torch.arange(64, dtype=torch.float32).reshape(1, 1, H, W)
    regions = F.unfold(F.pad(ids + 1, (1, 1, 1, 1)), kernel_size=6, stride=4)[0].T.long()
    assert regions.shape == (4, 36) and int((regions > 0).sum()) == 100
    real = regions[regions > 0] - 1
    assert set(torch.bincount(real, minlength=64).unique().tolist()) == {1, 2, 4}


def _compose(P, R):
    return (P.float() @ R.float()) > 0


def test_receptive_fields_on_a_16x16_map():
    M, s, k = 4, 2, 3
    regular = window_pattern(16, 16, M)
    shifted = shifted_window_pattern(16, 16, M, s)
    neighbours = neighborhood_pattern(16, 16, k)
    for pattern in (regular, shifted, neighbours):
        assert pattern.diagonal().all()
    mixed = _compose(regular, shifted)
    assert (mixed & ~regular).any() and (mixed & ~shifted).any()
    fields = regular
    for _ in range(2, 13):
        fields = _compose(regular, fields)
        assert torch.equal(fields, regular)
    for q in (0, 37, 255):
        assert int(receptive_field([regular] * 12, q).sum()) == M * M
    stack = [regular, shifted, regular]
    matrix = _compose(regular, _compose(shifted, regular))
    assert all(torch.equal(matrix[q], receptive_field(stack, q)) for q in (0, 37, 100, 255))
    alternating = [regular, shifted] * 4
    for n_layers in (1, 2, 3, 5, 7):
        side = M * ((n_layers + 1) // 2)
        assert receptive_field(alternating[:n_layers], 0).sum() == side**2
    corner = [int(receptive_field([neighbours] * d, 0).sum()) for d in range(1, 5)]
    assert corner == [9, 16, 25, 36]
    assert st.layers_to_cover([window_pattern(8, 8, 4), shifted_window_pattern(8, 8, 4, 2)]) == 3


# ----------------------------------------------------------------------------- chapter 3


def test_masked_weights_are_exactly_zero():
    torch.manual_seed(0)
    q, k, v = (torch.randn(1, 3, 16, 4, dtype=torch.float64) for _ in range(3))
    half = torch.arange(16) < 8
    mask = (half[:, None] == half[None, :])[None]
    _, weights = st.window_attention(q, k, v, mask=mask, fused=False)
    assert (weights[0][:, ~mask[0]] == 0).all()
    assert torch.allclose(weights.sum(-1), torch.ones(1, 3, 16, dtype=torch.float64))


def test_window_cost_claims():
    C, M = 96, 7

    def msa(s):
        return 4 * s * s * C**2 + 2 * (s * s) ** 2 * C

    def wmsa(s):
        return 4 * s * s * C**2 + 2 * M**2 * s * s * C

    assert msa(M) == wmsa(M)
    assert all(msa(s) > wmsa(s) for s in range(M + 1, 120))
    share = Fraction(2 * M**2, 4 * C)
    assert share < 1 and round(1 / share) == 4
    stage_shares = [Fraction(2 * M**2, 4 * c) for c in (96, 192, 384, 768)]
    assert max(stage_shares) == share
    assert (round(msa(56) / 1e9, 1), round(wmsa(56) / 1e9, 3)) == (2.0, 0.145)
    # one head, one image at 56x56 in float32: 37.5 MiB global, 0.6 MiB in windows
    assert (round(4 * 3136**2 / 2**20, 1), round(4 * 3136 * 49 / 2**20, 1)) == (37.5, 0.6)


def test_exp_minus_100_and_the_masks_of_timm_and_the_package():
    assert 3.7e-44 < math.exp(-100) < 3.8e-44
    assert torch.isnan(torch.softmax(torch.full((4,), float("-inf")), dim=-1)).all()
    assert st.shifted_window_mask(14, 14, 7, 3).dtype == torch.bool
    timm_swin = pytest.importorskip("timm.models.swin_transformer")
    block = timm_swin.SwinTransformerBlock(
        dim=8, input_resolution=(14, 14), num_heads=2, window_size=7, shift_size=3
    )
    assert set(block.attn_mask.unique().tolist()) == {-100.0, 0.0}


def test_minus_100_and_minus_inf_rows_sum_to_one():
    torch.manual_seed(0)
    scores = 3 * torch.randn(16, dtype=torch.float64)
    allowed = torch.tensor([True] * 6 + [False] * 10)
    w_100 = torch.softmax(scores + torch.where(allowed, 0.0, -100.0), dim=-1)
    w_inf = torch.softmax(scores.masked_fill(~allowed, float("-inf")), dim=-1)
    assert abs(w_100.sum().item() - 1) < 1e-15 and abs(w_inf.sum().item() - 1) < 1e-15


def _layer_1d(n, M, s):
    piece = torch.div(torch.arange(n) - s + M, M, rounding_mode="floor")
    return piece[:, None] == piece[None, :]


def _reach_1d(n, M, shifts):
    reach = torch.eye(n, dtype=torch.bool)
    for s in shifts:
        reach = (_layer_1d(n, M, s).int() @ reach.int()) > 0
    return reach


@pytest.mark.parametrize("M", [2, 3, 4, 7])
def test_receptive_field_grows_by_one_window_per_layer(M):
    n = 6 * M
    for s in range(1, M):
        for L in range(1, 9):
            reach = _reach_1d(n, M, [0 if layer % 2 == 0 else s for layer in range(L)])
            if 2 * L * M <= n + M:  # a token far enough from both borders
                assert reach[n // 2].sum() == L * M
        # without shift: M for every token, after any L
        assert (_reach_1d(n, M, [0] * 8).sum(dim=1) == M).all()


def test_chapter_3_receptive_field_figure():
    H = W = 28
    M, s = 7, 3
    regular, shifted = window_pattern(H, W, M), shifted_window_pattern(H, W, M, s)
    query = 13 * W + 15
    for L in range(1, 5):
        assert int(receptive_field([regular] * L, query).sum()) == M**2
        stack = [regular if layer % 2 == 0 else shifted for layer in range(L)]
        assert int(receptive_field(stack, query).sum()) == (L * M) ** 2


# ------------------------------------------------------- the "check your understanding" answers


def test_check_your_understanding_answers_of_chapter_1():
    # GlobalAttention's shapes for 2 maps of 8x8 tokens, C = 96, 3 heads
    layer = st.WindowAttention(96, 3, window_size=8, fused=False).eval()
    with torch.no_grad():
        out, weights = layer(torch.randn(2, 64, 96), return_attention=True)
    assert out.shape == (2, 64, 96) and weights.shape == (2, 3, 64, 64)
    assert 96 // 3 == 32
    # equal scores: weights 1/T, output the mean of the values
    values = torch.randn(5, 2, dtype=torch.float64)
    weights = torch.zeros(5, dtype=torch.float64).softmax(0)
    assert torch.allclose(weights @ values, values.mean(0))
    # d from 64 to 256: the standard deviation of q . k doubles
    assert math.sqrt(256) / math.sqrt(64) == 2
    # one window: both formulas agree; projections dominate windows when M^2 < 2C
    assert attention_flops(7, 7, 96) == attention_flops(7, 7, 96, window_size=7)
    assert 7**2 < 2 * 96


def test_check_your_understanding_answers_of_chapter_2():
    h, w, m = 12, 16, 4
    assert (h // m) * (w // m) == 12
    assert int(window_pattern(h, w, m).sum()) == h * w * m * m == 3072
    assert (h * w) ** 2 == 36_864
    assert not bool(window_pattern(8, 8, 4)[3, 4])  # tokens 3 and 4
    assert len(_windows_of(shifted_window_pattern(56, 56, 7, 3))) == 81
    assert st.shifted_window_mask(56, 56, 7, 3).shape[0] == 64
    # token (0, 0) sits at (H - s, W - s) of the rolled map: the bottom-right window
    ids = torch.arange(64, dtype=torch.float32).reshape(1, 8, 8, 1)
    assert st.cyclic_shift(ids, 2)[0, 6, 6, 0] == 0
    # a stage-3 window covers 7 * 4 = 28 stage-1 tokens a side
    assert 7 * 2**2 == 28 and (28 * 28) * 4 == 56 * 56
    assert int(neighborhood_pattern(8, 8, 3)[0].sum()) == 9


def test_check_your_understanding_answers_of_chapter_3():
    def ratio(side, C, M):
        return Fraction(attention_flops(side, side, C), attention_flops(side, side, C, M))

    assert ratio(14, 384, 7) == Fraction(2 * 384 + 196, 2 * 384 + 49) == Fraction(964, 817)
    assert round(float(ratio(14, 384, 7)), 2) == 1.18
    assert 112 * 112 // 49 == 256
    assert bias_table_size((4, 6)) == 77
    assert torch.tensor(math.exp(-100), dtype=torch.float16).item() == 0.0
    # receptive field along one axis after 5 layers, M = 7: 35 with the shift, 7 without
    n, M = 6 * 7, 7
    reach = _reach_1d(n, M, [0, 3, 0, 3, 0])
    assert int(reach[n // 2].sum()) == 35
    assert int(_reach_1d(n, M, [0] * 5)[n // 2].sum()) == 7
