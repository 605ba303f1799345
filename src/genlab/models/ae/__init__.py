"""The plain autoencoder family (Hinton & Salakhutdinov 2006): the VAE's networks
(models/shared/autoencoder.py) without noise or KL; it samples from a Gaussian fitted to its training codes.

- `model.py`: the code, the reconstruction loss, the fitted Gaussian.
Docs: docs/ae.md.
"""

from genlab.models.ae.model import AEConfig, Autoencoder

__all__ = ["AEConfig", "Autoencoder"]
