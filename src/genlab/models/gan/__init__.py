"""The GAN family (Goodfellow et al. 2014; DCGAN, Radford et al. 2016): everything about it is here.

- `model.py`: the generator, the discriminator and the alternating training step;
- `losses.py`: the five losses, on D's logits;
- `pictures.py`: what a GAN run draws while it trains (2-D frames, the game plot, the animation);
- `modes.py`: mode coverage and diversity, the GAN's own figures of collapse.
The web page's live 2-D game is `genlab.serve.gan_game`. Docs: docs/gan.md.
"""

from genlab.models.gan.losses import LOSSES, PROBABILITY_LOSSES, discriminator_loss, generator_loss, gradient_penalty
from genlab.models.gan.model import GAN, GANConfig, dcgan_sizes
from genlab.models.gan.modes import MODE_SAMPLES

__all__ = [
    "GAN",
    "GANConfig",
    "LOSSES",
    "MODE_SAMPLES",
    "PROBABILITY_LOSSES",
    "dcgan_sizes",
    "discriminator_loss",
    "generator_loss",
    "gradient_penalty",
]
