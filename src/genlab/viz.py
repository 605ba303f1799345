"""Pictures and output files: image grids, point scatters, loss curves, latent maps.

`save_output` is the one writer behind `sample`, `complete` and `interpolate`: `.png` -> a grid,
`.npz` -> the raw arrays, a folder -> one PNG per image.
"""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from genlab.core.errors import GenlabError
from genlab.core.fsutil import atomic_write_bytes, atomic_write_with


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def image_grid(images: torch.Tensor, nrow: int | None = None, pad: int = 2, min_side: int = 256) -> Image.Image:
    """uint8 images (N, C, H, W) -> one PIL image, nrow per row, upscaled (nearest) so small
    images stay visible; pad pixels of mid-grey between tiles."""
    images = images.detach().cpu()
    n, c, h, w = images.shape
    nrow = nrow or math.ceil(math.sqrt(n))
    rows = math.ceil(n / nrow)
    canvas = torch.full((c, rows * (h + pad) + pad, nrow * (w + pad) + pad), 128, dtype=torch.uint8)
    for i in range(n):
        r, col = divmod(i, nrow)
        y, x = pad + r * (h + pad), pad + col * (w + pad)
        canvas[:, y : y + h, x : x + w] = images[i]
    array = canvas.permute(1, 2, 0).numpy()  # (C, H, W) -> (H, W, C)
    pic = Image.fromarray(array[:, :, 0] if c == 1 else array, "L" if c == 1 else "RGB")
    scale = max(1, math.ceil(min_side / max(pic.size)))
    return pic.resize((pic.width * scale, pic.height * scale), Image.NEAREST) if scale > 1 else pic


def save_png(pic: Image.Image, path: str | Path) -> None:
    buf = io.BytesIO()
    pic.save(buf, format="PNG")
    atomic_write_bytes(path, buf.getvalue())


def save_grid(images: torch.Tensor, path: str | Path, nrow: int | None = None) -> None:
    save_png(image_grid(images, nrow), path)


def interleave_rows(top: torch.Tensor, bottom: torch.Tensor, per_row: int) -> torch.Tensor:
    """Alternate rows of `top` and `bottom` images so each image sits above its counterpart."""
    rows = [t for pair in zip(top.split(per_row), bottom.split(per_row)) for t in pair]
    return torch.cat(rows)


def _save_npz(path: Path, **arrays: np.ndarray) -> None:
    def write(tmp: Path) -> None:
        with open(tmp, "wb") as fh:
            np.savez(fh, **arrays)

    atomic_write_with(path, write)


def save_npz(path: str | Path, **arrays: np.ndarray) -> None:
    """Named arrays into one .npz file, written atomically (e.g. `genlab complete`'s original, mask, completions)."""
    _save_npz(Path(path), **arrays)


def check_output_path(out: str | Path) -> Path:
    """Validate --out before any work is done: .png, .npz, a folder (no suffix), or .wav for sound."""
    out = Path(out)
    if out.suffix.lower() not in ("", ".png", ".npz", ".wav"):
        raise GenlabError(
            f"--out {out}: use a .png file (grid), a .npz file (arrays), a folder (one PNG each) "
            "or, for sound, a .wav file"
        )
    if out.suffix == "" and out.exists() and not out.is_dir():
        raise GenlabError(f"--out {out} is a file; give a folder, a .png or a .npz path")
    if out.suffix and out.is_dir():
        raise GenlabError(f"--out {out} is a folder; give a file name ending in .png, .npz or .wav")
    return out


def save_output(
    data: torch.Tensor, out: str | Path, nrow: int | None = None, sample_rate: int | None = None
) -> list[Path]:
    """Write uint8 images (N, C, H, W), float points (N, 2) or float sounds (N, S) with S > 2 at
    `sample_rate` Hz the way --out asks; return the paths."""
    out = check_output_path(out)
    data = data.detach().cpu()
    if data.dim() == 2 and data.shape[1] > 2:
        return save_audio(data, out, sample_rate)
    if out.suffix.lower() == ".wav":
        raise GenlabError(f"--out {out}: a .wav file holds sound; write images or points to .png, .npz or a folder")
    points = data.dim() == 2
    if out.suffix.lower() == ".npz":
        _save_npz(out, **({"points": data.numpy()} if points else {"images": data.numpy()}))
        return [out]
    if out.suffix.lower() == ".png":
        save_points_plot(data, out) if points else save_grid(data, out, nrow)
        return [out]
    out.mkdir(parents=True, exist_ok=True)
    if points:
        _save_npz(out / "points.npz", points=data.numpy())
        return [out / "points.npz"]
    paths = []
    for i, img in enumerate(data):
        paths.append(out / f"{i:04d}.png")
        save_png(image_grid(img[None], pad=0, min_side=0), paths[-1])
    return paths


def save_points_plot(
    points: torch.Tensor, path: str | Path, reference: torch.Tensor | None = None, title: str | None = None
) -> None:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5, 5), dpi=100)
    if reference is not None:
        ax.scatter(*reference[:, :2].T.cpu().numpy(), s=3, c="#999999", alpha=0.4, label="data")
    ax.scatter(*points[:, :2].T.cpu().numpy(), s=3, c="#d62728", alpha=0.6, label="samples")
    ax.set_aspect("equal")
    if reference is not None:
        ax.legend(loc="upper right")
    if title:
        ax.set_title(title)
    _save_figure(fig, path)


def save_line_plot(
    lines: dict[str, list], path: str | Path, xlabel: str, ylabel: str, title: str | None = None, log_y: bool = False
) -> None:
    """One line (with dots) per name through its [x, y] points."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 4), dpi=100)
    for name, points in lines.items():
        ax.plot(*zip(*points), "o-", markersize=3, label=name)
    if log_y:
        ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    ax.legend()
    ax.grid(alpha=0.3)
    _save_figure(fig, path)


def _save_figure(fig, path: str | Path) -> None:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", bbox_inches="tight")
    _pyplot().close(fig)
    atomic_write_bytes(path, buf.getvalue())


def read_metrics(csv_path: str | Path) -> list[dict[str, str]]:
    with open(csv_path, newline="") as fh:
        return list(csv.DictReader(fh))


def plot_metrics(csv_path: str | Path, png_path: str | Path) -> None:
    """One panel per logged figure: training rows as a line, test rows as dots, against step."""
    rows = read_metrics(csv_path)
    if not rows:
        return
    keys = [k for k in rows[0] if k not in ("step", "epoch", "seconds", "split")]
    plt = _pyplot()
    cols = min(3, len(keys))
    nrows = math.ceil(len(keys) / cols)
    fig, axes = plt.subplots(nrows, cols, figsize=(4.5 * cols, 3.2 * nrows), dpi=90, squeeze=False)
    for ax, key in zip(axes.flat, keys):
        for split, style in (("train", "-"), ("test", "o-")):
            pts = [(int(r["step"]), float(r[key])) for r in rows if r["split"] == split and r[key] not in ("", None)]
            if pts:
                ax.plot(*zip(*pts), style, label=split, markersize=3)
        ax.set_title(key)
        ax.set_xlabel("step")
        ax.legend()
    for ax in list(axes.flat)[len(keys) :]:
        ax.axis("off")
    fig.tight_layout()
    _save_figure(fig, png_path)


def save_latent_scatter(codes: torch.Tensor, labels: torch.Tensor | None, path: str | Path) -> None:
    """Test-set codes in a 2-D latent space, coloured by label."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 5), dpi=100)
    codes = codes.cpu().numpy()
    if labels is None:
        ax.scatter(codes[:, 0], codes[:, 1], s=4, alpha=0.6)
    else:
        labels = labels.cpu().numpy()
        for i, label in enumerate(np.unique(labels)):
            pick = labels == label
            ax.scatter(codes[pick, 0], codes[pick, 1], s=4, alpha=0.7, color=plt.cm.tab10(i % 10), label=str(label))
        ax.legend(title="label", markerscale=3, loc="center left", bbox_to_anchor=(1.0, 0.5))
    ax.set_xlabel("z1")
    ax.set_ylabel("z2")
    ax.set_title("test codes (posterior means)")
    _save_figure(fig, path)


# --- sound (WaveNet) ------------------------------------------------------------------------------
AUDIO_GAP_SECONDS = 0.25  # silence between sounds written one after another into one .wav
AUDIO_PLOT_ROWS = 8


def save_audio(clips: torch.Tensor, out: Path, sample_rate: int | None = None) -> list[Path]:
    """float sounds (N, S) in [-1, 1]: .wav -> all of them one after another with short silences
    between, .png -> waveforms and spectrograms, .npz -> the arrays, a folder -> one .wav each;
    every .wav gets a .png of the same name beside it (waveforms and spectrograms of what it holds)."""
    from genlab.data.sound.wav import DEFAULT_SAMPLE_RATE, write_wav

    rate = sample_rate or DEFAULT_SAMPLE_RATE
    suffix = out.suffix.lower()
    if suffix == ".npz":
        _save_npz(out, audio=clips.numpy().astype(np.float32), sample_rate=np.array(rate))
        return [out]
    if suffix == ".png":
        save_audio_plot(clips, out, rate)
        return [out]
    if suffix == ".wav":
        gap = torch.zeros(len(clips), round(AUDIO_GAP_SECONDS * rate))
        joined = torch.cat([clips, gap], 1).flatten()[: -gap.shape[1] or None]  # (N, S + G) -> (N*(S+G) - G,)
        write_wav(out, joined, rate)
        save_audio_plot(clips, out.with_suffix(".png"), rate)
        return [out, out.with_suffix(".png")]
    out.mkdir(parents=True, exist_ok=True)
    paths = [out / f"{i:04d}.wav" for i in range(len(clips))]
    for path, clip in zip(paths, clips):
        write_wav(path, clip, rate)
        save_audio_plot(clip[None], path.with_suffix(".png"), rate)
    return paths


def save_audio_plot(clips: torch.Tensor, path: str | Path, sample_rate: int) -> None:
    """The first few sounds, one row each: waveform (left) and spectrogram (right)."""
    from genlab.data.sound.spectrogram import DB_FLOOR, power_spectrogram

    plt = _pyplot()
    rows = min(len(clips), AUDIO_PLOT_ROWS)
    fig, axes = plt.subplots(
        rows, 2, figsize=(11, 1.7 * rows), dpi=90, squeeze=False, gridspec_kw={"width_ratios": [1, 1.4]}
    )
    nfft = 256 if sample_rate <= 16000 else 512
    for i in range(rows):
        x = clips[i].numpy()
        t = np.arange(len(x)) / sample_rate
        axes[i, 0].plot(t, x, lw=0.4, color="#1f77b4")
        axes[i, 0].set_ylim(-1, 1)
        axes[i, 0].set_ylabel(f"#{i}")
        if len(x) > nfft:
            db = 10 * np.log10(power_spectrogram(clips[i : i + 1], nfft, nfft // 2)[0].T.numpy() + DB_FLOOR)  # (K, F)
            axes[i, 1].imshow(
                db,
                origin="lower",
                aspect="auto",
                cmap="magma",
                vmin=db.max() - 80,
                vmax=db.max(),
                extent=(0, len(x) / sample_rate, 0, sample_rate / 2),
            )
        axes[i, 1].set_ylabel("Hz")
    axes[-1, 0].set_xlabel("seconds")
    axes[-1, 1].set_xlabel("seconds")
    axes[0, 0].set_title("waveform")
    axes[0, 1].set_title(f"spectrogram ({sample_rate} Hz)")
    fig.tight_layout()
    _save_figure(fig, path)
