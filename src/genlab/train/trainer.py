"""The generic training loop: any model with `train_step`/`loss`, batches of its `TrainingData`
(in memory, or a pack's streamed: train/training_data.py, train/streaming.py), progress, metrics,
per-epoch sample grids, atomic checkpoints and exact resume.

Batch order is a pure function of (seed, epoch): a resumed run re-derives the epoch's permutation
and skips the batches already done, and the global RNG (noise inside the model) is restored from
the checkpoint, so on CPU a stopped-and-resumed run ends with the same weights as an unbroken one.
"""

from __future__ import annotations

import csv
import io
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import torch
from tqdm import tqdm

from genlab import viz
from genlab.core import progress
from genlab.core.config import TrainConfig
from genlab.core.errors import GenlabError
from genlab.core.fsutil import atomic_write_text
from genlab.models import GenerativeModel
from genlab.train import runs
from genlab.train import schedule
from genlab.train.distributed import Group, Wrappers
from genlab.train.training_data import TrainingData

DEFAULT_EPOCHS = 10
SAMPLE_SEED = 1234  # fixed noise for the per-epoch sample grids
PLOT_EVERY = 30.0  # seconds between redraws of loss.png (drawing costs ~0.5 s); always drawn at the end
LINE_EVERY = 5.0  # seconds between epoch lines in a log (the VAE's epochs take 0.3 s); the last epoch's always


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise GenlabError("--device cuda was asked for but no CUDA GPU is available; use --device cpu")
    return torch.device(name)


def epoch_order(n: int, seed: int, epoch: int) -> torch.Tensor:
    """The permutation of the training split for one epoch, the same on every machine."""
    g = torch.Generator().manual_seed(seed * 1_000_003 + epoch)
    return torch.randperm(n, generator=g)


@dataclass
class Counters:
    """Where training stands; saved in every checkpoint."""

    step: int = 0
    epoch: int = 0  # epochs completed
    step_in_epoch: int = 0  # batches of the current epoch already done
    seconds: float = 0.0  # wall-clock time of training so far (evaluation included), across resumes
    step_budget: int = 0  # the steps --lr-schedule decays over (0: not known yet, or not needed)
    metrics_rows: int = -1  # rows metrics.csv held when the checkpoint was written (-1: a checkpoint from before)

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


class MetricsLog:
    """metrics.csv with a fixed header: step, epoch, seconds, split, then the model's figures."""

    def __init__(self, path: Path, keep_up_to_step: int | None = None, keep_rows: int = -1):
        """On a resume (`keep_up_to_step` given) the rows written after the checkpoint are forgotten,
        and torn ones: the first `keep_rows` whole rows, the number the checkpoint recorded, so a row
        written between a checkpoint and a kill is written again once, never twice (checkpoints from
        before that count: the rows up to the checkpoint's step)."""
        self.path = path
        self.header: list[str] | None = None
        self.rows: list[dict[str, Any]] = []
        if path.exists():
            self.rows = viz.read_metrics(path)
            if self.rows:
                self.header = list(self.rows[0].keys())
            if keep_up_to_step is not None:
                whole = [r for r in self.rows if None not in r.values()]
                self.rows = (
                    whole[:keep_rows] if keep_rows >= 0 else [r for r in whole if int(r["step"]) <= keep_up_to_step]
                )
                self._rewrite()

    def _rewrite(self) -> None:
        buf = io.StringIO()
        if self.header:
            writer = csv.DictWriter(buf, self.header)
            writer.writeheader()
            writer.writerows(self.rows)
        atomic_write_text(self.path, buf.getvalue())

    def add(self, row: dict[str, Any]) -> None:
        if self.header is None:
            self.header = list(row.keys())
        new = [k for k in row if k not in self.header]
        if new:  # a figure first seen now (e.g. only in test rows): widen the header, keep every row
            self.header += new
            self.rows = [{k: r.get(k, "") for k in self.header} for r in self.rows]
            self._rewrite()
        self.rows.append({k: _fmt(row.get(k, "")) for k in self.header})
        with open(self.path, "a", newline="") as fh:  # appends; a torn last line is dropped on resume
            writer = csv.DictWriter(fh, self.header)
            if fh.tell() == 0:
                writer.writeheader()
            writer.writerow(self.rows[-1])


def epoch_line(c: Counters, train: dict[str, float], test: dict[str, float]) -> str:
    """One line per epoch for a log: where training stands, its latest loss and the test figures."""
    parts = [f"epoch {c.epoch + (c.step_in_epoch > 0)}: step {c.step}, {c.seconds:.0f} s"]
    if "loss" in train:
        parts.append(f"loss {train['loss']:.4g}")
    parts += [f"test {k} {v:.4g}" for k, v in test.items()]
    return ", ".join(parts)


def _fmt(v: Any) -> Any:
    return f"{v:.6g}" if isinstance(v, float) else v


@dataclass
class Trainer:
    model: GenerativeModel
    data: TrainingData  # the prepared splits on the device, and their labels for a class-conditional model
    cfg: TrainConfig
    run: Path
    quiet: bool = False
    counters: Counters = field(default_factory=Counters)
    optimizers: dict[str, torch.optim.Optimizer] = field(default_factory=dict)
    group: Group = field(default_factory=Group)  # the training processes (world 1: just this one)
    data_spec: str = ""  # the data spec trained on, for a family's pictures (the GAN's toy modes)
    replan: bool = False  # a resume with a new budget: measure or compute the step budget again
    probe: Callable[[GenerativeModel], dict[str, float]] | None = None  # sample-quality figures, --quality-every

    def __post_init__(self) -> None:
        self.optimizers = self.model.configure_optimizers(self.cfg.lr)
        self.wrappers = Wrappers(self.model, self.group, self.cfg.compile)
        self.batch_size = len(self.data.train) if self.model.full_batch else self.cfg.batch_size
        self.steps_per_epoch = max(1, math.ceil(len(self.data.train) / self.batch_size))
        self.group.check_batches(len(self.data.train), self.batch_size)
        self.tb = None
        self._last_train: dict[str, float] = {}  # the latest logged training figures, for the epoch line
        self.pictures = self.model.training_pictures(self)  # the family's own, if any
        self._base_lrs = [[g["lr"] for g in opt.param_groups] for opt in self.optimizers.values()]

    @property
    def train_data(self) -> torch.Tensor:
        """The prepared training split (what a family's pictures see: models.base.TrainingView)."""
        return self.data.train

    @property
    def test_data(self) -> torch.Tensor:
        return self.data.test

    # --- state ---------------------------------------------------------------------------------
    def restore(self) -> None:
        state, optim, counters, rng = runs.load_checkpoint(self.run)
        self.model.load_state_dict(state)
        for name, opt in self.optimizers.items():
            opt.load_state_dict(optim[name])
            _match_layouts(opt)
        self.counters = Counters(**counters)
        runs.restore_rng(rng)
        self.group.restore_rng(rng, self.cfg.seed, self.counters.step)

    def save(self) -> None:
        """Rank 0 writes the checkpoint; every rank takes part (their RNG states go into it)."""
        ranks_rng = self.group.gather_rng()
        if self.group.main:
            if getattr(self, "metrics", None) is not None:  # the rows the checkpoint's state has logged
                self.counters.metrics_rows = len(self.metrics.rows)
            runs.save_checkpoint(self.run, self.model, self.optimizers, self.counters.as_dict(), ranks_rng)

    # --- loop ----------------------------------------------------------------------------------
    def _done(self) -> bool:
        """Epochs are counted alike on every process; a --minutes budget is kept by rank 0's clock."""
        c, cfg = self.counters, self.cfg
        if self.model.converged:
            return True
        if cfg.steps is not None:
            return c.step >= cfg.steps
        epochs = cfg.epochs if cfg.epochs is not None else (None if cfg.minutes is not None else DEFAULT_EPOCHS)
        if epochs is not None and c.epoch >= epochs:
            return True
        if cfg.minutes is not None and cfg.lr_schedule != "constant":
            return c.step_budget > 0 and c.step >= c.step_budget  # the measured budget, the same after a resume
        return cfg.minutes is not None and self.group.agree(c.seconds >= cfg.minutes * 60)

    def _plan_budget(self) -> None:
        """Fix the step budget the schedule decays over, as soon as it is known."""
        c, cfg = self.counters, self.cfg
        if cfg.lr_schedule == "constant" or c.step_budget:
            return
        if cfg.steps is not None:
            c.step_budget = cfg.steps
        elif cfg.minutes is None:
            c.step_budget = (cfg.epochs or DEFAULT_EPOCHS) * self.steps_per_epoch
        elif self.group.agree(c.seconds >= schedule.MEASURE_SHARE * cfg.minutes * 60):  # rank 0's clock decides
            c.step_budget = self.group.from_main(schedule.budget_from_speed(c.step, c.seconds, cfg.minutes * 60))

    def _set_learning_rates(self) -> float:
        """Every optimiser's rates for the next step, from the step alone; returns the first one."""
        f = schedule.factor(self.cfg.lr_schedule, self.counters.step, self.counters.step_budget)
        for opt, bases in zip(self.optimizers.values(), self._base_lrs):
            for group, base in zip(opt.param_groups, bases):
                group["lr"] = base * f
        return self._base_lrs[0][0] * f if self._base_lrs and self._base_lrs[0] else 0.0

    def fit(self, resume: bool = False) -> Counters:
        if resume and (self.run / runs.CHECKPOINT).exists():
            self.restore()
            if self.replan:
                self.counters.step_budget = 0
        else:
            self.group.seed(self.cfg.seed, self.counters.step)
        main = self.group.main
        self.metrics = (
            MetricsLog(
                self.run / "metrics.csv",
                keep_up_to_step=self.counters.step if resume else None,
                keep_rows=self.counters.metrics_rows,
            )
            if main
            else None
        )
        if main:
            self._open_tensorboard()
        if not self.quiet and main and self.model.summary():
            tqdm.write(self.model.summary())
        self.last_save = self.last_plot = self._started = time.monotonic()
        self._line_at, self._held_line = None, None  # when the last epoch line went to the log; the one held back
        self._seconds_at_start = self.counters.seconds  # wall-clock time of earlier sessions of this run
        self._quality_at = self.counters.seconds  # training seconds of the last sample-quality row
        while not self._done():
            c = self.counters
            order = epoch_order(len(self.data.train), self.cfg.seed, c.epoch)
            self.data.plan_epoch(order, c.step_in_epoch, self.batch_size, self.group)  # a pack's: read ahead
            bar = progress.bar(
                total=self.steps_per_epoch,
                initial=c.step_in_epoch,
                desc=f"epoch {c.epoch + 1}",
                quiet=self.quiet or not main,
                leave=False,
                dynamic_ncols=True,
            )
            sums: dict[str, torch.Tensor] = {}
            seen, images, window_start = 0, 0, time.monotonic()
            while c.step_in_epoch < self.steps_per_epoch and not self._done():
                if self.cfg.lr_schedule != "constant":  # a constant rate is left as the optimisers have it
                    self._plan_budget()
                    self._lr = self._set_learning_rates()
                idx = order[c.step_in_epoch * self.batch_size : (c.step_in_epoch + 1) * self.batch_size]
                images += len(idx)
                batch, labels = self.data.batch(self.group.shard(idx))  # this process's share of the batch
                self.model.train()
                self.model.progress = c.epoch + c.step_in_epoch / self.steps_per_epoch
                with self.wrappers.routed(self.model), self._autocast():
                    out = self.model.train_step(batch, self.optimizers, **labels)
                for k, v in out.items():
                    sums[k] = sums.get(k, 0) + self.group.weighted(v.detach())
                seen += 1
                c.step += 1
                c.step_in_epoch += 1
                c.seconds = self._seconds_at_start + time.monotonic() - self._started
                bar.update(1)
                if seen == self.cfg.log_every or c.step_in_epoch == self.steps_per_epoch:
                    self._log_train(sums, seen, images / (time.monotonic() - window_start), bar)
                    sums, seen, images, window_start = {}, 0, 0, time.monotonic()
                    self._save_if_due()
                self._probe_if_due()
            bar.close()
            if seen:
                self._log_train(sums, seen, 0.0, bar)
            if c.step_in_epoch == self.steps_per_epoch:
                c.epoch += 1
                c.step_in_epoch = 0
            self._end_of_epoch()
            c.seconds = self._seconds_at_start + time.monotonic() - self._started
        if main:
            with torch.no_grad():
                if self._fit_sampler():  # before the final probe and checkpoint
                    self.save_samples(
                        self.run / "samples" / f"epoch_{self.counters.epoch:04d}.png"
                    )  # the last grid, redrawn
        self._probe_if_due(final=True)
        if self._held_line is not None:  # the last epoch's line, held back by LINE_EVERY
            progress.say(self._held_line)
        if main:
            viz.plot_metrics(self.run / "metrics.csv", self.run / "loss.png")
        self.save()
        if main and self.pictures is not None:
            self.pictures.end(self)
        if self.tb is not None:
            self.tb.close()
        return self.counters

    def _probe_if_due(self, final: bool = False) -> None:
        """Every --quality-every seconds of training (and once at the end), the probe's sample-quality
        figures as a test row. The probe draws from its own generator; the global generators are
        restored after it, the model goes back to training mode and its time is left out of the
        training seconds (and of a --minutes budget), so the run's weights are the same without it."""
        c = self.counters
        if self.probe is None or not self.cfg.quality_every or not self.group.main:
            return
        if c.seconds - self._quality_at < self.cfg.quality_every and not (final and c.seconds > self._quality_at):
            return
        begun = time.monotonic()
        devices = [self.model.device] if self.model.device.type == "cuda" else []
        with torch.random.fork_rng(devices=devices), torch.no_grad():
            if not final:  # the final row comes after fit()'s own fit
                self._fit_sampler()
            self.model.eval()
            figures = self.probe(self.model)
            self.model.train()
        self._started += time.monotonic() - begun  # the probe's time is not training time
        self._quality_at = c.seconds
        self.metrics.add(
            {
                "step": c.step,
                "epoch": c.epoch + c.step_in_epoch / self.steps_per_epoch,
                "seconds": c.seconds,
                "split": "test",
                **figures,
            }
        )

    def _log_line(self, line: str) -> None:
        """An epoch's line, unless one went to the log less than LINE_EVERY seconds ago: then it is
        held back, and printed after training if it turns out to be the last epoch's."""
        now = time.monotonic()
        if self._line_at is None or now - self._line_at >= LINE_EVERY:
            progress.say(line)
            self._line_at, self._held_line = now, None
        else:
            self._held_line = line

    def _autocast(self):
        """bf16 autocast around a step with --precision bf16 (the weights and Adam's state stay fp32)."""
        return torch.autocast(self.model.device.type, dtype=torch.bfloat16, enabled=self.cfg.precision == "bf16")

    def _save_if_due(self) -> None:
        if self.group.agree(time.monotonic() - self.last_save >= self.cfg.save_every):
            self.save()
            self.last_save = time.monotonic()

    def _log_train(self, sums, seen, images_per_s, bar) -> None:
        sums = self.group.mean(sums)  # the figures of the whole batch, averaged over the processes
        means = {k: float(v) / seen for k, v in sums.items()}
        c = self.counters
        if not all(math.isfinite(v) for v in means.values()):
            bad = next(k for k, v in means.items() if not math.isfinite(v))
            kept = (
                "the last good checkpoint is kept"
                if (self.run / runs.CHECKPOINT).exists()
                else "no checkpoint was written"
            )
            raise GenlabError(
                f"training diverged: {bad} became {means[bad]} by step {c.step}; {kept} "
                f"(try a lower --lr, then --resume or start a new run)"
            )
        bar.set_postfix(loss=f"{means['loss']:.4g}", img_s=f"{images_per_s:.0f}")
        if self.cfg.lr_schedule != "constant":
            means["lr"] = self._lr  # the rate of the row's last step
        self._last_train = means
        if not self.group.main:
            return
        self.metrics.add(
            {
                "step": c.step,
                "epoch": c.epoch + c.step_in_epoch / self.steps_per_epoch,
                "seconds": c.seconds,
                "split": "train",
                **means,
            }
        )
        if self.tb is not None:
            for k, v in means.items():
                self.tb.add_scalar(f"train/{k}", v, c.step)

    @torch.no_grad()
    def evaluate(self) -> dict[str, float]:
        """Mean figures on the test split, with noise drawn from a fixed seed so epochs compare."""
        self.model.eval()
        sums: dict[str, float] = {}
        n = len(self.data.test)
        with torch.random.fork_rng(devices=[self.model.device] if self.model.device.type == "cuda" else []):
            torch.manual_seed(0)
            for start in range(0, n, self.cfg.batch_size):
                batch, labels = self.data.test_rows(slice(start, start + self.cfg.batch_size))
                for k, v in self.model.evaluate_batch(batch, **labels).items():
                    sums[k] = sums.get(k, 0.0) + float(v) * len(batch)
        return {k: v / n for k, v in sums.items()}

    def _fit_sampler(self) -> bool:
        return self.model.fit_sampler(self.data.train, **self.data.train_labels_keyword())

    def _end_of_epoch(self) -> None:
        if self.group.main:  # the other processes go on to the next step and wait for rank 0 there
            self._epoch_figures_and_pictures()
        self._save_if_due()

    def _epoch_figures_and_pictures(self) -> None:
        c = self.counters
        figures = self.evaluate() if len(self.data.test) else {}
        if self.pictures is not None:  # the family's pictures may return figures for the epoch's row
            figures.update(self.pictures.epoch(self) or {})
        if not self.quiet and not progress.interactive():  # a log gets epoch lines, not bar redraws
            self._log_line(epoch_line(c, self._last_train, figures))
        if figures:
            self.metrics.add(
                {
                    "step": c.step,
                    "epoch": c.epoch + c.step_in_epoch / self.steps_per_epoch,
                    "seconds": c.seconds,
                    "split": "test",
                    **figures,
                }
            )
            if self.tb is not None:
                for k, v in figures.items():
                    self.tb.add_scalar(f"test/{k}", v, c.step)
        self.save_samples(self.run / "samples" / f"epoch_{c.epoch:04d}.png")
        if time.monotonic() - self.last_plot >= PLOT_EVERY:
            viz.plot_metrics(self.run / "metrics.csv", self.run / "loss.png")
            self.last_plot = time.monotonic()

    def save_samples(self, path: Path) -> None:
        """The epoch's sample grid; for sound a .wav to listen to, with its spectrograms in the .png."""
        self.model.eval()
        g = torch.Generator(device=self.model.device).manual_seed(SAMPLE_SEED)
        if self.model.data_kind == "audio":
            path = path.with_suffix(".wav")
        viz.save_output(
            self.model.sample(self.model.epoch_samples, generator=g),
            path,
            nrow=self.model.label_count or None,  # a conditional model: one column per class
            sample_rate=getattr(self.model, "sample_rate", None),
        )

    def _open_tensorboard(self) -> None:
        if self.cfg.tensorboard:
            self.tb = tensorboard_writer()(str(self.run / "tensorboard"))


def _match_layouts(optimizer: torch.optim.Optimizer) -> None:
    """Give restored optimiser state the memory layout of its parameter (channels-last weights on
    CUDA): a checkpoint stores contiguous tensors, and fused Adam wants matching strides."""
    for group in optimizer.param_groups:
        for p in group["params"]:
            for key, value in optimizer.state.get(p, {}).items():
                if torch.is_tensor(value) and value.shape == p.shape and value.stride() != p.stride():
                    optimizer.state[p][key] = torch.empty_like(p).copy_(value)


def tensorboard_writer():
    """TensorBoard's SummaryWriter class, or a GenlabError saying how to get it."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        raise GenlabError("--tensorboard needs the tensorboard package: pip install tensorboard") from None
    return SummaryWriter
