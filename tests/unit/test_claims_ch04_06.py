"""Claims of chapters 4 to 6 checked over more cases than the chapters show.

Each chapter keeps one named check per cell; the sweeps over shapes and
shifts, the threshold checks, the side facts and the answers of the "check
your understanding" boxes live here. Where a claim is about code the chapter
writes out (``my_region_ids``, ``partition_with_unfold``), the test carries
its own copy of that code.
"""

import copy
import math

import pytest
import torch
import torch.nn.functional as F

import swin_tutorial as st
from swin_tutorial.anatomy import stage_shapes
from swin_tutorial.probes import round_trip_probe

timm = pytest.importorskip("timm")


def pair(value):
    return (value, value) if isinstance(value, int) else tuple(value)


# ----------------------------------------------------------------------------- chapter 4


@pytest.mark.parametrize("M", [1, 2, 4, 7, 12])
def test_python_modulo_of_a_negative_number_is_the_padding(M):
    for H in range(1, 60):
        pad = (-H) % M
        assert 0 <= pad < M and (H + pad) % M == 0
        assert pad == (M - H % M) % M


def test_swin_t_maps_fit_the_window_at_224_but_not_at_800():
    assert [224 // 4 // 2**k for k in range(4)] == [56, 28, 14, 7]
    assert all((224 // 4 // 2**k) % 7 == 0 for k in range(4))
    assert 800 // 4 == 200 == 28 * 7 + 4


CASES_PAD = [
    ((2, 5, 7, 3), 4),
    ((1, 8, 8, 2), 4),
    ((3, 6, 11, 4), (2, 5)),
    ((1, 1, 1, 5), 7),
    ((2, 13, 9, 1), (7, 3)),
    ((1, 10, 13, 2), 7),
    ((2, 200, 21, 1), 7),
]


@pytest.mark.parametrize("shape, window", CASES_PAD)
def test_padding_reaches_a_window_multiple_with_zeros_and_crops_back(shape, window):
    x = torch.randn(shape)
    B, H, W, C = shape
    wh, ww = pair(window)
    padded, (pad_h, pad_w) = st.pad_to_window_multiple(x, window)
    assert (pad_h, pad_w) == ((-H) % wh, (-W) % ww)
    assert padded.shape == (B, H + pad_h, W + pad_w, C)
    assert padded.shape[1] % wh == 0 and padded.shape[2] % ww == 0
    assert (padded[:, H:] == 0).all() and (padded[:, :, W:] == 0).all()
    # the chapter's F.pad call, channels-last
    assert torch.equal(padded, F.pad(x, (0, 0, 0, pad_w, 0, pad_h)))
    assert torch.equal(st.crop_to(padded, H, W), x)
    assert torch.equal(padded[:, :H, :W], x)


def test_channels_first_pad_recipe_on_a_channels_last_map():
    x = torch.randn(2, 5, 7, 3)
    wrong = F.pad(x, (0, 1, 0, 3))  # (0, pad_w, 0, pad_h) as for (B, C, H, W)
    assert wrong.shape == (2, 5, 10, 4)
    with pytest.raises(ValueError, match="multiples of window_size"):
        st.window_partition(wrong, 4)


CASES_PARTITION = [
    ((2, 8, 12, 3), 4),
    ((1, 6, 6, 5), 3),
    ((3, 14, 7, 2), 7),
    ((2, 6, 10, 4), (3, 5)),
    ((1, 4, 9, 1), (4, 1)),
    ((2, 56, 56, 2), 7),
]


@pytest.mark.parametrize("shape, window", CASES_PARTITION)
def test_window_b_nw_plus_w_is_patch_w_of_image_b(shape, window):
    x = torch.randn(shape)
    B, H, W, C = shape
    wh, ww = pair(window)
    windows = st.window_partition(x, window)
    cols = W // ww
    nW = (H // wh) * cols
    assert windows.shape == (B * nW, wh, ww, C)
    for b in range(B):
        for w in range(nW):
            r, c = divmod(w, cols)
            patch = x[b, r * wh : (r + 1) * wh, c * ww : (c + 1) * ww]
            assert torch.equal(windows[b * nW + w], patch)
    flat = windows.flatten(1, 2)
    assert torch.equal(st.window_reverse(windows, window, H, W), x)
    assert torch.equal(st.window_reverse(flat, window, H, W), x)


def test_batch_index_of_a_patch_check_your_understanding():
    x = torch.randn(2, 8, 12, 3)
    windows = st.window_partition(x, 4)
    assert torch.equal(windows[11], x[1, 4:8, 8:12])


def partition_with_unfold(x, M):
    """Chapter 4's buggy partition: channels mixed into space."""
    C = x.shape[-1]
    return x.unfold(1, M, M).unfold(2, M, M).reshape(-1, M, M, C)


def reverse_unfold(windows, M, H, W):
    """Chapter 4's matching buggy reverse."""
    C = windows.shape[-1]
    return (
        windows.reshape(-1, H // M, W // M, C, M, M).permute(0, 1, 4, 2, 5, 3).reshape(-1, H, W, C)
    )


@pytest.mark.parametrize("C", [2, 3, 5])
def test_unfold_partition_is_wrong_with_channels(C):
    x = torch.randn(2, 8, 12, C)
    assert not torch.equal(partition_with_unfold(x, 4), st.window_partition(x, 4))
    assert not round_trip_probe(partition_with_unfold, st.window_reverse).passed
    # matching bugs: the round trip is exact, the probe still fails
    assert torch.equal(reverse_unfold(partition_with_unfold(x, 4), 4, 8, 12), x)
    assert not round_trip_probe(partition_with_unfold, reverse_unfold).passed


def test_unfold_partition_is_right_with_one_channel_check_your_understanding():
    x = torch.randn(2, 8, 12, 1)
    assert torch.equal(partition_with_unfold(x, 4), st.window_partition(x, 4))


def test_view_refuses_the_unfolded_tensor_and_suggests_reshape():
    x = torch.randn(1, 4, 4, 2)
    unfolded = x.unfold(1, 2, 2).unfold(2, 2, 2)
    with pytest.raises(RuntimeError, match="Use .reshape"):
        unfolded.view(-1, 2, 2, 2)
    assert torch.equal(unfolded.contiguous().view(-1, 2, 2, 2), partition_with_unfold(x, 2))
    fixed = unfolded.permute(0, 1, 2, 4, 5, 3).reshape(-1, 2, 2, 2)
    assert torch.equal(fixed, st.window_partition(x, 2))


def test_rolled_corner_window_holds_the_four_corners():
    ids = torch.arange(64.0).reshape(1, 8, 8, 1)  # the package wants floats
    rolled = st.cyclic_shift(ids, 2)
    corner = st.window_partition(rolled, 4)[3, :, :, 0].long()
    assert set(corner.flatten().tolist()) == {
        54, 55, 62, 63, 48, 49, 56, 57, 6, 7, 14, 15, 0, 1, 8, 9
    }  # fmt: skip
    assert corner[0, 1:3].tolist() == [55, 48] and corner[1:3, 0].tolist() == [62, 6]
    # check your understanding: token 5 lands at (6, 3)
    assert rolled[0, 6, 3, 0] == 5


@pytest.mark.parametrize("shift", [0, 1, 3, (2, 1), (0, 3), (5, 11)])
def test_cyclic_shift_is_roll_and_reverses(shift):
    x = torch.randn(2, 8, 12, 3)
    sh, sw = pair(shift)
    rolled = st.cyclic_shift(x, shift)
    assert torch.equal(rolled, torch.roll(x, (-sh, -sw), dims=(1, 2)))
    assert torch.equal(st.reverse_cyclic_shift(rolled, shift), x)


def region_ids_by_slices(H, W, window, shift):
    """Chapter 4's my_region_ids: label = 3 * row slice + column slice."""
    (wh, ww), (sh, sw) = pair(window), pair(shift)
    regions = torch.zeros(H, W, dtype=torch.long)
    label = 0
    for rows in (slice(0, H - wh), slice(H - wh, H - sh), slice(H - sh, H)):
        for cols in (slice(0, W - ww), slice(W - ww, W - sw), slice(W - sw, W)):
            regions[rows, cols] = label
            label += 1
    return regions


def mask_by_slices(H, W, window, shift):
    wh, ww = pair(window)
    labels = region_ids_by_slices(H, W, window, shift)
    per_window = st.window_partition(labels[None, :, :, None].float(), (wh, ww)).reshape(
        -1, wh * ww
    )
    return per_window[:, :, None] == per_window[:, None, :]


CASES_MASK = [(8, 8, 4, s) for s in range(4)] + [(14, 21, 7, s) for s in range(7)]
CASES_MASK += [
    (12, 10, (4, 5), (2, 1)),
    (9, 12, (3, 4), (1, 3)),
    (6, 8, (3, 4), (0, 2)),
    (4, 6, (2, 3), (1, 0)),
    (56, 56, 7, 3),
]


@pytest.mark.parametrize("H, W, window, shift", CASES_MASK)
def test_shift_mask_is_equal_labels_of_the_slices(H, W, window, shift):
    mask = st.shifted_window_mask(H, W, window, shift)
    assert mask.dtype == torch.bool
    assert torch.equal(mask, mask_by_slices(H, W, window, shift))
    assert torch.equal(mask, mask.transpose(1, 2))  # symmetric
    assert mask.diagonal(dim1=1, dim2=2).all()  # every query attends itself
    if all(pair(shift)):
        assert torch.equal(
            st.region_ids(H, W, window, shift), region_ids_by_slices(H, W, window, shift)
        )


def test_zero_shift_one_region_everything_allowed():
    assert (st.region_ids(8, 8, 4, 0) == 0).all()
    assert st.shifted_window_mask(8, 8, 4, 0).all()


def test_the_four_kinds_of_window_on_the_8x8_map():
    mask = st.shifted_window_mask(8, 8, 4, 2)
    assert [int(m.sum()) for m in mask] == [256, 128, 128, 64]
    halves = torch.block_diag(torch.ones(2, 2), torch.ones(2, 2)).bool()
    assert torch.equal(mask[1], torch.kron(torch.ones(4, 4), halves).bool())  # checkerboard
    assert torch.equal(mask[2], torch.block_diag(torch.ones(8, 8), torch.ones(8, 8)).bool())
    assert torch.equal(mask[3], mask[1] & mask[2])  # the corner combines both


def test_window_kinds_of_swin_t_stage_1_check_your_understanding():
    regions = st.region_ids(56, 56, 7, 3)
    per_window = st.window_partition(regions[None, :, :, None].float(), 7).reshape(64, -1)
    kinds = [len(set(w.tolist())) for w in per_window]
    assert kinds.count(1) == 49 and kinds.count(2) == 14 and kinds.count(4) == 1


def test_pad_shapes_check_your_understanding():
    padded, pads = st.pad_to_window_multiple(torch.zeros(1, 10, 13, 1), 7)
    assert padded.shape[1:3] == (14, 14) and pads == (4, 1)


def test_rolled_windows_hold_the_nine_windows_of_figure_2():
    regions = st.region_ids(8, 8, 4, 2)
    per_window = st.window_partition(regions[None, :, :, None].float(), 4).reshape(4, -1)
    assert sum(len(set(w.tolist())) for w in per_window) == 9 == (8 // 4 + 1) ** 2
    assert 9 / 4 == 2.25


# ----------------------------------------------------------------------------- chapter 5


def split_heads(qkv_out, heads):
    windows, N, three_C = qkv_out.shape
    d = three_C // (3 * heads)
    q, k, v = qkv_out.reshape(windows, N, 3, heads, d).permute(2, 0, 3, 1, 4)
    return q, k, v


def test_qkv_layout_queries_keys_values_by_slicing():
    torch.manual_seed(0)
    C, heads, M = 12, 3, 4
    d, N = C // heads, M * M
    qkv_out = torch.randn(8, N, 3 * C)
    q, k, v = split_heads(qkv_out, heads)
    for h in range(heads):
        assert torch.equal(q[:, h], qkv_out[:, :, h * d : (h + 1) * d])
        assert torch.equal(k[:, h], qkv_out[:, :, C + h * d : C + (h + 1) * d])
        assert torch.equal(v[:, h], qkv_out[:, :, 2 * C + h * d : 2 * C + (h + 1) * d])
    # the package reads qkv the same way: its output from the sliced q, k, v
    module = st.WindowAttention(C, heads, M, fused=False)
    x = torch.randn(8, N, C)
    with torch.no_grad():
        q, k, v = split_heads(module.qkv(x), heads)
        bias = module.relative_position_bias()
        out, _ = st.window_attention(q, k, v, bias, None, fused=False)
        by_hand = module.proj(out.transpose(1, 2).reshape(8, N, C))
        assert torch.allclose(by_hand, module(x), atol=1e-6)
    assert torch.equal(module.relative_position_index, st.relative_position_index(M))


def test_stage_3_key_channels_of_head_5_check_your_understanding():
    C, heads = 384, 12
    d = C // heads
    channels = torch.arange(3 * C).reshape(1, 1, 3 * C).float()
    _, k, _ = split_heads(channels, heads)
    assert k[0, 5, 0, [0, -1]].tolist() == [544.0, 575.0] == [C + 5 * d, C + 6 * d - 1]


def test_scaling_q_before_equals_scaling_scores_after():
    q, k = torch.randn(2, 8, 3, 16, 4, dtype=torch.float64).unbind(0)
    before = (q * 4**-0.5) @ k.transpose(-2, -1)
    after = (q @ k.transpose(-2, -1)) * 4**-0.5
    assert torch.allclose(before, after, atol=1e-12)


def test_explicit_and_fused_window_attention_agree():
    torch.manual_seed(0)
    explicit = st.WindowAttention(12, 3, 4, fused=False)
    fused = st.WindowAttention(12, 3, 4, fused=True)
    fused.load_state_dict(explicit.state_dict())
    mask = st.shifted_window_mask(8, 8, 4, 2)
    x = torch.randn(8, 16, 12)
    with torch.no_grad():
        assert torch.allclose(explicit(x, mask=mask), fused(x, mask=mask), atol=1e-5)


def distance_profile(seed):
    """Chapter 5, section 4: mean weight by distance bin, fresh and biased layer."""
    torch.manual_seed(seed)
    H, M, C, heads = 14, 7, 24, 3
    N = M * M
    windows = st.window_partition(torch.randn(1, H, H, C), M).reshape(-1, N, C)
    fresh = st.WindowAttention(C, heads, M)
    biased = copy.deepcopy(fresh)
    offsets = torch.arange(2 * M - 1) - (M - 1)
    dh, dw = torch.meshgrid(offsets, offsets, indexing="ij")
    distance = (dh**2 + dw**2).float().sqrt().reshape(-1)
    with torch.no_grad():
        biased.relative_position_bias_table.copy_(-0.5 * distance[:, None].expand(-1, heads))
        _, fresh_attn = fresh(windows, return_attention=True)
        _, biased_attn = biased(windows, return_attention=True)
    row, col = torch.arange(N) // M, torch.arange(N) % M
    pair_distance = ((row[:, None] - row[None, :]) ** 2 + (col[:, None] - col[None, :]) ** 2).sqrt()
    bins = pair_distance.floor().long()
    profile = [
        torch.stack([a[..., bins == b].mean() for b in range(int(bins.max()) + 1)]) * N
        for a in (fresh_attn, biased_attn)
    ]
    return profile, fresh, windows


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_fresh_layer_is_flat_by_distance_and_biased_layer_falls(seed):
    (fresh, biased), layer, windows = distance_profile(seed)
    assert ((fresh - 1).abs() < 0.1).all()
    assert (biased[1:] < biased[:-1]).all() and biased[0] > 4
    # flat on average, though each query's scores spread with the content
    with torch.no_grad():
        q, k, _ = split_heads(layer.qkv(windows), 3)
        scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    assert scores.std() > 0.1


def test_masked_corner_window_of_the_rolled_14x14_map():
    torch.manual_seed(0)
    M, s, C, heads = 7, 3, 24, 3
    mask = st.shifted_window_mask(14, 14, M, s)
    layer = st.WindowAttention(C, heads, M)
    windows = st.window_partition(st.cyclic_shift(torch.randn(1, 14, 14, C), s), M).reshape(
        -1, 49, C
    )
    with torch.no_grad():
        _, unmasked = layer(windows, return_attention=True)
        _, masked = layer(windows, mask=mask, return_attention=True)
    assert (masked.transpose(0, 1)[:, ~mask] == 0).all()
    assert torch.allclose(masked.sum(dim=-1), torch.ones(4, heads, 49))
    corner, query = 3, 24
    allowed = mask[corner, query].reshape(M, M)
    assert allowed[:4, :4].all() and int(allowed.sum()) == 16
    # queries that see 9, 12 or 16 keys: groups of 16, 12, 12 and 9 tokens
    keys_per_query = torch.bincount(mask[corner].sum(dim=-1))
    assert keys_per_query[[9, 12, 16]].tolist() == [9, 24, 16] and int(keys_per_query.sum()) == 49
    # check your understanding: the query at (0, 6) sees a 4 x 3 block
    assert int(mask[corner, 0 * M + 6].sum()) == 12
    # the allowed keys keep the unmasked weights, renormalised
    kept = mask[corner, query]
    before = unmasked[corner, :, query][:, kept]
    assert torch.allclose(masked[corner, :, query][:, kept], before / before.sum(-1, keepdim=True))
    # window 0 lies in one region: the mask changes nothing there
    assert torch.equal(masked[0], unmasked[0])


def test_repeat_and_repeat_interleave_agree_only_for_one_image():
    mask = st.shifted_window_mask(8, 8, 4, 2)
    assert torch.equal(mask.repeat(1, 1, 1), mask.repeat_interleave(1, dim=0))
    for B in (2, 3):
        assert not torch.equal(mask.repeat(B, 1, 1), mask.repeat_interleave(B, dim=0))
    # check your understanding: B = 3, window 9
    index = torch.arange(4)
    assert index.repeat(3)[9] == 1 and index.repeat_interleave(3)[9] == 3


# ----------------------------------------------------------------------------- chapter 6


def test_mlp_is_c_to_4c_to_c_with_gelu():
    mlp = st.SwinBlock(dim=32, num_heads=4).mlp
    assert (mlp.fc1.in_features, mlp.fc1.out_features, mlp.fc2.out_features) == (32, 128, 32)
    assert isinstance(mlp.act, torch.nn.GELU)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_stochastic_depth_keeps_1_minus_p_and_preserves_the_mean(seed):
    torch.manual_seed(seed)
    p = 0.3
    drop = st.SwinBlock(dim=8, num_heads=2, drop_path=p).drop_path1.train()
    sample = torch.randn(1, 2, 2, 8)
    out = drop(sample.expand(100_000, 2, 2, 8))
    kept = (out != 0).flatten(1).any(dim=1)
    assert abs(kept.float().mean().item() - (1 - p)) < 0.01
    average = out.mean(dim=0, keepdim=True)
    assert (average - sample).abs().max() < 0.02 * sample.abs().max()
    assert torch.equal(drop.eval()(sample), sample)


def test_drop_path_rates_default_and_paper():
    import inspect

    default = inspect.signature(timm.models.swin_transformer.SwinTransformer)
    assert default.parameters["drop_path_rate"].default == 0.1
    paper = st.swin_t(drop_path_rate=0.2)
    rates = [b.drop_path1.p for stage in paper.layers for b in stage.blocks]
    assert rates[0] == 0.0 and abs(rates[-1] - 0.2) < 1e-6
    # check your understanding: block 6 of the default model
    assert abs(0.1 * 6 / 11 - 0.0545) < 1e-3


def test_stage_4_at_224_is_one_window_every_key_weighted():
    torch.manual_seed(0)
    model = st.swin_t().eval()
    x = torch.randn(1, 7, 7, 768)
    for block in model.layers[3].blocks:
        with torch.no_grad():
            assert (block.attention_weights(x) > 0).all()


@pytest.fixture(scope="module")
def swin_t_parts():
    torch.manual_seed(0)
    model = st.swin_t().eval()
    from swin_tutorial.complexity import count_macs

    image = torch.randn(1, 3, 224, 224)
    parts = [model.patch_embed, *model.layers, torch.nn.Sequential(model.norm, model.head)]
    rows, x = [], image
    for module in parts:
        outputs = []
        macs = count_macs(lambda t, m=module, out=outputs: out.append(m(t)), x)
        x = outputs[0]
        rows.append((sum(p.numel() for p in module.parameters()), macs))
    return model, rows


def test_where_swin_t_keeps_its_parameters_and_spends_its_compute(swin_t_parts):
    model, rows = swin_t_parts
    params = sum(p.numel() for p in model.parameters())
    macs = sum(m for _, m in rows)
    assert params == 28_288_354 and sum(n for n, _ in rows) == params
    assert abs(macs - 4.5e9) / 4.5e9 < 0.01
    share = [(n / params, m / macs) for n, m in rows]
    stage3, stage4 = share[3], share[4]
    assert stage4[0] > 0.5 and stage4[1] < 0.2  # most weights, few MACs
    assert stage3[1] > 0.45 and max(share, key=lambda s: s[1]) == stage3
    block_params = [sum(p.numel() for p in stage.blocks[0].parameters()) for stage in model.layers]
    assert all(3.9 < b / a < 4.1 for a, b in zip(block_params, block_params[1:], strict=False))
    assert round(params * 4 / 1e6) == 113  # MB of float32 weights


def test_load_timm_state_dict_drops_buffers_and_refuses_wrong_parameters():
    torch.manual_seed(0)
    state = timm.create_model("swin_tiny_patch4_window7_224", pretrained=False).state_dict()
    model = st.swin_t().eval()
    index = torch.zeros(49, 49, dtype=torch.long)
    st.load_timm_state_dict(
        model, {**state, "layers.0.blocks.0.attn.relative_position_index": index}
    )
    assert torch.equal(
        model.layers[0].blocks[0].attn.relative_position_index, st.relative_position_index(7)
    )
    missing = {key: value for key, value in state.items() if key != "head.fc.bias"}
    with pytest.raises(RuntimeError, match="head.fc.bias"):
        st.load_timm_state_dict(model, missing)
    with pytest.raises(RuntimeError, match="head.fc.scale"):
        st.load_timm_state_dict(model, {**state, "head.fc.scale": torch.ones(1000)})


def test_timm_transform_normalises_with_imagenet_statistics():
    model = timm.create_model("swin_tiny_patch4_window7_224", pretrained=False)
    config = timm.data.resolve_data_config({}, model=model)
    assert config["mean"] == timm.data.IMAGENET_DEFAULT_MEAN
    assert config["std"] == timm.data.IMAGENET_DEFAULT_STD
    assert math.floor(224 / config["crop_pct"]) == 248


def test_table_7_architectures_are_timms(monkeypatch):
    """Table 7 of the Swin paper: embedding width, blocks and heads of Swin-T/S/B/L."""
    captured = {}

    def capture(name, pretrained=False, **kwargs):
        captured[name] = kwargs

    monkeypatch.setattr(timm.models.swin_transformer, "_create_swin_transformer", capture)
    for size in ("tiny", "small", "base", "large"):
        getattr(timm.models.swin_transformer, f"swin_{size}_patch4_window7_224")()
    table7 = {
        "tiny": (96, (2, 2, 6, 2), (3, 6, 12, 24)),
        "small": (96, (2, 2, 18, 2), (3, 6, 12, 24)),
        "base": (128, (2, 2, 18, 2), (4, 8, 16, 32)),
        "large": (192, (2, 2, 18, 2), (6, 12, 24, 48)),
    }
    for size, (width, depths, heads) in table7.items():
        args = captured[f"swin_{size}_patch4_window7_224"]
        assert (args["embed_dim"], tuple(args["depths"]), tuple(args["num_heads"])) == (
            width,
            depths,
            heads,
        )
        assert args["window_size"] == 7 and args["patch_size"] == 4
        assert all(width * 2**i // h == 32 for i, h in enumerate(heads))  # d = 32 per head
    ours = (st.SWIN_T.embed_dim, tuple(st.SWIN_T.depths), tuple(st.SWIN_T.num_heads))
    assert ours == table7["tiny"]


def test_detection_input_shapes_and_padding_check_your_understanding():
    model = st.swin_t()
    with pytest.raises(ValueError, match="multiple of the patch size"):
        stage_shapes(model, (800, 1333))
    shapes = stage_shapes(model, (800, 1344))
    assert [800 // s.height for s in shapes] == [4, 8, 16, 32]
    assert [1344 // s.width for s in shapes] == [4, 8, 16, 32]
    assert shapes[0].windows == 29 * 48 == 1392 and shapes[3].windows == 24
    # 1336 is a multiple of 4, not of 32: stage 3 spans more than the image
    widths = [s.width for s in stage_shapes(model, (800, 1336))]
    assert widths == [334, 167, 84, 42] and widths[2] * 16 == 1344 != 1336


def test_global_attention_at_stride_4_costs_more_than_the_windowed_backbone():
    from swin_tutorial.complexity import attention_flops, count_macs

    model = copy.deepcopy(st.swin_t().eval()).to("meta")
    image = torch.empty(1, 3, 800, 1344, device="meta")
    backbone = count_macs(model.forward_hierarchy, image)
    small = count_macs(model.forward_hierarchy, torch.empty(1, 3, 224, 224, device="meta"))
    pixels = 800 * 1344 / 224**2
    assert 1.0 < backbone / small / pixels < 1.05
    global_layer = attention_flops(200, 336, 96)
    window_layer = attention_flops(203, 336, 96, 7)
    assert round(global_layer / window_layer) == 276
    assert global_layer > 8 * backbone
    T = 200 * 336
    assert round(T * T * 3 * 4 / 1e9) == 54  # GB of float32 attention weights, 3 heads
    assert (224 // 16) ** 2 == 196 and T == 16 * (800 // 16) * (1344 // 16)
