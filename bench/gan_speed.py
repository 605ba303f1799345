"""genlab's GAN: DCGAN training speed against a plain PyTorch loop, and mode coverage on toy:gmm8.

Part 1 trains genlab's default DCGAN (28x28, `--conv-channels 32`, non-saturating loss, batch 64)
on `mnist5k` through the real trainer (`train.start`), and the same G and D — same layers, same
initial weights — in the loop of PyTorch's DCGAN example: batches from
`DataLoader(TensorDataset(...), shuffle=True)`, D's loss as two backward passes, the G step
through a D that still computes its weight gradients, plain Adam, activations in the default
memory order. Rounds alternate between the two and the median of the rounds' ratios of generator
steps per second is printed (target: genlab >= 1.2x), two ways for genlab: over the time spent in
its training steps, and over the whole run (everything included: start-up, per-epoch test figures
on 1,000 test digits, sample grid, diversity, checkpoint, final plots — work the plain loop does
not do).

What genlab does differently: D's parameters are frozen during the G step (the notes' "fix D",
which also skips D's weight gradients), the activations run channels-last (oneDNN's preferred
order), Adam is fused, and batches are sliced from a tensor in memory.

Part 2 runs `genlab train gan --data toy:gmm8` with the default settings for `--minutes` (2) and
prints when all 8 modes were first covered with >= 90% high-quality samples (within 3 std of a
mode), and the figures at the end (`genlab evaluate`'s).

    .venv/bin/python bench/gan_speed.py [--epochs 8] [--rounds 5] [--minutes 2] [--skip-speed] [--skip-modes]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import statistics
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from genlab import train, viz
from genlab.cli import main as genlab_main
from genlab.core.config import DataConfig, TrainConfig
from genlab.data import load_dataset
from genlab.models.gan import GAN, GANConfig

BATCH, LR = 64, 2e-4  # genlab's image batch; PyTorch's DCGAN example's rate (genlab's image default is now 2e-3)


class PlainG(nn.Module):
    """genlab's DCGAN generator layers, run the textbook way (default memory order)."""

    def __init__(self, g):
        super().__init__()
        self.g = g

    def forward(self, z):
        x = self.g.project(z)
        for i, up in enumerate(self.g.ups):
            x = up(x, output_size=self.g.sizes[i + 1])
            x = F.relu(self.g.norms[i](x)) if i < len(self.g.norms) else torch.tanh(x)
        return x


class PlainD(nn.Module):
    def __init__(self, d):
        super().__init__()
        self.d = d

    def forward(self, x):
        return self.d.head(self.d.convs(x).flatten(1)).squeeze(1)


class ExampleLoop:
    """PyTorch's DCGAN example, one step at a time: D's loss as two backward passes, the G step
    through a D that still computes its weight gradients, plain Adam (betas 0.5, 0.999)."""

    def __init__(self, gan: GAN):
        self.gan, self.G, self.D = gan, PlainG(gan.generator), PlainD(gan.discriminator)
        self.opt_d = torch.optim.Adam(self.D.parameters(), lr=LR, betas=(0.5, 0.999))
        self.opt_g = torch.optim.Adam(self.G.parameters(), lr=LR, betas=(0.5, 0.999))
        self.criterion = nn.BCEWithLogitsLoss()

    def step(self, real: torch.Tensor) -> None:
        G, D, criterion = self.G, self.D, self.criterion
        ones, zeros = torch.ones(len(real)), torch.zeros(len(real))
        D.zero_grad()
        err_real = criterion(D(real), ones)
        err_real.backward()
        fake = G(torch.randn(len(real), self.gan.latent))
        err_fake = criterion(D(fake.detach()), zeros)
        err_fake.backward()
        self.opt_d.step()
        G.zero_grad()
        err_g = criterion(D(fake), ones)
        err_g.backward()
        self.opt_g.step()
        _ = (err_real + err_fake).item(), err_g.item()  # the example logs these every step


def plain_loop(images: torch.Tensor, epochs: int) -> float:
    """Generator steps per second of PyTorch's DCGAN-example loop over a DataLoader."""
    torch.manual_seed(0)
    loop = ExampleLoop(GAN(GANConfig(), (1, 28, 28)))
    loader = DataLoader(TensorDataset(images), batch_size=BATCH, shuffle=True)
    steps, start = 0, time.perf_counter()
    for _ in range(epochs):
        for (real,) in loader:
            loop.step(real)
            steps += 1
    return steps / (time.perf_counter() - start)


def genlab_loop(epochs: int) -> tuple[float, float]:
    """(G steps per second of training steps, G steps per second of the whole run) of `train.start`."""
    in_steps = [0.0]
    step = GAN.train_step

    def timed(self, batch, optimizers):
        t0 = time.perf_counter()
        out = step(self, batch, optimizers)
        in_steps[0] += time.perf_counter() - t0
        return out

    GAN.train_step = timed
    try:
        with tempfile.TemporaryDirectory() as tmp:
            cfg = TrainConfig(epochs=epochs, batch_size=BATCH, lr=LR, device="cpu", save_every=1e9)
            start = time.perf_counter()
            trainer = train.start("gan", {}, DataConfig(data="mnist5k"), cfg, Path(tmp) / "run", quiet=True)
            whole = time.perf_counter() - start
    finally:
        GAN.train_step = step
    return trainer.counters.step / in_steps[0], trainer.counters.step / whole


def speed(epochs: int, rounds: int) -> None:
    images = load_dataset("mnist5k").train.float() / 127.5 - 1  # (4000, 1, 28, 28) in [-1, 1]
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads; DCGAN 28x28 on mnist5k, {epochs} epochs "
        f"x {len(images)} images, batch {BATCH}, {rounds} alternating rounds"
    )
    steps, whole, plain = [], [], []
    for r in range(rounds):
        s, w = genlab_loop(epochs)
        steps.append(s)
        whole.append(w)
        plain.append(plain_loop(images, epochs))
        print(
            f"  round {r + 1}: genlab {s:6.2f} G steps/s in its training steps, {w:6.2f} over the whole run;"
            f"   plain DataLoader loop {plain[-1]:6.2f}"
        )
    s = statistics.median(a / b for a, b in zip(steps, plain))  # each round's pair ran back to back
    w = statistics.median(a / b for a, b in zip(whole, plain))
    print(
        f"median of the rounds' ratios: genlab's training steps {s:.2f}x the plain loop; genlab's whole run, "
        f"with its per-epoch test figures, grids and plots, {w:.2f}x (target >= 1.2x)"
    )


def modes(minutes: float) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        run = Path(tmp) / "run"
        start = time.perf_counter()
        with contextlib.redirect_stdout(io.StringIO()):
            assert (
                genlab_main(
                    ["train", "gan", "--data", "toy:gmm8", "--minutes", str(minutes), "--quiet", "--out", str(run)]
                )
                == 0
            )
        wall = time.perf_counter() - start
        rows = [r for r in viz.read_metrics(run / "metrics.csv") if r["split"] == "test"]
        good = [r for r in rows if int(r["modes_covered"]) == 8 and float(r["high_quality"]) >= 0.9]
        if good:
            first = good[0]
            later = [r for r in rows if float(r["seconds"]) >= float(first["seconds"])]
            print(
                f"toy:gmm8, default settings: all 8 modes with >= 90% high-quality samples first after "
                f"{float(first['seconds']):.0f} s (epoch {float(first['epoch']):.0f}, step {first['step']}); "
                f"held at {len(good)} of the {len(later)} epochs since"
            )
        else:
            print("toy:gmm8, default settings: never covered all 8 modes with >= 90% high-quality samples")
        with contextlib.redirect_stdout(io.StringIO()):  # the figures we need are printed below
            assert genlab_main(["evaluate", str(run), "--out", str(Path(tmp) / "m.json"), "--quiet"]) == 0
        report = json.loads((Path(tmp) / "m.json").read_text())
        print(
            f"after {minutes:g} min ({wall:.0f} s wall, {rows[-1]['step']} G steps): modes covered "
            f"{report['modes_covered']}/{report['modes_total']}, high quality {100 * report['high_quality']:.1f}%, "
            f"diversity {report['diversity']:.2f} (target: 8/8 and >= 90% in under 2 minutes)"
        )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--epochs", type=int, default=8)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--minutes", type=float, default=2.0)
    p.add_argument("--skip-speed", action="store_true")
    p.add_argument("--skip-modes", action="store_true")
    args = p.parse_args()
    if not args.skip_speed:
        speed(args.epochs, args.rounds)
    if not args.skip_modes:
        modes(args.minutes)


if __name__ == "__main__":
    main()
