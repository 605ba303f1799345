"""Variational autoencoder on palette-index images.

Kingma & Welling 2014, "Auto-Encoding Variational Bayes"; the importance-weighted bound is from
Burda, Grosse & Salakhutdinov 2016, "Importance Weighted Autoencoders".

The encoder outputs a mean `m` and a log-variance `σ` per latent dimension; the code is
`c = exp(σ/2)·e + m` with `e ~ N(0, I)`. The lecture notes write `c = exp(σ)·e + m` and the
constraint `Σ(exp(σ) − (1 + σ) + m²)`: with σ read as the log-variance that constraint is exactly
**twice** KL(N(m, exp σ) || N(0, I)) = ½Σ(exp σ − 1 − σ + m²), and the matching noise scale is
exp(σ/2). genlab optimises the true ELBO; `--beta 2` reproduces the notes' weighting.

Deviations from the paper: the default decoder is a categorical distribution over the palette for
every pixel (Bernoulli when `--colors 2`), as the notes' 1-of-N colours ask; `--decoder gaussian`
is the paper's Gaussian, on dequantized pixels (models/shared/autoencoder.py); `--warmup-epochs` ramps
the KL weight (Bowman et al. 2016). The networks are shared with the plain autoencoder (models/ae/).
Samples decode codes drawn from a Gaussian mixture fitted to the training codes when training ends
(ex-post density estimation, Ghosh et al. 2020; models/vae/mixture.py), not from N(0, I): on
mnist5k after 2 minutes, FID 5.5-6.0 -> 0.74-0.77. Likelihoods keep the prior N(0, I);
`--sample-prior normal` samples from it.

`--conditional` makes it the conditional VAE of Sohn, Lee & Yan 2015 ("Learning Structured Output
Representation using Deep Conditional Generative Models"): q(z | x, y) and p(x | z, y) take the
class y (models/shared/autoencoder.py says how), the prior stays N(0, I), and `genlab sample --label 7`
decodes codes with y = 7. Its sampling mixture is fitted per class, to the codes of that class's
training images: an ex-post conditional prior p(z | y), in the place of the paper's prior network
(a VAE trained for minutes still carries the class in z, which the decoder then follows: on two
classes the decoder alone drew the asked class about half the time, bench/README.md); sampling
from N(0, I) (`--sample-prior normal`) leaves the label to the decoder alone. Likelihoods of a
conditional VAE asked without labels are bounds on the mixture (1/K) Σ_y p(x | y): log-sum-exp over
the classes of the per-class bound, minus log K, a lower bound on log p(x) in expectation.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import torch

from genlab.core.config import opt
from genlab.core.errors import GenlabError
from genlab.models.shared.autoencoder import LOG_2PI, CodingConfig, CodingModel
from genlab.models.base import Capability, conditional_opt, label_count_opt, register
from genlab.models.vae.mixture import draw_codes, fit_mixture


def gaussian_kl(m: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(m, exp(logvar)) || N(0, I)) summed over the last dim: ½Σ(exp σ − 1 − σ + m²)."""
    return 0.5 * (logvar.exp() - 1.0 - logvar + m.pow(2)).sum(-1)


def log_normal(z: torch.Tensor, m: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """log N(z; m, diag(exp(logvar))) summed over the last dim."""
    return -0.5 * (LOG_2PI + logvar + (z - m).pow(2) / logvar.exp()).sum(-1)


def reparameterize(m: torch.Tensor, logvar: torch.Tensor, samples: int = 1, generator=None) -> torch.Tensor:
    """z = m + exp(σ/2)·e, shape (samples, B, L)."""
    eps = torch.randn((samples, *m.shape), device=m.device, dtype=m.dtype, generator=generator)
    return m + (0.5 * logvar).exp() * eps


LogLik = Callable[[torch.Tensor], torch.Tensor]  # z (S, B, L) -> log p(x | z) (S, B)


def elbo_bound(log_lik: LogLik, m: torch.Tensor, logvar: torch.Tensor, generator=None) -> torch.Tensor:
    """One-sample ELBO per item: log p(x|z) − KL(q(z|x) || p(z)), shape (B,)."""
    z = reparameterize(m, logvar, 1, generator)
    return log_lik(z)[0] - gaussian_kl(m, logvar)


def iwae_bound(
    log_lik: LogLik, m: torch.Tensor, logvar: torch.Tensor, k: int, generator=None, chunk: int = 64
) -> torch.Tensor:
    """log (1/k) Σ_i p(x, z_i) / q(z_i | x), z_i ~ q(z|x): a lower bound on log p(x) that
    tightens as k grows (k=1 is the ELBO in expectation). Shape (B,)."""
    log_w = []
    for start in range(0, k, chunk):
        z = reparameterize(m, logvar, min(chunk, k - start), generator)  # (S, B, L)
        prior = -0.5 * (LOG_2PI + z.pow(2)).sum(-1)
        log_w.append(log_lik(z) + prior - log_normal(z, m, logvar))
    return torch.logsumexp(torch.cat(log_w), 0) - math.log(k)


SAMPLE_PRIORS = ("mixture", "normal")
MIXTURE_FIT_ITEMS = 10_000  # training images whose codes the sampling mixture is fitted to, at most


@dataclass
class VAEConfig(CodingConfig):
    beta: float = opt(1.0, "weight of the KL term; 2 reproduces the notes' constraint Σ(exp σ − (1+σ) + m²)")
    warmup_epochs: float = opt(0.0, "ramp the KL weight linearly from 0 to beta over this many epochs")
    sample_prior: str = opt(
        "mixture",
        "where sampled codes come from: mixture = a Gaussian mixture fitted to the "
        "training codes when training ends (Ghosh et al. 2020; FID 5.9 -> 0.75 on "
        "mnist5k, bench/README.md); normal = N(0, I), the prior of the bound",
        SAMPLE_PRIORS,
    )
    mixture: int = opt(20, "components of the sampling mixture (--sample-prior mixture)")
    conditional: bool = conditional_opt(
        "the encoder and the decoder take the class (Sohn et al. 2015's CVAE); `genlab sample --label K` draws class K"
    )
    label_count: int = label_count_opt()

    def validate(self) -> None:
        super().validate()
        if self.beta < 0 or self.warmup_epochs < 0:
            raise GenlabError("--beta and --warmup-epochs must not be negative")
        if self.mixture < 1:
            raise GenlabError("--mixture must be at least 1")


@register("vae")
class VAE(CodingModel):
    """Encoder -> (m, log-variance) -> reparameterized code -> decoder over the pixels."""

    Config = VAEConfig
    capabilities = CodingModel.capabilities | {Capability.BOUND, Capability.POSTERIOR}
    sample_options = ("pixels", "sample_prior")
    code_outputs = 2

    def __init__(self, config: VAEConfig, item_shape, palette=None):
        super().__init__(config, item_shape, palette)
        k, latent = config.mixture, config.latent
        # the sampling mixture (models/vae/mixture.py), one per class of a conditional model (a leading
        # class axis); all-zero weights: not fitted yet, sample from N(0, I)
        per = (self.label_count,) if self.label_count else ()
        self.register_buffer("code_weights", torch.zeros(*per, k, dtype=torch.float64))
        self.register_buffer("code_means", torch.zeros(*per, k, latent, dtype=torch.float64))
        self.register_buffer("code_scales", torch.zeros(*per, k, latent, latent, dtype=torch.float64))

    # --- sampling ---------------------------------------------------------------------------------
    def fit_sampler(self, train_data, labels: torch.Tensor | None = None) -> bool:
        """Fit the sampling mixture to the posterior means of (at most MIXTURE_FIT_ITEMS) training
        images (of a conditional model: each encoded with its own class, `labels` (N,), and one
        mixture fitted per class). Deterministic for given weights; touches no global random state."""
        if self.config.sample_prior != "mixture":
            return False
        codes = self.training_codes(train_data, MIXTURE_FIT_ITEMS, labels)
        buffers = (self.code_weights, self.code_means, self.code_scales)
        for buffer in buffers:
            buffer.zero_()
        if not self.label_count:
            _store(buffers, fit_mixture(codes, self.config.mixture))
            return True
        labels = labels[: len(codes)].to(codes.device)
        for y in labels.unique().tolist():  # a class with no training image keeps sampling N(0, I)
            _store([b[y] for b in buffers], fit_mixture(codes[labels == y], self.config.mixture))
        return True

    @property
    def mixture_fitted(self) -> bool:
        return bool(self.code_weights.sum() > 0)

    def prior(
        self,
        n: int,
        generator: torch.Generator | None = None,
        sample_prior: str | None = None,
        labels: torch.Tensor | int | None = None,
    ) -> torch.Tensor:
        """Codes for new samples, (n, L): from the fitted mixture (a conditional model's: that of each
        code's class `labels`, one int or (n,), by default class i mod classes), or N(0, I)
        (`sample_prior="normal"`, or a mixture not fitted yet)."""
        kind = sample_prior or self.config.sample_prior
        if kind not in SAMPLE_PRIORS:
            raise GenlabError(f"--sample-prior must be one of {', '.join(SAMPLE_PRIORS)}, not {kind!r}")
        labels = self.asked_labels(labels, n)
        if kind == "normal" or not self.mixture_fitted:
            return super().prior(n, generator)
        if labels is None:
            return draw_codes(self.code_weights, self.code_means, self.code_scales, n, generator).to(torch.float32)
        codes = super().prior(n, generator)  # N(0, I) for a class without a fitted mixture
        for y in labels.unique().tolist():  # class by class, in order: a seed gives the same codes
            mine = labels == y
            if self.code_weights[y].sum() > 0:
                codes[mine] = draw_codes(
                    self.code_weights[y], self.code_means[y], self.code_scales[y], int(mine.sum()), generator
                ).to(codes)
        return codes

    @torch.no_grad()
    def sample(
        self,
        n: int,
        generator: torch.Generator | None = None,
        pixels: str = "mean",
        sample_prior: str | None = None,
        labels: torch.Tensor | int | None = None,
    ) -> torch.Tensor:
        """n new images, uint8 (n, C, H, W); a conditional model draws class `labels` (one int or
        (n,); by default image i gets class i mod classes)."""
        labels = self.asked_labels(labels, n)
        return self.decode(self.prior(n, generator, sample_prior, labels), pixels, generator, labels)

    def after_training(self, run, load_data, say) -> None:
        super().after_training(run, load_data, say)
        if self.mixture_fitted:
            each = int((self.code_weights > 0).sum(-1).max())  # components of the (largest) mixture
            say(
                f"samples: codes from a mixture of {each} Gaussians fitted to the training codes"
                + (" of each class" if self.label_count else "")
                + " (`genlab sample RUN --sample-prior normal` draws them from N(0, I))"
            )

    def load_state_dict(self, state, strict: bool = True, assign: bool = False):
        """Runs saved before the sampling mixture existed load with it unfitted (they sample from N(0, I))."""
        state = dict(state)
        for name in ("code_weights", "code_means", "code_scales"):
            state.setdefault(name, getattr(self, name))
        return super().load_state_dict(state, strict, assign)

    def encode(self, target: torch.Tensor, labels: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Observed target (palette indices (B, 1, H, W) or dequantized pixels) and a conditional
        model's labels (B,) -> mean and log-variance of q(z | x[, y]), each (B, L)."""
        m, logvar = self.encoder_out(target, labels).chunk(2, dim=1)
        return m, logvar

    def codes(self, target: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        return self.encode(target, labels)[0]

    # --- objective ------------------------------------------------------------------------------
    def kl_weight(self) -> float:
        warm = self.config.warmup_epochs
        return self.config.beta * (min(1.0, self.progress / warm) if warm > 0 else 1.0)

    def loss(self, batch: torch.Tensor, labels: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        target = self.observe(batch)
        m, logvar = self.encode(target, labels)
        z = reparameterize(m, logvar)  # (1, B, L)
        recon = -self.log_lik(target, z, labels)[0]  # (B,)
        kl = gaussian_kl(m, logvar)
        elbo = -(recon + kl)
        return {
            "loss": (recon + self.kl_weight() * kl).mean(),
            "nll_bound": -elbo.mean(),  # −ELBO in nats per image, an upper bound on the NLL
            "recon": recon.mean(),
            "kl": kl.mean(),
            "bits_per_dim": -elbo.mean() / (self.dims * math.log(2)),
            "noise_var": logvar.exp().mean(),  # mean exp(σ): the notes' noise variance, 0 for an autoencoder
        }

    @torch.no_grad()
    def elbo(
        self, batch: torch.Tensor, generator: torch.Generator | None = None, labels: torch.Tensor | None = None
    ) -> torch.Tensor:
        """ELBO per image in nats, (B,): a lower bound on log p(x) (on log p(x | y) given labels (B,);
        a conditional model asked without labels bounds the mixture over the classes)."""
        if self.label_count and labels is None:
            return self.mixture_log_prob(lambda x, y: self.elbo(x, generator, y), batch)
        target = self.observe(batch, generator)
        m, logvar = self.encode(target, labels)
        return elbo_bound(lambda z: self.log_lik(target, z, labels), m, logvar, generator)

    @torch.no_grad()
    def iwae(
        self, batch: torch.Tensor, k: int, generator: torch.Generator | None = None, labels: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Importance-weighted bound with k samples per image in nats, (B,); ELBO ≤ IWAE_k ≤ log p(x)
        (labels as for `elbo`). The Gaussian decoder dequantizes each image once, so all k samples
        score the same v."""
        if self.label_count and labels is None:
            return self.mixture_log_prob(lambda x, y: self.iwae(x, k, generator, y), batch)
        target = self.observe(batch, generator)
        m, logvar = self.encode(target, labels)
        return iwae_bound(lambda z: self.log_lik(target, z, labels), m, logvar, k, generator)


def _store(buffers, fitted) -> None:
    """A fitted mixture (weights (k,), means, Cholesky factors) into zeroed buffers of --mixture
    components: k is fewer when there were fewer codes than components."""
    for buffer, value in zip(buffers, fitted):
        buffer[: len(value)] = value.to(buffer.device)
