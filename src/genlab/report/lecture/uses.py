"""Claim 2 of the notes: PixelRNN is trained without labels, completes an occluded image in several
ways, and can start a picture from a few random pixels; its likelihood is exact (van den Oord et
al. 2016; the one sampling loop is models/autoregressive.py).

A PixelCNN trains on the built-in digits (binarized, no labels used). Pictures: test digits with the
bottom half hidden and several completions of each; samples started from a few random pixels.
Measured: the exact test NLL, and how many different completions each occluded digit gets."""
from __future__ import annotations

import math

import torch

from genlab import viz
from genlab.data.masks import occlude, parse_mask
from genlab.report.lecture.base import NOT_SUPPORTED, SUPPORTED, Lab, Outcome, Section

NET = {"arch": "pixelcnn", "layers": 4, "width": 16, "head": 32, "colors": 2}
IMAGES, WAYS, SEED_PIXELS = 8, 4, 6


def run(lab: Lab) -> Outcome:
    steps = lab.budget(400, 2000)
    trained = lab.train("pixelcnn", "pixelrnn", NET, "digits", steps, lr=3e-3)
    model, test = trained.model, trained.dataset().test
    _, h, w = model.item_shape
    g = torch.Generator(device=model.device).manual_seed(lab.seed)
    with torch.no_grad():
        prepared = model.prepare(test.to(model.device))
        nll = -float(model.log_prob(prepared).mean())
    hidden = parse_mask("bottom", h, w)
    shown = test[:IMAGES]
    completions = model.complete(shown, hidden, WAYS, g).cpu()  # (IMAGES*WAYS, C, H, W), each image's in turn
    per_image = completions.view(IMAGES, WAYS, *completions.shape[1:])  # (IMAGES, WAYS, C, H, W)
    distinct = [len({tuple(c.flatten().tolist()) for c in ways}) for ways in per_image]
    rows = [shown, occlude(shown, hidden)] + [per_image[:, k] for k in range(WAYS)]
    viz.save_grid(torch.cat(rows), lab.picture("completions.png"), nrow=IMAGES)
    seeded = model.sample(2 * IMAGES, g, seed_pixels=SEED_PIXELS).cpu()
    viz.save_grid(seeded, lab.picture("from_random_pixels.png"), nrow=IMAGES)
    bits = nll / (model.dims * math.log(2))
    holds = min(distinct) >= 2
    return Outcome(
        figures={"steps": steps, "test_nll_nats": nll, "test_bits_per_dim": bits, "images": IMAGES, "ways": WAYS,
                 "distinct_completions": distinct, "seed_pixels": SEED_PIXELS},
        pictures=[("completions.png", f"row 1: test digits; row 2: bottom half hidden; rows 3-{2 + WAYS}: "
                                      f"{WAYS} completions of each", False),
                  ("from_random_pixels.png", f"samples whose first {SEED_PIXELS} pixels (raster order) were drawn "
                                             "at random, the rest by the model", False)],
        finding=(f"Trained on the images alone (no labels), the exact test NLL is {nll:.1f} nats per digit "
                 f"({bits:.3f} bits/dim, binarized); the {IMAGES} occluded digits got {min(distinct)} to "
                 f"{max(distinct)} different completions out of {WAYS} each."),
        verdict=SUPPORTED if holds else NOT_SUPPORTED, setup=f"PixelCNN {NET}, digits (binarized, labels unused), {steps} steps, lr 3e-3")


SECTION = Section("uses", data="digits", figure="completions", rule="interim: at least 2 distinct completions", run=run)
