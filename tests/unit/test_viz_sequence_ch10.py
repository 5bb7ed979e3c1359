"""The sequence-pattern drawing of chapter 10: panels, colours, counts, errors by name."""

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch
from matplotlib.colors import to_rgba
from matplotlib.figure import Figure

from swin_tutorial.sliding import longformer_mask, sliding_window_mask
from swin_tutorial.viz import HIDDEN, TOKEN_GRID_GID, VISIBLE
from swin_tutorial.viz.sequence import MAX_COUNTED_TOKENS, plot_sequence_masks


def three_masks(T=16):
    return {
        "causal": sliding_window_mask(T, 5),
        "band": sliding_window_mask(T, 4, causal=False),
        "global": longformer_mask(T, 4, [0, 9]),
    }


def test_one_panel_per_mask_with_its_title_and_pixels():
    masks = three_masks()
    fig = plot_sequence_masks(masks)
    assert isinstance(fig, Figure) and len(fig.axes) == 3
    for ax, (title, mask) in zip(fig.axes, masks.items(), strict=True):
        assert ax.get_title() == title
        image = np.asarray(ax.images[0].get_array())
        assert np.array_equal(image, mask.int().numpy())
        assert ax.get_xlabel() == "key u" and ax.get_ylabel() == "query t"
        assert [c.get_gid() for c in ax.collections] == [TOKEN_GRID_GID]
    plt.close(fig)


def test_colours_are_the_books_hidden_and_visible():
    fig = plot_sequence_masks({"m": sliding_window_mask(6, 2)})
    cmap = fig.axes[0].images[0].get_cmap()
    assert cmap(0) == to_rgba(HIDDEN) and cmap(cmap.N - 1) == to_rgba(VISIBLE)
    plt.close(fig)


def test_keys_per_query_are_written_on_short_sequences_only():
    masks = three_masks()
    fig = plot_sequence_masks(masks)
    for ax, mask in zip(fig.axes, masks.values(), strict=True):
        written = [int(text.get_text()) for text in ax.texts]
        assert written == mask.sum(-1).tolist()
    plt.close(fig)
    long = {"long": sliding_window_mask(MAX_COUNTED_TOKENS + 1, 3)}
    fig = plot_sequence_masks(long)
    assert not fig.axes[0].texts
    plt.close(fig)
    fig = plot_sequence_masks(long, counts=True)
    assert len(fig.axes[0].texts) == MAX_COUNTED_TOKENS + 1
    plt.close(fig)
    fig = plot_sequence_masks(three_masks(), counts=False)
    assert not any(ax.texts for ax in fig.axes)
    plt.close(fig)


def test_draws_on_given_axes():
    fig, axes = plt.subplots(1, 2)
    masks = {"a": sliding_window_mask(8, 2), "b": sliding_window_mask(8, 3)}
    assert plot_sequence_masks(masks, ax=axes) is fig
    with pytest.raises(ValueError, match="ax"):
        plot_sequence_masks({"a": masks["a"]}, ax=axes)
    plt.close(fig)


@pytest.mark.parametrize(
    ("masks", "counts", "error", "message"),
    [
        ({}, None, ValueError, "masks must be a non-empty dict"),
        ([sliding_window_mask(4, 2)], None, ValueError, "masks must be a non-empty dict"),
        ({1: sliding_window_mask(4, 2)}, None, TypeError, "keys must be str"),
        ({"a": torch.ones(4, 4)}, None, TypeError, r"masks\['a'\] must be a bool tensor"),
        ({"a": torch.ones(4, 3, dtype=torch.bool)}, None, ValueError, "square"),
        (
            {"a": sliding_window_mask(4, 2), "b": sliding_window_mask(5, 2)},
            None,
            ValueError,
            "same length",
        ),
        ({"a": sliding_window_mask(4, 2)}, "yes", TypeError, "counts must be a bool"),
    ],
)
def test_bad_input_names_the_argument(masks, counts, error, message):
    with pytest.raises(error, match=message):
        plot_sequence_masks(masks, counts=counts)
