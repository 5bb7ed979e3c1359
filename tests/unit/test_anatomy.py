"""A model's stages and its blocks' layer order, read from the model; their drawings."""

import matplotlib
import pytest
import torch

import swin_tutorial as st
from swin_tutorial.anatomy import StageShape, block_call_order, stage_shapes
from swin_tutorial.viz import plot_architecture, plot_block_orders

matplotlib.use("Agg")


@pytest.mark.parametrize("image_size", [(32, 32), (40, 56), (36, 20)])
def test_stage_shapes_are_forward_hierarchy_shapes(image_size):
    torch.manual_seed(0)
    model = st.SwinTransformer(
        img_size=32,
        patch_size=4,
        embed_dim=8,
        depths=(1, 2, 1),
        num_heads=(1, 2, 2),
        window_size=3,
    ).eval()
    shapes = stage_shapes(model, image_size)
    with torch.no_grad():
        maps = model.forward_hierarchy(torch.randn(1, 3, *image_size))
    assert [(s.height, s.width, s.channels) for s in shapes] == [tuple(m.shape[1:]) for m in maps]
    assert [s.depth for s in shapes] == [1, 2, 1] and [s.heads for s in shapes] == [1, 2, 2]
    assert [s.merges for s in shapes] == [False, True, True]


def test_swin_t_on_a_detection_input():
    shapes = stage_shapes(st.swin_t(), (800, 1344))  # 800 x 1333 padded to a multiple of 32
    assert [(s.height, s.width) for s in shapes] == [(200, 336), (100, 168), (50, 84), (25, 42)]
    # windows of 7 on maps padded to multiples of 7: ceil(200/7) * ceil(336/7) = 29 * 48
    assert [s.windows for s in shapes] == [29 * 48, 15 * 24, 8 * 12, 4 * 6]


def test_stage_shapes_refuses_bad_input():
    with pytest.raises(ValueError, match="image_size must be a multiple of the patch size 4"):
        stage_shapes(st.swin_t(), (800, 1333))
    with pytest.raises(TypeError, match="model must be a SwinTransformer"):
        stage_shapes(torch.nn.Linear(2, 2), 224)
    with pytest.raises(ValueError, match="model must use windows"):
        stage_shapes(st.swin_single_resolution("neighborhood", embed_dim=8), 16)


def test_block_call_order_tells_pre_norm_from_post_norm():
    x = torch.randn(1, 8, 8, 8)
    assert block_call_order(st.SwinBlock(8, 2, 4), x) == ["norm1", "attn", "norm2", "mlp"]
    assert block_call_order(st.SwinV2Block(8, 2, 4), x) == ["attn", "norm1", "mlp", "norm2"]
    with pytest.raises(TypeError, match="block must be a torch.nn.Module"):
        block_call_order("block", x)


def test_drawings():
    shapes = stage_shapes(st.swin_t(), 224)
    fig = plot_architecture(shapes, (224, 224), head="norm, pool\n1000 classes")
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert any("stage 3\n14x14\nC = 384\n6 blocks\n12 heads\n4 windows" == t for t in texts)
    fig = plot_block_orders({"V1": ["norm1", "attn", "norm2", "mlp"]})
    assert [t.get_text() for t in fig.axes[0].texts].count("+") == 2
    with pytest.raises(TypeError, match=r"shapes\[0\] must be a StageShape"):
        plot_architecture([1], (224, 224))
    with pytest.raises(ValueError, match="orders"):
        plot_block_orders({"V1": ["attn"]})
    assert isinstance(shapes[0], StageShape)
