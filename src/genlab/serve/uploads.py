"""Images a user hands the page: refused in plain words when they cannot be useful (too many pixels,
not an image), shown in the run's own colours, and checked against the training data's background
(a black-on-white digit given to a run trained on white-on-black digits completes into blocks)."""

from __future__ import annotations

import io
import warnings

import torch
from PIL import Image, UnidentifiedImageError

from genlab.core.errors import GenlabError
from genlab.data.formats.imagefile import check_declared_size
from genlab.data.inputs.image import read_image

INVERTED_GAP = 128  # backgrounds (border medians) this far apart in grey level: the upload looks inverted


class NotAnImage(GenlabError):
    """The upload cannot be read as an image (answered with 415)."""


def read_upload(data: bytes, name: str, item_shape: tuple[int, int, int], max_pixels: int) -> torch.Tensor:
    """Bytes of an image file -> uint8 (1, C, H, W) in the run's shape. The size is read from the
    header before anything is decoded, so a decompression bomb costs nothing."""
    shrink = (
        f"the page takes images up to {max_pixels / 1e6:g} megapixels and shrinks them to the run's size "
        f"anyway: shrink it first"
    )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # the size is checked below
            with Image.open(io.BytesIO(data)) as im:
                width, height = im.size
    except Image.DecompressionBombError:  # PIL refuses to even open it
        raise GenlabError(f"{name} is over {2 * Image.MAX_IMAGE_PIXELS / 1e6:.0f} megapixels; {shrink}") from None
    except (UnidentifiedImageError, OSError, ValueError):
        raise NotAnImage(f"{name} is not an image this page can read; give a PNG or JPEG") from None
    if width * height > max_pixels:
        raise GenlabError(f"{name} is {width}x{height} pixels ({width * height / 1e6:.1f} megapixels); {shrink}")
    check_declared_size(name, width, height, max_pixels)  # each side and the aspect ratio too
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # the size was checked above
        try:
            return read_image(io.BytesIO(data), item_shape, name)
        except GenlabError:
            raise NotAnImage(f"{name} is not an image this page can read; give a PNG or JPEG") from None


def in_run_colours(model, images: torch.Tensor) -> torch.Tensor:
    """uint8 (N, C, H, W) -> the same images in the run's palette (what the model sees), so the
    visible pixels of a completion match the pixels the model fills in."""
    if not getattr(model, "uses_palette", False) or getattr(model, "raw", False):
        return images
    palette = model.palette
    return palette.decode(palette.encode(images.to(palette.colors.device))).to(images.device)


def background(images: torch.Tensor) -> float:
    """The grey level of the images' border pixels (median): their background. (N, C, H, W) uint8."""
    grey = images.float().mean(1)  # (N, H, W)
    border = torch.cat([grey[:, 0], grey[:, -1], grey[:, 1:-1, 0], grey[:, 1:-1, -1]], 1)  # (N, 2W + 2H - 4)
    return float(border.median())


def looks_inverted(upload: torch.Tensor, training: torch.Tensor) -> bool:
    """True when the upload's background is the training images' foreground side of grey."""
    return abs(background(upload) - background(training)) >= INVERTED_GAP
