"""Every benchmark in one run, printed as one table: genlab against plain PyTorch loops of the same
networks, fast against naive sampling, peak memory, and the distance to the hardware's limit.

1. Training on `mnist5k` (4,000 28x28 digits) for the VAE (784-400-20, binarized), the DCGAN
   (genlab's defaults) and the default PixelCNN: images/s of genlab's Trainer (its training loop,
   and end to end with the per-epoch test figures, sample grid and checkpoint) beside a plain loop
   of the same network — same layers, same initial weights, same batch size and optimiser
   settings — over `DataLoader(TensorDataset(...), shuffle=True)`; rounds alternate, medians of the
   per-round ratios. Targets: VAE >= 2x, DCGAN >= 1.2x, PixelCNN >= 1x.
2. Achieved FLOP/s of each training step (FLOPs of one step counted by
   torch.utils.flop_counter.FlopCounterMode, matrix products and convolutions only, times the
   loop's steps/s) as a fraction of a 2048x2048 fp32 matrix product's FLOP/s measured in this run.
3. Sampling 16 28x28 images with each PixelRNN architecture, fast path vs naive loop, same seed
   (identical images); one second of 16 kHz WaveNet audio, fast queues vs naive (extrapolated,
   a lower bound). Targets: >= 20x PixelCNNs, >= 10x RNNs and WaveNet.
4. Peak resident memory of `genlab train FAMILY --data mnist5k --epochs 1`, each in a fresh process.

    .venv/bin/python bench/run_all.py [--quick] [--rounds 3] [--epochs 2] [--device cpu|cuda] [--threads N]

--quick: one epoch, two rounds, two PixelRNN architectures, the memory of the VAE run only (about
3 minutes on 2 CPU cores). Ratios hold on a busy machine; absolute figures do not.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import torch  # noqa: E402

import gan_speed  # noqa: E402
import pixelrnn_speed  # noqa: E402
import wavenet_speed  # noqa: E402
from common import alternate, matmul_peak, median_ratio, peak_rss_mb, plain_loop, step_flops, trainer_speed  # noqa: E402
from genlab.core import threads  # noqa: E402
from genlab.data import Palette, load_dataset  # noqa: E402
from genlab.models.gan import GAN, GANConfig  # noqa: E402
from genlab.models.pixelrnn import ARCHS, PixelRNN, PixelRNNConfig  # noqa: E402
from genlab.models.vae import VAE, VAEConfig  # noqa: E402

SHAPE = (1, 28, 28)


def families(palette: Palette) -> dict[str, dict]:
    """Per family: a fresh model (seed 0), its batch size and learning rate, the target ratio."""

    def seeded(make):
        def build():
            torch.manual_seed(0)
            return make()

        return build

    return {
        "vae": dict(make=seeded(lambda: VAE(VAEConfig(colors=2), SHAPE, palette)), batch=128, lr=1e-3, target=2.0),
        "dcgan": dict(make=seeded(lambda: GAN(GANConfig(), SHAPE)), batch=gan_speed.BATCH, lr=gan_speed.LR, target=1.2),
        "pixelcnn": dict(
            make=seeded(lambda: PixelRNN(PixelRNNConfig(arch="pixelcnn", layers=5, width=32), SHAPE, palette)),
            batch=128,
            lr=PixelRNN.train_defaults["lr"],
            target=1.0,
        ),
    }


def plain(name: str, spec: dict, data: torch.Tensor, epochs: int) -> float:
    if name == "dcgan":  # PyTorch's DCGAN-example loop: G steps/s, one real batch per step
        return (
            gan_speed.plain_loop(data, epochs) * spec["batch"] * len(data) / (len(data) + (-len(data)) % spec["batch"])
        )
    return plain_loop(spec["make"]().to(data.device), data, spec["batch"], spec["lr"], epochs)


def flops_per_image(spec: dict, data: torch.Tensor) -> float:
    model = spec["make"]().to(data.device).train()
    optimizers = model.configure_optimizers(spec["lr"])
    batch = data[: spec["batch"]]
    model.train_step(batch, optimizers)  # warm-up (lazy state)
    return step_flops(lambda: model.train_step(batch, optimizers)) / len(batch)


def training_table(args, device: torch.device, peak: float) -> list[str]:
    data = load_dataset("mnist5k")
    palette = Palette.fit(data.train, 2)
    rows = [
        f"{'family':10s} {'genlab loop':>12s} {'genlab e2e':>11s} {'plain':>9s} {'loop/plain':>11s} "
        f"{'e2e/plain':>10s} {'target':>7s} {'MFLOP/img':>10s} {'GFLOP/s':>8s} {'% peak':>7s}"
    ]
    for name, spec in families(palette).items():
        probe = spec["make"]()
        train, test = (probe.prepare(x.to(device)) for x in (data.train, data.test))
        print(
            f"training {name}: {args.epochs} epoch(s) x {len(train)} images, batch {spec['batch']}, "
            f"{args.rounds} alternating rounds (images/s)",
            flush=True,
        )
        speeds: dict[str, list] = {"genlab": [], "e2e": []}

        def genlab_run():
            loop, e2e = trainer_speed(spec["make"]().to(device), train, test, spec["batch"], spec["lr"], args.epochs)
            speeds["e2e"].append(e2e)
            return loop

        measured = alternate(
            args.rounds, {"genlab": genlab_run, "plain": lambda: plain(name, spec, train, args.epochs)}
        )
        loop, e2e, base = (statistics.median(v) for v in (measured["genlab"], speeds["e2e"], measured["plain"]))
        per_image = flops_per_image(spec, train)
        achieved = per_image * loop
        rows.append(
            f"{name:10s} {loop:12,.0f} {e2e:11,.0f} {base:9,.0f} "
            f"{median_ratio(measured['genlab'], measured['plain']):10.2f}x "
            f"{median_ratio(speeds['e2e'], measured['plain']):9.2f}x {spec['target']:6.1f}x "
            f"{per_image / 1e6:10.1f} {achieved / 1e9:8.2f} {100 * achieved / peak:6.1f}%"
        )
    return rows


def sampling_table(args) -> list[str]:
    palette = Palette.fit(load_dataset("mnist5k").train, 2)
    rows = [f"{'model':16s} {'fast s':>8s} {'naive s':>9s} {'speed-up':>9s} {'identical':>10s} {'target':>7s}"]
    for arch in args.archs:
        fast, naive, same = pixelrnn_speed.sampling(arch, palette)
        target = 20 if "pixelcnn" in arch else 10
        rows.append(
            f"{arch:16s} {fast:8.2f} {naive:9.1f} {naive / fast:8.1f}x {'yes' if same else 'NO':>10s} {target:6d}x"
        )
        print(rows[-1], flush=True)
    fast, naive, same = wavenet_speed.measure(rounds=1, steps=args.wavenet_steps)
    rows.append(
        f"{'wavenet (1 s)':16s} {fast:8.2f} {naive:9.1f} {naive / fast:8.1f}x {'yes' if same else 'NO':>10s} "
        f"{10:6d}x  (naive extrapolated: a lower bound)"
    )
    return rows


def memory_table(args) -> list[str]:
    rows = []
    for name in args.memory:
        argv = ["train", name, "--data", "mnist5k", "--epochs", "1", "--quiet", "--device", "cpu", "--out"]
        import tempfile

        with tempfile.TemporaryDirectory() as tmp:
            mb = peak_rss_mb(argv + [f"{tmp}/run"])
        rows.append(f"peak memory, genlab train {name} --data mnist5k --epochs 1: {mb:,.0f} MB")
        print(rows[-1], flush=True)
    return rows


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="1 epoch, 2 rounds, 2 PixelRNN architectures, VAE memory only")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    p.add_argument(
        "--threads",
        type=int,
        default=None,
        help="torch CPU threads (default: genlab's thread policy, "
        "this process's share of the cores; see docs/threads.md)",
    )
    args = p.parse_args()
    args.archs, args.memory, args.wavenet_steps = list(ARCHS), ["vae", "gan", "pixelrnn"], 200
    if args.quick:
        args.rounds, args.epochs, args.archs, args.memory, args.wavenet_steps = (
            2,
            1,
            ["pixelcnn", "row-lstm"],
            ["vae"],
            50,
        )
    threads.apply(args.threads)
    device = torch.device(args.device)
    peak = matmul_peak(device)
    load = os.getloadavg()[0]
    header = (
        f"torch {torch.__version__} on {args.device} ({torch.get_num_threads()} threads); load average "
        f"{load:.1f} at start; fp32 matmul peak measured now: {peak / 1e9:,.1f} GFLOP/s"
    )
    print(header, flush=True)
    sections = [
        ("training images/s, genlab vs a plain loop of the same network (medians)", training_table(args, device, peak)),
        ("sampling: fast path vs naive loop, same seed", sampling_table(args)),
        ("memory", memory_table(args)),
    ]
    print("\n" + header)
    for title, rows in sections:
        print(f"\n## {title}")
        print("\n".join(rows))
    print(f"\nload average at the end: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
