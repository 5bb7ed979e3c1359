"""Swin-T equals timm's swin_tiny_patch4_window7_224 with copied weights; timm's border leak."""

import pytest
import torch

import swin_tutorial as st
from reference import tokens_reached_by

timm = pytest.importorskip("timm")
from timm.models.swin_transformer import SwinTransformerBlock  # noqa: E402

NAME = "swin_tiny_patch4_window7_224"


@pytest.fixture(scope="module")
def timm_swin_t():
    torch.manual_seed(0)
    return timm.create_model(NAME, pretrained=False).eval()


def _relative_error(a: torch.Tensor, b: torch.Tensor) -> float:
    return ((a - b).norm() / b.norm()).item()


def test_state_dict_keys_match_timm(timm_swin_t):
    ours = st.swin_t()
    assert set(ours.state_dict()) == set(timm_swin_t.state_dict())
    for key, value in timm_swin_t.state_dict().items():
        assert ours.state_dict()[key].shape == value.shape, key
    ours.load_state_dict(timm_swin_t.state_dict(), strict=True)


@pytest.mark.parametrize("fused", [True, False])
def test_logits_equal_timm_at_224(timm_swin_t, fused):
    model = st.load_timm_state_dict(st.swin_t(fused=fused).eval(), timm_swin_t.state_dict())
    images = torch.randn(2, 3, 224, 224)
    with torch.no_grad():
        assert _relative_error(model(images), timm_swin_t(images)) < 1e-5


def test_logits_equal_timm_at_224x448(timm_swin_t):
    wide = timm.create_model(NAME, pretrained=False, img_size=(224, 448)).eval()
    wide.load_state_dict(timm_swin_t.state_dict())
    model = st.load_timm_state_dict(st.swin_t().eval(), timm_swin_t.state_dict())
    images = torch.randn(1, 3, 224, 448)
    with torch.no_grad():
        ours, theirs = model(images), wide(images)
        assert _relative_error(ours, theirs) < 1e-5
        features = model.forward_features(images)
    assert features.shape == (1, 7, 14, 768)


def test_parameter_count_is_swin_t(timm_swin_t):
    count = sum(p.numel() for p in st.swin_t().parameters())
    assert count == sum(p.numel() for p in timm_swin_t.parameters())
    assert abs(count - 28.3e6) / 28.3e6 < 0.005


def test_multiply_adds_are_swin_t(timm_swin_t):
    from swin_tutorial.complexity import count_macs

    images = torch.randn(1, 3, 224, 224)
    macs = count_macs(st.swin_t().eval(), images)
    assert abs(macs - 4.5e9) / 4.5e9 < 0.05
    # timm's explicit attention is counted fully by the flop counter: same number
    assert macs == count_macs(timm_swin_t, images)


def _timm_block_and_ours(size, window=7, shift=3, dim=16, heads=2):
    torch.manual_seed(0)
    theirs = SwinTransformerBlock(dim, size, heads, window_size=window, shift_size=shift).eval()
    ours = st.SwinBlock(dim, heads, window, shift).eval()
    ours.load_state_dict(theirs.state_dict(), strict=True)
    return theirs, ours


def _changed(block, x, token):
    y = x.clone()
    # a random vector: a constant one would vanish in LayerNorm
    y[0, token[0], token[1]] += torch.randn(x.shape[-1], generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        return (block(y) - block(x)).abs().amax(-1)[0] > 1e-6


def test_timm_rolls_before_padding_and_leaks_across_the_border():
    """pytorch-image-models issue #2438, present in timm 1.0.31.

    On a 12x12 map with window 7 and shift 3, timm rolls first and pads after,
    so the rolled window holding original rows 10, 11, 0, 1 is one mask region:
    the top-left token reaches the bottom rows. If this test fails, upstream has
    fixed the leak: update the book's pitfalls chapter and this test.
    """
    theirs, ours = _timm_block_and_ours((12, 12))
    x = torch.randn(1, 12, 12, 16)
    allowed = tokens_reached_by(12, 12, (7, 7), (3, 3), (0, 0))
    leaked = _changed(theirs, x, (0, 0)) & ~allowed
    assert leaked[10:, :].any(), "timm no longer leaks: upstream fixed issue #2438"
    assert torch.equal(_changed(ours, x, (0, 0)), allowed)


def test_timm_and_ours_agree_where_no_padding_is_needed():
    theirs, ours = _timm_block_and_ours((14, 14))
    x = torch.randn(2, 14, 14, 16)
    with torch.no_grad():
        assert _relative_error(ours(x), theirs(x)) < 1e-5
