"""What the figures compute but do not draw: window labels, effective receptive fields and
attention maps of a model. No plotting here; :mod:`swin_tutorial.viz` draws the results.

Used in chapters 2 and 12, and by the coursework checkers.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from ._checks import check_int, check_tensor
from .patterns import shifted_window_pattern


def query_position(query: int | Sequence[int], H: int, W: int) -> tuple[int, int]:
    """Read ``query`` as a token id ``i * W + j`` or a pair ``(i, j)`` on an ``H x W`` map.

    Returns ``(i, j)``; numpy integers are accepted like ints.
    """
    if isinstance(query, int | np.integer):
        token = check_int("query", int(query) if isinstance(query, np.integer) else query)
        if not 0 <= token < H * W:
            raise ValueError(f"query must be a token id in [0, {H * W}), got query={query!r}")
        return token // W, token % W
    if isinstance(query, Sequence) and not isinstance(query, str) and len(query) == 2:
        i, j = (
            check_int(f"query[{k}]", int(v) if isinstance(v, np.integer) else v)
            for k, v in enumerate(query)
        )
        if not (0 <= i < H and 0 <= j < W):
            raise ValueError(
                f"query (row, col) must lie in the {H}x{W} map, got query={tuple(query)!r}"
            )
        return i, j
    raise TypeError(f"query must be a token id or a (row, col) pair, got query={query!r}")


def window_labels(
    H: int, W: int, window_size: int | Sequence[int], shift_size: int | Sequence[int] = 0
) -> torch.Tensor:
    """Which window each token of the *original* map belongs to: long ``(H, W)``.

    Windows are the classes of :func:`~swin_tutorial.patterns.shifted_window_pattern`,
    numbered in row-major order of their top-left token; with a shift, a map of
    ``H/M x W/M`` windows shows ``(H/M + 1)(W/M + 1)`` of them. Used in chapter 2.
    """
    pattern = shifted_window_pattern(H, W, window_size, shift_size)
    first = pattern.to(torch.uint8).argmax(dim=1)  # smallest token id of each token's window
    return torch.unique(first, return_inverse=True)[1].reshape(H, W)


def _check_feature_model(model: object) -> torch.nn.Module:
    if not isinstance(model, torch.nn.Module) or not callable(
        getattr(model, "forward_features", None)
    ):
        raise TypeError(
            "model must be a torch.nn.Module with forward_features(images) -> (B, h, w, C), "
            f"e.g. a SwinTransformer; got {type(model).__name__}"
        )
    return model


def _to_model_device(model: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    parameter = next(model.parameters(), None)
    return x if parameter is None else x.to(parameter.device)


def effective_receptive_field(
    model: torch.nn.Module, images: torch.Tensor, query: int | Sequence[int]
) -> torch.Tensor:
    """How strongly each input pixel moves one output token, averaged over images.

    The output token at ``query`` of ``model.forward_features`` is a vector ``z``
    of ``C`` channels; the field is the norm of its Jacobian at every pixel,
    ``sqrt(sum over c and input channels k of (dz_c / dx_k)^2)``, averaged over
    the images. All ``C`` rows come from one backward pass over ``C`` copies of
    each image (exact in ``eval()`` mode, where samples do not interact).
    Used in chapter 12.

    Args:
        model: has ``forward_features(images) -> (B, h, w, C)``; run in ``eval()``
            mode and left in the mode it was in.
        images: ``(B, C_in, H, W)``.
        query: ``(i, j)`` (or a token id) on the ``h x w`` output map.

    Returns:
        ``(H, W)`` float, non-negative, on the model's device.
    """
    _check_feature_model(model)
    images = _to_model_device(model, check_tensor("images", images, 4, "(B, C_in, H, W)"))
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            probe = model.forward_features(images[:1])
        if probe.dim() != 4:
            raise ValueError(
                f"model.forward_features must return (B, h, w, C), got {tuple(probe.shape)}"
            )
        _, h, w, C = probe.shape
        i, j = query_position(query, h, w)
        B = images.shape[0]
        copies = images.detach().repeat_interleave(C, dim=0).requires_grad_(True)  # (B*C, ...)
        tokens = model.forward_features(copies)[:, i, j, :]  # (B*C, C)
        channel = torch.arange(B * C, device=tokens.device) % C
        (grad,) = torch.autograd.grad(tokens.gather(1, channel[:, None]).sum(), copies)
    finally:
        model.train(was_training)
    jacobian = grad.reshape(B, C, *images.shape[1:])  # (B, C, C_in, H, W)
    return jacobian.square().sum(dim=(1, 2)).sqrt().mean(dim=0)


def attention_maps(
    model: torch.nn.Module, image: torch.Tensor, query: int | Sequence[int], stage: int = 0
) -> torch.Tensor:
    """The attention weights one query gives the map, in every block of a stage.

    The image runs once through ``model`` (a window-attention
    :class:`~swin_tutorial.model.SwinTransformer`); the input of each block of
    ``model.layers[stage]`` is caught and its ``attention_weights`` read there.
    Used in chapter 12.

    Args:
        model: its ``layers[stage].blocks`` have ``attention_weights``.
        image: ``(C_in, H, W)``, one image.
        query: ``(i, j)`` (or a token id) on the stage's ``h x w`` map.
        stage: index of the stage.

    Returns:
        ``(blocks, heads, h, w)`` on the model's device; each map sums to 1 and
        is zero outside the query's window.
    """
    _check_feature_model(model)
    image = check_tensor("image", image, 3, "(C_in, H, W), one image,")
    layers = getattr(model, "layers", None)
    if layers is None or len(layers) == 0:
        raise TypeError(f"model must have stages in model.layers, got {type(model).__name__}")
    check_int("stage", stage, 0, len(layers) - 1)
    blocks = list(layers[stage].blocks)
    if not all(hasattr(block, "attention_weights") for block in blocks):
        raise TypeError(f"the blocks of stage {stage} have no window attention weights to show")
    image = _to_model_device(model, image)
    inputs: list[torch.Tensor] = []
    hooks = [
        block.register_forward_pre_hook(lambda module, args: inputs.append(args[0]))
        for block in blocks
    ]
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            model(image[None])
            _, h, w, _ = inputs[0].shape
            i, j = query_position(query, h, w)
            maps = [
                block.attention_weights(x)[0, :, i * w + j]
                for block, x in zip(blocks, inputs, strict=True)
            ]
    finally:
        for hook in hooks:
            hook.remove()
        model.train(was_training)
    return torch.stack(maps).reshape(len(blocks), -1, h, w)
