"""Precision/recall with k-NN manifolds and density/coverage, plus the chunked distance helpers.

Precision and recall: Kynkäänniemi et al. 2019, "Improved Precision and Recall Metric for Assessing
Generative Models". Each set's manifold is the union of balls around its items, each ball reaching
the item's k-th nearest neighbour in its own set (k = 3). Precision: the share of generated items
inside the real manifold (are samples realistic?); recall: the share of real items inside the
generated manifold (is the data's variety covered?).

Density and coverage: Naeem et al. 2020, "Reliable Fidelity and Diversity Metrics for Generative
Models" (k = 5). Density = (1 / kM) Σ_j Σ_i 1[Y_j ∈ B(X_i, NND_k(X_i))]: how many real balls contain
each sample, on average, divided by k (about 1 when both sets come from one distribution, above 1
when samples crowd dense regions). Coverage = (1/N) Σ_i 1[∃ j: Y_j ∈ B(X_i, NND_k(X_i))]: the share of
real items whose ball holds at least one sample.

Distances are Euclidean, computed with torch.cdist in row chunks, so memory stays at
`chunk × N` floats whatever the set sizes (see `distances` for their precision). A point at
exactly the radius counts as inside (as in Kynkäänniemi et al.'s code; Naeem et al.'s code uses <,
which differs only on exact ties). All four figures depend on the set sizes: compare them at equal
numbers of samples and reference items.
"""
from __future__ import annotations

import torch

CHUNK = 1024
EXACT_DIMS = 32  # up to this many dimensions: exact differences, not ‖a‖² + ‖b‖² − 2aᵀb


def distances(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Euclidean distances (A, B). The fast matrix-product form cancels catastrophically when points
    lie far closer together than their norms (2-D toy modes of std 0.02 at radius 2), so low
    dimensions use exact differences; callers centre both sets to keep the norms small."""
    mode = "donot_use_mm_for_euclid_dist" if a.shape[1] <= EXACT_DIMS else "use_mm_for_euclid_dist_if_necessary"
    return torch.cdist(a, b, compute_mode=mode)


def nearest(queries: torch.Tensor, items: torch.Tensor, k: int = 1, exclude_self: bool = False,
            chunk: int = CHUNK) -> tuple[torch.Tensor, torch.Tensor]:
    """Distances (Q, k) and indices (Q, k) of each query's k nearest items, nearest first.
    exclude_self: `queries` is `items` and an item is not its own neighbour. The k distances found
    are recomputed from exact differences, so an exact copy is at distance 0."""
    centre = items.float().mean(0)
    items, queries = items.float() - centre, queries.float() - centre
    dists, idxs = [], []
    for start in range(0, len(queries), chunk):
        q = queries[start:start + chunk]
        d = distances(q, items)  # (chunk, N)
        if exclude_self:
            rows = torch.arange(len(d), device=d.device)
            d[rows, rows + start] = float("inf")
        index = torch.topk(d, k, dim=1, largest=False).indices  # (chunk, k)
        exact = (q[:, None] - items[index]).norm(dim=2)  # (chunk, k)
        exact, order = exact.sort(dim=1)
        dists.append(exact)
        idxs.append(index.gather(1, order))
    return torch.cat(dists), torch.cat(idxs)


def knn_radii(items: torch.Tensor, k: int) -> torch.Tensor:
    """Distance from each item to its k-th nearest other item, (N,)."""
    return nearest(items, items, k, exclude_self=True)[0][:, -1]


def prdc(real: torch.Tensor, fake: torch.Tensor, k_pr: int = 3, k_dc: int = 5,
         chunk: int = CHUNK) -> dict[str, float]:
    """precision, recall (k = k_pr) and density, coverage (k = k_dc) of fake (M, D) against real (N, D)."""
    centre = real.float().mean(0)
    real, fake = real.float() - centre, fake.float() - centre
    if min(len(real), len(fake)) <= max(k_pr, k_dc):
        raise ValueError(f"precision/recall/density/coverage need more than {max(k_pr, k_dc)} items per set")
    real_dists = nearest(real, real, max(k_pr, k_dc), exclude_self=True)[0]  # (N, k)
    r_pr, r_dc = real_dists[:, k_pr - 1], real_dists[:, k_dc - 1]
    f_pr = knn_radii(fake, k_pr)
    precise = torch.zeros(len(fake), dtype=torch.bool)
    dense = torch.zeros(len(fake))
    recalled = torch.zeros(len(real), dtype=torch.bool)
    closest = torch.full((len(real),), float("inf"))  # each real item's nearest sample
    for start in range(0, len(fake), chunk):
        d = distances(fake[start:start + chunk], real)  # (chunk, N)
        precise[start:start + chunk] = (d <= r_pr[None]).any(1)
        dense[start:start + chunk] = (d <= r_dc[None]).sum(1).float()
        recalled |= (d <= f_pr[start:start + chunk, None]).any(0)
        closest = torch.minimum(closest, d.min(0).values)
    return {"precision": float(precise.float().mean()), "recall": float(recalled.float().mean()),
            "density": float(dense.sum() / (k_dc * len(fake))), "coverage": float((closest <= r_dc).float().mean())}
