"""The claims of chapter 8 (variants of the window) that the chapter states once and checks here.

The chapter keeps one representative case per cell; the sweeps over sizes, schemes and
implementations live here, with the chapter's written-out implementations (halo, gathered,
window and shifted-window layers) copied, since a chapter cannot be imported.
"""

import inspect
import math

import pytest
import torch
import torch.nn.functional as F
from timm.layers.halo_attn import HaloAttn

import swin_tutorial as st
from swin_tutorial.complexity import attention_flops, count_macs
from swin_tutorial.neighborhood import neighborhood_attention_2d
from swin_tutorial.patterns import (
    global_pattern,
    halo_pattern,
    layers_to_cover,
    neighborhood_pattern,
    overlapping_window_pattern,
    pattern_cost,
    receptive_field_sizes,
    separable_factors,
    shifted_window_pattern,
    window_pattern,
)
from swin_tutorial.perf import time_callable

H = W = 16
M, S_SHIFT, STRIDE, K, DELTA, BLOCK, ETA = 4, 2, 2, 5, 2, 4, 1


def six_schemes(h=H, w=W):
    return {
        "block": window_pattern(h, w, M),
        "swin": shifted_window_pattern(h, w, M, S_SHIFT),
        "overlapping": overlapping_window_pattern(h, w, M, STRIDE),
        "neighbourhood": neighborhood_pattern(h, w, K),
        "dilated": neighborhood_pattern(h, w, K, DELTA),
        "halo": halo_pattern(h, w, BLOCK, ETA),
    }


# --- sections 1 and 2: the schemes, overlapping windows -----------------------------------


@pytest.mark.parametrize("size", [(16, 16), (12, 20)])
def test_which_schemes_give_every_query_the_same_number_of_keys(size):
    fixed = [int(p.sum(1).min()) == int(p.sum(1).max()) for p in six_schemes(*size).values()]
    assert fixed == [True, False, True, True, True, False]


def test_overlapping_windows_on_a_line():
    line = {
        rule: overlapping_window_pattern(12, 1, (M, 1), (STRIDE, 1), rule=rule)
        for rule in ("nearest", "union")
    }
    for pattern in line.values():
        for row in pattern:
            keys = row.nonzero().flatten().tolist()
            assert keys == list(range(keys[0], keys[-1] + 1))  # one interval
    assert (line["nearest"].sum(dim=1) == M).all()
    assert int(line["union"].sum(dim=1).max()) == 2 * M - STRIDE
    tie = overlapping_window_pattern(7, 1, (3, 1), (2, 1))[2]
    assert tie.nonzero().flatten().tolist() == [0, 1, 2]  # a tie goes to the earlier window


def windows_holding(windows, tokens):
    return torch.bincount(windows.flatten().long(), minlength=tokens)


@pytest.mark.parametrize("h, m, s, stride", [(16, 4, 2, 2), (56, 7, 3, 4)])
def test_swin_holds_each_token_once_overlapping_windows_several_times(h, m, s, stride):
    ids = torch.arange(h * h, dtype=torch.float32).reshape(1, h, h, 1)
    regular = windows_holding(st.window_partition(ids, m), h * h)
    shifted = windows_holding(st.window_partition(st.cyclic_shift(ids, s), m), h * h)
    assert (regular == 1).all() and (shifted == 1).all()
    # windows start as in (variants-starts): every `stride`, the last pulled back to the border
    starts = [min(i * stride, h - m) for i in range(math.ceil((h - m) / stride) + 1)]
    per_axis = torch.zeros(h, dtype=torch.long)
    for a in starts:
        per_axis[a : a + m] += 1
    overlapping = per_axis[:, None] * per_axis[None, :]
    # away from the last, pulled-back window a token lies in ceil(M / S)^2 windows
    inner = overlapping[: h - m, : h - m]
    assert int(overlapping.min()) == 1 and int(inner.max()) == math.ceil(m / stride) ** 2
    if (h - m) % stride:  # the pulled-back last window: three along an axis near the border
        assert int(per_axis.max()) == 3
    if (h - m) % stride == 0:  # then unfold cuts the same windows
        unfolded = ids[0, :, :, 0].unfold(0, m, stride).unfold(1, m, stride)
        assert torch.equal(windows_holding(unfolded, h * h).reshape(h, h), overlapping)


def test_copies_of_overlapping_windows():
    per_axis = math.ceil((H - M) / STRIDE) + 1
    slots = per_axis**2 * M * M
    assert per_axis == 7 and slots == 784 and round(slots / (H * W), 2) == 3.06
    L = 1024  # a large map: the copies approach (M / S)^2
    n = math.ceil((L - M) / STRIDE) + 1
    assert abs(n**2 * M * M / L**2 - (M / STRIDE) ** 2) < 0.05


def test_families_and_their_key_sets():
    variants = six_schemes()
    assert torch.equal(overlapping_window_pattern(H, W, M, M), window_pattern(H, W, M))
    assert torch.equal(overlapping_window_pattern(H, W, K, 1), neighborhood_pattern(H, W, K))
    assert torch.equal(halo_pattern(H, W, BLOCK, 0), window_pattern(H, W, BLOCK))
    for q in range(H * W):  # the nearest window: one whole M x M window holding the query
        rows, cols = variants["overlapping"][q].reshape(H, W).nonzero().unbind(1)
        assert (rows.max() - rows.min(), cols.max() - cols.min()) == (M - 1, M - 1)
        assert q // W in rows and q % W in cols
    key_sets = [p.unique(dim=0).shape[0] for p in variants.values()]
    assert key_sets == [
        (H // M) ** 2,
        (H // M + 1) ** 2,
        7**2,
        (H - K + 1) ** 2,
        DELTA**2 * (H // DELTA - K + 1) ** 2,
        (H // BLOCK) ** 2,
    ]
    queries, keys = variants["dilated"].nonzero().unbind(1)
    assert ((queries // W - keys // W) % DELTA == 0).all()
    assert ((queries % W - keys % W) % DELTA == 0).all()


# --- section 3: HaloNet -------------------------------------------------------------------


def halo_regions(t, block, halo):
    region = block + 2 * halo
    t = F.pad(t, (0, 0, halo, halo, halo, halo))
    t = t.unfold(2, region, block).unfold(3, region, block)
    B, n_h, nH, nW = t.shape[:4]
    return t.permute(0, 1, 2, 3, 5, 6, 4).reshape(B, n_h, nH, nW, region * region, -1)


def halo_attention(q, k, v, block, halo, mask_padding=True):
    B, n_h, H, W, d = q.shape
    nH, nW = H // block, W // block
    q_blocks = q.reshape(B, n_h, nH, block, nW, block, d).transpose(3, 4)
    q_blocks = q_blocks.reshape(B, n_h, nH, nW, block * block, d)
    k_regions, v_regions = halo_regions(k, block, halo), halo_regions(v, block, halo)
    scores = q_blocks @ k_regions.transpose(-2, -1) * d**-0.5
    if mask_padding:
        real = halo_regions(torch.ones(1, 1, H, W, 1), block, halo)[..., 0] > 0
        scores = scores.masked_fill(~real[..., None, :], float("-inf"))
    out = (scores.softmax(dim=-1) @ v_regions).reshape(B, n_h, nH, nW, block, block, d)
    return out.transpose(3, 4).reshape(B, n_h, H, W, d)


def masked_attention(q, k, v, pattern):
    B, n_h, H, W, d = q.shape
    flat = [t.reshape(B, n_h, H * W, d) for t in (q, k, v)]
    return F.scaled_dot_product_attention(*flat, attn_mask=pattern).reshape(B, n_h, H, W, d)


@pytest.mark.parametrize(
    "size, block, halo",
    [((16, 16), 4, 1), ((12, 8), 4, 2), ((9, 6), 3, 1), ((8, 8), 2, 3), ((6, 6), 1, 1)],
)
def test_halo_attention_is_attention_on_halo_pattern(size, block, halo):
    q, k, v = torch.randn(3, 2, 3, *size, 8).unbind(0)
    assert torch.allclose(
        halo_attention(q, k, v, block, halo),
        masked_attention(q, k, v, halo_pattern(*size, block, halo)),
        atol=1e-5,
    )


def test_timm_halo_attention_lets_padding_in_on_the_border_blocks():
    C, n_h, block, halo = 24, 3, 4, 1
    layer = HaloAttn(C, num_heads=n_h, block_size=block, halo_size=halo).eval()
    with torch.no_grad():
        layer.pos_embed.height_rel.zero_()
        layer.pos_embed.width_rel.zero_()
        x = torch.randn(2, C, H, W)
        expected = layer(x)
        d = C // n_h
        q = layer.q(x).reshape(2, n_h, d, H, W).permute(0, 1, 3, 4, 2)
        k, v = layer.kv(x).reshape(2, n_h, 2 * d, H, W).permute(0, 1, 3, 4, 2).split(d, dim=-1)
        unmasked = halo_attention(q, k, v, block, halo, mask_padding=False)
        masked = halo_attention(q, k, v, block, halo)
    ours = unmasked.permute(0, 1, 4, 2, 3).reshape(2, C, H, W)
    assert torch.allclose(ours, expected, atol=1e-5)
    differs = (masked - unmasked).abs().amax(dim=(0, 1, 4)) > 1e-6
    border = torch.ones(H, W, dtype=torch.bool)
    border[block:-block, block:-block] = False
    assert torch.equal(differs, border) and int(border.sum()) == 192
    assert (unmasked.norm(dim=-1) < masked.norm(dim=-1))[..., border].all()
    i, j = torch.meshgrid(torch.arange(H), torch.arange(W), indexing="ij")
    i, j = i.flatten(), j.flatten()
    centred = ((i[:, None] - i[None, :]).abs() <= 2) & ((j[:, None] - j[None, :]).abs() <= 2)
    assert torch.equal(halo_pattern(H, W, 1, 2), centred)
    assert torch.equal(halo_pattern(H, W, H, 0), global_pattern(H, W))


# --- section 4: receptive fields ----------------------------------------------------------


def stacks_16():
    v = six_schemes()
    return {
        "block windows": [v["block"]],
        "Swin (alternating)": [v["block"], v["swin"]],
        "overlapping": [v["overlapping"]],
        "neighbourhood": [v["neighbourhood"]],
        "dilated alone": [v["dilated"]],
        "plain + dilated": [v["neighbourhood"], v["dilated"]],
        "HaloNet": [v["halo"]],
    }


def layers_to_cover_map(stack, h, w):
    factors = [separable_factors(p, h, w) for p in stack]
    per_axis = [layers_to_cover([r for r, _ in factors]), layers_to_cover([c for _, c in factors])]
    return None if None in per_axis else max(per_axis)


def test_receptive_fields_on_16x16():
    stacks = stacks_16()
    reach = {name: layers_to_cover(stack) for name, stack in stacks.items()}
    assert list(reach.values()) == [None, 7, 7, 7, None, 4, 4]
    for name, stack in stacks.items():
        if reach[name] is None:  # stuck: a whole cycle adds nothing, never the whole map
            sizes = receptive_field_sizes(stack, 12)
            assert torch.equal(sizes[-1], sizes[-1 - len(stack)]) and (sizes[-1] < H * W).all()
        for pattern in stack:
            r, c = separable_factors(pattern, H, W)
            assert torch.equal(torch.kron(r.long(), c.long()) > 0, pattern)
        assert layers_to_cover_map(stack, H, W) == reach[name]
    assert (receptive_field_sizes(stacks["block windows"], 12) == M * M).all()
    dilated = receptive_field_sizes(stacks["dilated alone"], 12)[-1]
    assert (dilated == (H // DELTA) * (W // DELTA)).all()


def test_receptive_fields_on_56x56():
    n = 56
    assert min(h for h in range(4) if (4 + 2 * h) ** 2 >= 49) == 2
    defaults = inspect.signature(HaloAttn).parameters
    assert (defaults["block_size"].default, defaults["halo_size"].default) == (8, 3)
    big = {
        "global": [global_pattern(n, n)],
        "block windows 7": [window_pattern(n, n, 7)],
        "Swin 7, shift 3": [window_pattern(n, n, 7), shifted_window_pattern(n, n, 7, 3)],
        "overlapping 7, stride 4": [overlapping_window_pattern(n, n, 7, 4)],
        "neighbourhood 7": [neighborhood_pattern(n, n, 7)],
        "dilated 7 alone": [neighborhood_pattern(n, n, 7, 2)],
        "plain + dilated 7": [neighborhood_pattern(n, n, 7), neighborhood_pattern(n, n, 7, 2)],
        "HaloNet 4, 2": [halo_pattern(n, n, 4, 2)],
        "HaloNet 8, 3": [halo_pattern(n, n, 8, 3)],
    }
    cover = {name: layers_to_cover_map(stack, n, n) for name, stack in big.items()}
    assert list(cover.values()) == [1, None, 15, 14, 18, None, 12, 14, 7]
    assert cover["Swin 7, shift 3"] == 2 * (n // 7) - 1
    assert cover["neighbourhood 7"] == 1 + math.ceil((n - 7) / 3)
    fewest = min(
        cover[k]
        for k in ("Swin 7, shift 3", "overlapping 7, stride 4", "neighbourhood 7", "HaloNet 4, 2")
    )
    assert cover["plain + dilated 7"] < fewest
    assert (8 + 2 * 3) ** 2 == 4 * 49
    curves = {}
    for name in ("Swin 7, shift 3", "block windows 7", "dilated 7 alone"):
        factors = [separable_factors(p, n, n) for p in big[name]]
        rows = receptive_field_sizes([r for r, _ in factors], 20).min(dim=1).values
        cols = receptive_field_sizes([c for _, c in factors], 20).min(dim=1).values
        curves[name] = (rows * cols).double() / (n * n)
    swin = curves["Swin 7, shift 3"]
    assert torch.equal(swin[0:14:2], swin[1:14:2]) and (swin[2:16:2] > swin[1:15:2]).all()
    assert float(curves["block windows 7"][-1]) == 49 / 3136
    assert float(curves["dilated 7 alone"][-1]) == 1 / 4


# --- section 5: cost ----------------------------------------------------------------------

STAGE1 = {"H": 56, "W": 56, "C": 96, "n_h": 3}


def gathered_attention(q, k, v, pattern):
    B, n_h, T, d = q.shape
    keys_of = pattern.nonzero()[:, 1].reshape(T, -1)
    K_ = keys_of.shape[1]
    k_g = k.index_select(2, keys_of.flatten()).reshape(B, n_h, T, K_, d)
    v_g = v.index_select(2, keys_of.flatten()).reshape(B, n_h, T, K_, d)
    scores = q.unsqueeze(-2) @ k_g.transpose(-2, -1) * d**-0.5
    return (scores.softmax(dim=-1) @ v_g).squeeze(-2)


def to_windows(t, M):
    B, n_h, H, W, d = t.shape
    windows = st.window_partition(t.permute(0, 2, 3, 1, 4).reshape(B, H, W, n_h * d), M)
    return windows.reshape(-1, M * M, n_h, d).transpose(1, 2)


def from_windows(t, M, H, W):
    n_h, d = t.shape[1], t.shape[3]
    x = st.window_reverse(t.transpose(1, 2).reshape(-1, M * M, n_h * d), M, H, W)
    return x.reshape(-1, H, W, n_h, d).permute(0, 3, 1, 2, 4)


def window_layer(q, k, v, M):
    out, _ = st.window_attention(to_windows(q, M), to_windows(k, M), to_windows(v, M))
    return from_windows(out, M, q.shape[2], q.shape[3])


def swin_shifted_layer(q, k, v, M, shift, mask):
    def roll(t, amount):
        return torch.roll(t, shifts=(amount, amount), dims=(2, 3))

    out, _ = st.window_attention(*(to_windows(roll(t, -shift), M) for t in (q, k, v)), mask=mask)
    return roll(from_windows(out, M, q.shape[2], q.shape[3]), shift)


@pytest.fixture(scope="module")
def stage1_setup():
    h, w, C, n_h = STAGE1["H"], STAGE1["W"], STAGE1["C"], STAGE1["n_h"]
    T = h * w
    qkv = torch.randn(3, 1, n_h, h, w, C // n_h).unbind(0)
    mask = st.shifted_window_mask(h, w, 7, 3)

    def dense(fn):
        return lambda q, k, v: fn(*(t.reshape(1, n_h, T, -1) for t in (q, k, v)))

    nat = neighborhood_pattern(h, w, 7)
    impl = {
        "global": (global_pattern(h, w), dense(F.scaled_dot_product_attention)),
        "masked dense": (nat, lambda q, k, v: masked_attention(q, k, v, nat)),
        "block windows 7": (window_pattern(h, w, 7), lambda q, k, v: window_layer(q, k, v, 7)),
        "Swin 7, shift 3": (
            shifted_window_pattern(h, w, 7, 3),
            lambda q, k, v: swin_shifted_layer(q, k, v, 7, 3, mask),
        ),
        "HaloNet 4, 2": (halo_pattern(h, w, 4, 2), lambda q, k, v: halo_attention(q, k, v, 4, 2)),
        "HaloNet 8, 3": (halo_pattern(h, w, 8, 3), lambda q, k, v: halo_attention(q, k, v, 8, 3)),
    }
    for name, pattern in (
        ("overlapping (gathered)", overlapping_window_pattern(h, w, 7, 4)),
        ("neighbourhood (gathered)", nat),
        ("dilated (gathered)", neighborhood_pattern(h, w, 7, 2)),
    ):
        impl[name] = (pattern, dense(lambda q, k, v, p=pattern: gathered_attention(q, k, v, p)))
    return qkv, impl


def test_implementations_equal_masked_dense_attention(stage1_setup):
    qkv, impl = stage1_setup
    n_h, T = STAGE1["n_h"], STAGE1["H"] * STAGE1["W"]
    flat = [t.reshape(1, n_h, T, -1) for t in qkv]
    for name, (pattern, fn) in impl.items():
        reference = F.scaled_dot_product_attention(*flat, attn_mask=pattern)
        assert torch.allclose(fn(*qkv).reshape(reference.shape), reference, atol=1e-5), name
    package = neighborhood_attention_2d(*qkv, 7, backend="dense")
    gathered = impl["neighbourhood (gathered)"][1](*qkv)
    assert torch.allclose(package.reshape(gathered.shape), gathered, atol=1e-5)


def test_counted_multiply_adds(stage1_setup):
    qkv, impl = stage1_setup
    h, w, C = STAGE1["H"], STAGE1["W"], STAGE1["C"]
    T = h * w
    rows = {}
    for name, (pattern, fn) in impl.items():
        cost = pattern_cost(pattern, C)
        rows[name] = {
            "low": cost.keys_min,
            "high": cost.keys_max,
            "useful": cost.score_macs,
            "done": count_macs(fn, *qkv),
        }
    per_slot = 2 * C * T
    projections = 4 * T * C**2
    assert rows["global"]["done"] == rows["masked dense"]["done"] == per_slot * T
    assert rows["global"]["done"] == attention_flops(h, w, C) - projections
    assert rows["block windows 7"]["done"] == rows["block windows 7"]["useful"] == per_slot * 49
    assert rows["block windows 7"]["done"] == attention_flops(h, w, C, 7) - projections
    swin = rows["Swin 7, shift 3"]
    assert swin["done"] == per_slot * 49 and swin["useful"] == 2 * C * 368**2 and swin["low"] == 9
    for name, (block, halo) in {"HaloNet 4, 2": (4, 2), "HaloNet 8, 3": (8, 3)}.items():
        assert rows[name]["done"] == per_slot * (block + 2 * halo) ** 2 > rows[name]["useful"]
        assert rows[name]["low"] == (block + halo) ** 2
        assert rows[name]["high"] == (block + 2 * halo) ** 2
    for name in ("overlapping (gathered)", "neighbourhood (gathered)", "dilated (gathered)"):
        assert rows[name]["done"] == rows[name]["useful"] == per_slot * 49
        assert rows[name]["low"] == rows[name]["high"] == 49
    waste = {name: 1 - r["useful"] / r["done"] for name, r in rows.items()}
    assert math.isclose(waste["masked dense"], 1 - 49 / T)
    rounded = [round(100 * waste[n]) for n in ("Swin 7, shift 3", "HaloNet 4, 2", "HaloNet 8, 3")]
    assert rounded == [12, 7, 12]


def test_timings_blocks_beat_dense_and_gathering_costs(stage1_setup):
    qkv, impl = stage1_setup
    seconds = {
        name: time_callable(fn, *qkv, min_run_time=0.05, num_threads=1)
        for name, (_, fn) in impl.items()
        if name != "global"
    }
    dense = seconds["masked dense"]
    assert all(
        seconds[n] < dense / 3 for n in ("block windows 7", "Swin 7, shift 3", "HaloNet 4, 2")
    )
    for name in ("overlapping (gathered)", "neighbourhood (gathered)", "dilated (gathered)"):
        assert seconds[name] > 3 * seconds["block windows 7"]
        assert seconds[name] > dense / 8


# --- section 6: translation ---------------------------------------------------------------


def follows_shift(pattern, x, shift, margin=8):
    h, w = x.shape[2], x.shape[3]
    out = masked_attention(x, x, x, pattern)
    rolled = torch.roll(x, shifts=(shift, shift), dims=(2, 3))
    same = torch.isclose(
        masked_attention(rolled, rolled, rolled, pattern),
        torch.roll(out, shifts=(shift, shift), dims=(2, 3)),
        atol=1e-5,
    ).all(dim=(0, 1, 4))
    return float(same[margin + shift : h - margin, margin + shift : w - margin].double().mean())


def test_only_the_neighbourhood_family_follows_a_one_token_shift():
    n = 28
    x = torch.randn(1, 3, n, n, 32)
    block_family = {
        "block windows 7": (window_pattern(n, n, 7), 7),
        "Swin shifted 7, shift 3": (shifted_window_pattern(n, n, 7, 3), 7),
        "overlapping 7, stride 4": (overlapping_window_pattern(n, n, 7, 4), 4),
        "HaloNet 4, 2": (halo_pattern(n, n, 4, 2), 4),
    }
    for pattern, period in block_family.values():
        assert (follows_shift(pattern, x, 1), follows_shift(pattern, x, period)) == (0.0, 1.0)
    for pattern in (
        neighborhood_pattern(n, n, 7),
        neighborhood_pattern(n, n, 7, 2),
        global_pattern(n, n),
    ):
        assert follows_shift(pattern, x, 1) == 1.0
