"""Chapter 12: learning curves, attention maps and effective receptive fields (computed, drawn)."""

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch
from matplotlib.figure import Figure

import swin_tutorial as st
from swin_tutorial.analysis import attention_maps, effective_receptive_field
from swin_tutorial.model import swin_nano, swin_single_resolution
from swin_tutorial.train import History
from swin_tutorial.viz import (
    plot_attention_maps,
    plot_effective_receptive_field,
    plot_learning_curves,
)


def _model(attention: str, seed: int = 0) -> torch.nn.Module:
    torch.manual_seed(seed)
    return swin_single_resolution(attention, depths=(2,), embed_dim=8)


# ------------------------------------------------------------------ effective receptive field


def test_effective_receptive_field_equals_the_jacobian_norm():
    model = _model("shifted").double()
    images = torch.randn(2, 1, 16, 16, dtype=torch.float64)
    query = (3, 5)
    erf = effective_receptive_field(model, images, query)
    model.eval()
    expected = torch.zeros(16, 16, dtype=torch.float64)
    for image in images:
        jacobian = torch.autograd.functional.jacobian(
            lambda x: model.forward_features(x[None])[0, query[0], query[1]], image
        )  # (C, 1, 16, 16)
        expected += jacobian.square().sum(dim=(0, 1)).sqrt() / len(images)
    assert erf.shape == (16, 16)
    assert torch.allclose(erf, expected, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("query", [(0, 0), (3, 5), (6, 2), (4, 4)])
@pytest.mark.parametrize("attention", ["window", "shifted"])
def test_field_is_nonzero_exactly_on_the_pixels_the_patterns_reach(attention, query):
    """The field's support = the patches of the tokens the two layers' patterns reach."""
    patterns = [
        st.window_pattern(8, 8, 4),
        st.shifted_window_pattern(8, 8, 4, 2 if attention == "shifted" else 0),
    ]
    reach = st.receptive_field(patterns, query[0] * 8 + query[1]).reshape(8, 8)
    pixels = reach.repeat_interleave(2, 0).repeat_interleave(2, 1)  # 2x2 pixels per token
    erf = effective_receptive_field(_model(attention), torch.rand(3, 1, 16, 16), query)
    assert (erf[~pixels] == 0).all()
    assert (erf[pixels] > 0).all()
    window = torch.zeros(8, 8, dtype=torch.bool)
    window[
        4 * (query[0] // 4) : 4 * (query[0] // 4) + 4, 4 * (query[1] // 4) : 4 * (query[1] // 4) + 4
    ] = True
    if attention == "window":
        assert torch.equal(reach, window)  # never beyond the query's own window
    elif query != (0, 0):
        assert (reach & ~window).any()  # the shift reaches across (not from the corner token)


def test_effective_receptive_field_restores_the_mode_and_leaves_no_gradients():
    model = _model("global").train()
    effective_receptive_field(model, torch.rand(1, 1, 16, 16), (1, 1))
    assert model.training
    assert all(p.grad is None for p in model.parameters())  # gradients w.r.t. the input only
    assert effective_receptive_field(model, torch.rand(2, 1, 16, 16), 9).shape == (
        16,
        16,
    )  # id 9 = (1, 1)


def test_effective_receptive_field_bad_arguments():
    model = _model("window")
    with pytest.raises(TypeError, match="model"):
        effective_receptive_field(torch.nn.Linear(2, 2), torch.rand(1, 1, 16, 16), (0, 0))
    with pytest.raises(ValueError, match="images"):
        effective_receptive_field(model, torch.rand(1, 16, 16), (0, 0))
    with pytest.raises(ValueError, match="query"):
        effective_receptive_field(model, torch.rand(1, 1, 16, 16), (8, 0))


def test_plot_effective_receptive_field_greys_out_exact_zeros():
    erf = effective_receptive_field(_model("window"), torch.rand(2, 1, 16, 16), (1, 1))
    fig = plot_effective_receptive_field(erf, (1, 1), patch_size=2, window_size=4, title="no shift")
    assert isinstance(fig, Figure)
    image = fig.axes[0].images[0].get_array()
    assert image.mask.sum() == 256 - 64  # everything outside the query's 8x8-pixel window
    assert image.max() == 1.0 and image.min() >= 1e-4  # log scale, floored
    linear = (
        plot_effective_receptive_field(erf, (1, 1), 2, 4, log_floor=None)
        .axes[0]
        .images[0]
        .get_array()
    )
    assert linear.mask.sum() == 256 - 64
    assert np.allclose(linear.compressed(), (erf / erf.max())[erf > 0].numpy())
    fig2, ax = plt.subplots()
    assert plot_effective_receptive_field(erf, (1, 1), 2, 4, ax=ax) is fig2


def test_plot_effective_receptive_field_bad_arguments():
    with pytest.raises(ValueError, match="erf"):
        plot_effective_receptive_field(torch.ones(2, 4, 4), (0, 0), 2, 2)
    with pytest.raises(ValueError, match="erf"):
        plot_effective_receptive_field(-torch.ones(4, 4), (0, 0), 2, 2)
    with pytest.raises(ValueError, match="query"):
        plot_effective_receptive_field(torch.ones(4, 4), (2, 0), 2, 2)
    with pytest.raises(ValueError, match="log_floor"):
        plot_effective_receptive_field(torch.ones(4, 4), (0, 0), 2, 2, log_floor=1.5)


# --------------------------------------------------------------------------- attention maps


def test_attention_maps_are_the_blocks_weights_for_the_query():
    torch.manual_seed(0)
    model = swin_nano().eval()
    image = torch.rand(1, 32, 32)
    query = (5, 10)
    maps = attention_maps(model, image, query)
    assert maps.shape == (2, 2, 16, 16)  # 2 blocks, 2 heads, 16x16 tokens
    with torch.no_grad():
        x = model.patch_embed(image[None])
        expected = []
        for block in model.layers[0].blocks:
            expected.append(block.attention_weights(x)[0, :, 5 * 16 + 10].reshape(2, 16, 16))
            x = block(x)
    assert torch.allclose(maps, torch.stack(expected))
    assert torch.allclose(maps.sum(dim=(2, 3)), torch.ones(2, 2), atol=1e-5)
    for b, shift in enumerate((0, 2)):
        visible = st.shifted_window_pattern(16, 16, 4, shift)[5 * 16 + 10].reshape(16, 16)
        assert (maps[b][:, ~visible] == 0).all()
    # stage 2: 8x8 map, 4 heads
    assert attention_maps(model, image, (0, 0), stage=1).shape == (2, 4, 8, 8)


def test_attention_maps_bad_arguments():
    model = swin_nano()
    with pytest.raises(ValueError, match="image"):
        attention_maps(model, torch.rand(1, 1, 32, 32), (0, 0))
    with pytest.raises(ValueError, match="stage"):
        attention_maps(model, torch.rand(1, 32, 32), (0, 0), stage=2)
    with pytest.raises(ValueError, match="query"):
        attention_maps(model, torch.rand(1, 32, 32), (16, 0))
    with pytest.raises(TypeError, match="attention weights"):
        attention_maps(_model("neighborhood"), torch.rand(1, 16, 16), (0, 0))


def test_plot_attention_maps_draws_the_image_and_one_panel_per_block():
    torch.manual_seed(0)
    model = swin_nano()
    image = torch.rand(1, 32, 32)
    maps = attention_maps(model, image, (4, 4))
    fig = plot_attention_maps(image, maps, (4, 4), patch_size=2, titles=["regular", "shifted"])
    assert len(fig.axes) == 4  # image, two blocks, one colour bar
    assert [ax.get_title() for ax in fig.axes[:3]] == ["image and query", "regular", "shifted"]
    shown = fig.axes[1].images[0].get_array()
    assert torch.equal(
        torch.from_numpy(~shown.mask), maps[0].mean(dim=0) > 0
    )  # exact zeros greyed out
    with pytest.raises(ValueError, match="patch_size"):
        plot_attention_maps(image, maps, (4, 4), patch_size=4)
    with pytest.raises(ValueError, match="titles"):
        plot_attention_maps(image, maps, (4, 4), patch_size=2, titles=["one"])
    with pytest.raises(ValueError, match="maps"):
        plot_attention_maps(image, maps[0], (4, 4), patch_size=2)


# --------------------------------------------------------------------------- learning curves


def _history(losses):
    return History(
        epoch=list(range(1, len(losses) + 1)),
        train_loss=losses,
        train_accuracy=[0.5] * len(losses),
        val_loss=[x + 0.1 for x in losses],
        val_accuracy=[1 - x for x in losses],
        seconds=[1.0] * len(losses),
    )


def test_plot_learning_curves_one_run_and_several():
    fig = plot_learning_curves(_history([0.7, 0.5, 0.3]), title="one run", chance=0.5)
    loss_ax, acc_ax = fig.axes
    assert len(loss_ax.lines) == 2 and len(acc_ax.lines) == 2  # train/held-out; accuracy + chance
    assert list(loss_ax.lines[0].get_ydata()) == [0.7, 0.5, 0.3]
    runs = {"a": _history([0.7, 0.6]), "b": _history([0.7, 0.2]).as_dict()}
    fig = plot_learning_curves(runs)
    assert len(fig.axes[0].lines) == 4 and len(fig.axes[1].lines) == 2


def test_plot_learning_curves_bad_arguments():
    with pytest.raises(ValueError, match="empty"):
        plot_learning_curves({})
    with pytest.raises(ValueError, match="History"):
        plot_learning_curves({"a": [0.1, 0.2]})
    with pytest.raises(ValueError, match="one value per epoch"):
        plot_learning_curves(
            {"epoch": [1, 2], "train_loss": [0.1], "val_loss": [0.1, 0.2], "val_accuracy": [1, 1]}
        )
    with pytest.raises(ValueError, match="ax"):
        plot_learning_curves(_history([0.5]), ax=plt.subplots()[1])
