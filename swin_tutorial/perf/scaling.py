"""Suite 1: time and peak memory of global, window and neighborhood attention against map size."""

from __future__ import annotations

import copy
import functools
from collections.abc import Callable, Sequence

import torch
from torch import nn

from .._checks import check_positive_int
from ..attention import WindowAttention, window_attention
from ..complexity import attention_flops
from ..neighborhood import NeighborhoodAttention2D
from ..windows import window_partition, window_reverse
from .references import attention_reference, global_pairs, neighborhood_pairs, window_pairs
from .rows import Row, check_close, dtype_name, skipped_row
from .suite import (
    Measurement,
    check_names,
    flex_skip_reason,
    progress_bar,
    randn,
    random_generator,
    variant_names,
)

SCALING_VARIANTS = (
    "global/explicit",
    "global/sdpa",
    "window/explicit",
    "window/sdpa",
    "neighborhood/dense",
    "neighborhood/flex",
)
"""``scheme/backend`` names of the layers :func:`run_scaling` compares."""


class ScalingLayers:
    """The attention layers of the scaling suite, one set of projection weights for all.

    Each maps ``(B, H, W, C)`` to ``(B, H, W, C)``. Schemes: ``global`` (all
    tokens), ``window`` (the query's ``M x M`` window, :class:`WindowAttention`),
    ``neighborhood`` (its ``k x k`` neighbours, :class:`NeighborhoodAttention2D`).
    Backends: ``explicit`` (softmax written out), ``sdpa``, ``dense`` (SDPA with
    an ``HW x HW`` mask), ``flex`` (FlexAttention). ``seed`` seeds the weights
    without touching the caller's random state. Used in chapter 11.
    """

    def __init__(
        self,
        dim: int = 96,
        num_heads: int = 3,
        window_size: int = 7,
        kernel_size: int = 7,
        seed: int = 0,
        device: torch.device | str = "cpu",
    ) -> None:
        self.dim, self.num_heads = dim, num_heads
        self.window_size = check_positive_int("window_size", window_size)
        self.kernel_size = check_positive_int("kernel_size", kernel_size)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            self.window = WindowAttention(dim, num_heads, window_size, fused=True).eval()
            self.neighborhood = {
                backend: NeighborhoodAttention2D(
                    dim, num_heads, kernel_size, backend=backend
                ).eval()
                for backend in ("dense", "flex")
            }
        self.window_explicit = copy.deepcopy(self.window)
        self.window_explicit.fused = False
        shared = {
            f"{name}.{part}": getattr(getattr(self.window, name), part)
            for name in ("qkv", "proj")
            for part in ("weight", "bias")
        }
        for module in self.neighborhood.values():
            module.load_state_dict({**self.neighborhood["dense"].state_dict(), **shared})
        for module in (self.window, self.window_explicit, *self.neighborhood.values()):
            module.to(device).requires_grad_(False)

    def layer(self, variant: str) -> Callable[[torch.Tensor], torch.Tensor]:
        """The layer ``variant`` (of :data:`SCALING_VARIANTS`): ``(B, H, W, C) -> (B, H, W, C)``."""
        if variant not in SCALING_VARIANTS:
            raise ValueError(f"variant must be one of {SCALING_VARIANTS}, got variant={variant!r}")
        scheme, backend = variant.split("/")
        if scheme == "global":
            return functools.partial(self._global, fused=backend == "sdpa")
        if scheme == "window":
            module = self.window if backend == "sdpa" else self.window_explicit
            return functools.partial(self._windowed, module=module)
        return self.neighborhood[backend]

    def _global(self, x: torch.Tensor, fused: bool) -> torch.Tensor:
        B, H, W, C = x.shape
        q, k, v = self.window.split_heads(self.window.qkv(x.reshape(B, H * W, C)))
        out, _ = window_attention(q, k, v, fused=fused)  # one "window": the whole map, no bias
        return self.window.proj(out.transpose(1, 2).reshape(B, H, W, C))

    def _windowed(self, x: torch.Tensor, module: nn.Module) -> torch.Tensor:
        B, H, W, C = x.shape
        M = self.window_size
        windows = window_partition(x, M).reshape(-1, M * M, C)  # (B * nW, M*M, C)
        return window_reverse(module(windows), M, H, W)

    def reference(self, variant: str, x: torch.Tensor) -> torch.Tensor:
        """fp64 result of ``variant``'s scheme on ``x`` ``(B, H, W, C)``, from coordinates."""
        scheme = variant.split("/")[0]
        B, H, W, C = x.shape
        if scheme == "global":
            rule = global_pairs()
        elif scheme == "window":
            rule = window_pairs(H, W, self.window_size, 0, self.window.relative_position_bias_table)
        else:
            rule = neighborhood_pairs(H, W, self.kernel_size, self.neighborhood["dense"].rpb)
        out = attention_reference(
            x.reshape(B, H * W, C), self.window.qkv, self.window.proj, self.num_heads, rule
        )
        return out.reshape(B, H, W, C)

    def macs(self, variant: str, side: int) -> int:
        """Multiply-adds by the Swin paper's formula; neighborhood attention as a window of k."""
        scheme = variant.split("/")[0]
        if scheme == "global":
            return attention_flops(side, side, self.dim)
        if scheme == "window":
            return attention_flops(side, side, self.dim, self.window_size)
        tokens = side * side
        return 4 * tokens * self.dim**2 + 2 * self.kernel_size**2 * tokens * self.dim


def _check_sides(sides: Sequence[int], window_size: int, kernel_size: int) -> None:
    if isinstance(sides, int) or not sides:
        raise ValueError(f"sides must be a non-empty sequence of ints, got sides={sides!r}")
    for side in sides:
        check_positive_int("side", side)
        if side % window_size or side < kernel_size:
            raise ValueError(
                f"every side must be a multiple of window_size={window_size} and at least "
                f"kernel_size={kernel_size}, got side={side}"
            )


def run_scaling(
    sides: Sequence[int],
    device: torch.device | str = "cpu",
    dtype: torch.dtype = torch.float32,
    batch: int = 1,
    variants: Sequence[str] | None = None,
    dim: int = 96,
    num_heads: int = 3,
    window_size: int = 7,
    kernel_size: int = 7,
    flex_on_cpu: bool = False,
    compile: bool = False,
    min_run_time: float = 0.2,
    num_threads: int | None = None,
    memory: bool = True,
    progress: bool = True,
    seed: int = 0,
) -> list[Row]:
    """Time and peak memory of each attention scheme on square maps of the given sides.

    At every side each variant (of :data:`SCALING_VARIANTS`) is first checked
    against its scheme's fp64 reference on a fresh map, and refused if it fails;
    one that runs out of memory is skipped there and at every larger side.
    ``compile`` adds ``"+compile"`` rows; ``flex_on_cpu`` runs FlexAttention
    unfused off CUDA. Returns one row per (side, variant): ``benchmark, variant,
    scheme, backend, compiled, side, tokens, batch, dtype, macs`` and the columns
    of :func:`measured_row`. Used in chapter 11.
    """
    device = torch.device(device)
    dtype_label = dtype_name(dtype)
    batch = check_positive_int("batch", batch)
    variants = check_names("variants", variants, SCALING_VARIANTS)
    _check_sides(sides, window_size, kernel_size)
    layers = ScalingLayers(dim, num_heads, window_size, kernel_size, seed, device)
    functions = {}
    for name in variant_names(variants, compile):
        fn = layers.layer(name.split("+")[0])
        functions[name] = torch.compile(fn) if name.endswith("+compile") else fn
    skip = {v: flex_skip_reason(device, flex_on_cpu) for v in functions if "/flex" in v}
    generator = random_generator(seed + 1)
    measure = Measurement(device, dtype, min_run_time, num_threads, memory)
    rows = []
    references: dict[str, torch.Tensor] = {}
    last_side = None
    cases = [(side, variant) for side in sides for variant in functions]
    for side, variant in progress_bar(cases, progress, "scaling"):
        if side != last_side:
            x_check = randn(generator, 1, side, side, dim, device=device)
            x_time = randn(generator, batch, side, side, dim, device=device)
            references.clear()
            last_side = side
        base = variant.split("+")[0]
        scheme, backend = base.split("/")
        case = {
            "benchmark": "scaling",
            "variant": variant,
            "scheme": scheme,
            "backend": backend,
            "compiled": variant.endswith("+compile"),
            "side": side,
            "tokens": side * side,
            "batch": batch,
            "dtype": dtype_label,
            "macs": layers.macs(base, side) * batch,
        }
        if skip.get(variant):
            rows.append(skipped_row(case, skip[variant]))
            continue

        def checks(fn=functions[variant], scheme=scheme, x_check=x_check):
            if scheme not in references:
                references[scheme] = layers.reference(scheme, x_check)
            return [check_close(fn(x_check), references[scheme], dtype)]

        row = measure(case, checks, functions[variant], (x_time,), backend, case["compiled"])
        if row["status"] == "skipped: out of memory":
            skip[variant] = f"out of memory at side {side} or smaller"
        rows.append(row)
    return rows
