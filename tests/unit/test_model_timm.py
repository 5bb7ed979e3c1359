"""Swin-T equals timm's swin_tiny_patch4_window7_224 with copied weights; timm's border leak."""

import pytest
import torch
from reference import tokens_reached_by

import swin_tutorial as st

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
    theirs = sum(p.numel() for p in timm_swin_t.parameters())
    assert theirs == 28_288_354  # the number quoted for Swin-T, checked on timm's model
    assert count == theirs
    assert abs(count - 28_288_354) / 28_288_354 < 0.005


def test_multiply_adds_are_swin_t(timm_swin_t):
    from swin_tutorial.complexity import count_macs

    images = torch.randn(1, 3, 224, 224)
    macs = count_macs(st.swin_t().eval(), images)
    assert abs(macs - 4.5e9) / 4.5e9 < 0.05
    # timm's explicit attention is counted fully by the flop counter: same number
    assert macs == count_macs(timm_swin_t, images)


def _timm_block_and_ours(size, window=7, shift=3, dim=16, heads=2, dynamic_mask=False):
    torch.manual_seed(0)
    theirs = SwinTransformerBlock(
        dim, size, heads, window_size=window, shift_size=shift, dynamic_mask=dynamic_mask
    ).eval()
    ours = st.SwinBlock(dim, heads, window, shift).eval()
    ours.load_state_dict(theirs.state_dict(), strict=True)
    return theirs, ours


def _changed(block, x, token):
    """Tokens whose output moves when ``token``'s input moves: bool ``(H, W)``."""
    y = x.clone()
    # a random vector: a constant one would vanish in LayerNorm
    y[0, token[0], token[1]] += torch.randn(x.shape[-1], generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        return (block(y) - block(x)).abs().amax(-1)[0] > 1e-6


def _grid(H, W, rows, cols):
    grid = torch.zeros(H, W, dtype=torch.bool)
    grid[torch.tensor(rows)[:, None], torch.tensor(cols)[None, :]] = True
    return grid


# Window 7, shift 3, top-left token perturbed. timm 1.0.31 rolls the unpadded map
# and pads after, but builds its region mask for a map whose last `shift` rows
# and columns are the wrapped ones. On 12x12 (padded to 14) the rolled window
# holding original rows 10, 11, 0, 1 is one region, and so are columns.
# On 10x13 rows are fine (10 + 4 padded rows) but the columns 10, 11, 12, 0 share one region.
LEAKS = {
    (12, 12): ([0, 1, 10, 11], [0, 1, 10, 11]),
    (10, 13): ([0, 1, 2], [0, 10, 11, 12]),
}


@pytest.mark.parametrize("dynamic_mask", [False, True])
@pytest.mark.parametrize("size", sorted(LEAKS))
def test_timm_issue_2438_border_leak_is_still_present(size, dynamic_mask):
    """pytorch-image-models issue #2438, present in timm 1.0.31: pins exactly what timm does.

    If this fails, timm's behaviour changed (probably upstream fixed the leak):
    update chapter 07 (pitfalls) and this test.
    """
    theirs, _ = _timm_block_and_ours(size, dynamic_mask=dynamic_mask)
    x = torch.randn(1, *size, 16)
    allowed = tokens_reached_by(*size, (7, 7), (3, 3), (0, 0))
    changed = _changed(theirs, x, (0, 0))
    assert torch.equal(changed, _grid(*size, *LEAKS[size])), (
        f"timm {timm.__version__} no longer shows the #2438 border leak on {size}: "
        "update the book's pitfalls chapter and this test"
    )
    leaked = changed & ~allowed
    assert leaked[:, size[1] - 1].any(), "the top-left token reaches the right border"


@pytest.mark.xfail(
    strict=True, reason="timm #2438: timm rolls before padding and leaks across the border"
)
def test_timm_block_respects_the_border():
    """Strict xfail: an XPASS here means timm fixed #2438."""
    theirs, _ = _timm_block_and_ours((12, 12))
    x = torch.randn(1, 12, 12, 16)
    allowed = tokens_reached_by(12, 12, (7, 7), (3, 3), (0, 0))
    assert not (_changed(theirs, x, (0, 0)) & ~allowed).any()


@pytest.mark.parametrize("size", sorted(LEAKS))
def test_our_block_with_timm_weights_does_not_leak(size):
    _, ours = _timm_block_and_ours(size)
    x = torch.randn(1, *size, 16)
    for token in [(0, 0), (size[0] - 1, size[1] - 1), (0, size[1] - 1), (size[0] // 2, 0)]:
        allowed = tokens_reached_by(*size, (7, 7), (3, 3), token)
        assert torch.equal(_changed(ours, x, token), allowed), token


def test_timm_and_ours_agree_where_no_padding_is_needed():
    theirs, ours = _timm_block_and_ours((14, 14))
    x = torch.randn(2, 14, 14, 16)
    with torch.no_grad():
        assert _relative_error(ours(x), theirs(x)) < 1e-5


def test_timm_swin_t_differs_from_ours_when_stages_need_padding(timm_swin_t):
    """256x256: stage maps 64, 32, 16, 8, none a multiple of 7, all larger than 7.

    Same weights, same windows; only the order of roll and pad differs, so the
    logits differ (by several percent with random weights).
    """
    odd = timm.create_model(NAME, pretrained=False, img_size=(256, 256)).eval()
    odd.load_state_dict(timm_swin_t.state_dict(), strict=True)
    model = st.load_timm_state_dict(st.swin_t().eval(), timm_swin_t.state_dict())
    images = torch.randn(1, 3, 256, 256)
    with torch.no_grad():
        assert _relative_error(model(images), odd(images)) > 1e-3
