"""Which pixels `genlab complete` hides: `bottom`, `right`, `box:x0,y0,x1,y1` or a mask image.

A mask is a bool tensor (H, W), True where a pixel is hidden (and drawn anew by the model).
`bottom` hides rows H//2..H-1, `right` columns W//2..W-1; `box:x0,y0,x1,y1` hides columns x0..x1-1
of rows y0..y1-1 (x across, y down, the end excluded, as in PIL's crop box); a mask image must have
the image's size and hides its light pixels (grey level >= 128: white = hidden).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from genlab.core.errors import GenlabError

KINDS = "bottom, right, box:x0,y0,x1,y1 or a mask image (white = hidden)"


def parse_mask(text: str, height: int, width: int) -> torch.Tensor:
    """--mask TEXT for an H x W image -> bool (H, W), True = hidden. GenlabError when it is malformed,
    lies outside the image, has the wrong size, or hides nothing."""
    hidden = torch.zeros(height, width, dtype=torch.bool)
    if text == "bottom":
        hidden[height // 2 :] = True
    elif text == "right":
        hidden[:, width // 2 :] = True
    elif text.startswith("box:"):
        x0, y0, x1, y1 = _box(text, height, width)
        hidden[y0:y1, x0:x1] = True
    elif text and Path(text).is_file():
        hidden = _mask_image(Path(text), height, width)
    else:
        raise GenlabError(f"--mask {text!r} is not {KINDS}; e.g. --mask bottom or --mask box:4,4,20,20")
    if not hidden.any():
        raise GenlabError(
            f"--mask {text} hides no pixel of the {width}x{height} image, so there is nothing to "
            f"complete; hide some pixels (white in a mask image)"
        )
    return hidden


def _box(text: str, height: int, width: int) -> tuple[int, int, int, int]:
    parts = text[len("box:") :].split(",")
    try:
        x0, y0, x1, y1 = (int(p) for p in parts)
    except ValueError:
        raise GenlabError(
            f"--mask {text}: a box is box:x0,y0,x1,y1 with four whole numbers, e.g. box:4,4,20,20"
        ) from None
    if x1 <= x0 or y1 <= y0:
        raise GenlabError(f"--mask {text} is empty: it needs x0 < x1 and y0 < y1 (the end is excluded)")
    if x0 < 0 or y0 < 0 or x1 > width or y1 > height:
        raise GenlabError(
            f"--mask {text} lies outside the {width}x{height} image; keep 0 <= x0 < x1 <= {width} "
            f"and 0 <= y0 < y1 <= {height}"
        )
    return x0, y0, x1, y1


def _mask_image(path: Path, height: int, width: int) -> torch.Tensor:
    try:
        with Image.open(path) as im:
            if im.size != (width, height):  # from the header, before anything is decoded
                raise GenlabError(
                    f"--mask {path} is {im.width}x{im.height} but the image is {width}x{height}; "
                    f"draw the mask at the image's size"
                )
            im.load()
            grey = np.asarray(im.convert("L"), dtype=np.uint8)
    except (UnidentifiedImageError, Image.DecompressionBombError, OSError, ValueError) as exc:
        raise GenlabError(
            f"--mask {path} is not a readable image ({exc.__class__.__name__}); give a PNG, white = hidden"
        ) from None
    return torch.from_numpy(grey >= 128)


def occlude(image: torch.Tensor, hidden: torch.Tensor) -> torch.Tensor:
    """uint8 (1, C, H, W) with the hidden pixels (H, W) painted as a grey checkerboard (96 / 160)."""
    h, w = hidden.shape
    checker = ((torch.arange(h)[:, None] + torch.arange(w)) % 2 * 64 + 96).to(torch.uint8)  # (H, W)
    return torch.where(hidden.to(image.device), checker.to(image.device), image)
