"""Bad input gets a ValueError/TypeError that names the argument and the value."""

import pytest
import torch

import swin_tutorial as st
from swin_tutorial.complexity import attention_flops


@pytest.mark.parametrize(
    "call, error, message",
    [
        (lambda: st.WindowAttention(30, 4, 7), ValueError, "num_heads=4 must divide dim=30"),
        (lambda: st.WindowAttention(32, 0, 7), ValueError, "num_heads must be a positive int"),
        (lambda: st.WindowAttention(32, 4, 0), ValueError, "window_size must be positive"),
        (lambda: st.WindowAttention(32, 4, (7, -1)), ValueError, "window_size must be positive"),
        (lambda: st.WindowAttention(32, 4, 7.0), TypeError, "window_size must be an int"),
        (
            lambda: st.SwinBlock(32, 4, 7, 7),
            ValueError,
            "shift_size must satisfy 0 <= shift < window",
        ),
        (lambda: st.SwinBlock(32, 4, 7, -1), ValueError, "shift_size"),
        (lambda: st.window_partition(torch.randn(1, 10, 14, 3), 7), ValueError, "got H=10, W=14"),
        (lambda: st.window_partition(torch.randn(10, 14, 3), 7), ValueError, "x must have rank 4"),
        (
            lambda: st.window_partition(torch.ones(1, 7, 7, 3, dtype=torch.long), 7),
            TypeError,
            "floating-point",
        ),
        (lambda: st.window_partition([[1.0]], 7), TypeError, "x must be a torch.Tensor"),
        (lambda: st.window_reverse(torch.randn(4, 49, 3), 7, 14, 21), ValueError, "do not fit"),
        (lambda: st.shifted_window_mask(10, 14, 7, 3), ValueError, "multiples of window_size"),
        (lambda: st.relative_position_index((7, 8), table_window=7), ValueError, "must not exceed"),
        (lambda: attention_flops(14, 14, 96, 5), ValueError, "multiples of window_size"),
        (lambda: attention_flops(0, 14, 96), ValueError, "H must be a positive int"),
        (lambda: st.PatchMerging(0), ValueError, "dim must be a positive int"),
        (lambda: st.swin_t(depths=(2, 2), num_heads=(3,)), ValueError, "depths and num_heads"),
    ],
)
def test_constructor_and_function_errors(call, error, message):
    with pytest.raises(error, match=message.replace("(", r"\(").replace(")", r"\)")):
        call()


def test_block_rejects_wrong_rank_channels_and_dtype():
    block = st.SwinBlock(32, 4, 7, 3)
    with pytest.raises(ValueError, match=r"x must have rank 4 \(B, H, W, C\)"):
        block(torch.randn(2, 49, 32))
    with pytest.raises(ValueError, match="x must have 32 channels"):
        block(torch.randn(2, 7, 7, 16))
    with pytest.raises(TypeError, match="floating-point"):
        block(torch.ones(2, 7, 7, 32, dtype=torch.int64))


def test_attention_rejects_bad_tokens_and_mask():
    attention = st.WindowAttention(32, 4, 7)
    with pytest.raises(
        ValueError, match=r"x has 48 tokens per window but window_size \(7, 7\) holds 49"
    ):
        attention(torch.randn(4, 48, 32))
    with pytest.raises(ValueError, match="x must have 32 channels"):
        attention(torch.randn(4, 49, 31))
    with pytest.raises(ValueError, match="mask must be bool"):
        attention(torch.randn(4, 49, 32), mask=torch.zeros(4, 49, 49))
    with pytest.raises(ValueError, match="nW dividing 4 windows"):
        attention(torch.randn(4, 49, 32), mask=torch.ones(3, 49, 49, dtype=torch.bool))


def test_model_rejects_bad_images():
    model = st.swin_nano()
    with pytest.raises(ValueError, match="images must have 1 channels"):
        model(torch.randn(1, 3, 32, 32))
    with pytest.raises(ValueError, match="multiples of patch_size=2"):
        model(torch.randn(1, 1, 31, 32))
    with pytest.raises(ValueError, match=r"images must have rank 4"):
        model(torch.randn(1, 32, 32))
