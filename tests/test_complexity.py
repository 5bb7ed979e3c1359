"""The Swin paper's cost formulas agree with a FLOP counter."""

import pytest
import torch
import torch.nn.functional as F

import swin_tutorial as st
from swin_tutorial.complexity import attention_flops, count_macs


def _global_attention(x: torch.Tensor, attention: st.WindowAttention) -> torch.Tensor:
    """All H*W tokens in one window, through the same projections."""
    B, H, W, C = x.shape
    return attention(x.reshape(B, H * W, C), window_size=(H, W))


@pytest.mark.parametrize("size", [7, 14, 28])
def test_window_formula_matches_counter(size):
    C, M = 32, 7
    attention = st.WindowAttention(C, 2, M).eval()
    x = torch.randn(1, size, size, C)
    windows = st.window_partition(x, M).reshape(-1, M * M, C)
    assert count_macs(attention, windows) == attention_flops(size, size, C, M)


@pytest.mark.parametrize("size", [4, 7, 10])
def test_global_formula_matches_counter(size):
    C = 32
    attention = st.WindowAttention(C, 2, size).eval()
    x = torch.randn(1, size, size, C)
    assert count_macs(_global_attention, x, attention) == attention_flops(size, size, C)


def test_counter_sees_fused_attention_on_cpu():
    q = torch.randn(2, 3, 49, 32)
    assert count_macs(F.scaled_dot_product_attention, q, q, q) == 2 * 2 * 3 * 49 * 49 * 32


def test_window_attention_is_cheaper_by_the_predicted_amount():
    C, M = 96, 7
    for hw in (14 * 14, 56 * 56):
        side = int(hw**0.5)
        ratio = attention_flops(side, side, C) / attention_flops(side, side, C, M)
        assert ratio == pytest.approx((4 * C + 2 * hw) / (4 * C + 2 * M * M))
