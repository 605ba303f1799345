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

from genlab.errors import GenlabError
from genlab.fsutil import atomic_write_bytes, atomic_write_with


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
        canvas[:, y:y + h, x:x + w] = images[i]
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


def _save_npz(path: Path, **arrays: np.ndarray) -> None:
    def write(tmp: Path) -> None:
        with open(tmp, "wb") as fh:
            np.savez(fh, **arrays)

    atomic_write_with(path, write)


def check_output_path(out: str | Path) -> Path:
    """Validate --out before any work is done: .png, .npz, or a folder (no suffix)."""
    out = Path(out)
    if out.suffix.lower() not in ("", ".png", ".npz"):
        raise GenlabError(f"--out {out}: use a .png file (grid), a .npz file (arrays) or a folder (one PNG each)")
    if out.suffix == "" and out.exists() and not out.is_dir():
        raise GenlabError(f"--out {out} is a file; give a folder, a .png or a .npz path")
    if out.suffix and out.is_dir():
        raise GenlabError(f"--out {out} is a folder; give a file name ending in .png or .npz")
    return out


def save_output(data: torch.Tensor, out: str | Path, nrow: int | None = None) -> list[Path]:
    """Write uint8 images (N, C, H, W) or float points (N, 2) the way --out asks; return the paths."""
    out = check_output_path(out)
    data = data.detach().cpu()
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


def save_points_plot(points: torch.Tensor, path: str | Path, reference: torch.Tensor | None = None,
                     title: str | None = None) -> None:
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
    for ax in list(axes.flat)[len(keys):]:
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
