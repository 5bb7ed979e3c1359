"""The drawings of chapter 1: the attention primer, the score scaling and the timeline."""

import pytest
import torch
from matplotlib.figure import Figure

from swin_tutorial.viz.history import plot_timeline
from swin_tutorial.viz.primer import plot_attention_primer, plot_score_scaling


def primer_inputs(T=4):
    torch.manual_seed(0)
    query, keys, values = torch.randn(2), torch.randn(T, 2), torch.randn(T, 2)
    scores = keys @ query / 2**0.5
    weights = scores.softmax(0)
    return query, keys, values, scores, weights, weights @ values


def test_plot_attention_primer_draws_three_panels():
    fig = plot_attention_primer(*primer_inputs())
    assert isinstance(fig, Figure) and len(fig.axes) == 3
    left, middle, right = fig.axes
    assert len(middle.patches) == 2 * 4  # a score bar and a weight bar per token
    assert len(right.collections) == 4 + 1  # the values and the output
    assert "score" in left.get_title()
    # four key labels (subscripts) and the query's label
    assert sum("mathbf{k}" in t.get_text() for t in left.texts) == 4


def test_plot_attention_primer_on_given_axes_and_labels():
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3)
    assert plot_attention_primer(*primer_inputs(3), labels=["a", "b", "c"], ax=axes) is fig
    ticks = [t.get_text() for t in axes[1].get_xticklabels()]
    assert ticks == ["a", "b", "c"]


@pytest.mark.parametrize(
    "change, message",
    [
        ({"query": torch.zeros(3)}, "query must have shape"),
        ({"keys": torch.zeros(7, 2)}, "1 to 6 tokens"),
        ({"values": torch.zeros(3, 2)}, "values must have shape"),
        ({"weights": [0.5, 0.5]}, "weights must be a tensor"),
        ({"labels": ["a"]}, "labels must name the 4 tokens"),
    ],
)
def test_plot_attention_primer_rejects_bad_arguments(change, message):
    names = ["query", "keys", "values", "scores", "weights", "output"]
    kwargs = dict(zip(names, primer_inputs(), strict=True)) | change
    with pytest.raises((TypeError, ValueError), match=message):
        plot_attention_primer(**kwargs)


def test_plot_score_scaling():
    dims = [4, 16, 64]
    fig = plot_score_scaling(dims, [4, 16, 64], [1, 1, 1], [0.3, 0.6, 0.8], [0.1, 0.1, 0.1])
    left, right = fig.axes
    assert len(left.lines) == 2 and left.get_xscale() == "log" == left.get_yscale()
    assert len(right.lines) == 3  # two curves and the line at 1
    with pytest.raises(ValueError, match="one value per d"):
        plot_score_scaling(dims, [4, 16], [1, 1, 1], [0.3] * 3, [0.1] * 3)
    with pytest.raises(ValueError, match="positive ints"):
        plot_score_scaling([], [], [], [], [])


def test_plot_timeline_stacks_works_of_a_year():
    works = [
        (2017, "Transformer", "text", False),
        (2021, "ViT", "images", False),
        (2021, "Swin", "images", True),
        (2023, "Mistral", "text", True),
    ]
    fig = plot_timeline(works)
    (ax,) = fig.axes
    assert [t.get_text() for t in ax.texts] == ["Transformer", "ViT", "Swin", "Mistral"]
    heights = [t.xy[1] for t in ax.texts]
    assert heights[1] > 0 and heights[2] > heights[1] and heights[0] < 0 and heights[3] < 0
    hollow = [line for line in ax.lines if line.get_markerfacecolor() == "white"]
    assert len(hollow) >= 2  # the global-attention works, and the legend's entry
    with pytest.raises(ValueError, match="data must be one of"):
        plot_timeline([(2020, "x", "audio", True)])
    with pytest.raises(ValueError, match="at least one"):
        plot_timeline([])
