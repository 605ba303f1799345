"""The thread policy, measured: milliseconds of one training step of each image family's default
network on mnist5k at 1 thread and at the cores this process may use, alternating rounds, medians,
beside the FLOPs of the step (what `genlab.core.threads` decides from).

    .venv/bin/python bench/threads.py [--rounds 5] [--steps 5] [--models vae,gan,pixelrnn] [--busy]

--busy keeps one other core busy with a spinning process for the whole run (a shared machine).
Quote the load average it prints: on a machine shared with others, the figures move with it.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402
from genlab.core import threads  # noqa: E402
from genlab.data import Palette, load_dataset  # noqa: E402
from genlab.models import model_class  # noqa: E402
from genlab.train.work import step_flops  # noqa: E402


def _spin() -> None:
    while True:
        pass


def step_ms(model, optimizers, batch, n_threads: int, steps: int) -> float:
    torch.set_num_threads(n_threads)
    start = time.perf_counter()
    for _ in range(steps):
        model.train_step(batch, optimizers)
    return 1000 * (time.perf_counter() - start) / steps


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--steps", type=int, default=5)
    p.add_argument("--models", default="vae,gan,pixelrnn")
    p.add_argument("--busy", action="store_true")
    args = p.parse_args()
    spinner = None
    if args.busy:
        spinner = multiprocessing.Process(target=_spin, daemon=True)
        spinner.start()
    data = load_dataset("mnist5k")
    cores = threads.cores()
    print(
        f"torch {torch.__version__}; cores this process may use: {cores}; other core busy: {args.busy}; "
        f"load average {os.getloadavg()[0]:.2f}"
    )
    try:
        for name in args.models.split(","):
            cls = model_class(name)
            cfg = cls.make_config()
            torch.manual_seed(0)
            palette = Palette.fit(data.train, cfg.colors, seed=0) if cls.uses_palette else None
            model = cls(cfg, data.item_shape, palette)
            batch = model.prepare(data.train[: cls.train_defaults.get("batch_size", 128)])
            optimizers = model.configure_optimizers(cls.train_defaults.get("lr", 1e-3))
            flops = step_flops(model, batch)
            runs = common.alternate(
                args.rounds,
                {
                    f"{n} thread(s)": (lambda n=n: step_ms(model, optimizers, batch, n, args.steps))
                    for n in sorted({1, cores})
                },
                say=lambda _: None,
            )
            medians = {k: statistics.median(v) for k, v in runs.items()}
            print(
                f"{name}: {flops / 1e9:.2f} GFLOP/step (policy: {threads.choose(flops, cores=cores)} thread(s)); "
                + ", ".join(f"{k} {v:.1f} ms" for k, v in medians.items())
            )
    finally:
        if spinner is not None:
            spinner.terminate()
    print(f"load average at the end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
