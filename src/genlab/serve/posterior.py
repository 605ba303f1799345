"""The VAE's encoder made visible (Kingma & Welling 2014, "Auto-Encoding Variational Bayes"): for
one test image, the mean m and spread of q(z|x) = N(m, exp(σ)) (σ is the log-variance, so the
standard deviation is exp(σ/2), as models/vae.py explains), the reconstruction decoded from m, and
decodes of codes drawn from q(z|x), c = exp(σ/2)·e + m."""

from __future__ import annotations

import torch

from genlab.serve.pictures import png_url, png_urls

DRAWS = 8


@torch.no_grad()
def posterior(model, image: torch.Tensor, seed: int, label: int | None = None) -> dict:
    """image uint8 (1, C, H, W) -> m, log-variance and std of q(z|x) (lists of L), the
    reconstruction and DRAWS decoded draws from q(z|x), with their codes; a class-conditional VAE
    encodes and decodes the image as its class `label` (Sohn et al. 2015's q(z|x, y), p(x|z, y))."""
    labels = model.check_labels(label, 1)  # (1,) on the device, or None for an unconditional model
    m, logvar = model.encode(model.prepare(image.to(model.device)), labels)  # (1, L) each
    std = (logvar / 2).exp()
    e = torch.randn(DRAWS, m.shape[1], generator=torch.Generator().manual_seed(seed)).to(model.device)  # (DRAWS, L)
    codes = m + std * e
    return {
        "m": m[0].tolist(),
        "logvar": logvar[0].tolist(),
        "std": std[0].tolist(),
        "reconstruction": png_url(model.decode(m, labels=label)[0]),
        "draws": png_urls(model.decode(codes, labels=label)),
        "codes": codes.cpu().tolist(),
    }
