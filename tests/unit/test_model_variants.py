"""Variants of the shift experiment: no shift, global and neighbourhood blocks, one resolution.

The locality theorem behind chapter 12 is tested on the model itself: without
a shift, each output token depends only on the pixels of its own window, so
the pooled logits are a sum of per-window terms.
"""

import math

import pytest
import torch
import torch.nn.functional as F
from reference import coordinate_bias, coordinate_mask, effective_axis

import swin_tutorial as st
from swin_tutorial.blocks import NeighborhoodBlock, SwinBlock, SwinV2Block
from swin_tutorial.data import cross_window_dataset
from swin_tutorial.model import SwinTransformer, swin_single_resolution

VARIANTS = ("window", "shifted", "global", "neighborhood")


def _randomise(model: torch.nn.Module, scale: float = 1.0) -> torch.nn.Module:
    """Redraw every parameter so that no term of the forward pass is negligible."""
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.copy_(
                scale
                * torch.randn(parameter.shape, generator=generator)
                / max(1, parameter.shape[-1]) ** 0.5
            )
    return model


# --------------------------------------------------------------------------- construction


def test_default_stage_alternates_and_window_stage_never_shifts():
    shifted = st.SwinStage(8, 8, depth=4, num_heads=2, window_size=4, downsample=False)
    plain = st.SwinStage(
        8, 8, depth=4, num_heads=2, window_size=4, downsample=False, attention="window"
    )
    assert [b.shift_size for b in shifted.blocks] == [(0, 0), (2, 2), (0, 0), (2, 2)]
    assert [b.shift_size for b in plain.blocks] == [(0, 0)] * 4
    assert set(shifted.state_dict()) == set(plain.state_dict())


def test_swin_t_is_unchanged_by_the_new_options():
    model = st.swin_t()
    assert model.attention == "shifted"
    assert [b.shift_size for stage in model.layers for b in stage.blocks][:2] == [(0, 0), (3, 3)]
    # timm's initialisation: linear weights with std 0.02
    weight = model.layers[0].blocks[0].attn.qkv.weight
    assert abs(weight.std().item() - 0.02) < 0.003


@pytest.mark.parametrize("attention", VARIANTS)
def test_single_resolution_model_has_one_stage_no_merging_and_a_linear_head(attention):
    model = swin_single_resolution(attention)
    assert len(model.layers) == 1
    assert isinstance(model.layers[0].downsample, torch.nn.Identity)
    assert isinstance(model.head.fc, torch.nn.Linear)
    images = torch.randn(3, 1, 16, 16)
    assert model.forward_features(images).shape == (3, 8, 8, 16)
    assert model(images).shape == (3, 2)
    blocks = list(model.layers[0].blocks)
    assert len(blocks) == 2
    if attention == "neighborhood":
        assert all(isinstance(b, NeighborhoodBlock) and b.attn.kernel_size == 5 for b in blocks)
    else:
        expected_window = (8, 8) if attention == "global" else (4, 4)
        shifts = [(0, 0), (2, 2)] if attention == "shifted" else [(0, 0)] * 2
        assert [b.window_size for b in blocks] == [expected_window] * 2
        assert [b.shift_size for b in blocks] == shifts
    deeper = swin_single_resolution(attention, depths=(4,), embed_dim=32)
    assert len(deeper.layers[0].blocks) == 4 and deeper.num_features == 32


def test_variants_differ_only_in_their_position_bias_tables():
    def count(attention, tables):
        model = swin_single_resolution(attention)
        return sum(
            p.numel()
            for name, p in model.named_parameters()
            if (name.endswith(("relative_position_bias_table", "rpb"))) == tables
        )

    assert len({count(a, tables=False) for a in VARIANTS}) == 1
    # (2M - 1)^2 offsets x 2 heads x 2 blocks: windows of 4, the whole 8x8 map, neighbourhoods of 5
    assert [count(a, tables=True) for a in VARIANTS] == [4 * 49, 4 * 49, 4 * 225, 4 * 81]


def test_global_variant_attends_everywhere():
    """Its one window covers the map: every query's weights are positive on every key."""
    model = _randomise(swin_single_resolution("global")).eval()
    x = model.patch_embed(torch.randn(2, 1, 16, 16))  # (2, 8, 8, 16)
    with torch.no_grad():
        weights = model.layers[0].blocks[0].attention_weights(x)
    assert weights.shape == (2, 2, 64, 64)
    assert (weights > 0).all()


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(attention="sliding"), "attention"),
        (dict(attention="neighborhood", window_size=4), "odd"),
        (dict(attention="neighborhood", window_size=5, version=2), "version"),
        (dict(init_std=0.0), "init_std"),
    ],
)
def test_bad_variant_arguments(kwargs, match):
    config = (
        dict(
            img_size=16,
            patch_size=2,
            in_chans=1,
            num_classes=2,
            embed_dim=8,
            depths=(2,),
            num_heads=(2,),
            window_size=4,
        )
        | kwargs
    )
    with pytest.raises(ValueError, match=match):
        SwinTransformer(**config)


def test_neighborhood_side_must_be_one_int():
    with pytest.raises(TypeError, match=r"window_size must be an int, got window_size=\(5, 5\)"):
        SwinTransformer(
            in_chans=1, depths=(2,), num_heads=(2,), attention="neighborhood", window_size=(5, 5)
        )


def test_single_resolution_bad_arguments():
    with pytest.raises(ValueError, match="attention"):
        swin_single_resolution("dilated")
    with pytest.raises(ValueError, match="one stage"):
        swin_single_resolution("window", depths=(2, 2), num_heads=(2, 2))


def test_init_std_none_keeps_pytorchs_fan_in_initialisation():
    torch.manual_seed(0)
    model = swin_single_resolution("window", embed_dim=64)
    weight = model.layers[0].blocks[0].mlp.fc1.weight  # fan_in 64: uniform(-1/8, 1/8)
    assert weight.abs().max() <= 1 / 8 + 1e-6
    assert abs(weight.std().item() - 1 / (8 * math.sqrt(3))) < 0.005


# --------------------------------------------------------------------------- neighbourhood block


def test_neighborhood_block_is_a_pre_norm_block_around_neighbourhood_attention():
    torch.manual_seed(0)
    block = NeighborhoodBlock(dim=16, num_heads=2, kernel_size=3).eval()
    x = torch.randn(2, 7, 9, 16)
    with torch.no_grad():
        y = x + block.attn(block.norm1(x))
        expected = y + block.mlp(block.norm2(y))
        # the attention, brute force: each query over its 3x3 neighbours (clamped at borders)
        q, k, v = block.attn.qkv(block.norm1(x)).reshape(2, 7, 9, 3, 2, 8).unbind(3)
        mask = st.neighborhood_pattern(7, 9, 3)
        scores = torch.einsum(
            "bihd,bjhd->bhij", q.reshape(2, 63, 2, 8), k.reshape(2, 63, 2, 8)
        ) / math.sqrt(8)
        rows, cols = torch.arange(63) // 9, torch.arange(63) % 9
        dh = (rows[None, :] - rows[:, None] + 2).clamp(0, 4)
        dw = (cols[None, :] - cols[:, None] + 2).clamp(0, 4)
        scores = scores + block.attn.rpb[:, dh, dw]
        attn = scores.masked_fill(~mask, float("-inf")).softmax(-1)
        out = torch.einsum("bhij,bjhd->bihd", attn, v.reshape(2, 63, 2, 8)).reshape(2, 7, 9, 16)
        assert torch.allclose(block.attn(block.norm1(x)), block.attn.proj(out), atol=1e-5)
        assert torch.allclose(block(x), expected, atol=1e-6)


def test_neighborhood_block_bad_arguments():
    with pytest.raises(ValueError, match="kernel_size"):
        NeighborhoodBlock(16, 2, kernel_size=4)
    with pytest.raises(ValueError, match="mlp_ratio"):
        NeighborhoodBlock(16, 2, kernel_size=3, mlp_ratio=0)
    with pytest.raises(ValueError, match="rank 4"):
        NeighborhoodBlock(16, 2, kernel_size=3)(torch.randn(2, 16))


# --------------------------------------------------------------------------- attention weights


def _reference_weights(block: SwinBlock, x: torch.Tensor) -> torch.Tensor:
    """Weights from coordinates (tests/unit/reference.py): dense (B, heads, HW, HW)."""
    B, H, W, C = x.shape
    wh, sh = effective_axis(H, block.window_size[0], block.shift_size[0])
    ww, sw = effective_axis(W, block.window_size[1], block.shift_size[1])
    Hp, Wp = H + (-H) % wh, W + (-W) % ww
    y = F.pad(block.norm1(x), (0, 0, 0, Wp - W, 0, Hp - H)).reshape(B, Hp * Wp, C)
    heads = block.attn.num_heads
    q, k, _ = block.attn.qkv(y).reshape(B, -1, 3, heads, C // heads).permute(2, 0, 3, 1, 4)
    scores = q @ k.transpose(-2, -1) * (C // heads) ** -0.5
    scores = scores + coordinate_bias(
        Hp, Wp, block.attn.relative_position_bias_table, block.window_size
    )
    allowed = coordinate_mask(Hp, Wp, (wh, ww), (sh, sw))
    weights = scores.masked_fill(~allowed, float("-inf")).softmax(-1)
    keep = (torch.arange(Hp)[:, None] < H) & (torch.arange(Wp)[None, :] < W)
    keep = keep.flatten()
    return weights[:, :, keep][:, :, :, keep]


@pytest.mark.parametrize("shift", [0, 2])
@pytest.mark.parametrize("size", [(8, 8), (6, 10), (3, 5)])
def test_attention_weights_equal_the_coordinate_reference(shift, size):
    torch.manual_seed(0)
    block = SwinBlock(dim=8, num_heads=2, window_size=4, shift_size=shift).double().eval()
    with torch.no_grad():
        block.attn.relative_position_bias_table.normal_(std=1.0)
        x = torch.randn(2, *size, 8, dtype=torch.float64)
        weights = block.attention_weights(x)
        reference = _reference_weights(block, x)
    H, W = size
    assert weights.shape == (2, 2, H * W, H * W)
    assert torch.allclose(weights, reference, atol=1e-12)


def test_attention_weights_reproduce_the_blocks_attention_branch():
    torch.manual_seed(1)
    block = SwinBlock(dim=8, num_heads=2, window_size=4, shift_size=2).double().eval()
    x = torch.randn(2, 8, 12, 8, dtype=torch.float64)
    with torch.no_grad():
        weights = block.attention_weights(x)  # (B, heads, T, T)
        v = (
            block.attn.qkv(block.norm1(x)).reshape(2, 96, 3, 2, 4)[:, :, 2].transpose(1, 2)
        )  # (B, heads, T, d)
        mixed = (weights @ v).transpose(1, 2).reshape(2, 8, 12, 8)
        assert torch.allclose(
            block.attn.proj(mixed), block.shifted_window_attention(block.norm1(x)), atol=1e-12
        )


def test_attention_weights_of_a_v2_block_sum_to_one_inside_its_windows():
    torch.manual_seed(2)
    block = SwinV2Block(dim=8, num_heads=2, window_size=4, shift_size=2).eval()
    x = torch.randn(1, 8, 8, 8)
    with torch.no_grad():
        weights = block.attention_weights(x)
    allowed = st.shifted_window_pattern(8, 8, 4, 2)
    assert torch.allclose(weights.sum(-1), torch.ones(1, 2, 64), atol=1e-5)
    assert (weights[:, :, ~allowed] == 0).all()


# --------------------------------------------------------------------------- the locality theorem


@pytest.mark.parametrize("attention, local", [("window", True), ("shifted", False)])
def test_without_shift_a_token_depends_only_on_its_own_window(attention, local):
    """Change every pixel outside one window: the tokens of that window stay bit-identical."""
    model = _randomise(swin_single_resolution(attention)).eval()
    images = torch.randn(2, 1, 16, 16)
    changed = images + torch.randn(2, 1, 16, 16)
    changed[:, :, 8:16, 0:8] = images[
        :, :, 8:16, 0:8
    ]  # window (1, 0): token rows 4..7, columns 0..3
    with torch.no_grad():
        before, after = model.forward_features(images), model.forward_features(changed)
    same = torch.equal(before[:, 4:8, 0:4], after[:, 4:8, 0:4])
    assert same is local


@pytest.mark.parametrize("attention", VARIANTS)
def test_pooled_logits_of_the_no_shift_model_add_up_over_windows(attention):
    """s(A,A) + s(B,B) = s(A,B) + s(B,A) for every layout: exactly so without shift only."""
    model = _randomise(swin_single_resolution(attention), scale=2.0).double().eval()
    data = cross_window_dataset(16, seed=0)
    with torch.no_grad():
        logits = model(data.images.double())
    score = (logits[:, 1] - logits[:, 0]).reshape(16, 4)  # members: (A,A), (B,B), (A,B), (B,A)
    interaction = score[:, 0] + score[:, 1] - score[:, 2] - score[:, 3]
    if attention == "window":  # zero up to float64 rounding
        assert interaction.abs().max() < 1e-12 * score.abs().max()
    else:  # far above rounding: the two marks interact
        assert interaction.abs().min() > 1e-7 * score.abs().max()


def test_no_shift_model_cannot_beat_log_2_on_the_cross_window_task():
    """Whatever the weights, its cross-entropy on a balanced cross-window set is at least log 2."""
    data = cross_window_dataset(32, seed=1)
    for seed in range(3):
        model = swin_single_resolution("window").eval()
        generator = torch.Generator().manual_seed(seed)
        with torch.no_grad():
            for parameter in model.parameters():
                parameter.add_(torch.randn(parameter.shape, generator=generator))
            loss = F.cross_entropy(model(data.images), data.labels).item()
        assert loss >= math.log(2) - 1e-5, (seed, loss)
