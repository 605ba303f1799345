"""Run directories: config.json, weights and the exact training state, all written atomically.

A run dir holds
  config.json               model name + model/data/train configs + item shape (written once), and
                            a class-conditional run's class names (label_names)
  model.safetensors         the model's weights (what `genlab.load` reads)
  checkpoint.safetensors    weights + optimisers + RNG states + counters: one file, so a process
                            killed at any moment leaves a consistent checkpoint to resume from
  metrics.csv, loss.png, samples/
Nothing here is ever unpickled: tensors go to safetensors, everything else to JSON.
"""

from __future__ import annotations

import dataclasses
import json
import math
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from genlab.core.config import DataConfig, TrainConfig, values_before
from genlab.core.errors import GenlabError
from genlab.core.jsonfile import read_json
from genlab.core.fsutil import atomic_write_text, atomic_write_with
from genlab.data import Palette
from genlab.models import GenerativeModel, model_class

CONFIG = "config.json"
WEIGHTS = "model.safetensors"
CHECKPOINT = "checkpoint.safetensors"


# --- nested state (optimiser state dicts) <-> flat tensors + JSON skeleton --------------------
def flatten_state(obj: Any, prefix: str, tensors: dict[str, torch.Tensor]) -> Any:
    """Replace every tensor in a nested dict/list by a reference, collecting it into `tensors`.
    Dict keys keep their type (optimiser state is keyed by int)."""
    if isinstance(obj, torch.Tensor):
        key = f"{prefix}"
        tensors[key] = obj.detach().cpu().contiguous()
        return {"__tensor__": key}
    if isinstance(obj, dict):
        return {"__dict__": [[k, flatten_state(v, f"{prefix}.{k}", tensors)] for k, v in obj.items()]}
    if isinstance(obj, (list, tuple)):
        return [flatten_state(v, f"{prefix}.{i}", tensors) for i, v in enumerate(obj)]
    return obj


def unflatten_state(obj: Any, tensors: dict[str, torch.Tensor]) -> Any:
    if isinstance(obj, dict) and "__tensor__" in obj:
        return tensors[obj["__tensor__"]]
    if isinstance(obj, dict) and "__dict__" in obj:
        return {k: unflatten_state(v, tensors) for k, v in obj["__dict__"]}
    if isinstance(obj, dict):
        return {k: unflatten_state(v, tensors) for k, v in obj.items()}
    if isinstance(obj, list):
        return [unflatten_state(v, tensors) for v in obj]
    return obj


# --- config -------------------------------------------------------------------------------------
def write_config(run: Path, config: dict[str, Any]) -> None:
    atomic_write_text(run / CONFIG, json.dumps(config, indent=2) + "\n")


def read_config(run: str | Path) -> dict[str, Any]:
    """A run's config.json, every field checked (types, ranges, nesting): GenlabError naming the file
    and the field when it is damaged or hand-edited into something genlab cannot use."""
    run = Path(run)
    path = run / CONFIG
    if not run.is_dir():
        raise GenlabError(f"run directory {run} does not exist; train one with `genlab train ... --out {run}`")
    if not path.is_file():
        raise GenlabError(f"{run} is not a genlab run (no {CONFIG}); pass the --out folder of `genlab train`")
    config = read_json(path, "the run cannot be used (its config.json is malformed)", max_bytes=MAX_CONFIG_BYTES)
    try:
        _check_config(config)
        cls = model_class(config["model"])
        for name, value in values_before(cls.Config).items():  # options added since the run was saved
            config["model_config"].setdefault(name, value)
        _check_values(cls.Config, config["model_config"], "model_config")
    except ValueError as exc:
        raise GenlabError(f"{path} is malformed ({exc}); the run cannot be used") from None
    return config


MAX_CONFIG_BYTES = 4 * 2**20
MAX_ITEM_SIDE = 1 << 20  # an item's size along one axis (a second of sound at 192 kHz is the longest)


def _check_config(config: Any) -> None:
    """The structure every reader of config.json relies on; ValueError naming the field."""
    if not isinstance(config, dict):
        raise ValueError("not a JSON object")
    for key, kind in (("model", str), ("model_config", dict), ("item_shape", list), ("data", dict)):
        if not isinstance(config.get(key), kind):
            raise ValueError(f"{key} should be {'an object' if kind is dict else 'a ' + kind.__name__}")
    shape = config["item_shape"]
    if not 1 <= len(shape) <= 3 or not all(_whole(x) and 1 <= x <= MAX_ITEM_SIDE for x in shape):
        raise ValueError(f"item_shape should be 1 to 3 whole numbers from 1 to {MAX_ITEM_SIDE}")
    if not isinstance(config["data"].get("data"), str):
        raise ValueError("data.data should be the data spec, a string")
    _check_values(DataConfig, config["data"], "data")
    if "train" in config:
        if not isinstance(config["train"], dict):
            raise ValueError("train should be an object")
        _check_values(TrainConfig, config["train"], "train")
    names = config.get("label_names")
    if names is not None and not (isinstance(names, list) and all(isinstance(x, str) for x in names)):
        raise ValueError("label_names should be a list of names")
    if not isinstance(config.get("data_fingerprint", ""), str):
        raise ValueError("data_fingerprint should be a string")


def _whole(x: Any) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def _check_values(cls: type, values: dict[str, Any], where: str) -> None:
    """Each value of a config section has its field's type (an int may stand for a float; None where
    the field allows it); unknown names are left to the section's own reader."""
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        if f.name not in values:
            continue
        value, hint = values[f.name], hints[f.name]
        kinds = [a for a in typing.get_args(hint) if a is not type(None)] or [hint]
        if value is None and (type(None) in typing.get_args(hint) or f.default is None):
            continue
        kind = kinds[0]
        ok = (
            isinstance(value, bool)
            if kind is bool
            else _whole(value)
            if kind is int
            else (_whole(value) or isinstance(value, float)) and math.isfinite(value)
            if kind is float
            else isinstance(value, kind)
        )
        if not ok:
            raise ValueError(f"{where}.{f.name} is {json.dumps(value)[:40]}, not a {kind.__name__}")


def _is_leftover_temp(path: Path) -> bool:
    """A temp file of an atomic write that a killed process never renamed."""
    return path.is_file() and path.name.startswith(".") and path.name.endswith(".tmp")


def prepare_new_run(run: Path) -> None:
    """Make the folder of a new run, refusing one that already holds a run or anything else."""
    check_new_run(run)
    run.mkdir(parents=True, exist_ok=True)


def check_new_run(run: Path) -> None:
    """Refuse a folder that already holds a run or anything else (a new run goes into a new or empty one)."""
    if run.exists() and not run.is_dir():
        raise GenlabError(f"--out {run} is a file; give a folder for the run")
    if (run / CONFIG).exists():
        raise GenlabError(f"{run} already holds a run; add --resume to continue it or choose another --out")
    if run.is_dir() and any(not _is_leftover_temp(p) for p in run.iterdir()):
        raise GenlabError(f"{run} is not empty; choose a new or empty folder for --out")


# --- weights and checkpoints --------------------------------------------------------------------
def build_model(config: dict[str, Any], palette: Palette | None) -> GenerativeModel:
    cls = model_class(config["model"])
    return cls(cls.make_config(**config["model_config"]), tuple(config["item_shape"]), palette)


def _read_safetensors(path: Path) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt") as fh:
            meta = fh.metadata() or {}
        return load_file(str(path)), meta
    except (SafetensorError, OSError, ValueError) as exc:
        raise GenlabError(f"{path} is not a readable safetensors file ({exc}); the run is damaged") from None


def model_from_state(config: dict[str, Any], state: dict[str, torch.Tensor]) -> GenerativeModel:
    colors = state.get("palette_colors")
    model = build_model(config, Palette(colors) if colors is not None else None)
    try:
        model.load_state_dict(state)
    except RuntimeError as exc:
        raise GenlabError(f"weights do not fit the model in config.json ({str(exc).splitlines()[0]})") from None
    return model


def save_weights(run: Path, model: GenerativeModel, step: int) -> None:
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    atomic_write_with(run / WEIGHTS, lambda tmp: save_file(state, str(tmp), metadata={"step": str(step)}))


def save_checkpoint(
    run: Path,
    model: GenerativeModel,
    optimizers: dict[str, torch.optim.Optimizer],
    counters: dict[str, Any],
    ranks_rng: dict[str, torch.Tensor] | None = None,
) -> None:
    """One file with everything an exact resume needs, then the weights-only export. `ranks_rng`:
    the RNG states of every process of a distributed run (`rank{r}/torch`, ...), kept under rng/."""
    tensors: dict[str, torch.Tensor] = {}
    for k, v in model.state_dict().items():
        tensors[f"model/{k}"] = v.detach().cpu().contiguous()
    optim = {name: flatten_state(opt.state_dict(), f"optim/{name}", tensors) for name, opt in optimizers.items()}
    tensors["rng/torch"] = torch.get_rng_state()
    if torch.cuda.is_available():
        for i, s in enumerate(torch.cuda.get_rng_state_all()):
            tensors[f"rng/cuda/{i}"] = s
    tensors.update({f"rng/{k}": v for k, v in (ranks_rng or {}).items()})
    meta = {"counters": json.dumps(counters), "optim": json.dumps(optim)}
    atomic_write_with(run / CHECKPOINT, lambda tmp: save_file(tensors, str(tmp), metadata=meta))
    save_weights(run, model, counters["step"])


def load_checkpoint(
    run: Path,
) -> tuple[dict[str, torch.Tensor], dict[str, Any], dict[str, Any], dict[str, torch.Tensor]]:
    """-> (model state, optimiser states, counters, rng states); GenlabError if damaged."""
    tensors, meta = _read_safetensors(run / CHECKPOINT)
    try:
        counters = json.loads(meta["counters"])
        optim = unflatten_state(json.loads(meta["optim"]), tensors)
    except (KeyError, TypeError, ValueError, RecursionError) as exc:  # JSONDecodeError is a ValueError
        why = "nested too deeply" if isinstance(exc, RecursionError) else " ".join(str(exc).split())
        raise GenlabError(f"{run / CHECKPOINT} lacks its training state ({why}); the run is damaged") from None
    model_state = {k[len("model/") :]: v for k, v in tensors.items() if k.startswith("model/")}
    rng = {k[len("rng/") :]: v for k, v in tensors.items() if k.startswith("rng/")}
    return model_state, optim, counters, rng


def restore_rng(rng: dict[str, torch.Tensor]) -> None:
    torch.set_rng_state(rng["torch"])
    cuda = [rng[k] for k in sorted(rng) if k.startswith("cuda/")]
    if cuda and torch.cuda.is_available() and len(cuda) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(cuda)


# --- loading a trained run ------------------------------------------------------------------------
@dataclass
class LoadedRun:
    """A trained run, ready to use: `run.model.sample(16)`; `run.dataset()` loads its data."""

    path: Path
    config: dict[str, Any]
    model: GenerativeModel
    step: int

    @property
    def palette(self) -> Palette | None:
        return self.model.palette if self.model.uses_palette else None

    @property
    def label_names(self) -> list[str] | None:
        """The name of each class of a class-conditional run; None for runs trained before names were recorded."""
        return self.config.get("label_names")

    def dataset(self):
        from genlab.data import load_dataset

        d = self.config["data"]
        return load_dataset(
            d["data"], image_size=d["image_size"], channels=d["channels"], sample_rate=d.get("sample_rate")
        )


def load(run: str | Path, device: str | torch.device = "cpu") -> LoadedRun:
    """Rebuild a trained model from its run directory (weights + config.json), in eval mode."""
    run = Path(run)
    config = read_config(run)
    if not (run / WEIGHTS).is_file():
        raise GenlabError(f"{run} has no {WEIGHTS} yet; let training save a checkpoint first")
    state, meta = _read_safetensors(run / WEIGHTS)
    model = model_from_state(config, state).to(device).eval()
    return LoadedRun(run, config, model, int(meta.get("step", 0)))
