"""Extras a model's training writes beyond the generic ones (sample grid, metrics, loss curve).

`epoch_hooks(trainer)` returns the callables run after every epoch, `fit_end_hooks(trainer)` those
run once when training stops; each takes the Trainer (its model, data, run folder, counters). An
epoch hook may return a dict of figures: they join the epoch's test row of metrics.csv.
A family's pictures live in its own module (genlab.gan_viz for the GAN), imported only when needed.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Callable

if TYPE_CHECKING:
    from genlab.train.trainer import Trainer

Hook = Callable[["Trainer"], "dict[str, float] | None"]


def epoch_hooks(trainer: "Trainer") -> list[Hook]:
    if trainer.model.name == "gan":
        from genlab import gan_viz

        return gan_viz.epoch_hooks(trainer)
    if trainer.model.name == "gmm":
        from genlab import gmm_viz

        return [gmm_viz.epoch_picture]
    return []


def fit_end_hooks(trainer: "Trainer") -> list[Hook]:
    if trainer.model.name == "gan":
        from genlab import gan_viz

        return gan_viz.fit_end_hooks(trainer)
    if trainer.model.name == "gmm":
        from genlab import gmm_viz

        return [gmm_viz.final_pictures]
    return []
