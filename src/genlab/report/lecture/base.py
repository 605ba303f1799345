"""What every lecture section shares: its declaration (`Section`), what it hands back (`Outcome`),
and the `Lab` it runs in (training runs, picture paths, step budgets, progress lines)."""
from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from genlab.core.config import DataConfig, TrainConfig
from genlab.train import runs

QUICK, FULL = "quick", "full"


@dataclass(frozen=True)
class Section:
    """One claim of the notes, in their order: `number` is the claim's place in the notes."""

    number: int
    key: str  # the --only name
    title: str
    claim: str  # the notes' claim in one sentence
    run: Callable[["Lab"], "Outcome"]


@dataclass
class Outcome:
    """What a section measured: `figures` (every number, for lecture.json), `pictures` ((file name in
    the section's picture folder, caption, is it a plot)), `finding` (the measured number that
    supports or refutes the claim, in one or two sentences) and `holds` (True: supported, False:
    refuted at this budget, None: the measurement cannot tell)."""

    figures: dict[str, Any]
    pictures: list[tuple[str, str, bool]]
    finding: str
    holds: bool | None
    setup: str = ""  # what was trained, on what, for how long


STAGING = ".new"  # a section works in KEY.new folders, moved over KEY only once it has finished


@dataclass
class Lab:
    """Where a section works: `pictures` and `runs` are its own fresh folders (pictures/KEY.new,
    runs/KEY.new); `finish()` puts them in place of the earlier run's, so a section that fails
    leaves the earlier pictures and runs, which lecture.json names, as they were."""

    pictures: Path
    runs: Path
    quick: bool
    device: str
    say: Callable[[str], None]
    seed: int = 0
    trained: list[str] = field(default_factory=list)

    @classmethod
    def open(cls, out: Path, key: str, quick: bool, device: str, say: Callable[[str], None]) -> "Lab":
        pictures, run_dir = out / "pictures" / (key + STAGING), out / "runs" / (key + STAGING)
        for folder in (pictures, run_dir):
            shutil.rmtree(folder, ignore_errors=True)  # left by a section that was stopped
            folder.mkdir(parents=True)
        return cls(pictures, run_dir, quick, device, say)

    def finish(self) -> None:
        for staged in (self.pictures, self.runs):
            final = staged.with_name(staged.name[:-len(STAGING)])
            shutil.rmtree(final, ignore_errors=True)  # the lecture's own output of an earlier run of this section
            staged.rename(final)

    def budget(self, quick: int, full: int) -> int:
        """A number of steps (or items): the quick one with --quick."""
        return quick if self.quick else full

    def picture(self, name: str) -> Path:
        return self.pictures / name

    def train(self, name: str, family: str, options: dict[str, Any], data: str, steps: int | None = None,
              batch_size: int = 64, lr: float | None = None, log_every: int = 10,
              minutes: float | None = None, image_size: int | None = None) -> runs.LoadedRun:
        """Train `family` on the built-in `data` for `steps` steps (or `minutes`) into runs/SECTION/NAME,
        quietly."""
        from genlab import train

        budget = {"steps": steps} if minutes is None else {"minutes": minutes}
        typed = {*budget, "batch_size", "seed", "device", "log_every", "save_every"} | ({"lr"} if lr else set())
        cfg = TrainConfig(batch_size=batch_size, seed=self.seed, device=self.device, log_every=log_every,
                          save_every=1e9, **budget, **({"lr": lr} if lr else {}))
        run = self.runs / name
        said = f"{steps} steps" if minutes is None else f"up to {minutes * 60:.0f} s"
        self.say(f"  training {family} {name} on {data}: {said}")
        train.start(family, options, DataConfig(data=data, image_size=image_size), cfg, run, quiet=True, typed=typed)
        self.trained.append(f"{family} {name}: {said} on {data}")
        return runs.load(run, device=self.device_name())

    def device_name(self) -> str:
        from genlab.train.trainer import resolve_device

        return str(resolve_device(self.device))


def train_rows(run: runs.LoadedRun, key: str) -> tuple[list[int], list[float]]:
    """(steps, values) of a figure over the training rows of a run's metrics.csv."""
    from genlab import viz

    rows = [r for r in viz.read_metrics(run.path / "metrics.csv") if r["split"] == "train" and r.get(key)]
    return [int(r["step"]) for r in rows], [float(r[key]) for r in rows]


def verdict(holds: bool | None) -> str:
    return {True: "supported", False: "not supported at this budget", None: "inconclusive"}[holds]
