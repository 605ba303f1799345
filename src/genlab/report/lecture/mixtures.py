"""Claim 5 of the notes: a Gaussian mixture P(x) = Σ_m P(m) P(x|m) samples by picking a component,
then a point; the VAE is a mixture of infinitely many Gaussians, P(x) = ∫ P(z) P(x|z) dz, a
distributed representation (Kingma & Welling 2014; the mixture is models/gmm/, fitted by EM).

The 2-D picture: a mixture fitted to toy:gmm8. On the built-in digits: mixtures of growing M
(diagonal covariances, as the VAE's P(x|z)) against the VAE with the notes' Gaussian decoder
(`--decoder gaussian`), all on dequantized pixels, test NLL in bits per dimension on one scale
(the mixture's exact NLL, the VAE's IWAE bound). Each mixture may fit for as long as the VAE trained
(EM stops earlier once converged)."""
from __future__ import annotations

import shutil

import torch

from genlab import viz
from genlab.metrics.likelihood import likelihood_report
from genlab.report.compare import training_summary
from genlab.report.lecture.base import NOT_SUPPORTED, SUPPORTED, Lab, Outcome, Section

VAE = {"hidden": 128, "latent": 8, "decoder": "gaussian"}
COMPONENTS = (1, 4, 16, 64)
IWAE_K = 100
SHOWN = 16


def run(lab: Lab) -> Outcome:
    points = lab.train("gmm-2d", "gmm", {"components": 8}, "toy:gmm8", steps=3)
    shutil.copy(points.path / "mixture.png", lab.picture("mixture_2d.png"))
    steps = lab.budget(2500, 12000)
    vae = lab.train("vae", "vae", VAE, "digits", steps, lr=1e-3)
    seconds = training_summary(vae).get("seconds", 60.0)
    test = vae.dataset().test
    g = torch.Generator(device=vae.model.device).manual_seed(lab.seed)
    results = {"vae": {**_nll(vae.model, test), "seconds": seconds}}
    grids = [vae.model.sample(SHOWN, g, sample_prior="normal")]  # P(x) = ∫ P(z) P(x|z) dz: codes from P(z)
    for m in COMPONENTS:
        gmm = lab.train(f"gmm-{m}", "gmm", {"components": m, "covariance": "diag"}, "digits",
                        minutes=seconds / 60)
        results[f"gmm-{m}"] = {**_nll(gmm.model, test), "seconds": training_summary(gmm).get("seconds"),
                               "components": m}
        grids.append(gmm.model.sample(SHOWN, torch.Generator(device=gmm.model.device).manual_seed(lab.seed)))
    viz.save_grid(torch.cat([x.cpu() for x in grids]), lab.picture("samples.png"), nrow=SHOWN)
    _plot(results, lab.picture("bits_per_dim.png"))
    best = min((r for k, r in results.items() if k != "vae"), key=lambda r: r["bits_per_dim"])
    holds = results["vae"]["bits_per_dim"] < best["bits_per_dim"]
    mixtures = ", ".join(f"M = {results[f'gmm-{m}']['components']}: {results[f'gmm-{m}']['bits_per_dim']:.3f}"
                         for m in COMPONENTS)
    return Outcome(
        figures={"vae_steps": steps, "iwae_k": IWAE_K, "test_images": len(test), "models": results},
        pictures=[("mixture_2d.png", "a mixture of 8 Gaussians fitted to toy:gmm8: density, points, each "
                                     "component's 1σ and 2σ ellipses", True),
                  ("samples.png", f"{SHOWN} samples per row: the VAE (Gaussian decoder, its mean), then mixtures of "
                                  f"M = {', '.join(map(str, COMPONENTS))} Gaussians", False),
                  ("bits_per_dim.png", "test NLL in bits/dim on dequantized pixels: mixtures of M Gaussians "
                                       "against the VAE", True)],
        finding=(f"Test NLL in bits/dim (dequantized 8-bit pixels): VAE {results['vae']['bits_per_dim']:.3f} "
                 f"(IWAE-{IWAE_K} bound, {seconds:.0f} s of training); mixtures {mixtures}. "
                 + ("The VAE's continuum of Gaussians beats every finite mixture tried." if holds else
                    f"At this budget the best mixture (M = {best['components']}) beats the VAE.")),
        verdict=SUPPORTED if holds else NOT_SUPPORTED, setup=f"VAE {VAE}, digits, {steps} steps, lr 1e-3; mixtures with diagonal covariances, EM for "
                           f"at most the VAE's training time")


def _nll(model, test: torch.Tensor) -> dict[str, float]:
    report = likelihood_report(model, test, iwae_k=IWAE_K)
    key = "nll" if "nll_nats" in report else f"iwae{IWAE_K}_nll"
    return {"nats": report[f"{key}_nats"], "bits_per_dim": report[f"{key}_bits_per_dim"], "figure": key}


def _plot(results: dict, path) -> None:
    plt = viz._pyplot()
    fig, ax = plt.subplots(figsize=(6.5, 3.4), dpi=90)
    ms = [r["components"] for k, r in results.items() if k != "vae"]
    ax.plot(ms, [results[f"gmm-{m}"]["bits_per_dim"] for m in ms], "o-", label="mixture of M Gaussians (exact)")
    ax.axhline(results["vae"]["bits_per_dim"], color="black", ls="--", label=f"VAE (IWAE-{IWAE_K} bound)")
    ax.set_xscale("log", base=2)
    ax.set(xlabel="M (components)", ylabel="test bits/dim", title="finite mixtures vs the VAE's continuum")
    ax.legend()
    fig.tight_layout()
    viz._save_figure(fig, path)


SECTION = Section("mixtures", data="digits", figure="bits/dim against M", rule="interim: VAE beats every mixture", run=run)
