"""A small training loop: AdamW, a cosine learning-rate schedule and a progress bar.

:func:`fit` trains any classifier ``images -> logits`` with the cross-entropy
loss and returns a :class:`History` (loss, accuracy and elapsed time per epoch);
:func:`evaluate` measures the loss and accuracy on a loader. On a CPU, with the
same seed and freshly built model and loaders, two runs give the same numbers.

From a shell::

    python -m swin_tutorial.train --data digits --model tiny --epochs 10 --device cuda
"""

from __future__ import annotations

import argparse
import json
import math
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader
from tqdm.auto import tqdm

from ._checks import check_bool, check_choice, check_int, check_positive_int, check_real
from .cli import argument_type, file_to_write, number, positive_int, positive_number
from .config import SWIN_CROSS_WINDOW, SWIN_DIGITS
from .data import cross_window_loaders, digits_loaders
from .devices import parse_device
from .model import SwinTransformer, swin_single_resolution


class Metrics(NamedTuple):
    """Mean cross-entropy loss and accuracy (fraction correct) over a loader."""

    loss: float
    accuracy: float


@dataclass
class History:
    """What :func:`fit` measured, one entry per epoch.

    ``train_loss`` and ``train_accuracy`` average the mini-batches of the epoch
    (the weights change during it); ``val_loss`` and ``val_accuracy`` are
    measured after the epoch by :func:`evaluate`; ``seconds`` is the time since
    the start of training at the end of the epoch.
    """

    epoch: list[int] = field(default_factory=list)
    train_loss: list[float] = field(default_factory=list)
    train_accuracy: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    val_accuracy: list[float] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)

    def as_dict(self) -> dict[str, list]:
        """The history as a dict of lists (e.g. for ``json.dumps`` or a data frame)."""
        return asdict(self)


def _check_model_and_loader(model: object, loader: object, loader_name: str) -> None:
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    if not isinstance(loader, DataLoader):
        raise TypeError(
            f"{loader_name} must be a torch.utils.data.DataLoader, got {type(loader).__name__}"
        )


def _resolve_device(model: nn.Module, device: torch.device | str | None) -> torch.device:
    """``device`` (a name is read by :func:`~swin_tutorial.devices.parse_device`) if given,
    else where the model's parameters are."""
    if isinstance(device, torch.device):
        return device
    if device is not None:
        return parse_device(device)
    parameter = next(model.parameters(), None)
    return parameter.device if parameter is not None else torch.device("cpu")


@torch.no_grad()
def evaluate(
    model: nn.Module, loader: DataLoader, device: torch.device | str | None = None
) -> Metrics:
    """Mean cross-entropy and accuracy of ``model`` over every sample of ``loader``.

    Args:
        model: maps images ``(B, C, H, W)`` to logits ``(B, classes)``; evaluated
            in ``eval()`` mode, and left in the mode it was in.
        loader: yields ``(images, labels)`` with labels ``(B,)`` long.
        device: where to run (default: where the model is).

    Returns:
        :class:`Metrics` ``(loss, accuracy)``, averaged over samples.
    """
    _check_model_and_loader(model, loader, "loader")
    device = _resolve_device(model, device)
    was_training = model.training
    model.eval()
    total_loss, correct, count = 0.0, 0, 0
    for images, labels in loader:
        images, labels = images.to(device), labels.to(device)
        logits = model(images)
        total_loss += F.cross_entropy(logits, labels, reduction="sum").item()
        correct += (logits.argmax(dim=1) == labels).sum().item()
        count += len(labels)
    model.train(was_training)
    if count == 0:
        raise ValueError("loader yielded no samples")
    return Metrics(total_loss / count, correct / count)


def fit(
    model: nn.Module,
    train_loader: DataLoader,
    val_loader: DataLoader,
    epochs: int,
    lr: float,
    device: torch.device | str | None = None,
    progress: bool = True,
    weight_decay: float = 0.05,
    seed: int | None = 0,
) -> History:
    """Train ``model`` with AdamW and a cosine schedule; measure it after every epoch.

    The learning rate starts at ``lr`` and follows half a cosine down to 0 over
    all ``epochs * len(train_loader)`` steps. Biases and normalisation weights
    (parameters with one dimension) get no weight decay.

    Args:
        model: maps images ``(B, C, H, W)`` to logits ``(B, classes)``; moved to ``device``.
        train_loader, val_loader: yield ``(images, labels)``.
        epochs: passes over ``train_loader``.
        lr: peak learning rate.
        device: where to train (default: where the model is).
        progress: show a ``tqdm`` bar (``False``: silent).
        weight_decay: AdamW's decoupled weight decay.
        seed: a non-negative int that seeds torch's global generator first (dropout,
            stochastic depth); ``None`` leaves it alone. Shuffling belongs to the loader (see
            :func:`~swin_tutorial.data.make_loader`).

    Returns:
        a :class:`History` with one entry per epoch.
    """
    _check_model_and_loader(model, train_loader, "train_loader")
    _check_model_and_loader(model, val_loader, "val_loader")
    epochs = check_positive_int("epochs", epochs)
    lr = check_real("lr", lr, 0.0, low_open=True)
    weight_decay = check_real("weight_decay", weight_decay, 0.0)
    progress = check_bool("progress", progress)
    if seed is not None:
        seed = check_int("seed", seed, minimum=0)
    device = _resolve_device(model, device)
    if len(train_loader) == 0:
        raise ValueError("train_loader yields no batches")
    if seed is not None:
        torch.manual_seed(seed)
    model.to(device)
    decay = [p for p in model.parameters() if p.requires_grad and p.dim() > 1]
    no_decay = [p for p in model.parameters() if p.requires_grad and p.dim() <= 1]
    optimizer = torch.optim.AdamW(
        [
            {"params": decay, "weight_decay": weight_decay},
            {"params": no_decay, "weight_decay": 0.0},
        ],
        lr=lr,
    )
    steps = epochs * len(train_loader)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: 0.5 * (1.0 + math.cos(math.pi * step / steps))
    )
    history = History()
    start = time.perf_counter()
    bar = tqdm(total=steps, disable=not progress, desc="training", unit="step")
    for epoch in range(1, epochs + 1):
        model.train()
        total_loss, correct, count = 0.0, 0, 0
        for images, labels in train_loader:
            images, labels = images.to(device), labels.to(device)
            logits = model(images)
            loss = F.cross_entropy(logits, labels)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
            total_loss += loss.item() * len(labels)
            correct += (logits.argmax(dim=1) == labels).sum().item()
            count += len(labels)
            bar.update()
        val = evaluate(model, val_loader, device)
        history.epoch.append(epoch)
        history.train_loss.append(total_loss / count)
        history.train_accuracy.append(correct / count)
        history.val_loss.append(val.loss)
        history.val_accuracy.append(val.accuracy)
        history.seconds.append(time.perf_counter() - start)
        bar.set_postfix(
            epoch=epoch, loss=f"{total_loss / count:.3f}", val_acc=f"{val.accuracy:.3f}"
        )
    bar.close()
    return history


# --------------------------------------------------------------------------- command line

MODELS = ("tiny", "shifted", "window", "global", "neighborhood")
DATASETS = ("digits", "cross-window")


def build_model(name: str, data: str) -> nn.Module:
    """A model for ``data``: ``"tiny"`` is :data:`~swin_tutorial.config.SWIN_DIGITS`
    or :data:`~swin_tutorial.config.SWIN_CROSS_WINDOW` (two stages, patch merging);
    the others are :func:`~swin_tutorial.model.swin_single_resolution` with that attention.
    """
    check_choice("model", name, MODELS)
    check_choice("data", data, DATASETS)
    if name == "tiny":
        if data == "digits":
            return SwinTransformer.from_config(SWIN_DIGITS)
        return SwinTransformer.from_config(SWIN_CROSS_WINDOW)
    if data == "digits":  # a 4x4 token map: windows of 2, neighbourhoods of 3
        return swin_single_resolution(
            name, kernel_size=3, img_size=16, patch_size=4, window_size=2, num_classes=10
        )
    return swin_single_resolution(name)


def build_loaders(
    data: str, batch_size: int, seed: int, limit: int | None = None
) -> tuple[DataLoader, DataLoader]:
    """Train and test loaders for ``data``; ``limit`` caps the samples of each split."""
    check_choice("data", data, DATASETS)
    if limit is not None:
        check_positive_int("limit", limit)
    if data == "digits":
        return digits_loaders(
            batch_size=batch_size, size=SWIN_DIGITS.img_size, seed=seed, limit=limit
        )
    layouts = (256, 64) if limit is None else (max(1, limit // 4),) * 2
    return cross_window_loaders(*layouts, batch_size=batch_size, seed=seed)


def main(argv: Sequence[str] | None = None) -> History:
    """Command-line entry point: train one model on one data set and print its history."""
    parser = argparse.ArgumentParser(
        prog="python -m swin_tutorial.train",
        description="Train a small Swin (or a variant) on data that needs no network.",
    )
    parser.add_argument("--data", choices=DATASETS, default="digits")
    parser.add_argument("--model", choices=MODELS, default="tiny")
    parser.add_argument("--epochs", type=positive_int("epochs"), default=10)
    parser.add_argument("--lr", type=positive_number("lr"), default=3e-3)
    parser.add_argument("--batch", type=positive_int("batch"), default=32, help="batch size")
    parser.add_argument(
        "--device",
        type=argument_type(parse_device),
        default="auto",
        help="auto, cpu, gpu, cuda, cuda:N or mps (default: auto, the fastest available)",
    )
    parser.add_argument("--seed", type=number("seed", int, check_int, minimum=0), default=0)
    parser.add_argument(
        "--limit",
        type=positive_int("limit"),
        default=None,
        help="use at most this many samples per split",
    )
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    parser.add_argument(
        "--save",
        type=file_to_write("save"),
        default=None,
        help="write the trained weights (state dict) to this file (checked before training)",
    )
    args = parser.parse_args(argv)  # every option is checked here, before any work

    device = args.device
    torch.manual_seed(args.seed)
    model = build_model(args.model, args.data)
    train_loader, test_loader = build_loaders(args.data, args.batch, args.seed, args.limit)
    history = fit(
        model,
        train_loader,
        test_loader,
        args.epochs,
        args.lr,
        device,
        progress=not args.no_progress,
        seed=args.seed,
    )
    for i, epoch in enumerate(history.epoch):
        print(
            f"epoch {epoch:>3}  "
            f"train loss {history.train_loss[i]:.4f}  acc {history.train_accuracy[i]:.3f}  "
            f"test loss {history.val_loss[i]:.4f}  acc {history.val_accuracy[i]:.3f}  "
            f"{history.seconds[i]:.1f} s"
        )
    print(
        json.dumps(
            {"data": args.data, "model": args.model, "device": str(device), **history.as_dict()}
        )
    )
    if args.save is not None:
        torch.save(model.state_dict(), args.save)
    return history


if __name__ == "__main__":
    main()
