"""MNIST-style IDX files (`train-images-idx3-ubyte[.gz]` and kin) -> Dataset.

One images file (its labels file found beside it by name) is split 10% by a seed-0 permutation;
a folder with the four standard files (train-/t10k- images/labels, MNIST or Fashion-MNIST) keeps
that train/test split. Header: magic 2051 (images: count, rows, cols) or 2049 (labels: count),
big-endian, then one unsigned byte per value.
"""

from __future__ import annotations

import gzip
import math
import re
import zlib
from pathlib import Path

import numpy as np

from genlab.core.errors import GenlabError
from genlab.data.dataset import Dataset, image_dataset, one_line, tenth_split
from genlab.data.formats.npyfile import memory_bytes

IMAGES_MAGIC, LABELS_MAGIC = 2051, 2049
_STANDARD = re.compile(r"^(train|t10k)-(images|labels)[.-]idx[13]-ubyte(\.gz)?$", re.IGNORECASE)


def is_idx_name(path: Path) -> bool:
    name = path.name.lower().removesuffix(".gz")
    return bool(re.search(r"idx\d", name)) or name.endswith("ubyte") or name.endswith(".idx")


GZIP_MAX_RATIO = 1100  # deflate expands at most about 1032-fold: a .gz cannot hold more than this times its size


def read_idx(path: Path, magic: int) -> np.ndarray:
    """An IDX file -> uint8 (N, rows, cols) for images or (N,) for labels, checked against its header.

    The header is read first and the size it declares checked against the file (for a .gz, against
    the most its compressed size can expand to, then while decompressing) before the values are read,
    so a header claiming billions of images costs nothing."""
    kind = "images" if magic == IMAGES_MAGIC else "labels"
    dims = 3 if magic == IMAGES_MAGIC else 1
    header_size = 4 + 4 * dims
    gz = path.name.lower().endswith(".gz")
    try:
        with gzip.open(path, "rb") if gz else open(path, "rb") as fh:
            header = fh.read(header_size)
            if len(header) < header_size:
                raise GenlabError(
                    f"{path} is only {len(header)} bytes, shorter than an IDX {kind} header; "
                    "the file is truncated or not IDX, download it again"
                )
            found = int.from_bytes(header[:4], "big")
            if found != magic:
                raise GenlabError(
                    f"{path} has magic number {found}, not {magic} (IDX {kind}); pass an MNIST-style {kind} file"
                )
            shape = tuple(int.from_bytes(header[4 + 4 * i : 8 + 4 * i], "big") for i in range(dims))
            count, on_disk = math.prod(shape), path.stat().st_size
            if not gz and count != on_disk - header_size:
                _promise(path, on_disk, header_size + count, shape)
            if gz and count > GZIP_MAX_RATIO * on_disk or count > memory_bytes():
                raise GenlabError(
                    f"{path} declares {' x '.join(map(str, shape))} values ({count:,} bytes), more "
                    f"than its {on_disk:,} bytes can hold; the file is corrupt, download it again"
                )
            data = fh.read(count + 1)  # one byte more: a file longer than its header says is refused too
    except (OSError, EOFError, zlib.error) as exc:  # gzip.BadGzipFile is an OSError
        raise GenlabError(
            f"{path} cannot be read ({one_line(exc)}); the file is truncated or corrupt, download it again"
        ) from exc
    if len(data) != count:
        _promise(path, f"{header_size + len(data)}{'+' * (len(data) > count)}", header_size + count, shape)
    if shape[0] == 0:
        raise GenlabError(f"{path} holds no items; pass a non-empty IDX file")
    return np.frombuffer(data, np.uint8).reshape(shape)  # (N, rows, cols) or (N,)


def _promise(path: Path, held, promised: int, shape: tuple[int, ...]):
    raise GenlabError(
        f"{path} holds {held} bytes but its header promises {promised} ({' x '.join(map(str, shape))} "
        "values); the file is truncated or corrupt, download it again"
    )


def _labels_beside(images: Path) -> Path | None:
    base = images.name.removesuffix(".gz")
    name = base.replace("images", "labels").replace("idx3", "idx1")
    if name == base:
        return None
    for candidate in (images.with_name(name), images.with_name(name + ".gz")):
        if candidate.is_file():
            return candidate
    return None


def _pair(images: Path, labels: Path | None) -> tuple[np.ndarray, np.ndarray | None]:
    """-> (uint8 (N, 1, H, W), int64 labels (N,) or None)."""
    x = read_idx(images, IMAGES_MAGIC)[:, None]  # (N, 1, H, W)
    if labels is None:
        return x, None
    y = read_idx(labels, LABELS_MAGIC).astype(np.int64)
    if len(y) != len(x):
        raise GenlabError(f"{labels} holds {len(y)} labels but {images} holds {len(x)} images; pass matching files")
    return x, y


def _names(*labels: np.ndarray | None) -> list[str] | None:
    if any(y is None for y in labels):
        return None
    return [str(i) for i in range(int(max(y.max() for y in labels)) + 1)]


def load_idx_file(path: Path, spec: str) -> Dataset:
    x, y = _pair(path, _labels_beside(path))
    train, test, note = tenth_split(len(x), f"images of {path.name}")
    return image_dataset(
        spec, x[train], x[test], None if y is None else y[train], None if y is None else y[test], _names(y), note
    )


def standard_idx_files(folder: Path) -> dict[tuple[str, str], Path]:
    """{("train"|"t10k", "images"|"labels"): path} for the standard MNIST file names in folder."""
    found = {}
    for f in sorted(folder.iterdir()):
        m = _STANDARD.match(f.name)
        if m and f.is_file():
            found.setdefault((m.group(1).lower(), m.group(2).lower()), f)
    return found


def load_idx_folder(folder: Path, spec: str) -> Dataset:
    files = standard_idx_files(folder)
    missing = [
        f"{split}-{kind}" for split in ("train", "t10k") for kind in ("images", "labels") if (split, kind) not in files
    ]
    if any(k.endswith("images") for k in missing) or len(missing) == 1:
        raise GenlabError(
            f"{folder} lacks the MNIST IDX files {', '.join(missing)}; it needs "
            "train-images, t10k-images (and both or neither labels) -idx*-ubyte[.gz]"
        )
    x_tr, y_tr = _pair(files["train", "images"], files.get(("train", "labels")))
    x_te, y_te = _pair(files["t10k", "images"], files.get(("t10k", "labels")))
    if x_tr.shape[1:] != x_te.shape[1:]:
        raise GenlabError(
            f"{files['train', 'images']} holds {x_tr.shape[2:]} images but "
            f"{files['t10k', 'images']} holds {x_te.shape[2:]}; pass files of one dataset"
        )
    note = f"{len(x_tr)} train / {len(x_te)} test: the standard train-* and t10k-* IDX files"
    return image_dataset(spec, x_tr, x_te, y_tr, y_te, _names(y_tr, y_te), note)
