"""Claim 4 of the notes: without the constraint Σ(exp(σ) − (1 + σ) + m²) the network drives the
noise's variance to 0 and the VAE becomes an autoencoder (Kingma & Welling 2014).

The same VAE is trained twice on the built-in digits: with the KL term (β = 1) and without it
(`--beta 0`); every training row logs the mean noise variance exp(σ) (`noise_var`)."""
from __future__ import annotations

import math

import torch

from genlab import viz
from genlab.report.lecture.base import NOT_SUPPORTED, SUPPORTED, Lab, Outcome, Section, train_rows

VAE = {"hidden": 64, "latent": 8, "colors": 2}
SHRINK = 0.1  # the claim holds when β = 0 ends with a mean variance under this share of β = 1's


def run(lab: Lab) -> Outcome:
    steps = lab.budget(300, 1500)
    curves = {}
    for name, beta in (("with-kl", 1.0), ("without-kl", 0.0)):
        run_ = lab.train(name, "vae", {**VAE, "beta": beta}, "digits", steps, lr=3e-3)
        curves[name] = train_rows(run_, "noise_var")
    _plot(curves, lab.picture("noise_variance.png"))
    with_kl, without = (sum(curves[k][1][-3:]) / 3 for k in ("with-kl", "without-kl"))  # the last 3 rows
    holds = without < SHRINK * with_kl
    return Outcome(
        figures={"steps": steps, "final_noise_var_with_kl": with_kl, "final_noise_var_without_kl": without,
                 "curves": {k: {"step": s, "noise_var": v} for k, (s, v) in curves.items()}},
        pictures=[("noise_variance.png", "left: mean exp(σ) over training, with the KL term (β = 1) and without "
                                         "(β = 0); right: exp(σ) − (1 + σ), smallest at σ = 0 (variance 1)", True)],
        finding=(f"After {steps} steps the mean noise variance exp(σ) is {with_kl:.3g} with the term and "
                 f"{without:.3g} without it ({with_kl / max(without, 1e-30):.0f} times smaller): "
                 + ("without the constraint the noise all but vanishes." if holds else
                    f"the variance did not fall below {SHRINK:g} of the constrained one at this budget.")),
        verdict=SUPPORTED if holds else NOT_SUPPORTED, setup=f"VAE {VAE}, digits, {steps} steps each, lr 3e-3")


def _plot(curves: dict, path) -> None:
    plt = viz._pyplot()
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.4), dpi=90)
    for name, (steps, values) in curves.items():
        left.plot(steps, values, label=name.replace("-", " "))
    left.set_yscale("log")
    left.set(xlabel="step", ylabel="mean exp(σ)", title="noise variance during training")
    left.legend()
    sigma = torch.linspace(-3, 3, 301, dtype=torch.float64)
    right.plot(sigma, sigma.exp() - (1 + sigma))
    right.axvline(0, color="0.7", lw=0.8)
    right.set(xlabel="σ (log-variance)", ylabel="exp(σ) − (1 + σ)", title="the constraint per dimension (m = 0)")
    right.annotate("minimum at σ = 0: variance 1", (0, 0), (0.3, math.e - 2), arrowprops={"arrowstyle": "->"})
    fig.tight_layout()
    viz._save_figure(fig, path)


SECTION = Section("vae-noise", data="digits", figure="noise variance over training", rule="without the term the final mean variance is under a tenth of the constrained one", run=run)
