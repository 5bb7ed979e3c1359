"""The one windowing pipeline: map -> windows -> map, and the token ids sent through it."""

import dataclasses

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st_
from reference import rolled_window_tokens

import swin_tutorial as st

small = settings(max_examples=40, deadline=None)


@st_.composite
def maps_windows_shifts(draw):
    """Any map size (not only window multiples), a window (possibly larger), a shift."""
    H, W = draw(st_.integers(1, 13)), draw(st_.integers(1, 13))
    wh, ww = draw(st_.integers(1, 6)), draw(st_.integers(1, 6))
    shift = (draw(st_.integers(0, wh - 1)), draw(st_.integers(0, ww - 1)))
    return H, W, (wh, ww), shift


def padded_rolled_ids(H, W, window, shift):
    """From coordinates: token id at each place of each window of the padded, rolled map."""
    Hp, Wp = -(-H // window[0]) * window[0], -(-W // window[1]) * window[1]
    places = rolled_window_tokens(Hp, Wp, window, shift)  # ids of the padded map
    i, j = places // Wp, places % Wp
    return torch.where((i < H) & (j < W), i * W + j, H * W)


@small
@given(maps_windows_shifts(), st_.integers(1, 3), st_.integers(1, 4))
def test_map_to_windows_is_pad_roll_partition_and_windows_to_map_inverts_it(case, B, C):
    H, W, window, shift = case
    x = torch.randn(B, H, W, C)
    windows, layout = st.map_to_windows(x, window, shift)
    padded, _ = st.pad_to_window_multiple(x, window)
    expected = st.window_partition(st.cyclic_shift(padded, shift), window)
    assert torch.equal(windows, expected.reshape(-1, window[0] * window[1], C))
    assert layout.size == (H, W) and layout.padded_size == padded.shape[1:3]
    assert layout.window_size == window and layout.shift_size == shift
    assert windows.shape[0] == B * layout.num_windows
    assert torch.equal(st.windows_to_map(windows, layout), x)


@small
@given(maps_windows_shifts())
def test_window_token_ids_equal_coordinates(case):
    H, W, window, shift = case
    layout = st.window_layout(H, W, window, shift)
    ids = st.window_token_ids(layout)
    assert ids.dtype == torch.long
    assert torch.equal(ids, padded_rolled_ids(H, W, window, shift))


@small
@given(maps_windows_shifts())
def test_window_token_ids_follow_the_features(case):
    """Features equal to their own token id come out of map_to_windows as the ids."""
    H, W, window, shift = case
    x = torch.arange(H * W, dtype=torch.float64).reshape(1, H, W, 1) + 1
    windows, layout = st.map_to_windows(x, window, shift)
    ids = st.window_token_ids(layout)
    real = ids < H * W
    assert torch.equal(windows[..., 0][real].long() - 1, ids[real])
    assert (windows[..., 0][~real] == 0).all()  # padding is zeros


def test_window_layout_is_frozen_and_hashable():
    layout = st.window_layout(10, 13, 7, 3)
    assert layout == st.WindowLayout((10, 13), (14, 14), (7, 7), (3, 3))
    assert layout.num_windows == 4
    assert {layout: 1}[st.window_layout(10, 13, (7, 7), (3, 3))] == 1
    with pytest.raises(dataclasses.FrozenInstanceError):
        layout.size = (1, 1)


def test_pipeline_rejects_bad_arguments():
    x = torch.randn(1, 4, 4, 2)
    with pytest.raises(ValueError, match="shift_size must satisfy 0 <= shift < window"):
        st.map_to_windows(x, 2, 2)
    with pytest.raises(TypeError, match="layout must be a WindowLayout, got tuple"):
        st.windows_to_map(torch.randn(4, 4, 2), (4, 4))
    with pytest.raises(TypeError, match="layout must be a WindowLayout"):
        st.window_token_ids(None)
    windows, layout = st.map_to_windows(x, 2, 1)
    with pytest.raises(ValueError, match="do not fit"):
        st.windows_to_map(windows[:, :3], layout)
    with pytest.raises(ValueError, match="H must be a positive int, got H=0"):
        st.window_layout(0, 4, 2)


@pytest.mark.parametrize(
    "H, W, window, shift, expected",
    [
        ((14, 14, 7, 3, ((7, 7), (3, 3)))),
        ((7, 20, 7, 3, ((7, 7), (0, 3)))),
        ((5, 3, (7, 2), (3, 1), ((5, 2), (0, 1)))),
        ((1, 1, 7, 3, ((1, 1), (0, 0)))),
    ],
)
def test_effective_window_and_shift_shrinks_to_the_map(H, W, window, shift, expected):
    assert st.effective_window_and_shift(H, W, window, shift) == expected
    with pytest.raises(ValueError, match="shift_size"):
        st.effective_window_and_shift(H, W, window, 7)


def test_old_import_paths_of_the_notebooks():
    from swin_tutorial.blocks import DropPath  # noqa: F401
    from swin_tutorial.patterns import check_pattern
    from swin_tutorial.position import gather_relative_position_bias  # noqa: F401
    from swin_tutorial.windows import effective_window_and_shift  # noqa: F401

    assert check_pattern("p", torch.ones(3, 3, dtype=torch.bool)) == 3
    with pytest.raises(ValueError, match="the first pattern has T=4"):
        check_pattern("p", torch.ones(3, 3, dtype=torch.bool), 4)
