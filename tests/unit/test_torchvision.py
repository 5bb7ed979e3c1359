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

torchvision_swin = pytest.importorskip("torchvision.models.swin_transformer")

SIZES = [(10, 13), (9, 16), (14, 14), (8, 22)]


def _block(H, W, shift, fused):
    torch.manual_seed(H * W + shift)
    return st.SwinBlock(24, 3, 7, shift, fused=fused).eval()


@pytest.mark.parametrize("H, W", SIZES)
@pytest.mark.parametrize("shift", [0, 3])
@pytest.mark.parametrize("fused", [True, False])
def test_equals_torchvision_function(H, W, shift, fused):
    """torchvision's functional form, with the bias gathered by offsets (tests/unit/reference.py)."""
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
