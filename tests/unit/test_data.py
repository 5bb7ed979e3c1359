"""Data without a network: digits from scikit-learn and the cross-window task.

The cross-window guarantee is checked twice: with the package's own window
patterns (what the model does) and from token coordinates (tests/unit/reference.py),
on every image of data sets drawn with several seeds and geometries.
"""

from collections import Counter

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as hs
from reference import coordinate_mask

import swin_tutorial as st
from swin_tutorial.data import (
    BACKGROUND,
    COLOURS,
    DIFFERENT,
    QUADRUPLE_COLOURS,
    SAME,
    CrossWindowDataset,
    cross_window_dataset,
    cross_window_loaders,
    digits_loaders,
    load_digits,
    make_loader,
)

sklearn_datasets = pytest.importorskip("sklearn.datasets")


# --------------------------------------------------------------------------- digits


def test_digits_shapes_values_and_split_sizes():
    train, test = load_digits(size=32, test_fraction=0.25, seed=0)
    x, y = train.tensors
    assert x.shape == (1797 - 449, 1, 32, 32) and x.dtype == torch.float32
    assert test.tensors[0].shape == (449, 1, 32, 32)
    assert y.dtype == torch.long and set(y.tolist()) == set(range(10))
    assert x.min() >= 0 and x.max() <= 1


def test_digits_at_size_8_are_sklearns_images_split_without_loss_or_overlap():
    raw = sklearn_datasets.load_digits()
    reference = Counter(
        (tuple((torch.tensor(img, dtype=torch.float32) / 16).flatten().tolist()), int(t))
        for img, t in zip(raw.images, raw.target, strict=True)
    )
    train, test = load_digits(size=8, seed=3)
    ours = Counter(
        (tuple(img.flatten().tolist()), int(t))
        for split in (train, test)
        for img, t in zip(*split.tensors, strict=True)
    )
    assert ours == reference  # every image once, with its label: nothing lost, repeated or invented


def test_digits_resize_is_bilinear_interpolation_of_the_originals():
    train8, _ = load_digits(size=8, seed=1)
    train32, _ = load_digits(size=32, seed=1)
    expected = F.interpolate(train8.tensors[0], size=(32, 32), mode="bilinear", align_corners=False)
    assert torch.allclose(train32.tensors[0], expected, atol=1e-6)
    assert torch.equal(train8.tensors[1], train32.tensors[1])


def test_digits_split_is_deterministic_and_depends_on_the_seed():
    a, _ = load_digits(size=16, seed=0)
    b, _ = load_digits(size=16, seed=0)
    c, _ = load_digits(size=16, seed=1)
    assert torch.equal(a.tensors[0], b.tensors[0]) and torch.equal(a.tensors[1], b.tensors[1])
    assert not torch.equal(a.tensors[1], c.tensors[1])


def test_digits_limit_and_loaders():
    train, test = load_digits(size=16, seed=0, limit=20)
    assert len(train) == 20 and len(test) == 20
    train_loader, test_loader = digits_loaders(batch_size=8, size=16, seed=0, limit=20)
    images, labels = next(iter(train_loader))
    assert images.shape == (8, 1, 16, 16) and labels.shape == (8,)
    assert sum(len(y) for _, y in test_loader) == 20


def test_loader_order_is_fixed_by_its_seed():
    dataset = torch.utils.data.TensorDataset(torch.arange(50.0), torch.arange(50))

    def order(seed, epochs=2):
        loader = make_loader(dataset, 7, shuffle=True, seed=seed)
        return [y.tolist() for _ in range(epochs) for _, y in loader]

    torch.manual_seed(123)  # the global state must not matter
    first = order(0)
    torch.manual_seed(456)
    assert order(0) == first
    assert order(1) != first
    assert first[:8] != first[8:16]  # the two epochs are shuffled differently
    assert sorted(sum(first[: len(first) // 2], [])) == list(range(50))


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(size=0), "size"),
        (dict(size=2.5), "size"),
        (dict(test_fraction=1.0), "test_fraction"),
        (dict(test_fraction=0), "test_fraction"),
        (dict(test_fraction=float("nan")), "test_fraction=nan"),
        (dict(test_fraction="0.2"), "test_fraction"),
        (dict(seed=-1), "seed=-1"),
        (dict(seed=True), "seed"),
        (dict(limit=0), "limit=0"),
        (dict(limit=2.0), "limit"),
    ],
)
def test_digits_bad_arguments(kwargs, match):
    with pytest.raises((ValueError, TypeError), match=match):
        load_digits(**kwargs)


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (dict(batch_size=0), ValueError, "batch_size=0"),
        (dict(batch_size=2.0), TypeError, "batch_size"),
        (dict(shuffle="yes"), TypeError, "shuffle"),
        (dict(seed=-2), ValueError, "seed=-2"),
        (dict(dataset=[1, 2, 3]), TypeError, "dataset"),
    ],
)
def test_make_loader_bad_arguments(kwargs, error, match):
    arguments = dict(dataset=torch.utils.data.TensorDataset(torch.zeros(4)), batch_size=2)
    with pytest.raises(error, match=match):
        make_loader(**(arguments | dict(shuffle=False) | kwargs))


# --------------------------------------------------------------------------- cross-window task

GEOMETRIES = [
    dict(image_size=16, patch_size=2, window_size=4),  # the chapter's: 8x8 tokens, 4 windows
    dict(image_size=24, patch_size=2, window_size=4),  # 12x12 tokens, 9 windows
    dict(image_size=24, patch_size=3, window_size=2),  # 8x8 tokens, windows of 2, shift 1
    dict(image_size=30, patch_size=2, window_size=5),  # odd window: quadrants of 3 and 2
]


@pytest.mark.parametrize(
    "geometry", GEOMETRIES, ids=lambda g: "{image_size}-{patch_size}-{window_size}".format(**g)
)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_squares_are_in_different_regular_windows_and_one_shifted_window(geometry, seed):
    data = cross_window_dataset(48, seed=seed, **geometry)
    T = geometry["image_size"] // geometry["patch_size"]
    M = data.window_size
    regular = st.window_pattern(T, T, M)  # what the package's blocks do
    shifted = st.shifted_window_pattern(T, T, M, M // 2)
    reference_regular = coordinate_mask(T, T, (M, M), (0, 0))  # independent, from coordinates
    reference_shifted = coordinate_mask(T, T, (M, M), (M // 2, M // 2))
    masks = data.token_masks().reshape(len(data), 2, T * T)
    for n in range(len(data)):
        first, second = masks[n, 0].nonzero()[:, 0], masks[n, 1].nonzero()[:, 0]
        assert len(first) > 0 and len(second) > 0
        for pattern in (regular, reference_regular):
            assert (
                pattern[first][:, first].all() and pattern[second][:, second].all()
            )  # each in one window
            assert not pattern[first][:, second].any()  # ... and not the same window
        both = torch.cat((first, second))
        for pattern in (shifted, reference_shifted):
            assert pattern[both][:, both].all()  # all in one shifted window


@given(
    layouts=hs.integers(1, 12),
    seed=hs.integers(0, 10_000),
    geometry=hs.sampled_from(GEOMETRIES),
    noise=hs.sampled_from([0.0, 0.1, 0.5]),
)
@settings(max_examples=25, deadline=None)
def test_images_hold_exactly_the_two_squares_on_a_shared_background(layouts, seed, geometry, noise):
    data = cross_window_dataset(layouts, seed=seed, noise=noise, **geometry)
    N, p = 4 * layouts, data.patch_size
    assert data.images.shape == (N, 1, geometry["image_size"], geometry["image_size"])
    assert len(data) == N and data.labels.shape == (N,) and data.labels.dtype == torch.long
    images = data.images[:, 0]
    pixels = (
        data.token_masks().repeat_interleave(p, dim=2).repeat_interleave(p, dim=3)
    )  # (N, 2, S, S)
    background = images.reshape(layouts, 4, *images.shape[1:])[:, 0].clone()  # (L, S, S)
    background[pixels[::4].any(dim=1)] = float("nan")  # under the squares: unknown
    for n in range(N):
        a, b = data.colours[n].tolist()
        assert (a, b) == QUADRUPLE_COLOURS[n % 4]
        assert data.labels[n] == (SAME if a == b else DIFFERENT)
        for square, colour in ((0, a), (1, b)):
            assert (images[n][pixels[n, square]] == COLOURS[colour]).all()
        outside = ~pixels[n].any(dim=0)
        assert torch.equal(images[n][outside], background[n // 4][outside]), n
    boxes = data.boxes.reshape(layouts, 4, 2, 4)
    assert torch.equal(boxes, boxes[:, :1].expand_as(boxes))  # one layout per four images
    assert (data.token_masks().sum(dim=(2, 3)) == data.boxes[..., 2] * data.boxes[..., 3]).all()
    if noise == 0:
        assert set(images.unique().tolist()) <= {0.0, BACKGROUND, 1.0}


@pytest.mark.parametrize("geometry", GEOMETRIES[:2], ids=["16-2-4", "24-2-4"])
def test_no_single_window_says_anything_about_the_label(geometry):
    """Whatever a regular window shows comes as often with 'same' as with 'different'."""
    data = cross_window_dataset(40, seed=5, **geometry)
    side = data.window_size * data.patch_size  # pixels per window side
    S = data.images.shape[-1]
    for top in range(0, S, side):
        for left in range(0, S, side):
            counts: dict[bytes, int] = {}
            for image, label in zip(data.images[:, 0], data.labels, strict=True):
                key = image[top : top + side, left : left + side].numpy().tobytes()
                counts[key] = counts.get(key, 0) + (1 if label == SAME else -1)
            assert all(balance == 0 for balance in counts.values()), (top, left)
    assert (data.labels == SAME).sum() == (data.labels == DIFFERENT).sum()


def test_chapter_geometry_squares_touch_the_centre():
    """16x16 pixels, 8x8 tokens, four 4x4 windows: 4x4-pixel squares around the centre,
    all 12 ordered pairs."""
    data = cross_window_dataset(300, seed=0)
    boxes = data.boxes[::4]  # (L, 2, 4)
    assert set(map(tuple, boxes.reshape(-1, 4).tolist())) == {
        (2, 2, 2, 2),
        (2, 4, 2, 2),
        (4, 2, 2, 2),
        (4, 4, 2, 2),
    }
    pairs = {(tuple(a), tuple(b)) for a, b in boxes[:, :, :2].tolist()}
    assert len(pairs) == 12


def test_cross_window_data_is_deterministic():
    a, b = cross_window_dataset(8, seed=4), cross_window_dataset(8, seed=4)
    c = cross_window_dataset(8, seed=5)
    for name in ("images", "labels", "boxes", "colours"):
        assert torch.equal(getattr(a, name), getattr(b, name)), name
    assert not torch.equal(a.images, c.images)


def test_cross_window_loaders_train_and_test_differ():
    train, test = cross_window_loaders(8, 4, batch_size=16, seed=0, noise=0.1)
    assert len(train.dataset) == 32 and len(test.dataset) == 16
    images, labels = next(iter(train))
    assert images.shape == (16, 1, 16, 16) and labels.shape == (16,)
    assert not torch.equal(train.dataset.images[:16], test.dataset.images)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(layouts=0), "layouts"),
        (dict(image_size=15), "image_size"),
        (dict(patch_size=0), "patch_size"),
        (dict(window_size=1), "window_size"),
        (dict(image_size=24, window_size=5), "window_size"),  # 12 tokens: not a multiple of 5
        (dict(image_size=8, window_size=4), "at least 2 windows"),  # 4 tokens: one window
        (dict(window_size=2.0), "window_size"),
        (dict(noise=-0.1), "noise=-0.1"),
        (dict(noise=float("nan")), "noise=nan"),
        (dict(seed=-3), "seed=-3"),
        (dict(seed=1.5), "seed"),
    ],
)
def test_cross_window_bad_arguments(kwargs, match):
    arguments = dict(layouts=2) | kwargs
    with pytest.raises((ValueError, TypeError), match=match):
        cross_window_dataset(**arguments)


def test_cross_window_loaders_bad_seed():
    with pytest.raises(ValueError, match="seed=-1"):
        cross_window_loaders(2, 2, seed=-1)


def _parts(layouts: int = 2) -> dict:
    data = cross_window_dataset(layouts)
    return dict(
        images=data.images,
        labels=data.labels,
        boxes=data.boxes,
        colours=data.colours,
        patch_size=data.patch_size,
        window_size=data.window_size,
    )


def test_cross_window_dataset_constructor_takes_what_the_drawing_makes():
    rebuilt = CrossWindowDataset(**_parts())
    assert len(rebuilt) == 8
    assert torch.equal(rebuilt.token_masks(), cross_window_dataset(2).token_masks())


@pytest.mark.parametrize(
    "change, error, match",
    [
        (lambda p: dict(images=p["images"][:, 0]), ValueError, "images"),
        (lambda p: dict(images=p["images"].long()), TypeError, "images"),
        (lambda p: dict(labels=p["labels"][:-1]), ValueError, "labels"),
        (lambda p: dict(labels=p["labels"].float()), TypeError, "labels"),
        (lambda p: dict(boxes=p["boxes"].tolist()), TypeError, "boxes"),
        (lambda p: dict(colours=p["colours"][:, :1]), ValueError, "colours"),
        (lambda p: dict(patch_size=3), ValueError, "patch_size"),
        (lambda p: dict(window_size=1), ValueError, "window_size"),
    ],
)
def test_cross_window_dataset_constructor_checks_its_parts(change, error, match):
    parts = _parts()
    with pytest.raises(error, match=match):
        CrossWindowDataset(**(parts | change(parts)))
