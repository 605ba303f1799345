"""The pixel-by-pixel machinery every network of the PixelRNN family (Row LSTM, Diagonal BiLSTM,
PixelCNN, gated PixelCNN) shares: data in and out, the exact log-likelihood, and the one sampling
loop behind `sample` and `complete`. WaveNet's sample-by-sample loop is its own (models/wavenet/).

An image is a sequence of positions in raster order (row by row, left to right) and, in raw-colour
mode, R then G then B within a position (van den Oord et al. 2016, "Pixel Recurrent Neural
Networks"): p(x) = Π p(x_t | x_<t). A network maps input features (B, F, H, W) to logits
(B, C*K, H, W) whose group for position t sees only positions before t; the log-likelihood is the
sum of the log-softmax at every position, exact in nats.

Sampling fills positions one at a time. Each network offers a `Stepper`: `row(i)` folds in what
the finished rows contribute, `pixel(i, j)` returns the logits at (i, j) for the cost of one
position per layer (recurrent state is carried, convolution inputs are cached: Ramachandran et al.
2017, "Fast Generation for Convolutional Autoregressive Models"). `NaiveStepper` re-runs the whole
network for each position instead; both draw their random numbers in the same order (one uniform
per image per position, inverse-CDF), so a seed gives the same images either way, up to float
rounding deciding a draw that falls within ~1e-7 of a class boundary.

Regression output (`output == "regression"`): the notes' "3-number vector" colour, made a
density: each channel value is Gaussian given everything before it (R -> G -> B as in raw mode),
its mean and log-variance the two outputs of its group. It models dequantized values v = x + u,
u ~ U[0, 1), on [0, 256) (Theis et al. 2016), so `log_prob` is an exact continuous log-density and,
in expectation over u, a lower bound on the 8-bit pixels' log P(x): nats and bits per dimension on
the same scale as raw mode. A drawn value is clipped to [0, 256) before the next position sees it.

Mean output (`output == "mean"`): the notes' plain regression, word for word: each pixel's colour
as one 3-number vector, predicted at once from the earlier pixels (no R -> G -> B order within the
pixel: one colour group), trained by squared error, and generation *takes* the prediction (no draw). The squared error is written as the log-density of a Gaussian of fixed
standard deviation MEAN_STD around the prediction (on dequantized values, as above), so `loss`,
`log_prob` and bits per dimension keep their meaning; but sampling is not drawn from that density:
each value is the predicted mean (clipped to [0, 256)), so images differ only through their random
seed pixels (`seed_pixels`, the notes' 先随机给它一个像素) and `temperature` changes nothing.

Deviations: the lecture notes start a picture from "a few random pixels"; `seed_pixels=N` draws the
first N positions (raster order) uniformly from the colours instead of from the model.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass
from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

from genlab.core.errors import GenlabError
from genlab.data import Palette
from genlab.models.base import Capability, GenerativeModel
from genlab.models.pixelrnn.layers import channel_groups
from genlab.models.shared.nn import update_average

LEVELS = 256  # 8-bit values; regression output models them dequantized on [0, 256)
LOG_2PI = math.log(2 * math.pi)
MEAN_STD = 1 / 16  # the fixed std (in [0, 1] units) of the mean output's Gaussian: its nats are squared error
RowHook = Callable[[int, torch.Tensor], None]  # (row just finished, the images so far)
PixelHook = Callable[
    [int, int, int, torch.Tensor, torch.Tensor], None
]  # (i, j, channel, probabilities (B, K), drawn (B,))


@dataclass(frozen=True)
class NetSpec:
    """What a network needs to know: input features and their colour groups, output logits and
    theirs, and the sizes the user picked."""

    in_features: int
    in_groups: torch.Tensor
    out_features: int
    out_groups: torch.Tensor
    groups: int  # colour groups: 1 in palette mode, C (R, G, B) in raw mode
    width: int
    layers: int
    head: int
    labels: int = 0  # classes of a class-conditional network (0: unconditional)

    def hidden_groups(self, chunks: int = 1) -> torch.Tensor:
        return channel_groups(self.width * chunks, self.groups, chunks)


class Stepper:
    """Logits one position at a time over `feats`, the input features the sampling loop keeps
    current (every position drawn so far is written into it before the next call)."""

    def row(self, i: int) -> None:
        """Called once before the first pixel of row i, when rows < i are final."""

    def pixel(self, i: int, j: int) -> torch.Tensor:
        """Logits (B, C*K) at (i, j); may be called once per colour channel of the position."""
        raise NotImplementedError

    def commit(self, i: int, j: int) -> None:
        """(i, j) is final: refresh whatever the next positions read from it."""
        self.pixel(i, j)


class NaiveStepper(Stepper):
    """The whole network on the whole image for every position: the reference the fast path is
    checked and timed against."""

    def __init__(self, net: nn.Module, feats: torch.Tensor, labels: torch.Tensor | None = None):
        self.net, self.feats, self.labels = net, feats, labels

    def pixel(self, i: int, j: int) -> torch.Tensor:
        return self.net(self.feats, self.labels)[:, :, i, j]

    def commit(self, i: int, j: int) -> None:
        pass


def draw(logits: torch.Tensor, u: torch.Tensor, temperature: float = 1.0) -> torch.Tensor:
    """Inverse-CDF draw: logits (B, K), uniforms u (B,) in [0, 1) -> class indices (B,)."""
    logits = logits.double()
    cdf = torch.softmax(logits / temperature if temperature != 1 else logits, -1).cumsum(-1)  # (B, K)
    return torch.searchsorted(cdf, u[:, None], right=True)[:, 0].clamp_max(logits.shape[-1] - 1)


def draw_gaussian(outputs: torch.Tensor, u: torch.Tensor, temperature: float = 1.0) -> torch.Tensor:
    """Inverse-CDF draw of a regression output: (mean, log-variance) (B, 2) in [0, 1] units, uniforms
    u (B,) -> values (B,) on [0, 256), clipped there; `temperature` scales the standard deviation."""
    outputs = outputs.double()
    normal = torch.special.ndtri(u.clamp(1e-12, 1 - 1e-12))
    y = outputs[:, 0] + temperature * (0.5 * outputs[:, 1]).exp() * normal
    return (y * LEVELS).clamp(0, LEVELS - 1e-6)


def take_mean(outputs: torch.Tensor, u: torch.Tensor, temperature: float = 1.0) -> torch.Tensor:
    """The mean output's 'draw': the prediction (B, 1) in [0, 1] units -> values (B,) on [0, 256),
    clipped there; the uniforms and the temperature are ignored (the notes' regression draws nothing)."""
    return (outputs[:, 0].double() * LEVELS).clamp(0, LEVELS - 1e-6)


class AutoregressiveImageModel(GenerativeModel):
    """Base of the PixelRNN family. Subclasses set `self.net` (forward(feats) -> logits and
    stepper(feats) -> Stepper) after calling this constructor.

    Palette mode (`config.output == "palette"`): data is palette indices (B, 1, H, W), the input is
    their one-hot code, the output one softmax over the K colours per pixel. Raw mode: data is the
    uint8 values themselves (B, C, H, W), the input is each value scaled to [-1, 1], the output a
    256-way softmax per channel, channel c seeing channels < c of its own pixel (colour groups).
    Regression mode: as raw, with a Gaussian (mean, log-variance) per channel instead of the softmax;
    mean mode: as regression, with the mean alone (a fixed variance) and the mean taken, not drawn.
    """

    uses_palette = True
    capabilities = frozenset({Capability.LIKELIHOOD, Capability.COMPLETES})
    sample_options = ("temperature", "seed_pixels")

    def __init__(self, config, item_shape, palette: Palette | None = None):
        super().__init__(config, item_shape, palette)
        c, h, w = self.item_shape
        self.mean_only = config.output == "mean"  # the plain regression: the mean, taken not drawn
        self.regression = config.output in ("regression", "mean")  # continuous values
        self.raw = config.output in ("raw", "regression", "mean")  # a position per channel value, R -> G -> B
        self.positions = c if self.raw else 1  # channels of the prepared data
        # outputs per position: 256 logits, (mean, log-variance), the mean alone, or K palette logits
        self.classes = (1 if self.mean_only else 2) if self.regression else LEVELS if self.raw else self.palette.k
        self.groups = c if self.raw and not self.mean_only else 1  # colour groups of the channel masks
        self.in_features = c if self.raw else self.classes
        self.in_groups = channel_groups(self.in_features, self.groups)
        self.out_features = self.positions * self.classes
        self.out_groups = channel_groups(self.out_features, self.groups)
        self.dims = self.positions * h * w

    # --- averaged weights ---------------------------------------------------------------------
    def average_weights(self, decay: float) -> None:
        """Keep an exponential moving average of `self.net`'s weights (Polyak averaging, as
        PixelCNN++ does: Salimans et al. 2017) from every training step; call it after setting
        `self.net`. Outside training (eval mode: likelihoods, sampling, completion) the model *is*
        the average; decay 0 keeps none."""
        self.average_decay = decay
        self.net_average = copy.deepcopy(self.net).requires_grad_(False) if decay > 0 else None
        if decay > 0:
            self.register_buffer("average_updates", torch.zeros((), dtype=torch.int64))

    @property
    def network(self) -> nn.Module:
        """The network in use: the trained one while training, else the average when there is one
        (a model trained by a loop of its own, without `train_step`, has an average of nothing)."""
        average = getattr(self, "net_average", None)
        if self.training or average is None or not int(self.average_updates):
            return self.net
        return average

    def train_step(
        self, batch: torch.Tensor, optimizers: dict[str, torch.optim.Optimizer], **labels: torch.Tensor
    ) -> dict[str, torch.Tensor]:
        out = super().train_step(batch, optimizers, **labels)
        if getattr(self, "net_average", None) is not None:  # the network itself, whatever the trainer wraps it in
            update_average(self.net_average, self._modules["net"], self.average_updates, self.average_decay)
        return out

    # --- data ---------------------------------------------------------------------------------
    def prepare(self, data: torch.Tensor) -> torch.Tensor:
        """uint8 (N, C, H, W) -> int64 palette indices (N, 1, H, W), or the raw values (N, C, H, W)."""
        return data.long() if self.raw else self.palette.encode(data)

    def decode(self, x: torch.Tensor) -> torch.Tensor:
        """Prepared data (or continuous values, regression mode) -> uint8 images (N, C, H, W)."""
        if self.regression:
            x = x.floor().clamp(0, LEVELS - 1)
        return x.to(torch.uint8) if self.raw else self.palette.decode(x)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Prepared data (B, P, H, W) -> network input (B, F, H, W)."""
        dtype = next(self.net.parameters()).dtype  # the average, when there is one, has the same
        if self.raw:
            return x.to(dtype) / 127.5 - 1.0
        return F.one_hot(x[:, 0], self.classes).permute(0, 3, 1, 2).to(dtype)  # (B, H, W, K) -> (B, K, H, W)

    # --- likelihood -----------------------------------------------------------------------------
    def logits(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """Prepared data (B, P, H, W) -> logits (B, P, K, H, W)."""
        b, p, h, w = x.shape
        out = self.network(self.features(x), self.check_labels(labels, b))  # (B, P*K, H, W)
        return out.view(b, p, self.classes, h, w)  # (B, P, K, H, W)

    def log_prob(
        self, x: torch.Tensor, labels: torch.Tensor | None = None, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """Exact log p(x) per image in nats, (B,). A conditional model gives log p(x | label), or,
        without labels, log p(x) = log Σ_y p(y) p(x | y) with the classes equally likely.
        Regression mode: the log-density of the dequantized values x + u, u ~ U[0, 1) (one draw)."""
        if self.regression:
            x = x + torch.rand(x.shape, device=x.device, generator=generator)
        if self.label_count and labels is None:
            return self.mixture_log_prob(self._log_prob, x)
        return self._log_prob(x, labels)

    def _log_prob(self, x: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
        if self.regression:
            return self.log_density(x, labels)
        logits = self.logits(x, labels).transpose(1, 2)  # (B, K, P, H, W)
        return -F.cross_entropy(logits, x, reduction="none").flatten(1).sum(1)  # (B, P, H, W) -> (B,)

    def log_density(self, v: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """Regression mode: the exact log-density of continuous values v (B, C, H, W) on [0, 256)
        units, in nats, (B,): a Gaussian on y = v/256 per value, less log 256 per value (mean mode: of
        std MEAN_STD, so the nats are the squared error / (2 MEAN_STD²) plus a constant)."""
        out = self.logits(v, labels)  # (B, C, 2, H, W), or (B, C, 1, H, W) in mean mode
        mean = out[:, :, 0]  # (B, C, H, W)
        logvar = torch.full_like(mean, 2 * math.log(MEAN_STD)) if self.mean_only else out[:, :, 1]
        log_p = -0.5 * (LOG_2PI + logvar + (v / LEVELS - mean).pow(2) / logvar.exp()) - math.log(LEVELS)
        return log_p.flatten(1).sum(1)

    def loss(self, batch: torch.Tensor, labels: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        nll = -self.log_prob(batch, labels)  # (B,)
        return {
            "loss": nll.mean() / self.dims,  # nats per dimension: the scale Adam's lr is set for
            "nll": nll.mean(),
            "bits_per_dim": nll.mean() / (self.dims * math.log(2)),
        }

    # --- generation -------------------------------------------------------------------------------
    @torch.no_grad()
    def sample(
        self,
        n: int,
        generator: torch.Generator | None = None,
        temperature: float = 1.0,
        seed_pixels: int = 0,
        fast: bool = True,
        labels: torch.Tensor | int | None = None,
    ) -> torch.Tensor:
        """n new images, uint8 (n, C, H, W). `seed_pixels=N` draws the first N positions uniformly
        at random and lets the model continue from them; `temperature` divides the logits. A
        conditional model draws class `labels` (one int or (n,)); by default image i gets class
        i mod classes."""
        labels = self.asked_labels(labels, n)
        _, h, w = self.item_shape
        if not 0 <= seed_pixels <= h * w:
            raise GenlabError(f"seed pixels must be between 0 and {h * w} (the image has {h}x{w}), not {seed_pixels}")
        x = torch.zeros(n, self.positions, h, w, dtype=torch.long, device=self.device)
        known = torch.zeros_like(x, dtype=torch.bool)
        if seed_pixels:
            u = torch.rand(n, self.positions, seed_pixels, generator=generator, device=self.device)
            # (n, P, H, W) seen as (n, P, H*W): the first positions in raster order
            levels = LEVELS if self.raw else self.classes
            x.view(n, self.positions, h * w)[:, :, :seed_pixels] = (u * levels).long().clamp_max(levels - 1)
            known.view(n, self.positions, h * w)[:, :, :seed_pixels] = True
        x = self._generate(x, known, generator, temperature, fast, labels=labels)
        return self.decode(x).clone()  # a normal tensor again

    @torch.no_grad()
    def complete(
        self,
        images: torch.Tensor,
        mask: torch.Tensor,
        n: int = 1,
        generator: torch.Generator | None = None,
        temperature: float = 1.0,
        fast: bool = True,
        on_row: RowHook | None = None,
        labels: torch.Tensor | int | None = None,
        on_pixel: PixelHook | None = None,
    ) -> torch.Tensor:
        """Fill the hidden pixels of uint8 images (B, C, H, W): mask is bool (H, W) or (B, 1, H, W),
        True where hidden. Returns (B*n, C, H, W), the n completions of each image in turn; every
        pixel the mask leaves visible is the input's own value, exactly. `on_row(i, images)` is
        called after row i is drawn with the uint8 images so far (rows > i not yet drawn). A
        conditional model takes each image's class (`labels`, one int or (B,)); without them each
        completion draws a class uniformly at random. `on_pixel(i, j, c, probs, drawn)` is called
        for every position drawn, with the distribution it was drawn from (the web page's slow motion)."""
        images = images.to(self.device)
        b, _, h, w = images.shape
        if self.label_count:
            labels = (
                torch.randint(self.label_count, (b * n,), generator=generator, device=self.device)
                if labels is None
                else self.check_labels(labels, b).repeat_interleave(n)
            )
        labels = self.check_labels(labels, b * n)
        hidden = mask.to(self.device).bool().expand(b, 1, h, w).repeat_interleave(n, 0)  # (B*n, 1, H, W)
        images = images.repeat_interleave(n, 0)  # (B*n, C, H, W)
        known = ~hidden.expand(-1, self.positions, -1, -1)  # (B*n, P, H, W)
        x = torch.where(known, self.prepare(images), 0)
        row_hook = (
            None if on_row is None else lambda i, drawn: on_row(i, torch.where(hidden, self.decode(drawn), images))
        )
        out = self.decode(self._generate(x, known, generator, temperature, fast, row_hook, labels, on_pixel)).clone()
        return torch.where(hidden, out, images)

    @torch.inference_mode()
    def _generate(
        self,
        x: torch.Tensor,
        known: torch.Tensor,
        generator,
        temperature: float,
        fast: bool,
        on_row: RowHook | None = None,
        labels: torch.Tensor | None = None,
        on_pixel: PixelHook | None = None,
    ) -> torch.Tensor:
        """The shared loop: fill every position of x (B, P, H, W) that `known` leaves open, in order;
        `on_row(i, x)` after each row i (the web page streams completions with it)."""
        if not (isinstance(temperature, (int, float)) and math.isfinite(temperature) and temperature > 0):
            raise GenlabError(f"temperature must be a number above 0, not {temperature}")
        was_training = self.training
        self.eval()  # the loop runs under inference_mode (less per-op overhead); callers clone what they return
        b, p, h, w = x.shape
        if self.regression:  # continuous values: a known pixel sits at the centre of its level
            x = x.to(torch.float64) + 0.5
        feats = self.features(x).contiguous(memory_format=torch.channels_last)  # a pixel's features are contiguous
        eye = torch.eye(self.classes, dtype=feats.dtype, device=x.device)  # palette index -> one-hot
        net = self.network
        stepper = net.stepper(feats, labels) if fast else NaiveStepper(net, feats, labels)
        all_known, any_known = known.all(0).tolist(), known.any(0).tolist()  # [P][H][W] of bool
        uniforms = torch.rand(p * h * w, b, generator=generator, device=x.device, dtype=torch.float64).unbind(0)
        try:
            for i in range(h):
                stepper.row(i)
                for j in range(w):
                    last = -1
                    for c in range(p):
                        if all_known[c][i][j]:
                            continue
                        logits = stepper.pixel(i, j).view(b, p, self.classes)[:, c]  # (B, P*K) -> (B, P, K) -> (B, K)
                        pick = take_mean if self.mean_only else draw_gaussian if self.regression else draw
                        value = pick(logits, uniforms[(c * h + i) * w + j], temperature)
                        if any_known[c][i][j]:
                            value = torch.where(known[:, c, i, j], x[:, c, i, j], value)
                        if on_pixel is not None:  # the softmax `draw` sampled from, for a page to show
                            on_pixel(i, j, c, torch.softmax(logits.double() / temperature, -1), value)
                        x[:, c, i, j] = value
                        if self.raw:
                            feats[:, c, i, j] = value.to(feats.dtype) / 127.5 - 1.0
                        else:
                            feats[:, :, i, j] = eye[value]
                        last = c
                    if last < p - 1:
                        stepper.commit(i, j)
                if on_row is not None:
                    on_row(i, x)
        finally:
            self.train(was_training)
        return x

    @torch.no_grad()
    def stepped_logits(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """The fast path's logits at every position of fixed data x (B, P, H, W), computed the way
        sampling computes them, as (B, P, K, H, W): equal to `logits(x, labels)` up to rounding."""
        b, p, h, w = x.shape
        feats = self.features(x)
        shown = self.features(torch.zeros_like(x)).contiguous(memory_format=torch.channels_last)  # revealed as it goes
        stepper = self.network.stepper(shown, self.check_labels(labels, b))
        out = torch.empty(b, p, self.classes, h, w, dtype=feats.dtype, device=x.device)
        for i in range(h):
            stepper.row(i)
            for j in range(w):
                for c in range(p):
                    out[:, c, :, i, j] = stepper.pixel(i, j).view(b, p, self.classes)[:, c]  # (B, P*K) -> (B, P, K)
                    if self.raw:  # channel c is drawn before channel c+1 is asked for
                        shown[:, c, i, j] = feats[:, c, i, j]
                if not self.raw:
                    shown[:, :, i, j] = feats[:, :, i, j]
        return out
