"""PixelRNN in slow motion: one completion, reported pixel by pixel with the distribution over the
palette that each pixel was drawn from (van den Oord et al. 2016, "Pixel Recurrent Neural
Networks": p(x) = Π p(x_i | x_<i), one softmax per pixel). It is the model's own completion loop
(fast stepper, same seed), so the last image equals what /api/complete draws with n = 1."""

from __future__ import annotations

from typing import Callable

import torch

from genlab.core.errors import GenlabError


def complete_pixel_by_pixel(
    model, image: torch.Tensor, hidden: torch.Tensor, seed: int, temperature: float, report: Callable[[dict], None]
) -> dict:
    """image uint8 (1, C, H, W), hidden bool (H, W). Reports {"i", "j", "probs", "drawn"} for every
    hidden pixel in drawing order; returns {"done", "pixels"} with the completed image."""
    if getattr(model, "raw", False) or not getattr(model, "uses_palette", False):
        raise GenlabError(
            "slow motion shows a softmax over the run's palette; this run predicts raw R, G, B "
            "values (--output raw): use Complete"
        )
    colours = model.palette.colors.cpu()  # (K, C) uint8

    def on_pixel(i: int, j: int, _c: int, probs: torch.Tensor, drawn: torch.Tensor) -> None:
        report({"i": i, "j": j, "probs": [round(float(p), 4) for p in probs[0]], "drawn": int(drawn[0])})

    g = torch.Generator(device=model.device).manual_seed(seed)
    out = model.complete(image, hidden, n=1, generator=g, temperature=temperature, on_pixel=on_pixel)
    return {"done": True, "pixels": out.cpu().flatten().tolist(), "palette": colours.tolist()}
