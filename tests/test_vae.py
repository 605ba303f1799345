"""The VAE's mathematics with exact answers, and the model's behaviour."""

import math

import pytest
import torch

from genlab.data import Palette
from genlab.models.vae import VAE, VAEConfig, elbo_bound, gaussian_kl, iwae_bound, log_normal, reparameterize


def test_kl_matches_monte_carlo_and_is_half_the_notes_constraint():
    g = torch.Generator().manual_seed(0)
    m = torch.tensor([[0.5, -1.0, 2.0]])
    logvar = torch.tensor([[-0.7, 0.3, 1.2]])
    z = reparameterize(m, logvar, 400_000, g)  # (S, 1, 3)
    prior = -0.5 * (math.log(2 * math.pi) + z.pow(2)).sum(-1)
    monte_carlo = (log_normal(z, m, logvar) - prior).mean()
    exact = gaussian_kl(m, logvar)
    assert exact.item() == pytest.approx(monte_carlo.item(), rel=0.01)
    notes = (logvar.exp() - (1 + logvar) + m.pow(2)).sum()
    assert notes.item() == pytest.approx(2 * exact.item(), rel=1e-6)
    assert gaussian_kl(torch.zeros(1, 3), torch.zeros(1, 3)).item() == 0.0


def test_reparameterized_noise_scale_is_exp_half_logvar():
    g = torch.Generator().manual_seed(1)
    z = reparameterize(torch.tensor([[3.0]]), torch.tensor([[math.log(4.0)]]), 200_000, g)
    assert z.mean().item() == pytest.approx(3.0, abs=0.02)
    assert z.std().item() == pytest.approx(2.0, rel=0.01)  # variance 4 -> std 2, not exp(log 4) = 4


class LinearGaussian:
    """p(z) = N(0, I), p(x|z) = N(Wz + b, s²I): the marginal N(b, WWᵀ + s²I) is exact.
    W has orthogonal columns, so the true posterior has a diagonal covariance."""

    def __init__(self, seed=0, dx=5, dz=2, s=0.6):
        g = torch.Generator().manual_seed(seed)
        q, _ = torch.linalg.qr(torch.randn(dx, dz, generator=g, dtype=torch.float64))
        self.W = q * torch.tensor([1.5, 0.8], dtype=torch.float64)
        self.b = torch.randn(dx, generator=g, dtype=torch.float64)
        self.s2 = s * s
        self.dx = dx

    def log_lik(self, x):
        def f(z):  # z (S, B, L) -> (S, B)
            mean = z @ self.W.T + self.b
            return -0.5 * (self.dx * math.log(2 * math.pi * self.s2) + (x - mean).pow(2).sum(-1) / self.s2)

        return f

    def log_marginal(self, x):
        cov = self.W @ self.W.T + self.s2 * torch.eye(self.dx, dtype=torch.float64)
        return torch.distributions.MultivariateNormal(self.b, cov).log_prob(x)

    def posterior(self, x):
        prec = 1 + (self.W.pow(2).sum(0) / self.s2)  # diagonal of I + WᵀW/s²
        mean = ((x - self.b) @ self.W / self.s2) / prec
        return mean, (-prec.log()).expand_as(mean)


def test_bounds_are_tight_with_the_exact_posterior():
    model = LinearGaussian()
    x = torch.randn(20, 5, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    m, logvar = model.posterior(x)
    g = torch.Generator().manual_seed(3)
    log_p = model.log_marginal(x)
    for k in (1, 7):  # with q = p(z|x) every importance weight equals p(x): exact for every draw
        torch.testing.assert_close(iwae_bound(model.log_lik(x), m, logvar, k, g), log_p)
    reps = 5000  # the ELBO (analytic KL) is exact only in expectation
    elbo = elbo_bound(model.log_lik(x.repeat(reps, 1)), m.repeat(reps, 1), logvar.repeat(reps, 1), g)
    assert elbo.mean().item() == pytest.approx(log_p.mean().item(), abs=0.02)


def test_elbo_below_iwae_below_log_p_and_iwae_tightens():
    model = LinearGaussian()
    x = torch.randn(200, 5, generator=torch.Generator().manual_seed(4), dtype=torch.float64)
    m, logvar = model.posterior(x)
    m, logvar = m + 0.4, logvar + 0.8  # a poor encoder: the bound gap is large
    g = torch.Generator().manual_seed(5)
    log_p = model.log_marginal(x).mean().item()
    elbo = elbo_bound(model.log_lik(x), m, logvar, g).mean().item()
    iwae10 = iwae_bound(model.log_lik(x), m, logvar, 10, g).mean().item()
    iwae1000 = iwae_bound(model.log_lik(x), m, logvar, 1000, g, chunk=128).mean().item()
    assert elbo < iwae10 < iwae1000 < log_p
    assert log_p - elbo > 0.3  # the gap we closed is real
    assert log_p - iwae1000 < 0.05


def _tiny_vae(colors=2, arch="mlp", shape=(1, 8, 8), latent=3, seed=0):
    torch.manual_seed(seed)
    c = shape[0]
    palette = (
        Palette(torch.tensor([[0] * c, [255] * c], dtype=torch.uint8))
        if colors == 2
        else Palette(torch.randint(0, 256, (colors, c), generator=torch.Generator().manual_seed(9), dtype=torch.uint8))
    )
    cfg = VAEConfig(arch=arch, hidden=16, latent=latent, conv_channels=4, colors=colors)
    return VAE(cfg, shape, palette)


@pytest.mark.parametrize(
    "arch,colors,shape", [("mlp", 2, (1, 8, 8)), ("mlp", 5, (3, 6, 7)), ("conv", 2, (1, 9, 11)), ("conv", 4, (3, 8, 8))]
)
def test_loss_terms_shapes_and_bounds(arch, colors, shape):
    vae = _tiny_vae(colors, arch, shape)
    idx = torch.randint(0, colors, (6, 1, *shape[1:]), generator=torch.Generator().manual_seed(0))
    out = vae.loss(idx)
    assert out["nll_bound"].item() == pytest.approx((out["recon"] + out["kl"]).item(), rel=1e-5)
    assert out["bits_per_dim"].item() == pytest.approx(out["nll_bound"].item() / (shape[1] * shape[2] * math.log(2)))
    logits = vae.logits(torch.zeros(2, 3))
    assert logits.shape == (2, 1 if colors == 2 else colors, *shape[1:])
    # an untrained model that predicts ~uniform pixels costs about log K nats per pixel
    assert out["recon"].item() == pytest.approx(shape[1] * shape[2] * math.log(colors), rel=0.25)
    images = vae.sample(4, torch.Generator().manual_seed(0), pixels="sample")
    assert images.shape == (4, *shape) and images.dtype == torch.uint8
    colors_used = {tuple(p) for p in images.permute(0, 2, 3, 1).reshape(-1, shape[0]).tolist()}
    assert colors_used <= {tuple(c) for c in vae.palette_colors.tolist()}


def test_bernoulli_reconstruction_term_is_binary_cross_entropy():
    vae = _tiny_vae()
    idx = torch.randint(0, 2, (3, 1, 8, 8), generator=torch.Generator().manual_seed(1))
    z = torch.randn(1, 3, 3)
    p = vae.logits(z[0]).sigmoid()
    expected = -(idx * p.log() + (1 - idx) * (1 - p).log()).sum((1, 2, 3))
    torch.testing.assert_close(vae.log_lik(idx, z)[0], -expected, rtol=1e-4, atol=1e-4)


def test_kl_warmup_and_beta():
    vae = _tiny_vae()
    vae.config.beta, vae.config.warmup_epochs = 2.0, 4.0
    vae.progress = 0.0
    assert vae.kl_weight() == 0.0
    vae.progress = 1.0
    assert vae.kl_weight() == pytest.approx(0.5)
    vae.progress = 10.0
    assert vae.kl_weight() == pytest.approx(2.0)
    idx = torch.randint(0, 2, (4, 1, 8, 8), generator=torch.Generator().manual_seed(2))
    torch.manual_seed(0)
    out = vae.loss(idx)
    assert out["loss"].item() == pytest.approx((out["recon"] + 2.0 * out["kl"]).item(), rel=1e-5)


def test_seeded_sampling_is_reproducible():
    vae = _tiny_vae(colors=4, shape=(3, 8, 8))
    a = vae.sample(8, torch.Generator().manual_seed(7), pixels="sample")
    b = vae.sample(8, torch.Generator().manual_seed(7), pixels="sample")
    c = vae.sample(8, torch.Generator().manual_seed(8), pixels="sample")
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_iwae_is_at_least_elbo_on_average_for_the_model():
    vae = _tiny_vae()
    idx = torch.randint(0, 2, (32, 1, 8, 8), generator=torch.Generator().manual_seed(3))
    g = torch.Generator().manual_seed(0)
    elbo = vae.elbo(idx, g).mean()
    iwae = vae.iwae(idx, 64, g).mean()
    assert iwae > elbo


def test_latent_grid_is_ordered_like_a_map():
    vae = _tiny_vae(latent=2)
    seen = []
    vae.decode = lambda z: seen.append(z) or torch.zeros(len(z), 1, 8, 8, dtype=torch.uint8)
    vae.latent_grid(5)
    z = seen[0].view(5, 5, 2)  # (rows, cols, L)
    assert torch.all(z[:, 1:, 0] > z[:, :-1, 0])  # z1 grows to the right
    assert torch.all(z[1:, :, 1] < z[:-1, :, 1])  # z2 grows upwards
    assert z[2, 2].abs().max() < 1e-6  # the centre is the prior's mean


def _fixed_gaussian_vae(mu: float, sigma: float, shape=(3, 4, 4)):
    """A Gaussian-decoder VAE whose encoder says q(z|x) = N(0, I) and whose decoder is N(mu, sigma²)
    for every value, whatever the code: its ELBO is log N(v/256; mu, sigma²) − D·log 256 exactly."""
    c, h, w = shape
    vae = VAE(
        VAEConfig(hidden=8, latent=3, decoder="gaussian"),
        shape,
        Palette(torch.tensor([[0] * c, [255] * c], dtype=torch.uint8)),
    )
    with torch.no_grad():
        last_enc, last_dec = vae.encoder.net[2], vae.decoder[0].net[2]
        last_enc.weight.zero_(), last_enc.bias.zero_()  # m = 0, log-variance = 0: KL = 0
        last_dec.weight.zero_()
        last_dec.bias.copy_(torch.cat([torch.full((c * h * w,), mu), torch.full((c * h * w,), 2 * math.log(sigma))]))
    return vae


def test_gaussian_decoder_bits_per_dim_on_dequantized_pixels_is_exact():
    mu, sigma, shape = 0.4, 0.2, (3, 4, 4)
    vae = _fixed_gaussian_vae(mu, sigma, shape)
    x = torch.randint(0, 256, (2000, *shape), generator=torch.Generator().manual_seed(0), dtype=torch.uint8)
    assert torch.equal(vae.prepare(x), x)  # raw pixels, no palette
    # E_u[−log N((x+u)/256; mu, sigma²)] + log 256 per value, u ~ U[0, 1): the variance of u/256 is 1/(12·256²)
    y = (x.double() + 0.5) / 256
    per_value = (
        0.5 * math.log(2 * math.pi * sigma**2) + ((y - mu) ** 2 + 1 / (12 * 256**2)) / (2 * sigma**2) + math.log(256)
    )
    expected = per_value.sum((1, 2, 3)).mean().item()
    g = torch.Generator().manual_seed(1)
    # the only randomness is u: per value at most |y − mu|/sigma² · std(u)/256 ≈ 0.02 nats, so over
    # 48 values and 2000 images the mean's standard error is about 0.003 nats; 0.03 is ten of them
    assert -vae.elbo(x, g).mean().item() == pytest.approx(expected, abs=0.03)
    assert -vae.iwae(x, 10, g).mean().item() == pytest.approx(expected, abs=0.03)  # q = p(z): every weight is p(x)
    out = vae.loss(x)
    assert out["kl"].item() == 0.0
    assert out["nll_bound"].item() == pytest.approx(expected, abs=0.03)
    assert out["bits_per_dim"].item() == pytest.approx(expected / (48 * math.log(2)), abs=0.03 / (48 * math.log(2)))


def test_gaussian_decoder_pictures_are_its_means_and_draws():
    vae = _fixed_gaussian_vae(0.4, 0.2)
    mean = vae.sample(3, torch.Generator().manual_seed(0))
    assert (mean == math.floor(0.4 * 256)).all()
    draws = vae.sample(500, torch.Generator().manual_seed(0), pixels="sample").double()
    assert draws.mean().item() == pytest.approx(0.4 * 256, abs=1.0) and draws.std().item() == pytest.approx(
        0.2 * 256, rel=0.05
    )
