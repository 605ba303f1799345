"""A folder of image files -> Dataset; subfolder names are the labels.

Files are found recursively (hidden ones skipped) and read in sorted path order. A folder whose
top level is `train/` and `test/` keeps that split; otherwise the last 10% of a seed-0
permutation are the test split.
Transparent pixels are composited over white.
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np

from genlab.core.errors import GenlabError
from genlab.data.dataset import MAX_IMAGE_SIZE, Dataset, image_dataset, one_line, tenth_split, to_channels
from genlab.data.formats.imagefile import open_image, shrink_for

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp")
GREY_MODES = {"1", "L", "LA", "La", "I", "F"}  # plus every "I;16..." mode and grey-palette "P"
ALPHA_MODES = {"RGBA", "RGBa", "LA", "La", "PA"}
_PIL_ERRORS = (OSError, ValueError, SyntaxError, EOFError, IndexError, TypeError, struct.error, zlib.error)


def find_images(folder: Path) -> list[Path]:
    return find_files(folder, IMAGE_EXTENSIONS)


def find_files(folder: Path, extensions: tuple[str, ...]) -> list[Path]:
    """Files under folder with one of these endings (any case), sorted by relative path; hidden files
    and folders (".*") are skipped."""
    found = [
        p
        for p in folder.rglob("*")
        if p.suffix.lower() in extensions
        and p.is_file()
        and not any(part.startswith(".") for part in p.relative_to(folder).parts)
    ]
    return sorted(found, key=lambda p: p.relative_to(folder).as_posix())


def _grey_levels(img) -> np.ndarray:
    """A grey PIL image of any depth -> uint8 (H, W); 16-bit and float images are rescaled."""
    if img.mode in ("1", "L", "P", "RGBA"):
        return np.asarray(img.convert("L"))
    arr = np.asarray(img).astype(np.float64)
    top = arr.max(initial=0)
    if img.mode.startswith("I;16"):
        arr = arr / 257.0
    elif img.mode == "F" and top <= 1.0:
        arr = arr * 255.0
    elif top > 255:  # 32-bit integer grey: 16-bit data, or wider
        arr = arr * (255.0 / max(top, 65535.0))
    return np.clip(np.rint(arr), 0, 255).astype(np.uint8)


def _over_white(img):
    """Any PIL image with transparency -> RGBA with every pixel opaque, composited over white."""
    from PIL import Image

    rgba = img.convert("RGBA")
    out = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
    out.alpha_composite(rgba)
    return out


def _is_grey(img) -> bool:
    if img.mode == "P":
        rgb = np.asarray(img.getpalette() or [0, 0, 0]).reshape(-1, 3)  # (colours, 3)
        return bool((rgb == rgb[:, :1]).all())
    return img.mode in GREY_MODES or img.mode.startswith("I;16")


def _unreadable(path: Path, exc: BaseException) -> GenlabError:
    from PIL import UnidentifiedImageError

    if isinstance(exc, UnidentifiedImageError):
        why = "the file is empty" if path.stat().st_size == 0 else "not an image format Pillow reads"
    else:
        why = one_line(exc)
    return GenlabError(f"{path} is not a readable image ({why}); remove it or fix it")


def image_header(path: Path) -> tuple[bool, tuple[int, int]]:
    """(True if its mode is grey, (width, height)) of one file, from its header (no pixels decoded);
    GenlabError when the declared size is out of bounds (imagefile.check_declared_size)."""
    from PIL import Image

    try:
        with open_image(path, str(path)) as img:
            return _is_grey(img), img.size
    except (*_PIL_ERRORS, Image.DecompressionBombError) as exc:
        raise _unreadable(path, exc) from exc


def _too_large(path: Path, w: int, h: int) -> GenlabError:
    return GenlabError(f"{path} is {w}x{h}, larger than {MAX_IMAGE_SIZE}; pass --image-size S to shrink the images")


def _read_image(path: Path, size: int | None):
    """One file -> (uint8 (H, W) grey or (H, W, 3) RGB array, True if its mode is grey). Its declared
    size is checked before anything is decoded: within imagefile's bounds, and without `size` at most
    MAX_IMAGE_SIZE a side."""
    from PIL import Image

    try:
        with open_image(path, str(path), None if size is None else (size, size)) as img:
            if size is None and max(img.size) > MAX_IMAGE_SIZE:
                raise _too_large(path, *img.size)
            img.load()
            is_grey = _is_grey(img)
            if img.mode in ALPHA_MODES or "transparency" in img.info:
                img = _over_white(img)
            img = Image.fromarray(_grey_levels(img)) if is_grey else img.convert("RGB")
            if size is not None:
                img = shrink_for(img, (size, size)).resize((size, size), Image.Resampling.LANCZOS)
            return np.asarray(img), is_grey
    except (*_PIL_ERRORS, Image.DecompressionBombError) as exc:
        raise _unreadable(path, exc) from exc


def _labels(rel_paths: list[tuple[str, ...]]) -> tuple[np.ndarray | None, list[str] | None]:
    """Each image's top subfolder is its label, when every image sits in a subfolder."""
    if not rel_paths or any(len(parts) < 2 for parts in rel_paths):
        return None, None
    names = sorted({parts[0] for parts in rel_paths})
    index = {name: i for i, name in enumerate(names)}
    return np.array([index[parts[0]] for parts in rel_paths], np.int64), names


def _has_split_dirs(folder: Path, files: list[Path]) -> bool:
    """True when every image sits below a top-level train/ or test/ folder, and both have some."""
    tops = [f.relative_to(folder).parts for f in files]
    return all(len(parts) > 1 and parts[0].lower() in ("train", "test") for parts in tops) and {
        parts[0].lower() for parts in tops
    } == {"train", "test"}


def check_sizes(folder: Path, files: list[Path], sizes: list[tuple[int, int]]) -> None:
    """Without --image-size every image must have the first one's size, at most MAX_IMAGE_SIZE."""
    (w0, h0) = sizes[0]
    for f, (w, h) in zip(files, sizes):
        if (h, w) != (h0, w0):
            raise GenlabError(
                f"images in {folder} have different sizes: {files[0]} is {w0}x{h0} but {f} "
                f"is {w}x{h}; pass --image-size S to resize them all to SxS"
            )
        if max(h, w) > MAX_IMAGE_SIZE:
            raise _too_large(f, w, h)


def stack_images(folder: Path, files: list[Path], size: int | None, channels: int | None) -> np.ndarray:
    """Read every file -> uint8 (N, C, H, W); without `size` all images must share one size."""
    arrays, greys = [], []
    for f in files:
        arr, grey = _read_image(f, size)
        check_sizes(folder, [files[0], f], [arrays[0].shape[1::-1] if arrays else arr.shape[1::-1], arr.shape[1::-1]])
        arrays.append(arr)
        greys.append(grey)
    target = channels or (1 if all(greys) else 3)
    # each image as (C, H, W) in its own channel count, then all brought to `target`
    chw = [a[None] if a.ndim == 2 else a.transpose(2, 0, 1) for a in arrays]
    return np.stack([to_channels(a[None], target)[0] for a in chw])  # (N, C, H, W)


def load_image_folder(folder: Path, spec: str, size: int | None, channels: int | None) -> Dataset:
    files, train_idx, test_idx, note, labels, names = folder_plan(folder)
    images = stack_images(folder, files, size, channels)
    order = np.concatenate([train_idx, test_idx])
    return image_dataset(
        spec,
        images[train_idx],
        images[test_idx],
        None if labels is None else labels[train_idx],
        None if labels is None else labels[test_idx],
        names,
        note,
        files=[str(files[i]) for i in order],
    )


def folder_plan(folder: Path) -> tuple[list[Path], np.ndarray, np.ndarray, str, np.ndarray | None, list[str] | None]:
    """(files, train indices, test indices, split note, labels, label names) of an image folder,
    without reading any image."""
    files = find_images(folder)
    if not files:
        raise GenlabError(
            f"{folder} holds no image files ({', '.join(IMAGE_EXTENSIONS)}, searched "
            "recursively), nor MNIST IDX or CIFAR files; point --data at a folder of images"
        )
    if _has_split_dirs(folder, files):
        is_train = np.array([f.relative_to(folder).parts[0].lower() == "train" for f in files])
        train_idx, test_idx = np.flatnonzero(is_train), np.flatnonzero(~is_train)
        rel = [f.relative_to(folder).parts[1:] for f in files]
        note = f"{len(train_idx)} train / {len(test_idx)} test: the folder's own train/ and test/ subfolders"
    else:
        train_idx, test_idx, note = tenth_split(len(files), "images (sorted by path)")
        rel = [f.relative_to(folder).parts for f in files]
    labels, names = _labels(rel)
    return files, train_idx, test_idx, note, labels, names
