"""The Swin Transformer, built from the package's windows and window attention.

Module and parameter names follow timm's ``swin_transformer.py`` so that a timm
Swin state dict loads with ``strict=True`` (see :func:`load_timm_state_dict`).
The block pads *before* it rolls (torchvision's order, and the official
detection code's), so tokens that wrap around never meet padding in the wrong
place; timm 1.0.31 rolls first, which leaks across the image border on maps
that are not window multiples (pytorch-image-models issue #2438).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence

import torch
from torch import nn

from ._checks import Pair, check_channels, check_positive_int, check_tensor, to_pair, to_shift_pair
from .attention import CosineWindowAttention, WindowAttention
from .neighborhood import NeighborhoodAttention2D
from .windows import (
    crop_to,
    cyclic_shift,
    pad_to_window_multiple,
    reverse_cyclic_shift,
    shifted_window_mask,
    window_partition,
    window_reverse,
)


class DropPath(nn.Module):
    """Stochastic depth: drop the whole residual branch of a sample with probability ``p``."""

    def __init__(self, p: float = 0.0) -> None:
        super().__init__()
        if not 0.0 <= p < 1.0:
            raise ValueError(f"drop_path must be in [0, 1), got {p!r}")
        self.p = p

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x``: ``(B, ...)``; each sample kept with probability ``1 - p`` and rescaled."""
        if not self.training or self.p == 0.0:
            return x
        keep = 1.0 - self.p
        shape = (x.shape[0],) + (1,) * (x.dim() - 1)
        return x * x.new_empty(shape).bernoulli_(keep) / keep


class Mlp(nn.Module):
    """Two linear layers with GELU between them: ``(..., C) -> (..., C)``."""

    def __init__(self, dim: int, hidden_dim: int, drop: float = 0.0) -> None:
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden_dim)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden_dim, dim)
        self.drop = nn.Dropout(drop)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.drop(self.fc2(self.drop(self.act(self.fc1(x)))))


def effective_window_and_shift(
    H: int, W: int, window_size: Pair, shift_size: Pair
) -> tuple[Pair, Pair]:
    """Window and shift actually used on an ``H x W`` map.

    On an axis where the map is not larger than the window, the window shrinks
    to the map and the shift on that axis is 0 (one window covers the axis, so
    there is nothing to shift across). This is timm's rule.
    """
    window = (min(H, window_size[0]), min(W, window_size[1]))
    shift = (
        0 if H <= window_size[0] else shift_size[0],
        0 if W <= window_size[1] else shift_size[1],
    )
    return window, shift


class SwinBlock(nn.Module):
    """One Swin Transformer block: (shifted) window attention then an MLP, pre-norm.

    Args:
        dim: channels ``C``.
        num_heads: attention heads; must divide ``dim``.
        window_size: ``M`` or ``(wh, ww)``.
        shift_size: ``0`` for a regular block, usually ``M // 2`` for a shifted one.
        mlp_ratio: hidden width of the MLP relative to ``dim``.
        qkv_bias: learn a bias in the Q/K/V projection.
        drop_path: stochastic-depth probability of both residual branches.
        attn_drop, proj_drop: dropout inside attention / after projections.
        fused: use ``F.scaled_dot_product_attention`` inside windows.
    """

    #: pre-norm: the attention branch sees ``norm1(x)`` (Swin V2 attends to ``x`` itself)
    norm_before_attention = True

    def __init__(
        self,
        dim: int,
        num_heads: int,
        window_size: int | Sequence[int] = 7,
        shift_size: int | Sequence[int] = 0,
        mlp_ratio: float = 4.0,
        qkv_bias: bool = True,
        drop_path: float = 0.0,
        attn_drop: float = 0.0,
        proj_drop: float = 0.0,
        fused: bool = True,
    ) -> None:
        super().__init__()
        check_positive_int("dim", dim)
        self.dim = dim
        self.window_size = to_pair("window_size", window_size)
        self.shift_size = to_shift_pair("shift_size", shift_size, self.window_size)
        if mlp_ratio <= 0:
            raise ValueError(f"mlp_ratio must be positive, got {mlp_ratio!r}")
        self.norm1 = nn.LayerNorm(dim)
        self.attn = self._make_attention(num_heads, qkv_bias, attn_drop, proj_drop, fused)
        self.drop_path1 = DropPath(drop_path)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = Mlp(dim, int(dim * mlp_ratio), proj_drop)
        self.drop_path2 = DropPath(drop_path)
        self._masks: dict[tuple, torch.Tensor] = {}

    def _make_attention(
        self, num_heads: int, qkv_bias: bool, attn_drop: float, proj_drop: float, fused: bool
    ) -> nn.Module:
        return WindowAttention(
            self.dim, num_heads, self.window_size, qkv_bias, attn_drop, proj_drop, fused
        )

    def attention_mask(
        self, H: int, W: int, window: Pair, shift: Pair, device: torch.device
    ) -> torch.Tensor | None:
        """Shift mask for a padded ``H x W`` map, built once per size and device.

        Returns ``None`` when there is no shift (every window is whole).
        """
        if shift == (0, 0):
            return None
        key = (H, W, window, shift, device)
        if key not in self._masks:
            self._masks[key] = shifted_window_mask(H, W, window, shift, device=device)
        return self._masks[key]

    def shifted_window_attention(self, x: torch.Tensor) -> torch.Tensor:
        """Pad, roll, attend in windows, unroll, crop: ``(B, H, W, C) -> (B, H, W, C)``.

        ``x`` is the already normalised map. Padding comes first so that the
        mask, built on the padded map, matches the tokens that wrap around.
        """
        B, H, W, C = x.shape
        window, shift = effective_window_and_shift(H, W, self.window_size, self.shift_size)
        x, _ = pad_to_window_multiple(x, window)
        Hp, Wp = x.shape[1], x.shape[2]
        x = cyclic_shift(x, shift)
        windows = window_partition(x, window).reshape(-1, window[0] * window[1], C)
        mask = self.attention_mask(Hp, Wp, window, shift, x.device)
        windows = self.attn(windows, mask=mask, window_size=window)
        x = window_reverse(windows, window, Hp, Wp)
        x = reverse_cyclic_shift(x, shift)
        return crop_to(x, H, W)

    def attention_weights(self, x: torch.Tensor) -> torch.Tensor:
        """The weight every query gives every key in this block, as dense maps.

        ``x`` is the block's *input* ``(B, H, W, C)`` (the block normalises it
        itself, as in :meth:`forward`). The windows are cut exactly as in
        :meth:`shifted_window_attention`; each window's softmax weights are then
        written back at the original token ids, so entry ``[b, h, q, k]`` is the
        weight of key ``k`` for query ``q`` (row-major ids ``i * W + j``) and is
        zero wherever ``k`` is outside ``q``'s window.

        Returns:
            ``(B, heads, H*W, H*W)``; every row sums to 1.
        """
        check_tensor("x", x, 4, "(B, H, W, C)")
        check_channels("x", x, self.dim)
        B, H, W, C = x.shape
        window, shift = effective_window_and_shift(H, W, self.window_size, self.shift_size)
        y = self.norm1(x) if self.norm_before_attention else x
        y, _ = pad_to_window_multiple(y, window)
        Hp, Wp = y.shape[1], y.shape[2]
        windows = window_partition(cyclic_shift(y, shift), window).reshape(
            -1, window[0] * window[1], C
        )
        mask = self.attention_mask(Hp, Wp, window, shift, x.device)
        _, attn = self.attn(windows, mask=mask, return_attention=True, window_size=window)
        # token ids laid out, padded (padding gets id H*W, dropped below), rolled and cut like y
        ids = torch.arange(1, H * W + 1, dtype=torch.float32, device=x.device).reshape(1, H, W, 1)
        ids, _ = pad_to_window_multiple(ids, window)
        ids = window_partition(cyclic_shift(ids, shift), window).reshape(-1, window[0] * window[1])
        ids = (ids.round().long() - 1) % (H * W + 1)  # (nW, N); padding -> H*W
        nW, N = ids.shape
        heads = attn.shape[1]
        attn = attn.reshape(B, nW, heads, N, N).permute(0, 2, 1, 3, 4)  # (B, heads, nW, N, N)
        dense = attn.new_zeros(B, heads, H * W + 1, H * W + 1)
        dense[:, :, ids[:, :, None].expand(nW, N, N), ids[:, None, :].expand(nW, N, N)] = attn
        return dense[:, :, : H * W, : H * W]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x``: ``(B, H, W, C)`` for any ``H, W >= 1``; returns the same shape."""
        check_tensor("x", x, 4, "(B, H, W, C)")
        check_channels("x", x, self.dim)
        x = x + self.drop_path1(self.shifted_window_attention(self.norm1(x)))
        return x + self.drop_path2(self.mlp(self.norm2(x)))

    def extra_repr(self) -> str:
        return f"dim={self.dim}, window_size={self.window_size}, shift_size={self.shift_size}"


class SwinV2Block(SwinBlock):
    """Swin V2 block: cosine window attention and residual *post*-norm.

    ``x + norm1(attention(x))`` then ``x + norm2(mlp(x))``: normalising each
    branch's output, not its input, keeps activations from growing with depth
    (Liu et al., 2022). Same arguments as :class:`SwinBlock`, plus
    ``pretrained_window_size`` for the continuous position bias.
    """

    norm_before_attention = False

    def __init__(
        self,
        dim: int,
        num_heads: int,
        window_size: int | Sequence[int] = 8,
        shift_size: int | Sequence[int] = 0,
        mlp_ratio: float = 4.0,
        qkv_bias: bool = True,
        drop_path: float = 0.0,
        attn_drop: float = 0.0,
        proj_drop: float = 0.0,
        fused: bool = True,
        pretrained_window_size: int | Sequence[int] | None = None,
    ) -> None:
        self.pretrained_window_size = pretrained_window_size
        super().__init__(
            dim,
            num_heads,
            window_size,
            shift_size,
            mlp_ratio,
            qkv_bias,
            drop_path,
            attn_drop,
            proj_drop,
            fused,
        )

    def _make_attention(self, num_heads, qkv_bias, attn_drop, proj_drop, fused):
        return CosineWindowAttention(
            self.dim,
            num_heads,
            self.window_size,
            qkv_bias,
            attn_drop,
            proj_drop,
            fused,
            self.pretrained_window_size,
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x``: ``(B, H, W, C)`` for any ``H, W >= 1``; returns the same shape."""
        check_tensor("x", x, 4, "(B, H, W, C)")
        check_channels("x", x, self.dim)
        x = x + self.drop_path1(self.norm1(self.shifted_window_attention(x)))
        return x + self.drop_path2(self.norm2(self.mlp(x)))


class NeighborhoodBlock(nn.Module):
    """A pre-norm Transformer block whose attention is neighbourhood attention.

    The same residual structure as :class:`SwinBlock` (LN, attention, residual;
    LN, MLP, residual), with :class:`~swin_tutorial.neighborhood.NeighborhoodAttention2D`
    in place of (shifted) window attention: every token attends its own
    ``kernel_size x kernel_size`` neighbours, so no windows and no shift.

    Args:
        dim: channels ``C``.
        num_heads: attention heads; must divide ``dim``.
        kernel_size: odd side ``k`` of each neighbourhood.
        mlp_ratio, qkv_bias, drop_path, proj_drop: as in :class:`SwinBlock`.
    """

    def __init__(
        self,
        dim: int,
        num_heads: int,
        kernel_size: int = 7,
        mlp_ratio: float = 4.0,
        qkv_bias: bool = True,
        drop_path: float = 0.0,
        proj_drop: float = 0.0,
    ) -> None:
        super().__init__()
        self.dim = check_positive_int("dim", dim)
        if mlp_ratio <= 0:
            raise ValueError(f"mlp_ratio must be positive, got {mlp_ratio!r}")
        self.norm1 = nn.LayerNorm(dim)
        self.attn = NeighborhoodAttention2D(dim, num_heads, kernel_size, qkv_bias=qkv_bias)
        self.drop_path1 = DropPath(drop_path)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = Mlp(dim, int(dim * mlp_ratio), proj_drop)
        self.drop_path2 = DropPath(drop_path)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x``: ``(B, H, W, C)`` with ``H, W >= kernel_size``; returns the same shape."""
        check_tensor("x", x, 4, "(B, H, W, C)")
        check_channels("x", x, self.dim)
        x = x + self.drop_path1(self.attn(self.norm1(x)))
        return x + self.drop_path2(self.mlp(self.norm2(x)))

    def extra_repr(self) -> str:
        return f"dim={self.dim}, kernel_size={self.attn.kernel_size}"


#: What the blocks of a stage attend to (see :class:`SwinStage`).
ATTENTIONS = ("shifted", "window", "neighborhood")


class PatchEmbed(nn.Module):
    """Cut images into ``p x p`` patches and embed each: ``(B, C_in, H, W) -> (B, H/p, W/p, D)``."""

    def __init__(self, patch_size: int = 4, in_chans: int = 3, embed_dim: int = 96) -> None:
        super().__init__()
        self.patch_size = check_positive_int("patch_size", patch_size)
        self.in_chans = check_positive_int("in_chans", in_chans)
        self.proj = nn.Conv2d(in_chans, embed_dim, kernel_size=patch_size, stride=patch_size)
        self.norm = nn.LayerNorm(embed_dim)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        check_tensor("images", images, 4, "(B, C_in, H, W)")
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
        return self.norm(self.proj(images).permute(0, 2, 3, 1))


class PatchMerging(nn.Module):
    """Halve the resolution, double the width: ``(B, H, W, C) -> (B, ceil(H/2), ceil(W/2), out_dim)``.

    Each 2x2 neighbourhood is concatenated (in the order of the Swin paper:
    (0,0), (1,0), (0,1), (1,1)), normalised and projected; Swin V2 projects
    first and normalises after (``norm_after=True``). Odd sizes are zero-padded
    at the bottom/right first.
    """

    def __init__(self, dim: int, out_dim: int | None = None, norm_after: bool = False) -> None:
        super().__init__()
        self.dim = check_positive_int("dim", dim)
        self.out_dim = 2 * dim if out_dim is None else check_positive_int("out_dim", out_dim)
        self.norm_after = norm_after
        self.reduction = nn.Linear(4 * dim, self.out_dim, bias=False)
        self.norm = nn.LayerNorm(self.out_dim if norm_after else 4 * dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_tensor("x", x, 4, "(B, H, W, C)")
        check_channels("x", x, self.dim)
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
        if version not in (1, 2):
            raise ValueError(f"version must be 1 or 2, got {version!r}")
        _check_attention(attention, version, window_size)
        window = to_pair("window_size", window_size)
        shift = (window[0] // 2, window[1] // 2) if attention == "shifted" else (0, 0)
        rates = [drop_path] * depth if isinstance(drop_path, float | int) else list(drop_path)
        if len(rates) != depth:
            raise ValueError(f"drop_path must have {depth} rates, got {len(rates)}")
        if downsample:
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
    if attention not in ATTENTIONS:
        raise ValueError(f"attention must be one of {ATTENTIONS}, got {attention!r}")
    if attention != "neighborhood":
        return
    if version != 1:
        raise ValueError(
            f"attention='neighborhood' needs version=1 (pre-norm blocks), got version={version!r}"
        )
    if isinstance(window_size, bool) or not isinstance(window_size, int) or window_size % 2 == 0:
        raise ValueError(
            f"with attention='neighborhood', window_size is the neighbourhood side and must be "
            f"an odd int, got {window_size!r}"
        )


class ClassifierHead(nn.Module):
    """Average over the map, then a linear classifier: ``(B, H, W, C) -> (B, classes)``."""

    def __init__(self, dim: int, num_classes: int, drop: float = 0.0) -> None:
        super().__init__()
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
        self.attention = attention
        if len(depths) != len(num_heads) or not depths:
            raise ValueError(
                f"depths and num_heads must be non-empty and of equal length, "
                f"got depths={tuple(depths)}, num_heads={tuple(num_heads)}"
            )
        self.num_classes = num_classes
        self.patch_embed = PatchEmbed(patch_size, in_chans, embed_dim)
        dims = [embed_dim * 2**i for i in range(len(depths))]
        rates = torch.linspace(0, drop_path_rate, sum(depths)).tolist()
        stages, start = [], 0
        for i, (depth, heads) in enumerate(zip(depths, num_heads)):
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
            if isinstance(init_std, bool) or not isinstance(init_std, int | float) or init_std <= 0:
                raise ValueError(f"init_std must be a positive number or None, got {init_std!r}")
            self.apply(functools.partial(_init_weights, std=init_std))
        if version == 2:
            self.apply(_init_post_norm)

    def forward_features(self, images: torch.Tensor) -> torch.Tensor:
        """``(B, C_in, H, W) -> (B, H / (p 2^(S-1)), W / (p 2^(S-1)), C_last)``, normalised."""
        return self.norm(self.layers(self.patch_embed(images)))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """``(B, C_in, H, W) -> (B, num_classes)`` logits."""
        return self.head(self.forward_features(images))


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
    """Swin-T: 96 channels, depths (2, 2, 6, 2), heads (3, 6, 12, 24), window 7, 224x224."""
    config: dict = dict(embed_dim=96, depths=(2, 2, 6, 2), num_heads=(3, 6, 12, 24), window_size=7)
    config.update(overrides)
    return SwinTransformer(**config)


def swinv2_t(**overrides: object) -> SwinTransformer:
    """Swin V2-T: as Swin-T but 256x256 images, window 8, V2 blocks (timm's ``swinv2_tiny_window8_256``)."""
    config: dict = dict(
        img_size=256,
        embed_dim=96,
        depths=(2, 2, 6, 2),
        num_heads=(3, 6, 12, 24),
        window_size=8,
        drop_path_rate=0.2,
        version=2,
    )
    config.update(overrides)
    return SwinTransformer(**config)


def swin_nano(**overrides: object) -> SwinTransformer:
    """A two-stage Swin small enough to run, and train, on a laptop CPU.

    Defaults: 32x32 single-channel images (digits resized), patches of 2 (a
    16x16 token map), window 4 (so stage 1 has 16 windows and shifting
    matters), two stages of 2 blocks with 32 and 64 channels, 10 classes.
    Chapter 12 trains it on the digits in seconds with the overrides
    ``swin_tutorial.train.DIGITS_NANO`` (16x16 images, patches of 4, window 2).
    """
    config: dict = dict(
        img_size=32,
        patch_size=2,
        in_chans=1,
        num_classes=10,
        embed_dim=32,
        depths=(2, 2),
        num_heads=(2, 4),
        window_size=4,
        drop_path_rate=0.0,
    )
    config.update(overrides)
    return SwinTransformer(**config)


def swin_single_resolution(
    attention: str = "shifted", kernel_size: int = 5, **overrides: object
) -> SwinTransformer:
    """One stage, no patch merging: the model of the shift experiment (chapter 12).

    Patch embedding, ``depth`` blocks at one resolution, a final layer norm,
    mean pooling and a *linear* head. Defaults: 16x16 single-channel images,
    patches of 2 (an 8x8 token map), window 4 (four windows), 2 blocks (one
    regular, one shifted in Swin's alternation) of 16 channels, 2 heads and an
    MLP ratio of 2, 2 classes, PyTorch's fan-in initialisation (``init_std=None``,
    which this narrow model needs to start learning quickly). ``attention``
    picks the blocks:

    * ``"shifted"``: Swin's alternation of regular and shifted windows;
    * ``"window"``: regular windows only, never shifted;
    * ``"global"``: window attention whose window is the whole token map
      (``img_size // patch_size``), i.e. global attention with a relative
      position bias; inputs larger than ``img_size`` are cut into windows again;
    * ``"neighborhood"``: neighbourhood attention with ``kernel_size`` (odd).

    Any :class:`SwinTransformer` argument can be overridden, except that
    ``depths`` and ``num_heads`` must have one entry each.
    """
    variants = ("shifted", "window", "global", "neighborhood")
    if attention not in variants:
        raise ValueError(f"attention must be one of {variants}, got {attention!r}")
    config: dict = dict(
        img_size=16,
        patch_size=2,
        in_chans=1,
        num_classes=2,
        embed_dim=16,
        depths=(2,),
        num_heads=(2,),
        window_size=4,
        mlp_ratio=2.0,
        drop_path_rate=0.0,
        init_std=None,
    )
    config.update(overrides)
    if len(config["depths"]) != 1 or len(config["num_heads"]) != 1:
        raise ValueError(
            f"a single-resolution model has one stage: depths and num_heads need one entry each, "
            f"got depths={tuple(config['depths'])}, num_heads={tuple(config['num_heads'])}"
        )
    if attention == "global":
        h, w = to_pair("img_size", config["img_size"])
        patch = check_positive_int("patch_size", config["patch_size"])
        config["window_size"] = (h // patch, w // patch)
        attention = "window"
    elif attention == "neighborhood":
        config["window_size"] = kernel_size
    return SwinTransformer(attention=attention, **config)


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
