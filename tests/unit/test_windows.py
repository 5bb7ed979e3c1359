"""Partition, reverse, padding, roll and the shift mask, against coordinates."""

import torch
from hypothesis import given, settings
from hypothesis import strategies as st_
from reference import coordinate_mask, rolled_window_tokens

import swin_tutorial as st

small = settings(max_examples=40, deadline=None)


@st_.composite
def maps_and_windows(draw):
    wh, ww = draw(st_.integers(1, 6)), draw(st_.integers(1, 6))
    rows, cols = draw(st_.integers(1, 4)), draw(st_.integers(1, 4))
    B, C = draw(st_.integers(1, 3)), draw(st_.integers(1, 5))
    return B, rows * wh, cols * ww, C, (wh, ww)


@small
@given(maps_and_windows())
def test_partition_reverse_round_trip(case):
    B, H, W, C, window = case
    x = torch.randn(B, H, W, C)
    windows = st.window_partition(x, window)
    assert windows.shape == (B * (H // window[0]) * (W // window[1]), *window, C)
    assert torch.equal(st.window_reverse(windows, window, H, W), x)
    flat = windows.reshape(windows.shape[0], -1, C)
    assert torch.equal(st.window_reverse(flat, window, H, W), x)


@small
@given(maps_and_windows())
def test_partition_puts_each_token_in_its_window(case):
    B, H, W, C, (wh, ww) = case
    i, j = torch.meshgrid(torch.arange(H), torch.arange(W), indexing="ij")
    coords = torch.stack((i, j), -1)[None].expand(B, H, W, 2).float()
    windows = st.window_partition(coords, (wh, ww))  # (B*nW, wh, ww, 2)
    per_image = (H // wh) * (W // ww)
    for index in range(windows.shape[0]):
        w = index % per_image
        row0, col0 = (w // (W // ww)) * wh, (w % (W // ww)) * ww
        expected_i = torch.arange(row0, row0 + wh)[:, None].expand(wh, ww)
        expected_j = torch.arange(col0, col0 + ww)[None, :].expand(wh, ww)
        assert torch.equal(windows[index, ..., 0], expected_i.float())
        assert torch.equal(windows[index, ..., 1], expected_j.float())


@small
@given(maps_and_windows(), st_.data())
def test_shift_mask_equals_coordinate_mask(case, data):
    _, H, W, _, (wh, ww) = case
    shift = (data.draw(st_.integers(0, wh - 1)), data.draw(st_.integers(0, ww - 1)))
    mask = st.shifted_window_mask(H, W, (wh, ww), shift)
    # which original token sits at each place of each rolled window, from coordinates only
    tokens = rolled_window_tokens(H, W, (wh, ww), shift)
    expected = coordinate_mask(H, W, (wh, ww), shift)[tokens[:, :, None], tokens[:, None, :]]
    assert mask.dtype == torch.bool and mask.shape == expected.shape
    assert torch.equal(mask, expected)


@small
@given(maps_and_windows(), st_.data())
def test_roll_then_partition_places_tokens_where_coordinates_say(case, data):
    B, H, W, _, (wh, ww) = case
    shift = (data.draw(st_.integers(0, wh - 1)), data.draw(st_.integers(0, ww - 1)))
    ids = torch.arange(H * W, dtype=torch.float64).reshape(1, H, W, 1).expand(B, H, W, 1)
    windows = st.window_partition(st.cyclic_shift(ids, shift), (wh, ww)).reshape(B, -1, wh * ww)
    expected = rolled_window_tokens(H, W, (wh, ww), shift).double()
    assert torch.equal(windows, expected.expand_as(windows))


@small
@given(maps_and_windows(), st_.data())
def test_every_query_attends_exactly_its_window_and_region(case, data):
    """Per query: allowed keys = same rolled window and same side of every wrap, counted by hand."""
    _, H, W, _, (wh, ww) = case
    sh, sw = data.draw(st_.integers(0, wh - 1)), data.draw(st_.integers(0, ww - 1))
    mask = st.shifted_window_mask(H, W, (wh, ww), (sh, sw))
    tokens = rolled_window_tokens(H, W, (wh, ww), (sh, sw))
    w = data.draw(st_.integers(0, tokens.shape[0] - 1))
    n = data.draw(st_.integers(0, wh * ww - 1))
    i, j = divmod(tokens[w, n].item(), W)
    for m in range(wh * ww):
        k, c = divmod(tokens[w, m].item(), W)
        # original rows < sh (columns < sw) are the ones the roll carried to the far end
        same_side = (i < sh) == (k < sh) and (j < sw) == (c < sw)
        assert mask[w, n, m].item() == same_side, (w, n, m)


def test_mask_without_shift_allows_everything_in_a_window():
    assert st.shifted_window_mask(14, 21, 7, 0).all()


@small
@given(st_.integers(1, 20), st_.integers(1, 20), st_.integers(1, 7), st_.integers(1, 7))
def test_pad_then_crop_round_trip(H, W, wh, ww):
    x = torch.randn(2, H, W, 3)
    padded, (pad_h, pad_w) = st.pad_to_window_multiple(x, (wh, ww))
    assert padded.shape[1] % wh == 0 and padded.shape[2] % ww == 0
    assert (pad_h, pad_w) == (padded.shape[1] - H, padded.shape[2] - W)
    assert pad_h < wh and pad_w < ww
    assert padded[:, H:].abs().sum() == 0 and padded[:, :, W:].abs().sum() == 0
    assert torch.equal(st.crop_to(padded, H, W), x)


@small
@given(st_.integers(1, 12), st_.integers(1, 12), st_.integers(0, 11), st_.integers(0, 11))
def test_cyclic_shift_moves_tokens_up_left_and_reverses(H, W, sh, sw):
    x = torch.randn(1, H, W, 2)
    rolled = st.cyclic_shift(x, (sh, sw))
    assert torch.equal(rolled[0, (-sh) % H, (-sw) % W], x[0, 0, 0])
    assert torch.equal(st.reverse_cyclic_shift(rolled, (sh, sw)), x)


def test_zero_shift_makes_no_copy():
    x = torch.randn(2, 5, 6, 3)
    assert st.cyclic_shift(x, 0) is x and st.reverse_cyclic_shift(x, (0, 0)) is x
    assert st.cyclic_shift(x, (0, 1)) is not x


@small
@given(st_.integers(1, 7), st_.integers(1, 7))
def test_relative_position_index_from_coordinates(wh, ww):
    index = st.relative_position_index((wh, ww))
    N = wh * ww
    for n in range(N):
        for m in range(N):
            dh = n // ww - m // ww
            dw = n % ww - m % ww
            assert index[n, m] == (dh + wh - 1) * (2 * ww - 1) + (dw + ww - 1)
    assert index.max() < (2 * wh - 1) * (2 * ww - 1)


def test_relative_position_index_of_a_smaller_window_reads_the_same_offsets():
    big = st.relative_position_index(7)
    small_in_big = st.relative_position_index((3, 4), table_window=7)
    for n in range(12):
        for m in range(12):
            dh, dw = n // 4 - m // 4, n % 4 - m % 4
            assert small_in_big[n, m] == big[(3 + dh) * 7 + 3 + dw, 3 * 7 + 3]
