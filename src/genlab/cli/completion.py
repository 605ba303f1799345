"""`genlab complete` for images: hide part of an image and let an autoregressive model fill it in.

The input is an image file or SPEC:SPLIT:INDEX; the mask is `bottom`, `right`, `box:x0,y0,x1,y1`
or a mask image (see `genlab.data.inputs.masks`). The model draws `--n` completions with the same pixel-by-pixel
loop as `sample`, keeping every visible pixel exactly as it is in the input. Output:
- `.png`: one grid, the original, the occluded input (hidden pixels as a grey checkerboard), then
  the completions (rows of at most 10 pictures);
- `.npz`: `original` (1, C, H, W), `mask` (H, W) bool (True = hidden), `occluded` (1, C, H, W),
  `completions` (n, C, H, W), all uint8 but the mask;
- a folder: `original.png`, `occluded.png`, `mask.png` (white = hidden), `0000.png`, ... one per
  completion.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import torch

from genlab import viz
from genlab.cli.args import class_label
from genlab.core.errors import GenlabError
from genlab.data.inputs.image import load_labelled_image_ref
from genlab.data.inputs.masks import occlude, parse_mask
from genlab.models import Capability
from genlab.train.runs import LoadedRun

PER_ROW = 10  # pictures per row of the .png grid
TILE = 96  # the grid is scaled up (nearest) until each picture is at least about this many pixels wide


def write_completions(out: Path, original: torch.Tensor, hidden: torch.Tensor, completions: torch.Tensor) -> None:
    """Write the original (1, C, H, W), the mask (H, W) and the completions (n, C, H, W) as --out asks."""
    original, hidden, completions = original.cpu(), hidden.cpu(), completions.cpu()
    occluded = occlude(original, hidden)
    suffix = out.suffix.lower()
    if suffix == ".npz":
        viz.save_npz(
            out,
            original=original.numpy(),
            mask=hidden.numpy(),
            occluded=occluded.numpy(),
            completions=completions.numpy(),
        )
    elif suffix == ".png":
        cols = min(PER_ROW, len(completions) + 2)
        pictures = torch.cat([original, occluded, completions])
        viz.save_png(viz.image_grid(pictures, nrow=cols, min_side=TILE * cols), out)
    else:
        viz.save_output(completions, out)  # 0000.png, 0001.png, ...
        for name, image in (
            ("original", original),
            ("occluded", occluded),
            ("mask", hidden[None, None].to(torch.uint8) * 255),
        ):
            viz.save_png(viz.image_grid(image, pad=0, min_side=0), out / f"{name}.png")


def complete_images(run: LoadedRun, ns: argparse.Namespace) -> None:
    out = viz.check_output_path(ns.out)
    if out.suffix.lower() == ".wav":
        raise GenlabError(f"--out {out}: completions of an image are pictures; write a .png, a .npz or a folder")
    for flag in ("keep_seconds", "seconds"):
        if getattr(ns, flag, None) is not None:
            raise GenlabError(
                f"--{flag.replace('_', '-')} is for sound; {run.path} is a {run.config['model']} run on images"
            )
    if not (math.isfinite(ns.temperature) and ns.temperature > 0):
        raise GenlabError(f"--temperature must be above 0, not {ns.temperature}")
    model = run.model
    c, h, w = run.config["item_shape"]
    image, label = load_labelled_image_ref(ns.input, (c, h, w), run.config["data"])  # (1, C, H, W)
    hidden = parse_mask(ns.mask, h, w)
    g = torch.Generator(device=model.device).manual_seed(ns.seed)
    labels = {}
    if ns.label is not None:
        labels = {"labels": class_label(run, ns.label)}
    elif model.can(Capability.CONDITIONAL) and label is not None and label < model.label_count:
        labels = {"labels": label}  # the item's own class
    completions = model.complete(
        image, hidden, n=ns.n, generator=g, temperature=ns.temperature, **labels
    )  # (n, C, H, W)
    write_completions(out, image, hidden, completions)
    shown = h * w - int(hidden.sum())
    print(
        f"wrote the original, the occluded input and {ns.n} completion(s) of {ns.input} ({h * w - shown} of "
        f"{h * w} pixels hidden, {shown} kept exactly) to {out}",
        flush=True,
    )
