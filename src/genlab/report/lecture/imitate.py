"""Claim 7 of the notes: the VAE is trained to be close to the data pixel by pixel, so its samples are
blurry averages; a GAN's generator never sees an image and still makes sharp ones, without copying
(Kingma & Welling 2014; Goodfellow et al. 2014; the copying test is metrics/memorization.py's).

A VAE (the notes' Gaussian decoder, on the grey pixels) and a GAN (its defaults for images) train for the same wall-clock time on
the built-in digits. Sharpness: the mean gradient magnitude of the images (finite differences of
pixels in [0, 1]) against the test digits'. Copying: each GAN sample's nearest training image, and
the nearest-neighbour ratio (median distance of samples to the training set over that of test
images: about 1 healthy, near 0 copying)."""
from __future__ import annotations

import torch

from genlab.metrics.memorization import flat_pixels, memorization, save_nearest_picture
from genlab import viz
from genlab.report.compare import training_summary
from genlab.report.lecture.base import NOT_SUPPORTED, SUPPORTED, Lab, Outcome, Section

# the VAE on the grey pixels the GAN and the sharpness see (a binarized VAE's samples are high-contrast by
# construction); otherwise each family's defaults for images
OPTIONS = {"vae": {"decoder": "gaussian"}, "gan": {}}
SAMPLES = 300
SHOWN = 16
BLUR = 0.05  # a relative sharpness difference that counts
COPYING = 0.5  # a nearest-neighbour ratio below this counts as copying


def sharpness(images: torch.Tensor) -> float:
    """Mean |horizontal| + |vertical| difference of neighbouring pixels, in [0, 1] units."""
    x = images.float() / 255.0
    return float((x[..., :, 1:] - x[..., :, :-1]).abs().mean() + (x[..., 1:, :] - x[..., :-1, :]).abs().mean())


def run(lab: Lab) -> Outcome:
    minutes = lab.budget(10, 60) / 60  # the same seconds for each family
    models = {family: lab.train(family, family, OPTIONS[family], "digits", minutes=minutes) for family in OPTIONS}
    data = models["vae"].dataset()
    prior = {"vae": {"sample_prior": "normal"}, "gan": {}}  # the notes' VAE: codes from its prior N(0, I)
    samples = {f: m.model.sample(SAMPLES, torch.Generator(device=m.model.device).manual_seed(lab.seed), **prior[f]).cpu()
               for f, m in models.items()}
    sharp = {"data": sharpness(data.test), **{f: sharpness(s) for f, s in samples.items()}}
    copying, index = memorization(flat_pixels(samples["gan"]), flat_pixels(data.train), flat_pixels(data.test))
    save_nearest_picture(samples["gan"], data.train, index, lab.picture("gan_nearest.png"), count=SHOWN)
    viz.save_grid(torch.cat([data.test[:SHOWN], samples["vae"][:SHOWN], samples["gan"][:SHOWN]]),
                  lab.picture("samples.png"), nrow=SHOWN)
    steps = {f: training_summary(m).get("steps") for f, m in models.items()}
    # blurry: the VAE at least BLUR below the data's sharpness; sharp: the GAN within BLUR of it; no copying
    holds = sharp["vae"] < (1 - BLUR) * sharp["data"] <= sharp["gan"] and copying["ratio"] > COPYING
    return Outcome(
        figures={"seconds_each": minutes * 60, "steps": steps, "samples": SAMPLES, "sharpness": sharp,
                 "gan_memorization": copying},
        pictures=[("samples.png", "row 1: test digits; row 2: VAE samples (the decoder's means); row 3: GAN samples",
                   False),
                  ("gan_nearest.png", "rows 1 and 3: GAN samples; rows 2 and 4: the nearest training image of "
                                      "each", False)],
        finding=(f"Sharpness (mean gradient magnitude): data {sharp['data']:.3f}, VAE {sharp['vae']:.3f}, GAN "
                 f"{sharp['gan']:.3f}. GAN nearest-neighbour ratio {copying['ratio']:.2f} (1 = as far from the "
                 f"training set as unseen test digits, 0 = copies, above 1 = off the data), copy share "
                 f"{copying['copy_share']:.2f}."),
        verdict=SUPPORTED if holds else NOT_SUPPORTED, setup=f"VAE with --decoder gaussian, GAN with its defaults for images, digits, {minutes * 60:.0f} s each "
                           f"({steps['vae']} and {steps['gan']} steps); {SAMPLES} samples each")


SECTION = Section("imitate", data="digits", figure="samples", rule="interim: sharpness rule", run=run)
