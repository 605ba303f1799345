"""Extras a model's training writes beyond the generic ones (sample grid, metrics, loss curve).

`epoch_hooks(trainer)` returns the callables run after every epoch, `fit_end_hooks(trainer)` those
run once when training stops; each takes the Trainer (its model, data, run folder, counters).
Add a family's pictures here (e.g. the GAN's 2-D frames) instead of teaching the model about files.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Callable

if TYPE_CHECKING:
    from genlab.train.trainer import Trainer

Hook = Callable[["Trainer"], None]


def epoch_hooks(trainer: "Trainer") -> list[Hook]:
    return []


def fit_end_hooks(trainer: "Trainer") -> list[Hook]:
    return []
