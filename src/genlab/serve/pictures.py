"""Images on the page: uint8 tensors <-> PNG data URLs at their own size (the page scales them up
with `image-rendering: pixelated`)."""

from __future__ import annotations

import base64
import io

import torch
from PIL import Image


def png_url(image: torch.Tensor) -> str:
    """uint8 (C, H, W) with C = 1 or 3 -> "data:image/png;base64,..."."""
    array = image.detach().cpu().permute(1, 2, 0).numpy()  # (C, H, W) -> (H, W, C)
    pic = Image.fromarray(array[:, :, 0], "L") if array.shape[2] == 1 else Image.fromarray(array, "RGB")
    buf = io.BytesIO()
    pic.save(buf, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def png_urls(images: torch.Tensor) -> list[str]:
    return [png_url(im) for im in images]
