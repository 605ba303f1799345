"""The VAE's sampling mixture: ex-post density estimation of the codes (Ghosh, Sajjadi, Vergari,
Black & Schölkopf 2020, "From Variational to Deterministic Autoencoders", section 4).

A VAE trained for minutes leaves "holes" in N(0, I): regions of the prior that no training image's
posterior covers, which decode to blurs between digits. After training, genlab fits a Gaussian
mixture to the posterior means of the training images (scikit-learn's EM, full covariances) and
draws the codes of new samples from it. The ELBO, the IWAE bound and every likelihood figure keep
the prior N(0, I) they were trained with; only where sampled codes come from changes
(`--sample-prior normal` restores the textbook N(0, I)). Measured: bench/README.md, "The VAE's
sampling mixture".
"""

from __future__ import annotations

import warnings

import torch


def fit_mixture(codes: torch.Tensor, components: int, seed: int = 0) -> tuple[torch.Tensor, ...]:
    """Codes float64 (N, L) -> (weights (K,), means (K, L), Cholesky factors of the covariances
    (K, L, L)) of a K-component Gaussian mixture fitted by EM, K = min(components, N)."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.mixture import GaussianMixture
    from threadpoolctl import threadpool_limits

    k = min(components, len(codes))
    gm = GaussianMixture(k, covariance_type="full", random_state=seed)
    # BLAS threads as many as torch's (the thread policy): on a busy 2-core CPU the default thread
    # count made this fit 27 s instead of 0.35 s (4,000 codes of 20 dimensions, 20 components)
    with warnings.catch_warnings(), threadpool_limits(torch.get_num_threads(), user_api="blas"):
        warnings.simplefilter("ignore", ConvergenceWarning)  # a mixture that stops at max_iter still samples well
        gm.fit(codes.cpu().numpy())
    covariances = torch.from_numpy(gm.covariances_)  # (K, L, L); sklearn adds reg_covar to the diagonal
    return (torch.from_numpy(gm.weights_), torch.from_numpy(gm.means_), torch.linalg.cholesky(covariances))


def mixture_moments(
    weights: torch.Tensor, means: torch.Tensor, scales: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """The mixture's mean (L,) and covariance (L, L): Σ w_k μ_k and Σ w_k (Σ_k + μ_k μ_kᵀ) − μ μᵀ.
    At an EM fixed point they equal the fitted codes' mean and covariance (plus the ridge)."""
    mean = weights @ means
    second = torch.einsum("k,kij->ij", weights, scales @ scales.transpose(1, 2) + means[:, :, None] * means[:, None, :])
    return mean, second - torch.outer(mean, mean)


def draw_codes(
    weights: torch.Tensor, means: torch.Tensor, scales: torch.Tensor, n: int, generator: torch.Generator | None = None
) -> torch.Tensor:
    """n codes (n, L) from the mixture: a component by its weight, then μ_k + L_k e, e ~ N(0, I)."""
    which = torch.multinomial(weights, n, replacement=True, generator=generator)  # (n,)
    eps = torch.randn((n, means.shape[1], 1), device=means.device, dtype=means.dtype, generator=generator)
    return means[which] + (scales[which] @ eps)[:, :, 0]
