"""The Dataset record every loader returns, the fixed split rules, and the image post-processing.

Loaders work in numpy and hand their arrays to `image_dataset` / `points_dataset`, which turn them
into torch tensors in the one layout the models see: images uint8 (N, C, H, W), points float32 (N, 2).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

import numpy as np
import torch

from genlab.core.errors import GenlabError

if TYPE_CHECKING:
    from genlab.data.palette import Palette

SPLIT_SEED = 0  # every shuffled split is a numpy default_rng(SPLIT_SEED) permutation
MAX_IMAGE_SIZE = 512
SHARED_ITEM = "is both splits"  # the split note's words when a data set's only item is both its splits


@dataclass
class Dataset:
    spec: str
    kind: str  # "image", "points" or "audio"
    train: torch.Tensor  # image: uint8 (N, C, H, W), C in {1, 3}; points: float32 (N, 2); audio: float32 (N, R)
    test: torch.Tensor
    train_labels: torch.Tensor | None  # int64 (N,)
    test_labels: torch.Tensor | None
    label_names: list[str] | None
    split_note: str  # one line: how the fixed train/test split was made
    files: list[str] | None = None  # image folders: the source file of each train, then test, item

    def __post_init__(self) -> None:
        self.train, self.test = standard_strides(self.train), standard_strides(self.test)

    @property
    def item_shape(self) -> tuple[int, ...]:
        return tuple(self.train.shape[1:])


def standard_strides(t: torch.Tensor) -> torch.Tensor:
    """`t` with the strides a new tensor of its shape has. A size-1 axis (a grey image's channel) can
    carry any stride and still count as contiguous, and kernels that read strides then pick another
    code path on some CPUs: the same items loaded two ways (in memory, streamed from a pack) would
    train to different bits."""
    if tuple(t.stride()) == tuple(torch.empty(t.shape, device="meta").stride()):
        return t
    return t.clone(memory_format=torch.contiguous_format)


def one_line(exc: BaseException) -> str:
    """An exception's text squeezed onto one line, for a cause in parentheses."""
    return " ".join(str(exc).split()) or type(exc).__name__


def held_out_count(n: int) -> int:
    """The size of the 10% test split: round(n / 10), at least 1."""
    return max(1, (n + 5) // 10)


def tenth_split(n: int, what: str) -> tuple[np.ndarray, np.ndarray, str]:
    """(train indices, test indices, note): the last 10% of a seed-0 permutation are the test split.

    A single item is both the train and the test split.
    """
    if n == 1:
        note = f"1 train / 1 test: the only one of the {what} {SHARED_ITEM} (add more for a real test split)"
        return np.zeros(1, np.int64), np.zeros(1, np.int64), note
    n_test = held_out_count(n)
    perm = np.random.default_rng(SPLIT_SEED).permutation(n)
    note = (
        f"{n - n_test} train / {n_test} test: the last {n_test} of a seed-{SPLIT_SEED} permutation "
        f"(numpy default_rng) of the {n} {what} are the test split"
    )
    return perm[: n - n_test], perm[n - n_test :], note


def stratified_split(labels: np.ndarray, test_count: Callable[[int], int]) -> tuple[np.ndarray, np.ndarray]:
    """(train indices, test indices): walking a seed-0 permutation, the first test_count(n) items of each
    class (n: the class's size) are the test split; both splits keep the permutation order."""
    perm = np.random.default_rng(SPLIT_SEED).permutation(len(labels))
    rank = np.zeros(len(labels), np.int64)  # an item's place among its class in permutation order
    quota = np.zeros(len(labels), np.int64)
    for c in np.unique(labels):
        in_class = perm[labels[perm] == c]
        rank[in_class] = np.arange(len(in_class))
        quota[in_class] = test_count(len(in_class))
    is_test = rank[perm] < quota[perm]
    return perm[~is_test], perm[is_test]


def one_shared_item(ds: "Dataset") -> bool:
    """True when the data set holds one item that is both its train and its test split (count it once)."""
    return len(ds.train) == len(ds.test) == 1 and SHARED_ITEM in ds.split_note


def _tensor(x: np.ndarray, dtype=None) -> torch.Tensor:
    """A tensor that owns writable, contiguous memory (a view of a read-only buffer is copied)."""
    return torch.from_numpy(np.require(x, dtype, requirements=["C", "W"]))


def labels_tensor(labels: np.ndarray | None) -> torch.Tensor | None:
    return None if labels is None else _tensor(np.asarray(labels), np.int64)


def image_dataset(
    spec: str,
    train: np.ndarray,
    test: np.ndarray,
    train_labels: np.ndarray | None,
    test_labels: np.ndarray | None,
    label_names: list[str] | None,
    split_note: str,
    files: list[str] | None = None,
) -> Dataset:
    """Wrap uint8 (N, C, H, W) arrays as a Dataset."""
    for x in (train, test):
        assert x.dtype == np.uint8 and x.ndim == 4 and x.shape[1] in (1, 3), (x.dtype, x.shape)
    return Dataset(
        spec,
        "image",
        _tensor(train),
        _tensor(test),
        labels_tensor(train_labels),
        labels_tensor(test_labels),
        label_names,
        split_note,
        files,
    )


def points_dataset(
    spec: str,
    train: np.ndarray,
    test: np.ndarray,
    train_labels: np.ndarray | None,
    test_labels: np.ndarray | None,
    label_names: list[str] | None,
    split_note: str,
) -> Dataset:
    """Wrap (N, 2) arrays as a float32 points Dataset."""
    return Dataset(
        spec,
        "points",
        _tensor(train, np.float32),
        _tensor(test, np.float32),
        labels_tensor(train_labels),
        labels_tensor(test_labels),
        label_names,
        split_note,
    )


def check_options(image_size: int | None, channels: int | None) -> None:
    if image_size is not None and (
        isinstance(image_size, bool) or not isinstance(image_size, int) or not 2 <= image_size <= MAX_IMAGE_SIZE
    ):
        raise GenlabError(f"--image-size must be a whole number between 2 and {MAX_IMAGE_SIZE} (got {image_size!r})")
    if channels is not None and (isinstance(channels, bool) or channels not in (1, 3)):
        raise GenlabError(f"--channels must be 1 (grey) or 3 (RGB) (got {channels!r})")


def luma(rgb: np.ndarray, axis: int) -> np.ndarray:
    """ITU-R 601 luma of uint8 RGB along `axis`, rounded, as PIL's convert("L") computes it."""
    r, g, b = (np.take(rgb, i, axis=axis).astype(np.uint32) for i in range(3))
    return ((r * 299 + g * 587 + b * 114 + 500) // 1000).astype(np.uint8)


def to_channels(x: np.ndarray, channels: int) -> np.ndarray:
    """uint8 (N, C, H, W) -> (N, channels, H, W): grey is repeated, RGB goes through luma."""
    if x.shape[1] == channels:
        return x
    if channels == 3:
        return np.repeat(x, 3, axis=1)  # (N, 3, H, W)
    return luma(x, axis=1)[:, None]  # (N, 1, H, W)


def resize_images(x: np.ndarray, size: int) -> np.ndarray:
    """uint8 (N, C, H, W) -> (N, C, size, size), each image resized by PIL with Lanczos."""
    from PIL import Image

    if x.shape[2:] == (size, size):
        return x
    out = np.empty((len(x), x.shape[1], size, size), np.uint8)
    for i, img in enumerate(x):
        hwc = img.transpose(1, 2, 0)  # (H, W, C)
        pil = Image.fromarray(hwc[:, :, 0] if hwc.shape[2] == 1 else hwc)
        resized = np.asarray(pil.resize((size, size), Image.Resampling.LANCZOS))
        out[i] = resized[None] if resized.ndim == 2 else resized.transpose(2, 0, 1)  # (C, S, S)
    return out


def finish_images(ds: Dataset, image_size: int | None, channels: int | None) -> Dataset:
    """Apply --image-size and --channels to an image Dataset (points pass through untouched)."""
    if ds.kind != "image" or (image_size is None and channels is None):
        return ds
    parts = []
    for x in (ds.train, ds.test):
        arr = x.numpy()
        if image_size is not None:
            arr = resize_images(arr, image_size)
        if channels is not None:
            arr = to_channels(arr, channels)
        parts.append(_tensor(arr))
    ds.train, ds.test = parts
    return ds


def _label_summary(ds: Dataset, limit: int = 20) -> str:
    names = ds.label_names or []
    n = max(len(names), int(max(ds.train_labels.max(), ds.test_labels.max())) + 1)
    train = np.bincount(ds.train_labels.numpy(), minlength=n)
    test = np.bincount(ds.test_labels.numpy(), minlength=n)
    parts = [f"{names[i] if i < len(names) else i} {train[i]}/{test[i]}" for i in range(n)]
    more = f", ... ({n - limit} more)" if n > limit else ""
    return f"labels: {n} classes, train/test count each: " + ", ".join(parts[:limit]) + more


def describe_dataset(ds: Dataset, palette: Palette | None = None) -> str:
    """A few lines for a person: what the spec holds, how it is split, its labels and values."""
    dtype = str(ds.train.dtype).replace("torch.", "")
    lines = [
        f"spec: {ds.spec}",
        f"kind: {ds.kind}, {len(ds.train) + len(ds.test)} items of shape {ds.item_shape} {dtype}",
        f"split: {ds.split_note}",
    ]
    if ds.train_labels is not None and ds.test_labels is not None:
        lines.append(_label_summary(ds))
    else:
        lines.append("labels: none")
    if ds.kind == "points":
        both = torch.cat([ds.train, ds.test])  # (N, 2)
        lo, hi = both.min(0).values.tolist(), both.max(0).values.tolist()
        lines.append(f"values: x in [{lo[0]:.3f}, {hi[0]:.3f}], y in [{lo[1]:.3f}, {hi[1]:.3f}]")
    elif ds.kind == "audio":  # one-second clips at R Hz (see data/sound/wav.py)
        both = torch.cat([ds.train, ds.test])  # (N, R)
        lines.append(
            f"values: one-second clips at {ds.item_shape[0]} Hz, min {float(both.min()):.3f}, "
            f"max {float(both.max()):.3f}, RMS {float(both.pow(2).mean().sqrt()):.3f} (-1..1)"
        )
    else:
        total = sum(float(x.sum(dtype=torch.float64)) for x in (ds.train, ds.test))
        mean = total / (ds.train.numel() + ds.test.numel())
        lo = min(int(x.min()) for x in (ds.train, ds.test))
        hi = max(int(x.max()) for x in (ds.train, ds.test))
        lines.append(f"values: min {lo}, max {hi}, mean {mean:.1f} (0..255)")
    if palette is not None:
        hexes = " ".join(
            "#" + "".join(f"{v:02x}" for v in (c * 3 if len(c) == 1 else c)) for c in palette.colors.tolist()
        )
        lines.append(f"palette: {palette.k} colours: {hexes}")
    return "\n".join(lines)
