"""`.npz` / `.npy` files -> Dataset, read by data/formats/npyfile.py: object arrays are refused, declared sizes checked.

Images: (N, H, W) grey, (N, C, H, W) when axis 1 is 1 or 3, else (N, H, W, C) with C 1 or 3.
Values: integers in 0..255 as they are, bool as 0/255, floats in [0, 1] times 255, floats in
[0, 255] rounded; the rule is chosen once for train and test together. (N, 2) arrays are points.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from genlab.core.errors import GenlabError
from genlab.data.dataset import Dataset, image_dataset, one_line, points_dataset, tenth_split
from genlab.data.formats.npyfile import read_arrays

_SHAPES = "(N, H, W), (N, H, W, C) or (N, C, H, W) images with C 1 or 3, or (N, 2) points"


def _layout(arr: np.ndarray, where: str) -> tuple[str, np.ndarray]:
    """-> ("image", (N, C, H, W)) or ("points", (N, 2)), values untouched."""
    if arr.dtype.kind not in "biuf":
        raise GenlabError(f"{where} holds {arr.dtype} values; save a numeric (uint8 or float) array")
    if arr.ndim == 0 or len(arr) == 0 or arr.size == 0:
        raise GenlabError(f"{where} holds no items (shape {arr.shape}); save a non-empty array")
    if arr.ndim == 2 and arr.shape[1] == 2:
        return "points", arr
    if arr.ndim == 3:
        return "image", arr[:, None]  # (N, 1, H, W)
    if arr.ndim == 4 and arr.shape[1] in (1, 3):
        return "image", arr
    if arr.ndim == 4 and arr.shape[3] in (1, 3):
        return "image", arr.transpose(0, 3, 1, 2)  # (N, H, W, C) -> (N, C, H, W)
    hint = "; reshape flat rows to (N, H, W)" if arr.ndim == 2 else ""
    raise GenlabError(f"{where} has shape {arr.shape}; genlab reads {_SHAPES}{hint}")


def _image_values(x: np.ndarray, where: str) -> np.ndarray:
    """Numeric (N, C, H, W) -> uint8 (N, C, H, W) by the rule in the module doc."""
    if x.dtype.kind == "b":
        return x.astype(np.uint8) * 255
    if x.dtype.kind == "f" and not np.isfinite(x).all():
        raise GenlabError(f"{where} holds NaN or infinite values; replace them before loading")
    lo, hi = x.min(), x.max()
    if lo < 0 or hi > 255:
        raise GenlabError(
            f"{where} holds values from {lo:g} to {hi:g}; images need integers in 0..255 "
            "or floats in [0, 1] or [0, 255], so rescale them"
        )
    if x.dtype.kind == "f":
        return np.rint(x * 255.0 if hi <= 1.0 else x).astype(np.uint8)
    return x.astype(np.uint8)


def _labels(y: np.ndarray | None, n: int, where: str) -> np.ndarray | None:
    if y is None:
        return None
    if y.ndim != 1 or y.dtype.kind not in "iu" or len(y) != n:
        raise GenlabError(
            f"{where} holds {y.dtype} labels of shape {y.shape}; save one integer label "
            f"per image, shape ({n},), or leave the labels out"
        )
    if len(y) and y.min() < 0:
        raise GenlabError(f"{where} holds negative labels; labels must be 0, 1, 2, ...")
    return y.astype(np.int64)


def _read(path: Path) -> dict[str, np.ndarray]:
    """Every array in the file by name; a .npy's single array is named "". Each header's declared
    size is checked against the file before anything is allocated (data/formats/npyfile.py)."""
    try:
        return read_arrays(path)
    except OSError as exc:
        raise GenlabError(f"{path} cannot be read ({one_line(exc)}); check the file") from None


def _pick(arrays: dict[str, np.ndarray], path: Path):
    """-> (train, test or None, y_train, y_test, names of the arrays used)."""
    for x_tr, x_te in (("x_train", "x_test"), ("train", "test")):
        if x_tr in arrays and x_te in arrays:
            if ("y_train" in arrays) != ("y_test" in arrays):
                raise GenlabError(f"{path} has only one of y_train / y_test; save both or neither")
            return (
                arrays[x_tr],
                arrays[x_te],
                arrays.get("y_train"),
                arrays.get("y_test"),
                (x_tr, x_te, "y_train", "y_test"),
            )
    for x_key, y_key in (("x", "y"), ("images", "labels")):
        if x_key in arrays:
            return arrays[x_key], None, arrays.get(y_key), None, (x_key, None, y_key, None)
    if len(arrays) == 1:
        ((key, x),) = arrays.items()
        return x, None, None, None, (key, None, None, None)
    raise GenlabError(
        f"{path} holds arrays {sorted(arrays)}; name them x_train/x_test (+ y_train/y_test), "
        "train/test, or x / images (+ y / labels)"
    )


def _where(path: Path, key: str) -> str:
    return f"{path} array '{key}'" if key else str(path)


def load_array_file(path: Path, spec: str) -> Dataset:
    train, test, y_train, y_test, keys = _pick(_read(path), path)
    kind, train = _layout(train, _where(path, keys[0]))
    y_train = _labels(y_train, len(train), _where(path, keys[2]))
    if test is None:
        train_idx, test_idx, note = tenth_split(len(train), f"items of {path.name}")
        test, train = train[test_idx], train[train_idx]
        y_train, y_test = (None, None) if y_train is None else (y_train[train_idx], y_train[test_idx])
    else:
        test_kind, test = _layout(test, _where(path, keys[1]))
        if test_kind != kind or test.shape[1:] != train.shape[1:]:
            raise GenlabError(
                f"{path}: '{keys[0]}' items have shape {train.shape[1:]} but '{keys[1]}' items "
                f"have {test.shape[1:]}; save train and test with the same item shape"
            )
        y_test = _labels(y_test, len(test), _where(path, keys[3]))
        note = f"{len(train)} train / {len(test)} test: the file's own '{keys[0]}' and '{keys[1]}' arrays"
    names = None
    if y_train is not None:
        names = [str(i) for i in range(int(max(y_train.max(), y_test.max())) + 1)]
    if kind == "points":
        for x, key in ((train, keys[0]), (test, keys[1] or keys[0])):
            if not np.isfinite(x).all():
                raise GenlabError(f"{_where(path, key)} holds NaN or infinite values; replace them")
        return points_dataset(spec, train, test, y_train, y_test, names, note)
    both = _image_values(np.concatenate([train, test]), f"{path}")  # (N_train + N_test, C, H, W)
    return image_dataset(spec, both[: len(train)], both[len(train) :], y_train, y_test, names, note)
