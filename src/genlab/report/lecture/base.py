"""What every lecture section shares: its declaration (`Section`), what it hands back (`Outcome`),
and the `Lab` it runs in (training runs, picture paths, step budgets, progress lines)."""

from __future__ import annotations

import json
import math
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Sequence

from genlab.core.config import DataConfig, TrainConfig
from genlab.core.errors import GenlabError
from genlab.core.fsutil import atomic_write_text
from genlab.train import runs

if TYPE_CHECKING:
    import torch

QUICK, FULL = "quick", "full"


SUPPORTED, NOT_SUPPORTED, INCONCLUSIVE = "supported", "not supported", "inconclusive"
VERDICTS = (SUPPORTED, NOT_SUPPORTED, INCONCLUSIVE)


@dataclass(frozen=True)
class Section:
    """The experiment for one claim (claims.py, by `key`), stated before it runs: the `data`, the
    `figure` a reader looks at, and the `rule`, fixed in advance, that maps the measured figures to
    a verdict (in words; the section's code applies it with `decide` and `all_of`). `cost`: the
    section's seconds at the full budget on one core, to start the longest first."""

    key: str
    data: str
    figure: str
    rule: str
    run: Callable[["Lab"], "Outcome"]
    cost: float = 60.0

    @property
    def claim(self):
        from genlab.report.lecture.claims import BY_KEY

        return BY_KEY[self.key]

    @property
    def number(self) -> int:
        return self.claim.number

    @property
    def title(self) -> str:
        return self.claim.title


@dataclass
class Outcome:
    """What a section measured: `figures` (every number, for lecture.json), `pictures` ((file name in
    the section's picture folder, caption saying what to look at, is it a plot[, a .wav in the same
    folder that the page plays above the picture])), `finding` (the
    measured numbers behind the verdict, in a sentence or two), the `verdict` (one of VERDICTS, from
    the section's rule) and `setup` (what was trained, on what, for how long, in plain words)."""

    figures: dict[str, Any]
    pictures: list[tuple[str, str, bool] | tuple[str, str, bool, str]]
    finding: str
    verdict: str
    setup: str = ""

    def __post_init__(self) -> None:
        if self.verdict not in VERDICTS:
            raise ValueError(f"a verdict is one of {VERDICTS}, not {self.verdict!r}")


def decide(margins: Sequence[float] | float, slack: float = 0.0) -> str:
    """The verdict on one predicted effect. `margins`: per seed, how far the measured figure passed the
    threshold the claim predicts (positive: the way the claim says). The noise is the larger of the
    seeds' spread (max - min) and `slack` (a bound's known looseness, or a sampling error): the mean
    margin beyond +noise is `supported`, beyond -noise `not supported`, and within it `inconclusive`."""
    values = [float(m) for m in ([margins] if isinstance(margins, (int, float)) else margins)]
    if not values or any(math.isnan(v) for v in values):
        return INCONCLUSIVE
    mean = sum(values) / len(values)
    noise = max(slack, max(values) - min(values))
    if mean > noise:
        return SUPPORTED
    return NOT_SUPPORTED if mean < -noise else INCONCLUSIVE


def all_of(*verdicts: str) -> str:
    """A claim of several parts: supported only when every part is, not supported when any part is not."""
    if NOT_SUPPORTED in verdicts:
        return NOT_SUPPORTED
    return SUPPORTED if all(v == SUPPORTED for v in verdicts) else INCONCLUSIVE


def spread(values: Sequence[float]) -> str:
    """'mean ± half-range over the seeds' (or the value, for one seed), for findings."""
    values = [float(v) for v in values]
    mean = sum(values) / len(values)
    return f"{mean:.3g}" if len(values) == 1 else f"{mean:.3g} ± {(max(values) - min(values)) / 2:.2g}"


STAGING = ".new"  # a section works in KEY.new folders, moved over KEY only once it has finished
MADE = ".lecture-made.json"  # in each finished folder: the files the lecture made there, the only ones it may delete


def check_only_ours(folder: Path) -> None:
    """Refuse to replace `folder` if it holds a file the lecture did not make (listed in its MADE)."""
    if not folder.exists():
        return
    try:
        made = set(json.loads((folder / MADE).read_text(encoding="utf-8")))
    except (OSError, ValueError, TypeError):
        made = set()
    for path in sorted(folder.rglob("*")):
        if (path.is_file() or path.is_symlink()) and path.name != MADE and str(path.relative_to(folder)) not in made:
            raise GenlabError(
                f"{path} was not made by genlab lecture, which would replace {folder}; move it "
                f"elsewhere or choose another --out"
            )


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
    seeds_used: list[int] = field(default_factory=list)

    @classmethod
    def open(cls, out: Path, key: str, quick: bool, device: str, say: Callable[[str], None]) -> "Lab":
        pictures, run_dir = out / "pictures" / (key + STAGING), out / "runs" / (key + STAGING)
        for folder in (pictures, run_dir):
            check_only_ours(folder.with_name(key))  # before any work: the earlier run's folder is the lecture's alone
            shutil.rmtree(folder, ignore_errors=True)  # left by a section that was stopped
            folder.mkdir(parents=True)
        return cls(pictures, run_dir, quick, device, say)

    def finish(self) -> None:
        for staged in (self.pictures, self.runs):
            final = staged.with_name(staged.name[: -len(STAGING)])
            check_only_ours(final)
            made = sorted(str(p.relative_to(staged)) for p in staged.rglob("*") if p.is_file())
            atomic_write_text(staged / MADE, json.dumps(made) + "\n")
            shutil.rmtree(final, ignore_errors=True)  # the lecture's own output of an earlier run of this section
            staged.rename(final)

    def budget(self, quick: int, full: int) -> int:
        """A number of steps (or items): the quick one with --quick."""
        return quick if self.quick else full

    def seeds(self, quick: int = 1, full: int = 3) -> list[int]:
        """The seeds a section repeats its experiment with: `full` (at least 3) at the full budget."""
        self.seeds_used = list(range(self.seed, self.seed + (quick if self.quick else max(full, 3))))
        return self.seeds_used

    def picture(self, name: str) -> Path:
        return self.pictures / name

    def train(
        self,
        name: str,
        family: str,
        options: dict[str, Any],
        data: str,
        steps: int | None = None,
        batch_size: int = 64,
        lr: float | None = None,
        log_every: int = 10,
        minutes: float | None = None,
        image_size: int | None = None,
        seed: int | None = None,
    ) -> runs.LoadedRun:
        """Train `family` on the built-in `data` for `steps` steps (or `minutes`) into runs/SECTION/NAME,
        quietly, with `seed` (default: the lab's)."""
        from genlab import train

        budget = {"steps": steps} if minutes is None else {"minutes": minutes}
        typed = {*budget, "batch_size", "seed", "device", "log_every", "save_every"} | ({"lr"} if lr else set())
        seed = self.seed if seed is None else seed
        cfg = TrainConfig(
            batch_size=batch_size,
            seed=seed,
            device=self.device,
            log_every=log_every,
            save_every=1e9,
            **budget,
            **({"lr": lr} if lr else {}),
        )
        run = self.runs / name
        said = (f"{steps} steps" if minutes is None else f"up to {minutes * 60:.0f} s") + f", seed {seed}"
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


def labelled_rows(
    rows: Sequence[tuple[str, "torch.Tensor"]],
    path: Path,
    scale: int = 4,
    label_width: int = 150,
    per_row: int | None = None,
) -> None:
    """One picture of rows of uint8 images (N, C, H, W), each row's label written at its left inside
    the picture (the label column widened to the longest label), every pixel drawn `scale` x `scale`
    (nearest neighbour: no smoothing)."""
    from PIL import Image, ImageDraw, ImageFont

    from genlab import viz

    pad = 2
    per_row = per_row or max(len(images) for _, images in rows)
    c, h, w = rows[0][1].shape[1:]
    tile_h, tile_w = h * scale, w * scale
    font = ImageFont.load_default(size=max(11, min(16, tile_h // 3)))
    measure = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    label_width = max(label_width, *(measure.multiline_textbbox((0, 0), label, font=font)[2] + 10 for label, _ in rows))
    sheet = Image.new(
        "RGB", (label_width + per_row * (tile_w + pad) + pad, len(rows) * (tile_h + pad) + pad), (255, 255, 255)
    )
    draw = ImageDraw.Draw(sheet)
    for r, (label, images) in enumerate(rows):
        y = pad + r * (tile_h + pad)
        if "\n" in label:
            draw.multiline_text((4, y + 2), label, fill=(20, 20, 20), font=font)
        else:
            draw.text((4, y + tile_h // 2), label, fill=(20, 20, 20), font=font, anchor="lm")
        for i, image in enumerate(images[:per_row].detach().cpu()):
            tile = viz.image_grid(image[None], nrow=1, pad=0, min_side=1)
            tile = tile.convert("RGB").resize((tile_w, tile_h), Image.NEAREST)
            sheet.paste(tile, (label_width + pad + i * (tile_w + pad), y))
    viz.save_png(sheet, path)
