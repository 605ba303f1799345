"""Image files a user hands in (a data folder, `complete --input`, an upload), opened within bounds
that their header declares: each side, the aspect ratio and the pixel count are checked before a
pixel is decoded, and a large image is shrunk cheaply by a whole factor (the JPEG decoder's draft
mode, Pillow's `reduce`) before the exact Lanczos resize, so a 97 KB PNG of 1 x 49,999,999 pixels
costs nothing and a 40-megapixel photo resized to 28x28 costs little.
"""

from __future__ import annotations

import contextlib
import warnings
from typing import Iterator

from genlab.core.errors import GenlabError

MAX_SIDE = 16384  # pixels, either side
MAX_ASPECT = 64  # the longer side over the shorter
MAX_PIXELS = 50_000_000  # width x height
REDUCE_ABOVE = 4_000_000  # images with more pixels are shrunk by a whole factor before a resize


def check_declared_size(name: str, width: int, height: int, max_pixels: int = MAX_PIXELS) -> None:
    """GenlabError naming the file unless its declared size is within the bounds above."""
    fix = "shrink or crop it first, or remove it"
    if min(width, height) < 1:
        raise GenlabError(f"{name} declares {width}x{height} pixels; it holds no image: {fix}")
    if max(width, height) > MAX_SIDE:
        raise GenlabError(
            f"{name} is {width}x{height} pixels; genlab reads images up to {MAX_SIDE} pixels a side: {fix}"
        )
    if max(width, height) > MAX_ASPECT * min(width, height):
        raise GenlabError(
            f"{name} is {width}x{height} pixels, over {MAX_ASPECT} times longer than wide; "
            f"genlab reads images whose longer side is at most {MAX_ASPECT} times the shorter: {fix}"
        )
    if width * height > max_pixels:
        raise GenlabError(
            f"{name} is {width}x{height} pixels ({width * height / 1e6:.1f} megapixels); genlab reads "
            f"images up to {max_pixels / 1e6:g} megapixels: {fix}"
        )


@contextlib.contextmanager
def open_image(source, name: str, target: tuple[int, int] | None = None, max_pixels: int = MAX_PIXELS) -> Iterator:
    """`PIL.Image.open(source)` with its declared size checked (nothing is decoded yet); a large JPEG
    is set to decode at a whole fraction of its size that still covers `target` (width, height)."""
    from PIL import Image

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # the checks above replace it
        with Image.open(source) as img:
            check_declared_size(name, *img.size, max_pixels=max_pixels)
            if target is not None and img.width * img.height > REDUCE_ABOVE:
                img.draft(None, (2 * target[0], 2 * target[1]))
            yield img


def shrink_for(img, target: tuple[int, int]):
    """A decoded large image reduced by a whole factor that keeps at least twice `target` (width,
    height) on each side, for the resize that follows; small images are returned as they are."""
    if img.width * img.height <= REDUCE_ABOVE or img.mode not in ("L", "RGB"):
        return img
    factor = min(img.width // (2 * target[0]), img.height // (2 * target[1]))
    return img.reduce(factor) if factor >= 2 else img
