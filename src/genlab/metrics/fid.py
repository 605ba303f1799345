"""Fréchet distance (FID) and kernel distance (KID) between two sets of features.

FID: Heusel et al. 2017, "GANs Trained by a Two Time-Scale Update Rule Converge to a Local Nash
Equilibrium": fit a Gaussian to each set and take ‖μ₁ − μ₂‖² + Tr(Σ₁ + Σ₂ − 2(Σ₁Σ₂)^½).
It is biased for small sets (it shrinks as the sets grow): compare FIDs over the same set sizes only.

KID: Bińkowski et al. 2018, "Demystifying MMD GANs": the unbiased estimate of the squared MMD with
the cubic polynomial kernel k(x, y) = (xᵀy / d + 1)³, averaged over random subsets (as their code
and torch-fidelity do: 100 subsets of 1,000 items). Its expectation is 0 for equal
distributions, so small negative values occur. With fewer than 1,000 items in a set, torch-fidelity
refuses; genlab warns and draws subsets of half the smaller set (any size keeps the estimate
unbiased, and random halves differ, so the spread over subsets is real), and reports the subset
size. The std over subsets uses ddof=1 (torch-fidelity's uses ddof=0: √((S−1)/S) times ours).

Deviations: the features come from genlab's own feature network (see `features`), not Inception-v3.
When scipy's square root of Σ₁Σ₂ is inaccurate (a singular product, e.g. a feature constant in both
sets), 1e-6 is added to both covariances' diagonals and the root taken again, as pytorch-fid does.
"""

from __future__ import annotations

import sys
import warnings
from typing import NamedTuple

import numpy as np
import torch
from scipy import linalg


def gaussian_fit(features: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """(N, D) features -> mean (D,) and covariance (D, D), float64."""
    x = features.detach().cpu().double().numpy()
    return x.mean(0), np.cov(x, rowvar=False)


def frechet_distance(mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray) -> float:
    """Fréchet distance between N(mu1, sigma1) and N(mu2, sigma2)."""
    covmean = _sqrtm(sigma1 @ sigma2)
    if covmean is None:  # a singular product (e.g. a feature constant in both sets): nudge both
        offset = np.eye(len(sigma1)) * 1e-6  # covariances, as the reference implementation does
        covmean = _sqrtm((sigma1 + offset) @ (sigma2 + offset))
        if covmean is None:
            raise ArithmeticError("no accurate square root of the covariance product; the features are degenerate")
    covmean = np.real(covmean)  # round-off leaves tiny imaginary parts
    diff = mu1 - mu2
    return float(max(0.0, diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2 * np.trace(covmean)))


def _sqrtm(a: np.ndarray) -> np.ndarray | None:
    """scipy's matrix square root, or None when it is inaccurate (we check, so its warning is muted)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", linalg.LinAlgWarning)
        root = linalg.sqrtm(a)
    error = np.linalg.norm(root @ root - a) / max(np.linalg.norm(a), 1e-30)
    ok = np.isfinite(root).all() and error < 1e-4 and np.abs(np.imag(root)).max() < 1e-3 * np.abs(root).max()
    return root if ok else None


def fid(real: torch.Tensor, fake: torch.Tensor) -> float:
    """FID between two (N, D) feature sets (each needs at least 2 items)."""
    return frechet_distance(*gaussian_fit(real), *gaussian_fit(fake))


def cubic_kernel(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """k(a, b) = (aᵀb / d + 1)³ for all pairs of rows, (A, B)."""
    return (a @ b.T / a.shape[1] + 1).pow(3)


def _subset_sums(
    a: torch.Tensor, b: torch.Tensor, in_a: torch.Tensor, in_b: torch.Tensor, chunk: int = 1024
) -> torch.Tensor:
    """Σ_{i∈A_s, j∈B_s} k(a_i, b_j) for every subset s, given membership matrices in_a (Na, S) and
    in_b (Nb, S) of 0/1 float64: row chunks of the kernel matrix, so memory stays chunk x Nb."""
    total = torch.zeros(in_a.shape[1], dtype=torch.float64)
    for start in range(0, len(a), chunk):
        k = cubic_kernel(a[start : start + chunk], b).double()  # (chunk, Nb)
        total += ((k @ in_b) * in_a[start : start + chunk]).sum(0)
    return total


class KID(NamedTuple):
    mean: float
    std: float  # over subsets, ddof=1
    subset_size: int
    subsets: int


def kid_subset_size(n_real: int, n_fake: int, subset_size: int = 1000) -> int:
    """The subset size KID uses: `subset_size`, or half the smaller set when a set is smaller."""
    n = min(n_real, n_fake)
    return subset_size if n >= subset_size else max(2, n // 2)


def kid(
    real: torch.Tensor,
    fake: torch.Tensor,
    subsets: int = 100,
    subset_size: int = 1000,
    seed: int = 0,
    warn: bool = True,
) -> KID:
    """KID between two (N, D) feature sets: mean and std (ddof=1) over `subsets` random subsets of
    m = `kid_subset_size` items of each set (without replacement within a subset) of the unbiased
    MMD² = [Σ_{i≠j} k(x_i, x_j) + Σ_{i≠j} k(y_i, y_j)] / m(m−1) − 2 Σ_{i,j} k(x_i, y_j) / m².
    Kernel values in float32, sums in float64. warn: say on stderr when a set is below subset_size."""
    if min(len(real), len(fake)) < 2:
        raise ValueError("KID needs at least 2 items in each set")
    m = kid_subset_size(len(real), len(fake), subset_size)
    if m < subset_size and warn:
        print(
            f"genlab: warning: KID over {len(real)} and {len(fake)} items, fewer than the standard subset size "
            f"{subset_size}: using subsets of {m}; not comparable with published KIDs",
            file=sys.stderr,
        )
    values = kid_values(real, fake, subsets, m, seed)
    return KID(float(values.mean()), float(values.std()) if subsets > 1 else 0.0, m, subsets)


def kid_values(real: torch.Tensor, fake: torch.Tensor, subsets: int, m: int, seed: int) -> torch.Tensor:
    """The unbiased MMD² of each of `subsets` seeded random subsets of m items per set, (S,) float64."""
    real, fake = real.detach().cpu().float(), fake.detach().cpu().float()
    g = torch.Generator().manual_seed(seed)
    members = []
    for n in (len(real), len(fake)):
        rows = torch.stack([torch.randperm(n, generator=g)[:m] for _ in range(subsets)], 1)  # (m, S)
        members.append(torch.zeros(n, subsets, dtype=torch.float64).scatter_(0, rows, 1.0))  # (n, S)
    in_x, in_y = members
    diag_x = (real.pow(2).sum(1) / real.shape[1] + 1).pow(3).double() @ in_x  # Σ_i k(x_i, x_i) per subset
    diag_y = (fake.pow(2).sum(1) / fake.shape[1] + 1).pow(3).double() @ in_y
    within = _subset_sums(real, real, in_x, in_x) - diag_x + _subset_sums(fake, fake, in_y, in_y) - diag_y
    values = within / (m * (m - 1)) - 2 * _subset_sums(real, fake, in_x, in_y) / (m * m)
    return values
