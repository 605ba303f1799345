"""Two families side by side, one process per core, against each alone: the steps per second each
gets (the `genlab compare --jobs` question). Each family trains with its defaults on mnist5k for
`--seconds` of wall time, alone (one after another), then all together through core/jobs.py (as
compare starts them, with GENLAB_SHARING set); rounds alternate alone/together. Prints per family
steps, CPU seconds and the median ratio (steps/s together) / (steps/s alone). Target: >= 0.85x.

    .venv/bin/python bench/side_by_side.py [--families pixelrnn,gan] [--seconds 60] [--rounds 2]
"""

from __future__ import annotations

import argparse
import csv
import os
import statistics
import sys
import tempfile
from pathlib import Path

from genlab.core import jobs


def job(family: str, seconds: float, out: Path) -> jobs.Job:
    argv = [
        sys.executable,
        "-m",
        "genlab",
        "train",
        family,
        "--data",
        "mnist5k",
        "--minutes",
        str(seconds / 60),
        "--out",
        str(out),
        "--quiet",
    ]
    return jobs.Job(family, argv, cost=seconds)


def steps(run: Path) -> int:
    with open(run / "metrics.csv", newline="") as f:
        return max(int(row["step"]) for row in csv.DictReader(f))


def measure(families: list[str], seconds: float, together: bool, root: Path, tag: str) -> dict[str, tuple[int, float]]:
    """{family: (steps, cpu seconds)} of one round."""
    runs = {f: root / f"{tag}-{f}" for f in families}
    work = [job(f, seconds, runs[f]) for f in families]
    results = (
        jobs.run_jobs(work, slots=len(work), say=lambda _: None)
        if together
        else [jobs.run_jobs([w], slots=1, say=lambda _: None)[0] for w in work]
    )
    for r in results:
        if not r.ok:
            raise SystemExit(f"{r.name} failed: {r.why()}")
    return {r.name: (steps(runs[r.name]), r.cpu_seconds) for r in results}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--families", default="pixelrnn,gan")
    p.add_argument("--seconds", type=float, default=60.0)
    p.add_argument("--rounds", type=int, default=2)
    args = p.parse_args()
    families = args.families.split(",")
    print(f"cores {jobs.default_slots()}, load average at start {os.getloadavg()[0]:.1f}; {args.seconds:g} s per run")
    ratios: dict[str, list[float]] = {f: [] for f in families}
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.rounds):
            order = [False, True] if r % 2 == 0 else [True, False]
            got = {
                mode: measure(families, args.seconds, mode, Path(tmp), f"r{r}-{'both' if mode else 'alone'}")
                for mode in order
            }
            for f in families:
                (alone, cpu_a), (both, cpu_b) = got[False][f], got[True][f]
                ratios[f].append(both / alone)
                print(
                    f"round {r}: {f:9s} alone {alone:6d} steps ({cpu_a:5.1f} CPU s), side by side {both:6d} steps "
                    f"({cpu_b:5.1f} CPU s): {both / alone:.2f}x"
                )
    print(f"load average at end {os.getloadavg()[0]:.1f}")
    for f in families:
        print(f"{f}: median steps/s side by side / alone = {statistics.median(ratios[f]):.2f}x (target >= 0.85x)")


if __name__ == "__main__":
    main()
