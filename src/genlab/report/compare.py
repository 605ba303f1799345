"""`genlab compare`: train several families on the same data under the same wall-clock budget (or
take given runs), evaluate them in one feature space, and write DIR/report.html + DIR/metrics.json.

The families train side by side, then are evaluated side by side, one child process each and as
many at once as `--jobs` (default: the cores); families.py runs them, and a family that fails is
named in the report while the others go on. DIR/runs/NAME holds each trained run (usable with every
other command); DIR/pictures/ the PNGs (and, for sound, the WAVs) the page embeds. The page itself
needs nothing beside it.

This module is the order of the work (check, train, evaluate, write); evaluation.py evaluates a run
into its Entry (entry.py), pictures.py draws its pictures, words.py says what the figures mean, and
compare_page.py lays out the page (with html.py's self-contained pieces).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Callable

import torch

from genlab.core.config import DataConfig, to_dict
from genlab.core.errors import GenlabError
from genlab.core.fsutil import atomic_write_text
from genlab.data import Dataset, load_dataset
from genlab.metrics.features import feature_space
from genlab.models import REGISTRY
from genlab.models.base import takes_labels
from genlab.report import families as family_jobs
from genlab.report.evaluation import evaluate_all, shown_path
from genlab.report.pictures import quality_picture, reference_clips
from genlab.report.words import budget_words, memorization_words
from genlab.train import runs


def kinds_of(name: str) -> tuple[str, ...]:
    return REGISTRY[name].kinds()


def check_families(names: list[str], data: Dataset, conditional: bool = False) -> None:
    unknown = [n for n in names if n not in REGISTRY]
    if unknown:
        raise GenlabError(
            f"no model family {', '.join(unknown)} in this genlab; the registered families are "
            f"{', '.join(sorted(REGISTRY))}"
        )
    wrong = [n for n in names if data.kind not in kinds_of(n)]
    if wrong:
        raise GenlabError(
            f"{', '.join(wrong)} cannot train on {data.spec}, which holds {data.kind} data; "
            f"families for it: {', '.join(default_families(data)) or 'none'}"
        )
    if conditional:
        if data.train_labels is None or len(torch.unique(data.train_labels)) < 2:
            raise GenlabError(
                f"--conditional needs class labels, and {data.spec} has none; compare without --conditional"
            )
        plain = [n for n in names if not takes_labels(REGISTRY[n])]
        if plain:
            raise GenlabError(
                f"{', '.join(plain)} cannot train class-conditional; families that can: "
                f"{', '.join(default_families(data, True)) or 'none'}"
            )


def default_families(data: Dataset, conditional: bool = False) -> list[str]:
    return [n for n in sorted(REGISTRY) if data.kind in kinds_of(n) and (takes_labels(REGISTRY[n]) or not conditional)]


class CompareFailed(GenlabError):
    """Some families failed; the report holds the others. Exit code 2 when every failure was a user
    error (data, options), else 1 (a bug)."""

    def __init__(self, message: str, exit_code: int):
        super().__init__(message)
        self.exit_code = exit_code


def compare(
    out: str | Path,
    data_cfg: DataConfig | None = None,
    families: list[str] | None = None,
    run_dirs: list[str] | None = None,
    minutes: float | dict[str, float] | None = 1.0,
    n: int = 1000,
    seeds: int = 1,
    iwae_k: int = 100,
    limit: int | None = None,
    seed: int = 0,
    device: str = "cpu",
    quiet: bool = False,
    say: Callable[[str], None] = print,
    features: str = "domain",
    resize: str = "tf1",
    threads: int | None = None,
    jobs: int | None = None,
    steps: int | None = None,
    conditional: bool = False,
) -> dict:
    """Train (or take) the runs, evaluate them and write the report; returns metrics.json's content.
    `minutes`: every family's training budget, or each family's ({name: minutes}, the demo's split);
    `steps`: a budget of optimisation steps instead (the same weights however busy the machine);
    `jobs`: families trained and evaluated side by side (default: the cores; 1: one after another
    in this process); `conditional`: train the class-conditional model of every family. A family that
    fails is named in the report, and CompareFailed is raised after it."""
    from genlab.core.jobs import default_slots
    from genlab.report.compare_page import render_report
    from genlab.train.trainer import resolve_device

    out = Path(out)
    if out.exists() and not out.is_dir():
        raise GenlabError(f"--out {out} is a file; give a folder for the report")
    if len(set(families or [])) < len(families or []) or len(set(map(str, run_dirs or []))) < len(run_dirs or []):
        raise GenlabError("a family or run is named twice; name each once")
    if jobs is not None and jobs < 1:
        raise GenlabError(f"--jobs must be at least 1, not {jobs}")
    slots = jobs or default_slots()
    failures: list[family_jobs.Failure] = []
    job_figures: dict[str, dict] = {}
    budgets: dict[str, float] | None = None
    if run_dirs:
        if families or conditional:
            raise GenlabError(
                "give --models (train them now) or --runs (compare trained runs), not both; --runs "
                "are compared as they were trained (leave out --conditional)"
            )
        loaded = [runs.load(r, device=resolve_device(device)) for r in run_dirs]
        specs = {json.dumps(r.config["data"], sort_keys=True) for r in loaded}
        if len(specs) > 1:
            raise GenlabError(
                "the runs were trained on different data ("
                + "; ".join(f"{r.path}: {r.config['data']['data']}" for r in loaded)
                + "); compare runs of one data set"
            )
        data = loaded[0].dataset()
        targets = [(r.path, r.config, r.step) for r in loaded]
    else:
        data_cfg = data_cfg or DataConfig()
        if steps is not None:
            if steps < 1:
                raise GenlabError("--steps must be at least 1")
            minutes = None
        elif any(m is None or not m > 0 for m in (minutes.values() if isinstance(minutes, dict) else [minutes])):
            raise GenlabError("--minutes must be above 0")
        data = load_dataset(
            data_cfg.data, image_size=data_cfg.image_size, channels=data_cfg.channels, sample_rate=data_cfg.sample_rate
        )
        families = families or default_families(data, conditional)
        check_families(families, data, conditional)
        if isinstance(minutes, dict) and set(families) - set(minutes):
            raise GenlabError(f"no training budget for {', '.join(sorted(set(families) - set(minutes)))}")
        if minutes is not None:
            budgets = {name: minutes[name] if isinstance(minutes, dict) else minutes for name in families}
        quality = data.kind in ("image", "points") and steps is None
        _check_features(features, n, data)
        if data.kind == "image" and (quality or n > 0 and features == "domain"):
            feature_space(data, quiet=quiet)  # trained once here, so the families' children read it from the cache
        say(
            f"genlab compare: {len(families)} famil{'y' if len(families) == 1 else 'ies'} "
            f"({', '.join(families)}), "
            + (budget_words(budgets) if budgets else f"each family trained for {steps} step(s)")
        )
        requests = [
            family_jobs.TrainRequest(
                name,
                str(out),
                to_dict(data_cfg),
                budgets[name] if budgets else None,
                steps,
                seed,
                device,
                threads,
                quality,
                quiet,
                conditional,
            )
            for name in families
        ]
        job_figures, failures = family_jobs.train_all(requests, slots, say, quiet)
        targets = [(r.final, runs.read_config(r.final), 0) for r in requests if r.name in job_figures]
    labels = _labels([(path, config) for path, config, _ in targets])
    options = {
        "out": str(out),
        "n": n,
        "seeds": seeds,
        "iwae_k": iwae_k,
        "limit": limit,
        "seed": seed,
        "device": device,
        "quiet": quiet,
        "features": features,
        "resize": resize,
        "threads": threads,
    }
    entries, evaluation_failures = evaluate_all(labels, targets, data, options, slots, budgets, say)
    failures += evaluation_failures
    space_name = next((e.report["features"] for e in entries if "features" in e.report), None)
    metrics = {
        "data": data.spec,
        "kind": data.kind,
        "split": data.split_note,
        "budget_minutes": None if run_dirs else budgets,
        **({"budget_steps": steps} if steps is not None and not run_dirs else {}),
        "features": space_name if n > 0 and data.kind in ("image", "points") else None,
        "n": n,
        "seeds": [seed + i for i in range(seeds)],
        "jobs": min(slots, max(1, len(targets))),
        "created": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "models": {
            e.label: {
                "family": e.config["model"],
                "run": shown_path(e.path, out),
                "model_config": e.config["model_config"],
                "training": e.training,
                **e.report,
            }
            for e in entries
        },
        **(
            {
                "failed": {
                    f.label: {
                        "stage": f.stage,
                        "why": f.why,
                        "user_error": f.user_error,
                        "wall_seconds": f.wall_seconds,
                        "cpu_seconds": f.cpu_seconds,
                    }
                    for f in failures
                }
            }
            if failures
            else {}
        ),
    }
    atomic_write_text(out / "metrics.json", json.dumps(metrics, indent=2) + "\n")
    quality_plot = quality_picture(entries, out / "pictures")
    sound = data.kind == "audio"  # no copying figures for sound; the test clips to listen to instead
    words = [] if sound else memorization_words(entries)
    reference = reference_clips(data, out / "pictures") if sound else []
    atomic_write_text(
        out / "report.html", render_report(metrics, entries, words, [quality_plot] if quality_plot else [], reference)
    )
    say(f"wrote {out / 'report.html'} (open it in a browser) and {out / 'metrics.json'}")
    if failures:
        raise CompareFailed(
            f"{len(failures)} of {len(failures) + len(entries)} famil"
            f"{'y' if len(failures) + len(entries) == 1 else 'ies'} failed: "
            + "; ".join(f.words() for f in failures)
            + f"; {out / 'report.html'} holds the others",
            2 if all(f.user_error for f in failures) else 1,
        )
    return metrics


def _check_features(features: str, n: int, data: Dataset) -> None:
    """Refuse, before any training, Inception features that are not in the cache."""
    if features == "inception" and n > 0 and data.kind == "image":
        from genlab.metrics.inception_weights import MISSING, weights_path

        if not weights_path().is_file():
            raise GenlabError(MISSING)


def _labels(trained: list[tuple[Path, dict]]) -> list[str]:
    """Each run's label: its family, or family-FOLDER where one family appears twice."""
    names = [config["model"] for _, config in trained]
    return [name if names.count(name) == 1 else f"{name}-{Path(path).name}" for (path, _), name in zip(trained, names)]
