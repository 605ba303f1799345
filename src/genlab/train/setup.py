"""One path from options to a trained run, for new and resumed runs alike:

    options -> checked configs (budget, execution) -> data -> the family's defaults for that data
    -> model -> the training processes (a group of one without torchrun) -> run folder
    -> the prepared splits and labels (TrainingData, on the process's device) -> Trainer

`start` and `resume` differ only where they must: a new run makes its model from the seed and writes
config.json; a resumed one reads both back. The loop itself is in `trainer`."""

from __future__ import annotations

import hashlib
import os
import time
from dataclasses import replace
from pathlib import Path
from typing import Any, Callable

import torch

from genlab.core import threads
from genlab.core.config import DataConfig, TrainConfig, to_dict
from genlab.core.errors import GenlabError
from genlab.data import Dataset, Palette, load_dataset
from genlab.data.formats import pack
from genlab.models import GenerativeModel, model_class
from genlab.train import distributed, runs, streaming
from genlab.train.work import step_flops
from genlab.train.trainer import Trainer, resolve_device, tensorboard_writer
from genlab.train.training_data import TrainingData

Probe = Callable[[GenerativeModel], dict[str, float]]  # a model -> sample-quality figures (e.g. {"fid": ...})


def fingerprint(data: Dataset) -> str:
    """A short hash of the training split, so a resume notices when the data changed."""
    if isinstance(data, pack.PackedDataset):
        return data.fingerprint()
    h = hashlib.sha256(data.train.contiguous().numpy().tobytes())
    return h.hexdigest()[:16]


def _load_data(cls: type[GenerativeModel], data_cfg: DataConfig) -> Dataset:
    if pack.is_pack(data_cfg.data):  # streamed from disk, not loaded
        data = streaming.open_for_training(data_cfg)
    else:
        data = load_dataset(
            data_cfg.data, image_size=data_cfg.image_size, channels=data_cfg.channels, sample_rate=data_cfg.sample_rate
        )
    kinds = cls.data_kinds or (cls.data_kind,)
    if data.kind not in kinds:
        raise GenlabError(
            f"{cls.name} trains on {' or '.join(kinds)} data but {data_cfg.data} holds {data.kind} "
            f"data; pick a{'n' * (kinds[0][0] in 'aeiou')} {' or '.join(kinds)} data spec"
        )
    if len(data.train) == 0:
        raise GenlabError(f"{data_cfg.data} has no training items")
    return data


def _new_model(cls: type[GenerativeModel], model_cfg: Any, data: Dataset, seed: int) -> GenerativeModel:
    """Fresh weights from the seed; palette models fit their palette on the training pixels."""
    torch.manual_seed(seed)
    palette = None
    if cls.uses_palette and isinstance(data, pack.PackedDataset):
        palette = data.palette(model_cfg.colors, seed)  # fitted when the data was packed
    elif cls.uses_palette:
        palette = Palette.fit(data.train, model_cfg.colors, seed=seed)
    if getattr(model_cfg, "conditional", False):
        labels = data.train_labels
        if labels is None or len(torch.unique(labels)) < 2:
            raise GenlabError(
                f"--conditional needs class labels, and {data.spec} has "
                f"{'none' if labels is None else 'only one class'}; train without --conditional"
            )
        model_cfg = replace(model_cfg, label_count=int(labels.max()) + 1)
    return cls(model_cfg, data.item_shape, palette)


def _class_names(model: GenerativeModel, data: Dataset) -> dict[str, list[str]]:
    """{"label_names": the data's name of each class} for a class-conditional model whose data names
    them all, so `--label seven` can be resolved later without loading the data; else {}."""
    names = data.label_names
    if not model.label_count or not names or len(names) < model.label_count:
        return {}
    return {"label_names": [str(name) for name in names[: model.label_count]]}


def _join(model: GenerativeModel, data: Dataset, train_cfg: TrainConfig) -> distributed.Group:
    """Refuse what the processes cannot share, then join them (if torchrun started several)."""
    _check_sharing(model, len(data.train), train_cfg)
    return distributed.Group.from_env(resolve_device(train_cfg.device))


def _trainer(
    model: GenerativeModel,
    data: Dataset,
    train_cfg: TrainConfig,
    run: Path,
    quiet: bool,
    group: distributed.Group,
    probe: Probe | None = None,
) -> Trainer:
    """Move the model and the prepared data onto this process's device and build the Trainer."""
    device = group.device
    model.to(device)
    if device.type == "cuda":  # cuDNN's fastest convolutions take NHWC; only 4-D weights change
        model.to(memory_format=torch.channels_last)
    training = _training_data(model, data, device, train_cfg.workers)
    batch, labels = training.train_rows(slice(len(training.train) if model.full_batch else train_cfg.batch_size))
    threads.apply(
        train_cfg.threads,
        step_flops(model, batch, **labels),  # a first batch: what a step's cost is measured on
        processes=int(os.environ.get("LOCAL_WORLD_SIZE", 1)),
    )
    return Trainer(model, training, train_cfg, run, quiet=quiet, group=group, data_spec=data.spec, probe=probe)


def _training_data(model: GenerativeModel, data: Dataset, device: torch.device, workers: int) -> TrainingData:
    """The model's prepared splits on `device` (a pack's read as they are used) and, for a
    class-conditional model, their labels; the model's `training_mask` thins an in-memory training split."""
    train_labels = test_labels = None
    if model.label_count:
        train_labels = model.prepare_labels(data.train_labels.to(device))
        test_labels = None if data.test_labels is None else model.prepare_labels(data.test_labels.to(device))
    if isinstance(data, pack.PackedDataset):
        train, test = streaming.streamed_splits(model, data, device, workers)
        return streaming.StreamedData(train, test, train_labels, test_labels)
    train, test = model.prepare(data.train.to(device)), model.prepare(data.test.to(device))
    keep = model.training_mask(train)
    if keep is not None:  # e.g. WaveNet's silent windows: the training split only
        train = train[keep]
        train_labels = None if train_labels is None else train_labels[keep]
    return TrainingData(train, test, train_labels, test_labels)


def _check_sharing(model: GenerativeModel, n: int, train_cfg: TrainConfig) -> None:
    """Refuse, before a new run's folder is made, what several processes cannot share: a whole-split
    fit (EM), or batches too small to give every process an item."""
    world = distributed.world_size()
    if world > 1 and model.full_batch:
        raise GenlabError(
            f"{model.name} fits on the whole training split in one process; train it without --nproc / torchrun"
        )
    distributed.Group(0, world).check_batches(n, n if model.full_batch else train_cfg.batch_size)


def _check_budget(train_cfg: TrainConfig) -> None:
    """Refuse a budget, batch or rate that cannot train, for new and resumed runs alike."""
    if (
        train_cfg.epochs is not None
        and train_cfg.epochs < 1
        or train_cfg.minutes is not None
        and train_cfg.minutes <= 0
        or train_cfg.steps is not None
        and train_cfg.steps < 1
    ):
        raise GenlabError("--epochs and --steps must be at least 1 and --minutes above 0")
    if (
        sum(x is not None for x in (train_cfg.epochs, train_cfg.minutes, train_cfg.steps)) > 1
        and train_cfg.steps is not None
    ):
        raise GenlabError("--steps is a budget of its own; give it without --epochs and --minutes")
    if train_cfg.batch_size < 1 or train_cfg.lr <= 0:
        raise GenlabError("--batch-size must be at least 1 and --lr above 0")


def _check_execution(train_cfg: TrainConfig) -> None:
    """Refuse device, process, compiler and logging settings that cannot work, before any file is written."""
    if train_cfg.nproc < 0 or train_cfg.workers < 0:  # 0: auto (the launcher has chosen)
        raise GenlabError("--nproc must be at least 1 (or auto) and --workers at least 0")
    threads.requested(train_cfg.threads)  # a --threads below 1 is refused here
    device = resolve_device(train_cfg.device)
    if train_cfg.compile:
        distributed.check_compiler(device)
    if train_cfg.tensorboard:
        tensorboard_writer()
    if train_cfg.quality_every is not None and train_cfg.quality_every <= 0:
        raise GenlabError("--quality-every must be above 0 seconds")


def _probe(train_cfg: TrainConfig, build: Callable[[Dataset], Probe] | None, data: Dataset) -> Probe | None:
    """The sample-quality probe when --quality-every asks for one (rank 0 alone runs it)."""
    if train_cfg.quality_every is None or distributed.rank() != 0:
        return None
    if build is None:
        raise GenlabError(
            "--quality-every needs a sample-quality probe; the command line builds one from "
            "genlab.metrics (pass probe= to train.start / train.resume)"
        )
    return build(data)


def _fit(trainer: Trainer, resume: bool) -> Trainer:
    try:
        trainer.fit(resume=resume)
    finally:
        trainer.group.close()
    return trainer


def start(
    model_name: str,
    model_values: dict[str, Any],
    data_cfg: DataConfig,
    train_cfg: TrainConfig,
    out: str | Path,
    quiet: bool = False,
    typed: set[str] | None = None,
    probe: Callable[[Dataset], Probe] | None = None,
) -> Trainer:
    """Train a new model into the run folder `out` (refused if it holds anything).

    `probe`: with --quality-every, builds the sample-quality probe from the loaded data (the
    caller's, from `genlab.metrics`: the trainer imports no metric).

    `typed`: the TrainConfig fields the user set (the CLI's flags); every other field takes the
    model's default for the data kind (`train_defaults_for`). None: `train_cfg` is used as given."""
    out = Path(out)
    cls = model_class(model_name)
    cls.make_config(**model_values)  # unknown or ill-typed options fail before anything is loaded
    cls.check_given(model_values)
    _check_budget(train_cfg)
    _check_execution(train_cfg)
    main = distributed.rank() == 0  # only rank 0 of a distributed run writes the run folder
    if main:
        runs.check_new_run(out)  # refuses before the data is even loaded
    data = _load_data(cls, data_cfg)
    model_cfg, train_cfg = settle(cls, model_values, data, train_cfg, typed)
    quality = _probe(train_cfg, probe, data)  # before the run folder is made: it may refuse the data
    model = _new_model(cls, model_cfg, data, train_cfg.seed)
    config = {
        "model": model_name,
        "model_config": to_dict(model.config),
        "data": to_dict(data_cfg),
        "train": to_dict(train_cfg),
        "item_shape": list(data.item_shape),
        "data_fingerprint": fingerprint(data),
        "created": time.strftime("%Y-%m-%dT%H:%M:%S"),
    }
    config.update(_class_names(model, data))
    group = _join(model, data, train_cfg)
    group.check_same_data(config["data_fingerprint"], data_cfg.data)
    if main:
        runs.prepare_new_run(out)
        runs.write_config(out, config)
    return _fit(_trainer(model, data, train_cfg, out, quiet, group, quality), resume=False)


def settle(
    cls: type[GenerativeModel],
    model_values: dict[str, Any],
    data: Dataset,
    train_cfg: TrainConfig,
    typed: set[str] | None,
) -> tuple[Any, TrainConfig]:
    """(model config, training config) of a new run on `data`: what the user gave, and for the rest the
    family's defaults for this kind of data. `typed`: the TrainConfig fields the user set (None: all)."""
    if typed is not None:
        train_cfg = replace(train_cfg, **{k: v for k, v in cls.train_defaults_for(data.kind).items() if k not in typed})
    defaults = cls.model_defaults_for(data.kind, data.item_shape)  # a palette's colours on colour images
    return cls.make_config(**{**defaults, **model_values}), train_cfg


BUDGETS = ("epochs", "minutes", "steps")
RESUME_OVERRIDES = (
    "epochs",
    "minutes",
    "steps",
    "device",
    "save_every",
    "log_every",
    "tensorboard",
    "nproc",
    "precision",
    "compile",
    "workers",
    "threads",
    "quality_every",
)


def resume(
    out: str | Path,
    overrides: dict[str, Any] | None = None,
    quiet: bool = False,
    model_name: str | None = None,
    probe: Callable[[Dataset], Probe] | None = None,
) -> Trainer:
    """Continue a stopped run from its last checkpoint; only the budget, device, logging and the
    execution settings (processes, precision, compilation) may change."""
    out = Path(out)
    config = runs.read_config(out)
    if model_name is not None and model_name != config["model"]:
        raise GenlabError(f"{out} is a {config['model']} run; resume it with `genlab train {config['model']} --resume`")
    stored = {**config["data"], **config["model_config"], **config["train"]}
    overrides = {k: v for k, v in (overrides or {}).items() if v is not None}
    fixed = {k for k, v in overrides.items() if k not in RESUME_OVERRIDES and stored.get(k) != v}
    if fixed:
        raise GenlabError(
            f"--resume keeps the run's settings; {', '.join(sorted(fixed))} cannot change "
            f"(only {', '.join(RESUME_OVERRIDES)} can)"
        )
    budget = {k: v for k, v in overrides.items() if k in RESUME_OVERRIDES}
    train_cfg = replace(TrainConfig(**config["train"]), **budget)
    given = [k for k in BUDGETS if k in budget]
    if len(given) == 1:  # a new budget replaces the old one
        train_cfg = replace(train_cfg, **{k: None for k in BUDGETS if k != given[0]})
    _check_budget(train_cfg)
    _check_execution(train_cfg)
    cls = model_class(config["model"])
    data = _load_data(cls, DataConfig(**config["data"]))
    if fingerprint(data) != config.get("data_fingerprint"):
        raise GenlabError(
            f"the data behind {config['data']['data']} changed since {out} started; "
            f"resume with the same data or train a new run"
        )
    quality = _probe(train_cfg, probe, data)
    if (out / runs.CHECKPOINT).exists():
        state, *_ = runs.load_checkpoint(out)
        model = runs.model_from_state(config, state)
    else:  # killed before the first checkpoint: start over from the saved config
        model = _new_model(cls, cls.make_config(**config["model_config"]), data, train_cfg.seed)
    config["train"] = to_dict(train_cfg)
    if distributed.rank() == 0:
        runs.write_config(out, config)
    trainer = _trainer(model, data, train_cfg, out, quiet, _join(model, data, train_cfg), quality)
    trainer.replan = bool(given)  # a new budget: the schedule decays over it from here on
    return _fit(trainer, resume=True)
