"""Claim 12 of the notes: the GAN game (Goodfellow et al. 2014, Algorithm 1). Fix G and train D as a
binary classifier; fix D and train G until D says "real"; repeat.

The 2-D GAN of models/gan/ plays on toy:gmm8 (eight Gaussians on a circle); frames at a few
iterations show D's heat map and G's points (models/gan/pictures.py). The counter-example runs the
same `train_step` with D *not* fixed during G's step (`GAN.fix_d = False`: G's loss moves D too,
toward calling G's output real), for the page only."""

from __future__ import annotations

import math

import torch
from PIL import Image

from genlab import viz
from genlab.data import load_dataset, toy_modes
from genlab.models import model_class
from genlab.models.gan.modes import MODE_SAMPLES, mode_coverage
from genlab.models.gan.pictures import FRAME_POINTS, WATCH_SEED, discriminator_heat, plane_bounds, render_frame
from genlab.report.lecture.base import INCONCLUSIVE, NOT_SUPPORTED, SUPPORTED, Lab, Outcome, Section, spread

DATA, BATCH, LR = "toy:gmm8", 128, 1e-3
FIGURES = ("d_loss", "g_loss", "d_real", "d_fake")
ENOUGH_MODES = 6  # of 8: the game "works" when the fixed-D run covers at least this many
SETTINGS = (("D fixed", True), ("D not fixed", False))


def as_good_without_fixing(seed: dict) -> bool:
    """A counter-example: with D *not* fixed during G's step, G covers at least as many modes and puts
    at least as large a share of its samples near a mode as with D fixed."""
    fixed, free = seed["D fixed"]["coverage"], seed["D not fixed"]["coverage"]
    return free["modes_covered"] >= fixed["modes_covered"] and free["high_quality"] >= fixed["high_quality"]


def judge(figures: dict) -> str:
    """Supported: on every seed the fixed-D game covers at least ENOUGH_MODES modes and no seed is a
    counter-example. Not supported: counter-examples on more than half the seeds, or the fixed-D game
    short of ENOUGH_MODES on more than half. Otherwise inconclusive."""
    seeds = figures["seeds"]
    works = sum(s["D fixed"]["coverage"]["modes_covered"] >= ENOUGH_MODES for s in seeds)
    against = sum(as_good_without_fixing(s) for s in seeds)
    if works == len(seeds) and against == 0:
        return SUPPORTED
    if 2 * against > len(seeds) or 2 * works < len(seeds):
        return NOT_SUPPORTED
    return INCONCLUSIVE


def run(lab: Lab) -> Outcome:
    iterations = lab.budget(1200, 3000)
    data = load_dataset(DATA)
    per_seed = []
    for seed in lab.seeds():
        entry = {"seed": seed}
        for name, fix in SETTINGS:
            lab.say(f"  the game on {DATA}, {name} during G's step: {iterations} iterations, seed {seed}")
            frames = lab.picture(f"frames_{'fixed' if fix else 'free'}.png") if not per_seed else None
            entry[name] = _play(lab, data, fix, iterations, seed, frames)
        entry["counter_example"] = as_good_without_fixing(entry)
        per_seed.append(entry)
    figures = {
        "iterations": iterations,
        "data": DATA,
        "enough_modes": ENOUGH_MODES,
        "seeds": per_seed,
        "counter_examples": sum(s["counter_example"] for s in per_seed),
    }
    verdict = judge(figures)
    _plot_losses(per_seed, lab.picture("losses.png"))
    _plot_coverage(per_seed, lab.picture("coverage.png"))
    first = per_seed[0]["seed"]
    return Outcome(
        figures=figures,
        pictures=[
            (
                "frames_fixed.png",
                f"The game with D fixed during G's step (seed {first}), at four iterations: D's "
                "P(real) as the background (green: real, purple: generated), real points "
                "dark, G's points orange. Look at G's points spreading over the eight modes.",
                True,
            ),
            (
                "frames_free.png",
                f"The same code with D not fixed during G's step (G's loss also moves D), seed {first}.",
                True,
            ),
            (
                "coverage.png",
                "Per seed: modes covered (of 8) and the share of G's samples within 3σ of a mode, "
                "D fixed vs not fixed. A seed where the right-hand bar is as high on both is a "
                "counter-example.",
                True,
            ),
            (
                "losses.png",
                "Top: D's loss (its mean cross-entropy on real points plus that on generated ones) "
                "and G's loss (the mean −log D(G(z))), in nats; bottom: D's mean output P(real) on real "
                "and on generated points, for each setting, one line per seed (running mean over "
                "50 iterations).",
                True,
            ),
        ],
        finding=_finding(figures, verdict),
        verdict=verdict,
        setup=f"GAN (2-D MLPs, non-saturating loss) on {DATA}, batch {BATCH}, lr {LR:g}, {iterations} iterations "
        f"per run, each setting once per seed; modes covered: 20+ of {MODE_SAMPLES} samples within 3σ "
        "(VEEGAN's rule)",
    )


def _finding(figures: dict, verdict: str) -> str:
    seeds = figures["seeds"]
    modes = {n: [s[n]["coverage"]["modes_covered"] for s in seeds] for n, _ in SETTINGS}
    hq = {n: [100 * s[n]["coverage"]["high_quality"] for s in seeds] for n, _ in SETTINGS}
    fake = {n: [s[n]["curves"]["d_fake"][-1] for s in seeds] for n, _ in SETTINGS}
    counter = figures["counter_examples"]
    text = (
        f"After {figures['iterations']} iterations, with D fixed during G's step G covers "
        f"{', '.join(map(str, modes['D fixed']))} of 8 modes (per seed; {spread(hq['D fixed'])} % of samples "
        f"within 3σ of a mode); with D not fixed, {', '.join(map(str, modes['D not fixed']))} of 8 "
        f"({spread(hq['D not fixed'])} %), and D ends saying P(real) = {spread(fake['D not fixed'])} to G's "
        f"points (vs {spread(fake['D fixed'])}). Counter-examples (D not fixed as good on both counts): "
        f"{counter} of {len(seeds)} seeds, counted against the claim."
    )
    more = sum(b > a for a, b in zip(modes["D fixed"], modes["D not fixed"]))
    worse = sum(b < a for a, b in zip(hq["D fixed"], hq["D not fixed"]))
    if more:
        text += (
            f" D not fixed covers more modes on {more} of {len(seeds)} seeds, with a smaller high-quality share "
            f"on {worse}."
        )
    short = sum(m < ENOUGH_MODES for m in modes["D fixed"])
    if verdict == INCONCLUSIVE:
        text += (
            f" Inconclusive: the fixed-D game covered fewer than {ENOUGH_MODES} modes on {short} seed(s)"
            if short
            else " Inconclusive: some seeds are counter-examples, not most"
        ) + "."
    return text


def _play(lab: Lab, data, fix: bool, iterations: int, seed: int, frames_path) -> dict:
    device = lab.device_name()
    torch.manual_seed(seed)
    cls = model_class("gan")
    model = cls(cls.make_config(), data.item_shape).to(device)
    model.fix_d = fix
    optimizers = model.configure_optimizers(LR)
    real = model.prepare(data.train.to(device))
    bounds = plane_bounds(real)
    z = model.prior(FRAME_POINTS, torch.Generator(device=device).manual_seed(WATCH_SEED))
    shown = real[
        torch.randperm(len(real), generator=torch.Generator().manual_seed(WATCH_SEED))[:FRAME_POINTS].to(device)
    ]
    order = torch.Generator().manual_seed(seed)
    at = sorted({0, iterations // 20, iterations // 5, iterations})
    frames, curves = [], {"step": [], **{k: [] for k in FIGURES}}
    for it in range(iterations + 1):
        if it in at and frames_path is not None:
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
    if frames_path is not None:
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


def _smooth(values: list[float], n: int = 5) -> list[float]:
    """Running mean over the last n logged values (the curves are logged every 10 iterations)."""
    out, total = [], 0.0
    for i, v in enumerate(values):
        total += v - (values[i - n] if i >= n else 0.0)
        out.append(total / min(i + 1, n))
    return out


def _plot_losses(per_seed: list, path) -> None:
    plt = viz._pyplot()
    fig, axes = plt.subplots(2, 2, figsize=(11, 6.2), dpi=90, sharex=True, sharey="row")
    colours = {"d_loss": "tab:purple", "g_loss": "tab:orange", "d_real": "tab:green", "d_fake": "tab:red"}
    words = {"d_loss": "D's loss", "g_loss": "G's loss", "d_real": "on real points", "d_fake": "on G's points"}
    for col, (name, _) in enumerate(SETTINGS):
        for i, s in enumerate(per_seed):
            c = s[name]["curves"]
            for row, keys in enumerate((("d_loss", "g_loss"), ("d_real", "d_fake"))):
                for k in keys:
                    axes[row, col].plot(
                        c["step"],
                        _smooth(c[k]),
                        color=colours[k],
                        lw=1,
                        alpha=0.9 if i == 0 else 0.4,
                        label=words[k] if i == 0 else None,
                    )
        axes[0, col].axhline(
            2 * math.log(2), color="tab:purple", ls=":", lw=0.8, label="D's loss if D cannot tell: 2 ln 2"
        )
        axes[0, col].set(title=f"{name} during G's step", ylabel="cross-entropy  [nats]")
        axes[1, col].set(xlabel="iteration", ylabel="D's output P(real)", ylim=(0, 1))
        axes[1, col].axhline(0.5, color="0.7", lw=0.8)
        for row in (0, 1):
            axes[row, col].legend(fontsize=8, loc="upper right")
    fig.tight_layout()
    viz._save_figure(fig, path)


def _plot_coverage(per_seed: list, path) -> None:
    plt = viz._pyplot()
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.2), dpi=90)
    width = 0.38
    xs = range(len(per_seed))
    for offset, (name, _), colour in zip((-width / 2, width / 2), SETTINGS, ("tab:blue", "tab:gray")):
        left.bar(
            [x + offset for x in xs],
            [s[name]["coverage"]["modes_covered"] for s in per_seed],
            width,
            color=colour,
            label=name,
        )
        right.bar(
            [x + offset for x in xs],
            [100 * s[name]["coverage"]["high_quality"] for s in per_seed],
            width,
            color=colour,
            label=name,
        )
    labels = [f"seed {s['seed']}" + (" *" if s["counter_example"] else "") for s in per_seed]
    left.axhline(ENOUGH_MODES, color="tab:red", ls="--", lw=1, label=f"rule: {ENOUGH_MODES} modes")
    left.set(
        xticks=list(xs),
        xticklabels=labels,
        ylim=(0, 8.5),
        ylabel="modes covered (of 8)",
        title="modes covered (* = counter-example)",
    )
    right.set(
        xticks=list(xs),
        xticklabels=labels,
        ylim=(0, 100),
        ylabel="samples within 3σ of a mode  [%]",
        title="high-quality share",
    )
    left.legend(fontsize=8, loc="lower left")
    fig.tight_layout()
    viz._save_figure(fig, path)


SECTION = Section(
    "game",
    data=f"{DATA}: 2-D points from eight Gaussians on a circle (the modes G must cover)",
    figure=(
        "the game's frames (D's P(real) and G's points), modes covered and high-quality share per seed with D fixed "
        "and not fixed during G's step, and the losses and D's outputs over the iterations"
    ),
    rule=(
        f"Each seed plays the game twice: D fixed during G's step, as the notes say, and D not fixed. A seed where D "
        f"not fixed covers at least as many modes and has at least as large a high-quality share is a counter-example "
        f"and counts against the claim. Supported: on every seed the fixed-D game covers at least {ENOUGH_MODES} of 8 "
        "modes and no seed is a counter-example. Not supported: counter-examples on more than half the seeds, or "
        f"the fixed-D game short of {ENOUGH_MODES} modes on more than half. Otherwise inconclusive."
    ),
    run=run,
    cost=85,
)
