"""Claim 1 of the notes: predicting each pixel's colour as a 3-number vector (regression) makes the
generated images greyish, R, G and B coming out alike; 1-of-N classes from clustering the colours
fix it (van den Oord et al. 2016 for PixelRNN; the palette is k-means, data/palette.py).

The same PixelCNN trains on colour crops of the built-in flower photo twice: with `--output
regression` (a Gaussian per channel value, R -> G -> B) and with a k-means palette of 1-of-N
colours. Measured: the mean HSV saturation of samples against the data's."""
from __future__ import annotations

import torch
from matplotlib.colors import rgb_to_hsv

from genlab import viz
from genlab.report.lecture.base import NOT_SUPPORTED, SUPPORTED, Lab, Outcome, Section

DATA = "patches:flower"
NET = {"arch": "pixelcnn", "layers": 3, "width": 24, "head": 32}
OUTPUTS = {"regression": {"output": "regression"}, "palette": {"output": "palette", "colors": 16}}
SHOWN = 32
SIZE = 16  # crops of 16x16 pixels
GREY = 0.1  # "greyish": a mean saturation at least this share below the data's


def saturation(images: torch.Tensor) -> float:
    """Mean HSV saturation of uint8 RGB images (N, 3, H, W): 0 for greys, 1 for pure colours."""
    rgb = images.permute(0, 2, 3, 1).double().numpy() / 255.0  # (N, H, W, 3)
    return float(rgb_to_hsv(rgb)[..., 1].mean())


def run(lab: Lab) -> Outcome:
    steps = lab.budget(400, 2000)
    samples, nll = {}, {}
    for name, options in OUTPUTS.items():
        trained = lab.train(name, "pixelrnn", {**NET, **options}, DATA, steps, batch_size=32, image_size=SIZE)
        model = trained.model
        lab.say(f"  sampling {SHOWN} images from the {name} model")
        samples[name] = model.sample(SHOWN, torch.Generator(device=model.device).manual_seed(lab.seed)).cpu()
        test = trained.dataset().test
        with torch.no_grad():
            g = torch.Generator(device=model.device).manual_seed(lab.seed)
            prepared = model.prepare(test.to(model.device))
            kw = {"generator": g} if model.regression else {}
            nll[name] = -float(model.log_prob(prepared, **kw).mean()) / (model.dims * 0.6931471805599453)
    data = trained.dataset().test
    sat = {"data": saturation(data), **{k: saturation(v) for k, v in samples.items()}}
    viz.save_grid(torch.cat([data[:SHOWN // 2], samples["regression"][:SHOWN // 2], samples["palette"][:SHOWN // 2]]),
                  lab.picture("samples.png"), nrow=SHOWN // 2)
    holds = (sat["regression"] < (1 - GREY) * sat["data"]
             and abs(sat["palette"] - sat["data"]) < abs(sat["regression"] - sat["data"]))
    return Outcome(
        figures={"steps": steps, "data": DATA, "saturation": sat, "test_bits_per_dim": nll,
                 "bits_per_dim_note": "regression: dequantized density per channel value; palette: per pixel index "
                                      "over 16 colours (not comparable)"},
        pictures=[("samples.png", "row 1: test crops; row 2: samples of the regression output (a Gaussian per "
                                  "channel); row 3: samples of the 16-colour palette output", False)],
        finding=(f"Mean HSV saturation: data {sat['data']:.3f}, regression samples {sat['regression']:.3f}, palette "
                 f"samples {sat['palette']:.3f}."
                 + ("" if holds else f" At this budget the regression samples are not greyish (not {GREY:.0%} below the data's "
                                     f"saturation, or not farther from it than the palette's).")),
        verdict=SUPPORTED if holds else NOT_SUPPORTED, setup=f"PixelCNN {NET}, {DATA} {SIZE}x{SIZE} crops, {steps} steps each, batch 32")


SECTION = Section("colours", data="patches:flower crops", figure="samples of each head beside test crops", rule="interim: regression less saturated than data and farther than palette", run=run)
