"""Drawings of windows, shifts, masks, visible keys, receptive fields and attention maps.

Every ``plot_*`` function returns the :class:`~matplotlib.figure.Figure` and never
calls ``plt.show()``. Each takes an optional ``ax`` (one ``Axes`` per panel);
without it a new figure is made. Colours are colour-blind safe, and numbers are
written on the cells wherever the map is small enough, so no information rests
on colour alone. What the drawings compute lives in :mod:`swin_tutorial.analysis`.
"""

from .architecture import plot_architecture, plot_block_orders
from .attention import plot_attention_map, plot_attention_maps
from .history import plot_timeline
from .locality import LOCALITY_COLOURS, LOCALITY_LABELS, locality_codes, plot_locality
from .merging import plot_merge_order
from .patterns import (
    plot_coverage_curves,
    plot_receptive_field_growth,
    plot_variants,
    plot_visible_keys,
)
from .primer import plot_attention_primer, plot_score_scaling
from .sequence import plot_sequence_masks
from .style import (
    HIDDEN,
    MAX_LABELLED_TOKENS,
    OKABE_ITO,
    QUERY,
    TOKEN_GRID_GID,
    TOL_LIGHT,
    VISIBLE,
)
from .training import plot_effective_receptive_field, plot_learning_curves
from .widgets import interactive_principle, principle_figure
from .windows import plot_cyclic_shift, plot_regions_and_mask, plot_windows

__all__ = [
    "HIDDEN",
    "LOCALITY_COLOURS",
    "LOCALITY_LABELS",
    "MAX_LABELLED_TOKENS",
    "OKABE_ITO",
    "QUERY",
    "TOKEN_GRID_GID",
    "TOL_LIGHT",
    "VISIBLE",
    "interactive_principle",
    "locality_codes",
    "plot_architecture",
    "plot_attention_map",
    "plot_attention_maps",
    "plot_attention_primer",
    "plot_block_orders",
    "plot_coverage_curves",
    "plot_cyclic_shift",
    "plot_effective_receptive_field",
    "plot_learning_curves",
    "plot_locality",
    "plot_merge_order",
    "plot_receptive_field_growth",
    "plot_regions_and_mask",
    "plot_score_scaling",
    "plot_sequence_masks",
    "plot_timeline",
    "plot_variants",
    "plot_visible_keys",
    "plot_windows",
    "principle_figure",
]
