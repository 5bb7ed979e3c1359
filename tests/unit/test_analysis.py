"""What the figures compute, checked without drawing: query positions and window labels."""

import random
import subprocess
import sys

import numpy as np
import pytest
import torch

from swin_tutorial import analysis, viz


def _labels_from_bands(H, W, M, s):
    """Shifted windows on the original map: bands start at s, s + M, ... (and 0)."""

    def band(index, shift):
        return (index - shift) // M + (1 if shift else 0)

    rows = torch.tensor([band(i, s) for i in range(H)])
    cols = torch.tensor([band(j, s) for j in range(W)])
    key = rows[:, None] * (W + 1) + cols[None, :]  # row-major order of the windows
    return torch.unique(key, return_inverse=True)[1]


@pytest.mark.parametrize("seed", range(20))
def test_window_labels_match_the_bands_of_the_shifted_grid(seed):
    rng = random.Random(seed)
    M = rng.randint(1, 5)
    s = rng.randint(0, M - 1)
    H, W = M * rng.randint(1, 4), M * rng.randint(1, 4)
    assert torch.equal(analysis.window_labels(H, W, M, s), _labels_from_bands(H, W, M, s))


@pytest.mark.parametrize(
    "query, expected",
    [
        (0, (0, 0)),
        (13, (2, 1)),
        (np.int64(13), (2, 1)),
        ((3, 5), (3, 5)),
        ([np.int32(1), 2], (1, 2)),
    ],
)
def test_query_position_reads_ids_and_pairs(query, expected):
    assert analysis.query_position(query, 4, 6) == expected


@pytest.mark.parametrize(
    "query, error, message",
    [
        (24, ValueError, r"query must be a token id in \[0, 24\), got query=24"),
        (-1, ValueError, "token id"),
        ((4, 0), ValueError, "must lie in the 4x6 map"),
        ((0, 6), ValueError, "must lie in the 4x6 map"),
        (True, TypeError, "query must be an int"),
        ((1.0, 2), TypeError, r"query\[0\] must be an int"),
        ("ab", TypeError, "token id or a \\(row, col\\) pair"),
        ((1, 2, 3), TypeError, "token id or a \\(row, col\\) pair"),
    ],
)
def test_query_position_rejects_bad_queries_by_name(query, error, message):
    with pytest.raises(error, match=message):
        analysis.query_position(query, 4, 6)


def test_attention_maps_stage_must_be_an_int():
    from swin_tutorial.model import swin_nano

    with pytest.raises(TypeError, match="stage must be an int"):
        analysis.attention_maps(swin_nano(), torch.rand(1, 32, 32), (0, 0), stage=True)


def test_viz_only_draws():
    computations = {"effective_receptive_field", "attention_maps", "window_labels"}
    assert computations.isdisjoint(viz.__all__) and computations <= set(dir(analysis))


@pytest.mark.slow
@pytest.mark.parametrize("module", ["swin_tutorial.analysis", "swin_tutorial.coursework"])
def test_computing_and_checking_do_not_import_matplotlib(module):
    code = f"import sys, {module}; print('matplotlib' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"


def test_effective_receptive_field_needs_float_images():
    from swin_tutorial.model import swin_single_resolution

    model = swin_single_resolution("window", depths=(2,), embed_dim=8)
    images = torch.ones(1, 1, 16, 16, dtype=torch.long)
    with pytest.raises(TypeError, match="images must be a floating-point tensor"):
        analysis.effective_receptive_field(model, images, (0, 0))
