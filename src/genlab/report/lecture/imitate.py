"""Claim 11 of the notes: the VAE is trained to be close to its data pixel by pixel, so it only
imitates (its samples are blurry averages); a GAN's generator never sees a real image and still makes
sharp ones that are not in the data (Kingma & Welling 2014; Goodfellow et al. 2014; the copying
test is metrics/memorization.py's).

A VAE (the notes' Gaussian decoder on the grey pixels, codes drawn from its prior N(0, I), images
its decoder's means) and a GAN (genlab's DCGAN defaults) train on the built-in 28x28 digits for
about the same CPU seconds: the GAN's step costs about four of the VAE's, so the VAE takes four
times its steps (both at batch 64; the measured seconds are reported). Measured for both, against
the test digits: the share of mid-grey pixels (grey level in [0.2, 0.8]: blur turns black and white
edges grey), the total variation between 16-bin pixel histograms, precision and recall in the
domain classifier's feature space (genlab.metrics.features, prdc), and the nearest-neighbour ratio
(median distance of samples to their nearest training digit over that of test digits: about 1 new,
near 0 copies)."""

from __future__ import annotations

import resource

import torch

from genlab import viz
from genlab.metrics.features import feature_space
from genlab.metrics.memorization import flat_pixels, memorization
from genlab.metrics.prdc import prdc
from genlab.report.lecture.base import Lab, Outcome, Section, all_of, decide, labelled_rows, spread

DATA = "mnist5k"
OPTIONS = {"vae": {"decoder": "gaussian", "sample_prior": "normal"}, "gan": {}}
STEP_RATIO = 4  # VAE steps per GAN step: about the same CPU seconds (measured: 2000 VAE steps 21 s, 500 GAN steps 26 s)
BATCH = 64
MID = (0.2, 0.8)  # mid-grey: grey levels (in [0, 1]) in this closed range
BINS = 16
COPYING = 0.5  # a nearest-neighbour ratio below this counts as copying
SHOWN = 12


def mid_grey_share(images: torch.Tensor) -> float:
    """Share of the pixels of uint8 images whose grey level x/255 lies in [0.2, 0.8]."""
    x = images.double() / 255
    return float(((x >= MID[0]) & (x <= MID[1])).double().mean())


def histogram(images: torch.Tensor, bins: int = BINS) -> torch.Tensor:
    """The share of pixels in each of `bins` equal bins of the grey levels 0..255, (bins,)."""
    counts = torch.bincount((images.flatten().long() * bins) // 256, minlength=bins).double()
    return counts / counts.sum()


def histogram_distance(a: torch.Tensor, b: torch.Tensor, bins: int = BINS) -> float:
    """Total variation ½ Σ |p − q| between the pixel histograms of two uint8 image sets: 0 same, 1 disjoint."""
    return float(0.5 * (histogram(a, bins) - histogram(b, bins)).abs().sum())


def judge(figures: dict) -> tuple[str, dict[str, str]]:
    """(verdict, parts) from per-seed lists `figures["mid_grey"][who]` (who: data, vae, gan) and
    `figures["nn_ratio"][model]`: the VAE's mid-grey share above the data's; the GAN's closer to the
    data's than the VAE's; neither model's nearest-neighbour ratio under COPYING. Each part by a
    margin beyond the seeds' spread."""
    m, r = figures["mid_grey"], figures["nn_ratio"]
    parts = {
        "vae_blurrier_than_data": decide([v - d for v, d in zip(m["vae"], m["data"])]),
        "gan_closer_to_data": decide([abs(v - d) - abs(g - d) for v, g, d in zip(m["vae"], m["gan"], m["data"])]),
        "neither_copies": decide([min(v, g) - COPYING for v, g in zip(r["vae"], r["gan"])]),
    }
    return all_of(*parts.values()), parts


def _cpu() -> float:
    now = resource.getrusage(resource.RUSAGE_SELF)
    return now.ru_utime + now.ru_stime


def run(lab: Lab) -> Outcome:
    gan_steps, count = lab.budget(200, 500), lab.budget(500, 1000)
    steps = {"vae": STEP_RATIO * gan_steps, "gan": gan_steps}
    keys = ("mid_grey", "histogram_tv", "precision", "recall", "nn_ratio", "copy_share", "cpu_seconds")
    figures = {k: {"data": [], "vae": [], "gan": []} if k == "mid_grey" else {"vae": [], "gan": []} for k in keys}
    shown = nearest_rows = None
    for seed in lab.seeds():
        samples = {}
        for family in OPTIONS:
            started = _cpu()
            run_ = lab.train(
                f"{family}-seed{seed}", family, OPTIONS[family], DATA, steps[family], batch_size=BATCH, seed=seed
            )
            figures["cpu_seconds"][family].append(_cpu() - started)
            model = run_.model
            samples[family] = model.sample(count, torch.Generator(device=model.device).manual_seed(seed)).cpu()
        data = run_.dataset()
        test = data.test[:count]
        space = feature_space(data, device=lab.device_name())
        real = space.embed(test)
        figures["mid_grey"]["data"].append(mid_grey_share(test))
        indices = {}
        for family, images in samples.items():
            figures["mid_grey"][family].append(mid_grey_share(images))
            figures["histogram_tv"][family].append(histogram_distance(images, test))
            pr = prdc(real, space.embed(images))
            figures["precision"][family].append(pr["precision"])
            figures["recall"][family].append(pr["recall"])
            copying, indices[family] = memorization(flat_pixels(images), flat_pixels(data.train), flat_pixels(test))
            figures["nn_ratio"][family].append(copying["ratio"])
            figures["copy_share"][family].append(copying["copy_share"])
        if shown is None:
            shown = [
                ("test digits", test[:SHOWN]),
                ("VAE samples", samples["vae"][:SHOWN]),
                ("GAN samples", samples["gan"][:SHOWN]),
            ]
            nearest_rows = [
                row
                for family in OPTIONS
                for row in (
                    (f"{family.upper()} samples", samples[family][:SHOWN]),
                    ("nearest training\ndigit (pixels)", data.train[indices[family][:SHOWN]]),
                )
            ]
            _plot(test, samples, lab.picture("histograms.png"))
            space_name = space.name
    verdict, parts = judge(figures)
    labelled_rows(shown, lab.picture("samples.png"), scale=3, label_width=120)
    labelled_rows(nearest_rows, lab.picture("nearest.png"), scale=3, label_width=120)
    m, r = figures["mid_grey"], figures["nn_ratio"]
    figures.update(
        {
            "gan_steps": gan_steps,
            "vae_steps": steps["vae"],
            "batch": BATCH,
            "samples": count,
            "mid_grey_range": list(MID),
            "copying_below": COPYING,
            "parts": parts,
            "feature_space": space_name,
        }
    )
    finding = (
        f"Mid-grey share (pixels in {MID[0]}-{MID[1]}): data {spread(m['data'])}, VAE {spread(m['vae'])}, GAN "
        f"{spread(m['gan'])} (VAE above the data's: {parts['vae_blurrier_than_data']}; GAN closer to the data's: "
        f"{parts['gan_closer_to_data']}). Pixel-histogram distance to the data (total variation, 16 bins): VAE "
        f"{spread(figures['histogram_tv']['vae'])}, GAN {spread(figures['histogram_tv']['gan'])}. Precision / "
        f"recall in the classifier's feature space: VAE {spread(figures['precision']['vae'])} / "
        f"{spread(figures['recall']['vae'])}, GAN {spread(figures['precision']['gan'])} / "
        f"{spread(figures['recall']['gan'])}. Nearest-neighbour ratio (1 = as new as unseen test digits, "
        f"0 = copies): VAE {spread(r['vae'])}, GAN {spread(r['gan'])} (neither below {COPYING}: "
        f"{parts['neither_copies']})."
    )
    cpu = {f: spread(v) for f, v in figures["cpu_seconds"].items()}
    return Outcome(
        figures=figures,
        pictures=[
            (
                "samples.png",
                "Test digits, then VAE and GAN samples: are the VAE's strokes blurred grey at their "
                "edges, the GAN's black and white like the data's?",
                False,
            ),
            (
                "histograms.png",
                "Left: the share of pixels at each grey level (log scale) for the test digits and "
                "each model's samples, the mid-grey band shaded; right: the mid-grey share itself. "
                "Blur moves pixels from the ends into the band",
                True,
            ),
            (
                "nearest.png",
                "Each model's samples above their nearest training digits (pixel distance): a "
                "sample that only copied would match the digit below it",
                False,
            ),
        ],
        finding=finding,
        verdict=verdict,
        setup=(
            f"VAE (MLP 784-400-20, Gaussian decoder on grey levels, codes from N(0, I)) for {steps['vae']} steps and "
            f"GAN (DCGAN, non-saturating loss) for {gan_steps} steps, batch {BATCH}, on {DATA}, per seed "
            f"({', '.join(map(str, lab.seeds_used))}); CPU seconds of training: VAE {cpu['vae']}, GAN {cpu['gan']}; "
            f"{count} samples each against {count} test digits; feature space {space_name}"
        ),
    )


def _plot(test: torch.Tensor, samples: dict, path) -> None:
    plt = viz._pyplot()
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 3.6), dpi=90, gridspec_kw={"width_ratios": [2, 1]})
    colours = {"test digits": "0.2", "VAE": "tab:blue", "GAN": "tab:red"}
    sets = {"test digits": test, "VAE": samples["vae"], "GAN": samples["gan"]}
    levels = torch.arange(BINS) / BINS + 0.5 / BINS
    for name, images in sets.items():
        left.step(levels, histogram(images), where="mid", color=colours[name], label=name)
    left.axvspan(*MID, color="0.9", zorder=0, label="mid-grey band")
    left.set_yscale("log")
    left.set(
        xlabel="grey level (0 black, 1 white), 16 bins",
        ylabel="share of pixels",
        title="pixel histograms: blur fills the middle",
    )
    left.legend(fontsize=8)
    shares = [mid_grey_share(images) for images in sets.values()]
    right.bar(range(3), shares, color=list(colours.values()))
    right.set_xticks(range(3), list(sets))
    right.set(ylabel=f"share of pixels in [{MID[0]}, {MID[1]}]", title="mid-grey share (first seed)")
    fig.tight_layout()
    viz._save_figure(fig, path)


SECTION = Section(
    "imitate",
    data=f"the built-in 28x28 digits ({DATA}); 3 seeds at the full budget",
    figure=(
        "the mid-grey share of each model's samples against the test digits', pixel histograms, precision and "
        "recall in the classifier's feature space, and each model's nearest-neighbour ratio"
    ),
    rule=(
        f"Supported when all three hold, each by a margin beyond the seeds' spread (max − min over seeds): the VAE's "
        f"mid-grey share (pixels in [{MID[0]}, {MID[1]}]) is above the data's; the GAN's is closer to the data's than "
        f"the VAE's; and neither model copies (nearest-neighbour ratio above {COPYING}). Not supported when any "
        "margin is below minus the spread; inconclusive otherwise. Histogram distance, precision and recall are "
        "reported, not judged."
    ),
    run=run,
    cost=150,
)
