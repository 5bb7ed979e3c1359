"""Data that needs no network: scikit-learn's handwritten digits and a synthetic cross-window task.

Two sources, both produced on the reader's machine:

* :func:`load_digits`: the 1,797 handwritten digits (8x8, 10 classes) that ship
  *inside* scikit-learn (``sklearn.datasets.load_digits`` reads a file of the
  package, no download), resized to a size where windows make sense;
* :func:`cross_window_dataset`: small grey images with two squares, labelled
  "same" or "different" colour, where the two squares always fall in
  *different* regular windows and in the *same* shifted window. A model that never shifts its
  windows cannot solve it, whatever its weights (chapter 12 proves it); one
  shifted block can.

Images are ``(N, 1, H, W)`` float tensors; labels ``(N,)`` long. Everything is
drawn from a ``torch.Generator`` seeded by the caller, so the same seed gives
the same tensors on every machine.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, Dataset, TensorDataset

from ._checks import (
    check_bool,
    check_divides,
    check_int,
    check_positive_int,
    check_real,
    check_tensor,
)

#: Label of a cross-window image whose two squares have the same colour (0: different).
SAME, DIFFERENT = 1, 0


def load_digits(
    size: int = 16, test_fraction: float = 0.25, seed: int = 0, limit: int | None = None
) -> tuple[TensorDataset, TensorDataset]:
    """scikit-learn's handwritten digits, resized and split into train and test.

    The 8x8 images (grey levels 0..16) are scaled to ``[0, 1]`` and resized to
    ``size x size`` by bilinear interpolation; a permutation drawn from
    ``seed`` puts ``round(1797 * test_fraction)`` of them in the test split.

    Args:
        size: side of the resized images. At 16 with patches of 4 pixels, a token
            covers 2x2 pixels of the original digit: enough to see a piece of
            stroke. (Tokens of one original pixel, as with 32x32 images and
            patches of 2, see only a grey level, and a small attention model
            then learns very slowly.)
        test_fraction: share of the images held out, in ``(0, 1)``.
        seed: seed of the split.
        limit: keep only the first ``limit`` images of each split (quick runs).

    Returns:
        ``(train, test)``, each a ``TensorDataset`` of images ``(n, 1, size, size)``
        float32 and labels ``(n,)`` long in ``0..9``.
    """
    size = check_positive_int("size", size)
    test_fraction = check_real(
        "test_fraction", test_fraction, 0.0, 1.0, low_open=True, high_open=True
    )
    seed = check_int("seed", seed, minimum=0)
    if limit is not None:
        limit = check_positive_int("limit", limit)
    from sklearn.datasets import load_digits as sklearn_digits  # optional dependency

    digits = sklearn_digits()
    images = torch.tensor(digits.images, dtype=torch.float32).unsqueeze(1) / 16.0  # (1797, 1, 8, 8)
    images = F.interpolate(images, size=(size, size), mode="bilinear", align_corners=False)
    labels = torch.tensor(digits.target, dtype=torch.long)
    order = torch.randperm(len(labels), generator=torch.Generator().manual_seed(seed))
    n_test = round(len(labels) * test_fraction)
    test, train = order[:n_test], order[n_test:]
    if limit is not None:
        train, test = train[:limit], test[:limit]
    return TensorDataset(images[train], labels[train]), TensorDataset(images[test], labels[test])


def make_loader(dataset: Dataset, batch_size: int, shuffle: bool, seed: int = 0) -> DataLoader:
    """A ``DataLoader`` whose shuffling is drawn from its own generator seeded by ``seed``.

    A fresh loader built with the same seed visits the samples in the same order,
    epoch after epoch, independently of the global random state.
    """
    if not isinstance(dataset, Dataset):
        raise TypeError(f"dataset must be a torch.utils.data.Dataset, got {type(dataset).__name__}")
    batch_size = check_positive_int("batch_size", batch_size)
    shuffle = check_bool("shuffle", shuffle)
    generator = torch.Generator().manual_seed(check_int("seed", seed, minimum=0))
    return DataLoader(dataset, batch_size=batch_size, shuffle=shuffle, generator=generator)


def digits_loaders(
    batch_size: int = 32,
    size: int = 16,
    test_fraction: float = 0.25,
    seed: int = 0,
    limit: int | None = None,
) -> tuple[DataLoader, DataLoader]:
    """Train (shuffled with ``seed``) and test loaders over :func:`load_digits`."""
    train, test = load_digits(size, test_fraction, seed, limit)
    return make_loader(train, batch_size, True, seed), make_loader(test, batch_size, False, seed)


# --------------------------------------------------------------------------- cross-window task

#: Pixel value of the background (before noise) and of the two colours of the squares.
BACKGROUND, COLOURS = 0.5, (1.0, 0.0)  # colour 0: white, colour 1: black


class CrossWindowDataset(Dataset):
    """Images with two squares; the label says whether they have the same colour.

    Attributes:
        images: ``(N, 1, S, S)`` float32, ``N = 4 * layouts``.
        labels: ``(N,)`` long, :data:`SAME` (1) or :data:`DIFFERENT` (0).
        boxes: ``(N, 2, 4)`` long, each square's ``(top, left, height, width)``
            in *tokens* (pixels ``[top * p, (top + height) * p)`` and the same
            for columns).
        colours: ``(N, 2)`` long, each square's colour (0 white, 1 black).
        patch_size, window_size: the geometry the data was made for.

    Item ``n`` is ``(images[n], labels[n])``. Images ``4k .. 4k + 3`` share one
    layout (where the squares are, and the background noise) and hold the
    colours :data:`QUADRUPLE_COLOURS`: (0, 0), (1, 1), (0, 1), (1, 0).
    """

    def __init__(
        self,
        images: torch.Tensor,
        labels: torch.Tensor,
        boxes: torch.Tensor,
        colours: torch.Tensor,
        patch_size: int,
        window_size: int,
    ) -> None:
        n = len(check_tensor("images", images, 4, "(N, 1, S, S)"))
        _check_long_tensor("labels", labels, (n,))
        _check_long_tensor("boxes", boxes, (n, 2, 4))
        _check_long_tensor("colours", colours, (n, 2))
        _check_geometry(images.shape[-1], patch_size, window_size)
        self.images, self.labels = images, labels
        self.boxes, self.colours = boxes, colours
        self.patch_size, self.window_size = patch_size, window_size

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.images[index], self.labels[index]

    def token_masks(self) -> torch.Tensor:
        """Which tokens each square covers: bool ``(N, 2, T, T)`` on the ``T x T`` token map."""
        T = self.images.shape[-1] // self.patch_size
        rows = torch.arange(T)[None, None, :, None]
        cols = torch.arange(T)[None, None, None, :]
        top, left, height, width = (self.boxes[..., k, None, None] for k in range(4))
        return (rows >= top) & (rows < top + height) & (cols >= left) & (cols < left + width)


#: The colours of the four images of a layout: (first square, second square).
QUADRUPLE_COLOURS = ((0, 0), (1, 1), (0, 1), (1, 0))


def _check_long_tensor(name: str, value: object, shape: tuple[int, ...]) -> None:
    """Check that ``value`` is an integer tensor of exactly ``shape``."""
    if not isinstance(value, torch.Tensor):
        raise TypeError(
            f"{name} must be a torch.Tensor of shape {shape}, got {type(value).__name__}"
        )
    if value.dtype != torch.long:
        raise TypeError(f"{name} must be a long tensor, got dtype {value.dtype}")
    if tuple(value.shape) != shape:
        raise ValueError(f"{name} must have shape {shape}, got shape {tuple(value.shape)}")


def _check_geometry(image_size: int, patch_size: int, window_size: int) -> int:
    """Check the sizes of the cross-window task; return the token map side ``T``."""
    image_size = check_positive_int("image_size", image_size)
    patch_size = check_positive_int("patch_size", patch_size)
    window_size = check_int("window_size", window_size, minimum=2)  # so that a shift exists
    check_divides("image_size", image_size, "patch_size", patch_size)
    tokens = image_size // patch_size
    if tokens % window_size or tokens < 2 * window_size:
        raise ValueError(
            f"the token map (image_size // patch_size = {tokens}) must be a multiple of "
            f"window_size={window_size} holding at least 2 windows per side"
        )
    return tokens


def cross_window_dataset(
    layouts: int,
    seed: int = 0,
    image_size: int = 16,
    patch_size: int = 2,
    window_size: int = 4,
    noise: float = 0.1,
) -> CrossWindowDataset:
    """Draw ``layouts`` layouts of the cross-window task, four images each.

    Each image is a grey background with two squares, white or black; the
    label says whether they have the same colour.

    The guarantee (tested in ``tests/unit/test_data.py`` with the package's own
    window patterns): on the ``T x T`` token map (``T = image_size //
    patch_size``) cut into regular ``M x M`` windows (``M = window_size``), the
    two squares lie in **two different regular windows** (each square inside
    one), and both lie in **one shifted window** (the windows shifted by
    ``s = M // 2``, one that does not wrap around).

    How a layout is drawn: a shifted window, the one whose top-left token is
    ``(s + a M, s + b M)`` with ``a, b`` uniform in ``0 .. T/M - 2``; the
    regular window borders cut it into four rectangles, each inside a
    different regular window (``(M - s) x (M - s)`` tokens at its top left,
    ``(M - s) x s`` at its top right, and so on); two different rectangles,
    uniformly, are the squares. (With the defaults: a 16 x 16 image, four
    8 x 8 windows, and two 4 x 4 squares among the four that touch the centre.)
    The background is ``0.5`` plus Gaussian noise of standard deviation
    ``noise``; a square is exactly 1 (white) or 0 (black).

    Every layout appears with the four colour pairs (white, white), (black,
    black) (label :data:`SAME`) and (white, black), (black, white) (label
    :data:`DIFFERENT`). Hence whatever one window shows (a white square, a
    black one, or only background) comes as often with "same" as with
    "different": no single window says anything about the label.

    Args:
        layouts: number of layouts; the dataset holds ``4 * layouts`` images.
        seed: seed of everything random.
        image_size, patch_size, window_size: the geometry (pixels, pixels per
            token side, tokens per window side).
        noise: standard deviation of the background noise (0: flat grey).

    Returns:
        a :class:`CrossWindowDataset`.
    """
    layouts = check_positive_int("layouts", layouts)
    tokens = _check_geometry(image_size, patch_size, window_size)
    noise = check_real("noise", noise, 0.0)
    generator = torch.Generator().manual_seed(check_int("seed", seed, minimum=0))
    M, s, p = window_size, window_size // 2, patch_size

    corner = s + M * torch.randint(0, tokens // M - 1, (layouts, 2), generator=generator)  # (L, 2)
    first = torch.randint(0, 4, (layouts,), generator=generator)
    second = (first + torch.randint(1, 4, (layouts,), generator=generator)) % 4
    quadrants = torch.stack(
        (first, second), dim=1
    )  # (L, 2): bit 1 = lower part, bit 0 = right part
    lower_right = torch.stack((quadrants // 2, quadrants % 2), dim=2)  # (L, 2 squares, 2 axes)
    start = corner[:, None, :] + torch.where(lower_right == 1, M - s, 0)  # (L, 2, 2) top-left token
    size = torch.where(lower_right == 1, s, M - s)  # (L, 2, 2) height, width in tokens
    boxes = torch.cat((start, size), dim=2)  # (L, 2, 4)

    background = BACKGROUND + noise * torch.randn(
        layouts, image_size, image_size, generator=generator
    )
    images = background[:, None].repeat(1, 4, 1, 1)  # (L, 4, S, S)
    for member, pair in enumerate(QUADRUPLE_COLOURS):
        for square, colour in enumerate(pair):
            for k in range(layouts):
                top, left, height, width = (p * v for v in boxes[k, square].tolist())
                images[k, member, top : top + height, left : left + width] = COLOURS[colour]

    labels = torch.tensor([SAME if a == b else DIFFERENT for a, b in QUADRUPLE_COLOURS])
    return CrossWindowDataset(
        images=images.reshape(4 * layouts, 1, image_size, image_size),
        labels=labels.repeat(layouts),
        boxes=boxes.repeat_interleave(4, dim=0),
        colours=torch.tensor(QUADRUPLE_COLOURS).repeat(layouts, 1),
        patch_size=p,
        window_size=M,
    )


def cross_window_loaders(
    train_layouts: int = 256,
    test_layouts: int = 64,
    batch_size: int = 32,
    seed: int = 0,
    **geometry: object,
) -> tuple[DataLoader, DataLoader]:
    """Train and test loaders of the cross-window task.

    The training images are drawn with ``seed`` and the test images with
    ``seed + 1`` (new backgrounds, and new layouts where the map has room for
    more than one); ``geometry`` goes to :func:`cross_window_dataset`
    (``image_size``, ``patch_size``, ``window_size``, ``noise``).
    """
    seed = check_int("seed", seed, minimum=0)
    train = cross_window_dataset(train_layouts, seed, **geometry)
    test = cross_window_dataset(test_layouts, seed + 1, **geometry)
    return make_loader(train, batch_size, True, seed), make_loader(test, batch_size, False, seed)
