"""A compare's evaluation: each run's figures (metrics/evaluate.py) and pictures (pictures.py) as the
report's Entry, side by side in child processes (families.py) or one after another in this one."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Callable

from genlab import viz
from genlab.core.fsutil import atomic_write_text
from genlab.data import Dataset
from genlab.metrics.evaluate import evaluate
from genlab.metrics.spaces import named_space
from genlab.report import families as family_jobs
from genlab.report.entry import Entry
from genlab.report.pictures import run_pictures
from genlab.train import runs


def training_summary(run: runs.LoadedRun | Path, step: int = 0) -> dict:
    """Epochs, steps and seconds from the run's metrics.csv (its last row), its sample-quality rows
    (--quality-every) as [training seconds, FID] pairs, and the wall and CPU seconds of the job that
    trained it when a compare did (families.STATS). `run`: a loaded run, or a run folder."""
    path, step = (run.path, run.step) if isinstance(run, runs.LoadedRun) else (Path(run), step)
    csv = path / "metrics.csv"
    rows = viz.read_metrics(csv) if csv.is_file() else []
    job = family_jobs.read_stats(path)
    if not rows:
        return {"steps": step, **job}
    last = rows[-1]
    quality = [[float(r["seconds"]), float(r["fid"])] for r in rows if r["split"] == "test" and r.get("fid")]
    return {
        "steps": int(last["step"]),
        "epochs": float(last["epoch"]),
        "seconds": float(last["seconds"]),
        **job,
        **({"quality": quality} if quality else {}),
    }


def evaluate_all(
    labels: list[str],
    targets: list[tuple[Path, dict, int]],
    data: Dataset,
    options: dict,
    slots: int,
    budgets: dict[str, float] | None,
    say: Callable[[str], None],
) -> tuple[list[Entry], list]:
    """Every run's Entry, in the order given: side by side in child processes with several slots,
    else one after another here (sharing the data and the feature space); and the failures."""
    if slots > 1 and len(targets) > 1:
        costs = [budgets.get(config["model"], 1.0) if budgets else 1.0 for _, config, _ in targets]
        found, failures = family_jobs.evaluate_side_by_side(
            [(label, path, cost) for label, (path, _, _), cost in zip(labels, targets, costs)],
            options,
            slots,
            say,
            options["quiet"],
        )
        entries = []
        for label in labels:
            if label in found:
                entry = Entry.from_json(found[label])
                entry.training["evaluation"] = found[label]["evaluation"]
                entries.append(entry)
        return entries, failures
    from genlab.train.trainer import resolve_device

    device = resolve_device(options["device"])
    space = (
        named_space(options["features"], data, device, options["resize"], options["quiet"])
        if options["n"] > 0 and data.kind in ("image", "points") and targets
        else None
    )
    entries, failures = [], []
    for label, (path, config, step) in zip(labels, targets):
        found: list[Entry] = []
        wall, cpu = time.monotonic(), family_jobs.cpu_seconds()
        failure = family_jobs.in_process(
            label,
            "evaluation",
            lambda: found.append(evaluate_family(label, runs.load(path, device=device), data, space, options, say)),
            say,
        )
        if failure:
            failures.append(failure)
        else:
            found[0].training["evaluation"] = {
                "wall_seconds": round(time.monotonic() - wall, 3),
                "cpu_seconds": round(family_jobs.cpu_seconds() - cpu, 3),
            }
            entries.append(found[0])
    return entries, failures


def evaluate_family(
    label: str, run: runs.LoadedRun, data: Dataset, space, options: dict, say: Callable[[str], None]
) -> Entry:
    """One run's figures and pictures (written into OUT/pictures) as the report's Entry."""
    out, n, seeds, seed = Path(options["out"]), options["n"], options["seeds"], options["seed"]
    test = data.test[: options["limit"]] if options["limit"] else data.test
    say(f"evaluating {label} ({n} samples x {seeds} seed(s) against {len(test)} test items)")
    nearest = out / "pictures" / f"{label}_nearest.png"
    report = evaluate(
        run.model,
        data,
        test,
        n,
        [seed + i for i in range(seeds)],
        iwae_k=options["iwae_k"],
        seed=seed,
        picture=nearest,
        quiet=options["quiet"],
        space=space,
    )
    entry = Entry(label, run.path, run.config, report, training_summary(run))
    entry.pictures = run_pictures(entry, run, data, out / "pictures", nearest)
    if "nearest_picture" in report.get("sample_setup", {}):  # named from the report folder, which may move
        report["sample_setup"]["nearest_picture"] = shown_path(nearest, out)
    return entry


def evaluate_piece(request: dict, say: Callable[[str], None]) -> None:
    """A child's part (families.py): evaluate one run and write its Entry to OUT/.pieces/LABEL.json."""
    from genlab.train.trainer import resolve_device

    device = resolve_device(request["device"])
    run = runs.load(request["run"], device=device)
    data = run.dataset()
    space = (
        named_space(request["features"], data, device, request["resize"], request["quiet"])
        if request["n"] > 0 and data.kind in ("image", "points")
        else None
    )
    entry = evaluate_family(request["label"], run, data, space, request, say)
    atomic_write_text(
        Path(request["out"]) / family_jobs.PIECES / f"{request['label']}.json", json.dumps(entry.as_json()) + "\n"
    )


def shown_path(path: Path, out: Path) -> str:
    """A run's path as the report names it: relative to the report folder when inside it (so the
    folder can be moved), else as given."""
    try:
        return str(Path(path).resolve().relative_to(out.resolve()))
    except ValueError:
        return str(path)
