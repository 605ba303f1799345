"""The built-in colour set `emoji`: each image family with genlab's defaults beside the plain loop of
the same classic network, and the notes' colour claim (regression greys, 1-of-N colours do not) on
whole colour images.

Part 1 (bench/quality.py's machinery on `emoji`): PixelRNN (Row LSTM, 32-colour palette), VAE
(MLP, 32-colour categorical decoder, sampling mixture) and DCGAN with genlab's defaults, and the plain
loops (a 5-layer PixelCNN and the MLP VAE on the same 32-colour palette with the tutorials' Adam
settings, PyTorch's DCGAN example), each trained for --minutes of wall-clock training on one thread;
1,000 samples (seed 0) scored against the 375 test emoji in genlab's feature space for emoji (its
classifier of the 9 emoji groups): FID, KID, precision/recall, the classifier's mean top-class
confidence over the groups, its inception score, the nearest-neighbour ratio; and the samples' chroma.

Part 2 (colour, --colour-steps N; 0 leaves it out): chroma = max - min of R, G, B per pixel, mean
over pixels and images (report/lecture/colours.py). PixelRNN with genlab's defaults (palette head,
32 colours) and the same network with `--output mean` (R, G, B predicted as three numbers by squared
error, the prediction taken as it is), each trained N steps (a budget in steps: the same weights
however busy the machine). (a) 1,000 samples of the palette head against the test split: the
target is chroma within 15 % of the data's. (b) Both heads complete the bottom half of every test
emoji from its top half (the mean head's samples differ only through what they are given); the
chroma of the completed bottom halves against the real bottom halves': the mean head's is
measurably greyer when it is below the palette head's and the data's by more than the seeds' spread.

    .venv/bin/python bench/emoji.py [--minutes 2] [--seeds 1] [--first-seed 0] [--families pixelrnn,vae,gan]
                                    [--no-plain] [--colour-steps 600] [--out bench/emoji]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import quality  # noqa: E402
import genlab  # noqa: E402
from genlab import train, viz  # noqa: E402
from genlab.core import threads  # noqa: E402
from genlab.core.config import DataConfig, TrainConfig  # noqa: E402
from genlab.data import Palette, load_dataset  # noqa: E402
from genlab.data.palette import COLOUR_DEFAULT  # noqa: E402
from genlab.report.lecture.colours import chroma, detail  # noqa: E402

SPEC = "emoji"
WITHIN = 0.15  # the palette head's chroma within this share of the data's
quality.FIGURES = (*quality.FIGURES, "chroma")  # every scored row also gets its samples' chroma


class Scorer(quality.Scorer):
    def images(self, samples: torch.Tensor) -> dict[str, float]:
        return {**super().images(samples), "chroma": chroma(samples)}


def bottom_halves(model, images: torch.Tensor, seed: int) -> torch.Tensor:
    """The bottom half of each image as the model completes it from the top half, (N, 3, H/2, W)."""
    h = images.shape[2]
    hidden = torch.zeros(h, images.shape[3], dtype=torch.bool)
    hidden[h // 2 :] = True
    g = torch.Generator(device=model.device).manual_seed(seed)
    done = torch.cat([model.complete(images[i : i + 125], hidden, 1, g).cpu() for i in range(0, len(images), 125)])
    return done[:, :, h // 2 :]


def pixelrnn(options: dict, steps: int, seed: int, run: Path):
    """PixelRNN with genlab's defaults and `options`, trained `steps` steps into `run`."""
    cfg = TrainConfig(steps=steps, seed=seed, device="cpu", threads=1)
    train.start(
        "pixelrnn", options, DataConfig(data=SPEC), cfg, run, quiet=True, typed={"steps", "seed", "device", "threads"}
    )
    return genlab.load(run).model


WHITE = 0.9  # a pixel whose R, G and B are all above this (in [0, 1]) is background white


def colour_figures(images: torch.Tensor) -> dict[str, float]:
    """Chroma (the target's figure), the share of white pixels, the chroma of the other pixels (is
    what is painted grey, or is less painted?) and detail (neighbouring values' mean difference:
    blur lowers it) of uint8 RGB images (N, 3, H, W)."""
    x = images.double() / 255
    per_pixel = x.max(1).values - x.min(1).values
    white = x.min(1).values > WHITE
    return {
        "chroma": chroma(images),
        "white_share": float(white.double().mean()),
        "painted_chroma": float(per_pixel[~white].mean()),
        "detail": detail(images),
    }


def colour_part(data, steps: int, seed: int, out: Path, colour: dict[str, list], runs: list[str] | None) -> None:
    """Both heads (trained `steps` steps, or the runs `runs` = [palette, mean]): the palette head's
    samples' colour figures, both heads' completed bottom halves'."""
    with tempfile.TemporaryDirectory() as tmp:
        if runs:
            palette_head, mean_head = (genlab.load(Path(r)).model for r in runs)
        else:
            palette_head = pixelrnn({}, steps, seed, Path(tmp) / "palette")
            mean_head = pixelrnn({"output": "mean"}, steps, seed, Path(tmp) / "mean")
    samples = quality.sample(palette_head, quality.N)
    colour["palette_samples"].append(colour_figures(samples))
    colour["palette"].append(colour_figures(bottom_halves(palette_head, data.test, seed)))
    colour["mean"].append(colour_figures(bottom_halves(mean_head, data.test, seed)))
    if not (out / "grids" / "colour_palette_head.png").exists():
        viz.save_grid(samples[:64], out / "grids" / "colour_palette_head.png", nrow=8)
        hidden = (torch.arange(32)[:, None] >= 16).expand(32, 32)  # the bottom half
        for name, model in (("palette", palette_head), ("mean", mean_head)):
            g = torch.Generator().manual_seed(seed)
            viz.save_grid(
                model.complete(data.test[:32], hidden, 1, g).cpu(),
                out / "grids" / f"colour_{name}_completions.png",
                nrow=8,
            )


def pick(rows: list[dict[str, float]], key: str) -> list[float]:
    return [r[key] for r in rows]


def spread(values: list[float]) -> str:
    return f"{statistics.median(values):.3f}" + (f" ({min(values):.3f}-{max(values):.3f})" if len(values) > 1 else "")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--minutes", type=float, default=2.0, help="training minutes of every run (scored at the end)")
    p.add_argument("--seeds", type=int, default=1)
    p.add_argument("--first-seed", type=int, default=0, help="seeds first-seed .. first-seed + seeds - 1")
    p.add_argument("--families", default="pixelrnn,vae,gan", help="part 1's families ('' for none)")
    p.add_argument("--no-plain", action="store_true")
    p.add_argument("--colour-steps", type=int, default=600, help="steps of each PixelRNN head in part 2 (0: no part 2)")
    p.add_argument(
        "--colour-runs",
        help="PALETTE_RUN,MEAN_RUN: part 2 scores these runs (trained as part 2 trains its heads, e.g. `genlab "
        "train pixelrnn --data emoji --steps N --threads 1` with and without `--output mean`) instead of training",
    )
    p.add_argument("--out", default="bench/emoji")
    args = p.parse_args()
    threads.apply(1)
    out = Path(args.out)
    (out / "grids").mkdir(parents=True, exist_ok=True)
    data = load_dataset(SPEC)
    scorer = Scorer(data)
    floor = scorer.images(data.train[: quality.N])  # 1,000 training emoji: what real images score
    palette = Palette.fit(data.train, COLOUR_DEFAULT, seed=0)
    real_bottom = colour_figures(data.test[:, :, data.test.shape[2] // 2 :])
    given = args.colour_runs.split(",") if args.colour_runs else None
    if given and (len(given) != 2 or args.seeds != 1):
        p.error("--colour-runs takes PALETTE_RUN,MEAN_RUN, with one seed")
    load, started = [os.getloadavg()[0]], time.process_time()
    runs: dict[str, list[dict]] = {}
    colour: dict[str, list] = {"data": [], "palette": [], "mean": [], "palette_samples": [], "steps": []}
    for seed in range(args.first_seed, args.first_seed + args.seeds):
        for family in [f.strip() for f in args.families.split(",") if f.strip()]:
            variant = quality.Variant.parse(family)
            with tempfile.TemporaryDirectory() as tmp:
                rows = quality.genlab_run(variant, args.minutes, args.minutes, seed, scorer, Path(tmp), spec=SPEC)
                runs.setdefault(variant.label, []).append(rows[-1])
                model = genlab.load(Path(tmp) / "run").model
                if seed == args.first_seed:
                    viz.save_grid(quality.sample(model, 64), out / "grids" / f"{family}.png", nrow=8)
            if family in quality.PLAIN and not args.no_plain:
                plain = quality.plain_run(family, args.minutes, args.minutes, seed, scorer, palette, spec=SPEC)
                runs.setdefault(quality.PLAIN[family], []).append(plain[-1])
            load.append(os.getloadavg()[0])
            print(f"seed {seed}: {family} done (load {load[-1]:.1f})", file=sys.stderr, flush=True)
        if args.colour_steps or given:
            colour_part(data, args.colour_steps, seed, out, colour, given)
            colour["steps"].append(genlab.load(Path(given[0])).step if given else args.colour_steps)
            colour["data"].append(real_bottom)
            load.append(os.getloadavg()[0])
            print(f"seed {seed}: colour heads done (load {load[-1]:.1f})", file=sys.stderr, flush=True)
    print(
        f"torch {torch.__version__}, 1 thread; {SPEC}: {len(data.train)} train / {len(data.test)} test, "
        f"{quality.N} samples vs the test split in {scorer.space.name}; {args.minutes:g} min per run; "
        f"{args.seeds} seed(s), medians (range); load average {min(load):.1f}-{max(load):.1f}; "
        f"{time.process_time() - started:.0f} CPU s in this process"
    )
    print(
        f"real floor ({quality.N} training emoji): "
        + ", ".join(f"{k} {v:.3g}" for k, v in floor.items() if k != "nn_ratio")
        + f"; test split chroma {chroma(data.test):.3f}"
    )
    figures = ("steps", *quality.FIGURES)
    print("| run | " + " | ".join(figures) + " |\n|---|" + "---:|" * len(figures))
    for name, rows in runs.items():
        print(f"| {name} | " + " | ".join(quality.median(rows, k) for k in figures) + " |")
    data_colour = colour_figures(data.test)
    if colour["steps"]:
        within = [abs(f["chroma"] / data_colour["chroma"] - 1) for f in colour["palette_samples"]]
        print(
            f"colour: palette head samples' chroma {spread(pick(colour['palette_samples'], 'chroma'))} vs the test "
            f"split's {data_colour['chroma']:.3f}: {spread([100 * w for w in within])} % off (target <= "
            f"{100 * WITHIN:g} %: {'met' if max(within) <= WITHIN else 'not met'})"
        )
        greyer = [
            min(p["chroma"], d["chroma"]) - m["chroma"]
            for p, m, d in zip(colour["palette"], colour["mean"], colour["data"])
        ]
        noise = max(max(v) - min(v) for v in (pick(colour["palette"], "chroma"), pick(colour["mean"], "chroma")))
        print(
            f"colour: bottom halves completed from the top halves of the {len(data.test)} test emoji "
            f"({colour['steps'][0]} steps per head): data {real_bottom['chroma']:.3f}, palette head "
            f"{spread(pick(colour['palette'], 'chroma'))}, mean head {spread(pick(colour['mean'], 'chroma'))}; "
            f"the mean head below both by {spread(greyer)} (seeds' spread {noise:.3f}: "
            f"{'greyer' if min(greyer) > noise else 'not shown'})"
        )
        print("| images | " + " | ".join(real_bottom) + " |\n|---|" + "---:|" * len(real_bottom))
        for name, rows in (
            ("test split", [data_colour]),
            ("palette head's samples", colour["palette_samples"]),
            ("real bottom halves", [real_bottom]),
            ("palette head's completed bottom halves", colour["palette"]),
            ("mean head's completed bottom halves", colour["mean"]),
        ):
            print(f"| {name} | " + " | ".join(spread(pick(rows, k)) for k in real_bottom) + " |")
    (out / "rows.json").write_text(json.dumps({"floor": floor, "runs": runs, "colour": colour}, indent=1))
    print(f"wrote {out / 'rows.json'} and {out / 'grids'}/")


if __name__ == "__main__":
    main()
