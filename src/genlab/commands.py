"""What each `genlab` sub-command does, given parsed flags. Errors are GenlabError (exit 2)."""
from __future__ import annotations

import argparse
import inspect
import shutil
import time
from pathlib import Path

import torch

from genlab import runs, viz
from genlab.cli import train_args, write_json
from genlab.config import DataConfig, TrainConfig
from genlab.errors import GenlabError
from genlab.models.latent import lerp_codes


def _say(text: str) -> None:
    print(text, flush=True)


def _positive(name: str, value: int, most: int = 100_000) -> int:
    if not 1 <= value <= most:
        raise GenlabError(f"--{name} must be between 1 and {most}, not {value}")
    return value


def _load(ns: argparse.Namespace) -> runs.LoadedRun:
    from genlab.train.trainer import resolve_device

    return runs.load(ns.run, device=resolve_device(ns.device))


def _latent_model(run: runs.LoadedRun, command: str):
    if not hasattr(run.model, "decode") or not hasattr(run.model, "prior"):
        raise GenlabError(f"`genlab {command}` needs a model with a latent space (vae); {run.path} is a "
                          f"{run.config['model']} run")
    return run.model


# --- train ----------------------------------------------------------------------------------------
def cmd_train(ns: argparse.Namespace) -> None:
    from genlab import train

    from genlab.train import distributed

    data_values, train_values, model_values = train_args(ns)
    out = Path(ns.out)
    if not ns.resume and distributed.rank() == 0 and (out / runs.CONFIG).exists():
        runs.prepare_new_run(out)  # refuses: the folder holds a run
    if train_values.get("nproc", 1) > 1 and not distributed.launched():
        distributed.launch(ns.argv, train_values["nproc"])  # N copies of this command under torchrun
        return
    if ns.resume:
        trainer = train.resume(out, {**train_values, **data_values, **model_values}, quiet=ns.quiet,
                               model_name=ns.model)
    else:
        trainer = train.start(ns.model, model_values, DataConfig(**data_values), TrainConfig(**train_values),
                              out, quiet=ns.quiet, typed=set(train_values))
    if not trainer.group.main:
        return
    c = trainer.counters
    early = "; stopped early: training has converged" if trainer.model.converged else ""
    _say(f"trained {ns.model} for {c.epoch} epochs ({c.step} steps, {c.seconds:.0f} s{early}); run in {out}/ "
         f"(samples/, loss.png, metrics.csv)")
    after_training(trainer, out)


def after_training(trainer, out: Path) -> None:
    """Pictures a trained latent-variable model offers: reconstructions of test images, and for a
    2-D latent the decoded map and the test codes coloured by label."""
    model = trainer.model
    if not hasattr(model, "reconstruct"):
        return
    model.eval()
    data = runs.load(out).dataset()
    test = data.test[:16]
    viz.save_grid(_interleave_rows(test, model.reconstruct(test), 8), out / "reconstructions.png", nrow=8)
    _say(f"reconstructions: {out / 'reconstructions.png'} (rows 1 and 3: test images; 2 and 4: reconstructions)")
    if getattr(model.config, "latent", None) == 2:
        viz.save_grid(model.latent_grid(15), out / "latent_map.png", nrow=15)
        viz.save_latent_scatter(model.encode_images(data.test), data.test_labels, out / "latent_scatter.png")
        _say(f"2-D latent: {out / 'latent_map.png'} and {out / 'latent_scatter.png'}")


# --- sample / interpolate -----------------------------------------------------------------------
def cmd_sample(ns: argparse.Namespace) -> None:
    _positive("n", ns.n)
    viz.check_output_path(ns.out)
    run = _load(ns)
    g = torch.Generator(device=run.model.device).manual_seed(ns.seed)
    options = _model_options(run, ns, run.model.sample, SAMPLE_OPTIONS)
    if ns.label is not None:
        from genlab.inputs import class_label

        options["labels"] = class_label(run, ns.label)
    images = run.model.sample(ns.n, generator=g, **options)
    per_class = ns.label is None and run.model.label_count  # default labels cycle: one column per class
    paths = viz.save_output(images, ns.out, nrow=per_class or None, sample_rate=run.config["data"].get("sample_rate"))
    _say(f"wrote {ns.n} samples to {paths[0] if len(paths) == 1 else Path(ns.out)}")


SAMPLE_OPTIONS = ("pixels", "temperature", "seed_pixels", "seconds")  # `genlab sample` flags handed to model.sample when it accepts them


def _model_options(run: runs.LoadedRun, ns: argparse.Namespace, method, names: tuple[str, ...]) -> dict:
    """The optional flags the user typed, checked against what `method` accepts."""
    accepted = inspect.signature(method).parameters
    given = {name: getattr(ns, name) for name in names if hasattr(ns, name)}
    refused = [name for name in given if name not in accepted]
    if refused:
        flags = ", ".join("--" + n.replace("_", "-") for n in refused)
        raise GenlabError(f"{flags} does not apply to a {run.config['model']} run")
    return given


def cmd_interpolate(ns: argparse.Namespace) -> None:
    from genlab.inputs import load_image_ref

    _positive("steps", ns.steps, 1000)
    _positive("n", ns.n, 1000)
    viz.check_output_path(ns.out)
    if (ns.start is None) != (ns.end is None):
        raise GenlabError("give both --from and --to, or neither (then random codes are used)")
    run = _load(ns)
    model = _latent_model(run, "interpolate")
    if ns.start is not None:
        if not hasattr(model, "encode_images"):
            raise GenlabError(f"a {run.config['model']} has no encoder to place --from/--to images in its latent "
                              f"space; interpolate between random codes (leave out --from/--to)")
        shape, opts = tuple(run.config["item_shape"]), run.config["data"]
        ends = [model.encode_images(load_image_ref(ref, shape, opts)) for ref in (ns.start, ns.end)]
    else:
        g = torch.Generator(device=model.device).manual_seed(ns.seed)
        ends = [model.prior(ns.n, g), model.prior(ns.n, g)]
    images = model.decode(lerp_codes(*ends, ns.steps, ns.path))
    paths = viz.save_output(images, ns.out, nrow=ns.steps)
    _say(f"wrote {len(images) // ns.steps} interpolation row(s) of {ns.steps} to "
         f"{paths[0] if len(paths) == 1 else Path(ns.out)}")


# --- complete ---------------------------------------------------------------------------------------
def cmd_complete(ns: argparse.Namespace) -> None:
    _positive("n", ns.n, 1000)
    run = _load(ns)
    if not hasattr(run.model, "complete"):
        raise GenlabError(f"`genlab complete` needs an autoregressive run (pixelrnn, wavenet); {run.path} is a "
                          f"{run.config['model']} run")
    if run.model.data_kind == "audio":
        from genlab.audio_commands import complete_audio

        complete_audio(run, ns)
    else:
        from genlab.completion import complete_images

        complete_images(run, ns)


# --- evaluate ---------------------------------------------------------------------------------------
def cmd_evaluate(ns: argparse.Namespace) -> None:
    from genlab.data import load_dataset
    from genlab.metrics.evaluate import evaluate, format_report
    from genlab.metrics.features import INCEPTION_REFUSAL

    _positive("iwae-k", ns.iwae_k, 100_000)
    if ns.n:
        _positive("n", ns.n, 100_000)
    _positive("seeds", ns.seeds, 100)
    if not str(ns.out).endswith(".json"):
        raise GenlabError(f"--out {ns.out}: evaluate writes JSON; give a file name ending in .json")
    if ns.inception_weights is not None:
        raise GenlabError(INCEPTION_REFUSAL)
    run = _load(ns)
    opts = dict(run.config["data"])
    spec = ns.data or opts.pop("data")
    opts.pop("data", None)
    data = load_dataset(spec, **opts)
    if tuple(data.item_shape) != tuple(run.config["item_shape"]):
        raise GenlabError(f"{spec} holds items of shape {data.item_shape} but the run was trained on "
                          f"{tuple(run.config['item_shape'])}; pass --data with matching --image-size/--channels data")
    test = data.test[:ns.limit] if ns.limit else data.test
    torch.manual_seed(ns.seed)
    picture = Path(ns.out).with_name(Path(ns.out).stem + "_nearest.png")
    report = {"run": str(run.path), "model": run.config["model"], "data": spec, "split": "test", "step": run.step,
              **evaluate(run.model, data, test, ns.n, [ns.seed + i for i in range(ns.seeds)], iwae_k=ns.iwae_k,
                         seed=ns.seed, picture=picture, quiet=ns.quiet)}
    write_json(ns.out, report)
    _say(format_report(report))
    _say(f"wrote {ns.out}" + (f" and {picture} (samples above their nearest training images)"
                              if "nearest_picture" in report.get("sample_setup", {}) else ""))


# --- compare ----------------------------------------------------------------------------------------
def cmd_compare(ns: argparse.Namespace) -> None:
    from genlab.cli import data_args
    from genlab.report.compare import compare

    if ns.n:  # 0: likelihoods and pictures only
        _positive("n", ns.n, 100_000)
    _positive("seeds", ns.seeds, 100)
    _positive("iwae-k", ns.iwae_k, 100_000)
    names = [m.strip() for m in (ns.models or "").split(",") if m.strip()]
    run_dirs = [r.strip() for r in (ns.runs or "").split(",") if r.strip()]
    if run_dirs and data_args(ns):
        raise GenlabError("--runs are evaluated on their own data; leave out the data flags")
    compare(ns.out, DataConfig(**data_args(ns)), names, run_dirs, minutes=ns.minutes, n=ns.n, seeds=ns.seeds,
            iwae_k=ns.iwae_k, limit=ns.limit, seed=ns.seed, device=ns.device, quiet=ns.quiet, say=_say)


# --- data -------------------------------------------------------------------------------------------
def cmd_data(ns: argparse.Namespace) -> None:
    from genlab.data import Palette, describe_dataset, load_dataset

    if ns.out:
        viz.check_output_path(ns.out)
    from genlab.data.pack import describe_pack, is_pack
    from genlab.data.pack_writer import pack_spec

    if ns.pack:  # an image folder is read a chunk at a time
        ns.spec = str(pack_spec(ns.spec, ns.pack, {2, ns.colors or 2}, getattr(ns, "image_size", None),
                                getattr(ns, "channels", None), ns.seed))
    if is_pack(ns.spec) and not ns.out:
        return _say(describe_pack(ns.spec))  # from its manifest: a pack may not fit in memory
    data = load_dataset(ns.spec, image_size=getattr(ns, "image_size", None), channels=getattr(ns, "channels", None),
                        sample_rate=getattr(ns, "sample_rate", None))
    palette = Palette.fit(data.train, ns.colors, seed=ns.seed) if ns.colors and data.kind == "image" else None
    _say(describe_dataset(data, palette))
    if ns.out:
        shown = data.train[:64]
        if palette is not None:
            shown = palette.decode(palette.encode(shown))
        if data.kind == "points":
            viz.save_points_plot(data.train, ns.out, title=ns.spec)
        else:  # images, or sound (a .wav, .png spectrograms, .npz or a folder)
            viz.save_output(shown, ns.out, sample_rate=data.item_shape[0] if data.kind == "audio" else None)
        _say(f"wrote {ns.out}")


# --- serve ------------------------------------------------------------------------------------------
def cmd_serve(ns: argparse.Namespace) -> None:
    from genlab.serve.server import serve

    serve(ns.runs, ns.host, ns.port, ns.allow_remote, say=print)


# --- demo -------------------------------------------------------------------------------------------
DEMO_FAMILIES = ["pixelrnn", "vae", "gan", "gmm"]
DEMO_OUTPUTS = ("report.html", "metrics.json", "pictures", "runs")  # what `compare` writes into its folder


def cmd_demo(ns: argparse.Namespace) -> None:
    """`compare` on the 5,000 MNIST digits with every image family: about 5 minutes on a 2-core CPU.

    The report is built in a hidden staging folder and moved into --out only when it is complete,
    so a demo that fails or is killed leaves the previous demo as it was."""
    from genlab.report.compare import compare

    if ns.minutes <= 0:
        raise GenlabError("--minutes must be above 0")
    _positive("n", ns.n, 100_000)
    out = Path(ns.out)
    if out.exists() and not out.is_dir():
        raise GenlabError(f"--out {out} is a file; give a folder for the demo's report")
    out.mkdir(parents=True, exist_ok=True)
    recover_demo(out)
    staging = out / f".demo-{time.strftime('%Y%m%d-%H%M%S')}"
    _say(f"genlab demo: {', '.join(DEMO_FAMILIES)} on mnist5k, {ns.minutes:g} minute(s) of training each, then "
         f"{ns.n} samples each for the figures")
    try:
        compare(staging, DataConfig(data="mnist5k"), DEMO_FAMILIES, minutes=ns.minutes, n=ns.n, device=ns.device,
                quiet=ns.quiet, say=_say)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    swap_in_demo(staging, out)
    _say(f"the report: {out / 'report.html'} (open it in a browser); figures in {out / 'metrics.json'}, "
         f"pictures in {out / 'pictures'}/, the trained runs in {out / 'runs'}/ (use them with sample, "
         f"complete, interpolate, evaluate and serve)")


def recover_demo(out: Path) -> None:
    """Tidy what a killed demo left: unfinished staging folders go; a previous report that was
    being replaced moves back where it is missing."""
    for leftover in out.glob(".demo-*"):
        shutil.rmtree(leftover, ignore_errors=True)
    for old in out.glob(".replaced-*"):
        for name in DEMO_OUTPUTS:
            if (old / name).exists() and not (out / name).exists():
                (old / name).rename(out / name)
        shutil.rmtree(old, ignore_errors=True)


def swap_in_demo(staging: Path, out: Path) -> None:
    """Move a finished report from `staging` into `out`, each entry by one rename; the previous
    demo's entries wait in a hidden folder until the new ones are in place."""
    old = out / f".replaced-{staging.name[len('.demo-'):]}"
    old.mkdir()
    for name in DEMO_OUTPUTS:
        if (out / name).exists():
            (out / name).rename(old / name)
        if (staging / name).exists():
            (staging / name).rename(out / name)
    shutil.rmtree(old, ignore_errors=True)
    shutil.rmtree(staging, ignore_errors=True)


_interleave_rows = viz.interleave_rows  # each original above its counterpart
