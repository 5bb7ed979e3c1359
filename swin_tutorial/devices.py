"""Pick the device a reader's machine offers, and read a device name a reader typed."""

from __future__ import annotations

import torch


def _mps_available() -> bool:
    mps = getattr(torch.backends, "mps", None)
    return mps is not None and mps.is_available()


def default_device() -> torch.device:
    """The fastest device available: CUDA, then Apple's MPS, then the CPU."""
    if torch.cuda.is_available():
        return torch.device("cuda")
    if _mps_available():
        return torch.device("mps")
    return torch.device("cpu")


def available_devices() -> tuple[str, ...]:
    """Every name :func:`parse_device` accepts on this machine.

    Always ``"auto"`` (:func:`default_device`) and ``"cpu"``; with an accelerator,
    ``"gpu"`` (the same as ``"auto"``); with CUDA, ``"cuda"`` and ``"cuda:0"``,
    ``"cuda:1"``, ...; with Apple's MPS, ``"mps"``.
    """
    names = ["auto", "cpu"]
    if torch.cuda.is_available() or _mps_available():
        names.append("gpu")
    if torch.cuda.is_available():
        names += ["cuda", *(f"cuda:{index}" for index in range(torch.cuda.device_count()))]
    if _mps_available():
        names.append("mps")
    return tuple(names)


def _why_absent(name: str) -> str:
    """Why a device name the machine does not offer is refused (empty for unknown names)."""
    if name == "gpu":
        return " (no CUDA or MPS device is available)"
    if name == "cuda" or name.startswith("cuda:"):
        if not torch.cuda.is_available():
            return " (torch.cuda.is_available() is False)"
        return f" (this machine has {torch.cuda.device_count()} CUDA device(s))"
    if name == "mps":
        return " (torch.backends.mps.is_available() is False)"
    return ""


def parse_device(name: str) -> torch.device:
    """The device called ``name``, if this machine has it; else ``ValueError``.

    ``name`` is one of :func:`available_devices`: ``"auto"`` and ``"gpu"`` give
    :func:`default_device`. The error names the device, the devices this machine
    offers and, for an absent accelerator, why (e.g. no CUDA), in one line: a
    command line can hand it to ``argparse``.
    """
    if not isinstance(name, str):
        raise TypeError(f"device must be a str, got device={name!r} ({type(name).__name__})")
    available = available_devices()
    if name not in available:
        raise ValueError(
            f"device must be one of {available} on this machine, "
            f"got device={name!r}{_why_absent(name)}"
        )
    if name in ("auto", "gpu"):
        return default_device()
    return torch.device(name)
