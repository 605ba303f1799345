"""PixelRNN family speed and quality, in one run, on binarized `mnist5k` (28x28):

(a) sampling 16 images with the fast path (cached convolution inputs, carried LSTM state) vs the
    naive loop that re-runs the whole network for each of the 784 pixels, per architecture, with
    the same seed: the ratio, and whether the images are identical (targets: >= 20x for the
    PixelCNNs, >= 10x for the LSTMs);
(b) training images/s of genlab's Trainer vs a plain PyTorch loop over
    `DataLoader(TensorDataset(...), shuffle=True)` of the same PixelCNN, same batch size and
    optimiser, alternating rounds, medians: once for the training loop alone and once with what
    genlab also does after each epoch (evaluate the test split, draw the 64-sample grid, checkpoint);
(c) the test NLL (nats/image, bits/dim, all 1000 test digits) of each architecture, default sizes,
    after the same wall-clock training budget.

    .venv/bin/python bench/pixelrnn_speed.py [--minutes 1] [--epochs 1] [--rounds 2] [--threads N]
                                              [--archs pixelcnn,gated-pixelcnn,row-lstm,diagonal-bilstm]
                                              [--parts abc]

Figures are ratios measured side by side in one process; absolute times depend on the machine.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402
from genlab import train  # noqa: E402
from genlab.core.config import DataConfig, TrainConfig  # noqa: E402
from genlab.data import Palette, load_dataset  # noqa: E402
from genlab.metrics.likelihood import likelihood_report  # noqa: E402
from genlab.models.pixelrnn import ARCHS, PixelRNN, PixelRNNConfig  # noqa: E402

BATCH, LR = 128, PixelRNN.train_defaults["lr"]


def sampling(arch: str, palette: Palette, n: int = 16) -> tuple[float, float, bool]:
    """(fast seconds, naive seconds, identical) for n 28x28 samples of a freshly initialised model."""
    torch.manual_seed(0)
    model = PixelRNN(PixelRNNConfig(arch=arch), (1, 28, 28), palette).eval()
    times, images = [], []
    for fast in (True, False):
        start = time.perf_counter()
        images.append(model.sample(n, torch.Generator().manual_seed(0), fast=fast))
        times.append(time.perf_counter() - start)
    return times[0], times[1], torch.equal(*images)


def plain_loop(indices: torch.Tensor, palette: Palette, epochs: int) -> float:
    """Images per second of a hand-written loop over a DataLoader, the same PixelCNN."""
    torch.manual_seed(0)
    model = PixelRNN(PixelRNNConfig(arch="pixelcnn", layers=5, width=32), (1, 28, 28), palette)
    return common.plain_loop(model, indices, BATCH, LR, epochs)


def genlab_loop(indices: torch.Tensor, test: torch.Tensor, palette: Palette, epochs: int) -> tuple[float, float]:
    """(images/s of the training loop, images/s end to end) of genlab's Trainer on the same data."""
    torch.manual_seed(0)
    model = PixelRNN(PixelRNNConfig(arch="pixelcnn", layers=5, width=32), (1, 28, 28), palette)
    return common.trainer_speed(model, indices, test, BATCH, LR, epochs)


def nll_after_budget(arch: str, minutes: float) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        cfg = TrainConfig(minutes=minutes, batch_size=BATCH, lr=LR, device="cpu", save_every=1e9)
        trainer = train.start(
            "pixelrnn", {"arch": arch}, DataConfig(data="mnist5k"), cfg, Path(tmp) / "run", quiet=True
        )
        test = load_dataset("mnist5k").test
        report = likelihood_report(trainer.model, test)
        c = trainer.counters
        return {
            "steps": c.step,
            "epochs": c.step / trainer.steps_per_epoch,
            "nats": report["nll_nats"],
            "bits": report["nll_bits_per_dim"],
        }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--minutes", type=float, default=1.0, help="(c) training budget per architecture")
    p.add_argument("--epochs", type=int, default=1, help="(b) epochs per round")
    p.add_argument("--rounds", type=int, default=2, help="(b) alternating rounds")
    p.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    p.add_argument("--archs", default=",".join(ARCHS), help="architectures for (a) and (c)")
    p.add_argument("--parts", default="abc", help="which parts to run")
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    archs = args.archs.split(",")
    data = load_dataset("mnist5k")
    palette = Palette.fit(data.train, 2)
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads; binarized mnist5k 28x28, "
        f"default sizes per architecture"
    )
    if "a" in args.parts:
        print("(a) sampling 16 images, same seed: fast path vs naive loop (784 whole-network passes)")
        for arch in archs:
            fast, naive, same = sampling(arch, palette)
            print(
                f"  {arch:16s} fast {fast:7.2f} s   naive {naive:8.1f} s   ratio {naive / fast:6.1f}x   "
                f"identical images: {'yes' if same else 'NO'}",
                flush=True,
            )
    if "b" in args.parts:
        indices = palette.encode(data.train)  # (N, 1, 28, 28): the binarized digits genlab trains on
        test = palette.encode(data.test)
        print(
            f"(b) training the default PixelCNN, {args.epochs} epoch(s) x {len(indices)} images, batch {BATCH}, "
            f"{args.rounds} alternating rounds"
        )
        steps, ends, plain = [], [], []
        for r in range(args.rounds):
            s, e = genlab_loop(indices, test, palette, args.epochs)
            steps.append(s)
            ends.append(e)
            plain.append(plain_loop(indices, palette, args.epochs))
            print(
                f"  round {r + 1}: genlab {s:6.0f} img/s (loop), {e:6.0f} img/s (with per-epoch extras)   "
                f"plain DataLoader loop {plain[-1]:6.0f} img/s",
                flush=True,
            )
        s, e, b = statistics.median(steps), statistics.median(ends), statistics.median(plain)
        print(f"  median ratio genlab / plain: {s / b:.2f}x for the loop, {e / b:.2f}x with the extras (target >= 1x)")
    if "c" in args.parts:
        print(f"(c) test NLL on binarized mnist5k (1000 test digits) after {args.minutes:g} min of training each")
        print(f"  {'architecture':16s} {'steps':>6s} {'epochs':>7s} {'nats/image':>11s} {'bits/dim':>9s}")
        for arch in archs:
            r = nll_after_budget(arch, args.minutes)
            print(f"  {arch:16s} {r['steps']:6d} {r['epochs']:7.2f} {r['nats']:11.2f} {r['bits']:9.4f}", flush=True)


if __name__ == "__main__":
    main()
