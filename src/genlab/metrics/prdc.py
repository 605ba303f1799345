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
`chunk × N` floats whatever the set sizes (see `distances` for their precision). Each figure
follows its reference code at the ball's edge: precision and recall count a point at exactly the
radius as inside (`<=`, Kynkäänniemi et al.'s code and torch-fidelity); density and coverage count
it outside (`<`, Naeem et al.'s `prdc` package). A sample that copies a real item lies exactly on
the balls whose radius that item sets; density/coverage decide such ties exactly: every
cross distance near a radius is recomputed in float64 from exact differences, the same operations
that give the radius (so with samples = the real set and no duplicates, density is exactly 1).
All four figures depend on the set sizes: compare them at equal numbers of samples and reference
items.
"""

from __future__ import annotations

import torch

CHUNK = 1024
# Bound on the error of a float32 squared distance from torch.cdist relative to ‖a‖² + ‖b‖² (the
# matrix-product form loses about D·2^-24 of that; the centring, sqrt and squaring a few ulps more):
# pairs nearer than SLACK_PER_DIM·(D + 8)·(‖a‖² + ‖b‖²) to a radius are recomputed exactly.
SLACK_PER_DIM = 2.0**-21
EXACT_DIMS = 32  # up to this many dimensions: exact differences, not ‖a‖² + ‖b‖² − 2aᵀb


def distances(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Euclidean distances (A, B). The fast matrix-product form cancels catastrophically when points
    lie far closer together than their norms (2-D toy modes of std 0.02 at radius 2), so low
    dimensions use exact differences; callers centre both sets to keep the norms small."""
    mode = "donot_use_mm_for_euclid_dist" if a.shape[1] <= EXACT_DIMS else "use_mm_for_euclid_dist_if_necessary"
    return torch.cdist(a, b, compute_mode=mode)


def nearest(
    queries: torch.Tensor, items: torch.Tensor, k: int = 1, exclude_self: bool = False, chunk: int = CHUNK
) -> tuple[torch.Tensor, torch.Tensor]:
    """Distances (Q, k) and indices (Q, k) of each query's k nearest items, nearest first.
    exclude_self: `queries` is `items` and an item is not its own neighbour. The k distances found
    are recomputed from exact differences, so an exact copy is at distance 0."""
    centre = items.float().mean(0)
    items, queries = items.float() - centre, queries.float() - centre
    dists, idxs = [], []
    for start in range(0, len(queries), chunk):
        q = queries[start : start + chunk]
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


def squared_pair_distances(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """‖a_p − b_p‖² of paired rows (P, D) -> (P,), float64 from exact differences: the one way
    density/coverage compute a distance they compare with a radius, so equal pairs give equal values."""
    return (a - b).pow(2).sum(1)


def kth_squared_radii(real: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """Squared distance from each real item (N, D) to its k-th nearest other, (N,), from the k
    candidates index (N, k), with `squared_pair_distances`."""
    r2 = torch.stack([squared_pair_distances(real, real[column]) for column in index.T], 1)  # (N, k)
    return r2.max(1).values  # (N,)


def strictly_inside(
    d: torch.Tensor, fake: torch.Tensor, real: torch.Tensor, r2: torch.Tensor, real_norms: torch.Tensor
) -> torch.Tensor:
    """Naeem et al.'s ball test Y_j ∈ B(X_i, NND_k(X_i)) ⇔ ‖Y_j − X_i‖ < NND_k(X_i), decided exactly:
    d (M, N) float32 cdist distances screen the pairs; those within its error bound of a radius are
    recomputed from fake (M, D) and real (N, D) (float64, centred alike) with
    `squared_pair_distances`, as the squared radii r2 (N,) were. -> bool (M, N)."""
    d2 = d.double().pow(2)
    slack = SLACK_PER_DIM * (real.shape[1] + 8) * (fake.pow(2).sum(1)[:, None] + real_norms[None])
    inside = d2 < r2[None] - slack
    rows, cols = torch.nonzero((d2 - r2[None]).abs() <= slack, as_tuple=True)
    batch = 64 * CHUNK
    for s in range(0, len(rows), batch):  # near ties: recompute exactly, a batch of pairs at a time
        i, j = rows[s : s + batch], cols[s : s + batch]
        inside[i, j] = squared_pair_distances(fake[i], real[j]) < r2[j]
    return inside


def prdc(real: torch.Tensor, fake: torch.Tensor, k_pr: int = 3, k_dc: int = 5, chunk: int = CHUNK) -> dict[str, float]:
    """precision, recall (k = k_pr, `<=` radius) and density, coverage (k = k_dc, `<` radius) of
    fake (M, D) against real (N, D)."""
    if min(len(real), len(fake)) <= max(k_pr, k_dc):
        raise ValueError(f"precision/recall/density/coverage need more than {max(k_pr, k_dc)} items per set")
    centre = real.double().mean(0)
    real64, fake64 = real.double() - centre, fake.double() - centre
    real, fake = real64.float(), fake64.float()
    real_dists, real_index = nearest(real, real, max(k_pr, k_dc), exclude_self=True)  # (N, k) each
    r_pr, r2_dc = real_dists[:, k_pr - 1], kth_squared_radii(real64, real_index[:, :k_dc])
    f_pr = knn_radii(fake, k_pr)
    real_norms = real64.pow(2).sum(1)
    precise = torch.zeros(len(fake), dtype=torch.bool)
    recalled = torch.zeros(len(real), dtype=torch.bool)
    dense = torch.zeros(len(fake), dtype=torch.long)
    covered = torch.zeros(len(real), dtype=torch.bool)
    for start in range(0, len(fake), chunk):
        rows = slice(start, start + chunk)
        d = distances(fake[rows], real)  # (chunk, N)
        precise[rows] = (d <= r_pr[None]).any(1)
        recalled |= (d <= f_pr[rows, None]).any(0)
        inside = strictly_inside(d, fake64[rows], real64, r2_dc, real_norms)  # (chunk, N)
        dense[rows] = inside.sum(1)
        covered |= inside.any(0)
    return {
        "precision": int(precise.sum()) / len(fake),
        "recall": int(recalled.sum()) / len(real),
        "density": int(dense.sum()) / (k_dc * len(fake)),
        "coverage": int(covered.sum()) / len(real),
    }
