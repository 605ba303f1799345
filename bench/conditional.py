"""Class-conditional VAE and GAN (`--conditional`) on mnist5k at the demo's budget: does the data's
classifier read the asked digit, and is the FID as good as the unconditional model's?

For each seed, the VAE and the GAN are trained twice with genlab's defaults, without and with
`--conditional`, on a budget of optimisation steps (default: what the demo's side-by-side minutes
bought on 2 cores, bench/README.md "The demo's budget split": VAE 2,269 steps for its 0.5 minute,
GAN 2,216 for its 2 minutes; a step budget keeps the machine's load out of the weights). Each model
draws 1,000 samples (seed 0; a conditional model's sample i asked for digit i mod 10), scored by
bench/quality.py's Scorer in genlab's digit-classifier features against the test digits of
mnist5k; a conditional model adds the share whose top class is the asked digit (chance 10 %) and
the mean confidence p(asked | sample). The conditional VAE is scored twice: with its per-class
sampling mixture (the default) and with codes from N(0, I), where the label reaches the samples
through the decoder alone.

    .venv/bin/python bench/conditional.py [--seeds 1] [--first-seed 0] [--families vae,gan]
        [--vae-steps 2269] [--gan-steps 2216]
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
import genlab  # noqa: E402
from genlab import train  # noqa: E402
from genlab.core import threads  # noqa: E402
from genlab.core.config import DataConfig, TrainConfig  # noqa: E402
from genlab.data import load_dataset  # noqa: E402
from genlab.metrics.classifier import asked_class_figures, class_probabilities  # noqa: E402
from genlab.metrics.evaluate import asked_classes  # noqa: E402
from quality import N, Scorer, sample  # noqa: E402

SHOWN = ("fid", "recognised_as_asked", "asked_confidence", "confidence", "precision", "recall")


def score(scorer: Scorer, model) -> dict[str, float]:
    samples = sample(model, N)
    figures = scorer.images(samples)
    asked = asked_classes(model, N)
    if asked is not None:
        found = asked_class_figures(class_probabilities(scorer.space, samples), asked)
        figures.update(
            recognised_as_asked=found["recognised_as_asked"],
            asked_confidence=found["asked_confidence"],
            worst_class=min(found["asked_by_class"].items(), key=lambda kv: kv[1]["recognised"])[0],
        )
    return figures


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, default=1)
    p.add_argument("--first-seed", type=int, default=0)
    p.add_argument("--families", default="vae,gan")
    p.add_argument("--vae-steps", type=int, default=2269)
    p.add_argument("--gan-steps", type=int, default=2216)
    p.add_argument("--rows", help="append every row as a JSON line to this file")
    args = p.parse_args()
    threads.apply(1)
    scorer = Scorer(load_dataset("mnist5k"))
    steps = {"vae": args.vae_steps, "gan": args.gan_steps}
    rows: dict[str, list[dict]] = {}
    load = []
    for seed in range(args.first_seed, args.first_seed + args.seeds):
        for family in args.families.split(","):
            for conditional in (False, True):
                begun = time.monotonic()
                with tempfile.TemporaryDirectory() as tmp:
                    cfg = TrainConfig(steps=steps[family], seed=seed, device="cpu", threads=1)
                    train.start(
                        family,
                        {"conditional": conditional},
                        DataConfig(data="mnist5k"),
                        cfg,
                        Path(tmp) / "run",
                        quiet=True,
                        typed={"steps", "seed", "device", "threads"},
                    )
                    model = genlab.load(Path(tmp) / "run").model
                    found = {f"{family}{' --conditional' if conditional else ''}": score(scorer, model)}
                    if family == "vae" and conditional:
                        model.config.sample_prior = "normal"  # the label through the decoder alone
                        found[f"{family} --conditional, codes from N(0, I)"] = score(scorer, model)
                for name, figures in found.items():
                    rows.setdefault(name, []).append(figures)
                    line = {
                        "seed": seed,
                        "run": name,
                        "steps": steps[family],
                        "seconds": round(time.monotonic() - begun, 1),
                        **figures,
                    }
                    print(json.dumps(line), file=sys.stderr, flush=True)
                    if args.rows:
                        with open(args.rows, "a", encoding="utf-8") as fh:
                            fh.write(json.dumps(line) + "\n")
                load.append(os.getloadavg()[0])
    seeds = list(range(args.first_seed, args.first_seed + args.seeds))
    print(
        f"mnist5k, VAE {args.vae_steps} and GAN {args.gan_steps} steps, seeds {seeds}, {N} samples each; "
        f"load average {min(load):.1f}-{max(load):.1f}; median over seeds (each seed's value in brackets)"
    )
    print("| run | " + " | ".join(SHOWN) + " |\n|---|" + "---:|" * len(SHOWN))
    for name, found in rows.items():
        cells = []
        for k in SHOWN:
            values = [r[k] for r in found if k in r]
            cells.append(
                ""
                if not values
                else f"{statistics.median(values):.3g}"
                + (f" ({', '.join(f'{v:.3g}' for v in values)})" if len(values) > 1 else "")
            )
        print(f"| {name} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    torch.set_num_threads(1)
    main()
