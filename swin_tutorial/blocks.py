"""Transformer blocks: Swin's (shifted) window block, its V2 variant, a neighbourhood block.

Parameter names follow timm's ``SwinTransformerBlock`` so that its weights load
unchanged. The Swin block pads *before* it rolls (torchvision's order, and the
official detection code's), so the tokens that wrap around never meet padding
in the wrong place (chapter 7). Constructors check their arguments; ``forward``
checks nothing (the model checks its images once, at the door).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from ._checks import check_channels, check_positive_int, check_real, to_pair, to_shift_pair
from .attention import CosineWindowAttention, WindowAttention
from .neighborhood import NeighborhoodAttention2D
from .windows import (
    WindowLayout,
    check_map,
    effective_window_and_shift,
    map_to_windows,
    shifted_window_mask,
    window_token_ids,
    windows_to_map,
)


def check_probability(name: str, p: object) -> float:
    """Return ``p`` if it is a probability of dropping, ``0 <= p < 1``, else raise."""
    return check_real(name, p, 0.0, 1.0, high_open=True)


def check_probabilities(**probabilities: object) -> None:
    """Check every keyword argument with :func:`check_probability`, in order."""
    for name, p in probabilities.items():
        check_probability(name, p)


class DropPath(nn.Module):
    """Stochastic depth: drop a sample's whole residual branch with probability ``p``.

    Used in chapter 6.
    """

    def __init__(self, p: float = 0.0) -> None:
        super().__init__()
        self.p = check_probability("p", p)

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
        check_positive_int("dim", dim)
        check_positive_int("hidden_dim", hidden_dim)
        check_probability("drop", drop)
        self.fc1 = nn.Linear(dim, hidden_dim)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden_dim, dim)
        self.drop = nn.Dropout(drop)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.drop(self.fc2(self.drop(self.act(self.fc1(x)))))


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
        self.dim = check_positive_int("dim", dim)
        self.window_size = to_pair("window_size", window_size)
        self.shift_size = to_shift_pair("shift_size", shift_size, self.window_size)
        check_real("mlp_ratio", mlp_ratio, 0.0, low_open=True)
        check_probabilities(drop_path=drop_path, attn_drop=attn_drop, proj_drop=proj_drop)
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

    def attention_mask(self, layout: WindowLayout, device: torch.device) -> torch.Tensor | None:
        """Shift mask ``(nW, N, N)`` of ``layout``'s windows, built once per layout and device.

        Returns ``None`` when there is no shift (every window is whole).
        """
        if layout.shift_size == (0, 0):
            return None
        key = (layout.padded_size, layout.window_size, layout.shift_size, device)
        if key not in self._masks:
            self._masks[key] = shifted_window_mask(
                *layout.padded_size, layout.window_size, layout.shift_size, device=device
            )
        return self._masks[key]

    def attend_in_windows(
        self, x: torch.Tensor, return_attention: bool = False
    ) -> tuple[torch.Tensor, WindowLayout, torch.Tensor | None]:
        """Cut the normalised map ``(B, H, W, C)`` into (shifted) windows and attend in each.

        Returns the output windows ``(B * nW, N, C)``, their layout, and the
        weights ``(B * nW, heads, N, N)`` with ``return_attention`` (else ``None``).
        """
        window, shift = effective_window_and_shift(
            x.shape[1], x.shape[2], self.window_size, self.shift_size
        )
        windows, layout = map_to_windows(x, window, shift)  # pad, roll, partition
        mask = self.attention_mask(layout, x.device)
        if return_attention:
            windows, attn = self.attn(windows, mask, return_attention=True, window_size=window)
            return windows, layout, attn
        return self.attn(windows, mask, window_size=window), layout, None

    def shifted_window_attention(self, x: torch.Tensor) -> torch.Tensor:
        """Pad, roll, attend in windows, unroll, crop: ``(B, H, W, C) -> (B, H, W, C)``.

        ``x`` is the already normalised map.
        """
        windows, layout, _ = self.attend_in_windows(x)
        return windows_to_map(windows, layout)

    def attention_weights(self, x: torch.Tensor) -> torch.Tensor:
        """The weight every query gives every key in this block, as dense maps.

        ``x`` is the block's *input* ``(B, H, W, C)`` (normalised here as in
        :meth:`forward`). Entry ``[b, h, q, k]`` is the weight of key ``k`` for
        query ``q`` (row-major ids ``i * W + j``), zero where ``k`` is outside
        ``q``'s window.

        Returns:
            ``(B, heads, H*W, H*W)``; every row sums to 1.
        """
        check_map("x", x)
        check_channels("x", x, self.dim)
        B, H, W, _ = x.shape
        y = self.norm1(x) if self.norm_before_attention else x
        _, layout, attn = self.attend_in_windows(y, return_attention=True)
        ids = window_token_ids(layout, x.device)  # (nW, N); padding has id H*W
        nW, N = ids.shape
        heads = attn.shape[1]
        attn = attn.reshape(B, nW, heads, N, N).permute(0, 2, 1, 3, 4)  # (B, heads, nW, N, N)
        dense = attn.new_zeros(B, heads, H * W + 1, H * W + 1)
        dense[:, :, ids[:, :, None].expand(nW, N, N), ids[:, None, :].expand(nW, N, N)] = attn
        return dense[:, :, : H * W, : H * W]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, H, W, C) -> (B, H, W, C)`` for any ``H, W >= 1``."""
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
        """``(B, H, W, C) -> (B, H, W, C)`` for any ``H, W >= 1``."""
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
        check_real("mlp_ratio", mlp_ratio, 0.0, low_open=True)
        check_probabilities(drop_path=drop_path, proj_drop=proj_drop)
        self.norm1 = nn.LayerNorm(dim)
        self.attn = NeighborhoodAttention2D(dim, num_heads, kernel_size, qkv_bias=qkv_bias)
        self.drop_path1 = DropPath(drop_path)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = Mlp(dim, int(dim * mlp_ratio), proj_drop)
        self.drop_path2 = DropPath(drop_path)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, H, W, C) -> (B, H, W, C)`` with ``H, W >= kernel_size``."""
        x = x + self.drop_path1(self.attn(self.norm1(x)))
        return x + self.drop_path2(self.mlp(self.norm2(x)))

    def extra_repr(self) -> str:
        return f"dim={self.dim}, kernel_size={self.attn.kernel_size}"
