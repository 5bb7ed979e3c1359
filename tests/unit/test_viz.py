"""Drawings return figures with the expected panels and reject bad arguments by name."""

import sys

import ipywidgets
import matplotlib.pyplot as plt
import pytest
import torch
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure

from swin_tutorial import analysis, viz
from swin_tutorial.patterns import (
    global_pattern,
    neighborhood_pattern,
    shifted_window_pattern,
    window_pattern,
)


def patterns_8x8():
    return {
        "global": global_pattern(8, 8),
        "window": window_pattern(8, 8, 4),
        "shifted window": shifted_window_pattern(8, 8, 4, 2),
        "neighbourhood": neighborhood_pattern(8, 8, 3),
    }


def line_collections(ax):
    """The line collections drawn on ``ax`` besides the thin lines between tokens."""
    return [
        c
        for c in ax.collections
        if isinstance(c, LineCollection) and c.get_gid() != viz.TOKEN_GRID_GID
    ]


def test_token_grid_draws_a_line_between_neighbouring_tokens():
    fig = viz.plot_windows(6, 5, 1)
    (grid,) = [c for c in fig.axes[0].collections if c.get_gid() == viz.TOKEN_GRID_GID]
    assert len(grid.get_segments()) == (6 - 1) + (5 - 1)


def test_plot_windows():
    fig = viz.plot_windows(8, 8, 4)
    assert isinstance(fig, Figure) and len(fig.axes) == 1
    (ax,) = fig.axes
    assert len(ax.images) == 1 and len(line_collections(ax)) == 1
    assert len(ax.texts) == 64  # token ids
    assert "4 windows" in ax.get_title()
    shifted = viz.plot_windows(8, 8, 4, shift_size=2).axes[0]
    assert len(line_collections(shifted)) == 2  # regular grid (dashed) + shifted windows
    assert "9 windows" in shifted.get_title()
    assert len(viz.plot_windows(16, 16, 4).axes[0].texts) == 0  # too many tokens to label


def test_window_labels_count_shifted_windows():
    labels = analysis.window_labels(8, 12, 4, 2)
    assert labels.shape == (8, 12) and int(labels.max()) + 1 == (8 // 4 + 1) * (12 // 4 + 1)


def test_plot_windows_on_given_axes():
    fig, ax = plt.subplots()
    assert viz.plot_windows(8, 8, 4, ax=ax) is fig
    with pytest.raises(ValueError, match="ax"):
        viz.plot_cyclic_shift(8, 8, 4, 2, ax=ax)  # needs two


def test_plot_cyclic_shift():
    fig = viz.plot_cyclic_shift(8, 8, 4, 2)
    assert len(fig.axes) == 2
    before, after = fig.axes
    assert len(before.images) == len(after.images) == 1
    assert len(before.texts) == len(after.texts) == 64
    # after the roll the token written at the top-left is (s, s) of the original map
    assert after.texts[0].get_text() == str(2 * 8 + 2)


def test_plot_regions_and_mask():
    fig = viz.plot_regions_and_mask(8, 8, 4, 2)
    assert len(fig.axes) == 2
    regions, mask = fig.axes
    assert len(regions.images) == len(mask.images) == 1
    assert mask.images[0].get_array().shape == (2 * 17 - 1, 2 * 17 - 1)
    assert "(4, 16, 16)" in mask.get_title()


def test_plot_visible_keys():
    fig = viz.plot_visible_keys(8, 8, (1, 3), patterns_8x8())
    assert len(fig.axes) == 4
    titles = [ax.get_title() for ax in fig.axes]
    assert [t.split("\n")[1] for t in titles] == ["64 keys", "16 keys", "8 keys", "9 keys"]
    assert all(len(ax.images) == 1 for ax in fig.axes)
    assert len(fig.legends) == 1


def test_plot_receptive_field_growth():
    regular, shifted = window_pattern(8, 8, 4), shifted_window_pattern(8, 8, 4, 2)
    fig = viz.plot_receptive_field_growth(8, 8, 0, [regular, shifted], [1, 2, 3], title="Swin")
    assert len(fig.axes) == 3
    assert [ax.get_title() for ax in fig.axes] == [
        "1 layer: 16/64",
        "2 layers: 16/64",
        "3 layers: 64/64",
    ]
    fig = viz.plot_receptive_field_growth(8, 8, 0, regular, range(1, 6))
    assert all(ax.get_title().endswith("16/64") for ax in fig.axes)


def test_plot_attention_map():
    fig = viz.plot_attention_map(torch.rand(16, 16))
    assert len(fig.axes) == 2  # heatmap + colour bar
    fig = viz.plot_attention_map(
        torch.rand(4, 8).numpy(), colorbar=False, xlabel="column j", ylabel="row i"
    )
    assert len(fig.axes) == 1 and fig.axes[0].get_xlabel() == "column j"


@pytest.mark.parametrize(
    "call, name",
    [
        (lambda: viz.plot_windows(8, 8, 3), "window_size"),
        (lambda: viz.plot_windows(4, 4, 8), "window_size"),
        (lambda: viz.plot_windows(8, 8, 4, shift_size=4), "shift_size"),
        (lambda: viz.plot_windows(0, 8, 4), "H"),
        (lambda: viz.plot_cyclic_shift(8, 8, 4, -1), "shift_size"),
        (lambda: viz.plot_regions_and_mask(8, 8, 4, 5), "shift_size"),
        (lambda: viz.plot_visible_keys(8, 8, 64, patterns_8x8()), "query"),
        (lambda: viz.plot_visible_keys(8, 8, (8, 0), patterns_8x8()), "query"),
        (lambda: viz.plot_visible_keys(8, 8, 0, {}), "patterns"),
        (lambda: viz.plot_visible_keys(4, 4, 0, patterns_8x8()), "patterns"),
        (lambda: viz.plot_receptive_field_growth(8, 8, 0, window_pattern(8, 8, 4), [0]), "layers"),
        (lambda: viz.plot_receptive_field_growth(8, 8, 0, [], [1]), "layer_patterns"),
        (lambda: viz.plot_attention_map(torch.rand(2, 3, 3)), "attn"),
        (lambda: viz.interactive_principle(H=7, W=5), "H=7"),
        (lambda: viz.interactive_principle(H=64, W=64), "H\\*W"),
    ],
)
def test_bad_arguments_name_the_argument(call, name):
    with pytest.raises(ValueError, match=name):
        call()


def test_visible_keys_patterns_must_be_a_dict():
    mask = window_pattern(8, 8, 4)
    with pytest.raises(TypeError, match="patterns must be a dict .*got Tensor$"):
        viz.plot_visible_keys(8, 8, 0, mask)  # the tensor itself is not printed


def test_interactive_principle_builds_and_redraws():
    shown = []
    widget = viz.interactive_principle(show=shown.append)
    assert isinstance(widget, ipywidgets.Widget)
    assert len(shown) == 1 and len(shown[0].axes) == 8  # drawn once on creation
    window, shift = widget.children[0], widget.children[1]
    window.value = 2
    assert shift.max == 1
    assert isinstance(widget.result, Figure) and "window 2" in widget.result._suptitle.get_text()
    assert len(shown) >= 2
    # A page without a kernel shows one short line, not the controls' long repr.
    assert widget._repr_mimebundle_()["text/plain"] == repr(widget)
    assert repr(widget) == "(interactive widget: needs a running kernel)"


def test_interactive_principle_without_ipywidgets_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "ipywidgets", None)  # makes `import ipywidgets` fail
    with pytest.raises(ImportError, match="pip install ipywidgets"):
        viz.interactive_principle()


def test_patterns_are_checked_by_the_patterns_module():
    with pytest.raises(TypeError, match=r"patterns\['w'\] must be a bool"):
        viz.plot_visible_keys(8, 8, 0, {"w": window_pattern(8, 8, 4).long()})
    with pytest.raises(TypeError, match=r"layer_patterns\[1\] must be a bool"):
        viz.plot_receptive_field_growth(8, 8, 0, [window_pattern(8, 8, 4), "shifted"], [2])
