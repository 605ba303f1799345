"""A compare's families as jobs of their own: each trained into OUT/runs/.NAME.new and moved to
OUT/runs/NAME only once it has finished, then sampled and evaluated into a piece of the report.

With several slots (`--jobs N`, default the cores) the families run side by side as child processes
(core/jobs.py: `python -m genlab.report.family_worker train|evaluate REQUEST`), the longest budget first,
each with its share of the cores; with one slot they run one after another in this process. The
same request gives the same run either way (the same seed, data, budget and thread policy). A family
that fails is recorded as a `Failure` and the others go on. Ctrl-C stops every child, and no run is
left half-written: a staging folder is removed, a finished run is complete. A finished run whose
settings are those asked for again (an interrupted compare, rerun) is kept rather than retrained.

Each finished run gets OUT/runs/NAME/compare.json: the wall and CPU seconds of the job that trained
it (its whole process: data loading, the budget, the sample-quality rows), so a report shows what
the budget bought on a loaded machine beside the steps it got.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import sys
import time
import traceback
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

from genlab.core.errors import GenlabError

STATS = "compare.json"  # in a run a compare trained: the wall and CPU seconds of its job
PIECES = ".pieces"  # OUT/.pieces/LABEL.json: a family's evaluation, written by its child
QUALITY_POINTS = 10  # sample-quality rows per trained family (time-to-quality lines): one per tenth of the budget
LINE_SECONDS = 30.0  # in a log (no terminal): a line on the whole job's progress this often


@dataclass
class Failure:
    """A family that did not make it into the report: where it failed and why."""

    label: str
    stage: str  # "training" or "evaluation"
    why: str
    user_error: bool  # exit code 2 (bad data or options), not a bug
    wall_seconds: float | None = None
    cpu_seconds: float | None = None

    def words(self) -> str:
        return f"{self.label} ({self.stage}: {self.why})"


@dataclass(frozen=True)
class TrainRequest:
    """One family's training, as JSON for its child: the compare's data, seed and budget, the
    family's own defaults for everything else."""

    name: str
    out: str  # the compare's folder
    data: dict  # DataConfig's fields
    minutes: float | None
    steps: int | None
    seed: int
    device: str
    threads: int | None
    quality: bool  # sample-quality rows every tenth of a --minutes budget
    quiet: bool
    conditional: bool = False  # train the class-conditional model (`--conditional`)

    @property
    def model_values(self) -> dict:
        return {"conditional": True} if self.conditional else {}

    @property
    def final(self) -> Path:
        return Path(self.out) / "runs" / self.name

    @property
    def staging(self) -> Path:
        return Path(self.out) / "runs" / f".{self.name}.new"

    @property
    def cost(self) -> float:
        """Seconds of budget (a --minutes budget) or steps: the longest start first."""
        return self.minutes * 60 if self.minutes is not None else float(self.steps or 0)

    def train_config(self):
        from genlab.core.config import TrainConfig

        every = self.minutes * 60 / QUALITY_POINTS if self.quality and self.minutes is not None else None
        return TrainConfig(
            minutes=self.minutes,
            steps=self.steps,
            device=self.device,
            seed=self.seed,
            threads=self.threads,
            quality_every=every,
        )  # the rest: the family's defaults

    def progress(self) -> float:
        """How much of its budget the family has trained (0 to 1), read from the last row of the
        metrics.csv it is writing (step and training seconds are its first and third columns)."""
        try:
            with open(self.staging / "metrics.csv", "rb") as fh:
                fh.seek(0, os.SEEK_END)
                fh.seek(max(0, fh.tell() - 4096))
                lines = fh.read().decode("utf-8", "replace").split("\n")[:-1]  # complete lines only
            step, _, seconds = lines[-1].split(",")[:3]
            done = float(step) / self.steps if self.steps else float(seconds) / (self.minutes * 60)
        except (OSError, IndexError, ValueError, ZeroDivisionError, TypeError):
            return 0.0
        return min(1.0, max(0.0, done))

    def budget_words(self) -> str:
        return f"{self.minutes:g} minute(s)" if self.minutes is not None else f"{self.steps} step(s)"

    def kept(self) -> bool:
        """Whether OUT/runs/NAME is a finished run of this very request (kept, not retrained);
        GenlabError when the folder holds anything else."""
        from genlab.core.config import to_dict
        from genlab.train import runs

        d = self.final
        if not d.exists() or (d.is_dir() and not any(d.iterdir())):
            return False
        try:
            config = runs.read_config(d)
        except GenlabError:
            config = None
        wanted = to_dict(self.train_config())
        same = (
            config is not None
            and (d / runs.WEIGHTS).is_file()
            and config["model"] == self.name
            and config["data"] == self.data
            and all(config["train"].get(k) == wanted[k] for k in ("minutes", "steps", "seed", "quality_every"))
            and config["model_config"].get("conditional", False) == self.conditional
        )
        if not same:
            raise GenlabError(f"{d} already holds files; choose a new --out, or compare existing runs with --runs")
        return True


def train_family(request: TrainRequest, say: Callable[[str], None]) -> None:
    """Train one family into its staging folder and move it into place when it has finished; the
    staging folder goes whatever stops it."""
    from functools import partial

    from genlab import train
    from genlab.core.config import DataConfig
    from genlab.metrics.probe import quality_probe

    shutil.rmtree(request.staging, ignore_errors=True)
    cfg = request.train_config()
    say(f"training {request.name} on {request.data['data']} for {request.budget_words()} -> {request.final}")
    try:
        trainer = train.start(
            request.name,
            request.model_values,
            DataConfig(**request.data),
            cfg,
            request.staging,
            quiet=request.quiet,
            typed={"minutes", "steps", "device", "seed", "threads", "quality_every"},
            probe=partial(quality_probe, quiet=request.quiet),
        )
        request.staging.rename(request.final)
    except BaseException:
        shutil.rmtree(request.staging, ignore_errors=True)
        raise
    c = trainer.counters
    say(f"trained {request.name}: {c.step} steps, {c.epoch} epochs, {c.seconds:.0f} s")


def write_stats(run: Path, wall_seconds: float, cpu_seconds: float, slots: int) -> dict:
    from genlab.core.fsutil import atomic_write_text

    stats = {"wall_seconds": round(wall_seconds, 3), "cpu_seconds": round(cpu_seconds, 3), "jobs": slots}
    atomic_write_text(run / STATS, json.dumps(stats) + "\n")
    return stats


def read_stats(run: Path) -> dict:
    """The wall and CPU seconds of the job that trained `run` ({} for a run a compare did not train)."""
    try:
        stats = json.loads((Path(run) / STATS).read_text(encoding="utf-8"))
        return {k: float(stats[k]) for k in ("wall_seconds", "cpu_seconds")}
    except (OSError, ValueError, KeyError, TypeError):
        return {}


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def train_all(
    requests: list[TrainRequest], slots: int, say: Callable[[str], None], quiet: bool
) -> tuple[dict[str, dict], list[Failure]]:
    """Train every family not already finished (see `TrainRequest.kept`), `slots` at once; returns
    each finished family's job figures ({name: {wall_seconds, cpu_seconds, ...}}) and the failures."""
    out = Path(requests[0].out) if requests else None
    kept = [r.name for r in requests if r.kept()]  # refuses foreign folders before anything runs
    if out is not None:
        for stale in (out / "runs").glob(".*.new"):  # what a killed compare left
            shutil.rmtree(stale, ignore_errors=True)
    stats: dict[str, dict] = {}
    for name in kept:
        say(
            f"keeping {out / 'runs' / name}: trained by an earlier compare with these settings (delete it to "
            f"train it again)"
        )
        stats[name] = {**read_stats(out / "runs" / name), "kept": True}
    todo = [r for r in requests if r.name not in kept]
    failures: list[Failure] = []
    if len(todo) <= 1 or slots <= 1:
        for r in todo:
            wall, cpu = time.monotonic(), cpu_seconds()
            failure = in_process(r.name, "training", lambda: train_family(r, say), say)
            wall, cpu = time.monotonic() - wall, cpu_seconds() - cpu
            if failure:
                failure.wall_seconds, failure.cpu_seconds = round(wall, 3), round(cpu, 3)
                failures.append(failure)
            else:
                stats[r.name] = write_stats(r.final, wall, cpu, 1)
        return stats, failures
    from genlab.core import jobs

    def done(result: jobs.Result) -> None:
        if result.ok and (Path(out) / "runs" / result.name).is_dir():
            stats[result.name] = write_stats(out / "runs" / result.name, result.wall_seconds, result.cpu_seconds, slots)
        else:
            failures.append(_failure(result, "training"))

    work = [
        jobs.Job(
            r.name, [sys.executable, "-m", "genlab.report.family_worker", "train", json.dumps(asdict(r))], cost=r.cost
        )
        for r in todo
    ]
    total = (
        f"{sum(r.minutes for r in todo):g} training minute(s)"
        if all(r.minutes is not None for r in todo)
        else f"{sum(r.steps for r in todo)} training steps"
    )
    by_name = {r.name: r for r in todo}
    try:
        _side_by_side(
            work,
            slots,
            f"training {len(work)} families ({total}), {min(slots, len(work))} at once",
            say,
            quiet,
            done,
            measure=lambda name: by_name[name].progress(),
        )
    except BaseException:
        for r in todo:  # the children have ended: what they left half-made goes
            shutil.rmtree(r.staging, ignore_errors=True)
        raise
    return stats, failures


def evaluate_side_by_side(
    targets: list[tuple[str, Path, float]], options: dict, slots: int, say: Callable[[str], None], quiet: bool
) -> tuple[dict[str, dict], list[Failure]]:
    """Evaluate the runs `targets` ([(label, run folder, cost)]) in child processes, `slots` at once;
    returns each family's report piece ({label: Entry as JSON}) and the failures."""
    from genlab.core import jobs

    pieces = Path(options["out"]) / PIECES
    shutil.rmtree(pieces, ignore_errors=True)
    pieces.mkdir(parents=True)
    found: dict[str, dict] = {}
    failures: list[Failure] = []

    def done(result: jobs.Result) -> None:
        path = pieces / f"{result.name}.json"
        if result.ok and path.is_file():
            found[result.name] = json.loads(path.read_text(encoding="utf-8"))
            found[result.name]["evaluation"] = {
                "wall_seconds": round(result.wall_seconds, 3),
                "cpu_seconds": round(result.cpu_seconds, 3),
            }
        else:
            failures.append(_failure(result, "evaluation"))

    work = [
        jobs.Job(
            label,
            [
                sys.executable,
                "-m",
                "genlab.report.family_worker",
                "evaluate",
                json.dumps({**options, "label": label, "run": str(run)}),
            ],
            cost=cost,
        )
        for label, run, cost in targets
    ]
    try:
        _side_by_side(
            work, slots, f"evaluating {len(work)} families, {min(slots, len(work))} at once", say, quiet, done
        )
    finally:
        shutil.rmtree(pieces, ignore_errors=True)
    return found, failures


def in_process(label: str, stage: str, work: Callable[[], None], say: Callable[[str], None]) -> Failure | None:
    """Run one family's `work` here; its failure (not Ctrl-C) is recorded, the others go on."""
    try:
        work()
    except GenlabError as exc:
        say(f"{label} failed in {stage}: {exc}")
        return Failure(label, stage, str(exc), user_error=True)
    except OSError as exc:
        where = f"{exc.filename}: " if exc.filename else ""
        say(f"{label} failed in {stage}: {where}{exc.strerror or exc}")
        return Failure(label, stage, f"{where}{exc.strerror or exc}", user_error=True)
    except Exception as exc:  # a bug: its traceback, and the other families go on
        traceback.print_exc()
        return Failure(label, stage, f"{exc.__class__.__name__}: {exc}", user_error=False)
    return None


def _failure(result, stage: str) -> Failure:
    why = result.why().removeprefix("genlab: error: ")
    return Failure(
        result.name,
        stage,
        why,
        user_error=result.returncode == 2,
        wall_seconds=round(result.wall_seconds, 3),
        cpu_seconds=round(result.cpu_seconds, 3),
    )


def _side_by_side(
    work: list,
    slots: int,
    what: str,
    say: Callable[[str], None],
    quiet: bool,
    done: Callable,
    measure: Callable[[str], float] | None = None,
) -> None:
    """core/jobs.py's run_jobs, with the whole job's progress: a tqdm bar on a terminal, else a line
    every LINE_SECONDS. `measure(name)`: how far a running job is (0 to 1), its share weighted by
    its cost; without it only finished jobs count."""
    from tqdm import tqdm

    from genlab.core import jobs, progress

    weight = {j.name: (j.cost if measure else 1.0) or 1.0 for j in work}
    total = sum(weight.values())
    started: set[str] = set()
    finished: set[str] = set()
    say(what)
    title = what.split(" (")[0].split(",")[0]
    shape = (
        "{desc}: {percentage:3.0f}%|{bar}| {elapsed} elapsed, about {remaining} left"
        if measure
        else "{desc}: {n_fmt}/{total_fmt} done|{bar}| {elapsed}"
    )
    bar = progress.bar(
        total=round(total) if measure else len(work),
        quiet=quiet,
        desc=title,
        bar_format=shape,
        leave=False,
        dynamic_ncols=True,
    )
    checked = [0.0, time.monotonic()]  # when the running jobs were last measured; when the last log line went out

    def tell(line: str) -> None:
        if bar.disable:
            say(line)
        else:
            with tqdm.external_write_mode(file=sys.stdout):
                say(line)

    def share() -> float:
        return sum(weight[n] * (1.0 if n in finished else measure(n) if measure else 0.0) for n in started)

    def tick() -> None:
        now = time.monotonic()
        if now - checked[0] < 1.0:  # a metrics.csv read per running job, once a second
            return
        checked[0] = now
        if not bar.disable:
            bar.update(max(0, min(round(share()) if measure else len(finished), bar.total) - bar.n))
        elif not quiet and now - checked[1] >= LINE_SECONDS:
            checked[1] = now
            say(
                f"{title}: {len(finished)} of {len(work)} done, {len(started) - len(finished)} running"
                + (f", {100 * share() / total:.0f}% of the budget trained" if measure and total else "")
            )

    def on_done(result) -> None:
        finished.add(result.name)
        done(result)
        if not result.ok:
            tell(f"[{result.name}] failed: {result.why().removeprefix('genlab: error: ')}")
        checked[0] = 0.0

    try:
        jobs.run_jobs(work, slots, say=tell, on_done=on_done, on_start=lambda j: started.add(j.name), tick=tick)
    finally:
        bar.close()
