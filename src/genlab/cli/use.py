"""`genlab sample`, `interpolate` and `complete`: use a trained run."""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from genlab import viz
from genlab.cli.args import class_label, load_run, positive, say
from genlab.core.errors import GenlabError
from genlab.models import Capability, families_with
from genlab.core.interpolation import lerp_codes
from genlab.train import runs


def _latent_model(run: runs.LoadedRun, command: str):
    if not run.model.can(Capability.LATENT):
        families = ", ".join(families_with(Capability.LATENT))
        raise GenlabError(
            f"`genlab {command}` needs a model with a latent space ({families}); {run.path} is a "
            f"{run.config['model']} run"
        )
    return run.model


def cmd_sample(ns: argparse.Namespace) -> None:
    if ns.n is not None:
        positive("n", ns.n)
    viz.check_output_path(ns.out)
    run = load_run(ns)
    if ns.n is None:  # one sound is what a listener wants; a grid of 64 is what a viewer wants
        ns.n = 1 if run.model.can(Capability.SOUND) else 64
    g = torch.Generator(device=run.model.device).manual_seed(ns.seed)
    options = _model_options(run, ns, SAMPLE_OPTIONS)
    if ns.label is not None:
        options["labels"] = class_label(run, ns.label)
    images = run.model.sample(ns.n, generator=g, **options)
    per_class = ns.label is None and run.model.label_count  # default labels cycle: one column per class
    paths = viz.save_output(images, ns.out, nrow=per_class or None, sample_rate=run.config["data"].get("sample_rate"))
    say(f"wrote {ns.n} samples to {paths[0] if len(paths) == 1 else Path(ns.out)}")


SAMPLE_OPTIONS = (
    "pixels",
    "temperature",
    "seed_pixels",
    "seconds",
    "sample_prior",
)  # `genlab sample` flags handed to model.sample when it accepts them


def _model_options(run: runs.LoadedRun, ns: argparse.Namespace, names: tuple[str, ...]) -> dict:
    """The optional flags the user typed, checked against the sampling options the model declares."""
    accepted = run.model.sample_options
    given = {name: getattr(ns, name) for name in names if hasattr(ns, name)}
    refused = [name for name in given if name not in accepted]
    if refused:
        flags = ", ".join("--" + n.replace("_", "-") for n in refused)
        raise GenlabError(f"{flags} does not apply to a {run.config['model']} run")
    return given


def cmd_interpolate(ns: argparse.Namespace) -> None:
    from genlab.data.inputs.image import load_labelled_image_ref

    positive("steps", ns.steps, 1000)
    positive("n", ns.n, 1000)
    viz.check_output_path(ns.out)
    if (ns.start is None) != (ns.end is None):
        raise GenlabError("give both --from and --to, or neither (then random codes are used)")
    run = load_run(ns)
    model = _latent_model(run, "interpolate")
    label = class_label(run, ns.label) if ns.label is not None else None
    if ns.start is not None:
        if not model.can(Capability.ENCODES):
            raise GenlabError(
                f"a {run.config['model']} has no encoder to place --from/--to images in its latent "
                f"space; interpolate between random codes (leave out --from/--to)"
            )
        shape, opts = tuple(run.config["item_shape"]), run.config["data"]
        (start, start_label), (end, _) = (load_labelled_image_ref(ref, shape, opts) for ref in (ns.start, ns.end))
        if model.label_count and label is None:
            if start_label is None or start_label >= model.label_count:
                raise GenlabError(
                    f"{run.path} is class-conditional: give --label, the class to hold along the line "
                    f"(--from {ns.start} has no label of its own)"
                )
            label = start_label  # the --from item's own class, held to the end
        row_labels = label if model.label_count else None
        ends = [model.encode_images(image, row_labels) for image in (start, end)]
    else:
        # a conditional model holds one class along each row: --label, or row r's class r mod classes
        row_labels = (
            (label if label is not None else torch.arange(ns.n) % model.label_count) if model.label_count else None
        )
        g = torch.Generator(device=model.device).manual_seed(ns.seed)
        ends = [model.prior(ns.n, g, labels=row_labels), model.prior(ns.n, g, labels=row_labels)]
    labels = None if row_labels is None else torch.as_tensor(row_labels).reshape(-1).expand(len(ends[0]))
    images = model.decode(
        lerp_codes(*ends, ns.steps, ns.path), labels=None if labels is None else labels.repeat_interleave(ns.steps)
    )
    paths = viz.save_output(images, ns.out, nrow=ns.steps)
    say(
        f"wrote {len(images) // ns.steps} interpolation row(s) of {ns.steps} to "
        f"{paths[0] if len(paths) == 1 else Path(ns.out)}"
    )


def cmd_complete(ns: argparse.Namespace) -> None:
    positive("n", ns.n, 1000)
    run = load_run(ns)
    if not run.model.can(Capability.COMPLETES):
        families = ", ".join(families_with(Capability.COMPLETES))
        raise GenlabError(
            f"`genlab complete` needs an autoregressive run ({families}); {run.path} is a {run.config['model']} run"
        )
    if run.model.can(Capability.SOUND):
        from genlab.cli.audio import complete_audio

        complete_audio(run, ns)
    else:
        from genlab.cli.completion import complete_images

        complete_images(run, ns)
