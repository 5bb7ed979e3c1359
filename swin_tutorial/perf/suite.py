"""What the scaling, kernel and model suites share: names, skips, inputs, the measurement."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import torch

from ..backends import flex_attention_available
from .rows import Check, Precision, Row, measured_row, skipped_row


def is_out_of_memory(error: BaseException) -> bool:
    """Whether ``error`` says the device (CUDA, or the CPU's allocator) ran out of memory."""
    if isinstance(error, torch.OutOfMemoryError):
        return True
    return isinstance(error, RuntimeError) and "can't allocate memory" in str(error)


def release_memory(device: torch.device) -> None:
    """Hand cached CUDA memory back between variants (nothing to do elsewhere)."""
    if device.type == "cuda":
        torch.cuda.empty_cache()


def progress_bar(items: Sequence, progress: bool, desc: str) -> Iterable:
    """``items`` behind a tqdm bar, or bare when ``progress`` is off."""
    from tqdm.auto import tqdm

    return tqdm(items, desc=desc, disable=not progress, leave=False)


def check_names(name: str, given: Sequence[str] | None, known: Sequence[str]) -> tuple[str, ...]:
    """``given`` as a tuple if it is a non-empty subset of ``known``; ``None`` means all of them."""
    if given is None:
        return tuple(known)
    if isinstance(given, str):
        raise TypeError(f"{name} must be a sequence of names, got the string {name}={given!r}")
    if not given or any(g not in known for g in given):
        raise ValueError(
            f"{name} must be a non-empty subset of {tuple(known)}, got {name}={tuple(given)}"
        )
    return tuple(given)


def flex_skip_reason(device: torch.device, flex_on_cpu: bool) -> str | None:
    """Why FlexAttention is not timed here, or ``None`` if it is."""
    if not flex_attention_available():
        return f"this torch ({torch.__version__}) has no FlexAttention"
    if device.type != "cuda" and not flex_on_cpu:
        return "FlexAttention is fused only on CUDA (--flex-on-cpu to run it unfused)"
    return None


def timm_skip_reason() -> str | None:
    """Why timm's variants are not run here, or ``None`` if timm is installed."""
    try:
        import timm  # noqa: F401
    except ImportError:
        return "timm is not installed"
    return None


def memory_measurable(backend: str, device: torch.device, compiled: bool = False) -> bool:
    """Whether peak memory can be measured: always on CUDA, off it not for flex or compiled code.

    The CPU counter sees operators one by one; it cannot look inside
    FlexAttention or a compiled function, so those rows stay unmeasured.
    """
    return device.type == "cuda" or (backend != "flex" and not compiled)


def random_generator(seed: int) -> torch.Generator:
    """A CPU generator seeded with ``seed`` (the caller's random state is untouched)."""
    return torch.Generator().manual_seed(seed)


def randn(generator: torch.Generator, *shape: int, device: torch.device) -> torch.Tensor:
    """Standard normals drawn on the CPU (the same on every device), moved to ``device``."""
    return torch.randn(*shape, generator=generator).to(device)


class TimmFusedAttention:
    """Context manager: timm's fused-attention level while models are built.

    ``True``: level 2, at which timm's Swin calls ``F.scaled_dot_product_attention``
    (as ``TIMM_FUSED_ATTN=2``); ``False``: level 1, timm's default, explicit
    softmax in Swin. The previous level is restored.
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


def variant_names(variants: Sequence[str], compile: bool) -> list[str]:
    """``variants`` in order, each followed by its ``"+compile"`` name when ``compile`` is on.

    FlexAttention variants (``".../flex"``) are compiled already and get no second name.
    """
    names = []
    for variant in variants:
        names.append(variant)
        if compile and not variant.endswith("flex"):
            names.append(f"{variant}+compile")
    return names


@dataclass(frozen=True)
class Measurement:
    """How a suite measures each of its variants: device, dtype, timing and memory settings.

    ``memory`` asks for peak memory wherever :func:`memory_measurable` allows it.
    """

    device: torch.device
    dtype: torch.dtype
    min_run_time: float = 0.2
    num_threads: int | None = None
    memory: bool = True

    def __call__(
        self,
        case: Row,
        checks: Callable[[], Sequence[Check]],
        timed_fn: Callable[..., object],
        time_args: tuple,
        backend: str,
        compiled: bool = False,
        grad: bool = False,
    ) -> Row:
        """Run ``checks()``, then :func:`measured_row` of ``timed_fn(*time_args)``, in ``dtype``.

        ``backend`` and ``compiled`` say whether memory is measurable; ``grad``
        keeps autograd on (a training step). Running out of memory gives a
        skipped row.
        """
        memory = self.memory and memory_measurable(backend, self.device, compiled)
        try:
            with Precision(self.device, self.dtype), torch.set_grad_enabled(grad):
                return measured_row(
                    case,
                    checks(),
                    timed_fn,
                    *time_args,
                    min_run_time=self.min_run_time,
                    num_threads=self.num_threads,
                    memory=memory,
                )
        except (torch.OutOfMemoryError, RuntimeError) as error:
            if not is_out_of_memory(error):
                raise
            release_memory(self.device)
            return skipped_row(case, "out of memory")
