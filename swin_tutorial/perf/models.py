"""Suite 3: whole Swin models, the package's against timm's and torchvision's, same weights."""

from __future__ import annotations

import copy
import functools
import statistics
from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from .._checks import check_choice, check_positive_int, to_pair
from ..complexity import count_macs
from ..config import SWIN_NANO, SWIN_T, SwinConfig
from ..model import SwinTransformer, timm_to_torchvision_swin
from .rows import Check, Precision, Row, check_close, dtype_name, skipped_row, tolerance
from .suite import (
    Measurement,
    TimmFusedAttention,
    check_names,
    progress_bar,
    randn,
    random_generator,
    release_memory,
    timm_skip_reason,
)
from .timing import time_callable

MODEL_CONFIGS: dict[str, SwinConfig] = {
    "swin_t": SWIN_T.replace(drop_path_rate=0.0),
    "nano": SWIN_NANO.replace(in_chans=3),  # RGB images: torchvision's Swin takes no other
}
"""Architectures :func:`run_model` builds in all three libraries, stochastic depth off so
that a training step is deterministic and can be checked."""

MODEL_VARIANTS = (
    "package/sdpa",
    "package/explicit",
    "timm/explicit",
    "timm/sdpa",
    "torchvision/explicit",
)
"""``library/attention`` names of the models :func:`run_model` compares (``timm/sdpa``:
timm's Swin at fused-attention level 2; torchvision's Swin always writes the softmax out)."""

MODEL_MODES = ("inference", "train")


TIMM_ARGUMENTS = (
    "img_size",
    "patch_size",
    "in_chans",
    "num_classes",
    "embed_dim",
    "depths",
    "num_heads",
    "window_size",
    "mlp_ratio",
    "qkv_bias",
    "drop_rate",
    "attn_drop_rate",
    "drop_path_rate",
)
"""The fields of :class:`SwinConfig` that timm's ``SwinTransformer`` takes by the same name."""


def _torchvision_swin(config: SwinConfig) -> nn.Module | None:
    """torchvision's ``SwinTransformer`` for ``config``, or ``None`` without torchvision."""
    try:
        from torchvision.models.swin_transformer import SwinTransformer as TorchvisionSwin
    except ImportError:
        return None
    return TorchvisionSwin(
        patch_size=[config.patch_size] * 2,
        embed_dim=config.embed_dim,
        depths=list(config.depths),
        num_heads=list(config.num_heads),
        window_size=list(to_pair("window_size", config.window_size)),
        mlp_ratio=config.mlp_ratio,
        dropout=config.drop_rate,
        attention_dropout=config.attn_drop_rate,
        stochastic_depth_prob=config.drop_path_rate,
        num_classes=config.num_classes,
    )


def swin_models(config: str = "swin_t", seed: int = 0) -> dict[str, nn.Module]:
    """The same Swin with the same weights from this package, timm and torchvision.

    ``config`` names one of :data:`MODEL_CONFIGS`. Keys: the :data:`MODEL_VARIANTS`
    whose library is installed. On the CPU, in eval mode. Used in chapter 11.
    """
    cfg = MODEL_CONFIGS[check_choice("config", config, MODEL_CONFIGS)]
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        package = SwinTransformer.from_config(cfg, fused=True).eval()
    state = package.state_dict()
    explicit = copy.deepcopy(package)
    for module in explicit.modules():
        if hasattr(module, "fused"):
            module.fused = False
    models: dict[str, nn.Module] = {"package/sdpa": package, "package/explicit": explicit}
    if timm_skip_reason() is None:
        from timm.models.swin_transformer import SwinTransformer as TimmSwin

        for fused in (False, True):
            with TimmFusedAttention(fused):
                timm_model = TimmSwin(**{name: getattr(cfg, name) for name in TIMM_ARGUMENTS})
            timm_model.load_state_dict(state, strict=True)
            models["timm/sdpa" if fused else "timm/explicit"] = timm_model.eval()
    torchvision_model = _torchvision_swin(cfg)
    if torchvision_model is not None:
        renamed = {**torchvision_model.state_dict(), **timm_to_torchvision_swin(state)}
        torchvision_model.load_state_dict(renamed, strict=True)
        models["torchvision/explicit"] = torchvision_model.eval()
    return {name: models[name] for name in MODEL_VARIANTS if name in models}


def matmul_flops_per_second(
    device: torch.device | str = "cpu",
    dtype: torch.dtype = torch.bfloat16,
    size: int | None = None,
    min_run_time: float = 0.2,
    num_threads: int | None = None,
) -> float:
    """Measured FLOP/s of a square ``size x size`` matmul in ``dtype`` (``2 n^3`` per product).

    The yardstick of model FLOP utilisation; ``size`` defaults to 8192 on CUDA
    and 1024 elsewhere. Used in chapter 11.
    """
    device = torch.device(device)
    tolerance(dtype)  # validates the dtype
    n = check_positive_int(
        "size", size if size is not None else 8192 if device.type == "cuda" else 1024
    )
    generator = random_generator(0)
    a = torch.randn(n, n, generator=generator).to(device=device, dtype=dtype)
    b = torch.randn(n, n, generator=generator).to(device=device, dtype=dtype)
    seconds = time_callable(torch.mm, a, b, min_run_time=min_run_time, num_threads=num_threads)
    return 2 * n**3 / seconds


def training_step(
    model: nn.Module, forward: Callable[[torch.Tensor], torch.Tensor] | None = None
) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    """``step(images, labels)``: forward (``forward``, default ``model``), cross-entropy, backward.

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


def input_gradient(
    model: Callable[[torch.Tensor], torch.Tensor], images: torch.Tensor, labels: torch.Tensor
) -> torch.Tensor:
    """Gradient of the cross-entropy loss with respect to ``images``: the whole backward pass."""
    images = images.detach().requires_grad_(True)
    loss = F.cross_entropy(model(images).float(), labels)
    (grad,) = torch.autograd.grad(loss, images)
    return grad


def time_in_rounds(
    timed: Sequence[tuple[Row, Callable[..., object], tuple]],
    rounds: int,
    device: torch.device,
    dtype: torch.dtype,
    min_run_time: float,
    num_threads: int | None,
) -> None:
    """Time each ``(row, fn, args)`` ``rounds - 1`` times more, round-robin; keep the median turn.

    A machine's speed drifts; taking turns times every model early and late
    alike. A row's first turn is the ``seconds`` it holds; ``mode == "train"``
    rows run with gradients.
    """
    turns = {id(row): [row["seconds"]] for row, _, _ in timed}
    for _ in range(rounds - 1):
        for row, fn, args in timed:
            with Precision(device, dtype), torch.set_grad_enabled(row.get("mode") == "train"):
                seconds = time_callable(
                    fn, *args, min_run_time=min_run_time, num_threads=num_threads
                )
            turns[id(row)].append(seconds)
    for row, _, _ in timed:
        row["seconds"] = statistics.median(turns[id(row)])


def _model_case(
    variant: str, compiled: bool, mode: str, config: str, batch: int, dtype: str
) -> Row:
    implementation, attention = variant.split("/")
    return {
        "benchmark": "model",
        "variant": variant + ("+compile" if compiled else ""),
        "implementation": implementation,
        "attention": attention,
        "compiled": compiled,
        "mode": mode,
        "config": config,
        "image_size": MODEL_CONFIGS[config].img_size,
        "batch": batch,
        "dtype": dtype,
    }


def _add_throughput(
    rows: list[Row], macs: int, batch: int, matmul_rate: float, rounds: int
) -> None:
    """Add ``gflop_per_image``, ``matmul_tflops``, ``images_per_s``, ``mfu`` and ``rounds``."""
    for row in rows:
        flop = 2 * macs * (3 if row["mode"] == "train" else 1)
        row["gflop_per_image"] = flop / 1e9
        row["matmul_tflops"] = matmul_rate / 1e12
        row["images_per_s"] = batch / row["seconds"] if row["seconds"] else None
        row["mfu"] = row["images_per_s"] * flop / matmul_rate if row["images_per_s"] else None
        row["rounds"] = rounds


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
    matmul_rate: float | None = None,
    rounds: int = 1,
) -> list[Row]:
    """Throughput and peak memory of whole Swin models (:func:`swin_models`): inference, training.

    Each model is first checked on fresh images against timm's explicit model
    (the package's without timm) in float64: its logits in ``dtype``, and for a
    training step the loss's gradient with respect to the images, in float32
    whatever ``dtype``. ``rounds > 1`` times the checked models in turns
    (:func:`time_in_rounds`); ``matmul_rate`` (FLOP/s, default measured now by
    :func:`matmul_flops_per_second`) is the yardstick of ``mfu``. Other
    arguments as in :func:`run_scaling`. Used in chapter 11.
    """
    device = torch.device(device)
    dtype_label = dtype_name(dtype)
    batch = check_positive_int("batch", batch)
    rounds = check_positive_int("rounds", rounds)
    modes = check_names("modes", modes, MODEL_MODES)
    models = swin_models(config, seed)
    variants = check_names("variants", variants, MODEL_VARIANTS)
    size, classes = MODEL_CONFIGS[config].img_size, MODEL_CONFIGS[config].num_classes
    generator = random_generator(seed + 1)
    check_images = randn(generator, 2, 3, size, size, device=device)
    check_labels = torch.randint(0, classes, (2,), generator=generator).to(device)
    images = randn(generator, batch, 3, size, size, device=device)
    labels = torch.randint(0, classes, (batch,), generator=generator).to(device)
    reference = copy.deepcopy(models.get("timm/explicit", models["package/explicit"]))
    reference.to(device=device, dtype=torch.float64)
    macs = count_macs(models["package/sdpa"], torch.zeros(1, 3, size, size))
    if matmul_rate is None:
        matmul_rate = matmul_flops_per_second(
            device, dtype, min_run_time=min_run_time, num_threads=num_threads
        )

    @functools.cache
    def expected(what: str) -> torch.Tensor:
        with Precision(device, torch.float32):
            if what == "logits":
                with torch.no_grad():
                    return reference(check_images.double())
            return input_gradient(reference, check_images.double(), check_labels)

    def checks(forward: Callable[[torch.Tensor], torch.Tensor], mode: str) -> list[Check]:
        found = [check_close(forward(check_images), expected("logits"), dtype)]
        if mode == "train":
            with Precision(device, torch.float32):
                gradient = input_gradient(forward, check_images, check_labels)
            found.append(check_close(gradient, expected("gradient"), torch.float32))
        return found

    measure = Measurement(device, dtype, min_run_time / rounds, num_threads, memory)
    names = [(v, False) for v in variants] + ([(v, True) for v in variants] if compile else [])
    rows, timed = [], []
    cases = [(v, compiled, mode) for v, compiled in names for mode in modes]
    for variant, compiled, mode in progress_bar(cases, progress, "model"):
        case = _model_case(variant, compiled, mode, config, batch, dtype_label)
        if variant not in models:
            rows.append(skipped_row(case, f"{case['implementation']} is not installed"))
            continue
        model = copy.deepcopy(models[variant]).to(device)
        model.train(mode == "train")
        forward = torch.compile(model) if compiled else model
        if mode == "inference":
            fn, args = forward, (images,)
        else:
            fn, args = training_step(model, forward), (images, labels)
        case_checks = functools.partial(checks, forward, mode)
        grad = mode == "train"
        row = measure(case, case_checks, fn, args, case["attention"], compiled, grad)
        rows.append(row)
        if row["seconds"] is not None and rounds > 1:
            timed.append((row, fn, args))
        del model, forward, fn
        release_memory(device)
    time_in_rounds(timed, rounds, device, dtype, min_run_time / rounds, num_threads)
    _add_throughput(rows, macs, batch, matmul_rate, rounds)
    return rows
