"""Drawings of chapter 8 (variants of the window): panels, contents, and errors by argument name."""

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch
from matplotlib.figure import Figure

from swin_tutorial import viz
from swin_tutorial.patterns import (
    halo_pattern,
    neighborhood_pattern,
    overlapping_window_pattern,
    window_pattern,
)


def variants_8x8():
    return {
        "window": window_pattern(8, 8, 4),
        "overlapping": overlapping_window_pattern(8, 8, 4, 2),
        "neighbourhood": neighborhood_pattern(8, 8, 3),
        "halo": halo_pattern(8, 8, 4, 1),
    }


def test_plot_variants_grid():
    patterns = variants_8x8()
    queries = [(3, 4), 0]
    fig = viz.plot_variants(8, 8, queries, patterns)
    assert isinstance(fig, Figure) and len(fig.axes) == 2 * 4
    for row, (i, j) in enumerate([(3, 4), (0, 0)]):
        for col, (name, pattern) in enumerate(patterns.items()):
            ax = fig.axes[row * 4 + col]
            image = np.asarray(ax.images[0].get_array())
            expected = pattern[i * 8 + j].reshape(8, 8).long().numpy()
            expected[i, j] = 2  # the query itself
            assert np.array_equal(image, expected)
            assert ax.get_title() == f"{name}\n{int(pattern[i * 8 + j].sum())} keys"
    assert fig.axes[4].get_ylabel().startswith("query (0, 0)")
    assert len(fig.legends) == 1


def test_plot_variants_on_given_axes():
    fig, axes = plt.subplots(1, 4)
    assert viz.plot_variants(8, 8, [5], variants_8x8(), ax=axes[None, :]) is fig
    assert not fig.legends  # the caller owns the figure
    with pytest.raises(ValueError, match="ax"):
        viz.plot_variants(8, 8, [5, 6], variants_8x8(), ax=axes[None, :])


def test_plot_variants_errors():
    with pytest.raises(ValueError, match="queries"):
        viz.plot_variants(8, 8, [], variants_8x8())
    with pytest.raises(ValueError, match="query"):
        viz.plot_variants(8, 8, [(8, 0)], variants_8x8())
    with pytest.raises(ValueError, match="patterns"):
        viz.plot_variants(8, 8, [0], {})
    with pytest.raises(ValueError, match="patterns"):
        viz.plot_variants(8, 8, [0], {"small": window_pattern(4, 4, 2)})
    with pytest.raises(ValueError, match="H"):
        viz.plot_variants(0, 8, [0], variants_8x8())


def test_plot_coverage_curves():
    curves = {"a": [0.25, 0.5, 1.0], "b": torch.tensor([0.1, 0.1]), "c": (0.5,)}
    fig = viz.plot_coverage_curves(curves, title="growth")
    (ax,) = fig.axes
    lines = [line for line in ax.get_lines() if line.get_label() in curves]
    assert [line.get_label() for line in lines] == ["a", "b", "c"]
    assert list(lines[0].get_xdata()) == [1, 2, 3] and list(lines[0].get_ydata()) == [
        0.25,
        0.5,
        1.0,
    ]
    assert list(lines[1].get_ydata()) == pytest.approx([0.1, 0.1])
    # no two curves share both colour and style
    looks = {(line.get_color(), line.get_linestyle(), line.get_marker()) for line in lines}
    assert len(looks) == 3 and len({line.get_marker() for line in lines}) == 3
    assert ax.get_title() == "growth"
    fig2, axis = plt.subplots()
    assert viz.plot_coverage_curves({"a": [1.0]}, ax=axis) is fig2


def test_plot_coverage_curves_errors():
    with pytest.raises(ValueError, match="curves"):
        viz.plot_coverage_curves({})
    with pytest.raises(ValueError, match="curves\\['a'\\]"):
        viz.plot_coverage_curves({"a": [0.5, 1.5]})
    with pytest.raises(ValueError, match="curves\\['a'\\]"):
        viz.plot_coverage_curves({"a": []})
    with pytest.raises(ValueError, match="curves\\['a'\\]"):
        viz.plot_coverage_curves({"a": [[0.5]]})
    with pytest.raises(ValueError, match="ax"):
        viz.plot_coverage_curves({"a": [0.5]}, ax=plt.subplots(1, 2)[1])
