"""Gaussian mixture model fitted by EM: the notes' P(x) = Σ_m P(m) P(x|m), on 2-D points or on
flattened images.

Dempster, Laird & Rubin 1977, "Maximum Likelihood from Incomplete Data via the EM Algorithm"; the
EM iterations are scikit-learn's `GaussianMixture` (k-means initialisation, `reg_covar` added to
every variance). For images the density lives on uniformly dequantized pixels, as flow models do
(Theis, van den Oord & Bethge 2016, "A note on the evaluation of generative models"):
x = (pixel + u) / 256 with u ~ U(0, 1) per pixel, and log P(pixels) ≈ log p(x) − D·log 256, a
stochastic lower bound (in expectation) on the log-probability of the 256-level pixels, reported
in bits/dim on the same scale as PixelRNN's `--colors 256`.

How it fits genlab's gradient-based trainer: `full_batch = True` makes every training step see
the whole training split (`--batch-size` only sets the evaluation chunk), `configure_optimizers`
returns no optimiser, and each step runs `--em-steps` EM iterations warm-started from the current
parameters (sklearn's public `weights_init` / `means_init` / `precisions_init`); the first step
starts from k-means with a seed drawn from torch's global generator. The state is only the
mixture's weights, means and covariances (float64 buffers in model.safetensors, never a pickled
sklearn object) plus torch's RNG state, which the checkpoint holds: so a run stopped after any
epoch and resumed ends with exactly the parameters of an unbroken run. Images are dequantized
afresh at every step (noise from the global generator, so also reproducible), which makes the
fit a Monte Carlo EM on the dequantized pixels rather than EM on one fixed draw.

Deviations: `--covariance` offers full and diagonal covariances (full is the default for 2-D
points, diagonal for images, where a full D x D matrix per component is costly); no low-rank
(mixture of factor analysers) option.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np
import torch

from genlab.core.config import opt
from genlab.core.errors import GenlabError
from genlab.data import Palette
from genlab.models.base import Capability, GenerativeModel, register

LOG_2PI = math.log(2 * math.pi)
SMALL_DIM = 16  # up to this many dimensions EM runs with one BLAS thread
LEVELS = 256  # pixel levels: images are dequantized to [0, 1) in steps of 1/256


@dataclass
class GMMConfig:
    components: int = opt(8, "number of Gaussians M in P(x) = Σ_m P(m) P(x|m)")
    covariance: str = opt(
        "auto", "covariance of each Gaussian; auto: full for 2-D points, diag for images", ("auto", "full", "diag")
    )
    em_steps: int = opt(10, "EM iterations per epoch, each over the whole training split")
    reg_covar: float = opt(1e-6, "added to every variance so that no Gaussian collapses onto a point")
    tol: float = opt(
        1e-4,
        "stop once an epoch of EM lowers the training NLL by less than this many nats per "
        "dimension (0: train for the whole --epochs or --minutes)",
    )

    def validate(self) -> None:
        if self.components < 1 or self.em_steps < 1 or not self.reg_covar > 0 or not self.tol >= 0:
            raise GenlabError(
                "--components and --em-steps must be at least 1, --reg-covar above 0 and --tol at least 0"
            )


@register("gmm")
class GMM(GenerativeModel):
    """Gaussian mixture fitted by EM (scikit-learn) on 2-D points or flattened images."""

    Config = GMMConfig
    data_kind = "points"
    data_kinds = ("points", "image")
    capabilities = frozenset({Capability.LIKELIHOOD})
    full_batch = True

    def __init__(self, config: GMMConfig, item_shape, palette: Palette | None = None):
        super().__init__(config, item_shape, palette)
        self.images = len(self.item_shape) == 3
        self.dim = math.prod(self.item_shape)
        self.covariance = ("diag" if self.images else "full") if config.covariance == "auto" else config.covariance
        m, d = config.components, self.dim
        centre, var = (0.5, 1 / 12) if self.images else (0.0, 1.0)  # the data's scale before the first fit
        f64 = torch.float64
        self.register_buffer("weights", torch.full((m,), 1.0 / m, dtype=f64))  # P(m)
        self.register_buffer("means", torch.full((m, d), centre, dtype=f64))
        cov = (
            torch.full((m, d), var, dtype=f64)
            if self.covariance == "diag"
            else var * torch.eye(d, dtype=f64).repeat(m, 1, 1)
        )
        self.register_buffer("covariances", cov)  # (M, D) variances, or (M, D, D)
        self.register_buffer("fitted", torch.zeros((), dtype=torch.bool))
        # training NLL after the previous epoch's EM (NaN before the first), for the --tol test
        self.register_buffer("last_nll", torch.tensor(math.nan, dtype=f64))

    def training_pictures(self, view):
        from genlab.models.gmm.pictures import MixturePictures

        return MixturePictures()

    def summary(self) -> str:
        kind = "images (dequantized, flattened)" if self.images else "points"
        return (
            f"gmm: {self.config.components} {self.covariance}-covariance Gaussians over {self.dim}-D {kind}; "
            f"{self.config.em_steps} EM iterations per epoch on the whole training split"
        )

    # --- the density ----------------------------------------------------------------------------
    def features(self, batch: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """Stored data -> the density's space, float64 (B, D): points as they are; uint8 images
        flattened and dequantized, x = (pixel + u) / 256 with u ~ U(0, 1)."""
        if not self.images:
            return batch.to(torch.float64)
        pixels = batch.flatten(1).to(torch.float64)  # (B, C, H, W) -> (B, D)
        u = torch.rand(pixels.shape, generator=generator, device=pixels.device, dtype=torch.float64)
        return (pixels + u) / LEVELS

    def component_log_density(self, x: torch.Tensor) -> torch.Tensor:
        """log N(x; μ_m, Σ_m) for x float64 (B, D) -> (B, M)."""
        d = x.shape[1]
        if self.covariance == "diag":
            prec = 1.0 / self.covariances  # (M, D)
            quad = x.pow(2) @ prec.T - 2 * x @ (self.means * prec).T + (self.means.pow(2) * prec).sum(1)
            log_det = self.covariances.log().sum(1)  # (M,)
            return -0.5 * (d * LOG_2PI + log_det + quad)
        chol = torch.linalg.cholesky(self.covariances)  # (M, D, D), Σ = L Lᵀ
        eye = torch.eye(d, dtype=chol.dtype, device=chol.device)
        whiten = torch.linalg.solve_triangular(chol, eye, upper=False)  # L⁻¹, (M, D, D)
        log_det = 2 * chol.diagonal(dim1=1, dim2=2).log().sum(1)  # (M,)
        quad = torch.stack([((x - self.means[m]) @ whiten[m].T).pow(2).sum(1) for m in range(len(self.means))], 1)
        return -0.5 * (d * LOG_2PI + log_det + quad)

    def log_density(self, x: torch.Tensor) -> torch.Tensor:
        """log p(x) = log Σ_m P(m) N(x; μ_m, Σ_m), float64 (B,), for x in the density's space."""
        return torch.logsumexp(self.component_log_density(x) + self.weights.log(), dim=1)

    @torch.no_grad()
    def log_prob(self, batch: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """Per-item log-likelihood in nats, (B,): the density of each point; for images the
        dequantized density on the 256-level scale, log p(x) − D·log 256."""
        return self._log_prob_of(self.features(batch, generator))

    def _log_prob_of(self, x: torch.Tensor) -> torch.Tensor:
        return self.log_density(x) - (self.dim * math.log(LEVELS) if self.images else 0.0)

    def _figures(self, log_prob: torch.Tensor) -> dict[str, torch.Tensor]:
        nll = -log_prob.mean()
        return {"loss": nll, "bits_per_dim": nll / (self.dim * math.log(2))}

    @torch.no_grad()
    def loss(self, batch: torch.Tensor) -> dict[str, torch.Tensor]:
        """NLL in nats per item (the figure EM increases); nothing here is differentiated."""
        return self._figures(self.log_prob(batch))

    # --- fitting --------------------------------------------------------------------------------
    def configure_optimizers(self, lr: float) -> dict[str, torch.optim.Optimizer]:
        return {}  # EM needs no optimiser

    @torch.no_grad()
    def train_step(self, batch: torch.Tensor, optimizers: dict[str, torch.optim.Optimizer]) -> dict[str, torch.Tensor]:
        """`em_steps` EM iterations on the batch (the whole training split), from the current
        parameters, or from k-means on the first step."""
        from sklearn.exceptions import ConvergenceWarning
        from sklearn.mixture import GaussianMixture
        from threadpoolctl import threadpool_limits

        m = self.config.components
        if len(batch) < m:
            raise GenlabError(
                f"a mixture of {m} Gaussians needs at least {m} training items, not {len(batch)}; lower --components"
            )
        x = self.features(batch)
        if bool(self.fitted):
            prec = self.covariances.reciprocal() if self.covariance == "diag" else torch.linalg.inv(self.covariances)
            init = dict(
                weights_init=self._np(self.weights),
                means_init=self._np(self.means),
                precisions_init=self._np(prec),
                init_params="random_from_data",
                random_state=0,
            )
        else:
            seed = int(torch.randint(2**31 - 1, (1,)))  # global generator: part of the checkpoint
            init = dict(init_params="kmeans", random_state=seed)
        gm = GaussianMixture(
            m,
            covariance_type=self.covariance,
            reg_covar=self.config.reg_covar,
            max_iter=self.config.em_steps,
            tol=0.0,
            **init,
        )
        # tiny matrices gain nothing from BLAS threads, and waking them costs ~10 ms a call on a busy CPU
        threads = 1 if self.dim <= SMALL_DIM else None
        with warnings.catch_warnings(), threadpool_limits(threads, user_api="blas"):
            warnings.simplefilter("ignore", ConvergenceWarning)  # tol=0: every fit runs em_steps iterations
            gm.fit(self._np(x))
        for name, value in (("weights", gm.weights_), ("means", gm.means_), ("covariances", gm.covariances_)):
            getattr(self, name).copy_(torch.from_numpy(np.ascontiguousarray(value)))
        self.fitted.fill_(True)
        figures = self._figures(self._log_prob_of(x))
        nll = float(figures["loss"])
        if self.config.tol > 0 and not math.isnan(self.last_nll):
            self.converged = float(self.last_nll) - nll < self.config.tol * self.dim
        self.last_nll.fill_(nll)
        return figures

    def load_state_dict(self, state_dict, strict: bool = True, assign: bool = False):
        """Runs saved before `last_nll` existed load too (their next epoch starts the --tol test afresh)."""
        state_dict = {"last_nll": torch.tensor(math.nan, dtype=torch.float64), **state_dict}
        return super().load_state_dict(state_dict, strict, assign)

    @staticmethod
    def _np(t: torch.Tensor) -> np.ndarray:
        return t.detach().cpu().numpy()

    # --- using the model ------------------------------------------------------------------------
    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """m ~ P(m), then x ~ N(μ_m, Σ_m): float32 points (n, 2), or uint8 images (n, C, H, W)
        with pixel = floor(256·x) clipped to 0..255 (the inverse of the dequantization)."""
        comp = torch.multinomial(self.weights, n, replacement=True, generator=generator)  # (n,)
        eps = torch.randn(n, self.dim, generator=generator, device=self.device, dtype=torch.float64)
        if self.covariance == "diag":
            x = self.means[comp] + eps * self.covariances[comp].sqrt()
        else:
            chol = torch.linalg.cholesky(self.covariances)  # (M, D, D)
            x = self.means[comp].clone()
            for m in range(len(self.means)):
                picked = comp == m
                x[picked] += eps[picked] @ chol[m].T
        if not self.images:
            return x.to(torch.float32)
        pixels = (x * LEVELS).floor().clamp(0, LEVELS - 1).to(torch.uint8)
        return pixels.view(n, *self.item_shape)  # (n, D) -> (n, C, H, W)

    def component_images(self) -> torch.Tensor:
        """Each Gaussian's mean as a uint8 image, heaviest component first: (M, C, H, W)."""
        order = self.weights.argsort(descending=True)
        pixels = (self.means[order] * LEVELS).floor().clamp(0, LEVELS - 1).to(torch.uint8)
        return pixels.view(len(order), *self.item_shape)  # (M, D) -> (M, C, H, W)
