"""Claim 8 of the notes: the GAN game (Goodfellow et al. 2014, Algorithm 1). Fix G and train D as a
binary classifier; fix D and train G until D says "real"; repeat.

The 2-D GAN of models/gan/ plays on toy:gmm8 (eight Gaussians on a circle); frames at a few
iterations show D's heat map and G's points (models/gan/pictures.py). The counter-example runs the
same `train_step` with D *not* fixed during G's step (`GAN.fix_d = False`: G's loss moves D too,
toward calling G's output real), for the page only."""
from __future__ import annotations

import torch
from PIL import Image

from genlab import viz
from genlab.data import load_dataset, toy_modes
from genlab.models import model_class
from genlab.models.gan.modes import MODE_SAMPLES, mode_coverage
from genlab.models.gan.pictures import FRAME_POINTS, WATCH_SEED, discriminator_heat, plane_bounds, render_frame
from genlab.report.lecture.base import NOT_SUPPORTED, SUPPORTED, Lab, Outcome, Section

DATA, BATCH, LR = "toy:gmm8", 128, 1e-3
FIGURES = ("d_loss", "g_loss", "d_real", "d_fake")
ENOUGH_MODES = 6  # of 8: the game "works" when the fixed-D run covers at least this many


def run(lab: Lab) -> Outcome:
    iterations = lab.budget(1200, 5000)
    data = load_dataset(DATA)
    results = {}
    for name, fix in (("D fixed", True), ("D not fixed", False)):
        lab.say(f"  the game on {DATA}, {name} during G's step: {iterations} iterations")
        results[name] = _play(lab, data, fix, iterations, lab.picture(f"frames_{'fixed' if fix else 'free'}.png"))
    _plot(results, lab.picture("losses.png"))
    fixed, free = results["D fixed"]["coverage"], results["D not fixed"]["coverage"]
    holds = fixed["modes_covered"] >= ENOUGH_MODES
    finding = (f"With D fixed during G's step, G's samples cover {fixed['modes_covered']} of 8 modes "
               f"({100 * fixed['high_quality']:.0f}% of samples within 3σ of a mode) after {iterations} iterations; "
               f"with D not fixed (G's loss also moves D), {free['modes_covered']} of 8 "
               f"({100 * free['high_quality']:.0f}%), and D ends saying P(real) = "
               f"{results['D not fixed']['curves']['d_fake'][-1]:.2f} to G's points "
               f"(vs {results['D fixed']['curves']['d_fake'][-1]:.2f}).")
    return Outcome(
        figures={"iterations": iterations, "data": DATA,
                 **{k: {"coverage": r["coverage"], "curves": r["curves"]} for k, r in results.items()}},
        pictures=[("frames_fixed.png", "the game with D fixed during G's step: D's P(real) as the background "
                                       "(green real, purple generated), real points dark, G's points orange", True),
                  ("frames_free.png", "the same code with D not fixed during G's step", True),
                  ("losses.png", "D's and G's losses and D's mean output on real and generated points", True)],
        finding=finding, verdict=SUPPORTED if holds else NOT_SUPPORTED,
        setup=f"GAN (2-D MLPs, non-saturating loss) on {DATA}, batch {BATCH}, lr {LR:g}, {iterations} iterations "
              f"per run; modes covered: 20+ of {MODE_SAMPLES} samples within 3σ (VEEGAN's rule)")


def _play(lab: Lab, data, fix: bool, iterations: int, frames_path) -> dict:
    device = lab.device_name()
    torch.manual_seed(lab.seed)
    cls = model_class("gan")
    model = cls(cls.make_config(), data.item_shape).to(device)
    model.fix_d = fix
    optimizers = model.configure_optimizers(LR)
    real = model.prepare(data.train.to(device))
    bounds = plane_bounds(real)
    z = model.prior(FRAME_POINTS, torch.Generator(device=device).manual_seed(WATCH_SEED))
    shown = real[torch.randperm(len(real), generator=torch.Generator().manual_seed(WATCH_SEED))[:FRAME_POINTS].to(device)]
    order = torch.Generator().manual_seed(lab.seed)
    at = sorted({0, iterations // 20, iterations // 5, iterations})
    frames, curves = [], {"step": [], **{k: [] for k in FIGURES}}
    for it in range(iterations + 1):
        if it in at:
            frames.append(_frame(model, shown, z, bounds, f"iteration {it}  (D {'fixed' if fix else 'not fixed'})"))
        if it == iterations:
            break
        model.train()
        batch = real[torch.randint(len(real), (BATCH,), generator=order).to(device)]
        out = model.train_step(batch, optimizers)
        if it % 10 == 0:
            curves["step"].append(it)
            for k in FIGURES:
                curves[k].append(float(out[k]))
    model.eval()
    with torch.no_grad():
        samples = model.sample(MODE_SAMPLES, torch.Generator(device=device).manual_seed(WATCH_SEED))
    _montage(frames, frames_path)
    return {"coverage": mode_coverage(samples, *toy_modes(DATA)), "curves": curves}


@torch.no_grad()
def _frame(model, shown, z, bounds, caption) -> Image.Image:
    model.eval()
    heat, label = discriminator_heat(model, bounds)
    return render_frame(shown, model.generate(z, net=model.generator), heat, bounds, caption, label)


def _montage(frames: list[Image.Image], path) -> None:
    width, height = frames[0].size
    sheet = Image.new("RGB", (width * len(frames), height), (255, 255, 255))
    for i, frame in enumerate(frames):
        sheet.paste(frame, (i * width, 0))
    viz.save_png(sheet, path)


def _plot(results: dict, path) -> None:
    plt = viz._pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.4), dpi=90, sharey=True)
    for ax, (name, r) in zip(axes, results.items()):
        c = r["curves"]
        for k in FIGURES:
            ax.plot(c["step"], c[k], label=k, lw=1)
        ax.set(title=name + " during G's step", xlabel="iteration")
        ax.legend(fontsize=8)
    fig.tight_layout()
    viz._save_figure(fig, path)


SECTION = Section("game", data="toy:gmm8", figure="frames", rule="interim: at least 6 of 8 modes", run=run)
