"""Claim 2 of the notes: predicting each pixel's colour as a 3-number vector (regression) makes the
generated images greyish, R, G and B coming out alike; 1-of-N classes over clustered colours fix it
(van den Oord et al. 2016 for PixelRNN; the palette is k-means, data/palette.py).

The same small PixelCNN trains on 32x32 colour crops of the built-in flower photo (orange petals on
a teal background: a mean of the two is a grey-brown) with three output heads:
- `mean`: the notes' plain regression: the (R, G, B) vector of each pixel predicted at once and
  trained by squared error, the prediction written as it is when generating (`--output mean`);
- `regression`: a Gaussian per channel value, R -> G -> B, sampled (`--output regression`);
- `palette`: a softmax over K k-means colours, sampled (`--output palette --colors K`).
Each generates from "a random pixel" (先随机给它一个像素): the top-left pixel of a random training
crop, the same pixels for every head, so that the data's own crops are the reference the samples are
compared with. Measured: chroma, max − min over R, G, B per pixel (0 for greys, 1 for pure colours),
averaged over pixels and images; CIELAB chroma C*ab alongside."""

from __future__ import annotations


import torch

from genlab import viz
from genlab.data import load_dataset
from genlab.report.lecture.base import Lab, Outcome, Section, all_of, decide, labelled_rows, spread

DATA, SIZE = "patches:flower", 32
NET = {"arch": "pixelcnn", "layers": 3, "width": 24, "head": 32}
K = 16
HEADS = {
    "mean": {"output": "mean"},
    "regression": {"output": "regression"},
    "palette": {"output": "palette", "colors": K},
}
NAMES = {
    "mean": "mean (3 numbers, squared error)",
    "regression": "Gaussian per channel",
    "palette": f"{K}-colour palette",
}
ROWS = {
    "mean": "mean\n(3 numbers,\nsquared error)",
    "regression": "Gaussian\nper channel",
    "palette": f"{K}-colour\npalette",
}
BATCH = 16
GREY = 0.10  # "greyish": the mean head's chroma at least this share below the data's
SHOWN = 10


def chroma(images: torch.Tensor) -> float:
    """Mean over pixels and images of max − min over R, G, B of uint8 images (N, 3, H, W), in [0, 1]."""
    x = images.double() / 255
    return float((x.max(1).values - x.min(1).values).mean())


def pixel_chroma(images: torch.Tensor) -> torch.Tensor:
    """max − min over R, G, B of every pixel, (N*H*W,) in [0, 1]."""
    x = images.double() / 255
    return (x.max(1).values - x.min(1).values).flatten()


def detail(images: torch.Tensor) -> float:
    """Mean |difference| between horizontally and vertically neighbouring values of uint8 images
    (N, C, H, W), in [0, 1] units: 0 for flat fields, larger for texture (and for noise)."""
    x = images.double() / 255
    return float(((x[..., :, 1:] - x[..., :, :-1]).abs().mean() + (x[..., 1:, :] - x[..., :-1, :]).abs().mean()) / 2)


def lab_chroma(images: torch.Tensor) -> float:
    """Mean CIELAB chroma C*ab = √(a*² + b*²) of uint8 sRGB images (N, 3, H, W) (D65 white): 0 for
    greys, about 130 for pure sRGB red."""
    x = images.double() / 255
    linear = torch.where(x <= 0.04045, x / 12.92, ((x + 0.055) / 1.055) ** 2.4)  # (N, 3, H, W)
    to_xyz = torch.tensor(
        [[0.4124564, 0.3575761, 0.1804375], [0.2126729, 0.7151522, 0.0721750], [0.0193339, 0.1191920, 0.9503041]],
        dtype=torch.float64,
    )
    white = to_xyz.sum(1)  # XYZ of sRGB white (1, 1, 1): the D65 white point
    xyz = torch.einsum("kc,nchw->nkhw", to_xyz, linear) / white[None, :, None, None]
    delta = 6 / 29
    f = torch.where(xyz > delta**3, xyz.clamp_min(0) ** (1 / 3), xyz / (3 * delta**2) + 4 / 29)
    a, b = 500 * (f[:, 0] - f[:, 1]), 200 * (f[:, 1] - f[:, 2])
    return float(torch.sqrt(a**2 + b**2).mean())


def judge(figures: dict) -> tuple[str, str, str]:
    """(verdict, greyer, palette closer) from per-seed chroma: `figures["chroma"][head]` and
    `figures["chroma"]["data"]`, lists over the seeds. Greyer: the mean head's chroma below the data's
    by more than GREY of it, per seed (noise: the seeds' spread); palette closer: |mean − data| −
    |palette − data| above 0 (chroma units, same noise)."""
    c = figures["chroma"]
    greyer = decide([1 - m / d - GREY for m, d in zip(c["mean"], c["data"])])
    closer = decide([abs(m - d) - abs(p - d) for m, p, d in zip(c["mean"], c["palette"], c["data"])])
    return all_of(greyer, closer), greyer, closer


def run(lab: Lab) -> Outcome:
    steps, count = lab.budget(160, 400), lab.budget(200, 400)
    data = load_dataset(DATA, image_size=SIZE)
    hidden = torch.ones(SIZE, SIZE, dtype=torch.bool)
    hidden[0, 0] = False  # the one known pixel: the top-left
    figures = {m: {k: [] for k in ("data", *HEADS)} for m in ("chroma", "lab_chroma", "detail")}
    shown, histograms = {}, {}
    for seed in lab.seeds():
        crops = data.train[torch.randperm(len(data.train), generator=torch.Generator().manual_seed(seed))[:count]]
        samples = {"data": crops}
        for head, options in HEADS.items():
            trained = lab.train(
                f"{head}-seed{seed}",
                "pixelrnn",
                {**NET, **options},
                DATA,
                steps,
                batch_size=BATCH,
                image_size=SIZE,
                seed=seed,
            )
            model = trained.model
            lab.say(f"  {head}: {count} images from the top-left pixel of {count} training crops")
            samples[head] = model.complete(
                crops, hidden, 1, torch.Generator(device=model.device).manual_seed(seed)
            ).cpu()
        for name, images in samples.items():
            figures["chroma"][name].append(chroma(images))
            figures["lab_chroma"][name].append(lab_chroma(images))
            figures["detail"][name].append(detail(images))
        if not shown:
            shown = {name: images[:SHOWN] for name, images in samples.items()}
            histograms = {name: pixel_chroma(images) for name, images in samples.items()}
    verdict, greyer, closer = judge(figures)
    c = figures["chroma"]
    mean_of = {k: sum(v) / len(v) for k, v in c.items()}
    figures.update(
        {
            "steps": steps,
            "images": count,
            "data": DATA,
            "size": SIZE,
            "palette_colours": K,
            "grey_share": GREY,
            "greyer": greyer,
            "palette_closer": closer,
            "mean_below_data": [1 - m / d for m, d in zip(c["mean"], c["data"])],
        }
    )
    labelled_rows(
        [("training crops", shown["data"])] + [(ROWS[h], shown[h]) for h in HEADS],
        lab.picture("samples.png"),
        scale=3,
        label_width=150,
    )
    _plot(figures, histograms, lab.picture("chroma.png"))
    below = [1 - m / d for m, d in zip(c["mean"], c["data"])]
    finding = (
        f"Chroma (max − min of R, G, B, mean over pixels; {count} images per seed): data "
        f"{spread(c['data'])}, mean head {spread(c['mean'])} ({spread([100 * b for b in below])} % below the "
        f"data's; the rule asks more than {GREY:.0%}: {greyer}), Gaussian head {spread(c['regression'])}, "
        f"palette head {spread(c['palette'])} (closer to the data than the mean head by "
        f"{spread([abs(m - d) - abs(p - d) for m, p, d in zip(c['mean'], c['palette'], c['data'])])}: "
        f"{closer}). CIELAB chroma: data {spread(figures['lab_chroma']['data'])}, mean "
        f"{spread(figures['lab_chroma']['mean'])}, Gaussian {spread(figures['lab_chroma']['regression'])}, "
        f"palette {spread(figures['lab_chroma']['palette'])}. Detail (mean difference of neighbouring "
        f"values, not judged): data {spread(figures['detail']['data'])}, mean head "
        f"{spread(figures['detail']['mean'])}, Gaussian {spread(figures['detail']['regression'])}, palette "
        f"{spread(figures['detail']['palette'])}."
    )
    return Outcome(
        figures=figures,
        pictures=[
            (
                "samples.png",
                "Each column starts from one pixel: the top-left pixel of the training crop in "
                "row 1; rows 2-4 are what each head draws from it (first seed). Look at the mean head's "
                "colours: where the data is orange or teal, are they greyer or browner, or only "
                "flatter? The Gaussian head draws every channel with the spread it has learnt so "
                "far; where that spread is wide, its pixels are coloured noise",
                False,
            ),
            (
                "chroma.png",
                "Left: mean chroma of each head's images (bars: mean over seeds, dots: each seed), "
                "the data's as a dashed line; right: the share of pixels at each chroma (first seed). "
                "A greyish head sits left of the data",
                True,
            ),
        ],
        finding=finding,
        verdict=verdict,
        setup=(
            f"A PixelCNN (3 masked layers of width 24 after the 7x7 first layer, head 32) on {SIZE}x{SIZE} crops of "
            f"{DATA}, {steps} steps of batch {BATCH} per head and seed; seeds {', '.join(map(str, lab.seeds_used))}; "
            f"each head then completes {count} images from their top-left pixel (mean chroma of the head's "
            f"images: {', '.join(f'{k} {v:.3f}' for k, v in mean_of.items())})"
        ),
    )


def _plot(figures: dict, histograms: dict, path) -> None:
    plt = viz._pyplot()
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 3.8), dpi=90)
    heads = list(HEADS)
    c = figures["chroma"]
    colours = {"data": "0.2", "mean": "tab:brown", "regression": "tab:purple", "palette": "tab:orange"}
    for i, head in enumerate(heads):
        values = c[head]
        left.bar(i, sum(values) / len(values), color=colours[head], alpha=0.6)
        left.scatter([i] * len(values), values, color="black", s=12, zorder=3)
    data = sum(c["data"]) / len(c["data"])
    left.axhline(data, color="0.2", ls="--", label=f"data {data:.3f}")
    left.axhline(data * (1 - GREY), color="0.6", ls=":", label=f"{GREY:.0%} below the data")
    left.set_xticks(range(len(heads)), [NAMES[h] for h in heads], fontsize=8)
    left.set(ylabel="mean chroma (max − min of R, G, B)", title="how colourful each head's images are")
    left.legend(fontsize=8)
    bins = torch.linspace(0, 1, 41)
    for name, values in histograms.items():
        share = torch.histogram(values.float(), bins=bins).hist / len(values)
        right.step(bins[:-1], share, where="post", color=colours[name], label="data" if name == "data" else NAMES[name])
    right.set(
        xlabel="chroma of a pixel (max − min of R, G, B)",
        ylabel="share of pixels",
        title="where the pixels' chroma lies",
    )
    right.legend(fontsize=8)
    fig.tight_layout()
    viz._save_figure(fig, path)


SECTION = Section(
    "colours",
    data=f"{SIZE}x{SIZE} colour crops of the flower photo ({DATA}); 3 seeds at the full budget",
    figure=(
        "chroma (max − min of R, G, B, mean over pixels, in [0, 1]) of the images each head generates from "
        "the top-left pixel of training crops, against those crops'"
    ),
    rule=(
        f"Supported when both hold: the mean (3-number, squared-error) head's chroma is more than {GREY:.0%} below "
        "the data's, and the palette head's chroma is closer to the data's than the mean head's; each by a margin "
        "beyond the seeds' spread (max − min over seeds). Not supported when either margin is below minus the "
        "spread; inconclusive otherwise. The Gaussian head is reported, not judged."
    ),
    run=run,
    cost=180,
)
