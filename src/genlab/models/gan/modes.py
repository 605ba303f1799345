"""Mode coverage and sample diversity: how much of the data a generator reproduces.

Mode coverage on mixtures with known centres (toy:gmm8, toy:grid25) follows Srivastava et al. 2017
("VEEGAN") and Lin et al. 2018 ("PacGAN"): a sample is *high quality* when it lies within 3 standard
deviations of its nearest mode centre, and a mode is *covered* when at least `min_count` (20 of the
usual 2,500 samples, PacGAN's rule) high-quality samples land on it.

Diversity is the mean pairwise Euclidean distance of a batch of samples divided by that of a batch
of real items (in the model's input scale: [-1, 1] pixels, or the points themselves). A ratio far
below 1 means the samples are much closer to each other than real items are: mode collapse.
"""

from __future__ import annotations

import torch

MODE_SAMPLES = 2500  # samples for the mode-coverage figures (Srivastava et al. 2017)


def mode_coverage(
    samples: torch.Tensor, centres: torch.Tensor, std: float, sigmas: float = 3.0, min_count: int = 20
) -> dict[str, float]:
    """samples (N, 2), centres (M, 2) -> {"modes_covered", "modes_total", "high_quality"}."""
    samples = samples.float()
    dist = torch.cdist(samples, centres.to(samples.device, samples.dtype))  # (N, M)
    nearest, which = dist.min(dim=1)
    good = nearest <= sigmas * std
    counts = torch.bincount(which[good], minlength=len(centres))  # high-quality samples per mode
    return {
        "modes_covered": int((counts >= min_count).sum()),
        "modes_total": len(centres),
        "high_quality": float(good.float().mean()) if len(samples) else 0.0,
    }


def mean_pairwise_distance(x: torch.Tensor) -> float:
    """Mean Euclidean distance over all pairs of the N items of x (N, ...)."""
    if len(x) < 2:
        return 0.0
    return float(torch.pdist(x.flatten(1).float()).mean())  # (N, ...) -> (N, D) -> N(N-1)/2 distances


def diversity_ratio(samples: torch.Tensor, real: torch.Tensor, n: int = 500) -> float:
    """Mean pairwise distance of (the first n) samples over that of (the first n) real items."""
    reference = mean_pairwise_distance(real[:n])
    return mean_pairwise_distance(samples[:n]) / reference if reference > 0 else float("nan")
