"""Does a moving average of the DCGAN generator's weights (`--ema DECAY`) give better samples at the
demo's budget? One training trajectory per seed and decay: the average never changes the training,
so the raw generator and its average are scored from the same run, side by side.

Budget: `--steps` (default 1864, what the demo's minute gave the GAN on a quiet 2-core machine),
so the comparison does not depend on the load. Each model draws 1,000 samples (seed 0), scored in
genlab's digit-classifier features against the 1,000 test digits of mnist5k (bench/quality.py's
Scorer: FID, KID, precision/recall, confidence, inception score, nearest-neighbour ratio).

    .venv/bin/python bench/gan_ema.py [--steps 1864] [--seeds 2] [--decays 0.999,0.99]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import genlab  # noqa: E402
from genlab import train  # noqa: E402
from genlab.core import threads  # noqa: E402
from genlab.core.config import DataConfig, TrainConfig  # noqa: E402
from genlab.data import load_dataset  # noqa: E402
from quality import FIGURES, Scorer  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=1864)
    p.add_argument("--seeds", type=int, default=2)
    p.add_argument("--decays", default="0.999,0.99")
    args = p.parse_args()
    threads.apply(1)
    scorer = Scorer(load_dataset("mnist5k"))
    scores: dict[str, list[dict]] = {}
    load = []
    for seed in range(args.seeds):
        for decay in map(float, args.decays.split(",")):
            with tempfile.TemporaryDirectory() as tmp:
                cfg = TrainConfig(steps=args.steps, seed=seed, device="cpu", threads=1)
                train.start(
                    "gan",
                    {"ema": decay},
                    DataConfig(data="mnist5k"),
                    cfg,
                    Path(tmp) / "run",
                    quiet=True,
                    typed={"steps", "seed", "device", "threads"},
                )
                model = genlab.load(Path(tmp) / "run").model
                scores.setdefault(f"ema {decay:g}", []).append(scorer(model))
                model.ema = 0.0  # samples from the raw generator of the same run
                scores.setdefault("raw generator", []).append(scorer(model))
            load.append(os.getloadavg()[0])
            print(f"seed {seed}, decay {decay:g} done (load average {load[-1]:.1f})", file=sys.stderr, flush=True)
    print(
        f"DCGAN on mnist5k, {args.steps} steps, {args.seeds} seed(s), medians; load average {min(load):.1f}-{max(load):.1f}"
    )
    print("| generator | " + " | ".join(FIGURES) + " |\n|---|" + "---:|" * len(FIGURES))
    for name, rows in scores.items():
        print(f"| {name} | " + " | ".join(f"{statistics.median(r[k] for r in rows):.3g}" for k in FIGURES) + " |")


if __name__ == "__main__":
    main()
