"""Suite 2: the window-attention module alone, the package's paths against timm's module."""

from __future__ import annotations

import copy
import functools
import warnings
from collections.abc import Callable, Sequence

import torch
from torch import nn

from .._checks import check_positive_int
from ..attention import WindowAttention
from ..backends import compiled_flex_attention
from ..windows import (
    cyclic_shift,
    reverse_cyclic_shift,
    shifted_window_mask,
    window_partition,
    window_reverse,
)
from .references import attention_reference, window_pairs
from .rows import Row, check_close, dtype_name, skipped_row
from .suite import (
    Measurement,
    TimmFusedAttention,
    check_names,
    flex_skip_reason,
    progress_bar,
    randn,
    random_generator,
    timm_skip_reason,
    variant_names,
)

KERNEL_VARIANTS = ("package/explicit", "package/sdpa", "package/flex", "timm/explicit", "timm/sdpa")
"""``implementation/attention`` names of the modules :func:`run_kernel` compares."""


class FlexWindowAttention:
    """Window attention through FlexAttention: bias as a score modifier, shift mask as a block mask.

    ``mask``: bool ``(nW, N, N)``, ``True`` where a query may attend a key, or
    ``None``. The windows are FlexAttention's batch; window ``b`` uses mask
    ``b mod nW``. The block mask is built once per number of windows.
    """

    def __init__(self, mask: torch.Tensor | None) -> None:
        if mask is not None and (mask.dtype != torch.bool or mask.dim() != 3):
            raise ValueError(
                f"mask must be a bool (nW, N, N) tensor, got {mask.dtype} {tuple(mask.shape)}"
            )
        self.mask = mask
        self._block_masks: dict[tuple, object] = {}

    def block_mask(self, windows: int, N: int, device: torch.device) -> object:
        """The ``BlockMask`` for ``windows`` windows of ``N`` tokens (``None`` without a mask)."""
        from torch.nn.attention.flex_attention import create_block_mask

        key = (windows, N, str(device))
        if key not in self._block_masks:
            self._block_masks[key] = None
            if self.mask is not None:
                nW = self.mask.shape[0]
                if windows % nW:
                    raise ValueError(f"{nW} mask windows must divide windows={windows}")
                mask = self.mask.to(device)

                def mask_mod(b, h, q_idx, kv_idx):
                    return mask[b % nW, q_idx, kv_idx]

                self._block_masks[key] = create_block_mask(
                    mask_mod, windows, None, N, N, device=device
                )
        return self._block_masks[key]

    def __call__(
        self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, bias: torch.Tensor
    ) -> torch.Tensor:
        """``q, k, v``: ``(B * nW, heads, N, d)``; ``bias``: ``(heads, N, N)``. Same shape out."""
        from torch.nn.attention.flex_attention import flex_attention

        windows, _, N, _ = q.shape
        bias = bias.to(q.dtype)

        def score_mod(score, b, h, q_idx, kv_idx):
            return score + bias[h, q_idx, kv_idx]

        block_mask = self.block_mask(windows, N, q.device)
        if q.device.type == "cuda":
            return compiled_flex_attention()(q, k, v, score_mod=score_mod, block_mask=block_mask)
        with warnings.catch_warnings():  # unfused off CUDA, knowingly
            warnings.filterwarnings("ignore", message="flex_attention called without torch.compile")
            return flex_attention(q, k, v, score_mod=score_mod, block_mask=block_mask)


class KernelModules:
    """Window-attention modules with one set of weights: the package's three paths and timm's two.

    Each :meth:`layer` maps the shifted windows ``(B * nW, N, C)`` of a
    ``side x side`` map to the same shape, with the shift mask as its Swin block
    passes it (bool for the package, additive 0 / -100 for timm). Shift 0 means
    no mask. ``seed`` seeds the weights.
    """

    def __init__(
        self,
        dim: int = 96,
        num_heads: int = 3,
        window_size: int = 7,
        shift_size: int = 3,
        side: int = 56,
        seed: int = 0,
        device: torch.device | str = "cpu",
    ) -> None:
        self.dim, self.num_heads, self.side = dim, num_heads, side
        self.window_size, self.shift_size = window_size, shift_size
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            self.fused = WindowAttention(dim, num_heads, window_size, fused=True).eval()
        self.explicit = copy.deepcopy(self.fused)
        self.explicit.fused = False
        self.fused.to(device).requires_grad_(False)
        self.explicit.to(device).requires_grad_(False)
        self.mask = None
        if shift_size:
            self.mask = shifted_window_mask(side, side, window_size, shift_size, device=device)
        self.flex = FlexWindowAttention(self.mask)
        self._timm: dict[bool, nn.Module] = {}

    def timm_module(self, fused: bool) -> nn.Module:
        """timm's ``WindowAttention`` with these weights; ``fused``: as ``TIMM_FUSED_ATTN=2``."""
        if fused not in self._timm:
            from timm.models.swin_transformer import WindowAttention as TimmWindowAttention

            with TimmFusedAttention(fused):
                module = TimmWindowAttention(self.dim, self.num_heads, window_size=self.window_size)
            if module.fused_attn != fused:
                raise RuntimeError(
                    f"timm's fused_attn switch did not take: {module.fused_attn} != {fused}"
                )
            module.load_state_dict(self.fused.state_dict(), strict=True)
            self._timm[fused] = module.eval().to(self.fused.qkv.weight.device).requires_grad_(False)
        return self._timm[fused]

    def layer(self, variant: str) -> Callable[[torch.Tensor], torch.Tensor]:
        """The module ``variant`` (one of :data:`KERNEL_VARIANTS`), its mask bound."""
        if variant not in KERNEL_VARIANTS:
            raise ValueError(f"variant must be one of {KERNEL_VARIANTS}, got variant={variant!r}")
        implementation, attention = variant.split("/")
        if implementation == "timm":
            additive = None
            if self.mask is not None:
                additive = torch.zeros(self.mask.shape, device=self.mask.device)
                additive = additive.masked_fill(~self.mask, -100.0)
            return functools.partial(self.timm_module(attention == "sdpa"), mask=additive)
        if attention == "flex":
            return self._flex_layer
        module = self.fused if attention == "sdpa" else self.explicit
        return functools.partial(module, mask=self.mask)

    def _flex_layer(self, windows: torch.Tensor) -> torch.Tensor:
        module = self.fused
        count, N, C = windows.shape
        q, k, v = module.split_heads(module.qkv(windows))
        out = self.flex(q, k, v, module.relative_position_bias())
        return module.proj(out.transpose(1, 2).reshape(count, N, C))

    def windows_of(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, side, side, C)`` map -> its shifted windows ``(B * nW, N, C)``."""
        M = self.window_size
        return window_partition(cyclic_shift(x, self.shift_size), M).reshape(-1, M * M, self.dim)

    def map_of(self, windows: torch.Tensor) -> torch.Tensor:
        """Inverse of :meth:`windows_of`: ``(B * nW, N, C)`` -> ``(B, side, side, C)``."""
        restored = window_reverse(windows, self.window_size, self.side, self.side)
        return reverse_cyclic_shift(restored, self.shift_size)

    def reference(self, x: torch.Tensor) -> torch.Tensor:
        """fp64 shifted-window attention of ``x`` ``(B, side, side, C)``, from coordinates."""
        B, H, W, C = x.shape
        table = self.fused.relative_position_bias_table
        rule = window_pairs(H, W, self.window_size, self.shift_size, table)
        out = attention_reference(
            x.reshape(B, H * W, C), self.fused.qkv, self.fused.proj, self.num_heads, rule
        )
        return out.reshape(B, H, W, C)


def run_kernel(
    side: int = 56,
    device: torch.device | str = "cpu",
    dtype: torch.dtype = torch.float32,
    batch: int = 1,
    variants: Sequence[str] | None = None,
    dim: int = 96,
    num_heads: int = 3,
    window_size: int = 7,
    shift_size: int = 3,
    flex_on_cpu: bool = False,
    compile: bool = False,
    min_run_time: float = 0.2,
    num_threads: int | None = None,
    memory: bool = True,
    progress: bool = True,
    seed: int = 0,
) -> list[Row]:
    """Time the window-attention module alone on the shifted windows of ``batch`` maps.

    Input ``(batch * nW, M^2, C)``. Each variant (of :data:`KERNEL_VARIANTS`) is
    first checked on a fresh map against the fp64 shifted-window reference.
    Arguments as in :func:`run_scaling`. Returns one row per variant:
    ``benchmark, variant, implementation, attention, compiled, side, window,
    shift, windows, batch, dtype`` and the columns of :func:`measured_row`.
    Used in chapter 11.
    """
    device = torch.device(device)
    dtype_label = dtype_name(dtype)
    batch = check_positive_int("batch", batch)
    check_positive_int("side", side)
    if side % window_size:
        raise ValueError(f"side must be a multiple of window_size={window_size}, got side={side}")
    variants = check_names("variants", variants, KERNEL_VARIANTS)
    modules = KernelModules(dim, num_heads, window_size, shift_size, side, seed, device)
    generator = random_generator(seed + 1)
    x_check = randn(generator, 1, side, side, dim, device=device)
    x_time = randn(generator, batch, side, side, dim, device=device)
    windows_check, windows_time = modules.windows_of(x_check), modules.windows_of(x_time)
    expected = functools.cache(lambda: modules.reference(x_check))
    measure = Measurement(device, dtype, min_run_time, num_threads, memory)
    rows = []
    for name in progress_bar(variant_names(variants, compile), progress, "kernel"):
        base = name.split("+")[0]
        implementation, attention = base.split("/")
        case = {
            "benchmark": "kernel",
            "variant": name,
            "implementation": implementation,
            "attention": attention,
            "compiled": name.endswith("+compile"),
            "side": side,
            "window": window_size,
            "shift": shift_size,
            "windows": batch * (side // window_size) ** 2,
            "batch": batch,
            "dtype": dtype_label,
        }
        reason = timm_skip_reason() if implementation == "timm" else None
        if attention == "flex":
            reason = flex_skip_reason(device, flex_on_cpu)
        if reason:
            rows.append(skipped_row(case, reason))
            continue
        fn = modules.layer(base)
        if case["compiled"]:
            fn = torch.compile(fn)

        def checks(fn=fn):
            return [check_close(modules.map_of(fn(windows_check)), expected(), dtype)]

        rows.append(measure(case, checks, fn, (windows_time,), attention, case["compiled"]))
    return rows
