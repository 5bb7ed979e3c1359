"""Window attention: multi-head self-attention inside each window.

Two modules share one forward: :class:`WindowAttention` (Swin v1, scaled dot
products and a learned bias table) and :class:`CosineWindowAttention` (Swin v2,
scaled cosine similarity and a bias computed by a small network from log-spaced
offsets). Two paths compute the same thing:

* the explicit path writes out ``softmax(Q K^T * scale + bias + mask) V`` and
  can return the attention weights (for teaching and for plots);
* the fused path hands the same scores to
  :func:`torch.nn.functional.scaled_dot_product_attention` (for speed).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from ._checks import (
    check_bool,
    check_heads,
    check_positive_int,
    check_qkv,
    check_real,
    to_pair,
)
from .position import (
    bias_table_size,
    gather_relative_position_bias,
    log_spaced_coordinates,
    relative_position_index,
)


def window_attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    bias: torch.Tensor | None = None,
    mask: torch.Tensor | None = None,
    dropout_p: float = 0.0,
    fused: bool = True,
    scale: float | None = None,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Scaled dot-product attention inside windows, functional core.

    Args:
        q, k, v: ``(B * nW, heads, N, d)``; scores are scaled by ``scale``
            (default ``d ** -0.5``).
        bias: ``(heads, N, N)`` added to every window's scores (relative position bias).
        mask: bool ``(nW, N, N)``, ``True`` where a query may attend a key; the
            same pattern is reused for every image of the batch.
        dropout_p: dropout on the attention weights.
        fused: use ``F.scaled_dot_product_attention`` (weights not returned).
        scale: factor applied to ``q k^T``; Swin V2 passes 1 (its queries carry
            the temperature already).

    Returns:
        ``(out, attn)``: ``out`` is ``(B * nW, heads, N, d)``; ``attn`` is the
        ``(B * nW, heads, N, N)`` weights on the explicit path, ``None`` on the fused one.
    """
    _check_inputs(q, k, v, bias, mask)
    dropout_p = check_real("dropout_p", dropout_p, 0.0, 1.0, high_open=True)
    check_bool("fused", fused)
    windows, heads, N, _ = q.shape
    scale = q.shape[-1] ** -0.5 if scale is None else check_real("scale", scale)
    additive = _additive_scores(windows, heads, N, bias, mask, q.dtype, q.device)
    if fused:
        out = F.scaled_dot_product_attention(
            q, k, v, attn_mask=additive, dropout_p=dropout_p, scale=scale
        )
        return out, None
    scores = (q * scale) @ k.transpose(-2, -1)
    if additive is not None:
        scores = scores + additive
    attn = scores.softmax(dim=-1)
    out = F.dropout(attn, dropout_p, training=dropout_p > 0) @ v
    return out, attn


def _check_inputs(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    bias: torch.Tensor | None,
    mask: torch.Tensor | None,
) -> None:
    """The door of :func:`window_attention`: ranks and shapes of its tensors."""
    check_qkv(q, k, v, 4, "(B*nW, heads, N, d)", value_dim_free=True)
    windows, heads, N, _ = q.shape
    if bias is not None and (
        not isinstance(bias, torch.Tensor) or tuple(bias.shape) != (heads, N, N)
    ):
        got = tuple(bias.shape) if isinstance(bias, torch.Tensor) else type(bias).__name__
        raise ValueError(f"bias must have shape (heads, N, N) = {(heads, N, N)}, got {got}")
    if mask is not None and (
        not isinstance(mask, torch.Tensor)
        or mask.dtype != torch.bool
        or mask.dim() != 3
        or mask.shape[1:] != (N, N)
        or mask.shape[0] == 0
        or windows % mask.shape[0]
    ):
        got = (
            f"{mask.dtype} {tuple(mask.shape)}"
            if isinstance(mask, torch.Tensor)
            else type(mask).__name__
        )
        raise ValueError(
            f"mask must be bool (nW, {N}, {N}) with nW dividing {windows} windows, got {got}"
        )


def _additive_scores(
    windows: int,
    heads: int,
    N: int,
    bias: torch.Tensor | None,
    mask: torch.Tensor | None,
    dtype: torch.dtype,
    device: torch.device,
) -> torch.Tensor | None:
    """Bias and mask folded into one term added to the scores.

    Returns ``None`` (nothing to add), ``(1, heads, N, N)`` (bias only) or
    ``(B * nW, heads, N, N)``; masked pairs get ``-inf`` so their weight is exactly 0.
    """
    if mask is None:
        return None if bias is None else bias.to(dtype).unsqueeze(0)
    nW = mask.shape[0]
    blocked = torch.zeros(mask.shape, dtype=dtype, device=device)
    blocked = blocked.masked_fill(~mask.to(device), float("-inf"))  # (nW, N, N)
    additive = blocked.unsqueeze(1)  # (nW, 1, N, N)
    if bias is not None:
        additive = additive + bias.to(dtype).unsqueeze(0)  # (nW, heads, N, N)
    additive = additive.expand(windows // nW, nW, heads, N, N)
    return additive.reshape(windows, heads, N, N)


class _WindowSelfAttention(nn.Module):
    """What every window attention shares: heads, projections, masking, the two paths.

    Subclasses say how queries, keys and values are projected and compared
    (:meth:`_queries_keys_values`) and where the position bias comes from
    (:meth:`relative_position_bias`).
    """

    def __init__(
        self,
        dim: int,
        num_heads: int,
        window_size: int | Sequence[int],
        attn_drop: float,
        proj_drop: float,
        fused: bool,
    ) -> None:
        super().__init__()
        check_heads(dim, num_heads)
        check_real("proj_drop", proj_drop, 0.0, 1.0, high_open=True)
        self.dim = dim
        self.num_heads = num_heads
        self.head_dim = dim // num_heads
        self.window_size = to_pair("window_size", window_size)
        self.fused = check_bool("fused", fused)
        self.attn_drop = check_real("attn_drop", attn_drop, 0.0, 1.0, high_open=True)
        self.proj = nn.Linear(dim, dim)
        self.proj_drop = nn.Dropout(proj_drop)
        self.register_buffer(
            "relative_position_index", relative_position_index(self.window_size), persistent=False
        )

    def _index(self, window_size: Sequence[int] | None) -> torch.Tensor:
        """Table rows read by each (query, key) pair of a window of ``window_size``."""
        if window_size is None or tuple(window_size) == self.window_size:
            return self.relative_position_index
        return relative_position_index(
            window_size, self.window_size, device=self.relative_position_index.device
        )

    def relative_position_bias(self, window_size: Sequence[int] | None = None) -> torch.Tensor:
        """Bias of every (query, key) pair: ``(heads, N, N)``."""
        raise NotImplementedError

    def _queries_keys_values(
        self, x: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, float | None]:
        """``(B*nW, N, C)`` -> ``q, k, v`` each ``(B*nW, heads, N, d)`` and the score scale."""
        raise NotImplementedError

    def split_heads(self, qkv: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(B*nW, N, 3C)`` -> three ``(B*nW, heads, N, d)`` (reshape *and* permute)."""
        windows, N, _ = qkv.shape
        qkv = qkv.reshape(windows, N, 3, self.num_heads, self.head_dim)
        q, k, v = qkv.permute(2, 0, 3, 1, 4).unbind(0)
        return q, k, v

    def forward(
        self,
        x: torch.Tensor,
        mask: torch.Tensor | None = None,
        return_attention: bool = False,
        window_size: Sequence[int] | None = None,
    ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        """Attend within each window.

        Args:
            x: ``(B * nW, N, C)`` tokens of each window, row-major.
            mask: bool ``(nW, N, N)``, ``True`` where a query may attend a key.
            return_attention: also return the weights ``(B * nW, heads, N, N)``
                (computed on the explicit path whatever ``fused`` says).
            window_size: ``(wh, ww)`` of these windows, if not the module's
                (:class:`WindowAttention`: not larger than the module's window).

        Returns:
            ``(B * nW, N, C)``, or ``(out, attn)`` with ``return_attention``.
        """
        windows, N, C = x.shape
        wh, ww = self.window_size if window_size is None else to_pair("window_size", window_size)
        q, k, v, scale = self._queries_keys_values(x)
        out, attn = window_attention(
            q,
            k,
            v,
            bias=self.relative_position_bias((wh, ww)),
            mask=mask,
            dropout_p=self.attn_drop if self.training else 0.0,
            fused=self.fused and not return_attention,
            scale=scale,
        )
        out = self.proj_drop(self.proj(out.transpose(1, 2).reshape(windows, N, C)))
        return (out, attn) if return_attention else out

    def extra_repr(self) -> str:
        return (
            f"dim={self.dim}, num_heads={self.num_heads}, window_size={self.window_size}, "
            f"fused={self.fused}"
        )


class WindowAttention(_WindowSelfAttention):
    """Multi-head self-attention within windows, with Swin's relative position bias.

    Parameter names follow timm's Swin (``qkv``, ``proj``,
    ``relative_position_bias_table``) so its weights load unchanged.

    Args:
        dim: channels ``C``.
        num_heads: heads ``h``; must divide ``dim``.
        window_size: ``M`` or ``(wh, ww)``: the window the bias table is made for.
        qkv_bias: learn a bias in the Q/K/V projection.
        attn_drop: dropout on attention weights.
        proj_drop: dropout after the output projection.
        fused: use ``F.scaled_dot_product_attention``; ``False`` writes softmax out.
    """

    def __init__(
        self,
        dim: int,
        num_heads: int,
        window_size: int | Sequence[int],
        qkv_bias: bool = True,
        attn_drop: float = 0.0,
        proj_drop: float = 0.0,
        fused: bool = True,
    ) -> None:
        super().__init__(dim, num_heads, window_size, attn_drop, proj_drop, fused)
        check_bool("qkv_bias", qkv_bias)
        self.scale = self.head_dim**-0.5
        self.qkv = nn.Linear(dim, 3 * dim, bias=qkv_bias)
        self.relative_position_bias_table = nn.Parameter(
            torch.zeros(bias_table_size(self.window_size), num_heads)
        )
        nn.init.trunc_normal_(self.relative_position_bias_table, std=0.02)

    def relative_position_bias(self, window_size: Sequence[int] | None = None) -> torch.Tensor:
        """Bias of every (query, key) pair: ``(heads, N, N)``.

        ``window_size`` may be smaller than the module's window (a feature map
        smaller than the window); its bias is the central part of the same table.
        """
        return gather_relative_position_bias(
            self.relative_position_bias_table, self._index(window_size)
        )

    def _queries_keys_values(self, x):
        return (*self.split_heads(self.qkv(x)), self.scale)


class CosineWindowAttention(_WindowSelfAttention):
    """Swin V2's window attention: scaled cosine similarity and a continuous position bias.

    Scores are ``cos(q, k) * tau + 16 * sigmoid(mlp(log-spaced offset))`` with a
    learned per-head temperature ``tau = exp(logit_scale)`` capped at 100.
    Parameter names follow timm's ``swin_transformer_v2.py`` (``qkv`` without
    bias, ``q_bias``, ``v_bias``, ``logit_scale``, ``cpb_mlp``, ``proj``).

    Args:
        dim, num_heads, window_size, attn_drop, proj_drop, fused: as in
            :class:`WindowAttention`.
        qkv_bias: learn biases for queries and values; keys get none, as in
            the official code and timm (with dot products a key bias would
            cancel in the softmax; with cosine similarity it would not).
        pretrained_window_size: window whose offsets the bias network was trained
            on; offsets of every window are normalised by it. ``None`` (the
            default, timm's ``0``): each window's offsets are normalised by that
            window itself.
        cpb_hidden: width of the bias network's hidden layer.
    """

    max_logit_scale = math.log(100.0)

    def __init__(
        self,
        dim: int,
        num_heads: int,
        window_size: int | Sequence[int],
        qkv_bias: bool = True,
        attn_drop: float = 0.0,
        proj_drop: float = 0.0,
        fused: bool = True,
        pretrained_window_size: int | Sequence[int] | None = None,
        cpb_hidden: int = 512,
    ) -> None:
        super().__init__(dim, num_heads, window_size, attn_drop, proj_drop, fused)
        check_bool("qkv_bias", qkv_bias)
        check_positive_int("cpb_hidden", cpb_hidden)
        self.pretrained_window_size = (
            None
            if pretrained_window_size is None
            else to_pair("pretrained_window_size", pretrained_window_size)
        )
        self.logit_scale = nn.Parameter(torch.full((num_heads, 1, 1), math.log(10.0)))
        self.cpb_mlp = nn.Sequential(
            nn.Linear(2, cpb_hidden),
            nn.ReLU(inplace=True),
            nn.Linear(cpb_hidden, num_heads, bias=False),
        )
        self.qkv = nn.Linear(dim, 3 * dim, bias=False)
        self.q_bias = nn.Parameter(torch.zeros(dim)) if qkv_bias else None
        self.v_bias = nn.Parameter(torch.zeros(dim)) if qkv_bias else None

    def relative_position_bias(self, window_size: Sequence[int] | None = None) -> torch.Tensor:
        """Bias of every (query, key) pair from the bias network: ``(heads, N, N)``, in (0, 16).

        The network is evaluated at the ``(2wh - 1)(2ww - 1)`` offsets of
        ``window_size`` (default: the module's window), which may be smaller
        *or larger* than the module's window; offsets are normalised by
        ``pretrained_window_size`` if one was given, else by ``window_size``.
        """
        window = self.window_size if window_size is None else to_pair("window_size", window_size)
        normalizer = window if self.pretrained_window_size is None else self.pretrained_window_size
        device = self.logit_scale.device
        offsets = log_spaced_coordinates(window, normalizer, device=device).to(
            self.logit_scale.dtype
        )
        table = self.cpb_mlp(offsets)  # (T, heads), one row per offset of this window
        if window == self.window_size:
            index = self.relative_position_index
        else:
            index = relative_position_index(window, device=device)
        return 16 * torch.sigmoid(gather_relative_position_bias(table, index))

    def _queries_keys_values(self, x):
        bias = None
        if self.q_bias is not None:
            bias = torch.cat((self.q_bias, torch.zeros_like(self.q_bias), self.v_bias))
        q, k, v = self.split_heads(F.linear(x, self.qkv.weight, bias))
        temperature = self.logit_scale.clamp(max=self.max_logit_scale).exp()  # (heads, 1, 1)
        return F.normalize(q, dim=-1) * temperature, F.normalize(k, dim=-1), v, 1.0
