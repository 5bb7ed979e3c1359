"""swin_tutorial: sliding-window attention, written to be read and checked.

Every public function states its tensor shapes; feature maps are channels-last
``(B, H, W, C)`` and windows ``(B * nW, N, C)``.
"""

from . import check
from .attention import CosineWindowAttention, WindowAttention, window_attention
from .blocks import NeighborhoodBlock, SwinBlock, SwinV2Block
from .config import SWIN_DIGITS, SWIN_NANO, SWIN_T, SWINV2_T, SwinConfig
from .data import cross_window_dataset, cross_window_loaders, digits_loaders, load_digits
from .decoder import SlidingWindowDecoder
from .devices import default_device
from .model import (
    PatchEmbed,
    PatchMerging,
    SwinStage,
    SwinTransformer,
    load_timm_state_dict,
    swin_nano,
    swin_single_resolution,
    swin_t,
    swinv2_t,
)
from .neighborhood import NeighborhoodAttention2D, neighborhood_attention_2d, neighborhood_mask
from .patterns import (
    global_pattern,
    halo_pattern,
    layers_to_cover,
    neighborhood_pattern,
    overlapping_window_pattern,
    pattern_cost,
    receptive_field,
    receptive_field_sizes,
    shifted_window_pattern,
    window_pattern,
)
from .perf import peak_memory_bytes, time_callable
from .position import log_spaced_coordinates, relative_position_index
from .sliding import (
    FullKVCache,
    RollingKVCache,
    longformer_mask,
    sliding_window_attention_1d,
    sliding_window_mask,
)
from .windows import (
    WindowLayout,
    crop_to,
    cyclic_shift,
    effective_window_and_shift,
    map_to_windows,
    pad_to_window_multiple,
    region_ids,
    reverse_cyclic_shift,
    shifted_window_mask,
    window_layout,
    window_partition,
    window_reverse,
    window_token_ids,
    windows_to_map,
)

__all__ = [
    "SWIN_DIGITS",
    "SWIN_NANO",
    "SWIN_T",
    "SWINV2_T",
    "SwinConfig",
    "WindowLayout",
    "effective_window_and_shift",
    "map_to_windows",
    "window_layout",
    "window_token_ids",
    "windows_to_map",
    "CosineWindowAttention",
    "FullKVCache",
    "NeighborhoodAttention2D",
    "NeighborhoodBlock",
    "PatchEmbed",
    "PatchMerging",
    "RollingKVCache",
    "SlidingWindowDecoder",
    "SwinBlock",
    "SwinStage",
    "SwinTransformer",
    "SwinV2Block",
    "WindowAttention",
    "check",
    "crop_to",
    "cross_window_dataset",
    "cross_window_loaders",
    "cyclic_shift",
    "default_device",
    "digits_loaders",
    "global_pattern",
    "halo_pattern",
    "layers_to_cover",
    "load_digits",
    "load_timm_state_dict",
    "log_spaced_coordinates",
    "longformer_mask",
    "neighborhood_attention_2d",
    "neighborhood_mask",
    "neighborhood_pattern",
    "overlapping_window_pattern",
    "pad_to_window_multiple",
    "pattern_cost",
    "peak_memory_bytes",
    "receptive_field",
    "receptive_field_sizes",
    "region_ids",
    "relative_position_index",
    "reverse_cyclic_shift",
    "shifted_window_mask",
    "shifted_window_pattern",
    "sliding_window_attention_1d",
    "sliding_window_mask",
    "swin_nano",
    "swin_single_resolution",
    "swin_t",
    "swinv2_t",
    "time_callable",
    "window_attention",
    "window_partition",
    "window_pattern",
    "window_reverse",
]

__version__ = "0.1.0"
