"""How soon WaveNet sounds like its data: train on the built-in tones for a wall-clock budget with
genlab's defaults (and each variant given), then `genlab evaluate` its samples: spectral flatness
(geometric / arithmetic mean of the power spectrum over 1024-sample Hann frames, median; white
noise 0.56, the tones about 1e-11) and loudness (RMS, mean removed) beside the test clips', and the
exact test NLL. Variants run two at a time, one thread each (the thread policy's choice for this
network), so a pair shares the machine alike; medians over seeds.

    .venv/bin/python bench/wavenet_quality.py --minutes 2 --seeds 2 --variant "" --variant "--lr-schedule linear"
    .venv/bin/python bench/wavenet_quality.py --minutes 5 --seeds 2 --n 32 --variant "" --variant "--stacks 1 --lr 6e-3"
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

FIGURES = ("spectral_flatness", "rms", "rms_test", "nll_bits_per_sample")


def run(variant: str, seed: int, minutes: float, root: Path, n: int) -> tuple[subprocess.Popen, Path]:
    out = root / f"{abs(hash(variant))}-{seed}"
    genlab = [sys.executable, "-m", "genlab"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    script = (
        f"{shlex.join(genlab)} train wavenet --data tones --minutes {minutes} --seed {seed} --threads 1 "
        f"--quiet --out {out} {variant} && {shlex.join(genlab)} evaluate {out} --n {n} --seed {seed} --threads 1 "
        f"--quiet --out {out}.json"
    )
    return subprocess.Popen(["bash", "-c", script], env=env, stdout=subprocess.DEVNULL), out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=2.0)
    ap.add_argument("--seeds", type=int, default=1)
    ap.add_argument("--variant", action="append", help='extra `genlab train` flags; "" = the defaults')
    ap.add_argument("--n", type=int, default=8, help="sounds `genlab evaluate` draws per run (32: a steadier loudness)")
    args = ap.parse_args()
    variants = args.variant or [""]
    root = Path(tempfile.mkdtemp(prefix="wavenet-quality-"))
    jobs = [(v, s) for s in range(args.seeds) for v in variants]
    results: dict[str, list[dict]] = {v: [] for v in variants}
    for i in range(0, len(jobs), 2):  # two at a time: one per core
        started = [(v, *run(v, s, args.minutes, root, args.n)) for v, s in jobs[i : i + 2]]
        for variant, proc, out in started:
            if proc.wait() != 0:
                sys.exit(f"wavenet_quality: a run failed ({variant!r}); see {out}")
            results[variant].append(json.loads(Path(f"{out}.json").read_text()))
    print(
        f"WaveNet on tones, {args.minutes:g} minute(s), medians of {args.seeds} seed(s); load average "
        f"{os.getloadavg()[0]:.1f}"
    )
    print("| variant | " + " | ".join(FIGURES) + " |")
    print("|---|" + "---:|" * len(FIGURES))
    for variant, rows in results.items():
        cells = [f"{statistics.median(r[k] for r in rows):.3g}" for k in FIGURES]
        print(f"| {variant or 'defaults'} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
