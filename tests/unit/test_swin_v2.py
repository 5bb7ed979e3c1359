"""Swin V2: log-spaced offsets, cosine attention, post-norm; equal to timm with copied weights."""

import math

import pytest
import torch

import swin_tutorial as st
from swin_tutorial.position import log_spaced_coordinates

timm = pytest.importorskip("timm")
from timm.models import swin_transformer_v2 as timm_v2  # noqa: E402


def _randomise(module: torch.nn.Module) -> None:
    """Move norms, biases and temperatures off their initial values so nothing hides there."""
    generator = torch.Generator().manual_seed(0)
    for name, param in module.named_parameters():
        if "norm" in name or "bias" in name or "logit_scale" in name:
            with torch.no_grad():
                centre = (
                    1.0 if name.endswith("norm1.weight") or name.endswith("norm2.weight") else 0.0
                )
                param.copy_(centre + 0.2 * torch.randn(param.shape, generator=generator))


def _relative_error(a, b):
    return ((a - b).norm() / b.norm()).item()


@pytest.mark.parametrize("window, pretrained", [(8, 0), (7, 0), ((4, 6), 0), (12, 8)])
def test_log_spaced_coordinates_equal_timm(window, pretrained):
    attention = timm_v2.WindowAttention(
        16,
        window_size=window if isinstance(window, tuple) else (window, window),
        num_heads=2,
        pretrained_window_size=(pretrained, pretrained),
    )
    expected = attention.relative_coords_table.reshape(-1, 2)
    ours = log_spaced_coordinates(window, pretrained or None)
    assert torch.allclose(ours, expected)
    if not pretrained:
        assert ours.abs().max().item() == pytest.approx(math.log2(9) / 3)


def test_swinv2_t_logits_equal_timm():
    torch.manual_seed(0)
    theirs = timm.create_model("swinv2_tiny_window8_256", pretrained=False).eval()
    _randomise(theirs)
    ours = st.load_timm_state_dict(st.swinv2_t().eval(), theirs.state_dict())
    assert sum(p.numel() for p in ours.parameters()) == sum(p.numel() for p in theirs.parameters())
    images = torch.randn(1, 3, 256, 256)
    with torch.no_grad():
        assert _relative_error(ours(images), theirs(images)) < 1e-5


def test_continuous_bias_serves_a_larger_window_like_timm():
    torch.manual_seed(1)
    theirs = timm_v2.WindowAttention(16, (12, 12), 2, pretrained_window_size=(8, 8)).eval()
    ours = st.CosineWindowAttention(16, 2, 12, pretrained_window_size=8).eval()
    _randomise(theirs)
    ours.load_state_dict({k: v for k, v in theirs.state_dict().items() if k in ours.state_dict()})
    x = torch.randn(3, 144, 16)
    with torch.no_grad():
        assert _relative_error(ours(x), theirs(x)) < 1e-5
        bias = ours.relative_position_bias()
    assert bias.shape == (2, 144, 144) and (bias > 0).all() and (bias < 16).all()


@pytest.mark.parametrize("use_mask", [False, True])
def test_cosine_attention_fused_equals_explicit(use_mask):
    torch.manual_seed(2)
    fused = st.CosineWindowAttention(24, 3, 4, fused=True).eval()
    _randomise(fused)
    explicit = st.CosineWindowAttention(24, 3, 4, fused=False).eval()
    explicit.load_state_dict(fused.state_dict())
    x = torch.randn(2 * 4, 16, 24)
    mask = st.shifted_window_mask(8, 8, 4, 2) if use_mask else None
    assert _relative_error(fused(x, mask), explicit(x, mask)) < 1e-5
    _, weights = explicit(x, mask, return_attention=True)
    assert torch.allclose(weights.sum(-1), torch.ones(()), atol=1e-6)


def test_temperature_is_capped_at_100():
    attention = st.CosineWindowAttention(8, 1, 2, qkv_bias=False, fused=False).eval()
    with torch.no_grad():
        attention.logit_scale.fill_(math.log(1e4))
        attention.cpb_mlp[2].weight.zero_()  # bias 16 * sigmoid(0) = 8 everywhere
    x = torch.randn(1, 4, 8)
    _, weights = attention(x, return_attention=True)
    q, k, _ = attention.split_heads(torch.nn.functional.linear(x, attention.qkv.weight))
    cosine = torch.nn.functional.normalize(q, dim=-1) @ torch.nn.functional.normalize(
        k, dim=-1
    ).transpose(-2, -1)
    assert torch.allclose(weights, (100 * cosine + 8).softmax(-1), atol=1e-6)


def test_fresh_v2_block_is_the_identity():
    block = st.swinv2_t().layers[0].blocks[0].eval()
    x = torch.randn(1, 16, 16, 96)
    assert torch.equal(block(x), x)


def test_v2_block_equals_timm_on_a_map_that_needs_no_padding():
    torch.manual_seed(3)
    theirs = timm_v2.SwinTransformerV2Block(16, (16, 16), 2, window_size=8, shift_size=4).eval()
    _randomise(theirs)
    ours = st.SwinV2Block(16, 2, 8, 4).eval()
    ours.load_state_dict(
        {k: v for k, v in theirs.state_dict().items() if k in ours.state_dict()}, strict=True
    )
    x = torch.randn(2, 16, 16, 16)
    with torch.no_grad():
        assert _relative_error(ours(x), theirs(x)) < 1e-5


def test_bad_version_is_rejected():
    with pytest.raises(ValueError, match=r"version must be one of \(1, 2\), got version=3"):
        st.swin_nano(version=3)


@pytest.mark.parametrize(
    "window, pretrained", [(4, 0), (16, 0), (16, 8), (5, 8), ((3, 6), 0), ((12, 4), (8, 6))]
)
def test_bias_at_any_window_equals_timm_built_for_that_window(window, pretrained):
    """One module of window 8 serves smaller and larger windows like timm modules built for them."""
    torch.manual_seed(4)
    wh, ww = (window, window) if isinstance(window, int) else window
    ph, pw = (pretrained, pretrained) if isinstance(pretrained, int) else pretrained
    theirs = timm_v2.WindowAttention(16, (wh, ww), 2, pretrained_window_size=(ph, pw)).eval()
    _randomise(theirs)
    ours = st.CosineWindowAttention(16, 2, 8, pretrained_window_size=pretrained or None).eval()
    ours.load_state_dict({k: v for k, v in theirs.state_dict().items() if k in ours.state_dict()})
    x = torch.randn(3, wh * ww, 16)
    with torch.no_grad():
        assert _relative_error(ours(x, window_size=(wh, ww)), theirs(x)) < 1e-5
        assert ours.relative_position_bias((wh, ww)).shape == (2, wh * ww, wh * ww)


def test_small_v2_model_on_maps_smaller_than_the_window_equals_timm():
    """Stage 3 sees a 4x4 map with window 8: the window shrinks, its offsets are normalised by 4."""
    torch.manual_seed(5)
    config = dict(embed_dim=16, depths=(2, 2, 2), num_heads=(2, 2, 4), window_size=8)
    theirs = timm_v2.SwinTransformerV2(img_size=64, num_classes=5, **config).eval()
    _randomise(theirs)
    assert [b.attn.window_size for b in theirs.layers[2].blocks] == [(4, 4), (4, 4)]
    ours = st.SwinTransformer(img_size=64, num_classes=5, version=2, **config).eval()
    st.load_timm_state_dict(ours, theirs.state_dict())
    images = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        assert _relative_error(ours(images), theirs(images)) < 1e-5


@pytest.mark.parametrize("small, large", [(8, 16), (4, 12), ((3, 5), (6, 7))])
def test_given_pretrained_window_keeps_token_offsets_else_stretches(small, large):
    """With a pretrained window, a small window's bias is the top-left block of a large one's;
    without, every window spans the same coordinate range and only offset 0 keeps its bias."""
    torch.manual_seed(6)
    sh, sw = (small, small) if isinstance(small, int) else small
    lh, lw = (large, large) if isinstance(large, int) else large
    keep = [
        i * lw + j for i in range(sh) for j in range(sw)
    ]  # tokens of the top-left (sh, sw) block
    for pretrained, sub_block in [(8, True), (None, False)]:
        attention = st.CosineWindowAttention(8, 2, 8, pretrained_window_size=pretrained)
        _randomise(attention)
        with torch.no_grad():
            small_bias = attention.relative_position_bias((sh, sw))
            large_bias = attention.relative_position_bias((lh, lw))[:, keep][:, :, keep]
        assert torch.allclose(small_bias, large_bias, atol=1e-5) == sub_block
        corner = (
            0,
            sh * sw - 1,
        )  # query (0, 0) and key (sh-1, sw-1): the extreme offset of the small window
        same = torch.isclose(
            small_bias[:, corner[0], corner[1]], large_bias[:, corner[0], corner[1]], atol=1e-5
        )
        assert bool(same.all()) == sub_block
        assert torch.allclose(
            small_bias.diagonal(dim1=1, dim2=2), large_bias.diagonal(dim1=1, dim2=2), atol=1e-5
        )


def test_relative_position_bias_rejects_a_bad_window():
    attention = st.CosineWindowAttention(8, 2, 4)
    with pytest.raises(ValueError, match="window_size must be positive, got"):
        attention.relative_position_bias((0, 4))
    with pytest.raises(TypeError, match="window_size must be an int or a pair of ints"):
        attention.relative_position_bias("4x4")
