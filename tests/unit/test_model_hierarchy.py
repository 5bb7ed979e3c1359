"""The hierarchy a detector's neck reads: every stage's map, equal to timm's features_only."""

import pytest
import torch

import swin_tutorial as st

timm = pytest.importorskip("timm")

NAME = "swin_tiny_patch4_window7_224"


def _features_only_with(weights: dict[str, torch.Tensor]) -> torch.nn.Module:
    """timm's features_only Swin-T (stages renamed ``layers_i``) carrying ``weights``."""
    model = timm.create_model(NAME, pretrained=False, features_only=True).eval()
    renamed = {
        key.replace("layers.", "layers_", 1): value
        for key, value in weights.items()
        if not key.startswith(("norm.", "head."))
    }
    model.load_state_dict(renamed, strict=True)
    return model


def test_hierarchy_equals_timm_features_only():
    torch.manual_seed(0)
    weights = timm.create_model(NAME, pretrained=False).state_dict()
    ours = st.load_timm_state_dict(st.swin_t().eval(), weights)
    theirs = _features_only_with(weights)
    images = torch.randn(1, 3, 224, 224)
    with torch.no_grad():
        maps, reference = ours.forward_hierarchy(images), theirs(images)
    assert [tuple(m.shape) for m in maps] == [
        (1, 56, 56, 96),
        (1, 28, 28, 192),
        (1, 14, 14, 384),
        (1, 7, 7, 768),
    ]
    assert theirs.feature_info.reduction() == [4, 8, 16, 32]
    for mine, timms in zip(maps, reference, strict=True):
        assert ((mine - timms).norm() / timms.norm()).item() < 1e-5


def test_last_map_normalised_is_forward_features():
    torch.manual_seed(1)
    model = st.swin_nano().eval()  # patches of 2, two stages, 1 input channel
    images = torch.randn(2, 1, 32, 48)
    with torch.no_grad():
        maps = model.forward_hierarchy(images)
        assert torch.allclose(model.norm(maps[-1]), model.forward_features(images), atol=1e-6)
    assert [tuple(m.shape) for m in maps] == [(2, 16, 24, 32), (2, 8, 12, 64)]


def test_hierarchy_checks_images():
    with pytest.raises(ValueError, match="images"):
        st.swin_nano().forward_hierarchy(torch.randn(1, 3, 30, 30))
