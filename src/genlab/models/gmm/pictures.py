"""Pictures of a Gaussian mixture: the notes' drawing of P(x) = Σ_m P(m) P(x|m).

For 2-D points: the log-density as a shaded map, the data on top, and every component's ellipses at
one and two standard deviations (drawn heavier for a larger P(m)). For images: each component's
mean as an image. `GMM.training_pictures` hands the trainer `MixturePictures`.
"""

from __future__ import annotations

import math
from pathlib import Path

import torch

from genlab import viz
from genlab.models.base import TrainingPictures, TrainingView

GRID = 200  # density evaluated on GRID x GRID points
SHOWN_POINTS = 3000
LOG_RANGE = 12.0  # nats of log-density shaded below the peak


def mixture_picture(model, points: torch.Tensor, path: str | Path, title: str | None = None) -> None:
    """Density, data and component ellipses of a 2-D mixture, written as a PNG."""
    plt = viz._pyplot()
    from matplotlib.patches import Ellipse

    pts = points[:SHOWN_POINTS].detach().cpu().to(torch.float64)
    means = model.means.detach().cpu()
    cov = model.covariances.detach().cpu()
    cov = torch.diag_embed(cov) if model.covariance == "diag" else cov  # (M, 2, 2)
    weights = model.weights.detach().cpu()
    both = torch.cat([pts, means])
    lo, hi = both.min(0).values, both.max(0).values
    pad = 0.15 * (hi - lo).max().clamp(min=1e-3)
    xs = torch.linspace(float(lo[0] - pad), float(hi[0] + pad), GRID, dtype=torch.float64)
    ys = torch.linspace(float(lo[1] - pad), float(hi[1] + pad), GRID, dtype=torch.float64)
    gy, gx = torch.meshgrid(ys, xs, indexing="ij")
    grid = torch.stack([gx.flatten(), gy.flatten()], 1).to(model.means.device)  # (GRID², 2)
    with torch.no_grad():
        log_p = model.log_density(grid).view(GRID, GRID).cpu()  # (GRID²,) -> (rows = y, cols = x)
    shade = log_p.clamp(min=float(log_p.max()) - LOG_RANGE)  # log scale: the tails stay visible

    fig, ax = plt.subplots(figsize=(6, 6), dpi=100)
    ax.imshow(
        shade.numpy(),
        origin="lower",
        extent=(float(xs[0]), float(xs[-1]), float(ys[0]), float(ys[-1])),
        cmap="Blues",
        aspect="equal",
        interpolation="bilinear",
    )
    ax.scatter(*pts.T.numpy(), s=2, c="#333333", alpha=0.35, label="data")
    for m in range(len(means)):
        vals, vecs = torch.linalg.eigh(cov[m])  # ascending eigenvalues, orthonormal columns
        angle = math.degrees(math.atan2(float(vecs[1, 1]), float(vecs[0, 1])))
        width = float(weights[m] / weights.max())
        for k in (1, 2):
            ax.add_patch(
                Ellipse(
                    means[m].tolist(),
                    2 * k * math.sqrt(float(vals[1])),
                    2 * k * math.sqrt(float(vals[0])),
                    angle=angle,
                    fill=False,
                    color="#d62728",
                    lw=0.6 + 1.8 * width,
                    alpha=0.9 / k,
                )
            )
        ax.plot(*means[m].tolist(), "+", color="#d62728", ms=8, mew=1.5)
    ax.set_xlim(float(xs[0]), float(xs[-1]))
    ax.set_ylim(float(ys[0]), float(ys[-1]))
    ax.set_title(title or f"{len(means)} Gaussians: density, data, 1σ and 2σ ellipses")
    viz._save_figure(fig, path)


def _title(trainer: TrainingView) -> str:
    nll = ""
    if len(trainer.test_data):
        with torch.no_grad():
            nll = f", test NLL {-float(trainer.model.log_prob(trainer.test_data).mean()):.3f} nats/point"
    return f"epoch {trainer.counters.epoch}: {trainer.model.config.components} Gaussians{nll}"


class MixturePictures(TrainingPictures):
    def epoch(self, trainer: TrainingView) -> None:
        """After every epoch, for 2-D points: RUN/mixture/epoch_NNNN.png."""
        model = trainer.model
        if not model.images:
            path = trainer.run / "mixture" / f"epoch_{trainer.counters.epoch:04d}.png"
            mixture_picture(model, trainer.train_data, path, _title(trainer))

    def end(self, trainer: TrainingView) -> None:
        """When training ends: RUN/mixture.png for points, RUN/components.png (the means) for images."""
        model = trainer.model
        if model.images:
            viz.save_grid(model.component_images(), trainer.run / "components.png")
        else:
            mixture_picture(model, trainer.train_data, trainer.run / "mixture.png", _title(trainer))
