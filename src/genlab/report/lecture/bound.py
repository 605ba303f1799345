"""Claim 6 of the notes: log P(x) = L_b + KL(q(z|x) ‖ P(z|x)); with P fixed, improving q raises L_b
toward log P(x) (Kingma & Welling 2014; the k-sample bounds are Burda et al. 2016's IWAE).

A VAE is trained on the built-in digits; then its decoder P(x|z) is frozen and a fresh encoder
q(z|x) is trained against the ELBO alone. −ELBO and −IWAE(k) of fixed test images are measured as
the encoder learns: IWAE(1000) is the nearest to −log P(x), which does not move (P is fixed), so
the gap −ELBO − (−IWAE) is the part of KL(q ‖ P(z|x)) the encoder can still remove."""
from __future__ import annotations

import torch

from genlab import viz
from genlab.report.lecture.base import NOT_SUPPORTED, SUPPORTED, Lab, Outcome, Section

VAE = {"hidden": 64, "latent": 8, "colors": 2}
KS = (1, 10, 100, 1000)
IMAGES = 64  # test images the bounds are measured on
BOUND_SEED = 0  # the same noise for every measurement, so the curves differ only by the encoder


def run(lab: Lab) -> Outcome:
    steps, encoder_steps = lab.budget(400, 1500), lab.budget(300, 1500)
    trained = lab.train("vae", "vae", VAE, "digits", steps, lr=3e-3)
    model, data = trained.model, trained.dataset()
    device = model.device
    test = model.prepare(data.test[:IMAGES].to(device))
    train_set = model.prepare(data.train.to(device))
    torch.manual_seed(lab.seed)
    for layer in model.encoder.modules():  # a fresh q(z|x): the decoder P(x|z) stays as trained
        if hasattr(layer, "reset_parameters"):
            layer.reset_parameters()
    model.decoder.requires_grad_(False)
    optimizer = torch.optim.Adam(model.encoder.parameters(), lr=3e-3)
    checkpoints = sorted({0, *(int(encoder_steps * f) for f in (0.05, 0.1, 0.2, 0.4, 0.7)), encoder_steps})
    lab.say(f"  training the encoder alone against the frozen decoder: {encoder_steps} steps")
    curves: dict[str, list[float]] = {"step": []}
    g = torch.Generator(device="cpu").manual_seed(lab.seed)
    for step in range(encoder_steps + 1):
        if step in checkpoints:
            curves["step"].append(step)
            for name, value in _bounds(model, test).items():
                curves.setdefault(name, []).append(value)
        if step == encoder_steps:
            break
        model.train()
        batch = train_set[torch.randint(len(train_set), (64,), generator=g).to(device)]
        optimizer.zero_grad(set_to_none=True)
        model.loss(batch)["nll_bound"].backward()  # −ELBO: the KL weight is 1 here whatever β was
        optimizer.step()
    _plot(curves, lab.picture("bounds.png"))
    gap_start = curves["elbo"][0] - curves["iwae1000"][0]
    gap_end = curves["elbo"][-1] - curves["iwae1000"][-1]
    holds = gap_end < 0.5 * gap_start and curves["elbo"][-1] < curves["elbo"][0]
    return Outcome(
        figures={"vae_steps": steps, "encoder_steps": encoder_steps, "images": IMAGES, "curves": curves,
                 "gap_start": gap_start, "gap_end": gap_end},
        pictures=[("bounds.png", "−ELBO and −IWAE(k) in nats per test image while only the encoder trains "
                                 "(the decoder fixed); IWAE(1000) is the closest to −log P(x)", True)],
        finding=(f"With the decoder fixed, −ELBO falls from {curves['elbo'][0]:.1f} to {curves['elbo'][-1]:.1f} "
                 f"nats per image while −IWAE(1000), the closest to −log P(x), goes from {curves['iwae1000'][0]:.1f} to "
                 f"{curves['iwae1000'][-1]:.1f}; the gap, the part of "
                 f"KL(q ‖ P(z|x)) that shows, shrinks from {gap_start:.1f} to {gap_end:.1f} nats."),
        verdict=SUPPORTED if holds else NOT_SUPPORTED, setup=f"VAE {VAE}, digits, {steps} steps; then a fresh encoder for {encoder_steps} steps, "
                           f"batch 64, lr 3e-3, on {IMAGES} test images")


@torch.no_grad()
def _bounds(model, test: torch.Tensor) -> dict[str, float]:
    model.eval()
    g = torch.Generator(device=model.device).manual_seed(BOUND_SEED)
    out = {"elbo": -float(model.elbo(test, generator=g).mean())}
    for k in KS:
        out[f"iwae{k}"] = -float(model.iwae(test, k, generator=g).mean())
    return out


def _plot(curves: dict, path) -> None:
    plt = viz._pyplot()
    fig, ax = plt.subplots(figsize=(7, 3.6), dpi=90)
    ax.plot(curves["step"], curves["elbo"], "o-", label="−ELBO", color="black")
    for k in KS:
        ax.plot(curves["step"], curves[f"iwae{k}"], "o-", label=f"−IWAE({k})", markersize=3)
    ax.set(xlabel="encoder steps (decoder fixed)", ylabel="nats per image", title="the lower bound rises toward log P(x)")
    ax.legend()
    fig.tight_layout()
    viz._save_figure(fig, path)


SECTION = Section("bound", data="digits", figure="bounds against encoder steps", rule="interim: the gap halves", run=run)
