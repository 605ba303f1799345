"""Likelihoods on a test split, in nats per image and bits per dimension.

A "dimension" is one palette-index position (one per pixel for palette models), so the figures
of every family that models palette images sit on the same footing.
"""

from __future__ import annotations

import math

import torch

from genlab.core import progress
from genlab.models import Capability, GenerativeModel


def bits_per_dim(nats_per_image: float, dims: int) -> float:
    return nats_per_image / (dims * math.log(2))


@torch.no_grad()
def likelihood_report(
    model: GenerativeModel,
    images: torch.Tensor,
    iwae_k: int = 100,
    batch_size: int = 100,
    seed: int = 0,
    quiet: bool = True,
) -> dict[str, float]:
    """Test-set likelihood figures the model supports; images are uint8 (N, C, H, W)."""
    model.eval()
    data = model.prepare(images.to(model.device))
    dims = math.prod(data.shape[1:])
    g = torch.Generator(device=model.device).manual_seed(seed)
    sums: dict[str, float] = {}
    for start in progress.bar(range(0, len(data), batch_size), quiet=quiet, desc="evaluate", leave=False):
        batch = data[start : start + batch_size]
        for name, values in _bounds(model, batch, iwae_k, g).items():
            sums[name] = sums.get(name, 0.0) + float(values.sum())
    report: dict[str, float] = {"images": len(data), "dims_per_image": dims}
    for name, total in sums.items():
        nll = -total / len(data)
        report[f"{name}_nats"] = nll
        report[f"{name}_bits_per_dim"] = bits_per_dim(nll, dims)
    return report


def _bounds(model: GenerativeModel, batch: torch.Tensor, iwae_k: int, g: torch.Generator) -> dict[str, torch.Tensor]:
    """Per-image log-likelihoods (or lower bounds) by name, as the model's capabilities offer them."""
    out = {}
    if model.can(Capability.BOUND):
        out["elbo_nll"] = model.elbo(batch, generator=g)
        out[f"iwae{iwae_k}_nll"] = model.iwae(batch, iwae_k, generator=g)
    if model.can(Capability.LIKELIHOOD):
        out["nll"] = model.log_prob(batch)
    return out
