"""The locality drawing of chapter 7: codes, panels, legend, errors by argument name."""

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch
from matplotlib.figure import Figure

from swin_tutorial.probes import receivers
from swin_tutorial.viz.locality import LOCALITY_LABELS, locality_codes, plot_locality


def band_and_window():
    changed = torch.zeros(16, 16, dtype=torch.bool)
    changed[:4] = True  # rows 0-3, the whole width
    return changed, receivers(16, 16, 8, 0, (5, 5))  # the token's 8x8 window


def test_codes_count_each_case():
    codes = locality_codes(*band_and_window())
    counts = torch.bincount(codes.flatten(), minlength=4).tolist()
    # untouched, changed and allowed, leak, missed
    assert counts == [256 - 96, 32, 32, 32]
    assert len(LOCALITY_LABELS) == 4


def test_plot_locality_panels_and_legend():
    changed, allowed = band_and_window()
    fig = plot_locality(
        {"snippet": (changed, allowed), "correct": (allowed, allowed)},
        token=(5, 5),
        window=8,
        title="one token",
    )
    assert isinstance(fig, Figure) and len(fig.axes) == 2
    image = np.asarray(fig.axes[0].images[0].get_array())
    assert np.array_equal(image, locality_codes(changed, allowed).numpy())
    assert [ax.get_title() for ax in fig.axes] == ["snippet", "correct"]
    assert len(fig.legends) == 1 and fig._suptitle.get_text() == "one token"
    plt.close(fig)


def test_plot_locality_on_given_axes():
    fig, axes = plt.subplots(1, 2)
    changed, allowed = band_and_window()
    panels = {"a": (changed, allowed), "b": (allowed, allowed)}
    assert plot_locality(panels, ax=axes) is fig
    assert not fig.legends  # the caller owns the figure
    with pytest.raises(ValueError, match="ax"):
        plot_locality({"a": (changed, allowed)}, ax=axes)
    plt.close(fig)


def test_plot_locality_errors():
    changed, allowed = band_and_window()
    with pytest.raises(ValueError, match="panels"):
        plot_locality({})
    with pytest.raises(TypeError, match=r"panels\['a'\]"):
        plot_locality({"a": changed})
    with pytest.raises(TypeError, match="changed"):
        plot_locality({"a": (changed.long(), allowed)})
    with pytest.raises(ValueError, match="same shape"):
        plot_locality({"a": (changed[:8], allowed)})
    with pytest.raises(ValueError, match="same map size"):
        plot_locality({"a": (changed, allowed), "b": (changed[:8], allowed[:8])})
    with pytest.raises(ValueError, match="token"):
        plot_locality({"a": (changed, allowed)}, token=(16, 0))
    with pytest.raises(ValueError, match="window"):
        plot_locality({"a": (changed, allowed)}, window=0)
