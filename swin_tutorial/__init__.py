"""swin_tutorial: sliding-window attention, written to be read and checked.

Every public function states its tensor shapes; feature maps are channels-last
``(B, H, W, C)`` and windows ``(B * nW, N, C)``.
"""

from .attention import CosineWindowAttention, WindowAttention, window_attention
from .bench import peak_memory_bytes, time_callable
from .devices import default_device
from .model import (
    PatchEmbed,
    PatchMerging,
    SwinBlock,
    SwinStage,
    SwinTransformer,
    SwinV2Block,
    load_timm_state_dict,
    swin_nano,
    swin_t,
    swinv2_t,
)
from .neighborhood import neighborhood_mask
from .patterns import (
    global_pattern,
    neighborhood_pattern,
    receptive_field,
    shifted_window_pattern,
    window_pattern,
)
from .position import relative_position_index
from .windows import (
    crop_to,
    cyclic_shift,
    pad_to_window_multiple,
    region_ids,
    reverse_cyclic_shift,
    shifted_window_mask,
    window_partition,
    window_reverse,
)

__all__ = [
    "PatchEmbed",
    "PatchMerging",
    "SwinBlock",
    "SwinStage",
    "SwinTransformer",
    "SwinV2Block",
    "CosineWindowAttention",
    "WindowAttention",
    "crop_to",
    "cyclic_shift",
    "default_device",
    "global_pattern",
    "load_timm_state_dict",
    "neighborhood_mask",
    "neighborhood_pattern",
    "peak_memory_bytes",
    "pad_to_window_multiple",
    "receptive_field",
    "region_ids",
    "relative_position_index",
    "reverse_cyclic_shift",
    "shifted_window_mask",
    "shifted_window_pattern",
    "swin_nano",
    "swin_t",
    "swinv2_t",
    "time_callable",
    "window_attention",
    "window_partition",
    "window_pattern",
    "window_reverse",
]

__version__ = "0.1.0"
