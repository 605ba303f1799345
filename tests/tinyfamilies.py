"""One tiny configuration per registered family: its model options and the data it trains on, small
enough that tests/test_family_contract.py trains every family three times in seconds. A family
that registers without an entry here fails the contract test. The family tests share these too."""

from dataclasses import dataclass, field

WAVENET = dict(layers=3, stacks=2, residual_channels=6, gate_channels=5, skip_channels=7)  # receptive field 15


@dataclass(frozen=True)
class Tiny:
    options: dict  # model options, as `train.start` takes them
    data: str  # a built-in data spec
    data_options: dict = field(default_factory=dict)  # DataConfig fields beyond the spec
    batch_size: int = 64


TINY = {
    "ae": Tiny({"hidden": 8, "latent": 2}, "digits"),
    # every piece of GAN state a resume must restore: two optimisers, several D steps, the EMA copy of G,
    # batch norm in G, spectral norm's power-iteration vectors in D, the gradient penalty's double backward
    "gan": Tiny(
        {"conv_channels": 4, "latent": 8, "ema": 0.9, "d_steps": 2, "spectral_norm": True, "loss": "wgan-gp"}, "digits"
    ),
    "gmm": Tiny({"components": 3, "em_steps": 2}, "digits"),  # k-means seed and dequantization noise from the RNG
    "pixelrnn": Tiny({"width": 4, "layers": 1, "head": 8}, "digits"),
    "vae": Tiny({"hidden": 8, "latent": 2}, "digits"),
    "wavenet": Tiny({**WAVENET, "window": 250}, "tones", {"sample_rate": 1000}, batch_size=16),
}
