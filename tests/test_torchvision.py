"""Shifted window attention equals torchvision's on maps that need padding."""

import pytest
import torch

import swin_tutorial as st

torchvision_swin = pytest.importorskip("torchvision.models.swin_transformer")


@pytest.mark.parametrize("H, W", [(10, 13), (9, 16), (14, 14), (8, 22)])
@pytest.mark.parametrize("shift", [0, 3])
@pytest.mark.parametrize("fused", [True, False])
def test_equals_torchvision(H, W, shift, fused):
    torch.manual_seed(H * W + shift)
    block = st.SwinBlock(24, 3, 7, shift, fused=fused).eval()
    attn = block.attn
    x = torch.randn(2, H, W, 24)
    theirs = torchvision_swin.shifted_window_attention(
        x,
        attn.qkv.weight,
        attn.proj.weight,
        attn.relative_position_bias((7, 7)),
        [7, 7],
        3,
        [shift, shift],
        qkv_bias=attn.qkv.bias,
        proj_bias=attn.proj.bias,
        training=False,
    )
    with torch.no_grad():
        ours = block.shifted_window_attention(x)
    assert ((ours - theirs).norm() / theirs.norm()) < 1e-5
