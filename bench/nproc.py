"""One run on several cores: quality per wall minute of `genlab train FAMILY --nproc N` at N = 1 and 2
(the `--nproc auto` question). Each family trains with its defaults on mnist5k for `--minutes` of
training at each N, the Ns alternating in order from seed to seed so that a busy machine slows them
alike; each final model is then scored as bench/quality.py scores it (1,000 samples from seed 0
against the 1,000 test digits in genlab's feature space for mnist5k: FID, the classifier's mean
top-class confidence). Prints per family and N the steps, the steps per training second, the
command's wall seconds (torchrun's start included), its CPU seconds, the figures, and the medians
over seeds; rows go to OUT/nproc.json.

    .venv/bin/python bench/nproc.py [--families pixelrnn,vae,gan] [--minutes 1] [--seeds 3] [--nprocs 1,2]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from quality import Scorer  # noqa: E402

from genlab import viz  # noqa: E402
from genlab.data import load_dataset  # noqa: E402
from genlab.train import runs  # noqa: E402


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def train(family: str, nproc: int, minutes: float, seed: int, out: Path) -> dict:
    """Train one run in a child command; its steps, training seconds, wall and CPU seconds."""
    argv = [
        sys.executable,
        "-m",
        "genlab",
        "train",
        family,
        "--data",
        "mnist5k",
        "--minutes",
        str(minutes),
        "--seed",
        str(seed),
        "--nproc",
        str(nproc),
        "--out",
        str(out),
        "--quiet",
    ]
    env = {k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS"}  # the thread policy decides
    cpu, start = children_cpu(), time.perf_counter()
    subprocess.run(argv, check=True, env=env)
    wall, cpu = time.perf_counter() - start, children_cpu() - cpu
    last = [r for r in viz.read_metrics(out / "metrics.csv") if r.get("split") == "train"][-1]
    return {"steps": int(float(last["step"])), "train_seconds": float(last["seconds"]), "wall": wall, "cpu": cpu}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--families", default="pixelrnn,vae,gan")
    p.add_argument("--minutes", type=float, default=1.0)
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--nprocs", default="1,2")
    p.add_argument("--out", default="bench/quality/nproc")
    args = p.parse_args()
    nprocs = [int(n) for n in args.nprocs.split(",")]
    scorer = Scorer(load_dataset("mnist5k"))
    print(
        f"cores {len(os.sched_getaffinity(0))}, load average at start {os.getloadavg()[0]:.1f}; "
        f"{args.minutes:g} min of training per run"
    )
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for family in args.families.split(","):
            for seed in range(args.seeds):
                for n in nprocs if seed % 2 == 0 else nprocs[::-1]:
                    out = Path(tmp) / f"{family}-{seed}-{n}"
                    row = {"family": family, "nproc": n, "seed": seed, **train(family, n, args.minutes, seed, out)}
                    scores = scorer(runs.load(out).model)
                    row.update(fid=scores["fid"], confidence=scores["confidence"], load=os.getloadavg()[0])
                    rows.append(row)
                    print(
                        f"{family:8s} nproc {n} seed {seed}: {row['steps']:6d} steps "
                        f"({row['steps'] / row['train_seconds']:6.1f}/s), wall {row['wall']:5.1f} s, "
                        f"CPU {row['cpu']:6.1f} s, FID {row['fid']:6.2f}, confidence {row['confidence']:.3f}, "
                        f"load {row['load']:.1f}",
                        flush=True,
                    )
    print(f"load average at end {os.getloadavg()[0]:.1f}")
    for family in args.families.split(","):
        for n in nprocs:
            mine = [r for r in rows if r["family"] == family and r["nproc"] == n]
            med = {k: statistics.median(r[k] for r in mine) for k in ("steps", "wall", "cpu", "fid", "confidence")}
            print(
                f"{family:8s} nproc {n}: median {med['steps']:.0f} steps, wall {med['wall']:.0f} s, "
                f"CPU {med['cpu']:.0f} s, FID {med['fid']:.2f}, confidence {med['confidence']:.3f} "
                f"(FID over seeds {min(r['fid'] for r in mine):.2f}..{max(r['fid'] for r in mine):.2f})"
            )
    Path(args.out).mkdir(parents=True, exist_ok=True)
    (Path(args.out) / "nproc.json").write_text(json.dumps(rows, indent=1) + "\n")


if __name__ == "__main__":
    main()
