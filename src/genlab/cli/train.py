"""`genlab train` (and `--resume`): build or continue a run, in one process or N under torchrun."""

from __future__ import annotations

import argparse
from functools import partial
from pathlib import Path

from genlab import train
from genlab.cli.args import say, train_args
from genlab.core.config import DataConfig, TrainConfig
from genlab.metrics.probe import quality_probe
from genlab.train import distributed, processes, runs


def cmd_train(ns: argparse.Namespace) -> None:
    data_values, train_values, model_values = train_args(ns)
    out = Path(ns.out)
    if not ns.resume and distributed.rank() == 0:
        runs.check_new_run(out)  # before torchrun starts N processes that would each refuse it
    nproc = train_values.get("nproc", 1)
    if processes.is_auto(nproc) and not distributed.launched():
        if ns.resume:  # the run's own data, model and budget settings decide
            config = runs.read_config(out)
            nproc, why = processes.resolve(
                config["model"],
                config["model_config"],
                DataConfig(**config["data"]),
                TrainConfig(**{**config["train"], **train_values}),
                set(config["train"]),
            )
        else:
            nproc, why = processes.resolve(
                ns.model, model_values, DataConfig(**data_values), TrainConfig(**train_values), set(train_values)
            )
        say(f"--nproc auto: {nproc} process{'es' * (nproc > 1)} ({why})")
    if nproc > 1 and not distributed.launched():
        distributed.launch(ns.argv, nproc)  # N copies of this command under torchrun
        return
    probe = partial(quality_probe, quiet=ns.quiet)  # features on the CPU: samples come back there
    if ns.resume:
        trainer = train.resume(
            out, {**train_values, **data_values, **model_values}, quiet=ns.quiet, model_name=ns.model, probe=probe
        )
    else:
        trainer = train.start(
            ns.model,
            model_values,
            DataConfig(**data_values),
            TrainConfig(**train_values),
            out,
            quiet=ns.quiet,
            typed=set(train_values),
            probe=probe,
        )
    if not trainer.group.main:
        return
    c = trainer.counters
    early = "; stopped early: training has converged" if trainer.model.converged else ""
    say(
        f"trained {ns.model} for {c.epoch} epochs ({c.step} steps, {c.seconds:.0f} s{early}); run in {out}/ "
        f"(samples/, loss.png, metrics.csv)"
    )
    trainer.model.after_training(out, lambda: runs.load(out).dataset(), say)  # a family's pictures of the finished run
