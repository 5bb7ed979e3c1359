"""Bad input gets a ValueError/TypeError that names the argument and the value."""

import re

import pytest
import torch

import swin_tutorial as st
from swin_tutorial.complexity import attention_flops
from swin_tutorial.decoder import SlidingWindowBlock


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


def test_block_checks_maps_at_its_public_doors():
    """SwinBlock.forward checks nothing; attention_weights and the window pipeline do."""
    block = st.SwinBlock(32, 4, 7, 3)
    with pytest.raises(ValueError, match=r"x must have rank 4 \(B, H, W, C\)"):
        block.attention_weights(torch.randn(2, 49, 32))
    with pytest.raises(ValueError, match=r"x must have rank 4 \(B, H, W, C\)"):
        block.shifted_window_attention(torch.randn(2, 49, 32))
    with pytest.raises(ValueError, match="x must have 32 channels"):
        block.attention_weights(torch.randn(2, 7, 7, 16))
    with pytest.raises(TypeError, match="floating-point"):
        block.attention_weights(torch.ones(2, 7, 7, 32, dtype=torch.int64))


def test_attention_rejects_bad_tokens_and_mask():
    """Through the module, window_attention's checks name the bias and the mask."""
    attention = st.WindowAttention(32, 4, 7)
    with pytest.raises(ValueError, match=r"bias must have shape \(heads, N, N\) = \(4, 48, 48\)"):
        attention(torch.randn(4, 48, 32))
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
    with pytest.raises(TypeError, match="images must be a floating-point"):
        model(torch.ones(1, 1, 32, 32, dtype=torch.int64))
    with pytest.raises(
        ValueError, match=r"images must have no empty axis .* got shape \(1, 1, 0, 32\)"
    ):
        model(torch.randn(1, 1, 0, 32))


# --------------------------------------------------------------------------- no silent wrong answer


def _windows_and_layout():
    return st.map_to_windows(torch.randn(1, 4, 4, 2), 2)


@pytest.mark.parametrize(
    "call, error, message",
    [
        # a rank-3 map used to roll the token and channel axes
        (lambda: st.cyclic_shift(torch.randn(4, 4, 3), 1), ValueError, "x must have rank 4"),
        (
            lambda: st.reverse_cyclic_shift(torch.randn(4, 4, 3), 1),
            ValueError,
            "x must have rank 4",
        ),
        # crop_to(x, -1, 4) used to return 7 of 8 rows
        (
            lambda: st.crop_to(torch.randn(1, 8, 8, 1), -1, 4),
            ValueError,
            "H must be >= 1, got H=-1",
        ),
        (lambda: st.crop_to(torch.randn(1, 8, 8, 1), 9, 4), ValueError, "H must be <= 8, got H=9"),
        (lambda: st.crop_to(torch.randn(1, 8, 8, 1), 4, 0), ValueError, "W must be >= 1, got W=0"),
        # 3 windows cannot make whole 14x14 images of 4 windows each
        (lambda: st.window_reverse(torch.randn(3, 49, 2), 7, 14, 14), ValueError, "nW=4"),
        # window axes swapped: (7, 2) windows where (2, 7) was asked
        (
            lambda: st.window_reverse(torch.randn(2, 7, 2, 3), (2, 7), 2, 14),
            ValueError,
            "expected (B*nW, 2, 7, C)",
        ),
        (lambda: st.window_reverse(torch.randn(2, 48, 3), 7, 7, 7), ValueError, "do not fit"),
        (lambda: st.window_reverse(torch.randn(49, 3), 7, 7, 7), ValueError, "rank 3"),
        (lambda: st.window_reverse(torch.randn(1, 49, 3), 7, 0, 7), ValueError, "H must be"),
        (lambda: st.SwinTransformer(num_classes=-1), ValueError, "num_classes=-1"),
        (
            lambda: st.SwinTransformer(depths=(2, 0), num_heads=(2, 4)),
            ValueError,
            "depths[1] must be a positive int",
        ),
        (lambda: st.SwinTransformer(embed_dim=0), ValueError, "embed_dim must be a positive int"),
        (lambda: st.SwinTransformer(init_std="small"), TypeError, "init_std must be a number"),
        (lambda: st.SwinTransformer(version=3), ValueError, "version must be one of (1, 2)"),
        (lambda: st.SwinTransformer.from_config({}), TypeError, "config must be a SwinConfig"),
        (lambda: st.swin_t(depth=3), TypeError, "depth"),
        (lambda: st.SwinBlock(32, 4, mlp_ratio=0), ValueError, "mlp_ratio must be in (0.0, inf]"),
        (lambda: st.PatchMerging(8, norm_after="yes"), TypeError, "norm_after must be True"),
        (lambda: st.WindowAttention(32, 4, 7, fused=1), TypeError, "fused must be True or False"),
    ],
)
def test_silent_wrong_answers_now_raise(call, error, message):
    with pytest.raises(error, match=re.escape(message)):
        call()


def _probability_doors():
    from swin_tutorial.blocks import DropPath, Mlp
    from swin_tutorial.model import ClassifierHead

    return [
        ("p", lambda p: DropPath(p)),
        ("drop", lambda p: Mlp(8, 16, drop=p)),
        ("attn_drop", lambda p: st.WindowAttention(8, 2, 2, attn_drop=p)),
        ("proj_drop", lambda p: st.WindowAttention(8, 2, 2, proj_drop=p)),
        ("attn_drop", lambda p: st.CosineWindowAttention(8, 2, 2, attn_drop=p)),
        ("proj_drop", lambda p: st.CosineWindowAttention(8, 2, 2, proj_drop=p)),
        ("drop_path", lambda p: st.SwinBlock(8, 2, 2, drop_path=p)),
        ("attn_drop", lambda p: st.SwinBlock(8, 2, 2, attn_drop=p)),
        ("proj_drop", lambda p: st.SwinBlock(8, 2, 2, proj_drop=p)),
        ("drop_path", lambda p: st.SwinV2Block(8, 2, 2, drop_path=p)),
        ("drop_path", lambda p: st.NeighborhoodBlock(8, 2, 3, drop_path=p)),
        ("proj_drop", lambda p: st.NeighborhoodBlock(8, 2, 3, proj_drop=p)),
        ("drop_path[1]", lambda p: st.SwinStage(8, 8, 2, 2, 2, False, drop_path=[0.0, p])),
        ("drop", lambda p: ClassifierHead(8, 2, drop=p)),
        ("drop_path_rate", lambda p: st.swin_nano(drop_path_rate=p)),
        ("drop_rate", lambda p: st.swin_nano(drop_rate=p)),
        ("attn_drop_rate", lambda p: st.swin_nano(attn_drop_rate=p)),
        (
            "dropout_p",
            lambda p: st.window_attention(*torch.randn(3, 1, 1, 4, 2), dropout_p=p),
        ),
    ]


@pytest.mark.parametrize("p", [1.0, -0.1, 1.5, float("nan")])
@pytest.mark.parametrize("index", range(len(_probability_doors())))
def test_every_dropout_probability_must_lie_in_0_1(index, p):
    name, build = _probability_doors()[index]
    expected = "must be a finite number" if p != p else r"must be in \[0\.0, 1\.0\)"
    with pytest.raises(ValueError, match=rf"{re.escape(name)} {expected}"):
        build(p)


def test_a_probability_just_below_1_is_accepted():
    for _, build in _probability_doors():
        build(0.5)


@pytest.mark.parametrize(
    "call",
    [
        lambda: st.window_partition(torch.randn(1, 0, 4, 3), 2),
        lambda: st.pad_to_window_multiple(torch.randn(1, 4, 0, 3), 2),
        lambda: st.cyclic_shift(torch.randn(1, 4, 4, 0), 1),
        lambda: st.reverse_cyclic_shift(torch.randn(0, 4, 4, 2), 1),
        lambda: st.crop_to(torch.randn(1, 0, 4, 1), 1, 1),
        lambda: st.map_to_windows(torch.randn(1, 0, 4, 2), 2),
        lambda: st.window_reverse(torch.randn(4, 4, 0), 2, 4, 4),
        lambda: st.window_reverse(torch.randn(0, 4, 2), 2, 4, 4),
        lambda: st.windows_to_map(torch.randn(4, 4, 0), _windows_and_layout()[1]),
        lambda: st.SwinBlock(4, 2, 2).attention_weights(torch.randn(1, 0, 3, 4)),
        lambda: st.window_attention(*torch.randn(3, 2, 1, 0, 4)),
    ],
)
def test_empty_maps_and_windows_are_rejected(call):
    with pytest.raises(ValueError, match="empty axis|do not fit"):
        call()


def test_locality_probe_rejects_an_empty_map_and_a_token_outside_it():
    from swin_tutorial.probes import locality_probe, receivers

    with pytest.raises(ValueError, match="x must have no empty axis"):
        locality_probe(lambda x: x, torch.randn(1, 4, 0, 2), (0, 0))
    with pytest.raises(ValueError, match=r"token\[1\] must be <= 3, got token\[1\]=4"):
        locality_probe(lambda x: x, torch.randn(1, 4, 4, 2), (0, 4))
    with pytest.raises(ValueError, match=r"token\[0\] must be >= 0"):
        receivers(4, 4, 2, 1, (-1, 0))
    with pytest.raises(TypeError, match="token must be a pair"):
        receivers(4, 4, 2, 1, 5)


@pytest.mark.parametrize(
    "q, k, v, bias, message",
    [
        # rank-3 q: a missing heads axis
        ((6, 16, 8), (6, 16, 8), (6, 16, 8), None, "q must have rank 4"),
        ((6, 2, 16, 8), (6, 2, 15, 8), (6, 2, 16, 8), None, "k must have the shape of q"),
        ((6, 2, 16, 8), (6, 2, 16, 8), (3, 2, 16, 8), None, "k must have the shape of q"),
        ((6, 2, 16, 8), (6, 2, 16, 4), (6, 2, 16, 8), None, "k must have the shape of q"),
        ((6, 2, 16, 8), (6, 2, 16, 8), (6, 2, 16, 8), (2, 16, 15), r"bias must have shape"),
        ((6, 2, 16, 8), (6, 2, 16, 8), (6, 2, 16, 8), (16, 16), r"bias must have shape"),
    ],
)
def test_window_attention_rejects_mismatched_inputs(q, k, v, bias, message):
    tensors = [torch.randn(shape) for shape in (q, k, v)]
    with pytest.raises(ValueError, match=message):
        st.window_attention(*tensors, bias=None if bias is None else torch.randn(bias))


def test_window_attention_accepts_values_of_another_width():
    q, k = torch.randn(2, 6, 2, 16, 8)
    out, _ = st.window_attention(q, k, torch.randn(6, 2, 16, 3))
    assert out.shape == (6, 2, 16, 3)


def test_heads_must_divide_the_channels_at_every_door():
    for module in (
        lambda: st.WindowAttention(10, 3, 2),
        lambda: st.NeighborhoodAttention2D(10, 3, 3),
        lambda: SlidingWindowBlock(10, 3, 4),
    ):
        with pytest.raises(ValueError, match=re.escape("num_heads=3 must divide dim=10")):
            module()
    with pytest.raises(ValueError, match="must be even for rotary"):
        SlidingWindowBlock(12, 4, 4)  # head dimension 3
