"""What a Swin model is made of, read from the model itself: its stages and its blocks' order.

Used by the architecture figures of chapters 6 and 9 (:mod:`swin_tutorial.viz.architecture`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn

from ._checks import to_pair
from .model import SwinTransformer


@dataclass(frozen=True)
class StageShape:
    """One stage of a model on one image size: its map, width, depth, heads and windows."""

    stage: int
    height: int
    width: int
    channels: int
    depth: int
    heads: int
    window: tuple[int, int]
    windows: int
    merges: bool


def _check_model(model: object) -> SwinTransformer:
    if not isinstance(model, SwinTransformer):
        raise TypeError(f"model must be a SwinTransformer, got {type(model).__name__}")
    return model


def stage_shapes(model: SwinTransformer, image_size: int | Sequence[int]) -> list[StageShape]:
    """The map every stage of ``model`` works on for images of ``image_size`` ``(H, W)``.

    Computed without running the model: patches of ``p`` give ``H / p`` tokens
    a side (``H`` and ``W`` must be multiples of ``p``, as the model requires),
    and every patch merging halves the side, rounding up. A window never exceeds
    the map, and the windows per image count the windows of the map padded to a
    window multiple, as the blocks pad it. Windowed models only (``attention``
    ``"shifted"`` or ``"window"``). Equal to the shapes of
    :meth:`SwinTransformer.forward_hierarchy` (tested).
    """
    model = _check_model(model)
    if model.attention == "neighborhood":
        raise ValueError(
            "model must use windows (attention 'shifted' or 'window'), got 'neighborhood'"
        )
    H, W = to_pair("image_size", image_size)
    patch_h, patch_w = model.patch_embed.proj.kernel_size
    if H % patch_h or W % patch_w:
        raise ValueError(
            f"image_size must be a multiple of the patch size {patch_h} (pad the image first, "
            f"as detectors do), got image_size={(H, W)}"
        )
    h, w = H // patch_h, W // patch_w
    shapes = []
    for index, stage in enumerate(model.layers):
        merges = not isinstance(stage.downsample, nn.Identity)
        if merges:
            h, w = math.ceil(h / 2), math.ceil(w / 2)
        first = stage.blocks[0]
        window = (min(first.window_size[0], h), min(first.window_size[1], w))
        windows = math.ceil(h / window[0]) * math.ceil(w / window[1])
        shapes.append(
            StageShape(
                index + 1,
                h,
                w,
                first.dim,
                len(stage.blocks),
                first.attn.num_heads,
                window,
                windows,
                merges,
            )
        )
    return shapes


def block_call_order(block: nn.Module, x: torch.Tensor) -> list[str]:
    """The names of ``block``'s child modules in the order one forward pass calls them.

    ``x`` is the block's input ``(B, H, W, C)``. Swin V1's pre-norm block gives
    ``['norm1', 'attn', 'norm2', 'mlp']``, Swin V2's post-norm block
    ``['attn', 'norm1', 'mlp', 'norm2']`` (stochastic depth, an identity
    outside training, is left out).
    """
    if not isinstance(block, nn.Module):
        raise TypeError(f"block must be a torch.nn.Module, got {type(block).__name__}")
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"x must be a tensor (B, H, W, C), got {type(x).__name__}")
    called: list[str] = []
    handles = [
        child.register_forward_hook(lambda *_, name=name: called.append(name))
        for name, child in block.named_children()
        if not name.startswith("drop_path")
    ]
    try:
        with torch.no_grad():
            block(x)
    finally:
        for handle in handles:
            handle.remove()
    return called
