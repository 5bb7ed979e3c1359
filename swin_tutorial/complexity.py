"""What attention costs: the Swin paper's formulas and a measurement to check them.

Counts are *multiply-adds* (one multiplication plus one addition), the unit the
Swin paper and most vision papers call "FLOPs". ``torch.utils.flop_counter``
counts a multiply-add as 2 FLOPs, so :func:`count_macs` halves its total.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch.utils.flop_counter import FlopCounterMode

from ._checks import check_positive_int, to_pair


def attention_flops(H: int, W: int, C: int, window_size: int | Sequence[int] | None = None) -> int:
    """Multiply-adds of one multi-head self-attention layer on an ``H x W`` map.

    Global attention (``window_size=None``): ``4 hw C^2 + 2 (hw)^2 C``.
    Window attention with ``M_h x M_w`` windows: ``4 hw C^2 + 2 M_h M_w hw C``.
    The first term is the Q, K, V and output projections; the second is
    ``Q K^T`` and ``A V``. Softmax, bias and mask are not counted (as in the paper).
    """
    for name, value in (("H", H), ("W", W), ("C", C)):
        check_positive_int(name, value)
    tokens = H * W
    projections = 4 * tokens * C * C
    if window_size is None:
        return projections + 2 * tokens * tokens * C
    wh, ww = to_pair("window_size", window_size)
    if H % wh or W % ww:
        raise ValueError(f"H={H} and W={W} must be multiples of window_size {(wh, ww)}")
    return projections + 2 * wh * ww * tokens * C


def _sdpa_cpu_flops(query_shape, key_shape, value_shape, *args, out_shape=None, **kwargs) -> int:
    """FLOPs of the CPU flash-attention kernel, which the flop counter does not know."""
    *batch, L, E = query_shape
    S, Ev = key_shape[-2], value_shape[-1]
    b = 1
    for size in batch:
        b *= size
    return 2 * b * L * S * E + 2 * b * L * S * Ev


def count_macs(fn: Callable[..., object], *inputs: object) -> int:
    """Multiply-adds of ``fn(*inputs)``, measured by ``torch.utils.flop_counter``.

    Runs ``fn`` once without gradients. Fused attention on the CPU is counted
    too (the flop counter knows the GPU kernels but not the CPU one).
    """
    mapping = {}
    cpu_kernel = getattr(torch.ops.aten, "_scaled_dot_product_flash_attention_for_cpu", None)
    if cpu_kernel is not None:
        mapping[cpu_kernel] = _sdpa_cpu_flops
    with FlopCounterMode(display=False, custom_mapping=mapping) as counter, torch.no_grad():
        fn(*inputs)
    return counter.get_total_flops() // 2
