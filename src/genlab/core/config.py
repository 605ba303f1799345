"""Typed configs: one dataclass per model plus training and data options.

Each field carries its default and its help text; the CLI generates its flags from these, so no
option is listed twice.
"""

from __future__ import annotations

import argparse
import dataclasses
import typing
from dataclasses import dataclass, field
from typing import Any


def opt(
    default: Any,
    help: str,
    choices: tuple | None = None,
    flag: bool = True,
    before: Any = dataclasses.MISSING,
    parse: Any = None,
) -> Any:
    """A config field: default value plus the one-line help the CLI shows. `flag=False`: a value
    genlab fills in itself (saved in config.json, not a command-line option). `before`: the value
    that runs saved before the option existed had (their config.json lacks it), when it is not
    the default: `read_config` fills it in, so old runs load as they were trained. `parse`: the
    flag's text -> value, where the field's type alone cannot read it (`--nproc auto`)."""
    metadata = {"help": help, "choices": choices, "flag": flag, "parse": parse}
    if before is not dataclasses.MISSING:
        metadata["before"] = before
    return field(default=default, metadata=metadata)


def values_before(cls: type) -> dict[str, Any]:
    """Field name -> the value runs saved before the field existed had, for fields that declare one."""
    return {f.name: f.metadata["before"] for f in dataclasses.fields(cls) if "before" in f.metadata}


def field_types(cls: type) -> dict[str, type]:
    """Field name -> plain Python type (int/float/str/bool), unwrapping `X | None`."""
    hints = typing.get_type_hints(cls)
    out = {}
    for f in dataclasses.fields(cls):
        t = hints[f.name]
        args = [a for a in typing.get_args(t) if a is not type(None)]
        out[f.name] = args[0] if args else t
    return out


def to_dict(cfg: Any) -> dict[str, Any]:
    return dataclasses.asdict(cfg)


AUTO_PROCESSES = 0  # `--nproc auto`: as many processes as the cores give a network too small for threads


def process_count(text: str) -> int:
    """`--nproc N` (N >= 1) or `--nproc auto` (AUTO_PROCESSES)."""
    if text.strip().lower() == "auto":
        return AUTO_PROCESSES
    if text.strip().isdigit() and int(text) >= 1:
        return int(text)
    raise argparse.ArgumentTypeError(f"{text!r} is neither a count of at least 1 nor 'auto'")


@dataclass
class DataConfig:
    data: str = opt(
        "mnist5k", "data spec: digits, mnist5k, toy:NAME, patches:NAME, emoji, or a path (see `genlab data`)"
    )
    image_size: int | None = opt(None, "resize images to SIZE x SIZE")
    channels: int | None = opt(None, "1 = grey, 3 = RGB (default: as the data is)", (1, 3))
    sample_rate: int = opt(16000, "sound: the rate in Hz every .wav is converted to (WaveNet; ignored for images)")


@dataclass
class TrainConfig:
    epochs: int | None = opt(None, "number of passes over the training split (default 10 unless --minutes)")
    minutes: float | None = opt(None, "wall-clock budget in minutes (total, across resumes)")
    batch_size: int = opt(128, "images per optimisation step")
    steps: int | None = opt(None, "number of optimisation steps (instead of --epochs or --minutes)")
    lr: float = opt(1e-3, "Adam learning rate")
    lr_schedule: str = opt(
        "constant",
        "linear: hold --lr for the first 10%% of the budget (--steps, --epochs, or "
        "the steps --minutes allows, measured), then decay it to 0 at the end",
        ("constant", "linear"),
    )
    seed: int = opt(0, "seed for weights, batch order and noise; the same seed gives the same run")
    device: str = opt("auto", "auto picks cuda when available", ("auto", "cpu", "cuda"))
    save_every: float = opt(30.0, "seconds between checkpoints (one is always saved when training ends)")
    log_every: int = opt(10, "steps between rows of metrics.csv")
    tensorboard: bool = opt(False, "also log to RUN/tensorboard (needs the tensorboard package)")
    nproc: int = opt(
        1,
        "train in N processes on this machine (torchrun + DistributedDataParallel; "
        "--batch-size is the total over them); auto: one per core the thread policy leaves idle, "
        "on a CPU, when the network is too small for threads (see docs/scale.md)",
        parse=process_count,
    )
    precision: str = opt(
        "fp32",
        "bf16: autocast matrix products and convolutions to bfloat16 (for GPUs; on CPU it runs but is rarely faster)",
        ("fp32", "bf16"),
    )
    compile: bool = opt(False, "torch.compile the networks (needs a C++ compiler on CPU, triton on CUDA)")
    workers: int = opt(
        2,
        "data streamed from a pack (`genlab data SPEC --pack DIR`): DataLoader processes reading "
        "batches ahead; 0 reads them in the training process (in-memory data ignores it)",
    )
    quality_every: float | None = opt(
        None,
        "seconds of training between sample-quality rows in metrics.csv (FID of "
        "a few hundred samples in the data's feature space; images and points)",
    )
    threads: int | None = opt(
        None,
        "torch threads per process (default: chosen from the cores this process may "
        "use, the processes sharing them and the work of a step; see docs/threads.md)",
    )
