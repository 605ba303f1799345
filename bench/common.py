"""What the benchmark scripts share: the plain PyTorch training loop genlab is measured against,
genlab's Trainer timed with and without its per-epoch extras, alternating rounds with medians,
FLOPs of one training step, the machine's matrix-product peak, and peak memory.

Import it from a script in bench/ (`from common import ...`): the scripts put their own folder
first on sys.path when run as `.venv/bin/python bench/NAME.py`.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

import torch
from torch.utils.data import DataLoader, TensorDataset
from torch.utils.flop_counter import FlopCounterMode

from genlab.core.config import TrainConfig
from genlab.train import Trainer, TrainingData
from genlab.train import trainer as trainer_module


def plain_loop(model: torch.nn.Module, data: torch.Tensor, batch: int, lr: float, epochs: int) -> float:
    """Images per second of the tutorial loop: `DataLoader(TensorDataset, shuffle=True)`, plain Adam,
    `zero_grad()`, the model's own loss, `backward()`, `step()`, and `loss.item()` per step for the log."""
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    loader = DataLoader(TensorDataset(data), batch_size=batch, shuffle=True)
    start = time.perf_counter()
    for _ in range(epochs):
        total = 0.0
        for (x,) in loader:
            opt.zero_grad()
            loss = model.loss(x)["loss"]
            loss.backward()
            opt.step()
            total += loss.item()
    return epochs * len(data) / (time.perf_counter() - start)


def trainer_speed(
    model: torch.nn.Module, train: torch.Tensor, test: torch.Tensor, batch: int, lr: float, epochs: int, **cfg
) -> tuple[float, float]:
    """(images/s of the training loop, images/s end to end) of genlab's Trainer on prepared data.
    The loop figure leaves out the extras (test evaluation, sample grid, checkpoints, loss.png),
    timed by wrapping the trainer's `_end_of_epoch`, `save` and the loss plot."""
    extras = [0.0]

    def timed(method):
        def call(*args, **kwargs):
            start = time.perf_counter()
            try:
                return method(*args, **kwargs)
            finally:
                extras[0] += time.perf_counter() - start

        return call

    with tempfile.TemporaryDirectory() as tmp:
        config = TrainConfig(epochs=epochs, batch_size=batch, lr=lr, device=str(model.device), save_every=1e9, **cfg)
        trainer = Trainer(model, TrainingData(train, test), config, Path(tmp), quiet=True)
        trainer._end_of_epoch, trainer.save = timed(trainer._end_of_epoch), timed(trainer.save)
        plot = trainer_module.viz.plot_metrics
        trainer_module.viz.plot_metrics = timed(plot)  # loss.png, drawn when training ends
        try:
            start = time.perf_counter()
            trainer.fit()
            total = time.perf_counter() - start
        finally:
            trainer_module.viz.plot_metrics = plot
    return epochs * len(train) / (total - extras[0]), epochs * len(train) / total


def alternate(
    rounds: int, runs: dict[str, Callable[[], float]], say: Callable[[str], None] = print
) -> dict[str, list[float]]:
    """Run every measurement once per round, in turn, so that a busy machine slows them alike; one
    warm-up round first (lazy initialisation, kernel selection, first-touch memory) is not counted."""
    for run in runs.values():
        run()
    out: dict[str, list[float]] = {name: [] for name in runs}
    for r in range(rounds):
        for name, run in runs.items():
            out[name].append(run())
        say(f"  round {r + 1}: " + ", ".join(f"{name} {vals[-1]:,.1f}" for name, vals in out.items()))
    return out


def median_ratio(a: list[float], b: list[float]) -> float:
    """The median over rounds of a/b, each round's pair measured back to back."""
    return statistics.median(x / y for x, y in zip(a, b))


def step_flops(step: Callable[[], object]) -> int:
    """Floating-point operations of one call of `step` (forward and backward; a multiply-add is 2),
    as torch.utils.flop_counter counts them: matrix products and convolutions only."""
    counter = FlopCounterMode(display=False)
    with counter:
        step()
    return counter.get_total_flops()


def matmul_peak(device: torch.device | str = "cpu", n: int = 2048, seconds: float = 2.0) -> float:
    """FLOP/s of a large fp32 matrix product on this machine now: the hardware ceiling a training
    step's matrix work can approach."""
    a, b = torch.randn(n, n, device=device), torch.randn(n, n, device=device)
    a @ b  # warm-up
    done, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        a @ b
        done += 1
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize()
    return 2 * n**3 * done / (time.perf_counter() - start)


def peak_rss_mb(genlab_argv: list[str]) -> float:
    """Peak resident memory (MB) of `genlab ARGV` run alone in a fresh Python process."""
    # VmHWM, not ru_maxrss: Linux carries ru_maxrss over from the parent through fork and exec
    code = (
        "import sys, runpy; sys.argv = ['genlab'] + sys.argv[1:]\n"
        "try:\n    runpy.run_module('genlab', run_name='__main__')\nexcept SystemExit as e:\n"
        "    assert not e.code, e.code\n"
        "print(next(l.split()[1] for l in open('/proc/self/status') if l.startswith('VmHWM:')))"
    )
    out = subprocess.run([sys.executable, "-c", code, *genlab_argv], check=True, capture_output=True, text=True)
    return int(out.stdout.strip().splitlines()[-1]) / 1024  # kB
