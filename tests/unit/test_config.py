"""One home for model facts: SwinConfig and the named configurations."""

import dataclasses
import inspect

import pytest
import torch

import swin_tutorial as st
from swin_tutorial.config import SWIN_SINGLE_RESOLUTION


def test_config_fields_are_the_models_arguments_with_its_defaults():
    parameters = inspect.signature(st.SwinTransformer.__init__).parameters
    arguments = {name: p.default for name, p in parameters.items() if name != "self"}
    assert st.SwinConfig().to_dict() == arguments
    assert st.SWIN_T == st.SwinConfig()


def test_named_configs():
    assert st.SWIN_T.depths == (2, 2, 6, 2) and st.SWIN_T.num_heads == (3, 6, 12, 24)
    assert st.SWINV2_T == st.SWIN_T.replace(
        img_size=256, window_size=8, drop_path_rate=0.2, version=2
    )
    assert st.SWIN_DIGITS == st.SWIN_NANO.replace(
        img_size=16, patch_size=4, window_size=2, init_std=None
    )
    assert (st.SWIN_NANO.in_chans, st.SWIN_NANO.depths, st.SWIN_NANO.window_size) == (1, (2, 2), 4)
    assert SWIN_SINGLE_RESOLUTION.depths == (2,) and SWIN_SINGLE_RESOLUTION.init_std is None


def test_configs_are_frozen_and_replace_checks_names():
    with pytest.raises(dataclasses.FrozenInstanceError):
        st.SWIN_T.embed_dim = 128
    with pytest.raises(TypeError, match="embed"):
        st.SWIN_T.replace(embed=128)


@pytest.mark.parametrize(
    "factory, config",
    [(st.swin_t, st.SWIN_T), (st.swinv2_t, st.SWINV2_T), (st.swin_nano, st.SWIN_NANO)],
)
def test_factories_build_their_config(factory, config):
    overrides = dict(num_classes=7, depths=(1, 1), num_heads=(1, 2))
    torch.manual_seed(0)
    built = factory(**overrides)
    torch.manual_seed(0)
    expected = st.SwinTransformer(**config.replace(**overrides).to_dict())
    assert built.num_classes == 7 and built.patch_embed.patch_size == config.patch_size
    assert built.state_dict().keys() == expected.state_dict().keys()
    assert all(
        torch.equal(a, b)
        for a, b in zip(built.state_dict().values(), expected.state_dict().values(), strict=True)
    )


def test_digits_model_reads_16x16_digits():
    model = st.SwinTransformer.from_config(st.SWIN_DIGITS).eval()
    assert model.patch_embed.patch_size == 4 and model(torch.randn(2, 1, 16, 16)).shape == (2, 10)
    assert model.layers[0].blocks[1].shift_size == (1, 1)
    assert st.SwinTransformer.from_config(st.SWIN_DIGITS, num_classes=3).num_classes == 3


def test_train_builds_the_digits_config():
    from swin_tutorial.train import build_model

    model = build_model("tiny", "digits")
    assert model.patch_embed.patch_size == st.SWIN_DIGITS.patch_size
    assert model.layers[0].blocks[0].window_size == (2, 2)
