"""`genlab train` (and `--resume`): build or continue a run, in one process or N under torchrun."""
from __future__ import annotations

import argparse
from functools import partial
from pathlib import Path

from genlab import train
from genlab.cli.args import say, train_args
from genlab.core.config import DataConfig, TrainConfig
from genlab.metrics.probe import quality_probe
from genlab.train import distributed, runs


def cmd_train(ns: argparse.Namespace) -> None:
    data_values, train_values, model_values = train_args(ns)
    out = Path(ns.out)
    if not ns.resume and distributed.rank() == 0 and (out / runs.CONFIG).exists():
        runs.prepare_new_run(out)  # refuses: the folder holds a run
    if train_values.get("nproc", 1) > 1 and not distributed.launched():
        distributed.launch(ns.argv, train_values["nproc"])  # N copies of this command under torchrun
        return
    probe = partial(quality_probe, quiet=ns.quiet)  # features on the CPU: samples come back there
    if ns.resume:
        trainer = train.resume(out, {**train_values, **data_values, **model_values}, quiet=ns.quiet,
                               model_name=ns.model, probe=probe)
    else:
        trainer = train.start(ns.model, model_values, DataConfig(**data_values), TrainConfig(**train_values),
                              out, quiet=ns.quiet, typed=set(train_values), probe=probe)
    if not trainer.group.main:
        return
    c = trainer.counters
    early = "; stopped early: training has converged" if trainer.model.converged else ""
    say(f"trained {ns.model} for {c.epoch} epochs ({c.step} steps, {c.seconds:.0f} s{early}); run in {out}/ "
         f"(samples/, loss.png, metrics.csv)")
    trainer.model.after_training(out, lambda: runs.load(out).dataset(), say)  # a family's pictures of the finished run
