"""What the verbs share: the flags a user typed, checks of numbers, printing, JSON output, the run."""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path
from typing import Any

from genlab.core.config import DataConfig, TrainConfig
from genlab.core.errors import GenlabError
from genlab.core.fsutil import atomic_write_text
from genlab.models import Capability
from genlab.train import runs


def say(text: str) -> None:
    print(text, flush=True)


def positive(name: str, value: int, most: int = 100_000) -> int:
    if not 1 <= value <= most:
        raise GenlabError(f"--{name} must be between 1 and {most}, not {value}")
    return value


def load_run(ns: argparse.Namespace) -> runs.LoadedRun:
    from genlab.train.trainer import resolve_device

    return runs.load(ns.run, device=resolve_device(ns.device))


def _pick(ns: argparse.Namespace, cls: type) -> dict[str, Any]:
    return {f.name: getattr(ns, f.name) for f in dataclasses.fields(cls) if hasattr(ns, f.name)}


def train_args(ns: argparse.Namespace) -> tuple[dict, dict, dict]:
    """Split a `train` namespace into (data, training, model) values the user typed."""
    from genlab.models import model_class

    return _pick(ns, DataConfig), _pick(ns, TrainConfig), _pick(ns, model_class(ns.model).Config)


def data_args(ns: argparse.Namespace) -> dict:
    """The data flags (DataConfig fields) the user typed."""
    return _pick(ns, DataConfig)


def write_json(path: str | Path, payload: dict) -> None:
    atomic_write_text(path, json.dumps(payload, indent=2) + "\n")


def class_label(run: runs.LoadedRun, label: str) -> int:
    """`--label NAME` or `--label K`, checked against the run: it must be class-conditional and know the
    class. A class name (as the data names it, recorded at training time) wins over a number."""
    if not run.model.can(Capability.CONDITIONAL):
        raise GenlabError(f"--label needs a class-conditional run (train with --conditional); {run.path} is not one")
    classes = run.model.label_count
    names = run.label_names or []
    if label in names:
        return names.index(label)
    if label.strip().lstrip("-").isdigit() and 0 <= int(label) < classes:
        return int(label)
    known = f" or their names {', '.join(names)}" if names else ""
    raise GenlabError(f"--label {label}: {run.path} knows classes 0 to {classes - 1}{known}")
