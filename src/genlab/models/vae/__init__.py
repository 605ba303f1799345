"""The VAE family (Kingma and Welling 2014; IWAE bound, Burda et al. 2016).

- `model.py`: encoder to mean and log-variance, reparameterized code, the ELBO and IWAE; the
  networks, decoders and pictures (reconstructions, the 2-D latent map) are shared with the plain
  autoencoder in models/shared/autoencoder.py.
Docs: the README (Using genlab) and docs/evaluate.md (the bounds).
"""

from genlab.models.vae.model import VAE, VAEConfig, elbo_bound, gaussian_kl, iwae_bound, log_normal, reparameterize

__all__ = ["VAE", "VAEConfig", "elbo_bound", "gaussian_kl", "iwae_bound", "log_normal", "reparameterize"]
