"""Which implementation a local-attention call runs, and the FlexAttention plumbing they share.

Neighbourhood attention (chapter 8) and the 1-D sliding window (chapter 10)
each have three implementations with the same numbers:

* ``"dense"``: the full ``T x T`` score matrix with a mask. Memory grows as
  ``T ** 2``: a reference, and the fastest path for small inputs.
* ``"flex"``: FlexAttention (``torch.nn.attention.flex_attention``, torch >= 2.5),
  one fused kernel on CUDA that skips the blocks the mask empties.
* a path whose memory grows linearly with ``T`` on any device: ``"gather"``
  (2-D) or ``"blocked"`` (1-D).

``"auto"`` (:func:`resolve_backend`) never picks the dense path for a large
input: dense only while its score matrix holds at most
:data:`DENSE_AUTO_MAX_SCORES` entries, otherwise FlexAttention on CUDA and the
linear path elsewhere.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import torch

from ._checks import check_choice, check_int

#: Backends every local attention accepts; each adds its own linear-memory one.
BACKENDS = ("auto", "dense", "flex")
#: ``"auto"`` runs the dense path only while ``B * heads * T * T`` is at most this (2 ** 24,
#: 64 MiB of float32 scores).
DENSE_AUTO_MAX_SCORES = 2**24


def flex_attention_available() -> bool:
    """Whether this torch has FlexAttention (``torch.nn.attention.flex_attention``, >= 2.5)."""
    try:
        from torch.nn.attention import flex_attention  # noqa: F401
    except ImportError:
        return False
    return True


def resolve_backend(
    backend: str, device: torch.device | str, dense_scores: int, linear: str
) -> str:
    """The implementation a call will run: ``"dense"``, ``"flex"`` or ``linear``.

    ``"auto"`` picks ``"dense"`` when ``dense_scores`` (the entries of the dense
    score matrix, ``B * heads * T * T``) is at most :data:`DENSE_AUTO_MAX_SCORES`;
    above, FlexAttention on CUDA when torch has it (fused, scores never stored)
    and ``linear`` (memory linear in ``T``) elsewhere: on a CPU FlexAttention runs
    unfused. Any other name is run as asked; ``"flex"`` raises if torch lacks it.

    Args:
        backend: ``"auto"``, ``"dense"``, ``"flex"`` or ``linear``.
        device: where the tensors live.
        dense_scores: ``B * heads * T * T`` of the call.
        linear: the name of the caller's linear-memory backend.
    """
    check_choice("backend", backend, (*BACKENDS, linear))
    check_int("dense_scores", dense_scores, minimum=0)
    if backend == "flex" and not flex_attention_available():
        raise ValueError(
            f"backend='flex' needs torch >= 2.5 with FlexAttention, have {torch.__version__}"
        )
    if backend != "auto":
        return backend
    if dense_scores <= DENSE_AUTO_MAX_SCORES:
        return "dense"
    on_cuda = torch.device(device).type == "cuda"
    return "flex" if on_cuda and flex_attention_available() else linear


@functools.cache
def compiled_flex_attention() -> Callable:
    """``flex_attention`` compiled once (``dynamic=False``): the fused kernel on CUDA."""
    from torch.nn.attention.flex_attention import flex_attention

    return torch.compile(flex_attention, dynamic=False)


@functools.cache
def compiled_create_block_mask() -> Callable:
    """``create_block_mask`` compiled once: builds the block mask without a ``T x T`` mask."""
    from torch.nn.attention.flex_attention import create_block_mask

    return torch.compile(create_block_mask, dynamic=False)


def flex_masked_attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    mask_mod: Callable,
    score_mod: Callable | None,
) -> torch.Tensor:
    """FlexAttention over ``(B, heads, T, d)`` with a block mask built from ``mask_mod``.

    On CUDA both the block mask and the attention are compiled; elsewhere they
    run in eager mode (same numbers, the eager block mask holds ``T x T`` bools).
    """
    from torch.nn.attention.flex_attention import create_block_mask, flex_attention

    T = q.shape[2]
    if q.device.type == "cuda":
        block_mask = compiled_create_block_mask()(mask_mod, None, None, T, T, device=q.device)
        return compiled_flex_attention()(q, k, v, score_mod=score_mod, block_mask=block_mask)
    block_mask = create_block_mask(mask_mod, None, None, T, T, device=q.device)
    return flex_attention(q, k, v, score_mod=score_mod, block_mask=block_mask)
