"""The Swin Transformer: patch embedding, stages of blocks, patch merging, a head.

Module and parameter names follow timm's ``swin_transformer.py`` so that a timm
Swin state dict loads with ``strict=True`` (:func:`load_timm_state_dict`);
:func:`timm_to_torchvision_swin` renames one for torchvision. Configurations
live in :mod:`swin_tutorial.config`, the blocks in :mod:`swin_tutorial.blocks`.
Arguments are checked in the constructors and in :meth:`SwinTransformer.forward`.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence

import torch
from torch import nn

from ._checks import (
    check_bool,
    check_choice,
    check_int,
    check_positive_int,
    check_real,
    check_tensor,
    to_pair,
)
from .blocks import (
    NeighborhoodBlock,
    SwinBlock,
    SwinV2Block,
    check_probabilities,
    check_probability,
)
from .config import SWIN_NANO, SWIN_SINGLE_RESOLUTION, SWIN_T, SWINV2_T, SwinConfig
from .windows import pad_to_window_multiple

#: What the blocks of a stage attend to (see :class:`SwinStage`).
ATTENTIONS = ("shifted", "window", "neighborhood")


class PatchEmbed(nn.Module):
    """Cut images into ``p x p`` patches and embed each: ``(B, C_in, H, W) -> (B, H/p, W/p, D)``."""

    def __init__(self, patch_size: int = 4, in_chans: int = 3, embed_dim: int = 96) -> None:
        super().__init__()
        self.patch_size = check_positive_int("patch_size", patch_size)
        self.in_chans = check_positive_int("in_chans", in_chans)
        check_positive_int("embed_dim", embed_dim)
        self.proj = nn.Conv2d(in_chans, embed_dim, kernel_size=patch_size, stride=patch_size)
        self.norm = nn.LayerNorm(embed_dim)

    def check_images(self, images: object) -> torch.Tensor:
        """Check ``images`` is ``(B, C_in, H, W)``, ``H`` and ``W`` positive multiples of ``p``."""
        check_tensor("images", images, 4, "(B, C_in, H, W)")
        if 0 in images.shape:
            raise ValueError(
                f"images must have no empty axis (B, C_in, H, W), got shape {tuple(images.shape)}"
            )
        _, C, H, W = images.shape
        if C != self.in_chans:
            raise ValueError(
                f"images must have {self.in_chans} channels (dim 1 of (B, C_in, H, W)), "
                f"got shape {tuple(images.shape)}"
            )
        if H % self.patch_size or W % self.patch_size:
            raise ValueError(
                f"image height and width must be multiples of patch_size={self.patch_size}, "
                f"got {H}x{W}"
            )
        return images

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.norm(self.proj(images).permute(0, 2, 3, 1))


class PatchMerging(nn.Module):
    """Halve the resolution, raise the width: ``(B, H, W, C) -> (B, ceil(H/2), ceil(W/2), D)``.

    Each 2x2 neighbourhood is concatenated (in the order of the Swin paper:
    (0,0), (1,0), (0,1), (1,1)), normalised and projected; Swin V2 projects
    first and normalises after (``norm_after=True``). Odd sizes are zero-padded
    at the bottom/right first. ``D = out_dim``, by default ``2 C``.
    """

    def __init__(self, dim: int, out_dim: int | None = None, norm_after: bool = False) -> None:
        super().__init__()
        self.dim = check_positive_int("dim", dim)
        self.out_dim = 2 * dim if out_dim is None else check_positive_int("out_dim", out_dim)
        self.norm_after = check_bool("norm_after", norm_after)
        self.reduction = nn.Linear(4 * dim, self.out_dim, bias=False)
        self.norm = nn.LayerNorm(self.out_dim if norm_after else 4 * dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x, _ = pad_to_window_multiple(x, 2)
        B, H, W, C = x.shape
        # (B, H/2, dh, W/2, dw, C) -> (B, H/2, W/2, dw, dh, C): dh varies fastest
        x = x.reshape(B, H // 2, 2, W // 2, 2, C).permute(0, 1, 3, 4, 2, 5)
        x = x.reshape(B, H // 2, W // 2, 4 * C)
        if self.norm_after:
            return self.norm(self.reduction(x))
        return self.reduction(self.norm(x))


class SwinStage(nn.Module):
    """Optional patch merging, then ``depth`` blocks alternating regular and shifted windows.

    ``version=2`` builds Swin V2 blocks and V2 patch merging.

    ``attention`` chooses the blocks (the default is Swin's):

    * ``"shifted"``: regular windows in even blocks, windows shifted by
      ``window_size // 2`` in odd ones;
    * ``"window"``: regular windows in every block, never shifted (a token
      then only ever meets the tokens of its own window);
    * ``"neighborhood"``: :class:`NeighborhoodBlock` s whose neighbourhood side
      is ``window_size`` (an odd int); version 1 only.

    ``(B, H, W, dim) -> (B, H', W', out_dim)`` with ``H' = ceil(H/2)`` when
    ``downsample`` else ``H``.
    """

    def __init__(
        self,
        dim: int,
        out_dim: int,
        depth: int,
        num_heads: int,
        window_size: int | Sequence[int] = 7,
        downsample: bool = True,
        mlp_ratio: float = 4.0,
        qkv_bias: bool = True,
        drop_path: Sequence[float] | float = 0.0,
        attn_drop: float = 0.0,
        proj_drop: float = 0.0,
        fused: bool = True,
        version: int = 1,
        attention: str = "shifted",
    ) -> None:
        super().__init__()
        check_positive_int("depth", depth)
        check_choice("version", version, (1, 2))
        _check_attention(attention, version, window_size)
        window = to_pair("window_size", window_size)
        shift = (window[0] // 2, window[1] // 2) if attention == "shifted" else (0, 0)
        rates = [drop_path] * depth if isinstance(drop_path, float | int) else list(drop_path)
        if len(rates) != depth:
            raise ValueError(f"drop_path must have {depth} rates, got {len(rates)}")
        for i, rate in enumerate(rates):
            check_probability(f"drop_path[{i}]", rate)
        if check_bool("downsample", downsample):
            self.downsample: nn.Module = PatchMerging(dim, out_dim, norm_after=version == 2)
        elif dim != out_dim:
            raise ValueError(f"without downsample, out_dim ({out_dim}) must equal dim ({dim})")
        else:
            self.downsample = nn.Identity()
        if attention == "neighborhood":
            self.blocks = nn.Sequential(
                *(
                    NeighborhoodBlock(
                        out_dim, num_heads, window[0], mlp_ratio, qkv_bias, rates[i], proj_drop
                    )
                    for i in range(depth)
                )
            )
            return
        block = SwinV2Block if version == 2 else SwinBlock
        self.blocks = nn.Sequential(
            *(
                block(
                    out_dim,
                    num_heads,
                    window,
                    (0, 0) if i % 2 == 0 else shift,
                    mlp_ratio,
                    qkv_bias,
                    rates[i],
                    attn_drop,
                    proj_drop,
                    fused,
                )
                for i in range(depth)
            )
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.blocks(self.downsample(x))


def _check_attention(attention: object, version: int, window_size: int | Sequence[int]) -> None:
    """Check the ``attention`` choice of a stage against its version and window."""
    check_choice("attention", attention, ATTENTIONS)
    if attention != "neighborhood":
        return
    if version != 1:
        raise ValueError(
            f"attention='neighborhood' needs version=1 (pre-norm blocks), got version={version!r}"
        )
    check_int("window_size", window_size, minimum=1)
    if window_size % 2 == 0:
        raise ValueError(
            f"with attention='neighborhood', window_size is the neighbourhood side and must be "
            f"odd, got window_size={window_size!r}"
        )


class ClassifierHead(nn.Module):
    """Average over the map, then a linear classifier: ``(B, H, W, C) -> (B, classes)``."""

    def __init__(self, dim: int, num_classes: int, drop: float = 0.0) -> None:
        super().__init__()
        check_positive_int("dim", dim)
        check_int("num_classes", num_classes, minimum=0)
        check_probability("drop", drop)
        self.drop = nn.Dropout(drop)
        self.fc = nn.Linear(dim, num_classes) if num_classes > 0 else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.drop(x.mean(dim=(1, 2))))


class SwinTransformer(nn.Module):
    """Swin Transformer (Liu et al., 2021) for image classification.

    Args:
        img_size: nominal input size (kept for reference; any multiple of
            ``patch_size`` works, since masks are built per size).
        patch_size: side of the square patches.
        in_chans: image channels.
        num_classes: classes of the head (0 for no head).
        embed_dim: channels of the first stage; doubled by each patch merging.
        depths: blocks per stage.
        num_heads: heads per stage.
        window_size: attention window ``M``.
        mlp_ratio, qkv_bias: as in :class:`SwinBlock`.
        drop_path_rate: stochastic depth, rising linearly from 0 to this over all blocks.
        drop_rate, attn_drop_rate: dropout before the head / on attention weights.
        fused: use ``F.scaled_dot_product_attention`` in every block.
        version: 1 for Swin (Liu et al., 2021), 2 for Swin V2 (Liu et al., 2022):
            cosine attention, continuous position bias, post-norm.
        attention: ``"shifted"`` (Swin), ``"window"`` (never shifted) or
            ``"neighborhood"`` (``window_size`` is then the odd neighbourhood
            side); see :class:`SwinStage`.
        init_std: standard deviation of the truncated-normal initialisation of
            every linear layer (timm's 0.02, made for wide models); ``None``
            keeps PyTorch's default, uniform with a scale of ``1 / sqrt(fan_in)``,
            which lets narrow models (a few dozen channels) start learning sooner.
    """

    def __init__(
        self,
        img_size: int | Sequence[int] = 224,
        patch_size: int = 4,
        in_chans: int = 3,
        num_classes: int = 1000,
        embed_dim: int = 96,
        depths: Sequence[int] = (2, 2, 6, 2),
        num_heads: Sequence[int] = (3, 6, 12, 24),
        window_size: int | Sequence[int] = 7,
        mlp_ratio: float = 4.0,
        qkv_bias: bool = True,
        drop_path_rate: float = 0.1,
        drop_rate: float = 0.0,
        attn_drop_rate: float = 0.0,
        fused: bool = True,
        version: int = 1,
        attention: str = "shifted",
        init_std: float | None = 0.02,
    ) -> None:
        super().__init__()
        self.img_size = to_pair("img_size", img_size)
        depths, num_heads = _check_stages(depths, num_heads)
        self.num_classes = check_int("num_classes", num_classes, minimum=0)
        check_positive_int("embed_dim", embed_dim)
        check_probabilities(
            drop_path_rate=drop_path_rate, drop_rate=drop_rate, attn_drop_rate=attn_drop_rate
        )
        if init_std is not None:
            check_real("init_std", init_std, 0.0, low_open=True)
        check_choice("version", version, (1, 2))
        self.attention = check_choice("attention", attention, ATTENTIONS)
        self.patch_embed = PatchEmbed(patch_size, in_chans, embed_dim)
        dims = [embed_dim * 2**i for i in range(len(depths))]
        rates = torch.linspace(0, drop_path_rate, sum(depths)).tolist()
        stages, start = [], 0
        for i, (depth, heads) in enumerate(zip(depths, num_heads, strict=True)):
            stages.append(
                SwinStage(
                    dims[max(i - 1, 0)],
                    dims[i],
                    depth,
                    heads,
                    window_size,
                    downsample=i > 0,
                    mlp_ratio=mlp_ratio,
                    qkv_bias=qkv_bias,
                    drop_path=rates[start : start + depth],
                    attn_drop=attn_drop_rate,
                    proj_drop=drop_rate,
                    fused=fused,
                    version=version,
                    attention=attention,
                )
            )
            start += depth
        self.layers = nn.Sequential(*stages)
        self.num_features = dims[-1]
        self.norm = nn.LayerNorm(self.num_features)
        self.head = ClassifierHead(self.num_features, num_classes, drop_rate)
        if init_std is not None:
            self.apply(functools.partial(_init_weights, std=init_std))
        if version == 2:
            self.apply(_init_post_norm)

    @classmethod
    def from_config(cls, config: SwinConfig, **overrides: object) -> SwinTransformer:
        """Build the model of ``config`` with some fields replaced by ``overrides``."""
        if not isinstance(config, SwinConfig):
            raise TypeError(f"config must be a SwinConfig, got {type(config).__name__}")
        return cls(**config.replace(**overrides).to_dict())

    def forward_features(self, images: torch.Tensor) -> torch.Tensor:
        """``(B, C_in, H, W) -> (B, H / (p 2^(S-1)), W / (p 2^(S-1)), C_last)``, normalised.

        Checks ``images`` (rank, channels, a multiple of the patch size). The
        last map of :meth:`forward_hierarchy`, normalised.
        """
        return self.norm(self.forward_hierarchy(images)[-1])

    def forward_hierarchy(self, images: torch.Tensor) -> list[torch.Tensor]:
        """Every stage's map, for a dense-prediction neck: ``[(B, H_s, W_s, C_s)]``.

        ``(B, C_in, H, W)`` in; stage ``s`` (from 0) gives ``H_s = H / (p 2^s)``
        (rounded up at each merging) and ``C_s = embed_dim 2^s``. The maps are
        taken before the final norm, as timm's ``features_only`` models give them.
        """
        self.patch_embed.check_images(images)
        maps, x = [], self.patch_embed(images)
        for stage in self.layers:
            x = stage(x)
            maps.append(x)
        return maps

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """``(B, C_in, H, W) -> (B, num_classes)`` logits."""
        return self.head(self.forward_features(images))


def _check_stages(depths: object, num_heads: object) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """``depths`` and ``num_heads`` as tuples of positive ints of one non-zero length."""
    stages = []
    for name, values in (("depths", depths), ("num_heads", num_heads)):
        if not isinstance(values, Sequence) or isinstance(values, str):
            raise TypeError(f"{name} must be a sequence of ints, got {name}={values!r}")
        stages.append(tuple(check_positive_int(f"{name}[{i}]", v) for i, v in enumerate(values)))
    if len(stages[0]) != len(stages[1]) or not stages[0]:
        raise ValueError(
            f"depths and num_heads must be non-empty and of equal length, "
            f"got depths={tuple(depths)}, num_heads={tuple(num_heads)}"
        )
    return stages[0], stages[1]


def _init_weights(module: nn.Module, std: float = 0.02) -> None:
    if isinstance(module, nn.Linear):
        nn.init.trunc_normal_(module.weight, std=std)
        if module.bias is not None:
            nn.init.zeros_(module.bias)


def _init_post_norm(module: nn.Module) -> None:
    """Swin V2 starts each residual branch at zero: its post-norm scales start at 0."""
    if isinstance(module, SwinV2Block):
        for norm in (module.norm1, module.norm2):
            nn.init.zeros_(norm.weight)
            nn.init.zeros_(norm.bias)


def swin_t(**overrides: object) -> SwinTransformer:
    """Swin-T (:data:`~swin_tutorial.config.SWIN_T`), with any field overridden."""
    return SwinTransformer.from_config(SWIN_T, **overrides)


def swinv2_t(**overrides: object) -> SwinTransformer:
    """Swin V2-T (:data:`~swin_tutorial.config.SWINV2_T`), with any field overridden."""
    return SwinTransformer.from_config(SWINV2_T, **overrides)


def swin_nano(**overrides: object) -> SwinTransformer:
    """The laptop-sized two-stage Swin (:data:`~swin_tutorial.config.SWIN_NANO`).

    Chapter 12 trains :data:`~swin_tutorial.config.SWIN_DIGITS`, its variant for
    16x16 digits, with ``SwinTransformer.from_config(SWIN_DIGITS)``.
    """
    return SwinTransformer.from_config(SWIN_NANO, **overrides)


#: What :func:`swin_single_resolution` can build.
SINGLE_RESOLUTION_ATTENTIONS = ("shifted", "window", "global", "neighborhood")


def swin_single_resolution(
    attention: str = "shifted", kernel_size: int = 5, **overrides: object
) -> SwinTransformer:
    """One stage, no patch merging: the model of the shift experiment (chapter 12).

    :data:`~swin_tutorial.config.SWIN_SINGLE_RESOLUTION` with ``overrides``
    (``depths`` and ``num_heads`` must keep one entry each); ``attention`` picks
    the blocks:

    * ``"shifted"``: Swin's alternation of regular and shifted windows;
    * ``"window"``: regular windows only, never shifted;
    * ``"global"``: one window covering the whole token map
      (``img_size // patch_size``), i.e. global attention with a relative
      position bias; inputs larger than ``img_size`` are cut into windows again;
    * ``"neighborhood"``: neighbourhood attention with ``kernel_size`` (odd).
    """
    check_choice("attention", attention, SINGLE_RESOLUTION_ATTENTIONS)
    config = SWIN_SINGLE_RESOLUTION.replace(**overrides)
    if len(config.depths) != 1 or len(config.num_heads) != 1:
        raise ValueError(
            f"a single-resolution model has one stage: depths and num_heads need one entry each, "
            f"got depths={tuple(config.depths)}, num_heads={tuple(config.num_heads)}"
        )
    if attention == "global":
        h, w = to_pair("img_size", config.img_size)
        patch = check_positive_int("patch_size", config.patch_size)
        config = config.replace(window_size=(h // patch, w // patch), attention="window")
    elif attention == "neighborhood":
        config = config.replace(window_size=kernel_size, attention="neighborhood")
    else:
        config = config.replace(attention=attention)
    return SwinTransformer.from_config(config)


def load_timm_state_dict(
    model: SwinTransformer, state_dict: Mapping[str, torch.Tensor]
) -> SwinTransformer:
    """Load a timm Swin state dict (v1 ``swin_tiny_patch4_window7_224`` or v2
    ``swinv2_tiny_window8_256``) into ``model``.

    The keys are the same, so this is ``load_state_dict(strict=True)``; timm
    buffers that some versions save (``relative_position_index``,
    ``relative_coords_table``, ``attn_mask``) are recomputed here and dropped
    from the input. Raises on any missing or unexpected parameter.
    """
    derived = ("relative_position_index", "relative_coords_table", "attn_mask")
    weights = {k: v for k, v in state_dict.items() if not k.endswith(derived)}
    model.load_state_dict(weights, strict=True)
    return model


def timm_to_torchvision_swin(state_dict: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Rename a timm (or this package's) Swin state dict to torchvision's ``SwinTransformer`` keys.

    torchvision keeps every stage in one ``features`` list: ``features.0`` is
    the patch embedding (``0`` the convolution, ``2`` the norm), then patch
    mergings and blocks alternate (the merging before stage ``s`` at
    ``features.2s``, stage ``s``'s blocks at ``features.2s+1``); the MLP's
    layers are ``mlp.0`` and ``mlp.3``; the head is ``head``. Buffers
    torchvision computes itself (``relative_position_index``, ``attn_mask``)
    are dropped.
    """
    renamed = {}
    for key, value in state_dict.items():
        if key.endswith(("relative_position_index", "attn_mask")):
            continue
        renamed[_torchvision_key(key)] = value
    return renamed


def _torchvision_key(key: str) -> str:
    """torchvision's name of one parameter of a timm Swin (see :func:`timm_to_torchvision_swin`)."""
    parts = key.split(".")
    if parts[0] == "patch_embed" and len(parts) == 3 and parts[1] in ("proj", "norm"):
        return f"features.0.{0 if parts[1] == 'proj' else 2}.{parts[2]}"
    if parts[0] == "layers" and len(parts) > 3:
        stage = int(parts[1])
        if parts[2] == "downsample":
            return f"features.{2 * stage}.{'.'.join(parts[3:])}"
        if parts[2] == "blocks" and len(parts) > 4:
            rest = ".".join(parts[4:]).replace("mlp.fc1", "mlp.0").replace("mlp.fc2", "mlp.3")
            return f"features.{2 * stage + 1}.{parts[3]}.{rest}"
    if parts[0] == "head":
        return "head." + parts[-1]
    if parts[0] == "norm":
        return key
    raise ValueError(f"state_dict has a key that is not a Swin parameter: {key!r}")
