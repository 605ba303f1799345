"""Memorization and novelty: are a model's samples new, or copies of its training images?

The notes contrast the families: a VAE learns to reproduce the images it was shown, a GAN's
generator never sees one. A held-out test set tells copying from healthy generalisation: test
images come from the data distribution but were never trained on, so their distance to the nearest
training image is what "new, but realistic" looks like (the idea of Meehan et al. 2020's data-copying
test, and of the nearest-neighbour pictures of many GAN papers).

For samples S, training items T and test items V (in one space: pixels in [0, 1], or features;
`genlab evaluate` draws T and V in a palette model's palette first, as the model would copy them):
- d(x) = min_t ‖x − t‖₂, the Euclidean distance from x to its nearest training item;
- ratio = median_{s∈S} d(s) / median_{v∈V} d(v): about 1 when samples sit as far from the training
  set as unseen data does; near 0 when samples copy training items; above 1 when samples are off
  the data (unrealistic or blurry), which is not copying;
- copy share = |{s ∈ S : d(s) ≤ min_{v∈V} d(v)}| / |S|: the share of samples closer to a training item
  than the closest test item is. Samples drawn like test items land there with probability about
  1/(|V| + 1); exact copies always do.
"""

from __future__ import annotations

from pathlib import Path

import torch

from genlab import viz
from genlab.metrics.prdc import nearest


def flat_pixels(items: torch.Tensor) -> torch.Tensor:
    """uint8 images (N, C, H, W) -> (N, C*H*W) floats in [0, 1]; points pass through as floats."""
    return items.float().flatten(1) / 255.0 if items.dtype == torch.uint8 else items.float()


def memorization(
    samples: torch.Tensor, train: torch.Tensor, test: torch.Tensor
) -> tuple[dict[str, float], torch.Tensor]:
    """({ratio, copy_share, sample_nn_median, test_nn_median}, index of each sample's nearest training
    item (M,)) for (M, D) samples, (N, D) training and (V, D) test vectors."""
    d_samples, index = nearest(samples, train)
    d_test, _ = nearest(test, train)
    d_samples, d_test = d_samples[:, 0], d_test[:, 0]
    s_med, t_med = float(d_samples.quantile(0.5)), float(d_test.quantile(0.5))  # the mean of the middle two
    figures = {
        "ratio": s_med / max(t_med, 1e-12),
        "copy_share": float((d_samples <= d_test.min()).float().mean()),
        "sample_nn_median": s_med,
        "test_nn_median": t_med,
    }
    return figures, index[:, 0]


def save_nearest_picture(
    samples: torch.Tensor, train: torch.Tensor, index: torch.Tensor, path: str | Path, count: int = 16, per_row: int = 8
) -> None:
    """Rows 1, 3, ...: samples; rows 2, 4, ...: the nearest training image of the sample above."""
    count = min(count, len(samples))
    shown = samples[:count].cpu()
    viz.save_grid(viz.interleave_rows(shown, train[index[:count].cpu()], per_row), path, nrow=per_row)
