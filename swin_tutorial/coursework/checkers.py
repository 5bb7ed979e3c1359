"""Auto-checkers for the exercises: run a student's function against the reference.

Each ``check_*`` function calls the student's function on fresh random inputs,
compares with the package's reference, prints a verdict (unless ``verbose=False``)
and returns a :class:`~swin_tutorial.coursework.harness.CheckResult`. A student's
exception is reported, never raised. The first failing input is shown with
expected versus received and a hint at the likely bug.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator

import torch

from .._checks import check_int, check_positive_int, to_pair
from ..analysis import effective_receptive_field
from ..attention import window_attention
from ..complexity import attention_flops
from ..model import swin_single_resolution
from ..neighborhood import neighborhood_attention_2d
from ..position import log_spaced_coordinates, relative_position_index
from ..sliding import sliding_window_attention_1d
from ..windows import shifted_window_mask, window_partition
from .harness import (
    Case,
    CheckResult,
    check_value,  # noqa: F401  (fresh_checkers().check_value in hidden tests)
    first_matching_advice,
    generator,
    masked_attention,
    run_cases,
)


def _rng(seed: int | None) -> random.Random:
    """The random source of a checker's cases (``seed=None``: fresh cases each call)."""
    return random.Random(None if seed is None else check_int("seed", seed))


def _random_qkv(g: torch.Generator, *shape: int) -> tuple[torch.Tensor, ...]:
    """Queries, keys and values: three float64 standard-normal tensors of ``shape``, from ``g``."""
    return tuple(torch.randn(*shape, generator=g, dtype=torch.float64) for _ in "qkv")


def _partition_cases(rng: random.Random, trials: int) -> Iterator[Case]:
    for _ in range(check_positive_int("trials", trials)):
        window = rng.randint(1, 5)
        B, C = rng.randint(1, 3), rng.randint(1, 6)
        H, W = window * rng.randint(1, 4), window * rng.randint(1, 4)
        x = torch.randn(B, H, W, C, generator=generator(rng))
        yield Case(
            f"x of shape {(B, H, W, C)} with window_size={window}",
            (x, window),
            window_partition(x, window),
        )


def _partition_hint(case: Case, received: object) -> str:
    x, window = case.args
    C = x.shape[-1]
    if not isinstance(received, torch.Tensor) or received.shape != case.expected.shape:
        return "the output must be (B * nW, M, M, C) with nW = (H / M) * (W / M)"
    same_values = torch.equal(received.reshape(-1).sort().values, x.reshape(-1).sort().values)
    if not same_values:
        return "the output does not hold the input's values: partition only moves them"
    if torch.equal(received, x.reshape(-1, window, window, C)):
        return (
            "you reshaped without permuting: after reshape(B, H/M, M, W/M, M, C) the two "
            "window axes must be brought together with permute(0, 1, 3, 2, 4, 5)"
        )
    return (
        "the values are there but in the wrong places: windows must be row-major over the "
        "map, tokens row-major inside a window, and the channel axis must stay last "
        "(unfold followed by view or reshape mixes channels into space)"
    )


def check_window_partition(
    fn: Callable, trials: int = 20, seed: int | None = None, verbose: bool = True
) -> CheckResult:
    """Check ``fn(x, window_size) -> (B*nW, M, M, C)`` for ``x`` ``(B, H, W, C)``, int ``M``.

    Used in chapter 4.
    """
    cases = list(_partition_cases(_rng(seed), trials))
    return run_cases("check_window_partition", fn, cases, _partition_hint, verbose)


def _reverse_hint(case: Case, received: object) -> str:
    windows = case.args[0]
    if isinstance(received, torch.Tensor) and received.numel() == windows.numel():
        return (
            "the values are there but not where window_partition took them from: undo its "
            "permute with the same permutation (0, 1, 3, 2, 4, 5) before the final reshape"
        )
    return "the output must be (B, H, W, C), with B = windows.shape[0] / nW"


def check_window_reverse(
    fn: Callable, trials: int = 20, seed: int | None = None, verbose: bool = True
) -> CheckResult:
    """Check ``fn(windows, window_size, H, W) -> (B, H, W, C)``, the inverse of partition.

    Used in chapter 4.
    """
    cases = [
        Case(
            case.description.replace("x of shape", "windows of a map of shape"),
            (case.expected, case.args[1], case.args[0].shape[1], case.args[0].shape[2]),
            case.args[0],
        )
        for case in _partition_cases(_rng(seed), trials)
    ]
    return run_cases("check_window_reverse", fn, cases, _reverse_hint, verbose)


def _mask_cases(rng: random.Random, trials: int) -> Iterator[Case]:
    for _ in range(check_positive_int("trials", trials)):
        window = rng.randint(2, 6)
        shift = rng.randint(1, window - 1)
        H, W = window * rng.randint(1, 4), window * rng.randint(1, 4)
        yield Case(
            f"H={H}, W={W}, window_size={window}, shift_size={shift}",
            (H, W, window, shift),
            shifted_window_mask(H, W, window, shift),
        )


def _mask_hint(case: Case, received: object) -> str:
    expected = case.expected
    if not isinstance(received, torch.Tensor) or received.shape != expected.shape:
        return "return a bool tensor (nW, N, N) with nW = HW / M^2 and N = M^2"
    if received.dtype != torch.bool:
        return "return booleans, True where a query may attend a key (not 0/-100 scores)"
    if received.all():
        return "your mask allows every pair: was it built for the unshifted grid?"
    if torch.equal(received, ~expected):
        return "your mask is inverted: True must mean 'may attend'"
    return (
        "label the regions of the *rolled* map (slices [0, H-M), [H-M, H-s), [H-s, H) on each "
        "axis), partition the labels into windows, and allow pairs with equal labels"
    )


def check_shift_mask(
    fn: Callable, trials: int = 20, seed: int | None = None, verbose: bool = True
) -> CheckResult:
    """Check ``fn(H, W, window_size, shift_size) -> bool (nW, N, N)`` against Swin's mask.

    Used in chapters 2, 4 and 7.
    """
    cases = list(_mask_cases(_rng(seed), trials))
    return run_cases("check_shift_mask", fn, cases, _mask_hint, verbose)


def _index_hint(case: Case, received: object) -> str:
    expected = case.expected
    if isinstance(received, torch.Tensor) and received.shape == expected.shape:
        if torch.equal(received, expected.T):
            return "you used key minus query; the offset is query coordinate minus key coordinate"
        return (
            "shift each offset to be non-negative (dh + M_h - 1, dw + M_w - 1) and combine them "
            "as (dh + M_h - 1) * (2 M_w - 1) + (dw + M_w - 1): the multiplier is the number of "
            "distinct column offsets"
        )
    return "return a long tensor (N, N) with N = M_h * M_w"


def check_relative_position_index(
    fn: Callable, seed: int | None = None, verbose: bool = True
) -> CheckResult:
    """Check ``fn(window_size) -> long (N, N)`` for int and ``(M_h, M_w)`` windows.

    Used in chapter 3.
    """
    rng = _rng(seed)
    sizes: list = [1, 2, 7, (2, 3), (3, 2)]
    sizes += [(rng.randint(1, 6), rng.randint(1, 6)) for _ in range(5)]
    cases = [
        Case(f"window_size={size!r}", (size,), relative_position_index(size)) for size in sizes
    ]
    return run_cases("check_relative_position_index", fn, cases, _index_hint, verbose)


def _flops_hint(case: Case, received: object) -> str:
    expected = case.expected
    if isinstance(received, int | float) and received == 2 * expected:
        return "you counted FLOPs (2 per multiply-add); the formula counts multiply-adds"
    H, W, C, _ = case.args
    if isinstance(received, int | float) and received == expected - 4 * H * W * C * C:
        return "you left out the four projections (Q, K, V and output): 4 hw C^2"
    return "global: 4 hw C^2 + 2 (hw)^2 C; window: 4 hw C^2 + 2 M^2 hw C"


def check_attention_flops(
    fn: Callable, trials: int = 20, seed: int | None = None, verbose: bool = True
) -> CheckResult:
    """Check ``fn(H, W, C, window_size=None) -> int`` multiply-adds of one attention layer.

    Used in chapter 1.
    """
    rng = _rng(seed)
    cases = []
    for _ in range(check_positive_int("trials", trials)):
        window = rng.choice([None, rng.randint(1, 8)])
        unit = window or 1
        H, W = unit * rng.randint(1, 8), unit * rng.randint(1, 8)
        C = rng.choice([16, 32, 96, 128])
        cases.append(
            Case(
                f"H={H}, W={W}, C={C}, window_size={window}",
                (H, W, C, window),
                attention_flops(H, W, C, window),
            )
        )
    return run_cases("check_attention_flops", fn, cases, _flops_hint, verbose)


def _attention_cases(rng: random.Random, trials: int) -> Iterator[Case]:
    for _ in range(check_positive_int("trials", trials)):
        window = rng.randint(2, 4)
        shift = rng.randint(1, window - 1)
        H, W = window * rng.randint(1, 3), window * rng.randint(1, 3)
        B, heads, d = rng.randint(1, 2), rng.randint(1, 3), rng.choice([4, 8])
        N, nW = window * window, (H // window) * (W // window)
        g = generator(rng)
        q, k, v = _random_qkv(g, B * nW, heads, N, d)
        bias = torch.randn(heads, N, N, generator=g, dtype=torch.float64)
        mask = shifted_window_mask(H, W, window, shift)
        expected, _ = window_attention(q, k, v, bias, mask, fused=False)
        yield Case(
            f"q, k, v of shape {tuple(q.shape)} (B={B}, nW={nW}, heads={heads}, N={N}, d={d}), "
            f"bias {tuple(bias.shape)}, mask {tuple(mask.shape)} for a {H}x{W} map "
            f"shifted by {shift}",
            (q, k, v, bias, mask),
            expected,
        )


def _attention_hint(case: Case, received: object) -> str:
    q, k, v, bias, mask = case.args
    if not isinstance(received, torch.Tensor) or received.shape != q.shape:
        return "return (B*nW, heads, N, d): one output per query, per head, per window"
    windows, nW = q.shape[0], mask.shape[0]
    scale = q.shape[-1] ** -0.5
    allowed = mask.repeat(windows // nW, 1, 1)[:, None]
    interleaved = mask.repeat_interleave(windows // nW, dim=0)[:, None]

    def attend(s: float, with_bias: bool, dim: int, allowed_pairs: torch.Tensor) -> torch.Tensor:
        scores = q @ k.transpose(-2, -1) * s + (bias if with_bias else 0)
        scores = scores.masked_fill(~allowed_pairs, float("-inf"))
        return scores.softmax(dim).nan_to_num() @ v

    candidates = {
        "scale the scores by d ** -0.5 (1 / sqrt(head_dim)) before the softmax": lambda: attend(
            1.0, True, -1, allowed
        ),
        "add the relative position bias to the scores before the softmax": lambda: attend(
            scale, False, -1, allowed
        ),
        "take the softmax over the keys (the last dimension), not over the queries": lambda: attend(
            scale, True, -2, allowed
        ),
        "window b * nW + w uses mask[w]: repeat the mask over the batch (mask.repeat), "
        "not each window's mask B times in a row (repeat_interleave)": lambda: attend(
            scale, True, -1, interleaved
        ),
    }
    return first_matching_advice(
        received,
        candidates,
        "softmax(Q K^T * d ** -0.5 + bias, masked pairs at -inf) @ V, per window and head",
    )


def check_window_attention(
    fn: Callable, trials: int = 10, seed: int | None = None, verbose: bool = True
) -> CheckResult:
    """Check ``fn(q, k, v, bias, mask) -> (B*nW, heads, N, d)`` against window attention.

    ``q, k, v``: ``(B*nW, heads, N, d)``; ``bias``: ``(heads, N, N)``; ``mask``:
    bool ``(nW, N, N)``, ``True`` where a query may attend a key. Used in chapter 5.
    """
    cases = list(_attention_cases(_rng(seed), trials))
    return run_cases("check_window_attention", fn, cases, _attention_hint, verbose)


def _neighborhood_cases(rng: random.Random, trials: int) -> Iterator[Case]:
    for _ in range(check_positive_int("trials", trials)):
        kernel, dilation = rng.choice([1, 3, 3, 5]), rng.choice([1, 1, 2])
        H = kernel * dilation + rng.randint(0, 4)
        W = kernel * dilation + rng.randint(0, 4)
        B, heads, d = rng.randint(1, 2), rng.randint(1, 2), rng.choice([4, 8])
        g = generator(rng)
        q, k, v = _random_qkv(g, B, heads, H, W, d)
        yield Case(
            f"q, k, v of shape {(B, heads, H, W, d)} (B, heads, H, W, d), "
            f"kernel_size={kernel}, dilation={dilation}",
            (q, k, v, kernel, dilation),
            neighborhood_attention_2d(q, k, v, kernel, dilation, backend="dense"),
        )


def _neighborhood_hint(case: Case, received: object) -> str:
    q, k, v, kernel, dilation = case.args
    B, heads, H, W, d = q.shape
    flat = [t.reshape(B, heads, H * W, d) for t in (q, k, v)]
    i = torch.arange(H).repeat_interleave(W)
    j = torch.arange(W).repeat(H)
    di, dj = i[:, None] - i[None, :], j[:, None] - j[None, :]
    radius = kernel // 2 * dilation
    truncated = (
        (di.abs() <= radius) & (dj.abs() <= radius) & (di % dilation == 0) & (dj % dilation == 0)
    )
    candidates = {
        "at the borders the window must be shifted inward so every query keeps exactly "
        "kernel_size**2 keys; you cut it off instead (a centred window clipped at the edge)": (
            lambda: masked_attention(*flat, truncated, d**-0.5).reshape(q.shape)
        ),
        "scale the scores by d ** -0.5 before the softmax": lambda: neighborhood_attention_2d(
            q * d**0.5, k, v, kernel, dilation, backend="dense"
        ),
    }
    return first_matching_advice(
        received,
        candidates,
        "each query (i, j) attends the kernel_size x kernel_size keys of its group "
        "(positions with the same index modulo dilation), centred on it where possible and "
        "shifted inward at the borders; scores q.k * d ** -0.5, softmax over those keys",
    )


def check_neighborhood_attention(
    fn: Callable, trials: int = 10, seed: int | None = None, verbose: bool = True
) -> CheckResult:
    """Check ``fn(q, k, v, kernel_size, dilation) -> (B, heads, H, W, d)``.

    ``q, k, v``: ``(B, heads, H, W, d)``; the reference is
    :func:`~swin_tutorial.neighborhood.neighborhood_attention_2d` without bias.
    Used in chapter 8.
    """
    cases = list(_neighborhood_cases(_rng(seed), trials))
    return run_cases("check_neighborhood_attention", fn, cases, _neighborhood_hint, verbose)


def _sliding_cases(rng: random.Random, trials: int) -> Iterator[Case]:
    for trial in range(check_positive_int("trials", trials)):
        causal = trial % 2 == 0
        length, window = rng.randint(4, 24), rng.randint(1, 8)
        B, heads, d = rng.randint(1, 2), rng.randint(1, 2), rng.choice([4, 8])
        g = generator(rng)
        q, k, v = _random_qkv(g, B, heads, length, d)
        yield Case(
            f"q, k, v of shape {(B, heads, length, d)} (B, heads, L, d), window={window}, "
            f"causal={causal}",
            (q, k, v, window, causal),
            sliding_window_attention_1d(q, k, v, window, causal, backend="dense"),
        )


def _sliding_hint(case: Case, received: object) -> str:
    q, k, v, window, causal = case.args
    t = torch.arange(q.shape[2])
    offset = t[:, None] - t[None, :]  # query minus key
    scale = q.shape[-1] ** -0.5

    def attend(allowed: torch.Tensor) -> torch.Tensor:
        return masked_attention(q, k, v, allowed, scale)

    if causal:
        candidates = {
            "you let each query see window + 1 keys (t - window <= s <= t, the convention of "
            "Mistral's reference code); here query t sees t - window < s <= t": lambda: attend(
                (offset >= 0) & (offset <= window)
            ),
            "the causal window must not reach the future: keep only keys s <= t": lambda: attend(
                offset.abs() < window
            ),
        }
    else:
        candidates = {
            "the symmetric band is |t - s| <= window // 2 (window // 2 on each side), "
            "not |t - s| <= window": lambda: attend(offset.abs() <= window),
            "with causal=False the band is symmetric: keys on both sides of the query": lambda: (
                attend((offset >= 0) & (offset < window))
            ),
        }
    candidates["scale the scores by d ** -0.5 before the softmax"] = lambda: (
        sliding_window_attention_1d(q * scale**-1, k, v, window, causal, backend="dense")
    )
    return first_matching_advice(
        received,
        candidates,
        "causal: query t attends keys s with t - window < s <= t; otherwise |t - s| <= "
        "window // 2; scores q.k * d ** -0.5, softmax over the allowed keys",
    )


def check_sliding_window_1d(
    fn: Callable, trials: int = 10, seed: int | None = None, verbose: bool = True
) -> CheckResult:
    """Check ``fn(q, k, v, window, causal) -> (B, heads, L, d)``.

    ``q, k, v``: ``(B, heads, L, d)``; the reference is
    :func:`~swin_tutorial.neighborhood.sliding_window_attention_1d`. Used in chapter 10.
    """
    cases = list(_sliding_cases(_rng(seed), trials))
    return run_cases("check_sliding_window_1d", fn, cases, _sliding_hint, verbose)


def _log_coordinates_hint(case: Case, received: object) -> str:
    expected = case.expected
    if not isinstance(received, torch.Tensor) or received.shape != expected.shape:
        return "return a float tensor (T, 2), T = (2 M_h - 1)(2 M_w - 1), one row per offset"
    wh, ww = to_pair("window_size", case.args[0])
    dh = torch.arange(-(wh - 1), wh, dtype=torch.float64)
    dw = torch.arange(-(ww - 1), ww, dtype=torch.float64)
    offsets = torch.stack(torch.meshgrid(dh, dw, indexing="ij"), dim=-1).reshape(-1, 2)
    scale = torch.tensor([max(wh - 1, 1), max(ww - 1, 1)], dtype=torch.float64)

    def log_map(x: torch.Tensor, log=torch.log2, divisor: float = 3.0) -> torch.Tensor:
        return torch.sign(x) * log(1 + x.abs()) / divisor

    candidates = {
        "divide each offset by the window minus one (M - 1) before scaling it to [-8, 8]": lambda: (
            log_map(offsets * 8)
        ),
        "after normalising to [-1, 1], multiply by 8 before the log": lambda: log_map(
            offsets / scale
        ),
        "use log2 and divide by log2(8) = 3: sign(x) * log2(1 + |x|) / log2(8)": lambda: log_map(
            offsets / scale * 8, torch.log, 1.0
        ),
        "rows are (dh, dw), row-major over dh then dw, like relative_position_index": lambda: (
            log_map(offsets / scale * 8).flip(-1)
        ),
    }
    return first_matching_advice(
        received,
        candidates,
        "offsets (dh, dw) in [-(M-1), M-1], divided by M - 1, times 8, then "
        "sign(x) * log2(1 + |x|) / log2(8)",
    )


def check_log_spaced_coordinates(
    fn: Callable, seed: int | None = None, verbose: bool = True
) -> CheckResult:
    """Check ``fn(window_size) -> float (T, 2)``, Swin V2's log-spaced relative offsets.

    ``window_size`` is ``M`` or ``(M_h, M_w)``; the reference is
    :func:`~swin_tutorial.position.log_spaced_coordinates`. Used in chapter 9.
    """
    rng = _rng(seed)
    sizes: list = [2, 7, 8, (3, 5)] + [(rng.randint(2, 12), rng.randint(2, 12)) for _ in range(4)]
    cases = [
        Case(f"window_size={size!r}", (size,), log_spaced_coordinates(size).double())
        for size in sizes
    ]
    return run_cases("check_log_spaced_coordinates", fn, cases, _log_coordinates_hint, verbose)


def _receptive_field_cases(rng: random.Random, trials: int) -> Iterator[Case]:
    for trial in range(check_positive_int("trials", trials)):
        attention = ("shifted", "window")[trial % 2]
        torch.manual_seed(rng.getrandbits(31))
        model = swin_single_resolution(attention, embed_dim=8).double()
        images = torch.rand(2, 1, 16, 16, generator=generator(rng), dtype=torch.float64)
        query = (rng.randrange(8), rng.randrange(8))
        yield Case(
            f"a random swin_single_resolution({attention!r}, embed_dim=8), images of shape "
            f"{tuple(images.shape)}, query token {query} of the 8x8 output map",
            (model, images, query),
            effective_receptive_field(model, images, query),
        )


def _receptive_field_hint(case: Case, received: object) -> str:
    model, images, (i, j) = case.args
    if not isinstance(received, torch.Tensor) or received.shape != case.expected.shape:
        return "return one value per input pixel: (H, W), here (16, 16)"

    def gradient_of_channel_sum() -> torch.Tensor:
        x = images.detach().clone().requires_grad_(True)
        (grad,) = torch.autograd.grad(model.forward_features(x)[:, i, j, :].sum(), x)
        return grad.sum(dim=1).abs().mean(dim=0)  # one input channel, mean over images

    candidates = {
        "you differentiated the sum of the token's channels: take the norm over channels of "
        "the Jacobian (one gradient per output channel), not the gradient of their sum": (
            gradient_of_channel_sum
        ),
        "average the per-image fields over the batch (mean), do not add them up": lambda: (
            case.expected * images.shape[0]
        ),
    }
    return first_matching_advice(
        received,
        candidates,
        "for each output channel c of token (i, j) of model.forward_features(images), take the "
        "gradient with respect to the images; the field is sqrt(sum over c and input channels "
        "of the squared gradients), averaged over the images; use eval() mode",
    )


def check_effective_receptive_field(
    fn: Callable, trials: int = 4, seed: int | None = None, verbose: bool = True
) -> CheckResult:
    """Check ``fn(model, images, query) -> (H, W)``, the effective receptive field.

    ``model`` has ``forward_features(images) -> (B, h, w, C)``, ``images`` is
    ``(B, C_in, H, W)``, ``query`` an ``(i, j)`` token of the output map; the
    reference is :func:`~swin_tutorial.analysis.effective_receptive_field`.
    Used in chapter 12.
    """
    cases = list(_receptive_field_cases(_rng(seed), trials))
    return run_cases("check_effective_receptive_field", fn, cases, _receptive_field_hint, verbose)
