"""The patch-merging drawing of chapter 6: slots written where the order puts them."""

import matplotlib
import pytest
import torch
from matplotlib.figure import Figure

import swin_tutorial as st
from swin_tutorial.viz.merging import plot_merge_order

matplotlib.use("Agg")

SWIN_ORDER = [(0, 0), (1, 0), (0, 1), (1, 1)]


def labels(fig):
    return [text.get_text() for text in fig.axes[0].texts]


def test_each_token_is_labelled_with_its_slot():
    fig = plot_merge_order(SWIN_ORDER)
    assert isinstance(fig, Figure) and len(fig.axes) == 1
    texts = labels(fig)
    assert len(texts) == 16
    assert "(0,0)\nslot 0" in texts and "(1,0)\nslot 1" in texts
    assert "(0,1)\nslot 2" in texts and "(3,3)\nslot 3" in texts
    assert "4x4 map -> 2x2 map" in fig.axes[0].get_title()


def test_another_order_moves_the_slots():
    texts = labels(plot_merge_order([(0, 0), (0, 1), (1, 0), (1, 1)], size=2))
    assert texts == ["(0,0)\nslot 0", "(0,1)\nslot 1", "(1,0)\nslot 2", "(1,1)\nslot 3"]


def test_the_order_read_from_the_package_is_swins():
    # chapter 6's hook: a map holding 10 i + j, caught on its way into the norm
    rows, cols = torch.meshgrid(torch.arange(4.0), torch.arange(4.0), indexing="ij")
    merge = st.PatchMerging(dim=1)
    captured = {}
    hook = merge.norm.register_forward_hook(lambda m, i, o: captured.update(x=i[0]))
    with torch.no_grad():
        merge((10 * rows + cols).reshape(1, 4, 4, 1))
    hook.remove()
    order = [(int(v) // 10, int(v) % 10) for v in captured["x"][0, 0, 0].tolist()]
    assert order == SWIN_ORDER


def test_draws_on_a_given_axes():
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    assert plot_merge_order(SWIN_ORDER, ax=ax) is fig
    plt.close(fig)


@pytest.mark.parametrize(
    "order", [[(0, 0), (1, 0), (0, 1)], [(0, 0), (0, 0), (0, 1), (1, 1)], [(0, 2)] * 4, "abcd"]
)
def test_rejects_an_order_that_is_not_the_four_offsets(order):
    with pytest.raises(ValueError, match="order must list the offsets"):
        plot_merge_order(order)


@pytest.mark.parametrize("size, error", [(3, ValueError), (0, ValueError), (2.0, TypeError)])
def test_rejects_a_size_that_is_not_a_positive_even_int(size, error):
    with pytest.raises(error, match="size"):
        plot_merge_order(SWIN_ORDER, size=size)
