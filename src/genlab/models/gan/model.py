"""Generative adversarial network: a generator G that never sees a real item and a discriminator D
trained to tell G's output from real data, updated in alternation.

Goodfellow et al. 2014, "Generative Adversarial Nets" (the game, Algorithm 1, the minimax and the
non-saturating generator losses); Radford, Metz & Chintala 2016, "Unsupervised Representation
Learning with Deep Convolutional GANs" (DCGAN: the convolutional G and D, N(0, 0.02) weights,
batch norm, LeakyReLU 0.2 in D, Adam with lr 2e-4 and β1 = 0.5, a uniform prior).

Each training step is one iteration of Algorithm 1, as the notes describe it:
  1. fix G (its outputs are detached: G gets no gradient and takes no step) and train D as a binary
     classifier, real vs generated, for `--d-steps` steps;
  2. fix D (`requires_grad` off for D's parameters, so it accumulates no gradient) and update G so
     that D calls its output real.

Losses, all computed from D's logits `l` (`l_r` on real items, `l_f` on generated ones):
  minimax          D: −log σ(l_r) − log(1 − σ(l_f));  G: log(1 − σ(l_f))        (Goodfellow 2014)
  non-saturating   D: as minimax;                    G: −log σ(l_f)            (Goodfellow 2014, §3)
  least-squares    D: ½(l_r − 1)² + ½ l_f²;           G: ½(l_f − 1)²            (Mao et al. 2017, LSGAN, a=0 b=c=1)
  hinge            D: max(0, 1 − l_r) + max(0, 1 + l_f); G: −l_f               (Lim & Ye 2017; Miyato et al. 2018)
  wgan-gp          D: l_f − l_r + λ(‖∇D(x̂)‖₂ − 1)², x̂ = εx + (1 − ε)G(z), ε ~ U[0, 1];  G: −l_f
                   (Gulrajani et al. 2017, "Improved Training of Wasserstein GANs"; λ = 10, 5 D steps,
                   Adam β = (0, 0.9), no batch norm in the critic)
each averaged over the batch. Options: spectral normalization of every D layer (Miyato et al. 2018,
torch.nn.utils.parametrizations.spectral_norm; D then has no batch norm), separate learning rates
for G and D (Heusel et al. 2017, TTUR), an exponential moving average of G's weights used for
sampling (Yazıcı et al. 2019; Karras et al. 2018), one-sided label smoothing (Salimans et al. 2016:
real targets 1 − s, generated targets stay 0).

Deviations:
- The `--d-steps` D steps of one iteration see the same real minibatch (the trainer hands one batch
  per iteration) with fresh noise each; Algorithm 1 draws a new real minibatch per D step.
- The G step reuses the noise, and the generated batch, of the last D step (as PyTorch's DCGAN
  example does) instead of drawing fresh noise: it saves one G forward pass per iteration.
- DCGAN's G and D work for any image size: G projects z to a (2^(s−1)·ch, H/2^s, W/2^s) map and
  doubles the size s times with 4x4 stride-2 transposed convolutions (output sizes chosen so odd
  sizes such as 28 → 14 → 7 come out exact); D mirrors it with strided convolutions and ends in a
  linear layer instead of a 4x4 convolution. Images are scaled to [-1, 1]; G ends in tanh.
- For 2-D points G and D are MLPs (ReLU in G, LeakyReLU 0.2 in D; no batch norm) and G's output is
  linear; this is the toy setting of GAN Lab and of the mode-coverage papers.
- The EMA decay ramps up as min(decay, (1 + t)/(10 + t)) over the first G steps (t counts them), so
  the average does not remember the random initial weights for long.
- Images default to Adam lr 2e-3 and β2 = 0.99 (β1 stays 0.5), not DCGAN's 2e-4 and 0.999: on
  mnist5k with 2 minutes of one CPU thread they halve the FID of 1,000 samples (5.9–7.1 -> 3.3–3.4,
  2 seeds; bench/README.md, "Sweep: DCGAN defaults at 2 minutes"). 2-D points keep 1e-3 and 0.999.
- Class-conditional (`--conditional`, images with labels): G gets a learned vector per class added to
  the output of its first (projection) layer, which is what a one-hot label concatenated to z does
  through that layer (nn.LabelBias); D is the projection discriminator of Miyato & Koyama 2018,
  "cGANs with Projection Discriminator": D(x, y) = ψ(φ(x)) + v_yᵀ φ(x), with φ(x) the features
  before D's last linear layer and v_y a learned vector per class (spectrally normalized with the
  rest of D under `--spectral-norm`). The paper's G uses conditional batch norm instead of the
  class vector; here G's batch norm is shared by the classes. Each step's generated batch asks for
  the classes of the real batch, so both see the data's class frequencies; the gradient penalty
  scores its mixed items with the same classes. 2-D points stay unconditional.
- `d_real` / `d_fake` are mean probabilities σ(l) for minimax and non-saturating, mean raw scores
  otherwise (least-squares aims them at 1 and 0; hinge and WGAN scores are unbounded).
"""

from __future__ import annotations

import copy
import itertools
import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from genlab.core.config import opt
from genlab.core.errors import GenlabError
from genlab.data import Dataset, Palette
from genlab.models.base import (
    Capability,
    GenerativeModel,
    conditional_classes,
    conditional_opt,
    label_count_opt,
    register,
)
from genlab.models.gan.losses import (
    LOSSES,
    PROBABILITY_LOSSES,
    SMOOTHABLE,
    discriminator_loss,
    generator_loss,
    gradient_penalty,
)
from genlab.models.gan.modes import MODE_SAMPLES
from genlab.models.shared.nn import label_bias, update_average, with_label

DIVERSITY_ITEMS = 500  # images `genlab evaluate` draws for the diversity figure


@dataclass
class GANConfig:
    arch: str = opt(
        "auto", "auto: dcgan for images, mlp for 2-D points; mlp also works on small images", ("auto", "dcgan", "mlp")
    )
    loss: str = opt("non-saturating", "the game's objective (see docs/gan.md)", LOSSES)
    latent: int | None = opt(None, "size of the noise z (default: 100 for images, as DCGAN; 2 for 2-D points)")
    prior: str = opt("normal", "distribution of z: normal N(0, I) or uniform U[-1, 1] (DCGAN)", ("normal", "uniform"))
    d_steps: int | None = opt(None, "D steps per G step (default: 5 with wgan-gp, else 1)")
    lr_g: float | None = opt(None, "generator's Adam learning rate (default: --lr)")
    lr_d: float | None = opt(None, "discriminator's Adam learning rate (default: --lr)")
    beta1: float | None = opt(None, "Adam β1 for both nets (default: 0.5 as DCGAN; 0 with wgan-gp)")
    beta2: float | None = opt(
        None, "Adam β2 for both nets (default: 0.99 for images, 0.999 for 2-D points; 0.9 with wgan-gp)"
    )
    spectral_norm: bool = opt(False, "spectral normalization on every D layer (Miyato et al. 2018); no batch norm in D")
    gp_weight: float = opt(10.0, "wgan-gp: weight λ of the gradient penalty")
    label_smoothing: float = opt(0.0, "one-sided: D's target for real items is 1 − S (0.1 is typical)")
    ema: float | None = opt(
        None,
        "decay of a moving average of G's weights used for sampling; 0 = off "
        "(default: 0.999 for 2-D points, off for images)",
    )
    conv_channels: int = opt(32, "dcgan: channels next to the image (doubled at each halving of the size)")
    width: int = opt(128, "mlp: hidden units per layer")
    layers: int = opt(3, "mlp: hidden layers in G and in D")
    animate: bool = opt(False, "2-D data: also write training.gif, an animation of the per-epoch frames")
    conditional: bool = conditional_opt(
        "a class vector in G and a projection discriminator (Miyato & Koyama "
        "2018); `genlab sample --label K` draws class K (images)"
    )
    label_count: int = label_count_opt()


# --- networks -------------------------------------------------------------------------------------
# CHANNELS_LAST: the DCGAN nets run their activations in channels-last memory order, which oneDNN's
# CPU convolutions (and cuDNN's) prefer; the weights keep the default order, so checkpoints and
# optimiser state are laid out as usual. The maths is unchanged.


def dcgan_sizes(h: int, w: int) -> list[tuple[int, int]]:
    """Spatial sizes from the image down to G's first map: halve (rounding down) while the larger side
    is above 7 and the smaller at least 2, at least once. 28 -> 14 -> 7; 32 -> 16 -> 8 -> 4; 8 -> 4."""
    sizes = [(h, w)]
    while min(sizes[-1]) >= 2 and (len(sizes) == 1 or max(sizes[-1]) > 7):
        sizes.append((sizes[-1][0] // 2, sizes[-1][1] // 2))
    return sizes


class DCGANGenerator(nn.Module):
    def __init__(self, latent: int, shape: tuple[int, int, int], ch: int, classes: int = 0):
        super().__init__()
        c = shape[0]
        self.sizes = dcgan_sizes(*shape[1:])[::-1]  # G's first map ... the image
        stages = len(self.sizes) - 1
        widths = [ch * 2 ** (stages - 1 - i) for i in range(stages)] + [c]  # e.g. 2ch, ch, C
        self.base = (widths[0], *self.sizes[0])
        self.project = nn.Sequential(
            nn.Linear(latent, math.prod(self.base), bias=False),
            nn.Unflatten(1, self.base),  # (B, 2^(s-1) ch, h0, w0)
            nn.BatchNorm2d(widths[0]),
            nn.ReLU(True),
        )
        self.label = label_bias(classes, math.prod(self.base))  # a conditional G's class vector
        self.ups = nn.ModuleList(
            nn.ConvTranspose2d(a, b, 4, 2, 1, bias=(i == stages - 1))
            for i, (a, b) in enumerate(zip(widths[:-1], widths[1:]))
        )
        self.norms = nn.ModuleList(nn.BatchNorm2d(b) for b in widths[1:-1])

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        x = run_after_first(self.project, with_label(self.project[0](z), self.label, labels))
        x = x.contiguous(memory_format=torch.channels_last)  # (B, 2^(s-1) ch, h0, w0), see CHANNELS_LAST
        for i, up in enumerate(self.ups):
            x = up(x, output_size=self.sizes[i + 1])  # (B, widths[i + 1], *sizes[i + 1]): 2h or 2h + 1
            x = F.relu(self.norms[i](x)) if i < len(self.norms) else torch.tanh(x)
        return x  # (B, C, H, W) in [-1, 1]


class Projection(nn.Module):
    """The class term v_yᵀ φ(x) of a projection discriminator (Miyato & Koyama 2018): a learned
    vector per class, its inner product with D's features; drawn from N(0, 0.02) as DCGAN's weights
    (not zero: a spectral norm divides by the largest singular value)."""

    def __init__(self, classes: int, features: int):
        super().__init__()
        self.embed = nn.Embedding(classes, features)
        nn.init.normal_(self.embed.weight, 0.0, 0.02)

    def forward(self, features: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return (self.embed(labels) * features).sum(1)  # (B, F) -> (B,)


def projected(
    out: torch.Tensor, features: torch.Tensor, projection: Projection | None, labels: torch.Tensor | None
) -> torch.Tensor:
    """D's score (B,) plus the class term of a conditional D; the score itself for an unconditional one."""
    return out if projection is None else out + projection(features, labels)


class DCGANDiscriminator(nn.Module):
    def __init__(self, shape: tuple[int, int, int], ch: int, batch_norm: bool, classes: int = 0):
        super().__init__()
        c = shape[0]
        sizes = dcgan_sizes(*shape[1:])
        widths = [c] + [ch * 2**i for i in range(len(sizes) - 1)]  # C, ch, 2ch, ...
        layers: list[nn.Module] = []
        for i, (a, b) in enumerate(zip(widths[:-1], widths[1:])):
            layers.append(nn.Conv2d(a, b, 4, 2, 1, bias=not (batch_norm and i > 0)))
            if batch_norm and i > 0:  # DCGAN: no batch norm on D's input layer
                layers.append(nn.BatchNorm2d(b))
            layers.append(nn.LeakyReLU(0.2, True))
        self.convs = nn.Sequential(*layers)
        self.head = nn.Linear(widths[-1] * math.prod(sizes[-1]), 1)
        self.projection = Projection(classes, self.head.in_features) if classes else None

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        f = self.convs(x.contiguous(memory_format=torch.channels_last))  # (B, w, h0, w0), see CHANNELS_LAST
        f = f.flatten(1)  # (B, w*h0*w0) in (channel, row, column) order
        return projected(self.head(f).squeeze(1), f, self.projection, labels)  # (B,)


def run_after_first(net: nn.Sequential, x: torch.Tensor) -> torch.Tensor:
    """`net` without its first layer, on x (that layer's output, plus a conditional net's class vector)."""
    for layer in itertools.islice(net, 1, None):
        x = layer(x)
    return x


def mlp(n_in: int, width: int, layers: int, n_out: int, act: type[nn.Module], **act_kw) -> nn.Sequential:
    dims = [n_in] + [width] * layers
    body: list[nn.Module] = []
    for a, b in zip(dims[:-1], dims[1:]):
        body += [nn.Linear(a, b), act(**act_kw)]
    return nn.Sequential(*body, nn.Linear(dims[-1], n_out))


class MLPGenerator(nn.Module):
    def __init__(self, latent: int, shape: tuple[int, ...], width: int, layers: int, classes: int = 0):
        super().__init__()
        self.shape = tuple(shape)
        self.image = len(shape) == 3  # images end in tanh, points are unbounded
        self.net = mlp(latent, width, layers, math.prod(shape), nn.ReLU)
        self.label = label_bias(classes, width)  # a conditional G's class vector, after the first layer

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        x = run_after_first(self.net, with_label(self.net[0](z), self.label, labels))
        return torch.tanh(x).view(-1, *self.shape) if self.image else x  # (B, C*H*W) -> (B, C, H, W)


class MLPDiscriminator(nn.Module):
    def __init__(self, shape: tuple[int, ...], width: int, layers: int, classes: int = 0):
        super().__init__()
        self.net = mlp(math.prod(shape), width, layers, 1, nn.LeakyReLU, negative_slope=0.2)
        self.projection = Projection(classes, width) if classes else None

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        f = x.flatten(1)  # (B, ...) -> (B, D)
        for layer in itertools.islice(self.net, len(self.net) - 1):
            f = layer(f)  # -> (B, width): the features before the last layer
        return projected(self.net[-1](f).squeeze(1), f, self.projection, labels)  # (B,)


def dcgan_init(module: nn.Module) -> None:
    """Radford et al. 2016: weights from N(0, 0.02), batch-norm scales from N(1, 0.02), biases 0."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            nn.init.normal_(m.weight, 0.0, 0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)


# --- the model ------------------------------------------------------------------------------------
@register("gan")
class GAN(GenerativeModel):
    """Generator vs discriminator (DCGAN on images, MLPs on 2-D points), trained in alternation."""

    Config = GANConfig
    data_kind = "image"
    data_kinds = ("image", "points")
    capabilities = frozenset({Capability.LATENT})
    # images: batch 64 makes twice the steps of 128 in a CPU minute, and in two minutes on mnist5k
    # gives visibly better digits (docs/gan.md); lr 2e-3 (10x DCGAN's 2e-4) with β2 0.99 (see
    # configure_optimizers) halves the FID after 2 minutes (bench/README.md, the DCGAN defaults sweep)
    train_defaults = {"lr": 2e-3, "batch_size": 64}
    # a distributed trainer wraps these in DDP: each takes its own steps, so each syncs its own gradient
    ddp_modules = ("generator", "discriminator")
    fix_d = True  # False only for `genlab lecture`'s counter-example: G's step also moves D

    @classmethod
    def train_defaults_for(cls, data_kind: str) -> dict:
        """2-D points train with lr 1e-3 (and the trainer's batch): on toy:gmm8, 2e-4 locks into 3 of
        the 8 modes, and 1e-3 finds all 8 (docs/gan.md)."""
        return {"lr": 1e-3} if data_kind == "points" else cls.train_defaults

    def __init__(self, config: GANConfig, item_shape, palette: Palette | None = None):
        super().__init__(config, item_shape, palette)
        self.data_kind = "points" if len(self.item_shape) == 1 else "image"
        _check(config, self.item_shape)
        self.label_count = classes = conditional_classes(config)
        points = self.data_kind == "points"
        self.latent = config.latent or (2 if points else 100)
        self.ema = config.ema if config.ema is not None else (0.999 if points else 0.0)
        self.d_steps = config.d_steps or (5 if config.loss == "wgan-gp" else 1)
        arch = config.arch if config.arch != "auto" else ("mlp" if points else "dcgan")
        d_batch_norm = not (config.spectral_norm or config.loss == "wgan-gp")
        if arch == "dcgan":
            self.generator = DCGANGenerator(self.latent, self.item_shape, config.conv_channels, classes)
            self.discriminator = DCGANDiscriminator(self.item_shape, config.conv_channels, d_batch_norm, classes)
            dcgan_init(self.generator)
            dcgan_init(self.discriminator)
        else:
            self.generator = MLPGenerator(self.latent, self.item_shape, config.width, config.layers, classes)
            self.discriminator = MLPDiscriminator(self.item_shape, config.width, config.layers, classes)
        if config.spectral_norm:
            for m in list(self.discriminator.modules()):
                if isinstance(m, (nn.Conv2d, nn.Linear, nn.Embedding)):  # the projection's class vectors too
                    nn.utils.parametrizations.spectral_norm(m)
        if self.ema > 0:
            self.generator_ema = copy.deepcopy(self.generator).requires_grad_(False)
            self.register_buffer("ema_updates", torch.zeros((), dtype=torch.int64))

    # --- data -------------------------------------------------------------------------------------
    def prepare(self, data: torch.Tensor) -> torch.Tensor:
        """uint8 images (N, C, H, W) -> floats in [-1, 1]; points stay as they are."""
        if self.data_kind == "points":
            return data.float()
        return data.float() / 127.5 - 1.0

    def prior(self, n: int, generator: torch.Generator | None = None, labels=None) -> torch.Tensor:
        """Noise z (n, L) for n items; the same for every class (`labels` is taken, as the VAE's prior
        takes it, and not used)."""
        shape, dev = (n, self.latent), self.device
        if self.config.prior == "uniform":
            return torch.rand(shape, device=dev, generator=generator) * 2 - 1
        return torch.randn(shape, device=dev, generator=generator)

    # --- training ---------------------------------------------------------------------------------
    def configure_optimizers(self, lr: float) -> dict[str, torch.optim.Optimizer]:
        wgan = self.config.loss == "wgan-gp"
        beta2 = 0.9 if wgan else (0.999 if self.data_kind == "points" else 0.99)  # images: see train_defaults
        betas = (
            self.config.beta1 if self.config.beta1 is not None else (0.0 if wgan else 0.5),
            self.config.beta2 if self.config.beta2 is not None else beta2,
        )
        return {
            "discriminator": _adam(self.discriminator.parameters(), self.config.lr_d or lr, betas),
            "generator": _adam(self.generator.parameters(), self.config.lr_g or lr, betas),
        }

    def _real_target(self) -> float:
        return 1.0 - self.config.label_smoothing

    def _shown(self, logits: torch.Tensor) -> torch.Tensor:
        """The figure logged as d_real / d_fake: mean probability, or mean score."""
        return (logits.sigmoid() if self.config.loss in PROBABILITY_LOSSES else logits).mean()

    def d_step(
        self,
        real: torch.Tensor,
        optimizer: torch.optim.Optimizer,
        keep_graph: bool = False,
        labels: torch.Tensor | None = None,
    ):
        """One D step with G fixed. Returns (figures, generated batch); with keep_graph the batch
        keeps G's graph (for the G step that follows) — D's loss only ever sees it detached.
        A conditional model's `labels` (B,) are the real items' classes, and the generated ones'."""
        D = self.discriminator.requires_grad_(True)
        with torch.set_grad_enabled(keep_graph):
            fake = self.generator(self.prior(len(real)), labels)
        out_real, out_fake = D(real, labels), D(fake.detach(), labels)
        d_loss = discriminator_loss(self.config.loss, out_real, out_fake, self._real_target())
        figures = {}
        if self.config.loss == "wgan-gp":
            gp = gradient_penalty(lambda x: D(x, labels), real, fake.detach())
            d_loss = d_loss + self.config.gp_weight * gp
            figures["gp"] = gp.detach()
        optimizer.zero_grad(set_to_none=True)
        d_loss.backward()
        optimizer.step()
        figures.update(
            d_loss=d_loss.detach(), d_real=self._shown(out_real.detach()), d_fake=self._shown(out_fake.detach())
        )
        return figures, fake

    def g_step(
        self,
        fake: torch.Tensor,
        optimizer: torch.optim.Optimizer,
        d_optimizer: torch.optim.Optimizer | None = None,
        labels: torch.Tensor | None = None,
    ) -> dict[str, torch.Tensor]:
        """One G step with D fixed: D's parameters need no gradient, so none is computed for them.
        D runs as the bare network even when the trainer routes `discriminator` to a DDP wrapper:
        a fixed network has no gradient to synchronise, and DDP would wait for one.
        `d_optimizer` (the lecture's counter-example only, `fix_d = False`): D is *not* fixed, and
        G's loss moves D too, toward calling G's output real. `labels`: the classes `fake` was asked for."""
        D = self._modules["discriminator"].requires_grad_(d_optimizer is not None)
        try:
            g_loss = generator_loss(self.config.loss, D(fake, labels))
            optimizer.zero_grad(set_to_none=True)
            if d_optimizer is not None:
                d_optimizer.zero_grad(set_to_none=True)
            g_loss.backward()
            optimizer.step()
            if d_optimizer is not None:
                d_optimizer.step()
        finally:
            D.requires_grad_(True)
        self._update_ema()
        return {"g_loss": g_loss.detach()}

    def train_step(
        self, batch: torch.Tensor, optimizers: dict[str, torch.optim.Optimizer], labels: torch.Tensor | None = None
    ) -> dict[str, torch.Tensor]:
        labels = self.check_labels(labels, len(batch))
        for k in range(self.d_steps):
            figures, fake = self.d_step(
                batch, optimizers["discriminator"], keep_graph=k == self.d_steps - 1, labels=labels
            )
        free_d = {} if self.fix_d else {"d_optimizer": optimizers["discriminator"]}  # the lecture's counter-example
        figures.update(self.g_step(fake, optimizers["generator"], labels=labels, **free_d))
        figures["loss"] = figures["d_loss"] + figures["g_loss"]
        return figures

    def _update_ema(self) -> None:
        if self.ema > 0:  # the network itself, whatever the trainer wraps it in
            update_average(self.generator_ema, self._modules["generator"], self.ema_updates, self.ema)

    @torch.no_grad()
    def evaluate_batch(self, batch: torch.Tensor, labels: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        """The training figures on held-out real items against fresh generated ones (no steps)."""
        D, labels = self.discriminator, self.check_labels(labels, len(batch))
        fake = self.generator(self.prior(len(batch)), labels)
        out_real, out_fake = D(batch, labels), D(fake, labels)
        d_loss = discriminator_loss(self.config.loss, out_real, out_fake, self._real_target())
        figures = {}
        if self.config.loss == "wgan-gp":
            with torch.enable_grad():
                gp = gradient_penalty(lambda x: D(x, labels), batch, fake).detach()
            d_loss = d_loss + self.config.gp_weight * gp
            figures["gp"] = gp
        g_loss = generator_loss(self.config.loss, out_fake)
        figures.update(
            d_loss=d_loss,
            d_real=self._shown(out_real),
            d_fake=self._shown(out_fake),
            g_loss=g_loss,
            loss=d_loss + g_loss,
        )
        return figures

    # --- using the model --------------------------------------------------------------------------
    @property
    def sampler(self) -> nn.Module:
        """The network samples come from: the EMA copy of G when there is one."""
        return self.generator_ema if self.ema > 0 else self.generator

    @torch.no_grad()
    def generate(
        self, z: torch.Tensor, net: nn.Module | None = None, labels: torch.Tensor | int | None = None
    ) -> torch.Tensor:
        """Codes (B, L) (and a conditional model's classes, one int or (B,)) -> G's raw output
        ([-1, 1] images or points), batch norm in inference mode so each item depends on its own
        code only."""
        net = net or self.sampler
        labels = self.check_labels(labels, len(z))
        was = net.training
        net.eval()
        try:
            return net(z.to(self.device), labels)
        finally:
            net.train(was)

    @torch.no_grad()
    def decode(self, z: torch.Tensor, labels: torch.Tensor | int | None = None) -> torch.Tensor:
        """Codes (B, L) -> stored layout: uint8 images (B, C, H, W) or float points (B, 2); a
        conditional model draws class `labels` (one int or (B,); by default item i gets class i mod classes)."""
        x = self.generate(z, labels=self.asked_labels(labels, len(z)))
        if self.data_kind == "points":
            return x.float()
        return ((x + 1) * 127.5).round().clamp(0, 255).to(torch.uint8)

    @torch.no_grad()
    def sample(
        self, n: int, generator: torch.Generator | None = None, labels: torch.Tensor | int | None = None
    ) -> torch.Tensor:
        """n new items; a conditional model draws class `labels` (one int or (n,); by default item i
        gets class i mod classes)."""
        return self.decode(self.prior(n, generator), labels)

    @torch.no_grad()
    def discriminator_view(self, x: torch.Tensor) -> torch.Tensor:
        """D's output on prepared items (B, ...) -> (B,): P(real) for minimax / non-saturating,
        the raw score otherwise; batch norm in inference mode."""
        D = self.discriminator
        was = D.training
        D.eval()
        try:
            out = D(x.to(self.device))
        finally:
            D.train(was)
        return out.sigmoid() if self.config.loss in PROBABILITY_LOSSES else out

    def training_pictures(self, view):
        from genlab.models.gan.pictures import GANPictures

        return GANPictures(view)

    def extra_figures(self, data: Dataset, seed: int = 0) -> dict[str, float]:
        """Sample diversity against the test split, and mode coverage on toy:gmm8 / toy:grid25."""
        from genlab.data import toy_modes
        from genlab.models.gan.modes import diversity_ratio, mode_coverage

        self.eval()
        g = torch.Generator(device=self.device).manual_seed(seed)
        fake = self.sample(MODE_SAMPLES if self.data_kind == "points" else DIVERSITY_ITEMS, g)
        real = data.test[: len(fake)].to(self.device)
        figures = {"diversity": diversity_ratio(self.prepare(fake), self.prepare(real))}
        modes = toy_modes(data.spec) if self.data_kind == "points" else None
        if modes is not None:
            figures.update(mode_coverage(fake, *modes))
        return figures


def _adam(params, lr: float, betas: tuple[float, float]) -> torch.optim.Adam:
    """Adam, fused into one kernel per step where this torch has it for the device (CPU from 2.4):
    a GAN step is two small optimiser steps, and the per-tensor loop is a good part of its time."""
    params = list(params)
    major, minor = (int(v) for v in torch.__version__.split("+")[0].split(".")[:2])
    fused = params[0].device.type == "cuda" or (params[0].device.type == "cpu" and (major, minor) >= (2, 4))
    return torch.optim.Adam(params, lr=lr, betas=betas, fused=fused or None)


def _check(cfg: GANConfig, shape: tuple[int, ...]) -> None:
    """Refuse settings that cannot work, with the flag to fix."""
    if cfg.loss not in LOSSES:
        raise GenlabError(f"--loss must be one of {', '.join(LOSSES)} (got {cfg.loss!r})")
    if len(shape) == 1 and cfg.arch == "dcgan":
        raise GenlabError("--arch dcgan needs images; 2-D points use --arch mlp (or auto)")
    if len(shape) == 1 and cfg.conditional:
        raise GenlabError(
            "--conditional needs images: a GAN on 2-D points is drawn as one D over the plane; "
            "train it without --conditional"
        )
    bad = [(flag, v) for flag, v in (("--latent", cfg.latent), ("--d-steps", cfg.d_steps)) if v is not None and v < 1]
    bad += [
        (flag, v)
        for flag, v in (("--conv-channels", cfg.conv_channels), ("--width", cfg.width), ("--layers", cfg.layers))
        if v < 1
    ]
    if bad:
        raise GenlabError(f"{bad[0][0]} must be at least 1 (got {bad[0][1]})")
    for flag, v in (("--lr-g", cfg.lr_g), ("--lr-d", cfg.lr_d)):
        if v is not None and not v > 0:
            raise GenlabError(f"{flag} must be above 0 (got {v})")
    for flag, v in (
        ("--beta1", cfg.beta1),
        ("--beta2", cfg.beta2),
        ("--ema", cfg.ema),
        ("--label-smoothing", cfg.label_smoothing),
    ):
        if v is not None and not 0 <= v < 1:
            raise GenlabError(f"{flag} must be in [0, 1) (got {v})")
    if cfg.label_smoothing > 0 and cfg.loss not in SMOOTHABLE:
        raise GenlabError(
            f"--label-smoothing needs a loss with a real-label target ({', '.join(SMOOTHABLE)}), not {cfg.loss}"
        )
    if cfg.gp_weight < 0:
        raise GenlabError(f"--gp-weight must be at least 0 (got {cfg.gp_weight})")
