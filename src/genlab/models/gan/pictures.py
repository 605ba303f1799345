"""Watching a GAN train: per-epoch figures, the collapse warning, 2-D frames and the animation.

For 2-D data every epoch draws `frames/epoch_NNNN.png`: the real points, the points the live
generator makes from fixed noise, and the discriminator's output over the plane as a heat map
(green where D says "real", purple where it says "generated"), as in GAN Lab (Kahng et al. 2019)
and Karpathy's GAN demo. `--animate` turns the frames into `training.gif` when training stops.
Every run also gets `game.png`: D's and G's losses, and D(real) against D(fake), on shared axes.

Each epoch logs `diversity` (metrics.modes.diversity_ratio of 256 samples against 256 training
items) and, on toy:gmm8 / toy:grid25, `modes_covered` and `high_quality` (2,500 samples). The
first time diversity *falls* below COLLAPSE_RATIO (having reached twice that before: a generator
starts out narrow) one warning line goes to stderr.

Frames are drawn with numpy and PIL, not matplotlib: a frame costs a few milliseconds, so toy runs
(epochs of a fraction of a second) are not slowed down by their pictures. Nothing here draws from
the global random generator, so pictures never change the training run (exact resume holds).
"""

from __future__ import annotations

import io
import sys
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFont
from tqdm import tqdm

from genlab import viz
from genlab.core.fsutil import atomic_write_bytes
from genlab.data import toy_modes
from genlab.models.base import TrainingPictures, TrainingView
from genlab.models.gan.losses import PROBABILITY_LOSSES
from genlab.models.gan.modes import MODE_SAMPLES, diversity_ratio, mode_coverage

COLLAPSE_RATIO = 0.25  # warn when samples become spread this much less than the data
DIVERSITY_ITEMS = 256
FRAME_SIDE = 384  # pixels of the plotted plane
HEADER = 22  # pixels of caption above it
HEAT_GRID = 96  # D is evaluated on HEAT_GRID² points, then the picture is scaled up smoothly
FRAME_POINTS = 1000
GIF_FRAMES = 150  # at most this many frames (evenly spread, the last always in) go into the GIF
WATCH_SEED = 4321  # fixed noise and fixed real subsets for every epoch's figures and frames
REAL_RGB, FAKE_RGB = (30, 30, 30), (230, 85, 13)
_RAMP = np.array([[175, 141, 195], [247, 247, 247], [127, 191, 123]], np.float32)  # purple, white, green


# --- 2-D frames -----------------------------------------------------------------------------------
def plane_bounds(points: torch.Tensor, margin: float = 0.25) -> tuple[float, float, float, float]:
    """A square (x0, x1, y0, y1) around the points with `margin` of their extent on each side."""
    lo, hi = points.min(0).values.tolist(), points.max(0).values.tolist()
    half = max(hi[0] - lo[0], hi[1] - lo[1], 1e-3) * (0.5 + margin)
    cx, cy = (lo[0] + hi[0]) / 2, (lo[1] + hi[1]) / 2
    return cx - half, cx + half, cy - half, cy + half


def plane_grid(bounds, n: int) -> torch.Tensor:
    """Centres of an n x n grid over bounds, row-major from the top row (largest y): (n*n, 2)."""
    x0, x1, y0, y1 = bounds
    xs = x0 + (torch.arange(n) + 0.5) * (x1 - x0) / n
    ys = y1 - (torch.arange(n) + 0.5) * (y1 - y0) / n
    gy, gx = torch.meshgrid(ys, xs, indexing="ij")
    return torch.stack([gx.flatten(), gy.flatten()], 1)  # (n, n) each -> (n*n, 2)


def discriminator_heat(model, bounds, n: int = HEAT_GRID) -> tuple[np.ndarray, str]:
    """D's output over the plane mapped to [0, 1] (n, n), and what the colours mean."""
    out = model.discriminator_view(plane_grid(bounds, n)).float().cpu().view(n, n)  # (n*n,) -> (n, n)
    loss = model.config.loss
    if loss in PROBABILITY_LOSSES:
        return out.numpy(), "D(x) = P(real)"
    if loss == "least-squares":
        return out.clamp(0, 1).numpy(), "D(x), 0 generated .. 1 real"
    lo, hi = float(out.min()), float(out.max())
    return ((out - lo) / max(hi - lo, 1e-12)).numpy(), f"D score {lo:.3g} .. {hi:.3g}"


def _heat_rgb(heat: np.ndarray) -> np.ndarray:
    """Values in [0, 1] (n, n) -> pastel purple-white-green colours (n, n, 3) uint8."""
    t = np.clip(heat, 0, 1)[..., None] * 2  # (n, n, 1) in [0, 2]
    low = _RAMP[0] + (_RAMP[1] - _RAMP[0]) * np.clip(t, 0, 1)
    high = _RAMP[1] + (_RAMP[2] - _RAMP[1]) * np.clip(t - 1, 0, 1)
    return np.where(t <= 1, low, high).round().astype(np.uint8)


def _dots(canvas: np.ndarray, points: np.ndarray, bounds, rgb) -> None:
    """Draw points (N, 2) as 3x3 squares onto canvas (S, S, 3); points off the plane are skipped."""
    side = canvas.shape[0]
    x0, x1, y0, y1 = bounds
    px = np.round((points[:, 0] - x0) / (x1 - x0) * (side - 1)).astype(np.int64)
    py = np.round((y1 - points[:, 1]) / (y1 - y0) * (side - 1)).astype(np.int64)
    inside = (px >= 1) & (px < side - 1) & (py >= 1) & (py < side - 1)
    px, py = px[inside], py[inside]
    for dy in (-1, 0, 1):
        for dx in (-1, 0, 1):
            canvas[py + dy, px + dx] = rgb


def render_frame(
    real: torch.Tensor, fake: torch.Tensor, heat: np.ndarray | None, bounds, caption: str, heat_label: str = ""
) -> Image.Image:
    """One picture of the game on the plane: heat map of D, real points (dark), generated (orange)."""
    if heat is None:
        canvas = np.full((FRAME_SIDE, FRAME_SIDE, 3), 255, np.uint8)
    else:
        small = Image.fromarray(_heat_rgb(heat), "RGB")
        canvas = np.array(small.resize((FRAME_SIDE, FRAME_SIDE), Image.Resampling.BILINEAR))
    x0, x1, y0, y1 = bounds
    axis = (170, 170, 170)
    if x0 < 0 < x1:
        canvas[:, round(-x0 / (x1 - x0) * (FRAME_SIDE - 1))] = axis
    if y0 < 0 < y1:
        canvas[round(y1 / (y1 - y0) * (FRAME_SIDE - 1))] = axis
    _dots(canvas, real.detach().float().cpu().numpy(), bounds, REAL_RGB)
    _dots(canvas, fake.detach().float().cpu().numpy(), bounds, FAKE_RGB)
    pic = Image.new("RGB", (FRAME_SIDE, FRAME_SIDE + 2 * HEADER), (255, 255, 255))
    pic.paste(Image.fromarray(canvas, "RGB"), (0, HEADER))
    draw, font = ImageDraw.Draw(pic), ImageFont.load_default()
    draw.text((4, 5), caption, fill=(0, 0, 0), font=font)
    y = FRAME_SIDE + HEADER + 5
    draw.rectangle((4, y + 2, 10, y + 8), fill=REAL_RGB)
    draw.text((14, y), "real", fill=(0, 0, 0), font=font)
    draw.rectangle((48, y + 2, 54, y + 8), fill=FAKE_RGB)
    draw.text((58, y), "generated (live G)", fill=(0, 0, 0), font=font)
    if heat_label:
        draw.text((160, y), f"background: {heat_label}", fill=(0, 0, 0), font=font)
    return pic


def save_gif(
    frames: list[Path], out: Path, ms_per_frame: int = 80, hold_last_ms: int = 1500, most: int = GIF_FRAMES
) -> int:
    """Animate PNG frames into a looping GIF (at most `most`, evenly spread, ending on the last);
    returns the number of frames used."""
    if not frames:
        return 0
    if len(frames) > most:
        picks = sorted({round(i * (len(frames) - 1) / (most - 1)) for i in range(most)})
        frames = [frames[i] for i in picks]
    images = []
    for path in frames:
        with Image.open(path) as im:
            images.append(im.convert("RGB").quantize(64))
    durations = [ms_per_frame] * (len(images) - 1) + [hold_last_ms]
    buf = io.BytesIO()
    images[0].save(buf, format="GIF", save_all=True, append_images=images[1:], duration=durations, loop=0)
    atomic_write_bytes(out, buf.getvalue())
    return len(images)


# --- the game's curves --------------------------------------------------------------------------
def plot_game(csv_path: Path, png_path: Path) -> None:
    """D and G losses on one panel, D(real) and D(fake) on another (train rows), from metrics.csv."""
    rows = [r for r in viz.read_metrics(csv_path) if r["split"] == "train"]
    if not rows:
        return
    plt = viz._pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.4), dpi=90)
    steps = [int(r["step"]) for r in rows]
    for ax, keys, title in (
        (axes[0], ("d_loss", "g_loss"), "losses"),
        (axes[1], ("d_real", "d_fake"), "D on real and on generated items"),
    ):
        for key in keys:
            ax.plot(steps, [float(r[key]) for r in rows], label=key)
        ax.set_title(title)
        ax.set_xlabel("step")
        ax.legend()
    fig.tight_layout()
    viz._save_figure(fig, png_path)


# --- the hooks ----------------------------------------------------------------------------------
class GANPictures(TrainingPictures):
    """Per-epoch figures and pictures of a GAN run, and its game plot (and animation) at the end."""

    def __init__(self, trainer: TrainingView):
        model = trainer.model
        self.points = model.data_kind == "points"
        self.warned = False
        self.peak = 0.0  # the highest diversity so far
        g = torch.Generator().manual_seed(WATCH_SEED)
        data = trainer.train_data
        keep = max(DIVERSITY_ITEMS, FRAME_POINTS) if self.points else DIVERSITY_ITEMS
        pick = torch.randperm(len(data), generator=g)[:keep].to(data.device)
        self.real = data[pick]  # a fixed subset of prepared training items
        self.modes = toy_modes(trainer.data_spec) if self.points else None
        if self.points:
            self.bounds = plane_bounds(data)
            self.frame_z = model.prior(FRAME_POINTS, torch.Generator(model.device).manual_seed(WATCH_SEED))

    def _generator(self, model) -> torch.Generator:
        return torch.Generator(device=model.device).manual_seed(WATCH_SEED)

    @torch.no_grad()
    def epoch(self, trainer: TrainingView) -> dict[str, float]:
        model = trainer.model
        model.eval()
        c = trainer.counters
        samples = model.prepare(model.sample(DIVERSITY_ITEMS, self._generator(model)))
        figures = {"diversity": diversity_ratio(samples, self.real[:DIVERSITY_ITEMS], n=DIVERSITY_ITEMS)}
        if self.modes is not None:
            cover = mode_coverage(model.sample(MODE_SAMPLES, self._generator(model)), *self.modes)
            figures.update(modes_covered=cover["modes_covered"], high_quality=cover["high_quality"])
        self.peak = max(self.peak, figures["diversity"])
        if figures["diversity"] < COLLAPSE_RATIO <= self.peak / 2 and not self.warned:
            self.warned = True
            tqdm.write(
                f"genlab: warning: possible mode collapse at epoch {c.epoch}: samples are spread "
                f"{figures['diversity']:.2f}x as much as the data (below {COLLAPSE_RATIO}); see "
                f"samples/, and try --loss wgan-gp, --spectral-norm or a lower --lr",
                file=sys.stderr,
            )
        if self.points:
            heat, label = discriminator_heat(model, self.bounds)
            fake = model.generate(self.frame_z, net=model.generator)  # the live G that D plays against
            caption = f"epoch {c.epoch}  step {c.step}  {model.config.loss}"
            if "modes_covered" in figures:  # of the samples (the EMA generator's, when there is one)
                caption += (
                    f"  samples: {figures['modes_covered']}/{len(self.modes[0])} modes, "
                    f"{100 * figures['high_quality']:.0f}% high quality"
                )
            viz.save_png(
                render_frame(self.real[:FRAME_POINTS], fake, heat, self.bounds, caption, label),
                trainer.run / "frames" / f"epoch_{c.epoch:04d}.png",
            )
        return figures

    def end(self, trainer: TrainingView) -> None:
        plot_game(trainer.run / "metrics.csv", trainer.run / "game.png")
        if self.points and trainer.model.config.animate:
            frames = sorted((trainer.run / "frames").glob("epoch_*.png"))
            used = save_gif(frames, trainer.run / "training.gif")
            if used and not trainer.quiet:
                tqdm.write(f"animation of {used} frames: {trainer.run / 'training.gif'}", file=sys.stdout)
