"""The compare report's pictures of a run, drawn into the report's pictures/ folder: samples (a
column per class for a class-conditional run; sounds with their spectrograms), nearest training
images, completions, reconstructions and latent interpolations as the family's capabilities allow,
its training curves; and the pictures of the whole report: time to quality, the test clips."""

from __future__ import annotations

from pathlib import Path

import torch

from genlab import viz
from genlab.data import Dataset
from genlab.metrics.evaluate import draw, item_kind
from genlab.models import Capability
from genlab.report.entry import Entry, Picture
from genlab.train import runs

PICTURE_SEED = 0
SHOWN = 8  # test images per row in reconstructions, interpolations and completions
SOUNDS = 4  # sounds of each audio family, and test clips, played in the report


@torch.no_grad()
def run_pictures(entry: Entry, run: runs.LoadedRun, data: Dataset, folder: Path, nearest: Path) -> list[Picture]:
    """The run's pictures for the report, written into `folder`."""
    model, label, shown = run.model, entry.label, []
    g = torch.Generator(device=model.device).manual_seed(PICTURE_SEED)
    path = folder / f"{label}_samples.png"
    if item_kind(model) == "points":
        viz.save_points_plot(draw(model, 1000, PICTURE_SEED), path, reference=data.test, title=f"{label} samples")
        shown.append(Picture(path, f"{label}: 1,000 samples (red) over the test points (grey)", plot=True))
    elif data.kind == "image" and model.label_count:  # one column per class, as `genlab sample` draws them
        classes = model.label_count
        viz.save_grid(draw(model, classes * -(-64 // classes), PICTURE_SEED), path, nrow=classes)
        names = run.label_names or [str(k) for k in range(classes)]
        shown.append(
            Picture(path, f"{label}: samples (seed {PICTURE_SEED}), column k asked for class k ({', '.join(names)})")
        )
    elif data.kind == "image":
        viz.save_grid(draw(model, 64, PICTURE_SEED), path, nrow=8)
        shown.append(Picture(path, f"{label}: 64 samples (seed {PICTURE_SEED})"))
    elif data.kind == "audio":
        shown += _sound_samples(entry, run, folder)
    if "nearest_picture" in entry.report.get("sample_setup", {}):
        shown.append(
            Picture(
                nearest, f"{label}: samples (rows 1, 3) above their nearest training images in pixel space (rows 2, 4)"
            )
        )
    if data.kind != "image":
        return shown + _curves(entry)
    test = data.test[:SHOWN].to(model.device)  # fewer where the test split is smaller
    count = len(test)
    if model.can(Capability.COMPLETES):
        from genlab.data.inputs.masks import occlude, parse_mask

        hidden = parse_mask("bottom", *data.item_shape[1:])
        done = model.complete(test, hidden, n=2, generator=g).cpu()  # (count*2, C, H, W), each image's two in turn
        done = done.view(count, 2, *done.shape[1:]).transpose(0, 1).reshape(-1, *done.shape[1:])  # completion-major
        path = folder / f"{label}_completions.png"
        viz.save_grid(torch.cat([test.cpu(), occlude(test.cpu(), hidden), done]), path, nrow=count)
        shown.append(
            Picture(
                path,
                f"{label}: test images (row 1), their bottom half hidden (row 2), and two "
                f"completions of each (rows 3-4)",
            )
        )
    if model.can(Capability.ENCODES):
        path = folder / f"{label}_reconstructions.png"
        own = data.test_labels[:count] if model.label_count else None  # a conditional model: each image's own class
        viz.save_grid(viz.interleave_rows(test.cpu(), model.reconstruct(test, own).cpu(), count), path, nrow=count)
        shown.append(Picture(path, f"{label}: test images (row 1) and their reconstructions (row 2)"))
    pairs = min(SHOWN // 2, count // 2)  # lines between test images 0..P-1 and P..2P-1
    if model.can(Capability.ENCODES) and model.can(Capability.LATENT) and pairs:
        from genlab.core.interpolation import lerp_codes

        held = data.test_labels[:pairs] if model.label_count else None  # a conditional model: the start's class
        ends = model.encode_images(data.test[:pairs], held), model.encode_images(data.test[pairs : 2 * pairs], held)
        path = folder / f"{label}_interpolations.png"
        line = {"labels": held.repeat_interleave(10)} if held is not None else {}
        viz.save_grid(model.decode(lerp_codes(*ends, 10), **line).cpu(), path, nrow=10)
        shown.append(
            Picture(
                path,
                f"{label}: straight lines in latent space between the codes of two test images "
                f"(one per row, ends included)",
            )
        )
    return shown + _curves(entry)


def _sound_samples(entry: Entry, run: runs.LoadedRun, folder: Path) -> list[Picture]:
    """SOUNDS samples of the length `evaluate` judges, each a .wav with its spectrogram; a
    class-conditional run's sound i asks for class i mod classes."""
    from genlab.metrics.audio import EVAL_SECONDS

    model = run.model
    g = torch.Generator(device=model.device).manual_seed(PICTURE_SEED)
    sounds = model.sample(SOUNDS, generator=g, seconds=EVAL_SECONDS).cpu()  # (SOUNDS, S)
    names = run.label_names or []
    asked = [
        f" asked for {_class_name(i % model.label_count, names)}" if model.label_count else "" for i in range(SOUNDS)
    ]
    wavs = viz.save_audio(sounds, folder / f"{entry.label}_samples", model.sample_rate)  # one .wav + .png each
    return [
        Picture(
            wav.with_suffix(".png"),
            f"{entry.label}: sample {i}{asked[i]} (seed {PICTURE_SEED}), its waveform and spectrogram",
            plot=True,
            sound=wav,
        )
        for i, wav in enumerate(wavs)
    ]


def _class_name(label: int, names: list[str]) -> str:
    return f"“{names[label]}”" if label < len(names) else f"class {label}"


def reference_clips(data: Dataset, folder: Path) -> list[Picture]:
    """The first SOUNDS test clips, to hear what the families were trained to say."""
    (rate,) = data.item_shape  # one-second clips
    wavs = viz.save_audio(data.test[:SOUNDS], folder / "test_clips", rate)
    labels = data.test_labels.tolist() if data.test_labels is not None else []
    return [
        Picture(
            wav.with_suffix(".png"),
            f"test clip {i}" + (f", {_class_name(labels[i], data.label_names or [])}" if labels else ""),
            plot=True,
            sound=wav,
        )
        for i, wav in enumerate(wavs)
    ]


def _curves(entry: Entry) -> list[Picture]:
    names = {"loss.png": "training (line) and test (dots) figures per step", "game.png": "the game: D's and G's losses"}
    return [
        Picture(entry.path / f, f"{entry.label}: {what}", plot=True)
        for f, what in names.items()
        if (entry.path / f).is_file()
    ]


def quality_picture(entries: list[Entry], folder: Path) -> Picture | None:
    """FID against training seconds, one line per run that logged sample-quality rows."""
    lines = {e.label: e.training["quality"] for e in entries if e.training.get("quality")}
    if not lines:
        return None
    path = folder / "time_to_quality.png"
    viz.save_line_plot(
        lines,
        path,
        xlabel="training seconds",
        ylabel="FID (250 samples, domain features; log scale)",
        title="time to quality",
        log_y=True,
    )
    return Picture(
        path,
        "FID of 250 samples while training, against training seconds, one line per family "
        "(measured in the data's own feature space every tenth of the budget; biased upward by the "
        "few samples, so compare the lines, not these values with the table's)",
        plot=True,
    )
