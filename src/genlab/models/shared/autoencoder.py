"""The encoder/decoder machinery the VAE and the plain autoencoder share (Kingma & Welling 2014;
the autoencoder is the same network with the noise and the KL term taken out).

A `CodingModel` maps images to codes (`encoder`) and codes to a distribution over images
(`decoder`); each family adds its own objective: the VAE's ELBO (models/vae/), the autoencoder's
reconstruction error (models/ae/). Two decoders:
- `categorical` (default): a categorical distribution over the palette for every pixel (Bernoulli
  when `--colors 2`), as the notes' 1-of-N colours ask;
- `gaussian`: the notes' x|z ~ N(μ(z), σ(z)) on dequantized pixels v = x + u, u ~ U[0, 1)
  (Uria et al. 2013; Theis et al. 2016): the density of v on [0, 256) is a lower bound, in
  expectation over u, on log P(x) of the 8-bit pixels, so nats and bits per dimension (one per
  channel value) are exact figures on the same scale as every other family's 256-level models.

A class-conditional model (the VAE's `--conditional`; Sohn, Lee & Yan 2015, "Learning Structured
Output Representation using Deep Conditional Generative Models", CVAE) gives the label y to the
encoder, q(z | x, y), and to the decoder, p(x | z, y). The paper concatenates a one-hot y to the
encoder's input and to the code; a one-hot y concatenated to a dense layer's input adds the column
W_y of its weights to that layer's output, so genlab adds a learned vector per class to the output
of the first dense layer of each (nn.LabelBias, the same per-class vector the PixelRNN and WaveNet
condition on): after the convolutions for the conv encoder, which therefore sees y at its dense
head. The prior stays N(0, I) for every class (the paper's baseline CVAE, without its prior network).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from genlab.core.config import opt
from genlab.core.errors import GenlabError
from genlab.data import Palette
from genlab.models.base import Capability, GenerativeModel, colors_opt, conditional_classes
from genlab.models.shared.nn import label_bias, with_label

LOG_2PI = math.log(2 * math.pi)
LEVELS = 256  # 8-bit pixels: dequantized values live on [0, 256)
FIT_BATCH = 512  # training images encoded at a time when a code distribution is fitted


@dataclass
class CodingConfig:
    arch: str = opt("mlp", "mlp: the classic 784-400-20 MLP; conv: strided convolutions", ("mlp", "conv"))
    hidden: int = opt(400, "width of the hidden layer between the image and the code")
    latent: int = opt(20, "size of the code z (2 draws a latent map and a scatter of codes)")
    conv_channels: int = opt(32, "conv arch: channels of the first convolution (doubled in the second)")
    colors: int = colors_opt("the categorical decoder (2: Bernoulli)")
    decoder: str = opt(
        "categorical",
        "categorical: a palette colour per pixel; gaussian: N(μ(z), σ(z)) per "
        "channel value on dequantized pixels (ignores --colors)",
        ("categorical", "gaussian"),
    )

    def validate(self) -> None:
        for name in ("hidden", "latent", "conv_channels"):
            if getattr(self, name) < 1:
                raise GenlabError(f"--{name.replace('_', '-')} must be at least 1")


class MLPCoder(nn.Module):
    """n_in -> hidden (+ the class vector of a conditional net) -> ReLU -> n_out."""

    def __init__(self, n_in: int, hidden: int, n_out: int, classes: int = 0):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(n_in, hidden), nn.ReLU(), nn.Linear(hidden, n_out))
        self.label = label_bias(classes, hidden)

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        return self.net[2](self.net[1](with_label(self.net[0](x), self.label, labels)))


class MLPDecoder(nn.Sequential):
    """An MLPCoder whose output is unflattened into (out, H, W) maps (the keys of a plain Sequential)."""

    def __init__(self, latent: int, hidden: int, maps: tuple[int, int, int], classes: int = 0):
        super().__init__(MLPCoder(latent, hidden, math.prod(maps), classes), nn.Unflatten(1, maps))

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        return self[1](self[0](z, labels))  # (B, out*H*W) -> (B, out, H, W)


class ConvEncoder(nn.Module):
    def __init__(self, shape: tuple[int, int, int], ch: int, hidden: int, n_out: int, classes: int = 0):
        super().__init__()
        c, h, w = shape
        self.convs = nn.Sequential(nn.Conv2d(c, ch, 4, 2, 1), nn.ReLU(), nn.Conv2d(ch, 2 * ch, 4, 2, 1), nn.ReLU())
        with torch.no_grad():
            self.feature_shape = self.convs(torch.zeros(1, c, h, w)).shape[1:]  # (2ch, H/4, W/4)
        self.head = MLPCoder(math.prod(self.feature_shape), hidden, n_out, classes)

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        return self.head(self.convs(x).flatten(1), labels)  # (B, 2ch*H/4*W/4) -> (B, n_out)


class ConvDecoder(nn.Module):
    def __init__(
        self,
        shape: tuple[int, int, int],
        feature_shape,
        ch: int,
        hidden: int,
        latent: int,
        n_out: int,
        classes: int = 0,
    ):
        super().__init__()
        c, h, w = shape
        self.feature_shape = tuple(feature_shape)
        self.sizes = [(h // 2, w // 2), (h, w)]  # mirrors the encoder: H -> H//2 -> H//4
        self.head = MLPCoder(latent, hidden, math.prod(self.feature_shape), classes)
        self.up1 = nn.ConvTranspose2d(2 * ch, ch, 4, 2, 1)
        self.up2 = nn.ConvTranspose2d(ch, n_out, 4, 2, 1)

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        f = F.relu(self.head(z, labels)).view(-1, *self.feature_shape)  # (B, 2ch, H/4, W/4)
        f = F.relu(self.up1(f, output_size=self.sizes[0]))  # (B, ch, H/2, W/2)
        return self.up2(f, output_size=self.sizes[1])  # (B, n_out, H, W)


class CodingModel(GenerativeModel):
    """Encoder -> `code_outputs` numbers per latent dimension; decoder: code -> pixel distribution.
    Subclasses define `codes(target, labels)` (the code an image is mapped to) and the objective.
    `labels` (B,) are the items' classes for a class-conditional model (label_count > 0), else None."""

    uses_palette = True
    capabilities = frozenset({Capability.LATENT, Capability.ENCODES})
    sample_options = ("pixels",)
    code_outputs = 1  # encoder outputs per latent dimension: 2 for the VAE's (m, log-variance)

    def __init__(self, config: CodingConfig, item_shape, palette: Palette | None = None):
        super().__init__(config, item_shape, palette)
        self.label_count = classes = conditional_classes(config)
        c, h, w = self.item_shape
        self.k = self.palette.k
        self.gaussian = config.decoder == "gaussian"
        # dimensions of one image: a palette index per pixel, or a value per channel and pixel
        self.dims = c * h * w if self.gaussian else h * w
        # per pixel: (mean, log-variance) per channel, a Bernoulli logit, or K categorical logits
        out = 2 * c if self.gaussian else 1 if self.k == 2 else self.k
        n_code = self.code_outputs * config.latent
        if config.arch == "mlp":
            self.encoder = MLPCoder(c * h * w, config.hidden, n_code, classes)
            self.decoder = MLPDecoder(config.latent, config.hidden, (out, h, w), classes)  # (B, out, H, W)
        else:
            self.encoder = ConvEncoder(self.item_shape, config.conv_channels, config.hidden, n_code, classes)
            self.decoder = ConvDecoder(
                self.item_shape,
                self.encoder.feature_shape,
                config.conv_channels,
                config.hidden,
                config.latent,
                out,
                classes,
            )
        self.arch_flat = config.arch == "mlp"

    # --- data -----------------------------------------------------------------------------------
    def prepare(self, data: torch.Tensor) -> torch.Tensor:
        """Palette indices (N, 1, H, W), or the raw uint8 pixels (N, C, H, W) for the Gaussian decoder."""
        return data if self.gaussian else super().prepare(data)

    def observe(
        self, batch: torch.Tensor, generator: torch.Generator | None = None, dequantize: bool = True
    ) -> torch.Tensor:
        """What the decoder's distribution is over: palette indices as they are; for the Gaussian
        decoder v = x + u on [0, 256), u ~ U[0, 1) (dequantize=False: the centre, u = ½)."""
        if not self.gaussian:
            return batch
        x = batch.to(torch.float32)
        if not dequantize:
            return x + 0.5
        return x + torch.rand(x.shape, device=x.device, generator=generator)

    def _pixels_in(self, target: torch.Tensor) -> torch.Tensor:
        """Observed target -> encoder input: colours in [0, 1], (B, C, H, W) or flat."""
        if self.gaussian:
            x = target / LEVELS
        else:
            colors = self.palette_colors.to(torch.float32) / 255.0  # (K, C)
            x = colors[target[:, 0]].permute(0, 3, 1, 2)  # (B, H, W, C) -> (B, C, H, W)
        return x.flatten(1) if self.arch_flat else x

    def encoder_out(self, target: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """Observed target (and a conditional model's labels (B,)) -> the encoder's numbers, (B, code_outputs * L)."""
        return self.encoder(self._pixels_in(target), self.check_labels(labels, len(target)))

    def codes(self, target: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """The code an image is mapped to, (B, L) (the VAE: the posterior mean)."""
        raise NotImplementedError

    def logits(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """Codes (B, L) (and a conditional model's labels (B,)) -> decoder outputs: Bernoulli (B, 1, H, W),
        categorical (B, K, H, W), or Gaussian (B, 2C, H, W) = means in [0, 1] units then log-variances."""
        return self.decoder(z, self.check_labels(labels, len(z)))

    def log_lik(self, target: torch.Tensor, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """log p(x | z, y) in nats for codes z (S, B, L), observed targets (B, ...) and a conditional
        model's labels (B,) -> (S, B)."""
        s, b, _ = z.shape
        labels = None if labels is None else self.check_labels(labels, b).repeat(s)  # (S*B,), sample-major as z
        logits = self.logits(z.reshape(s * b, -1), labels)  # (S*B, out, H, W)
        target = target.expand(s, *target.shape).reshape(s * b, *target.shape[1:])  # (S*B, ...)
        if self.gaussian:
            mean, logvar = logits.chunk(2, dim=1)  # (S*B, C, H, W) each
            y = target / LEVELS  # the density of v = 256·y is the density of y over 256 per dimension
            log_p = -0.5 * (LOG_2PI + logvar + (y - mean).pow(2) / logvar.exp()) - math.log(LEVELS)
            return log_p.reshape(s, b, -1).sum(-1)
        if self.k == 2:
            nll = F.binary_cross_entropy_with_logits(logits, target.to(logits.dtype), reduction="none")
        else:
            nll = F.cross_entropy(logits, target[:, 0], reduction="none")  # (S*B, H, W)
        return -nll.reshape(s, b, -1).sum(-1)

    # --- using the model --------------------------------------------------------------------------
    @torch.no_grad()
    def decode(
        self,
        z: torch.Tensor,
        pixels: str = "mean",
        generator: torch.Generator | None = None,
        labels: torch.Tensor | int | None = None,
    ) -> torch.Tensor:
        """Codes (B, L) -> uint8 images (B, C, H, W); a conditional model draws class `labels` (one
        int or (B,); by default image i gets class i mod classes).

        pixels="mean" paints each pixel its expected colour (smooth pictures); "sample" draws each
        pixel from the decoder's distribution."""
        logits = self.logits(z, self.asked_labels(labels, len(z)))
        if self.gaussian:
            mean, logvar = logits.chunk(2, dim=1)  # (B, C, H, W) each
            if pixels == "sample":
                noise = torch.randn(mean.shape, device=mean.device, generator=generator)
                mean = mean + (0.5 * logvar).exp() * noise
            return (mean * LEVELS).floor().clamp(0, 255).to(torch.uint8)
        probs = torch.cat([1 - logits.sigmoid(), logits.sigmoid()], 1) if self.k == 2 else logits.softmax(1)
        colors = self.palette_colors.to(probs.dtype)  # (K, C)
        if pixels == "sample":
            b, k, h, w = probs.shape
            flat = probs.permute(0, 2, 3, 1).reshape(-1, k)  # (B*H*W, K)
            idx = torch.multinomial(flat, 1, generator=generator).view(b, 1, h, w)
            return self.palette.decode(idx)
        mean = torch.einsum("bkhw,kc->bchw", probs, colors)  # (B, C, H, W)
        return mean.round().clamp(0, 255).to(torch.uint8)

    def prior(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        return torch.randn(n, self.config.latent, device=self.device, generator=generator)

    @torch.no_grad()
    def sample(
        self,
        n: int,
        generator: torch.Generator | None = None,
        pixels: str = "mean",
        labels: torch.Tensor | int | None = None,
    ) -> torch.Tensor:
        return self.decode(self.prior(n, generator), pixels, generator, labels)

    @torch.no_grad()
    def training_codes(self, prepared, limit: int | None = None, labels: torch.Tensor | None = None) -> torch.Tensor:
        """The codes of prepared training data (a tensor or a pack, (N, ...); a conditional model's
        labels (N,)), the first `limit` items at most, encoded FIT_BATCH at a time in inference mode
        -> float64 (N, L)."""
        n = len(prepared) if limit is None else min(limit, len(prepared))
        was_training = self.training
        self.eval()
        try:
            parts = []
            for i in range(0, n, FIT_BATCH):
                rows = torch.arange(i, min(i + FIT_BATCH, n))
                target = self.observe(prepared[rows].to(self.device), dequantize=False)
                parts.append(self.codes(target, None if labels is None else labels[rows.to(labels.device)]))
        finally:
            self.train(was_training)
        return torch.cat(parts).to(torch.float64)

    @torch.no_grad()
    def encode_images(self, images: torch.Tensor, labels: torch.Tensor | int | None = None) -> torch.Tensor:
        """uint8 images (B, C, H, W) -> their codes (B, L); a conditional model encodes each as class
        `labels` (one int or (B,); by default image i as class i mod classes)."""
        return self.codes(
            self.observe(self.prepare(images.to(self.device)), dequantize=False), self.asked_labels(labels, len(images))
        )

    @torch.no_grad()
    def reconstruct(self, images: torch.Tensor, labels: torch.Tensor | int | None = None) -> torch.Tensor:
        labels = self.asked_labels(labels, len(images))
        return self.decode(self.encode_images(images, labels), labels=labels)

    @torch.no_grad()
    def after_training(self, run, load_data, say) -> None:
        from genlab import viz

        self.eval()
        data = load_data()
        test = data.test[:16]
        labels = data.test_labels[:16] if self.label_count else None  # a conditional model: each image's own class
        viz.save_grid(viz.interleave_rows(test, self.reconstruct(test, labels), 8), run / "reconstructions.png", nrow=8)
        say(f"reconstructions: {run / 'reconstructions.png'} (rows 1 and 3: test images; 2 and 4: reconstructions)")
        if self.config.latent == 2:
            viz.save_grid(self.latent_grid(15), run / "latent_map.png", nrow=15)
            codes = self.encode_images(data.test, data.test_labels if self.label_count else None)
            viz.save_latent_scatter(codes, data.test_labels, run / "latent_scatter.png")
            say(
                f"2-D latent: {run / 'latent_map.png'} and {run / 'latent_scatter.png'}"
                + (" (the map decodes every code as class 0)" if self.label_count else "")
            )

    def latent_grid(self, per_side: int = 15, label: int = 0) -> torch.Tensor:
        """For a 2-D latent: decoded images on a grid of prior quantiles, row-major, (n², C, H, W);
        a conditional model decodes every code as class `label`."""
        q = torch.linspace(0.05, 0.95, per_side, device=self.device)
        ticks = self.prior_quantiles(q)
        ys, xs = torch.meshgrid(ticks[:, 1].flip(0), ticks[:, 0], indexing="ij")  # top row = largest z2
        return self.decode(
            torch.stack([xs.flatten(), ys.flatten()], 1), **({"labels": label} if self.label_count else {})
        )

    def prior_quantiles(self, q: torch.Tensor) -> torch.Tensor:
        """The prior's marginal quantiles q (n,) per latent dimension, (n, L); N(0, 1) here."""
        return torch.distributions.Normal(0.0, 1.0).icdf(q)[:, None].expand(-1, self.config.latent)
