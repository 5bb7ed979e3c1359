"""Claims of chapter 3 (Math) that deserve a package test of their own.

* the closed form of the receptive field after L blocks with alternating shift,
  against the package's patterns and against a real stage's gradients;
* every query of a shifted window sees at least min(s, M - s) tokens per axis;
* the flop counter counts the same on the ``meta`` device as on the CPU (the
  chapter counts large global attention on ``meta``).
"""

import pytest
import torch

import swin_tutorial as st
from swin_tutorial.complexity import attention_flops, count_macs
from swin_tutorial.patterns import receptive_field, shifted_window_pattern


def rf_interval(t: int, layers: int, n: int, window: int, shift: int) -> torch.Tensor:
    """Inputs reaching output ``t`` of an axis of ``n`` after ``layers`` blocks, regular first.

    ``L = 2r + 1``: ``[(j - r) M, (j + r + 1) M)`` with ``j = t // M``;
    ``L = 2r``: ``[(j' - r + 1) M, (j' + r + 1) M)`` with ``j' = (t - s) // M``;
    clipped to ``[0, n)``.
    """
    r = layers // 2
    if layers % 2:
        j = t // window
        lo, hi = (j - r) * window, (j + r + 1) * window
    else:
        jp = (t - shift) // window
        lo, hi = (jp - r + 1) * window, (jp + r + 1) * window
    field = torch.zeros(n, dtype=torch.bool)
    field[max(lo, 0) : min(hi, n)] = True
    return field


@pytest.mark.parametrize(
    "H, W, window, shift",
    [
        (12, 16, (4, 4), (2, 2)),
        (9, 12, (3, 4), (1, 3)),
        (14, 14, (7, 7), (3, 3)),
        (10, 15, (5, 5), (4, 1)),
    ],
)
@pytest.mark.parametrize("layers", [1, 2, 3, 4, 5])
def test_receptive_field_closed_form(H, W, window, shift, layers):
    patterns = [
        shifted_window_pattern(H, W, window, shift if layer % 2 else 0) for layer in range(layers)
    ]
    for i in range(H):
        for j in range(W):
            expected = (
                rf_interval(i, layers, H, window[0], shift[0])[:, None]
                & rf_interval(j, layers, W, window[1], shift[1])[None, :]
            )
            assert torch.equal(receptive_field(patterns, i * W + j).reshape(H, W), expected)


@pytest.mark.parametrize("depth, query", [(3, (5, 9)), (4, (7, 10)), (4, (0, 19))])
def test_stage_gradient_support_is_the_receptive_field(depth, query):
    torch.manual_seed(0)
    H, W, M = 16, 20, 4
    stage = st.SwinStage(8, 8, depth=depth, num_heads=2, window_size=M, downsample=False).double()
    x = torch.randn(1, H, W, 8, dtype=torch.float64, requires_grad=True)
    stage(x)[0, query[0], query[1]].sum().backward()
    depends = x.grad[0].abs().sum(dim=-1) > 0
    expected = (
        rf_interval(query[0], depth, H, M, M // 2)[:, None]
        & rf_interval(query[1], depth, W, M, M // 2)[None, :]
    )
    assert torch.equal(depends, expected)


@pytest.mark.parametrize(
    "H, W, window, shift",
    [
        (14, 14, (7, 7), (3, 3)),
        (8, 12, (4, 4), (1, 1)),
        (12, 12, (6, 6), (5, 5)),
        (12, 15, (4, 5), (2, 0)),
        (8, 8, (4, 4), (0, 3)),
        (4, 6, (4, 6), (2, 3)),
    ],
)
def test_every_query_sees_itself_and_a_whole_region(H, W, window, shift):
    def fewest(M: int, s: int) -> int:
        return M if s == 0 else min(s, M - s)

    mask = st.shifted_window_mask(H, W, window, shift)
    assert mask.diagonal(dim1=1, dim2=2).all()
    assert int(mask.sum(dim=-1).min()) == fewest(window[0], shift[0]) * fewest(window[1], shift[1])


@pytest.mark.parametrize("side", [14, 28])
def test_meta_device_counts_like_cpu(side):
    C, M = 32, 7

    def global_and_window(device: str) -> tuple[int, int]:
        with torch.device(device):
            one_window = st.WindowAttention(C, 2, window_size=side)
            windows = st.WindowAttention(C, 2, window_size=M)
            x = torch.randn(1, side, side, C)
        g = count_macs(one_window, x.reshape(1, side * side, C))
        w = count_macs(lambda t: windows(st.window_partition(t, M).reshape(-1, M * M, C)), x)
        return g, w

    assert global_and_window("meta") == global_and_window("cpu")
    assert global_and_window("meta") == (
        attention_flops(side, side, C),
        attention_flops(side, side, C, M),
    )
