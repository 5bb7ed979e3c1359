"""The Swin paper's cost formulas agree with a FLOP counter."""

import pytest
import torch
import torch.nn.functional as F
from torch.utils.flop_counter import FlopCounterMode

import swin_tutorial as st
from swin_tutorial.complexity import attention_flops, count_macs


def _global_attention(x: torch.Tensor, attention: st.WindowAttention) -> torch.Tensor:
    """All H*W tokens in one window, through the same projections."""
    B, H, W, C = x.shape
    return attention(x.reshape(B, H * W, C), window_size=(H, W))


def _raw_macs(fn, *inputs) -> int:
    """Multiply-adds straight from ``FlopCounterMode`` (2 FLOPs each), no custom mapping."""
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        fn(*inputs)
    return counter.get_total_flops() // 2


@pytest.mark.parametrize(
    "H, W, window", [(7, 7, 7), (14, 14, 7), (28, 28, 7), (14, 21, 7), (12, 20, (4, 5))]
)
@pytest.mark.parametrize("fused", [True, False])
def test_window_formula_matches_counter(H, W, window, fused):
    C = 32
    wh, ww = (window, window) if isinstance(window, int) else window
    attention = st.WindowAttention(C, 2, window, fused=fused).eval()
    windows = st.window_partition(torch.randn(2, H, W, C), window).reshape(-1, wh * ww, C)
    assert count_macs(attention, windows) == 2 * attention_flops(H, W, C, window)
    if not fused:  # the explicit path is plain matmuls: the bare counter sees all of it
        assert _raw_macs(attention, windows) == 2 * attention_flops(H, W, C, window)


@pytest.mark.parametrize("size", [4, 7, 10])
def test_global_formula_matches_counter(size):
    C = 32
    attention = st.WindowAttention(C, 2, size).eval()
    x = torch.randn(1, size, size, C)
    assert count_macs(_global_attention, x, attention) == attention_flops(size, size, C)


def test_count_macs_is_half_the_flop_counter_total():
    model = st.swin_nano(fused=False).eval()
    images = torch.randn(1, 1, 32, 32)
    macs = count_macs(model, images)
    assert macs > 0 and macs == _raw_macs(model, images)
    assert count_macs(st.swin_nano(fused=True).eval(), images) == macs


def test_counter_sees_fused_attention_on_cpu():
    q = torch.randn(2, 3, 49, 32)
    assert count_macs(F.scaled_dot_product_attention, q, q, q) == 2 * 2 * 3 * 49 * 49 * 32


def test_window_attention_is_cheaper_by_the_predicted_amount():
    C, M = 96, 7
    for hw in (14 * 14, 56 * 56):
        side = int(hw**0.5)
        ratio = attention_flops(side, side, C) / attention_flops(side, side, C, M)
        assert ratio == pytest.approx((4 * C + 2 * hw) / (4 * C + 2 * M * M))
