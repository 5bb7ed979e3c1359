"""The benchmark suites: what each scheme and each library costs, checked before it is timed.

Three comparisons, run by the scripts in ``benchmarks/`` and by the
Performance chapter, on top of the harness of :mod:`swin_tutorial.bench`:

* :func:`run_scaling`: one attention layer (global, window, neighbourhood;
  explicit, fused and FlexAttention backends) on maps of growing size.
* :func:`run_kernel`: the window-attention module alone, the package's paths
  against timm's ``WindowAttention``.
* :func:`run_model`: Swin-T inference and training step, the package against
  timm and torchvision with the same weights.

Every variant is first compared on fresh random inputs with a float64
reference (:func:`attention_reference`, written from token coordinates, or
timm's explicit Swin in float64); a variant that fails gets a ``refused`` row
and no time.
"""

from __future__ import annotations

import copy
import functools
import math
import statistics
import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ._checks import check_positive_int, check_tensor, to_pair, to_shift_pair
from .bench import (
    Check,
    Row,
    check_close,
    dtype_name,
    measured_row,
    precision,
    skipped_row,
    time_callable,
    tolerance,
)
from .neighborhood import flex_attention_available

# ---------------------------------------------------------------------------
# fp64 references, written from token coordinates
# ---------------------------------------------------------------------------
# A pair rule says, for a chunk of query tokens and all key tokens of an H x W
# map (row-major ids), which pairs may attend and what bias their score gets.
# The rules below use nothing from windows.py, position.py or neighborhood.py:
# only each token's row and column, so a bug in a fast path cannot hide in its
# own reference.

PairRule = Callable[[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor | None]]


def global_pairs() -> PairRule:
    """Every query attends every key, no bias (global attention)."""

    def rule(queries: torch.Tensor, keys: torch.Tensor) -> tuple[torch.Tensor, None]:
        return torch.ones(len(queries), len(keys), dtype=torch.bool, device=keys.device), None

    return rule


def window_pairs(
    H: int,
    W: int,
    window_size: int | Sequence[int],
    shift_size: int | Sequence[int] = 0,
    table: torch.Tensor | None = None,
) -> PairRule:
    """Swin's (shifted) window attention on an ``H x W`` map, from coordinates.

    Token ``(i, j)`` sits at ``((i - sh) mod H, (j - sw) mod W)`` after the
    cyclic roll. Two tokens attend each other iff they fall in the same window
    of the rolled map *and* no wrap-around separates them (their offset is the
    same before and after the roll). The bias of a pair is row
    ``(di + wh - 1) * (2 ww - 1) + (dj + ww - 1)`` of ``table`` (``(rows, heads)``),
    with ``(di, dj)`` = query minus key.
    """
    H, W = check_positive_int("H", H), check_positive_int("W", W)
    wh, ww = to_pair("window_size", window_size)
    sh, sw = to_shift_pair("shift_size", shift_size, (wh, ww))
    if H % wh or W % ww:
        raise ValueError(f"H={H} and W={W} must be multiples of window_size {(wh, ww)}")

    def same_window(a: torch.Tensor, b: torch.Tensor, length: int, window: int, shift: int):
        ra, rb = (a - shift) % length, (b - shift) % length
        offset = a[:, None] - b[None, :]
        return (ra[:, None] // window == rb[None, :] // window) & (
            offset == ra[:, None] - rb[None, :]
        )

    def rule(queries: torch.Tensor, keys: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        qi, qj, ki, kj = queries // W, queries % W, keys // W, keys % W
        allowed = same_window(qi, ki, H, wh, sh) & same_window(qj, kj, W, ww, sw)
        if table is None:
            return allowed, None
        di = (qi[:, None] - ki[None, :] + wh - 1).clamp(0, 2 * wh - 2)
        dj = (qj[:, None] - kj[None, :] + ww - 1).clamp(0, 2 * ww - 2)
        return allowed, table[di * (2 * ww - 1) + dj].permute(2, 0, 1)

    return rule


def neighbourhood_pairs(
    H: int, W: int, kernel_size: int, bias: torch.Tensor | None = None
) -> PairRule:
    """Neighbourhood attention (NAT, dilation 1) on an ``H x W`` map, from coordinates.

    Along each axis the query at position ``p`` sees the ``k`` positions
    starting at ``clamp(p - k // 2, 0, length - k)``: centred, shifted inward at
    the borders. The bias of a pair is ``bias[:, ki - qi + k - 1, kj - qj + k - 1]``
    (``bias``: ``(heads, 2k - 1, 2k - 1)``, key minus query).
    """
    H, W = check_positive_int("H", H), check_positive_int("W", W)
    k = check_positive_int("kernel_size", kernel_size)
    if k > min(H, W):
        raise ValueError(f"kernel_size={k} must be at most min(H, W) = {min(H, W)}")

    def inside(q: torch.Tensor, key: torch.Tensor, length: int) -> torch.Tensor:
        start = (q - k // 2).clamp(0, length - k)
        return (key[None, :] >= start[:, None]) & (key[None, :] < start[:, None] + k)

    def rule(queries: torch.Tensor, keys: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        qi, qj, ki, kj = queries // W, queries % W, keys // W, keys % W
        allowed = inside(qi, ki, H) & inside(qj, kj, W)
        if bias is None:
            return allowed, None
        di = (ki[None, :] - qi[:, None] + k - 1).clamp(0, 2 * k - 2)
        dj = (kj[None, :] - qj[:, None] + k - 1).clamp(0, 2 * k - 2)
        return allowed, bias[:, di, dj]

    return rule


def attention_reference(
    x: torch.Tensor,
    qkv: nn.Linear,
    proj: nn.Linear,
    num_heads: int,
    pairs: PairRule,
    chunk: int = 512,
) -> torch.Tensor:
    """Multi-head attention over the tokens of a map, in float64, pair by pair.

    ``x`` (``(B, T, C)``, ``T = H W`` row-major) is projected by ``qkv`` into
    queries, keys and values (channels ordered ``(3, heads, d)``, as in timm);
    each query's scores ``q . k / sqrt(d) + bias`` over the keys ``pairs``
    allows are normalised by a softmax written out (max subtracted, exp, sum);
    the heads are concatenated and projected by ``proj``. Queries are processed
    ``chunk`` at a time, so memory is ``chunk x T`` per head, never ``T x T``.

    Returns:
        ``(B, T, C)`` float64.
    """
    check_tensor("x", x, 3, "(B, T, C)")
    check_positive_int("num_heads", num_heads)
    check_positive_int("chunk", chunk)
    B, T, C = x.shape
    if C % num_heads:
        raise ValueError(f"num_heads={num_heads} must divide the {C} channels of x")
    d = C // num_heads
    double = {"dtype": torch.float64, "device": x.device}

    def linear(t: torch.Tensor, layer: nn.Linear) -> torch.Tensor:
        bias = None if layer.bias is None else layer.bias.detach().to(**double)
        return F.linear(t, layer.weight.detach().to(**double), bias)

    with torch.no_grad():
        q, k, v = linear(x.to(**double), qkv).reshape(B, T, 3, num_heads, d).permute(2, 0, 3, 1, 4)
        keys = torch.arange(T, device=x.device)
        out = torch.empty(B, num_heads, T, d, **double)
        for start in range(0, T, chunk):
            queries = keys[start : start + chunk]
            allowed, bias = pairs(queries, keys)
            scores = q[:, :, queries] @ k.transpose(-2, -1) / math.sqrt(d)  # (B, heads, chunk, T)
            if bias is not None:
                scores = scores + bias.to(**double)
            scores = scores.masked_fill(~allowed, -math.inf)
            weights = (scores - scores.amax(dim=-1, keepdim=True)).exp()
            out[:, :, queries] = (weights / weights.sum(dim=-1, keepdim=True)) @ v
        return linear(out.transpose(1, 2).reshape(B, T, C), proj)


# ---------------------------------------------------------------------------
# What the three suites share: progress, names, skips, measuring one variant
# ---------------------------------------------------------------------------


def _is_out_of_memory(error: BaseException) -> bool:
    if isinstance(error, torch.OutOfMemoryError):
        return True
    return isinstance(error, RuntimeError) and "can't allocate memory" in str(error)


def _release_memory(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.empty_cache()


def _progress(items: Sequence, progress: bool, desc: str):
    from tqdm.auto import tqdm

    return tqdm(items, desc=desc, disable=not progress, leave=False)


def _check_names(name: str, given: Sequence[str] | None, known: Sequence[str]) -> tuple[str, ...]:
    if given is None:
        return tuple(known)
    if isinstance(given, str):
        raise TypeError(f"{name} must be a sequence of names, got the string {given!r}")
    unknown = [g for g in given if g not in known]
    if unknown or not given:
        raise ValueError(f"{name} must be a non-empty subset of {tuple(known)}, got {tuple(given)}")
    return tuple(given)


def _corrupted(fn: Callable[..., torch.Tensor]) -> Callable[..., torch.Tensor]:
    """``fn`` with its result off by 5 %: a deliberately wrong variant, to test refusals."""

    def wrong(*args: object) -> torch.Tensor:
        return fn(*args) * 1.05

    return wrong


def _flex_skip_reason(device: torch.device, flex_on_cpu: bool) -> str | None:
    if not flex_attention_available():
        return f"this torch ({torch.__version__}) has no FlexAttention"
    if device.type != "cuda" and not flex_on_cpu:
        return "FlexAttention is fused only on CUDA (--flex-on-cpu to run it unfused)"
    return None


def _memory_measurable(backend: str, device: torch.device, compiled: bool = False) -> bool:
    """Whether peak memory can be measured: always on CUDA (the allocator's statistics).

    Off CUDA, :class:`StorageCounter` sees the operators one by one. It cannot
    look inside FlexAttention (a higher-order operator), and a compiled
    function does not run its own kernels under it, so those rows are left
    unmeasured rather than undercounted.
    """
    return device.type == "cuda" or (backend != "flex" and not compiled)


def _random_generator(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _randn(generator: torch.Generator, *shape: int, device: torch.device) -> torch.Tensor:
    """Standard normal numbers drawn on the CPU from ``generator`` (same on every device), moved to ``device``."""
    return torch.randn(*shape, generator=generator).to(device)


def _measure_variant(
    case: Row,
    checks: Callable[[], Sequence[Check]],
    timed_fn: Callable[..., object],
    time_args: tuple,
    device: torch.device,
    dtype: torch.dtype,
    grad: bool = False,
    min_run_time: float = 0.2,
    num_threads: int | None = None,
    memory: bool = True,
) -> Row:
    """Run ``checks()``, then time ``timed_fn(*time_args)`` if they all passed.

    Both run in ``dtype`` (:class:`precision`); ``grad`` runs them without
    ``torch.no_grad`` (a training step). ``checks`` compares what the timed
    function computes (the same module, the same precision) on fresh inputs
    with the fp64 reference. An out-of-memory error gives a skipped row.
    """
    try:
        with precision(device, dtype), torch.set_grad_enabled(grad):
            return measured_row(
                case,
                checks(),
                timed_fn,
                *time_args,
                min_run_time=min_run_time,
                num_threads=num_threads,
                memory=memory,
            )
    except (torch.OutOfMemoryError, RuntimeError) as error:
        if not _is_out_of_memory(error):
            raise
        _release_memory(device)
        return skipped_row(case, "out of memory")


# ---------------------------------------------------------------------------
# Suite 1: scaling of global, window and neighbourhood attention with map size
# ---------------------------------------------------------------------------

SCALING_VARIANTS = (
    "global/explicit",
    "global/sdpa",
    "window/explicit",
    "window/sdpa",
    "neighbourhood/dense",
    "neighbourhood/flex",
)
"""``scheme/backend`` names of the layers :func:`run_scaling` compares."""


class ScalingLayers:
    """The attention layers of the scaling benchmark, sharing one set of projection weights.

    Every layer maps a channels-last map ``(B, H, W, C)`` to the same shape:
    Q/K/V projection, attention, output projection. They differ only in which
    keys each query sees:

    * ``global``: all ``H W`` tokens (no position bias);
    * ``window``: the ``M x M`` window of the query (:class:`~swin_tutorial.WindowAttention`,
      relative position bias, windows cut by ``window_partition``);
    * ``neighbourhood``: the ``k x k`` neighbours of the query
      (:class:`~swin_tutorial.neighborhood.NeighborhoodAttention2D`, NAT's bias).

    and in how the attention is computed: ``explicit`` (softmax written out,
    every score matrix in memory), ``sdpa`` (``F.scaled_dot_product_attention``),
    ``dense`` (SDPA with an ``HW x HW`` mask) or ``flex`` (FlexAttention with a
    block mask).

    Args:
        dim: channels ``C``; num_heads: heads; window_size: ``M``; kernel_size: ``k``.
        seed: seed of the weights (the caller's random state is left untouched).
        device: where the weights live.
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
        from .attention import WindowAttention
        from .neighborhood import NeighborhoodAttention2D

        self.dim, self.num_heads = dim, num_heads
        self.window_size, self.kernel_size = (
            check_positive_int("window_size", window_size),
            kernel_size,
        )
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            self.window = WindowAttention(dim, num_heads, window_size, fused=True).eval()
            self.neighbourhood = {
                backend: NeighborhoodAttention2D(
                    dim, num_heads, kernel_size, backend=backend
                ).eval()
                for backend in ("dense", "flex")
            }
        self.window_explicit = copy.deepcopy(self.window)
        self.window_explicit.fused = False
        for module in self.neighbourhood.values():
            module.load_state_dict(
                {
                    **self.neighbourhood["dense"].state_dict(),
                    "qkv.weight": self.window.qkv.weight,
                    "qkv.bias": self.window.qkv.bias,
                    "proj.weight": self.window.proj.weight,
                    "proj.bias": self.window.proj.bias,
                }
            )
        for module in (self.window, self.window_explicit, *self.neighbourhood.values()):
            module.to(device).requires_grad_(False)

    def layer(self, variant: str) -> Callable[[torch.Tensor], torch.Tensor]:
        """The layer called ``variant`` (one of :data:`SCALING_VARIANTS`): ``(B, H, W, C) -> (B, H, W, C)``."""
        if variant not in SCALING_VARIANTS:
            raise ValueError(f"variant must be one of {SCALING_VARIANTS}, got {variant!r}")
        scheme, backend = variant.split("/")
        if scheme == "global":
            return functools.partial(self._global, fused=backend == "sdpa")
        if scheme == "window":
            return functools.partial(
                self._windowed, module=self.window if backend == "sdpa" else self.window_explicit
            )
        return self.neighbourhood[backend]

    def _global(self, x: torch.Tensor, fused: bool) -> torch.Tensor:
        from .attention import window_attention

        B, H, W, C = x.shape
        q, k, v = self.window._split_heads(self.window.qkv(x.reshape(B, H * W, C)))
        out, _ = window_attention(q, k, v, fused=fused)  # one "window": the whole map, no bias
        return self.window.proj(out.transpose(1, 2).reshape(B, H, W, C))

    def _windowed(self, x: torch.Tensor, module: nn.Module) -> torch.Tensor:
        from .windows import window_partition, window_reverse

        B, H, W, C = x.shape
        M = self.window_size
        windows = window_partition(x, M).reshape(-1, M * M, C)  # (B * nW, M*M, C)
        return window_reverse(module(windows), M, H, W)

    def reference(self, variant: str, x: torch.Tensor) -> torch.Tensor:
        """fp64 result of ``variant``'s scheme on ``x`` (``(B, H, W, C)``), from coordinates."""
        scheme = variant.split("/")[0]
        B, H, W, C = x.shape
        if scheme == "global":
            rule = global_pairs()
        elif scheme == "window":
            rule = window_pairs(H, W, self.window_size, 0, self.window.relative_position_bias_table)
        else:
            rule = neighbourhood_pairs(H, W, self.kernel_size, self.neighbourhood["dense"].rpb)
        out = attention_reference(
            x.reshape(B, H * W, C), self.window.qkv, self.window.proj, self.num_heads, rule
        )
        return out.reshape(B, H, W, C)

    def macs(self, variant: str, side: int) -> int:
        """Multiply-adds of the scheme by the Swin paper's formula (``attention_flops``);
        neighbourhood attention counts ``k^2`` keys per query, like a window of side ``k``."""
        from .complexity import attention_flops

        scheme = variant.split("/")[0]
        if scheme == "global":
            return attention_flops(side, side, self.dim)
        if scheme == "window":
            return attention_flops(side, side, self.dim, self.window_size)
        tokens = side * side
        return 4 * tokens * self.dim**2 + 2 * self.kernel_size**2 * tokens * self.dim


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
    corrupt: Sequence[str] = (),
) -> list[Row]:
    """Time and peak memory of each attention scheme on square maps of the given sides.

    Every variant is first checked, at every side, against the fp64 reference
    of its scheme (:meth:`ScalingLayers.reference`) on a fresh random map; a
    variant that fails gets a ``refused`` row without a time. A variant that
    runs out of memory is skipped at that side and every larger one.

    Args:
        sides: map sides, multiples of ``window_size``, at least ``kernel_size``.
        device, dtype: where and in which precision (see :class:`precision`).
        batch: images per timed call (the check uses one image).
        variants: names from :data:`SCALING_VARIANTS` (default: all).
        dim, num_heads, window_size, kernel_size: the layers' sizes.
        flex_on_cpu: time FlexAttention on a CPU too (unfused there, slow to start).
        compile: also time each variant wrapped in ``torch.compile`` (``"+compile"`` rows).
        min_run_time, num_threads: passed to :func:`time_callable`.
        memory: also measure peak memory.
        progress: show a tqdm bar.
        seed: seed of the weights and of the inputs.
        corrupt: variants whose result is deliberately made wrong (a test hook:
            their rows must come out refused).

    Returns:
        One row per (side, variant) with ``benchmark, variant, scheme, backend,
        side, tokens, batch, dtype, macs`` and the columns of :func:`measured_row`.
    """
    device = torch.device(device)
    dtype_label = dtype_name(dtype)
    batch = check_positive_int("batch", batch)
    variants = _check_names("variants", variants, SCALING_VARIANTS)
    corrupt = set(_check_names("corrupt", corrupt, SCALING_VARIANTS) if corrupt else ())
    if isinstance(sides, int) or not sides:
        raise ValueError(f"sides must be a non-empty sequence of ints, got {sides!r}")
    for side in sides:
        check_positive_int("side", side)
        if side % window_size or side < kernel_size:
            raise ValueError(
                f"every side must be a multiple of window_size={window_size} and at least "
                f"kernel_size={kernel_size}, got {side}"
            )
    layers = ScalingLayers(dim, num_heads, window_size, kernel_size, seed, device)
    functions = {}
    for variant in variants:
        fn = layer = layers.layer(variant)
        if variant in corrupt:
            fn = _corrupted(layer)
        functions[variant] = fn
        if compile and not variant.endswith("flex"):
            functions[f"{variant}+compile"] = torch.compile(fn)
    skip = {
        v: _flex_skip_reason(device, flex_on_cpu)
        for v in functions
        if v.split("+")[0].endswith("flex")
    }
    generator = _random_generator(seed + 1)
    rows = []
    cases = [(side, variant) for side in sides for variant in functions]
    references: dict[str, torch.Tensor] = {}
    last_side = None
    for side, variant in _progress(cases, progress, "scaling"):
        if side != last_side:
            x_check = _randn(generator, 1, side, side, dim, device=device)
            x_time = _randn(generator, batch, side, side, dim, device=device)
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

        def expected(scheme: str = scheme) -> torch.Tensor:
            if scheme not in references:
                references[scheme] = layers.reference(scheme, x_check)
            return references[scheme]

        fn = functions[variant]
        row = _measure_variant(
            case,
            lambda fn=fn, expected=expected: [check_close(fn(x_check), expected(), dtype)],
            fn,
            (x_time,),
            device,
            dtype,
            min_run_time=min_run_time,
            num_threads=num_threads,
            memory=memory and _memory_measurable(backend, device, case["compiled"]),
        )
        if row["status"] == "skipped: out of memory":
            skip[variant] = f"out of memory at side {side} or smaller"
        rows.append(row)
    return rows


# ---------------------------------------------------------------------------
# Suite 2: the window-attention kernel alone, against timm's module
# ---------------------------------------------------------------------------

KERNEL_VARIANTS = ("package/explicit", "package/sdpa", "package/flex", "timm/explicit", "timm/sdpa")
"""``implementation/attention`` names of the window-attention modules :func:`run_kernel` compares."""


class FlexWindowAttention:
    """Window attention through FlexAttention: the bias as a score modifier, the shift mask as a block mask.

    The windows ``(B * nW, heads, N, d)`` are FlexAttention's batch. The score
    of query ``n`` and key ``m`` in head ``h`` gets ``bias[h, n, m]``
    (``score_mod``); ``mask_mod`` keeps the pair iff ``mask[b mod nW, n, m]``.
    The block mask is built once per number of windows and reused (building it
    evaluates ``mask_mod`` on every pair, which costs more than the attention).

    Args:
        mask: bool ``(nW, N, N)``, ``True`` where a query may attend a key, or
            ``None`` (every pair of a window).
    """

    def __init__(self, mask: torch.Tensor | None) -> None:
        if mask is not None and (mask.dtype != torch.bool or mask.dim() != 3):
            raise ValueError(
                f"mask must be a bool (nW, N, N) tensor, got {mask.dtype} {tuple(mask.shape)}"
            )
        self.mask = mask
        self._block_masks: dict[tuple, object] = {}

    def block_mask(self, windows: int, N: int, device: torch.device) -> object:
        """The :class:`BlockMask` for ``windows`` windows of ``N`` tokens, built on first use."""
        from torch.nn.attention.flex_attention import create_block_mask

        key = (windows, N, str(device))
        if key not in self._block_masks:
            mask = self.mask
            if mask is None:
                self._block_masks[key] = None
            else:
                if windows % mask.shape[0]:
                    raise ValueError(f"{mask.shape[0]} mask windows must divide {windows} windows")
                nW, mask = mask.shape[0], mask.to(device)

                def mask_mod(b, h, q_idx, kv_idx):
                    return mask[b % nW, q_idx, kv_idx]

                self._block_masks[key] = create_block_mask(
                    mask_mod, windows, None, N, N, device=device
                )
        return self._block_masks[key]

    def __call__(
        self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, bias: torch.Tensor
    ) -> torch.Tensor:
        """``q, k, v``: ``(B * nW, heads, N, d)``; ``bias``: ``(heads, N, N)``. Returns ``(B * nW, heads, N, d)``."""
        from torch.nn.attention.flex_attention import flex_attention

        from .neighborhood import _compiled_flex_attention

        windows, _, N, _ = q.shape
        bias = bias.to(q.dtype)

        def score_mod(score, b, h, q_idx, kv_idx):
            return score + bias[h, q_idx, kv_idx]

        block_mask = self.block_mask(windows, N, q.device)
        if q.device.type == "cuda":
            return _compiled_flex_attention()(q, k, v, score_mod=score_mod, block_mask=block_mask)
        with warnings.catch_warnings():  # unfused off CUDA, knowingly: the warning says so
            warnings.filterwarnings("ignore", message="flex_attention called without torch.compile")
            return flex_attention(q, k, v, score_mod=score_mod, block_mask=block_mask)


class KernelModules:
    """Window-attention modules with one set of weights: the package's three paths and timm's two.

    Each :meth:`layer` maps windows ``(B * nW, N, C)`` of a (rolled, shifted)
    map to ``(B * nW, N, C)``; the package's modules take the bool mask, timm's
    its additive float mask (0 / -100), each as it is called inside its Swin block.

    Args:
        dim, num_heads, window_size, shift_size: the layer; shift 0 means no mask.
        side: the map is ``side x side`` (a multiple of the window).
        seed: seed of the weights; device: where they live.
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
        from .attention import WindowAttention
        from .windows import shifted_window_mask

        self.dim, self.num_heads, self.side = dim, num_heads, side
        self.window_size, self.shift_size = window_size, shift_size
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            self.fused = WindowAttention(dim, num_heads, window_size, fused=True).eval()
        self.explicit = copy.deepcopy(self.fused)
        self.explicit.fused = False
        self.fused.to(device).requires_grad_(False)
        self.explicit.to(device).requires_grad_(False)
        self.mask = (
            shifted_window_mask(side, side, window_size, shift_size, device=device)
            if shift_size
            else None
        )
        self.flex = FlexWindowAttention(self.mask)
        self._timm: dict[bool, nn.Module] = {}

    def timm_module(self, fused: bool) -> nn.Module:
        """timm's ``WindowAttention`` with this object's weights; ``fused`` as ``TIMM_FUSED_ATTN=2`` sets it."""
        if fused not in self._timm:
            from timm.models.swin_transformer import WindowAttention as TimmWindowAttention

            with _timm_fused_attention(fused):
                module = TimmWindowAttention(self.dim, self.num_heads, window_size=self.window_size)
            if module.fused_attn != fused:
                raise RuntimeError(
                    f"timm's fused_attn switch did not take: {module.fused_attn} != {fused}"
                )
            module.load_state_dict(self.fused.state_dict(), strict=True)
            self._timm[fused] = module.eval().to(self.fused.qkv.weight.device).requires_grad_(False)
        return self._timm[fused]

    def layer(self, variant: str) -> Callable[[torch.Tensor], torch.Tensor]:
        """The module called ``variant`` (one of :data:`KERNEL_VARIANTS`), mask bound."""
        if variant not in KERNEL_VARIANTS:
            raise ValueError(f"variant must be one of {KERNEL_VARIANTS}, got {variant!r}")
        implementation, attention = variant.split("/")
        if implementation == "timm":
            module = self.timm_module(attention == "sdpa")
            additive = None
            if self.mask is not None:
                additive = torch.zeros(self.mask.shape, device=self.mask.device).masked_fill(
                    ~self.mask, -100.0
                )
            return functools.partial(module, mask=additive)
        if attention == "flex":
            return self._flex_layer
        return functools.partial(
            self.fused if attention == "sdpa" else self.explicit, mask=self.mask
        )

    def _flex_layer(self, windows: torch.Tensor) -> torch.Tensor:
        module = self.fused
        count, N, C = windows.shape
        q, k, v = module._split_heads(module.qkv(windows))
        out = self.flex(q, k, v, module.relative_position_bias())
        return module.proj(out.transpose(1, 2).reshape(count, N, C))

    def windows_of(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, side, side, C)`` map -> its shifted windows ``(B * nW, N, C)``."""
        from .windows import cyclic_shift, window_partition

        M = self.window_size
        return window_partition(cyclic_shift(x, self.shift_size), M).reshape(-1, M * M, self.dim)

    def map_of(self, windows: torch.Tensor) -> torch.Tensor:
        """Inverse of :meth:`windows_of`: ``(B * nW, N, C)`` -> ``(B, side, side, C)``."""
        from .windows import reverse_cyclic_shift, window_reverse

        return reverse_cyclic_shift(
            window_reverse(windows, self.window_size, self.side, self.side), self.shift_size
        )

    def reference(self, x: torch.Tensor) -> torch.Tensor:
        """fp64 shifted-window attention of the map ``x`` ``(B, side, side, C)``, from coordinates."""
        B, H, W, C = x.shape
        rule = window_pairs(
            H, W, self.window_size, self.shift_size, self.fused.relative_position_bias_table
        )
        out = attention_reference(
            x.reshape(B, H * W, C), self.fused.qkv, self.fused.proj, self.num_heads, rule
        )
        return out.reshape(B, H, W, C)


class _timm_fused_attention:  # noqa: N801 - a context manager
    """Set timm's fused-attention switch while models are built, as ``TIMM_FUSED_ATTN`` would.

    ``True``: level 2, the level at which timm's Swin uses
    ``F.scaled_dot_product_attention``; ``False``: level 1, timm's default,
    at which Swin keeps its explicit softmax. The previous level is restored.
    """

    def __init__(self, fused: bool) -> None:
        self.fused = fused

    def __enter__(self) -> None:
        from timm.layers import set_fused_attn, use_fused_attn

        self._previous = (use_fused_attn(), use_fused_attn(experimental=True))
        set_fused_attn(True, experimental=self.fused)

    def __exit__(self, *exc: object) -> None:
        from timm.layers import set_fused_attn

        default, experimental = self._previous
        set_fused_attn(default or experimental, experimental=experimental)


def _timm_skip_reason() -> str | None:
    try:
        import timm  # noqa: F401
    except ImportError:
        return "timm is not installed"
    return None


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
    corrupt: Sequence[str] = (),
) -> list[Row]:
    """Time the window-attention module alone (projections, attention, bias, shift mask).

    Input: the shifted windows of ``batch`` random ``side x side`` maps, i.e.
    ``(batch * nW, M^2, C)``. Each variant is first checked on a fresh random
    map against the fp64 shifted-window reference (:meth:`KernelModules.reference`).
    Arguments as in :func:`run_scaling`.

    Returns:
        One row per variant with ``benchmark, variant, implementation,
        attention, compiled, side, window, shift, windows, batch, dtype`` and
        the columns of :func:`measured_row`.
    """
    device = torch.device(device)
    dtype_label = dtype_name(dtype)
    batch = check_positive_int("batch", batch)
    check_positive_int("side", side)
    if side % window_size:
        raise ValueError(f"side must be a multiple of window_size={window_size}, got {side}")
    variants = _check_names("variants", variants, KERNEL_VARIANTS)
    corrupt = set(_check_names("corrupt", corrupt, KERNEL_VARIANTS) if corrupt else ())
    modules = KernelModules(dim, num_heads, window_size, shift_size, side, seed, device)
    generator = _random_generator(seed + 1)
    x_check = _randn(generator, 1, side, side, dim, device=device)
    x_time = _randn(generator, batch, side, side, dim, device=device)
    reference: list[torch.Tensor] = []

    def expected() -> torch.Tensor:
        if not reference:
            reference.append(modules.reference(x_check))
        return reference[0]

    windows_check, windows_time = modules.windows_of(x_check), modules.windows_of(x_time)
    names: list[str] = []
    for variant in variants:
        names.append(variant)
        if compile and not variant.endswith("flex"):
            names.append(f"{variant}+compile")
    rows = []
    for name in _progress(names, progress, "kernel"):
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
        reason = _timm_skip_reason() if implementation == "timm" else None
        if attention == "flex":
            reason = _flex_skip_reason(device, flex_on_cpu)
        if reason:
            rows.append(skipped_row(case, reason))
            continue
        fn = modules.layer(base)
        if base in corrupt:
            fn = _corrupted(fn)
        if name.endswith("+compile"):
            fn = torch.compile(fn)
        rows.append(
            _measure_variant(
                case,
                lambda fn=fn: [check_close(modules.map_of(fn(windows_check)), expected(), dtype)],
                fn,
                (windows_time,),
                device,
                dtype,
                min_run_time=min_run_time,
                num_threads=num_threads,
                memory=memory and _memory_measurable(attention, device, case["compiled"]),
            )
        )
    return rows


# ---------------------------------------------------------------------------
# Suite 3: whole models, the package's Swin against timm's and torchvision's
# ---------------------------------------------------------------------------

MODEL_CONFIGS: dict[str, dict[str, Any]] = {
    "swin_t": dict(
        img_size=224,
        patch_size=4,
        embed_dim=96,
        depths=(2, 2, 6, 2),
        num_heads=(3, 6, 12, 24),
        window_size=7,
        num_classes=1000,
    ),
    # small enough to run in well under a second on a CPU; all three libraries can build it
    "nano": dict(
        img_size=32,
        patch_size=2,
        embed_dim=32,
        depths=(2, 2),
        num_heads=(2, 4),
        window_size=4,
        num_classes=10,
    ),
}
"""Architectures :func:`run_model` can build in all three libraries (3 input channels each)."""

MODEL_VARIANTS = (
    "package/sdpa",
    "package/explicit",
    "timm/explicit",
    "timm/sdpa",
    "torchvision/explicit",
)
"""``library/attention`` names of the models :func:`run_model` compares. timm's Swin uses
its explicit softmax unless its fused-attention level is 2 (``TIMM_FUSED_ATTN=2``), which
``timm/sdpa`` sets; torchvision's Swin always writes the softmax out."""

MODEL_MODES = ("inference", "train")


def timm_to_torchvision_swin(state_dict: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Rename a timm (or this package's) Swin state dict to torchvision's ``SwinTransformer`` keys.

    torchvision keeps every stage in one ``features`` list: ``features.0`` is
    the patch embedding (``0`` the convolution, ``2`` the norm), then blocks
    and patch mergings alternate (stage ``s``'s blocks at ``features.2s+1``,
    the merging before stage ``s`` at ``features.2s``); the MLP's layers are
    ``mlp.0`` and ``mlp.3``. The head is ``head``. Buffers torchvision
    computes itself (``relative_position_index``, ``attn_mask``) are dropped.
    """
    renamed = {}
    for key, value in state_dict.items():
        if key.endswith(("relative_position_index", "attn_mask")):
            continue
        parts = key.split(".")
        if parts[0] == "patch_embed":
            new = f"features.0.{ {'proj': 0, 'norm': 2}[parts[1]] }.{parts[2]}"
        elif parts[0] == "layers":
            stage = int(parts[1])
            if parts[2] == "downsample":
                new = f"features.{2 * stage}.{'.'.join(parts[3:])}"
            else:  # layers.s.blocks.b.rest
                rest = ".".join(parts[4:]).replace("mlp.fc1", "mlp.0").replace("mlp.fc2", "mlp.3")
                new = f"features.{2 * stage + 1}.{parts[3]}.{rest}"
        elif parts[0] == "head":
            new = "head." + parts[-1]
        elif parts[0] == "norm":
            new = key
        else:
            raise ValueError(f"state_dict has a key that is not a Swin parameter: {key!r}")
        renamed[new] = value
    return renamed


def swin_models(config: str = "swin_t", seed: int = 0) -> dict[str, nn.Module]:
    """The same Swin, with the same weights, from this package, timm and torchvision.

    Keys are :data:`MODEL_VARIANTS` (those whose library is installed). All
    models have stochastic depth and dropout off, so a training step is
    deterministic and can be checked; torchvision's ``swin_t()`` would use a
    stochastic-depth rate of 0.2, timm's 0.1, neither of which changes the
    cost of a step noticeably. Models are on the CPU, in eval mode.
    """
    if config not in MODEL_CONFIGS:
        raise ValueError(f"config must be one of {tuple(MODEL_CONFIGS)}, got {config!r}")
    from .model import SwinTransformer

    cfg = MODEL_CONFIGS[config]
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        package = SwinTransformer(**cfg, drop_path_rate=0.0, fused=True).eval()
    state = package.state_dict()
    models: dict[str, nn.Module] = {"package/sdpa": package}
    explicit = copy.deepcopy(package)
    for module in explicit.modules():
        if hasattr(module, "fused"):
            module.fused = False
    models["package/explicit"] = explicit
    if _timm_skip_reason() is None:
        from timm.models.swin_transformer import SwinTransformer as TimmSwin

        for fused in (False, True):
            with _timm_fused_attention(fused):
                timm_model = TimmSwin(**cfg, drop_path_rate=0.0)
            timm_model.load_state_dict(state, strict=True)
            models["timm/sdpa" if fused else "timm/explicit"] = timm_model.eval()
    try:
        from torchvision.models.swin_transformer import SwinTransformer as TorchvisionSwin
    except ImportError:
        TorchvisionSwin = None
    if TorchvisionSwin is not None:
        tv = TorchvisionSwin(
            patch_size=[cfg["patch_size"]] * 2,
            embed_dim=cfg["embed_dim"],
            depths=list(cfg["depths"]),
            num_heads=list(cfg["num_heads"]),
            window_size=[cfg["window_size"]] * 2,
            stochastic_depth_prob=0.0,
            num_classes=cfg["num_classes"],
        )
        tv.load_state_dict({**tv.state_dict(), **timm_to_torchvision_swin(state)}, strict=True)
        models["torchvision/explicit"] = tv.eval()
    return {name: models[name] for name in MODEL_VARIANTS if name in models}


def matmul_flops_per_second(
    device: torch.device | str = "cpu",
    dtype: torch.dtype = torch.bfloat16,
    size: int | None = None,
    min_run_time: float = 0.2,
    num_threads: int | None = None,
) -> float:
    """Measured rate of a square ``size x size`` matmul in ``dtype``: FLOP/s (2 n^3 per product).

    The yardstick for model FLOP utilisation. ``size`` defaults to 8192 on
    CUDA (large enough to reach the tensor cores' plateau) and 1024 elsewhere.
    """
    device = torch.device(device)
    tolerance(dtype)
    n = size if size is not None else (8192 if device.type == "cuda" else 1024)
    check_positive_int("size", n)
    generator = _random_generator(0)
    a = torch.randn(n, n, generator=generator).to(device=device, dtype=dtype)
    b = torch.randn(n, n, generator=generator).to(device=device, dtype=dtype)
    seconds = time_callable(torch.mm, a, b, min_run_time=min_run_time, num_threads=num_threads)
    return 2 * n**3 / seconds


def _training_step(
    model: nn.Module, forward: Callable[[torch.Tensor], torch.Tensor] | None = None
) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    """Forward (through ``forward``, default ``model``), cross-entropy, backward.

    The gradients of ``model``'s parameters start fresh at each call.
    """
    parameters = [p for p in model.parameters() if p.requires_grad]
    forward = model if forward is None else forward

    def step(images: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        for p in parameters:
            p.grad = None
        loss = F.cross_entropy(forward(images).float(), labels)
        loss.backward()
        return loss.detach()

    return step


def _input_gradient(model: nn.Module, images: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Gradient of the cross-entropy loss with respect to the images: checks the whole backward pass."""
    images = images.detach().requires_grad_(True)
    loss = F.cross_entropy(model(images).float(), labels)
    (grad,) = torch.autograd.grad(loss, images)
    return grad


def run_model(
    config: str = "swin_t",
    device: torch.device | str = "cpu",
    dtype: torch.dtype = torch.float32,
    batch: int = 8,
    variants: Sequence[str] | None = None,
    modes: Sequence[str] = MODEL_MODES,
    compile: bool = False,
    min_run_time: float = 0.2,
    num_threads: int | None = None,
    memory: bool = True,
    progress: bool = True,
    seed: int = 0,
    corrupt: Sequence[str] = (),
    matmul_rate: float | None = None,
    rounds: int = 1,
) -> list[Row]:
    """Throughput and peak memory of whole Swin models: inference and a training step.

    Same architecture, weights, batch, dtype and device for every library
    (:func:`swin_models`). Before it is timed, each model is checked on fresh
    random images against timm's explicit model run in float64 (the package's
    explicit model if timm is not installed): its logits in
    the run's dtype, and for a training step (forward, cross-entropy,
    backward) also the gradient of the loss with respect to the images. The
    gradient is checked in float32 whatever the run's dtype: in bfloat16 it
    passes through every layer's backward in 8-bit precision and ends about
    1.2 % off on Swin-T for timm, torchvision and this package alike, above
    the 1 % bfloat16 tolerance, so that check would refuse every library
    without telling them apart.

    Args:
        config: a key of :data:`MODEL_CONFIGS`.
        batch: images per step; modes: a subset of :data:`MODEL_MODES`.
        compile: also time each model wrapped in ``torch.compile``.
        matmul_rate: FLOP/s to compute model FLOP utilisation against; default
            :func:`matmul_flops_per_second` measured now on ``device`` in ``dtype``.
        rounds: time the checked models round-robin, ``rounds`` times each
            with ``min_run_time / rounds`` seconds per turn, and report the
            median turn (:func:`_time_in_rounds`); 1 times each model once, in turn.
        others: as in :func:`run_scaling`.

    Returns:
        One row per (variant, mode) with ``benchmark, variant, implementation,
        attention, compiled, mode, config, image_size, batch, dtype``, the
        columns of :func:`measured_row`, and ``images_per_s``, ``gflop_per_image``
        (2 x multiply-adds forward, 3 x that for a training step),
        ``matmul_tflops`` and ``mfu`` (achieved FLOP/s over the matmul rate).
    """
    from .complexity import count_macs

    device = torch.device(device)
    dtype_label = dtype_name(dtype)
    batch = check_positive_int("batch", batch)
    rounds = check_positive_int("rounds", rounds)
    modes = _check_names("modes", modes, MODEL_MODES)
    models = swin_models(config, seed)
    variants = _check_names("variants", variants, MODEL_VARIANTS)
    corrupt = set(_check_names("corrupt", corrupt, MODEL_VARIANTS) if corrupt else ())
    cfg = MODEL_CONFIGS[config]
    size, classes = cfg["img_size"], cfg["num_classes"]
    generator = _random_generator(seed + 1)
    check_images = _randn(generator, 2, 3, size, size, device=device)
    check_labels = torch.randint(0, classes, (2,), generator=generator).to(device)
    images = _randn(generator, batch, 3, size, size, device=device)
    labels = torch.randint(0, classes, (batch,), generator=generator).to(device)
    reference_model = copy.deepcopy(
        models["timm/explicit" if "timm/explicit" in models else "package/explicit"]
    )
    reference_model.to(device=device, dtype=torch.float64)
    macs = count_macs(models["package/sdpa"], torch.zeros(1, 3, size, size))
    if matmul_rate is None:
        matmul_rate = matmul_flops_per_second(
            device, dtype, min_run_time=min_run_time, num_threads=num_threads
        )
    references: dict[str, torch.Tensor] = {}

    def expected(what: str) -> torch.Tensor:
        """fp64 logits or input gradient of the reference model on the check images."""
        if what not in references:
            with precision(device, torch.float32):
                if what == "logits":
                    with torch.no_grad():
                        references[what] = reference_model(check_images.double())
                else:
                    references[what] = _input_gradient(
                        reference_model, check_images.double(), check_labels
                    )
        return references[what]

    def checks(forward: Callable[[torch.Tensor], torch.Tensor], mode: str) -> list[Check]:
        found = [check_close(forward(check_images), expected("logits"), dtype)]
        if mode == "train":  # the backward pass, in float32 (see the docstring)
            with precision(device, torch.float32):
                gradient = _input_gradient(forward, check_images, check_labels)
            found.append(check_close(gradient, expected("gradient"), torch.float32))
        return found

    names = [(v, False) for v in variants] + ([(v, True) for v in variants] if compile else [])
    cases = [(v, compiled, mode) for v, compiled in names for mode in modes]
    rows, timed = [], []
    for variant, compiled, mode in _progress(cases, progress, "model"):
        implementation, attention = variant.split("/")
        name = variant + ("+compile" if compiled else "")
        case = {
            "benchmark": "model",
            "variant": name,
            "implementation": implementation,
            "attention": attention,
            "compiled": compiled,
            "mode": mode,
            "config": config,
            "image_size": size,
            "batch": batch,
            "dtype": dtype_label,
        }
        if variant not in models:
            rows.append(skipped_row(case, f"{implementation} is not installed"))
            continue
        model = copy.deepcopy(models[variant]).to(device)
        model.train(mode == "train")
        forward = torch.compile(model) if compiled else model
        if variant in corrupt:
            forward = _corrupted(forward)
        if mode == "inference":
            fn, args = forward, (images,)
        else:
            fn, args = _training_step(model, forward), (images, labels)
        row = _measure_variant(
            case,
            functools.partial(checks, forward, mode),
            fn,
            args,
            device,
            dtype,
            grad=mode == "train",
            min_run_time=min_run_time / rounds,
            num_threads=num_threads,
            memory=memory and _memory_measurable(attention, device, compiled),
        )
        rows.append(row)
        if row["seconds"] is not None and rounds > 1:
            timed.append((row, fn, args))
        del model, forward, fn
        _release_memory(device)
    _time_in_rounds(timed, rounds, device, dtype, min_run_time / rounds, num_threads)
    for row in rows:
        flop = 2 * macs * (3 if row["mode"] == "train" else 1)
        row["gflop_per_image"] = flop / 1e9
        row["matmul_tflops"] = matmul_rate / 1e12
        row["images_per_s"] = batch / row["seconds"] if row["seconds"] else None
        row["mfu"] = row["images_per_s"] * flop / matmul_rate if row["images_per_s"] else None
        row["rounds"] = rounds
    return rows


def _time_in_rounds(
    timed: Sequence[tuple[Row, Callable[..., object], tuple]],
    rounds: int,
    device: torch.device,
    dtype: torch.dtype,
    min_run_time: float,
    num_threads: int | None,
) -> None:
    """Time each checked ``(row, fn, args)`` again, round-robin; ``row["seconds"]`` becomes its median turn.

    A machine's speed drifts (a host shared with others, a GPU's clocks and
    temperature): timed one after the other, the first and the last model can
    differ by 10 % for that reason alone. Taking turns, every model is timed
    early and late alike, and the median turn is what it costs. A row's first
    turn is the time it already holds. A training step runs with gradients
    (its ``mode`` column says which).
    """
    turns = {id(row): [row["seconds"]] for row, _, _ in timed}
    for _ in range(rounds - 1):
        for row, fn, args in timed:
            with precision(device, dtype), torch.set_grad_enabled(row.get("mode") == "train"):
                turns[id(row)].append(
                    time_callable(fn, *args, min_run_time=min_run_time, num_threads=num_threads)
                )
    for row, _, _ in timed:
        row["seconds"] = statistics.median(turns[id(row)])
