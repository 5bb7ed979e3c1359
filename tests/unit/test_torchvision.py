"""Shifted window attention equals torchvision's on maps that need padding.

torchvision pads first and rolls after (as we do), so on maps larger than the
window on both axes the two agree. Where the map is not larger than the window,
torchvision keeps the window and pads while we (like timm) shrink the window to
the map; that regime is checked against global attention in test_attention.py.
"""

import pytest
import torch
from reference import window_bias

import swin_tutorial as st
from swin_tutorial.model import timm_to_torchvision_swin

torchvision_swin = pytest.importorskip("torchvision.models.swin_transformer")

SIZES = [(10, 13), (9, 16), (14, 14), (8, 22)]


def _block(H, W, shift, fused):
    torch.manual_seed(H * W + shift)
    return st.SwinBlock(24, 3, 7, shift, fused=fused).eval()


@pytest.mark.parametrize("H, W", SIZES)
@pytest.mark.parametrize("shift", [0, 3])
@pytest.mark.parametrize("fused", [True, False])
def test_equals_torchvision_function(H, W, shift, fused):
    """torchvision's functional form, the bias gathered by offsets (tests/unit/reference.py)."""
    block = _block(H, W, shift, fused)
    attn = block.attn
    x = torch.randn(2, H, W, 24)
    bias = window_bias(attn.relative_position_bias_table, (7, 7), (7, 7))[None]  # (1, heads, N, N)
    with torch.no_grad():
        theirs = torchvision_swin.shifted_window_attention(
            x,
            attn.qkv.weight,
            attn.proj.weight,
            bias,
            [7, 7],
            3,
            [shift, shift],
            qkv_bias=attn.qkv.bias,
            proj_bias=attn.proj.bias,
            training=False,
        )
        ours = block.shifted_window_attention(x)
    assert ((ours - theirs).norm() / theirs.norm()) < 1e-5


@pytest.mark.parametrize("H, W", SIZES)
@pytest.mark.parametrize("shift", [(0, 0), (3, 3), (2, 5)])
def test_equals_torchvision_module(H, W, shift):
    """torchvision's ShiftedWindowAttention module (its own bias index) with our weights."""
    block = st.SwinBlock(24, 3, 7, shift).eval()
    theirs = torchvision_swin.ShiftedWindowAttention(24, [7, 7], list(shift), 3).eval()
    with torch.no_grad():
        for name in (
            "qkv.weight",
            "qkv.bias",
            "proj.weight",
            "proj.bias",
            "relative_position_bias_table",
        ):
            theirs.get_parameter(name).copy_(block.attn.get_parameter(name))
        x = torch.randn(2, H, W, 24)
        ours, expected = block.shifted_window_attention(x), theirs(x)
    assert ((ours - expected).norm() / expected.norm()) < 1e-5


def test_timm_to_torchvision_key_renaming():
    renamed = timm_to_torchvision_swin(
        {
            "patch_embed.proj.weight": 1,
            "patch_embed.norm.bias": 2,
            "layers.0.blocks.1.mlp.fc2.weight": 3,
            "layers.2.downsample.reduction.weight": 4,
            "layers.2.blocks.0.attn.relative_position_index": 5,
            "head.fc.bias": 6,
            "norm.weight": 7,
        }
    )
    assert renamed == {
        "features.0.0.weight": 1,
        "features.0.2.bias": 2,
        "features.1.1.mlp.3.weight": 3,
        "features.4.reduction.weight": 4,
        "head.bias": 6,
        "norm.weight": 7,
    }
    for key in ("pos_embed", "patch_embed.proj", "layers.0.foo.0.weight"):
        with pytest.raises(ValueError, match=f"not a Swin parameter: '{key}'"):
            timm_to_torchvision_swin({key: 0})


def test_converted_weights_give_torchvision_our_logits():
    """The package's nano Swin (RGB), loaded into torchvision's model strictly."""
    torch.manual_seed(0)
    ours = st.swin_nano(in_chans=3).eval()
    config = st.SWIN_NANO
    theirs = torchvision_swin.SwinTransformer(
        patch_size=[config.patch_size] * 2,
        embed_dim=config.embed_dim,
        depths=list(config.depths),
        num_heads=list(config.num_heads),
        window_size=[config.window_size] * 2,
        stochastic_depth_prob=0.0,
        num_classes=config.num_classes,
    ).eval()
    converted = timm_to_torchvision_swin(ours.state_dict())
    buffers = {k: v for k, v in theirs.state_dict().items() if k.endswith("position_index")}
    theirs.load_state_dict({**buffers, **converted}, strict=True)
    images = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        expected, got = theirs(images), ours(images)
    assert ((got - expected).norm() / expected.norm()) < 1e-5
