"""Claim 3 of the notes: a plain autoencoder's codes are islands, so decoding points between or
around them gives junk, while the VAE's noisy codes make the code space continuous (Hinton &
Salakhutdinov 2006 for the autoencoder; Kingma & Welling 2014 for the VAE).

The same encoder/decoder is trained as a VAE and as an autoencoder (`genlab train ae`: no noise,
no KL) on the built-in digits. For both: decode the midpoints between pairs of test codes, and
draws from the model's own Gaussian (the VAE's prior N(0, I); the Gaussian fitted to the
autoencoder's training codes), and score them in the domain feature space (genlab's classifier on
digits): FID against the test images and the classifier's mean confidence."""
from __future__ import annotations

import torch

from genlab import viz
from genlab.metrics.features import feature_space
from genlab.metrics.fid import fid
from genlab.report.lecture.base import NOT_SUPPORTED, SUPPORTED, Lab, Outcome, Section

NET = {"hidden": 128, "latent": 8, "colors": 2}
SHOWN = 12


def run(lab: Lab) -> Outcome:
    steps = lab.budget(1500, 6000)
    models = {family: lab.train(family, family, NET, "digits", steps, lr=3e-3) for family in ("ae", "vae")}
    data = models["vae"].dataset()
    test = data.test
    half = len(test) // 2
    lab.say("  scoring midpoints and draws in the digits classifier's feature space")
    space = feature_space(data, device=lab.device_name())
    real = space.embed(test)
    scores, decoded = {}, {}
    for family, trained in models.items():
        model = trained.model
        codes = model.encode_images(test)  # (N, L)
        g = torch.Generator(device=model.device).manual_seed(lab.seed)
        decoded[family] = {
            "reconstructions": model.decode(codes),
            "midpoints": model.decode((codes[:half] + codes[half:2 * half]) / 2),
            "draws": model.sample(len(test), g, **({"sample_prior": "normal"} if family == "vae" else {})),  # the prior's
        }
        scores[family] = {kind: _score(space, real, images.cpu()) for kind, images in decoded[family].items()}
    _grids(test, decoded, half, lab)
    holds = all(scores["ae"][k]["fid"] > scores["vae"][k]["fid"] for k in ("midpoints", "draws"))
    ae, vae = scores["ae"], scores["vae"]
    return Outcome(
        figures={"steps": steps, "features": space.name, "test_images": len(test), "midpoints": half,
                 "scores": scores},
        pictures=[("midpoints.png", f"rows: test digits A, the autoencoder's decoded midpoints, the VAE's, test "
                                    f"digits B ({SHOWN} pairs)", False),
                  ("draws.png", "rows 1-2: the autoencoder decoding draws from the Gaussian fitted to its codes; "
                                "rows 3-4: the VAE decoding draws from its prior N(0, I)", False)],
        finding=(f"FID against the test digits (lower is better) — midpoints: autoencoder {ae['midpoints']['fid']:.2f}, "
                 f"VAE {vae['midpoints']['fid']:.2f}; draws: autoencoder {ae['draws']['fid']:.2f}, VAE "
                 f"{vae['draws']['fid']:.2f} (reconstructions: {ae['reconstructions']['fid']:.2f} and "
                 f"{vae['reconstructions']['fid']:.2f}). Classifier confidence on draws: "
                 f"{ae['draws']['confidence']:.2f} vs {vae['draws']['confidence']:.2f}."
                 + ("" if holds else " At this budget the autoencoder's in-between codes are not worse than the "
                                     "VAE's on both counts.")),
        verdict=SUPPORTED if holds else NOT_SUPPORTED, setup=f"the same MLP {NET} as autoencoder and VAE, digits, {steps} steps each, lr 3e-3; "
                           f"{half} midpoints, {len(test)} draws; features {space.name}")


def _score(space, real_features: torch.Tensor, images: torch.Tensor) -> dict[str, float]:
    feats = space.embed(images)
    net = space.net
    with torch.no_grad():
        logits = net.head(net(images.to(next(net.parameters()).device))).cpu()
    return {"fid": fid(real_features, feats), "confidence": float(logits.softmax(1).max(1).values.mean())}


def _grids(test, decoded, half, lab: Lab) -> None:
    rows = [test[:SHOWN], decoded["ae"]["midpoints"][:SHOWN].cpu(), decoded["vae"]["midpoints"][:SHOWN].cpu(),
            test[half:half + SHOWN]]
    viz.save_grid(torch.cat(rows), lab.picture("midpoints.png"), nrow=SHOWN)
    draws = [decoded[f]["draws"][:2 * SHOWN].cpu() for f in ("ae", "vae")]
    viz.save_grid(torch.cat(draws), lab.picture("draws.png"), nrow=SHOWN)


SECTION = Section("code-space", data="digits", figure="midpoints and draws", rule="interim: AE FID worse for midpoints and draws", run=run)
