"""Single images a user points at: an image file (or an upload), or SPEC:SPLIT:INDEX from a data spec."""

from __future__ import annotations

import re
from pathlib import Path
from typing import BinaryIO

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from genlab.core.errors import GenlabError
from genlab.data import load_dataset
from genlab.data.formats.imagefile import open_image, shrink_for

_REF = re.compile(r"^(?P<spec>.+):(?P<split>train|test):(?P<index>-?\d+)$")


def load_image_ref(text: str, item_shape: tuple[int, int, int], data_options: dict | None = None) -> torch.Tensor:
    """-> uint8 (1, C, H, W) in the run's shape. `text` is a file path or SPEC:SPLIT:INDEX."""
    return load_labelled_image_ref(text, item_shape, data_options)[0]


def load_labelled_image_ref(
    text: str, item_shape: tuple[int, int, int], data_options: dict | None = None
) -> tuple[torch.Tensor, int | None]:
    """As `load_image_ref`, with the item's class label (None for a file or unlabelled data)."""
    c, h, w = item_shape
    match = _REF.match(text)
    if match and not Path(text).exists():
        opts = dict(data_options or {})
        opts.pop("data", None)
        data = load_dataset(match["spec"], **opts)
        items = data.train if match["split"] == "train" else data.test
        index = int(match["index"])
        if data.kind != "image":
            raise GenlabError(f"{match['spec']} holds points, not images")
        if not -len(items) <= index < len(items):
            raise GenlabError(f"{text}: index {index} is outside the {match['split']} split (0..{len(items) - 1})")
        image = items[index : index + 1] if index != -1 else items[-1:]
        if tuple(image.shape[1:]) != (c, h, w):
            raise GenlabError(
                f"{text} is {tuple(image.shape[1:])} but the run expects {(c, h, w)}; "
                f"pick an item of the run's own data"
            )
        labels = data.train_labels if match["split"] == "train" else data.test_labels
        return image.clone(), None if labels is None else int(labels[index])
    path = Path(text)
    if not path.is_file():
        parts = text.rsplit(":", 2)
        if len(parts) == 3 and re.fullmatch(r"-?\d+", parts[2]) and parts[0]:
            raise GenlabError(
                f"{text}: the split must be train or test, not {parts[1]!r} (e.g. {parts[0]}:test:{parts[2]})"
            )
        raise GenlabError(f"{text} is neither an image file nor SPEC:SPLIT:INDEX (e.g. mnist5k:test:3)")
    return read_image(path, item_shape, str(path)), None


def read_image(source: str | Path | BinaryIO, item_shape: tuple[int, int, int], name: str) -> torch.Tensor:
    """An image file (a path or an open binary file) converted and resized to the run's shape ->
    uint8 (1, C, H, W); GenlabError naming `name` when it is not a readable image or its declared
    size is out of bounds (data/formats/imagefile.py)."""
    c, h, w = item_shape
    try:
        with open_image(source, name, (w, h)) as im:  # the declared size is checked before decoding
            im.load()
            im = im.convert("L" if c == 1 else "RGB")
            if im.size != (w, h):
                im = shrink_for(im, (w, h)).resize((w, h), Image.LANCZOS)
            array = np.asarray(im, dtype=np.uint8)
    except (UnidentifiedImageError, Image.DecompressionBombError, OSError, ValueError) as exc:
        raise GenlabError(f"{name} is not a readable image ({exc.__class__.__name__}); give a PNG or JPEG") from None
    array = array[:, :, None] if array.ndim == 2 else array  # (H, W, C)
    return torch.from_numpy(array.copy()).permute(2, 0, 1)[None]  # (1, C, H, W)
