"""`--nproc auto`: how many data-parallel training processes one run gets on this machine.

The thread policy (`genlab.core.threads`) gives a small network one thread, since more make its
step slower; a lone `genlab train` then leaves every other core idle. Processes do not split a
step into pieces too small to pay for themselves: each computes the gradient of its share of the
batch and DDP sums them once per step (docs/scale.md). So `auto` is

    processes = min(cores / threads the policy gives one process, batch size / MIN_SHARE)

at least 1, on a CPU, for a family that trains by gradient steps; 1 on a GPU (one process per GPU
is what `--nproc N` is for) and for whole-split fits (EM). The cores are those this process may use,
divided among the jobs started beside it (`compare --jobs`), as the thread policy counts them.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from genlab.core import threads
from genlab.core.config import AUTO_PROCESSES, DataConfig, TrainConfig
from genlab.models import model_class

MIN_SHARE = 8  # items of the batch each process must get: smaller shares leave it waiting on the all-reduce


def count(threads_per_process: int, cores: int, batch_size: int) -> int:
    """The processes `auto` starts for these figures (see the module docstring)."""
    return max(1, min(cores // max(1, threads_per_process), batch_size // MIN_SHARE))


def resolve(
    model_name: str, model_values: dict[str, Any], data_cfg: DataConfig, train_cfg: TrainConfig, typed: set[str]
) -> tuple[int, str]:
    """(processes, why) for a new run whose --nproc is `auto`: builds the model on the data as
    training would, to count the FLOPs of one step."""
    from genlab.train.setup import _load_data, _new_model, resolve_device, settle  # training's own setup path
    from genlab.train.work import step_flops

    cls = model_class(model_name)
    if cls.full_batch:
        return 1, f"{model_name} fits on the whole split in one process"
    if resolve_device(train_cfg.device).type != "cpu":
        return 1, "one GPU per process: ask for several with --nproc N"
    cores = max(1, threads.cores() // threads.sharing())
    if cores == 1:
        return 1, "one core"
    data = _load_data(cls, data_cfg)
    model_cfg, train_cfg = settle(cls, model_values, data, train_cfg, typed)
    model = _new_model(cls, model_cfg, data, train_cfg.seed)
    batch = model.prepare(first_items(data.train, train_cfg.batch_size))
    labels = {"labels": model.prepare_labels(data.train_labels[: len(batch)])} if model.label_count else {}
    per_process = threads.requested(train_cfg.threads) or threads.choose(step_flops(model, batch, **labels), 1, cores)
    n = count(per_process, cores, train_cfg.batch_size)
    return n, (
        f"{cores} cores, {per_process} thread{'s' * (per_process > 1)} per process for this network, "
        f"batch {train_cfg.batch_size}"
    )


def first_items(split, n: int) -> torch.Tensor:
    """The first n items of a split held in memory (a tensor) or streamed from a pack (read here)."""
    if isinstance(split, torch.Tensor):
        return split[:n]
    return torch.from_numpy(split.read(np.arange(min(n, len(split)))))


def is_auto(nproc: int) -> bool:
    return nproc == AUTO_PROCESSES
