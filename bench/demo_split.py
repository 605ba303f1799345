"""The demo's split, in steps: what the extra CPU minutes of the side-by-side split buy PixelRNN and
the GAN. The steps each family gets at each split were measured by the demo on the 2-core machine
(README's table; the one-core split's from its last sequential demo); steps do not depend on the
machine's load, so this runs anywhere. For each seed each family trains with its demo defaults
on mnist5k to the first split's steps, is scored (1,000 samples from seed 0 against the 1,000 test
digits in genlab's feature space: FID, KID, the classifier's mean confidence), resumes to the second
split's steps (a resumed run equals an unbroken one) and is scored again. Prints every row and the
medians; rows go to OUT/demo_split.json.

    .venv/bin/python bench/demo_split.py [--seeds 3] [--first-seed 0] [--families pixelrnn,gan]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from quality import Scorer  # noqa: E402

from genlab.data import load_dataset  # noqa: E402
from genlab.train import runs  # noqa: E402

# steps at (the one-core split, the side-by-side split): PixelRNN 1.5 -> 2.5 min, GAN 1.5 -> 2 min
SPLITS = {"pixelrnn": (1143, 2138), "gan": (1662, 2216)}


def genlab(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "genlab", *args, "--quiet"], check=True, stdout=subprocess.DEVNULL)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--first-seed", type=int, default=0, help="seeds first-seed .. first-seed + seeds - 1")
    p.add_argument("--families", default="pixelrnn,gan")
    p.add_argument("--out", default="bench/quality/demo_split")
    args = p.parse_args()
    scorer = Scorer(load_dataset("mnist5k"))
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for family in args.families.split(","):
            for seed in range(args.first_seed, args.first_seed + args.seeds):
                run = Path(tmp) / f"{family}-{seed}"
                for i, steps in enumerate(SPLITS[family]):
                    if i == 0:
                        genlab(
                            "train",
                            family,
                            "--data",
                            "mnist5k",
                            "--steps",
                            str(steps),
                            "--seed",
                            str(seed),
                            "--threads",
                            "1",
                            "--out",
                            str(run),
                        )
                    else:
                        genlab("train", family, "--resume", "--steps", str(steps), "--threads", "1", "--out", str(run))
                    s = scorer(runs.load(run).model)
                    rows.append(
                        {
                            "family": family,
                            "seed": seed,
                            "steps": steps,
                            "fid": s["fid"],
                            "kid": s["kid"],
                            "confidence": s["confidence"],
                        }
                    )
                    print(
                        f"{family:8s} seed {seed} {steps:5d} steps: FID {s['fid']:6.2f}, KID {s['kid']:.4f}, "
                        f"confidence {s['confidence']:.3f}",
                        flush=True,
                    )
    for family in args.families.split(","):
        for steps in SPLITS[family]:
            mine = [r for r in rows if r["family"] == family and r["steps"] == steps]
            fids = sorted(r["fid"] for r in mine)
            print(
                f"{family:8s} {steps:5d} steps: median FID {statistics.median(fids):.2f} "
                f"(seeds {fids[0]:.2f}..{fids[-1]:.2f}), confidence "
                f"{statistics.median(r['confidence'] for r in mine):.3f}"
            )
    Path(args.out).mkdir(parents=True, exist_ok=True)
    (Path(args.out) / "demo_split.json").write_text(json.dumps(rows, indent=1) + "\n")


if __name__ == "__main__":
    main()
