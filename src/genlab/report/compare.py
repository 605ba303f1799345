"""`genlab compare`: train several families on the same data under the same wall-clock budget (or
take given runs), evaluate them in one feature space, and write DIR/report.html + DIR/metrics.json.

DIR/runs/NAME holds each trained run (usable with every other command); DIR/pictures/ the PNGs (and,
for sound, the WAVs) the page embeds. The page itself needs nothing beside it.
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Callable, NamedTuple

import torch

from genlab import viz
from genlab.core.config import DataConfig, TrainConfig
from genlab.core.errors import GenlabError
from genlab.core.fsutil import atomic_write_text
from genlab.data import Dataset, load_dataset
from genlab.metrics.evaluate import draw, evaluate, item_kind
from genlab.metrics.spaces import named_space
from genlab.models import REGISTRY
from genlab.train import runs

PICTURE_SEED = 0
QUALITY_POINTS = 10  # sample-quality rows per trained family (time-to-quality lines): one per tenth of the budget
SHOWN = 8  # test images per row in reconstructions, interpolations and completions
SOUNDS = 4  # sounds of each audio family, and test clips, played in the report


class Picture(NamedTuple):
    path: Path
    caption: str
    plot: bool = False  # a matplotlib figure (shown wider, smoothly scaled) rather than a pixel grid
    sound: Path | None = None  # a .wav the page plays above the picture (its spectrogram)


@dataclass
class Entry:
    """One compared run: its label in the report, the run, its figures and its pictures."""

    label: str
    run: runs.LoadedRun
    report: dict
    training: dict
    pictures: list[Picture] = field(default_factory=list)


def kinds_of(name: str) -> tuple[str, ...]:
    cls = REGISTRY[name]
    return getattr(cls, "data_kinds", ()) or (cls.data_kind,)


def check_families(names: list[str], data: Dataset) -> None:
    unknown = [n for n in names if n not in REGISTRY]
    if unknown:
        raise GenlabError(f"no model family {', '.join(unknown)} in this genlab; the registered families are "
                          f"{', '.join(sorted(REGISTRY))}")
    wrong = [n for n in names if data.kind not in kinds_of(n)]
    if wrong:
        raise GenlabError(f"{', '.join(wrong)} cannot train on {data.spec}, which holds {data.kind} data; "
                          f"families for it: {', '.join(default_families(data)) or 'none'}")


def default_families(data: Dataset) -> list[str]:
    return [n for n in sorted(REGISTRY) if data.kind in kinds_of(n)]


def train_families(names: list[str], data_cfg: DataConfig, budgets: dict[str, float], out: Path, device: str,
                   seed: int, quiet: bool, say: Callable[[str], None], threads: int | None = None,
                   quality: bool = False) -> list[Path]:
    """Train each family with its default options for its `budgets[name]` minutes of wall-clock time
    into out/runs/NAME; `quality`: with sample-quality rows every tenth of the budget (the
    time-to-quality lines)."""
    from genlab import train
    from genlab.metrics.probe import quality_probe

    dirs = [out / "runs" / name for name in names]
    for d in dirs:
        if d.exists() and any(d.iterdir()):
            raise GenlabError(f"{d} already holds files; choose a new --out, or compare existing runs with --runs")
    for name, d in zip(names, dirs):
        minutes = budgets[name]
        every = minutes * 60 / QUALITY_POINTS if quality else None
        cfg = TrainConfig(minutes=minutes, device=device, seed=seed, threads=threads,  # the rest: the family's defaults
                          quality_every=every)
        say(f"training {name} on {data_cfg.data} for {minutes:g} minute(s) -> {d}")
        train.start(name, {}, data_cfg, cfg, d, quiet=quiet, typed={"minutes", "device", "seed", "threads", "quality_every"},
                    probe=partial(quality_probe, quiet=quiet))
    return dirs


def training_summary(run: runs.LoadedRun) -> dict:
    """Epochs, steps and seconds from the run's metrics.csv (its last row), and its sample-quality
    rows (--quality-every) as [training seconds, FID] pairs."""
    path = run.path / "metrics.csv"
    rows = viz.read_metrics(path) if path.is_file() else []
    if not rows:
        return {"steps": run.step}
    last = rows[-1]
    quality = [[float(r["seconds"]), float(r["fid"])] for r in rows if r["split"] == "test" and r.get("fid")]
    return {"steps": int(last["step"]), "epochs": float(last["epoch"]), "seconds": float(last["seconds"]),
            **({"quality": quality} if quality else {})}


def quality_picture(entries: list[Entry], folder: Path) -> Picture | None:
    """FID against training seconds, one line per run that logged sample-quality rows."""
    lines = {e.label: e.training["quality"] for e in entries if e.training.get("quality")}
    if not lines:
        return None
    path = folder / "time_to_quality.png"
    viz.save_line_plot(lines, path, xlabel="training seconds", ylabel="FID (250 samples, domain features; log scale)",
                       title="time to quality", log_y=True)
    return Picture(path, "FID of 250 samples while training, against training seconds, one line per family "
                         "(measured in the data's own feature space every tenth of the budget; biased upward by the "
                         "few samples, so compare the lines, not these values with the table's)", plot=True)


def compare(out: str | Path, data_cfg: DataConfig | None = None, families: list[str] | None = None,
            run_dirs: list[str] | None = None, minutes: float | dict[str, float] = 1.0, n: int = 1000, seeds: int = 1,
            iwae_k: int = 100, limit: int | None = None, seed: int = 0, device: str = "cpu", quiet: bool = False,
            say: Callable[[str], None] = print, features: str = "domain", resize: str = "tf1",
            threads: int | None = None) -> dict:
    """Train (or take) the runs, evaluate them and write the report; returns metrics.json's content.
    `minutes`: every family's training budget, or each family's ({name: minutes}, the demo's split)."""
    from genlab.report.html import budget_words, render_report
    from genlab.train.trainer import resolve_device

    out = Path(out)
    if out.exists() and not out.is_dir():
        raise GenlabError(f"--out {out} is a file; give a folder for the report")
    if len(set(families or [])) < len(families or []) or len(set(map(str, run_dirs or []))) < len(run_dirs or []):
        raise GenlabError("a family or run is named twice; name each once")
    if run_dirs:
        if families:
            raise GenlabError("give --models (train them now) or --runs (compare trained runs), not both")
        loaded = [runs.load(r, device=resolve_device(device)) for r in run_dirs]
        specs = {json.dumps(r.config["data"], sort_keys=True) for r in loaded}
        if len(specs) > 1:
            raise GenlabError("the runs were trained on different data (" + "; ".join(
                f"{r.path}: {r.config['data']['data']}" for r in loaded) + "); compare runs of one data set")
    else:
        data_cfg = data_cfg or DataConfig()
        if any(m is None or not m > 0 for m in (minutes.values() if isinstance(minutes, dict) else [minutes])):
            raise GenlabError("--minutes must be above 0")
        data = load_dataset(data_cfg.data, image_size=data_cfg.image_size, channels=data_cfg.channels,
                            sample_rate=data_cfg.sample_rate)
        families = families or default_families(data)
        check_families(families, data)
        if isinstance(minutes, dict) and set(families) - set(minutes):
            raise GenlabError(f"no training budget for {', '.join(sorted(set(families) - set(minutes)))}")
        budgets = {name: minutes[name] if isinstance(minutes, dict) else minutes for name in families}
        say(f"genlab compare: {len(families)} famil{'y' if len(families) == 1 else 'ies'} "
            f"({', '.join(families)}), {budget_words(budgets)}")
        dirs = train_families(families, data_cfg, budgets, out, device, seed, quiet, say, threads,
                              quality=data.kind in ("image", "points"))
        loaded = [runs.load(d, device=resolve_device(device)) for d in dirs]
    data = loaded[0].dataset()
    test = data.test[:limit] if limit else data.test
    space = (named_space(features, data, resolve_device(device), resize, quiet)
             if n > 0 and data.kind in ("image", "points") else None)
    entries = []
    for run in loaded:
        label = _label(run, loaded)
        say(f"evaluating {label} ({n} samples x {seeds} seed(s) against {len(test)} test items)")
        nearest = out / "pictures" / f"{label}_nearest.png"
        report = evaluate(run.model, data, test, n, [seed + i for i in range(seeds)], iwae_k=iwae_k, seed=seed,
                          picture=nearest, quiet=quiet, space=space)
        entry = Entry(label, run, report, training_summary(run))
        entry.pictures = _pictures(entry, data, out / "pictures", nearest)
        if "nearest_picture" in report.get("sample_setup", {}):  # named from the report folder, which may move
            report["sample_setup"]["nearest_picture"] = shown_path(nearest, out)
        entries.append(entry)
    metrics = {"data": data.spec, "kind": data.kind, "split": data.split_note, "budget_minutes": None if run_dirs else budgets,
               "features": space.name if space else None, "n": n, "seeds": [seed + i for i in range(seeds)],
               "created": time.strftime("%Y-%m-%dT%H:%M:%S"),
               "models": {e.label: {"family": e.run.config["model"], "run": shown_path(e.run.path, out),
                                    "model_config": e.run.config["model_config"], "training": e.training,
                                    **e.report} for e in entries}}
    atomic_write_text(out / "metrics.json", json.dumps(metrics, indent=2) + "\n")
    quality = quality_picture(entries, out / "pictures")
    sound = data.kind == "audio"  # no copying figures for sound; the test clips to listen to instead
    words = [] if sound else memorization_words(entries)
    reference = reference_clips(data, out / "pictures") if sound else []
    atomic_write_text(out / "report.html", render_report(metrics, entries, words, [quality] if quality else [],
                                                          reference))
    say(f"wrote {out / 'report.html'} (open it in a browser) and {out / 'metrics.json'}")
    return metrics


def shown_path(path: Path, out: Path) -> str:
    """A run's path as the report names it: relative to the report folder when inside it (so the
    folder can be moved), else as given."""
    try:
        return str(Path(path).resolve().relative_to(out.resolve()))
    except ValueError:
        return str(path)


def _label(run: runs.LoadedRun, loaded: list[runs.LoadedRun]) -> str:
    family = run.config["model"]
    same = [r for r in loaded if r.config["model"] == family]
    return family if len(same) == 1 else f"{family}-{run.path.name}"


@torch.no_grad()
def _pictures(entry: Entry, data: Dataset, folder: Path, nearest: Path) -> list[Picture]:
    """The run's pictures for the report, written into `folder`."""
    model, label, shown = entry.run.model, entry.label, []
    g = torch.Generator(device=model.device).manual_seed(PICTURE_SEED)
    path = folder / f"{label}_samples.png"
    if item_kind(model) == "points":
        viz.save_points_plot(draw(model, 1000, PICTURE_SEED), path, reference=data.test, title=f"{label} samples")
        shown.append(Picture(path, f"{label}: 1,000 samples (red) over the test points (grey)", plot=True))
    elif data.kind == "image":
        viz.save_grid(draw(model, 64, PICTURE_SEED), path, nrow=8)
        shown.append(Picture(path, f"{label}: 64 samples (seed {PICTURE_SEED})"))
    elif data.kind == "audio":
        shown += _sound_samples(entry, folder)
    if "nearest_picture" in entry.report.get("sample_setup", {}):
        shown.append(Picture(nearest, f"{label}: samples (rows 1, 3) above their nearest training images in "
                                       f"pixel space (rows 2, 4)"))
    if data.kind != "image":
        return shown + _curves(entry)
    test = data.test[:SHOWN].to(model.device)  # fewer where the test split is smaller
    count = len(test)
    if hasattr(model, "complete"):
        from genlab.data.masks import occlude, parse_mask

        hidden = parse_mask("bottom", *data.item_shape[1:])
        done = model.complete(test, hidden, n=2, generator=g).cpu()  # (count*2, C, H, W), each image's two in turn
        done = done.view(count, 2, *done.shape[1:]).transpose(0, 1).reshape(-1, *done.shape[1:])  # completion-major
        path = folder / f"{label}_completions.png"
        viz.save_grid(torch.cat([test.cpu(), occlude(test.cpu(), hidden), done]), path, nrow=count)
        shown.append(Picture(path, f"{label}: test images (row 1), their bottom half hidden (row 2), and two "
                            f"completions of each (rows 3-4)"))
    if hasattr(model, "reconstruct"):
        path = folder / f"{label}_reconstructions.png"
        viz.save_grid(viz.interleave_rows(test.cpu(), model.reconstruct(test).cpu(), count), path, nrow=count)
        shown.append(Picture(path, f"{label}: test images (row 1) and their reconstructions (row 2)"))
    pairs = min(SHOWN // 2, count // 2)  # lines between test images 0..P-1 and P..2P-1
    if hasattr(model, "encode_images") and hasattr(model, "decode") and pairs:
        from genlab.models.latent import lerp_codes

        ends = model.encode_images(data.test[:pairs]), model.encode_images(data.test[pairs:2 * pairs])
        path = folder / f"{label}_interpolations.png"
        viz.save_grid(model.decode(lerp_codes(*ends, 10)).cpu(), path, nrow=10)
        shown.append(Picture(path, f"{label}: straight lines in latent space between the codes of two test images "
                            f"(one per row, ends included)"))
    return shown + _curves(entry)


def _sound_samples(entry: Entry, folder: Path) -> list[Picture]:
    """SOUNDS samples of the length `evaluate` judges, each a .wav with its spectrogram; a
    class-conditional run's sound i asks for class i mod classes."""
    from genlab.metrics.audio import EVAL_SECONDS

    model = entry.run.model
    g = torch.Generator(device=model.device).manual_seed(PICTURE_SEED)
    sounds = model.sample(SOUNDS, generator=g, seconds=EVAL_SECONDS).cpu()  # (SOUNDS, S)
    names = entry.run.label_names or []
    asked = [f" asked for {_class_name(i % model.label_count, names)}" if model.label_count else ""
             for i in range(SOUNDS)]
    wavs = viz.save_audio(sounds, folder / f"{entry.label}_samples", model.sample_rate)  # one .wav + .png each
    return [Picture(wav.with_suffix(".png"), f"{entry.label}: sample {i}{asked[i]} (seed {PICTURE_SEED}), "
                                             f"its waveform and spectrogram", plot=True, sound=wav)
            for i, wav in enumerate(wavs)]


def _class_name(label: int, names: list[str]) -> str:
    return f"“{names[label]}”" if label < len(names) else f"class {label}"


def reference_clips(data: Dataset, folder: Path) -> list[Picture]:
    """The first SOUNDS test clips, to hear what the families were trained to say."""
    (rate,) = data.item_shape  # one-second clips
    wavs = viz.save_audio(data.test[:SOUNDS], folder / "test_clips", rate)
    labels = data.test_labels.tolist() if data.test_labels is not None else []
    return [Picture(wav.with_suffix(".png"), f"test clip {i}" + (f", {_class_name(labels[i], data.label_names or [])}"
                                                                  if labels else ""), plot=True, sound=wav)
            for i, wav in enumerate(wavs)]


def _curves(entry: Entry) -> list[Picture]:
    names = {"loss.png": "training (line) and test (dots) figures per step", "game.png": "the game: D's and G's losses"}
    return [Picture(entry.run.path / f, f"{entry.label}: {what}", plot=True) for f, what in names.items()
            if (entry.run.path / f).is_file()]


def memorization_words(entries: list[Entry]) -> list[str]:
    """Plain sentences: does each model copy its training images? Then how the families differ."""
    lines, ratios = [], {}
    for e in entries:
        space = "pixels" if "nn_ratio_pixels" in e.report else "features"
        if f"nn_ratio_{space}" not in e.report:
            lines.append(f"{e.label}: no sample figures ({e.report.get('sample_figures', 'not computed')}).")
            continue
        ratio, share = e.report[f"nn_ratio_{space}"]["mean"], e.report[f"copy_share_{space}"]["mean"]
        ratios[e.label] = ratio
        if ratio < 0.5:
            verdict = ("copies its training images: its samples lie much closer to a training image than new test "
                       "images do")
        elif ratio < 0.85:
            verdict = "leans on its training images: its samples lie closer to them than new test images do"
        elif ratio <= 1.2:
            verdict = ("makes new images: its samples lie about as far from their nearest training image as "
                       "unseen test images do")
        else:
            verdict = ("makes images unlike any training image, further from the training set than test images "
                       "are: a sign of unrealistic samples (blur, artefacts) rather than of copying")
        lines.append(f"{e.label} {verdict} (distance ratio {ratio:.2f} in {space}; {100 * share:.1f}% of its "
                     f"samples are closer to a training image than the closest test image is).")
    if len(ratios) > 1:
        low = min(ratios, key=ratios.get)
        lines.append(f"Closest to its training images: {low} (ratio {ratios[low]:.2f}); a ratio well below 1 is "
                     f"what copying looks like.")
    if "vae" in ratios and "gan" in ratios:
        vae, gan = ratios["vae"], ratios["gan"]
        if min(vae, gan) >= 0.85:
            found = "neither copies its training images"
        elif vae < gan:
            found = "the VAE stays closer to the images it was shown, as the notes expect"
        else:
            found = "the GAN's samples are the closer ones, against the notes' expectation"
        lines.append(f"The notes expect the VAE to imitate the images it has seen and the GAN, whose generator "
                     f"never sees one, to make new ones. Here {found} (ratio {vae:.2f} for the VAE, {gan:.2f} "
                     f"for the GAN).")
    return lines
