"""Claim 6 of the notes: without the constraint Σ(exp(σ) − (1 + σ) + m²) the network drives the
noise's variance to 0 and the VAE becomes an autoencoder (Kingma & Welling 2014).

The same VAE is trained twice per seed on binarized mnist5k: with the KL term (β = 1, the true
ELBO; the notes' constraint is twice this KL) and without it (`--beta 0`: reconstruction only).
Every training row logs the mean noise variance exp(σ) (`noise_var`); after training the encoder's
mean exp(σ) on the test digits is compared between the two, as a ratio in powers of ten."""

from __future__ import annotations

import math

import torch

from genlab import viz
from genlab.report.lecture.base import INCONCLUSIVE, Lab, Outcome, Section, decide, spread, train_rows

DATA = "mnist5k"
VAE = {"hidden": 200, "latent": 8, "colors": 2, "sample_prior": "normal"}  # normal: no sampling mixture to fit
LR, BATCH = 3e-3, 64
DECADES = 1.0  # the claim holds when, without the term, the variance is more than 10^DECADES times smaller


def test_noise_variance(model, images: torch.Tensor) -> float:
    """The encoder's mean noise variance exp(σ) over the test images (N, C, H, W) and code dims."""
    model.eval()
    with torch.no_grad():
        _, logvar = model.encode(model.observe(model.prepare(images.to(model.device))))
    return float(logvar.exp().mean())


def judge(figures: dict) -> str:
    """log10(variance with the term / without it) per seed, less DECADES, against the seeds' spread."""
    return decide([s["log10_ratio"] - DECADES for s in figures["seeds"]])


def run(lab: Lab) -> Outcome:
    steps = lab.budget(300, 1000)
    per_seed = []
    for seed in lab.seeds():
        entry = {"seed": seed, "curves": {}}
        for name, beta in (("with-kl", 1.0), ("without-kl", 0.0)):
            trained = lab.train(
                f"{name}-{seed}", "vae", {**VAE, "beta": beta}, DATA, steps, batch_size=BATCH, lr=LR, seed=seed
            )
            entry["curves"][name] = dict(zip(("step", "noise_var"), train_rows(trained, "noise_var")))
            test = trained.dataset().test
            entry[name], entry["test_digits"] = test_noise_variance(trained.model, test), len(test)
        entry["log10_ratio"] = math.log10(entry["with-kl"] / max(entry["without-kl"], 1e-300))
        per_seed.append(entry)
    figures = {"data": DATA, "vae": VAE, "steps": steps, "decades": DECADES, "seeds": per_seed}
    verdict = judge(figures)
    _plot(per_seed, lab.picture("noise_variance.png"))
    ratios = [s["log10_ratio"] for s in per_seed]
    finding = (
        f"After {steps} steps the encoder's mean noise variance exp(σ) on the test digits is "
        f"{spread([s['with-kl'] for s in per_seed])} with the term and {spread([s['without-kl'] for s in per_seed])} "
        f"without it: {spread(ratios)} powers of ten smaller (per seed "
        + ", ".join(f"{r:.2f}" for r in ratios)
        + f"; the rule asks for more than {DECADES:g} beyond the seeds' "
        f"spread, {max(ratios) - min(ratios):.2f})."
    )
    if verdict == INCONCLUSIVE:
        finding += " The margin is inside the seeds' spread."
    return Outcome(
        figures,
        [
            (
                "noise_variance.png",
                "Left: the mean noise variance exp(σ) during training (log scale), with the KL term "
                "(β = 1, blue) and without it (β = 0, red), one line per seed. Look at the red lines "
                "falling by powers of ten below the blue ones, which level off. "
                "Right: the constraint per code dimension, exp(σ) − (1 + σ), smallest at σ = 0 "
                "(variance 1): it is what holds the blue lines up.",
                True,
            )
        ],
        finding=finding,
        verdict=verdict,
        setup=(
            f"MLP VAE (784-{VAE['hidden']}-{VAE['latent']}, Bernoulli pixels) on binarized {DATA} 28x28, {steps} "
            f"steps of batch {BATCH}, lr {LR:g}, trained with β = 1 and with β = 0 for each seed; the variance "
            f"figure is the encoder's mean exp(σ) over the {per_seed[0]['test_digits']} test digits and "
            f"{VAE['latent']} code dimensions."
        ),
    )


def _plot(per_seed: list, path) -> None:
    plt = viz._pyplot()
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 3.8), dpi=90)
    styles = ["-", "--", ":", "-."]
    for i, s in enumerate(per_seed):
        for name, colour, words in (
            ("with-kl", "tab:blue", "with the term (β = 1)"),
            ("without-kl", "tab:red", "without it (β = 0)"),
        ):
            c = s["curves"][name]
            left.plot(
                c["step"],
                c["noise_var"],
                styles[i % len(styles)],
                color=colour,
                lw=1.2,
                label=f"{words}, seed {s['seed']}",
            )
    left.set_yscale("log")
    left.set(
        xlabel="training step (batches of 64)",
        ylabel="mean noise variance exp(σ)  [code units²]",
        title="without the constraint the noise variance falls toward 0",
    )
    left.legend(fontsize=7)
    sigma = torch.linspace(-3, 3, 301, dtype=torch.float64)
    right.plot(sigma, sigma.exp() - (1 + sigma))
    right.axvline(0, color="0.7", lw=0.8)
    right.set(
        xlabel="σ (log-variance of one code dimension)",
        ylabel="exp(σ) − (1 + σ)  [= 2 × KL, nats]",
        title="the notes' constraint per dimension (m = 0)",
    )
    right.annotate("minimum at σ = 0: variance 1", (0, 0), (0.3, math.e - 2), arrowprops={"arrowstyle": "->"})
    fig.tight_layout()
    viz._save_figure(fig, path)


SECTION = Section(
    "vae-noise",
    data=f"binarized {DATA} (28x28 digits, the built-in split)",
    figure="the mean noise variance exp(σ) during training with and without the KL term, and its value on the test "
    "digits after training",
    rule=(
        f"For each seed, r = log10(mean exp(σ) with the term / without it) on the test digits after training. "
        f"Supported when the mean of r − {DECADES:g} (the variance more than ten times smaller without the term) is "
        "positive by more than the seeds' spread of r; negative by more than the spread: not supported; otherwise "
        "inconclusive."
    ),
    run=run,
    cost=45,
)
