"""WaveNet's input convolution with and without the level ramp at the start of training (the
ramp: each channel starts as a random multiple of the μ-law code's level, so the first layer sees
the past samples' amplitude before it has learnt the order of the 256 one-hot codes), on the
built-in tones, for a fixed number of steps so that the load does not enter the comparison:
spectral flatness and loudness of 8 sounds of 0.75 s (`genlab evaluate`'s figures) and the exact
test NLL in bits per sample. Each run is a fresh process, one thread, genlab's defaults otherwise.

    .venv/bin/python bench/wavenet_init.py [--steps 400] [--seeds 2]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import torch

import genlab
from genlab import train
from genlab.core.config import DataConfig, TrainConfig
from genlab.data import load_dataset
from genlab.metrics.audio import audio_report
from genlab.models.wavenet import WaveNet


def one_run(steps: int, seed: int, ramp: bool) -> dict:
    if not ramp:
        WaveNet._level_ramp = staticmethod(lambda channels, kernel: torch.zeros(channels, 256, kernel))
    data = load_dataset("tones")
    with tempfile.TemporaryDirectory() as tmp:
        cfg = TrainConfig(steps=steps, seed=seed, device="cpu", threads=1)
        train.start(
            "wavenet",
            {},
            DataConfig(data="tones"),
            cfg,
            Path(tmp) / "run",
            quiet=True,
            typed={"steps", "seed", "device", "threads"},
        )
        model = genlab.load(Path(tmp) / "run").model.eval()
    report = audio_report(model, data, data.test, n=8, seed=seed)
    codes = model.prepare(data.test)
    bits = float(-model.log_prob(codes).mean() / codes.shape[1] / math.log(2))
    return {
        "flatness": report["spectral_flatness"],
        "rms": report["rms"],
        "rms_test": report["rms_test"],
        "bits_per_sample": bits,
        "load": os.getloadavg()[0],
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=400)
    ap.add_argument("--seeds", type=int, default=2)
    ap.add_argument("--one", nargs=2, metavar=("SEED", "RAMP"), help=argparse.SUPPRESS)  # a child run
    args = ap.parse_args()
    if args.one:
        print(json.dumps(one_run(args.steps, int(args.one[0]), args.one[1] == "ramp")))
        return
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    print(
        f"WaveNet on tones, {args.steps} steps, genlab's defaults; flatness (tones 1e-11, white noise 0.56), "
        f"RMS, test NLL"
    )
    print(
        "| seed | input convolution | flatness | rms (test clips) | bits per sample | load |\n|---|---|---:|---:|---:|---:|"
    )
    for seed in range(args.seeds):
        for ramp in ("ramp", "plain"):
            out = subprocess.run(
                [sys.executable, __file__, "--steps", str(args.steps), "--one", str(seed), ramp],
                env=env,
                capture_output=True,
                text=True,
                check=True,
            ).stdout
            r = json.loads(out.strip().splitlines()[-1])
            print(
                f"| {seed} | {'level ramp (default)' if ramp == 'ramp' else 'PyTorch init'} | {r['flatness']:.3g} | "
                f"{r['rms']:.3f} ({r['rms_test']:.3f}) | {r['bits_per_sample']:.3f} | {r['load']:.1f} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
