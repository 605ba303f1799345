"""The interface every genlab model follows, and the registry that feeds the CLI.

A model owns its objective (`loss`) and its optimisation step (`train_step`), so the trainer stays
generic: one optimiser for most models, two alternating ones for the GAN.
"""

from __future__ import annotations

import dataclasses
import enum
import itertools
import math
from pathlib import Path
from typing import Any, Callable, ClassVar, Protocol

import torch
from torch import nn

from genlab.core.config import opt
from genlab.core.errors import GenlabError
from genlab.data import Dataset, Palette
from genlab.data.palette import default_colors

REGISTRY: dict[str, type["GenerativeModel"]] = {}


class Capability(str, enum.Enum):
    """What a family can do beyond training and `sample`. A family declares its own once, in
    `GenerativeModel.capabilities` (SOUND and CONDITIONAL follow from `data_kind` and the config); the
    command line, the compare report, the likelihood figures and the web page read that declaration.
    Each one promises the methods in CAPABILITY_METHODS (the contract test holds every family to it)."""

    LIKELIHOOD = "likelihood"  # log_prob(x): the exact log-likelihood per item, in nats
    BOUND = "bound"  # elbo(x, generator=) and iwae(x, k, generator=): lower bounds on it, per item
    COMPLETES = "completes"  # complete(...): fill in the hidden part of an item, keeping the rest exactly
    LATENT = "latent"  # prior(n, generator) -> codes (n, L) and decode(codes) -> items
    ENCODES = "encodes"  # encode_images(images) -> codes (n, L) and reconstruct(images) -> images
    POSTERIOR = "posterior"  # encode(prepared) -> mean and log-variance of q(z|x), each (n, L)
    CONDITIONAL = "conditional"  # takes class labels (`labels=`, `label_count` classes): the config's `conditional`
    SOUND = "sound"  # its items are sounds (data_kind "audio")

    def __str__(self) -> str:
        return self.value


CAPABILITY_METHODS: dict[Capability, tuple[str, ...]] = {
    Capability.LIKELIHOOD: ("log_prob",),
    Capability.BOUND: ("elbo", "iwae"),
    Capability.COMPLETES: ("complete",),
    Capability.LATENT: ("prior", "decode"),
    Capability.ENCODES: ("encode_images", "reconstruct"),
    Capability.POSTERIOR: ("encode",),
}


def conditional_opt(effect: str) -> Any:
    """The `conditional` field of a family that takes class labels (`--conditional`); `effect`: what
    it gives the user, after "condition on the data's class labels: "."""
    return opt(False, "condition on the data's class labels: " + effect)


def colors_opt(what: str) -> Any:
    """The `colors` field of a palette family (`uses_palette = True`): K, the palette's size, which
    `prepare` turns images into indices of and `sample` draws from; `what`: the part of the model that
    predicts one of the K, e.g. "the output" or "the categorical decoder". Left untyped, training
    takes `model_defaults_for`'s value: 32 k-means colours on colour images, 2 on grey ones."""
    return opt(
        2,
        f"palette size of {what}: 2 = binarized, K = k-means colours, 256 = every grey level; "
        "given none, colour images take 32 k-means colours and grey ones 2",
    )


def label_count_opt() -> Any:
    """The `label_count` field that goes with `conditional_opt` (training sets it from the data)."""
    return opt(0, "classes of a conditional model (set from the data)", flag=False)


def conditional_classes(config: Any) -> int:
    """The classes a model built from `config` takes as `labels=`: its label_count when `conditional`
    is on (checked: at least 2), else 0. Configs without the fields (a family that takes no labels,
    a run saved before they existed) are unconditional."""
    if not getattr(config, "conditional", False):
        return 0
    if config.label_count < 2:
        raise GenlabError("a conditional model needs label_count >= 2 classes (training sets it from the data)")
    return config.label_count


def takes_labels(cls: type["GenerativeModel"]) -> bool:
    """Whether a family can be trained class-conditional (its Config has `conditional`)."""
    return any(f.name == "conditional" for f in dataclasses.fields(cls.Config))


class TrainingView(Protocol):
    """What a family's training pictures see of a run in progress (the trainer is one)."""

    model: "GenerativeModel"
    run: Path  # the run folder, where pictures go
    data_spec: str  # the data spec the run trains on (e.g. toy:gmm8)
    train_data: torch.Tensor  # prepared training items, on the device
    test_data: torch.Tensor
    counters: Any  # .epoch (epochs done), .step
    quiet: bool


class TrainingPictures:
    """What a family draws while it trains, beyond the generic sample grid, metrics and loss curve.
    A family returns one from `GenerativeModel.training_pictures`; the trainer calls `epoch` after
    every epoch and `end` once when training stops. Pictures must not draw from the global random
    generator, so that they never change the training run."""

    def epoch(self, view: TrainingView) -> dict[str, float] | None:
        """Draw the epoch's pictures; figures returned join the epoch's test row of metrics.csv."""
        return None

    def end(self, view: TrainingView) -> None:
        """Draw the pictures of the finished run."""


def register(name: str):
    """Class decorator: make a model available as `genlab train NAME`."""

    def wrap(cls: type[GenerativeModel]) -> type[GenerativeModel]:
        cls.name = name
        REGISTRY[name] = cls
        return cls

    return wrap


class GenerativeModel(nn.Module):
    """Base class. Subclasses set `Config` (a dataclass) and implement `prepare`, `loss`, `sample`.

    Data flow: the trainer hands `prepare` the raw uint8 images (N, C, H, W) once; the result is
    kept on the device and sliced into batches that go to `loss` / `train_step`.
    """

    name: ClassVar[str] = "model"
    Config: ClassVar[type]
    data_kind: ClassVar[str] = "image"  # the Dataset.kind it trains on: "image", "points" or "audio"
    data_kinds: ClassVar[tuple[str, ...]] = ()  # when it trains on several kinds (the GAN); () = (data_kind,)
    train_defaults: ClassVar[dict[str, Any]] = {}  # TrainConfig defaults this family prefers (a typed flag wins)
    full_batch: ClassVar[bool] = False  # True: every training step gets the whole training split (EM fits)
    epoch_samples: ClassVar[int] = 64  # items drawn for samples/epoch_NNNN.png after every epoch
    capabilities: ClassVar[frozenset[Capability]] = frozenset()  # what every model of the family can do
    sample_options: ClassVar[tuple[str, ...]] = ()  # `genlab sample` options its `sample` takes (e.g. "temperature")

    uses_palette: ClassVar[bool] = False  # True: works on palette-index images (config.colors)
    label_count: int = 0  # classes a class-conditional model takes as `labels=`; 0 = unconditional
    converged: bool = False  # set by a model with nothing left to learn (EM at a fixed point): training stops

    def __init__(self, config: Any, item_shape: tuple[int, ...], palette: Palette | None = None):
        super().__init__()
        self.config = config
        self.item_shape = tuple(item_shape)
        self.progress = 0.0  # epochs done, as a float; the trainer keeps it current
        if self.uses_palette:
            if palette is None:
                raise ValueError(f"{self.name} needs a palette")
            self.register_buffer("palette_colors", palette.colors.clone())  # (K, C) uint8

    @property
    def palette(self) -> Palette:
        return Palette(self.palette_colors)

    # --- what the family can do ---------------------------------------------------------------
    @classmethod
    def kinds(cls) -> tuple[str, ...]:
        """The Dataset kinds it trains on ("image", "points", "audio")."""
        return cls.data_kinds or (cls.data_kind,)

    @classmethod
    def capabilities_for(cls, config: Any) -> frozenset[Capability]:
        """What a model of this family built from `config` (its Config, or the dict a run's config.json
        holds) can do: the declared `capabilities`, SOUND for a family of sound, and CONDITIONAL where
        the config's `conditional` option asks for class labels."""
        options = config if isinstance(config, dict) else vars(config)
        return (
            cls.capabilities
            | ({Capability.SOUND} if cls.data_kind == "audio" else set())
            | ({Capability.CONDITIONAL} if options.get("conditional") else set())
        )

    @classmethod
    def offers(cls, capability: Capability) -> bool:
        """Whether a model of this family can do `capability` with some config (CONDITIONAL: where the
        Config has a `conditional` option)."""
        return capability in cls.capabilities_for({"conditional": takes_labels(cls)})

    def can(self, capability: Capability) -> bool:
        """Whether this model can do `capability` (see Capability)."""
        return capability in self.capabilities_for(self.config)

    # --- data -------------------------------------------------------------------------------
    def prepare(self, data: torch.Tensor) -> torch.Tensor:
        """Turn stored data (uint8 images or float points) into the tensor `loss` consumes:
        palette indices (N, 1, H, W) for palette models, the data itself otherwise."""
        return self.palette.encode(data) if self.uses_palette else data

    def prepare_labels(self, labels: torch.Tensor) -> torch.Tensor:
        """The class labels (N,) of stored data -> one per item of `prepare(data)` (WaveNet cuts
        every clip into several windows, each keeping its clip's label)."""
        return labels

    def training_mask(self, prepared: torch.Tensor) -> torch.Tensor | None:
        """Which items of the prepared training split (N, ...) to train on, bool (N,); None: all.
        Only the training split is thinned: test figures and `log_prob` see every item."""
        return None

    # --- class labels (conditional models) ------------------------------------------------------
    def check_labels(self, labels: torch.Tensor | int | None, n: int) -> torch.Tensor | None:
        """labels as (n,) int64 on the model's device, validated; None for an unconditional model."""
        if not self.label_count:
            if labels is not None:
                raise GenlabError("this model is not class-conditional; train with --conditional to use labels")
            return None
        if labels is not None:
            labels = torch.as_tensor(labels, device=self.device).long().reshape(-1).expand(n)
        if labels is None or not bool(((labels >= 0) & (labels < self.label_count)).all()):
            raise GenlabError(
                f"this model is class-conditional: give each item a label from 0 to {self.label_count - 1}"
            )
        return labels

    def asked_labels(self, labels: torch.Tensor | int | None, n: int) -> torch.Tensor | None:
        """`check_labels` for drawing n items: a conditional model asked for no class draws item i
        of class i mod classes (so a grid of `label_count` columns shows one class per column)."""
        if self.label_count and labels is None:
            labels = torch.arange(n) % self.label_count
        return self.check_labels(labels, n)

    def mixture_log_prob(self, log_prob, x: torch.Tensor) -> torch.Tensor:
        """log p(x) = log Σ_y p(y) p(x | y) with the classes equally likely, from `log_prob(x, labels)`
        (nats, (B,)): the exact likelihood of a conditional model asked without labels."""
        per_class = torch.stack(
            [log_prob(x, torch.full((len(x),), y, device=x.device)) for y in range(self.label_count)]
        )  # (classes, B)
        return per_class.logsumexp(0) - math.log(self.label_count)

    # --- training ---------------------------------------------------------------------------
    def loss(self, batch: torch.Tensor) -> dict[str, torch.Tensor]:
        """Return {"loss": scalar to minimise, other named scalars worth logging}."""
        raise NotImplementedError

    def configure_optimizers(self, lr: float) -> dict[str, torch.optim.Optimizer]:
        return {"model": torch.optim.Adam([p for p in self.parameters() if p.requires_grad], lr=lr)}

    def train_step(
        self, batch: torch.Tensor, optimizers: dict[str, torch.optim.Optimizer], **labels: torch.Tensor
    ) -> dict[str, torch.Tensor]:
        """One optimisation step; models with several optimisers (the GAN) override this.
        `labels` is `labels=` (B,) for a class-conditional model (label_count > 0), else empty."""
        (opt,) = optimizers.values()
        opt.zero_grad(set_to_none=True)
        out = self.loss(batch, **labels)
        out["loss"].backward()
        opt.step()
        return out

    @torch.no_grad()
    def evaluate_batch(self, batch: torch.Tensor, **labels: torch.Tensor) -> dict[str, torch.Tensor]:
        """Figures on held-out data; by default the training loss figures."""
        return self.loss(batch, **labels)

    # --- using a trained model --------------------------------------------------------------
    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """n new items as stored data: uint8 images (n, C, H, W) or float points (n, 2)."""
        raise NotImplementedError

    @classmethod
    def check_given(cls, given: dict[str, Any]) -> None:
        """Refuse model options the user gave that would have no effect together (a one-line
        GenlabError); `given` holds only the options set explicitly. Nothing to refuse by default."""

    @classmethod
    def model_defaults_for(cls, data_kind: str, item_shape: tuple[int, ...]) -> dict[str, Any]:
        """Config values this family takes on such data where the user gave none (a typed option wins):
        a palette family's --colors is 2 on grey images and a k-means palette on RGB ones
        (`data.palette.default_colors`)."""
        if cls.uses_palette and data_kind == "image":
            return {"colors": default_colors(item_shape[0])}
        return {}

    @classmethod
    def train_defaults_for(cls, data_kind: str) -> dict[str, Any]:
        """TrainConfig defaults for training on `data_kind` data ("image", "points", "audio");
        `train_defaults` unless a family needs different ones per kind (the GAN's 2-D learning rate)."""
        return cls.train_defaults

    def training_pictures(self, view: TrainingView) -> TrainingPictures | None:
        """This family's pictures while it trains (the GAN's 2-D frames, the mixture's ellipses);
        None when the generic ones say it all."""
        return None

    def fit_sampler(self, train_data, **labels: torch.Tensor) -> bool:
        """Fit what sampling needs from the prepared training data beyond the weights (the VAE's code
        mixture); the trainer calls it when training ends and before each sample-quality row, with
        `labels=` (N,) for a class-conditional model. It must
        be deterministic and leave the global random state alone. True if it changed how samples are
        drawn; nothing to fit by default."""
        return False

    def after_training(self, run: Path, load_data: Callable[[], Dataset], say: Callable[[str], None]) -> None:
        """Pictures `genlab train` adds to a finished run from its data, `load_data()` (the VAE's
        reconstructions and 2-D latent map); `say` prints a line about each."""

    def summary(self) -> str:
        """One line the trainer prints when training starts (e.g. WaveNet's receptive field); "" for none."""
        return ""

    def extra_figures(self, data: Dataset, seed: int = 0) -> dict[str, float]:
        """Model-specific figures for `genlab evaluate` beyond likelihoods (e.g. a GAN's mode
        coverage on 2-D data); `data` is the evaluation data set."""
        return {}

    @property
    def device(self) -> torch.device:
        for tensor in itertools.chain(self.parameters(), self.buffers()):
            return tensor.device
        return torch.device("cpu")

    @classmethod
    def make_config(cls, **values: Any):
        names = {f.name for f in dataclasses.fields(cls.Config)}
        unknown = set(values) - names
        if unknown:
            raise GenlabError(f"unknown {cls.name} option(s): {', '.join(sorted(unknown))}")
        config = cls.Config(**values)
        for f in dataclasses.fields(config):
            choices = f.metadata.get("choices")
            if choices and getattr(config, f.name) not in choices:
                raise GenlabError(f"--{f.name.replace('_', '-')} must be one of {', '.join(map(str, choices))}")
        if hasattr(config, "validate"):
            config.validate()  # raises GenlabError naming the bad option
        return config
