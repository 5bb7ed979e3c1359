"""Model configurations: one frozen dataclass and the named Swins of the book.

A :class:`SwinConfig` holds every argument of
:class:`~swin_tutorial.model.SwinTransformer`; ``SwinTransformer.from_config``
builds the model. Variants are made with :meth:`SwinConfig.replace`, so each
fact (Swin-T's depths, the digits model's patch size) is written once here, and
the factories of :mod:`swin_tutorial.model` and the benchmark configurations
derive from these values.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class SwinConfig:
    """Arguments of :class:`~swin_tutorial.model.SwinTransformer`; the defaults are Swin-T.

    Checked when the model is built, not here.
    """

    img_size: int | tuple[int, int] = 224
    patch_size: int = 4
    in_chans: int = 3
    num_classes: int = 1000
    embed_dim: int = 96
    depths: tuple[int, ...] = (2, 2, 6, 2)
    num_heads: tuple[int, ...] = (3, 6, 12, 24)
    window_size: int | tuple[int, int] = 7
    mlp_ratio: float = 4.0
    qkv_bias: bool = True
    drop_path_rate: float = 0.1
    drop_rate: float = 0.0
    attn_drop_rate: float = 0.0
    fused: bool = True
    version: int = 1
    attention: str = "shifted"
    init_std: float | None = 0.02

    def replace(self, **changes: Any) -> SwinConfig:
        """A copy with ``changes``; an unknown field raises ``TypeError``."""
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """The keyword arguments of ``SwinTransformer``."""
        return {field.name: getattr(self, field.name) for field in dataclasses.fields(self)}


#: Swin-T (Liu et al., 2021; timm's ``swin_tiny_patch4_window7_224``).
SWIN_T = SwinConfig()

#: Swin V2-T at 256x256 in windows of 8 (timm's ``swinv2_tiny_window8_256``).
SWINV2_T = SWIN_T.replace(img_size=256, window_size=8, drop_path_rate=0.2, version=2)

#: A two-stage Swin that runs, and trains, on a laptop CPU: 32x32 single-channel
#: images in patches of 2 (a 16x16 token map), windows of 4, 32 and 64 channels.
SWIN_NANO = SwinConfig(
    img_size=32,
    patch_size=2,
    in_chans=1,
    num_classes=10,
    embed_dim=32,
    depths=(2, 2),
    num_heads=(2, 4),
    window_size=4,
    drop_path_rate=0.0,
)

#: :data:`SWIN_NANO` for scikit-learn's digits at 16x16 (chapter 12): patches of 4
#: pixels (a token covers 2x2 pixels of the 8x8 digit), a 4x4 token map in windows
#: of 2, PyTorch's fan-in initialisation.
SWIN_DIGITS = SWIN_NANO.replace(img_size=16, patch_size=4, window_size=2, init_std=None)

#: :data:`SWIN_NANO` for the cross-window task (chapter 12): 16x16 images in patches
#: of 2 (an 8x8 token map in windows of 4), two classes, fan-in initialisation.
SWIN_CROSS_WINDOW = SWIN_NANO.replace(img_size=16, num_classes=2, init_std=None)

#: One stage at one resolution (chapter 12's shift experiment): 16x16 single-channel
#: images in patches of 2 (an 8x8 token map), windows of 4, 2 blocks of 16 channels,
#: 2 heads, MLP ratio 2, 2 classes, fan-in initialisation.
SWIN_SINGLE_RESOLUTION = SwinConfig(
    img_size=16,
    patch_size=2,
    in_chans=1,
    num_classes=2,
    embed_dim=16,
    depths=(2,),
    num_heads=(2,),
    window_size=4,
    mlp_ratio=2.0,
    drop_path_rate=0.0,
    init_std=None,
)
