"""A plain (deterministic) autoencoder: the VAE's encoder and decoder with no noise and no KL term.

Hinton & Salakhutdinov 2006, "Reducing the Dimensionality of Data with Neural Networks"; the lecture
notes use it to show why the VAE adds noise: an autoencoder's codes are islands, and decoding points
between or around them gives junk.

The code is the encoder's output itself, c = f(x); the loss is the decoder's reconstruction cost
−log p(x | c) (the VAE's, with the same decoders), nothing else. To sample, genlab decodes draws from
a Gaussian N(μ, Σ) fitted to the training codes (refitted after every epoch, stored as buffers):
the autoencoder has no prior of its own. Deviation from the paper: one hidden layer (or the VAE's
two convolutions), no layer-wise pretraining.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from genlab.models.shared.autoencoder import CodingConfig, CodingModel
from genlab.models.base import TrainingPictures, TrainingView, register


@dataclass
class AEConfig(CodingConfig):
    pass


@register("ae")
class Autoencoder(CodingModel):
    """Encoder -> code -> decoder; samples decode draws from a Gaussian fitted to the training codes."""

    Config = AEConfig

    def __init__(self, config: AEConfig, item_shape, palette=None):
        super().__init__(config, item_shape, palette)
        self.register_buffer("code_mean", torch.zeros(config.latent))
        self.register_buffer("code_scale", torch.eye(config.latent))  # Cholesky factor of the codes' covariance

    def codes(self, target: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        return self.encoder_out(target, labels)

    def loss(self, batch: torch.Tensor) -> dict[str, torch.Tensor]:
        target = self.observe(batch)
        recon = -self.log_lik(target, self.codes(target)[None])[0]  # (1, B) -> (B,)
        return {"loss": recon.mean(), "recon": recon.mean()}

    @torch.no_grad()
    def fit_codes(self, prepared: torch.Tensor) -> None:
        """Fit N(μ, Σ) to the codes of prepared training data (N, ...) by maximum likelihood."""
        codes = self.training_codes(prepared)  # (N, L)
        mean = codes.mean(0)
        cov = (
            torch.atleast_2d(torch.cov(codes.T, correction=0))
            if len(codes) > 1
            else codes.new_zeros(len(mean), len(mean))
        )
        cov = cov + 1e-6 * torch.eye(len(mean), dtype=cov.dtype, device=cov.device)  # a ridge keeps Σ positive
        self.code_mean.copy_(mean.to(self.code_mean.dtype))
        self.code_scale.copy_(torch.linalg.cholesky(cov).to(self.code_scale.dtype))

    def prior(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        eps = torch.randn(n, self.config.latent, device=self.device, generator=generator)
        return self.code_mean + eps @ self.code_scale.T  # (n, L)

    def prior_quantiles(self, q: torch.Tensor) -> torch.Tensor:
        std = self.code_scale.pow(2).sum(1).sqrt()  # the marginal standard deviations, (L,)
        return self.code_mean + torch.distributions.Normal(0.0, 1.0).icdf(q)[:, None] * std

    def training_pictures(self, view: TrainingView) -> TrainingPictures:
        return CodeFit()


class CodeFit(TrainingPictures):
    """After every epoch: refit the sampling Gaussian to the training codes (deterministic, so a
    resumed run fits the same one) and log the codes' spread."""

    def epoch(self, view: TrainingView) -> dict[str, float]:
        model = view.model
        model.fit_codes(view.train_data)
        return {"code_std": float(model.code_scale.pow(2).sum(1).sqrt().mean())}
