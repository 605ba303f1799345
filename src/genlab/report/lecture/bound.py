"""Claim 9 of the notes: log P(x) = L_b + KL(q(z|x) ‖ P(z|x)); with P(x|z) fixed, training q raises
L_b while the likelihood stays the same, so the bound closes in on the likelihood (Kingma &
Welling 2014; the k-sample bounds are Burda et al. 2016's IWAE).

A VAE with a 2-d code is trained on binarized mnist5k; then its decoder P(x|z) is frozen and a
fresh encoder q(z|x) (re-initialised) is trained against the ELBO alone. At checkpoints along the
way, on fixed test digits: −ELBO and −IWAE(k), k = 10, 100, 1000, each in nats per digit.

Why a 2-d code: with two code dimensions −log P(x) = −log ∫ P(x|z) N(z; 0, I) dz can be computed
*exactly*, by quadrature on a grid of codes, from the decoder alone — no q involved — so "the
likelihood stays the same" is measured, not assumed. IWAE(1000), the usual stand-in for log P(x),
is a bound whose own gap depends on q: from the untrained encoder (a proposal close to the prior)
it is within about a nat of the exact value, and a fresh encoder that settles on a poor posterior
mode leaves it several nats short; it is reported beside the exact value, not used as the
reference (measured: with an 8-d code −IWAE(1000) falls 26 nats from the untrained encoder to the
trained one, all of it the estimator's gap)."""

from __future__ import annotations

import math
from typing import Callable

import torch
import torch.nn.functional as F

from genlab import viz
from genlab.report.lecture.base import (
    INCONCLUSIVE,
    NOT_SUPPORTED,
    SUPPORTED,
    Lab,
    Outcome,
    Section,
    all_of,
    decide,
    spread,
)

DATA = "mnist5k"
VAE = {"hidden": 200, "latent": 2, "colors": 2, "sample_prior": "normal"}
LR, BATCH = 3e-3, 64
KS = (10, 100, 1000)
ELBO_DRAWS = 10  # the ELBO of a digit: the mean over this many draws of z ~ q(z|x)
BOUND_SEED = 0  # the same noise for every measurement, so the curves differ only by the encoder
GRID, HALF_WIDTH = 201, 5.0  # quadrature: GRID x GRID codes on [-5, 5]²; 401 points change the mean by < 0.001 nats
STILL = 0.01  # nats per digit: the exact likelihood "stays the same" when it moves less than this


# --- measures (unit-tested in tests/test_lecture_seq.py) ---------------------------------------
def quadrature_log_marginal(
    log_lik: Callable[[torch.Tensor], torch.Tensor],
    half_width: float = HALF_WIDTH,
    points: int = GRID,
    chunk: int = 8192,
) -> torch.Tensor:
    """log ∫ p(x|z) N(z; 0, I) dz over a 2-d code, by the rectangle rule on a points x points grid
    over [-half_width, half_width]²: `log_lik(z (M, 2)) -> (B, M)` log p(x_b | z_m); returns (B,)."""
    t = torch.linspace(-half_width, half_width, points, dtype=torch.float64)
    z = torch.cartesian_prod(t, t)  # (M, 2)
    parts = []
    for codes in z.split(chunk):
        log_prior = -0.5 * (2 * math.log(2 * math.pi) + codes.pow(2).sum(1))  # (M,)
        parts.append(torch.logsumexp(log_lik(codes).double() + log_prior, 1))  # (B,)
    return torch.logsumexp(torch.stack(parts, 1), 1) + 2 * math.log(float(t[1] - t[0]))


def bernoulli_log_lik(model, target: torch.Tensor) -> Callable[[torch.Tensor], torch.Tensor]:
    """For a binarized VAE (--colors 2) and prepared targets (B, 1, H, W) of 0/1: z (M, L) -> log p(x_b | z_m)
    (B, M), decoding each code once for every image."""
    x = target.flatten(1).double()  # (B, D)

    @torch.no_grad()
    def log_lik(z: torch.Tensor) -> torch.Tensor:
        logits = model.logits(z.to(model.device, torch.float32)).flatten(1).double()  # (M, 1, H, W) -> (M, D)
        return x @ logits.T - F.softplus(logits).sum(1)  # (B, M)

    return log_lik


def exact_nll(model, target: torch.Tensor) -> torch.Tensor:
    """−log P(x) per digit in nats, (B,), from the decoder alone."""
    return -quadrature_log_marginal(bernoulli_log_lik(model, target))


@torch.no_grad()
def bounds(model, target: torch.Tensor) -> dict[str, float]:
    """{"elbo": mean −ELBO, "iwaeK": mean −IWAE(K)} in nats per digit, the same noise every time."""
    model.eval()
    g = torch.Generator(device=model.device).manual_seed(BOUND_SEED)
    out = {"elbo": -sum(float(model.elbo(target, generator=g).mean()) for _ in range(ELBO_DRAWS)) / ELBO_DRAWS}
    for k in KS:
        out[f"iwae{k}"] = -float(model.iwae(target, k, generator=g).mean())
    return out


# --- the rule -----------------------------------------------------------------------------------
def judge(figures: dict) -> str:
    """(a) the gap −ELBO − (−log P(x)) shrinks, start minus end per seed, against the seeds' spread;
    (b) the exact likelihood moves less than STILL nats on every seed (else not supported)."""
    seeds = figures["seeds"]
    closes = decide([s["gap_start"] - s["gap_end"] for s in seeds])
    still = SUPPORTED if all(abs(s["exact_end"] - s["exact_start"]) < STILL for s in seeds) else NOT_SUPPORTED
    return all_of(closes, still)


# --- the experiment ---------------------------------------------------------------------------
def run(lab: Lab) -> Outcome:
    steps, encoder_steps = lab.budget(600, 1500), lab.budget(300, 800)
    images = lab.budget(100, 100)  # test digits the bounds are measured on
    per_seed = []
    for seed in lab.seeds():
        per_seed.append(_one_seed(lab, seed, steps, encoder_steps, images))
    figures = {
        "data": DATA,
        "vae": VAE,
        "vae_steps": steps,
        "encoder_steps": encoder_steps,
        "images": images,
        "grid": GRID,
        "seeds": per_seed,
    }
    verdict = judge(figures)
    _plot(per_seed, lab.picture("bounds.png"))
    return Outcome(
        figures,
        [
            (
                "bounds.png",
                "Nats per test digit while only the encoder q trains (the decoder P(x|z) fixed), seed "
                f"{per_seed[0]['seed']}: −ELBO (black) and −IWAE(k) (colours) are upper bounds on −log P(x) "
                "and fall as q improves; the dashed line is −log P(x) itself, computed exactly from the "
                "decoder, which does not move. Look at the black curve closing in on the dashed line; what "
                "is left is the part of KL(q ‖ P(z|x)) this encoder did not remove. Right: the same from "
                "the third checkpoint on, closer up.",
                True,
            )
        ],
        finding=_finding(figures, verdict),
        verdict=verdict,
        setup=(
            f"MLP VAE (784-{VAE['hidden']}-{VAE['latent']}, Bernoulli pixels) on binarized {DATA} 28x28, {steps} "
            f"steps of batch {BATCH}, lr {LR:g}; then the decoder frozen and a re-initialised encoder trained "
            f"{encoder_steps} steps against the ELBO; bounds on {images} test digits (ELBO: mean of "
            f"{ELBO_DRAWS} draws), exact −log P(x) by quadrature on a {GRID}x{GRID} grid over [−5, 5]²."
        ),
    )


def _one_seed(lab: Lab, seed: int, steps: int, encoder_steps: int, images: int) -> dict:
    trained = lab.train(f"vae-{seed}", "vae", VAE, DATA, steps, batch_size=BATCH, lr=LR, seed=seed)
    model, data = trained.model, trained.dataset()
    device = model.device
    test = model.prepare(data.test[:images].to(device))
    train_set = model.prepare(data.train.to(device))
    joint = bounds(model, test)  # with the encoder trained together with the decoder, for reference
    torch.manual_seed(seed)
    for layer in model.encoder.modules():  # a fresh q(z|x): the decoder P(x|z) stays as trained
        if hasattr(layer, "reset_parameters"):
            layer.reset_parameters()
    model.decoder.requires_grad_(False)
    exact_start = float(exact_nll(model, test).mean())
    optimizer = torch.optim.Adam(model.encoder.parameters(), lr=LR)
    checkpoints = sorted({0, *(int(encoder_steps * f) for f in (0.05, 0.1, 0.25, 0.5)), encoder_steps})
    lab.say(f"  training a fresh encoder against the frozen decoder: {encoder_steps} steps, seed {seed}")
    curves: dict[str, list[float]] = {"step": []}
    g = torch.Generator(device="cpu").manual_seed(seed)
    for step in range(encoder_steps + 1):
        if step in checkpoints:
            curves["step"].append(step)
            for name, value in bounds(model, test).items():
                curves.setdefault(name, []).append(value)
        if step == encoder_steps:
            break
        model.train()
        batch = train_set[torch.randint(len(train_set), (BATCH,), generator=g).to(device)]
        optimizer.zero_grad(set_to_none=True)
        model.loss(batch)["nll_bound"].backward()  # −ELBO: the KL weight is 1 here whatever β was
        optimizer.step()
    exact_end = float(exact_nll(model, test).mean())
    return {
        "seed": seed,
        "curves": curves,
        "joint_encoder": joint,
        "exact_start": exact_start,
        "exact_end": exact_end,
        "gap_start": curves["elbo"][0] - exact_start,
        "gap_end": curves["elbo"][-1] - exact_end,
        "iwae1000_change": curves["iwae1000"][-1] - curves["iwae1000"][0],
        "iwae1000_gap_start": curves["iwae1000"][0] - exact_start,
        "iwae1000_gap_end": curves["iwae1000"][-1] - exact_end,
        "iwae1000_vs_100_end": curves["iwae100"][-1] - curves["iwae1000"][-1],
    }


def _finding(figures: dict, verdict: str) -> str:
    seeds = figures["seeds"]
    s = lambda key: spread([x[key] for x in seeds])  # noqa: E731
    elbo = lambda i: spread([x["curves"]["elbo"][i] for x in seeds])  # noqa: E731
    moved = max(abs(x["exact_end"] - x["exact_start"]) for x in seeds)
    text = (
        f"With the decoder fixed, −ELBO falls from {elbo(0)} to {elbo(-1)} nats per digit while the exact "
        f"−log P(x) is {s('exact_start')} nats before and after (it moved {moved:.1g} nats): the gap, "
        f"KL(q ‖ P(z|x)), shrinks from {s('gap_start')} to {s('gap_end')} nats (the encoder trained with the "
        f"decoder left {spread([x['joint_encoder']['elbo'] - x['exact_start'] for x in seeds])}). −IWAE(1000) "
        f"changes by {s('iwae1000_change')} nats on the way, {s('iwae1000_gap_start')} above the exact value at "
        f"the start and {s('iwae1000_gap_end')} at the end: its own gap depends on q."
    )
    if verdict == INCONCLUSIVE:
        text += " The gap's shrinking is inside the seeds' spread."
    return text


def _plot(per_seed: list, path) -> None:
    plt = viz._pyplot()
    c = per_seed[0]["curves"]
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.8), dpi=90)
    zoom = min(2, len(c["step"]) - 1)
    for ax, start in zip(axes, (0, zoom)):
        steps = c["step"][start:]
        ax.plot(steps, c["elbo"][start:], "o-", label="−ELBO", color="black")
        for k in KS:
            ax.plot(steps, c[f"iwae{k}"][start:], "o-", label=f"−IWAE({k})", markersize=3, lw=1)
        ax.axhline(per_seed[0]["exact_start"], color="tab:red", ls="--", lw=1.2, label="−log P(x), exact")
        ax.set(xlabel="encoder steps (decoder fixed)", ylabel="nats per test digit")
    axes[0].set_title("−ELBO falls toward −log P(x), which stays put")
    axes[1].set_title(f"the same from step {c['step'][zoom]} on")
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    viz._save_figure(fig, path)


SECTION = Section(
    "bound",
    data=f"binarized {DATA} (28x28 digits, the built-in split); a VAE with a 2-d code",
    figure="−ELBO, −IWAE(10/100/1000) and the exact −log P(x) of test digits, in nats, while a fresh encoder trains "
    "against a fixed decoder",
    rule=(
        "Supported when both hold. (a) The bound closes in: the gap −ELBO − (−log P(x)) at the start minus the gap "
        "at the end, per seed, is positive by more than the seeds' spread (negative by more: not supported; else "
        "inconclusive). (b) The likelihood stays the same: −log P(x), computed exactly from the decoder by "
        f"quadrature over the 2-d code, moves by less than {STILL:g} nats per digit from start to end on every seed "
        "(else not supported). −IWAE(1000) is reported beside it but is not the reference: its own gap depends on q."
    ),
    run=run,
    cost=70,
)
