"""WaveNet: sound generated one sample at a time, the notes' pixel-by-pixel idea for speech.

van den Oord et al. 2016, "WaveNet: A Generative Model for Raw Audio": a stack of causal
convolutions whose dilations double from layer to layer (1, 2, 4, ..., 512) and then repeat,
gated activation units tanh(W_f * x) · σ(W_g * x), residual and skip connections, and a 256-way
softmax over μ-law companded samples (μ = 255). p(x) = Π_t p(x_t | x_<t) is an exact likelihood.
Fast generation keeps, for every layer, a queue of that layer's past inputs, so each new sample
costs one step per layer instead of a pass over the whole receptive field (Paine et al. 2016,
"Fast Wavenet Generation Algorithm"); `generate(..., naive=True)` is the slow reference that
re-runs the network on the last receptive field for every sample, with identical results.

Data: an audio Dataset holds one-second float clips (N, R) at R Hz (see genlab/data/sound/wav.py), so
the item shape gives the sample rate. `prepare` μ-law encodes them and cuts every clip into
windows of `--window` samples, int64 codes (N * R // W, W): the items training batches, test
figures and `genlab evaluate` see. A window's likelihood is that of a sound that starts there: the
network's left padding is zeros, the same state fast generation starts from, so `log_prob` is the
exact log-probability of the window's 8-bit μ-law samples (bits/dim = bits per sample). Silent
windows (below -60 dBFS, the rest of a clip after its spoken word) are left out of the training
split unless --keep-silence (`training_mask`); test figures and likelihoods keep every window.

Global conditioning (`--conditional`, where the data has labels: the word of the `speech` set):
as in the paper, a learned vector per class, V_f·y and V_g·y, is added inside every gated unit,
tanh(W_f * x + V_f·y) · σ(W_g * x + V_g·y). Without a label the likelihood is the exact mixture
(1/K) Σ_y p(x | y) over the K classes, as for the conditional PixelRNN.

Local conditioning on time (`--clock N`): the paper's local conditioning adds V_f * h_t and
V_g * h_t inside every gated unit, for a second time series h_t (linguistic features). genlab's h_t
is the clock: which of N equal pieces of its one-second clip sample t lies in (one-hot), so each
layer learns a vector per piece. Without it a network whose receptive field spans 128 ms cannot
know where in the clip it is, and on speech it babbles on where the words fall silent. With it
the training items are whole clips, not windows, so each sample's time is its index; a sound
longer than a clip keeps the last piece's vector after the first second.

Deviations from the paper: local conditioning on time only (no text or linguistic features); the input is the
one-hot previous samples through a causal convolution of the same kernel size (the paper's first
"causal conv"); defaults are small enough to train on a laptop CPU (one stack of dilations
1..1024, 32 residual / 32 gate / 64 skip channels, 2000-sample windows, where the paper used more);
every position of a window is scored, including the first ones, whose receptive field reaches back
before the window's start (to zeros).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from genlab.core.config import opt
from genlab.core.errors import GenlabError
from genlab.data import Palette
from genlab.models.base import (
    Capability,
    GenerativeModel,
    conditional_classes,
    conditional_opt,
    label_count_opt,
    register,
)
from genlab.models.shared.nn import gate, label_bias, with_label
from genlab.models.wavenet.fast import FastSteps

MU = 255
CLASSES = MU + 1
SAMPLE_SECONDS = 0.25  # default length of `sample` (the trainer draws some after every epoch)
LOG_PROB_SAMPLES = 1 << 16  # samples per forward pass in log_prob (bounds the logits' memory)
SILENCE_RMS = 1e-3  # -60 dBFS: a training window quieter than this is silence (left out unless --keep-silence)


def mu_law_encode(x: torch.Tensor) -> torch.Tensor:
    """Float audio in [-1, 1] -> int64 codes 0..255: y = sign(x) ln(1 + μ|x|) / ln(1 + μ), then
    rounded onto 256 evenly spaced levels of y."""
    x = x.clamp(-1, 1)
    y = torch.sign(x) * torch.log1p(MU * x.abs()) / math.log1p(MU)
    return ((y + 1) / 2 * MU + 0.5).floor().long().clamp(0, MU)


def mu_law_decode(codes: torch.Tensor) -> torch.Tensor:
    """int codes 0..255 -> float32 audio in [-1, 1], the inverse of the companding."""
    y = 2 * codes.to(torch.float32) / MU - 1
    return torch.sign(y) * torch.expm1(y.abs() * math.log1p(MU)) / MU


@dataclass
class WaveNetConfig:
    layers: int = opt(11, "dilated layers per stack; dilations 1, 2, 4, ... (11 layers: up to 1024)")
    stacks: int = opt(1, "how many times the dilation pattern repeats")
    kernel_size: int = opt(2, "taps of every causal convolution")
    residual_channels: int = opt(32, "channels of the residual stream between layers")
    gate_channels: int = opt(32, "channels of each gated tanh·sigmoid unit")
    skip_channels: int = opt(64, "channels of the skip connections summed into the output head")
    window: int = opt(
        2000,
        "samples per training item: each one-second clip is cut into windows this long "
        "(not with --clock, whose items are whole clips)",
    )
    keep_silence: bool = opt(
        False,
        "also train on silent windows (below -60 dBFS); by default the training split "
        "leaves them out (test figures and likelihoods always keep every window)",
    )
    conditional: bool = conditional_opt(
        "the word of `speech`; `genlab sample --label K` says class K, and "
        "likelihoods are exact mixtures over the classes"
    )
    clock: int = opt(
        0,
        "local conditioning on time: each one-second clip cut into this many pieces, a learned "
        "vector per piece added inside every gated unit, so the network knows where in the clip "
        "it is (speech: the word, then silence); training items are then whole clips, not --window "
        "samples (0: off)",
    )
    label_count: int = label_count_opt()

    def validate(self) -> None:
        sizes = ("layers", "stacks", "kernel_size", "residual_channels", "gate_channels", "skip_channels", "window")
        if any(getattr(self, k) < 1 for k in sizes) or self.kernel_size < 2:
            raise GenlabError("every wavenet size must be at least 1 and --kernel-size at least 2")
        if self.clock < 0:
            raise GenlabError(f"--clock must be 0 (off) or a number of pieces per clip, not {self.clock}")


class _GatedLayer(nn.Module):
    """Dilated causal conv (+ the class vector, + the clock's vector) -> tanh · sigmoid -> 1x1
    conv split into residual and skip parts."""

    def __init__(self, res: int, gate: int, skip: int, kernel: int, dilation: int, labels: int = 0, clock: int = 0):
        super().__init__()
        self.res, self.gate, self.kernel, self.dilation = res, gate, kernel, dilation
        self.conv = nn.Conv1d(res, 2 * gate, kernel, dilation=dilation)
        self.label = label_bias(labels, 2 * gate)  # V_f·y and V_g·y of the paper, one vector per class
        self.clock = None
        if clock:  # V_f * h_t and V_g * h_t for h_t one-hot over the clip's pieces; zero at the start
            self.clock = nn.Embedding(clock, 2 * gate)
            nn.init.zeros_(self.clock.weight)
        self.out = nn.Conv1d(gate, res + skip, 1)

    @property
    def history(self) -> int:
        """How many past inputs the layer looks back over."""
        return (self.kernel - 1) * self.dilation

    def forward(
        self, h: torch.Tensor, labels: torch.Tensor | None = None, pieces: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """h (B, R, T), the class labels (B,) and the clock's piece of each position (T,) int64."""
        z = with_label(
            self.conv(F.pad(h, (self.history, 0))), self.label, labels
        )  # (B, 2G, T): left zeros keep it causal
        if self.clock is not None:
            z = z + self.clock(pieces).T  # (2G, T), the same for every sound of the batch
        g = gate(z)  # (B, 2G, T) -> tanh(first G) · σ(last G), (B, G, T)
        res, skip = self.out(g).split([self.res, self.out.out_channels - self.res], 1)
        return h + res, skip


@register("wavenet")
class WaveNet(GenerativeModel):
    """WaveNet: dilated causal convolutions over μ-law samples of sound."""

    Config = WaveNetConfig
    data_kind = "audio"
    capabilities = frozenset({Capability.LIKELIHOOD, Capability.COMPLETES})
    sample_options = ("seconds", "temperature")
    # linear schedule, one stack of 11 layers at 6e-3: bench/wavenet_quality.py, bench/README.md
    train_defaults = {"batch_size": 4, "lr": 6e-3, "lr_schedule": "linear"}
    epoch_samples = 8  # sounds drawn after every epoch for samples/epoch_NNNN.png (spectrograms)

    def __init__(self, config: WaveNetConfig, item_shape, palette: Palette | None = None):
        super().__init__(config, item_shape, palette)
        (self.sample_rate,) = self.item_shape  # one-second clips
        c, k = config, config.kernel_size
        self.label_count = conditional_classes(c)
        if c.clock > self.sample_rate:
            raise GenlabError(
                f"--clock {c.clock} cuts a clip of {self.sample_rate} samples into pieces shorter than "
                f"one sample; give at most {self.sample_rate}"
            )
        self.input = nn.Conv1d(CLASSES, c.residual_channels, k)
        with torch.no_grad():  # each channel also starts as a ramp over the codes' levels: see _level_ramp
            self.input.weight += self._level_ramp(c.residual_channels, k)
        self.layers = nn.ModuleList(
            _GatedLayer(c.residual_channels, c.gate_channels, c.skip_channels, k, 2**i, self.label_count, c.clock)
            for _ in range(c.stacks)
            for i in range(c.layers)
        )
        self.head = nn.Sequential(
            nn.ReLU(), nn.Conv1d(c.skip_channels, c.skip_channels, 1), nn.ReLU(), nn.Conv1d(c.skip_channels, CLASSES, 1)
        )

    @staticmethod
    def _level_ramp(channels: int, kernel: int) -> torch.Tensor:
        """(channels, 256, kernel): a random multiple of each code's level (-1 .. 1 from code 0 to
        255) per channel and tap. One-hot inputs know nothing of the codes' order, and learning that
        code 140 is near 141 takes many steps; with the ramp the first layer sees the amplitude of
        the past samples from the start (on two spoken words, 300 steps: spectral flatness of the
        samples 0.12 instead of 0.56, white noise; docs/wavenet.md)."""
        levels = torch.linspace(-1, 1, CLASSES)
        return torch.randn(channels, 1, kernel) * levels[None, :, None]

    @property
    def receptive_field(self) -> int:
        """How many past samples the prediction of one sample sees."""
        return self.config.kernel_size + sum(layer.history for layer in self.layers)

    def summary(self) -> str:
        rf, c = self.receptive_field, self.config
        params = sum(p.numel() for p in self.parameters())
        return (
            f"wavenet: receptive field {rf} samples ({1000 * rf / self.sample_rate:.1f} ms at "
            f"{self.sample_rate} Hz); {c.stacks} stack(s) of {c.layers} layers, dilations 1..{2 ** (c.layers - 1)}; "
            f"{params:,} parameters"
            + (f"; conditioned on {self.label_count} classes" if self.label_count else "")
            + (f"; clock: {c.clock} pieces of {1000 / c.clock:.0f} ms per clip" if c.clock else "")
        )

    def pieces(self, start: int, length: int) -> torch.Tensor | None:
        """The clock's piece (int64 (length,)) of positions start .. start + length - 1 of a sound,
        counted from its first sample; the last piece from the end of the first second on. None
        without a clock."""
        clock = self.config.clock
        if not clock:
            return None
        t = torch.arange(start, start + length, device=self.device)
        return (t * clock // self.sample_rate).clamp(max=clock - 1)

    @classmethod
    def check_given(cls, given: dict[str, Any]) -> None:
        if given.get("clock") and "window" in given:
            raise GenlabError(
                "--window has no effect with --clock: the training items are then whole clips "
                "(and --batch-size counts clips); leave --window out"
            )

    # --- the network ----------------------------------------------------------------------------
    @property
    def item_samples(self) -> int:
        """W, the samples of one training item: `window`, or the whole clip with a clock (whose
        positions must count from the clip's start)."""
        return self.sample_rate if self.config.clock else min(self.config.window, self.sample_rate)

    def prepare(self, data: torch.Tensor) -> torch.Tensor:
        """float clips (N, R) -> μ-law codes int64 (N * R // W, W): consecutive windows of W =
        `item_samples` (what does not fill a window at a clip's end is left out)."""
        n, r = data.shape
        w = min(self.item_samples, r)
        codes = mu_law_encode(data[:, : r // w * w])  # (N, R // W * W)
        return codes.reshape(n * (r // w), w)  # (N, R//W * W) -> (N * R//W, W)

    def prepare_labels(self, labels: torch.Tensor) -> torch.Tensor:
        """A clip's label for each of its windows: (N,) -> (N * R // W,), in `prepare`'s order."""
        return labels.repeat_interleave(self.sample_rate // self.item_samples)

    def training_mask(self, prepared: torch.Tensor) -> torch.Tensor | None:
        """The training windows (N, W) louder than SILENCE_RMS, unless --keep-silence (None: all).
        A spoken word fills a fifth to two thirds of its one-second clip: the rest of the windows
        would teach only that silence goes on (docs/wavenet.md, "What a short run on speech gives")."""
        if self.config.keep_silence:
            return None
        loud = mu_law_decode(prepared).square().mean(1).sqrt() > SILENCE_RMS
        return loud if loud.any() else None

    def logits_from_onehot(
        self, onehot: torch.Tensor, keep: list | None = None, labels: torch.Tensor | None = None, start: int = 0
    ) -> torch.Tensor:
        """One-hot samples (B, 256, T) -> logits (B, 256, T) whose position t sees only samples < t
        (and the class labels (B,) of a conditional model; with a clock, position t is sample
        start + t of its sound). `keep`, when a list, receives every layer's input (B, R, T)."""
        labels = self.check_labels(labels, len(onehot))
        pieces = self.pieces(start, onehot.shape[2])
        k = self.config.kernel_size
        h = self.input(F.pad(onehot, (k, 0))[:, :, :-1])  # (B, R, T): shifted by one, then causal
        skips = 0
        for layer in self.layers:
            if keep is not None:
                keep.append(h)
            h, skip = layer(h, labels, pieces)
            skips = skips + skip
        return self.head(skips)

    def logits(
        self, codes: torch.Tensor, keep: list | None = None, labels: torch.Tensor | None = None, start: int = 0
    ) -> torch.Tensor:
        """int64 codes (B, T) -> logits (B, 256, T) for p(x_t | x_<t) (and y, the labels (B,));
        codes[:, 0] is sample `start` of its sound (for the clock)."""
        onehot = F.one_hot(codes, CLASSES).to(self.input.weight.dtype).transpose(1, 2)  # (B, T, 256) -> (B, 256, T)
        return self.logits_from_onehot(onehot, keep, labels, start)

    # --- objective ------------------------------------------------------------------------------
    def _figures(self, nats_per_sample: torch.Tensor) -> dict[str, torch.Tensor]:
        return {"loss": nats_per_sample, "bits_per_sample": nats_per_sample / math.log(2)}

    def loss(self, batch: torch.Tensor, labels: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        """Exact NLL (cross-entropy of the 256-way softmax) in nats per sample, windows (B, W)
        (given their labels (B,), for a conditional model; without them, of the mixture, as a
        figure only: `log_prob` keeps no gradient)."""
        if self.label_count and labels is None:
            return self._figures(-self.log_prob(batch).mean() / batch.shape[1])
        return self._figures(F.cross_entropy(self.logits(batch, labels=labels), batch))

    @torch.no_grad()
    def log_prob(self, codes: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """log p(x) = Σ_t log p(x_t | x_<t) in nats per sound (B,), for codes (B, T); a conditional
        model gives log p(x | y) for labels (B,), or, without them, the exact mixture over the classes."""
        if self.label_count and labels is None:
            return self.mixture_log_prob(self.log_prob, codes)
        labels = self.check_labels(labels, len(codes))
        chunk = max(1, LOG_PROB_SAMPLES // codes.shape[1])
        out = []
        for i, part in enumerate(codes.split(chunk)):
            part_labels = None if labels is None else labels[i * chunk : (i + 1) * chunk]
            nll = F.cross_entropy(self.logits(part, labels=part_labels), part, reduction="none")  # (b, T)
            out.append(-nll.sum(1))
        return torch.cat(out)

    # --- generation -----------------------------------------------------------------------------
    @staticmethod
    def _draw(logits: torch.Tensor, u: torch.Tensor, temperature: float) -> torch.Tensor:
        """Inverse-CDF draw from softmax(logits / T) with uniform u (B,): the same u and nearly the
        same logits give the same code, which is what makes fast and naive generation agree."""
        probs = torch.softmax(logits.to(torch.float64) / temperature, dim=-1)  # (B, 256)
        cdf = probs.cumsum(-1)
        return torch.searchsorted(cdf, (u * cdf[:, -1])[:, None], right=True).clamp(max=MU)[
            :, 0
        ]  # cdf[i-1] <= u < cdf[i]

    @torch.no_grad()
    def generate(
        self,
        n_new: int,
        prefix: torch.Tensor | None = None,
        n: int = 1,
        generator: torch.Generator | None = None,
        temperature: float = 1.0,
        naive: bool = False,
        labels: torch.Tensor | int | None = None,
    ) -> torch.Tensor:
        """Continue `prefix` codes (B, P) (or start n sounds from silence) by n_new samples drawn
        one at a time: codes (B, P + n_new). Each step draws one uniform number per sound from
        `generator`, so fast and naive generation draw the same sound for the same seed. A
        conditional model takes each sound's class `labels` (one int or (B,))."""
        if not temperature > 0:
            raise GenlabError(f"--temperature must be above 0, not {temperature}")
        if prefix is None:
            prefix = torch.zeros(n, 0, dtype=torch.long, device=self.device)
        prefix = prefix.to(self.device)
        labels = self.check_labels(labels, len(prefix))
        with torch.inference_mode():  # less overhead per tensor operation than no_grad
            step = self._naive_steps(prefix, labels) if naive else self._fast_steps(prefix, labels)
            codes = [prefix]
            code = None
            for _ in range(n_new):
                logits = step(code)  # (B, 256) for the next position
                u = torch.rand(len(prefix), generator=generator, device=self.device, dtype=torch.float64)
                code = self._draw(logits, u, temperature)
                codes.append(code[:, None])
            codes = torch.cat(codes, 1)
        return codes.clone()  # cloned outside inference mode: a normal tensor again

    def _naive_steps(self, prefix: torch.Tensor, labels: torch.Tensor | None = None):
        """Reference: every step runs the network over the last receptive field of samples."""
        seq = prefix
        slot = prefix.new_zeros(len(prefix), 1)  # a stand-in for x_t, which position t never sees

        def step(code):
            nonlocal seq
            if code is not None:
                seq = torch.cat([seq, code[:, None]], 1)
            start = max(0, seq.shape[1] - self.receptive_field)  # the sound's sample at the context's left end
            return self.logits(torch.cat([seq[:, start:], slot], 1), labels=labels, start=start)[:, :, -1]

        return step

    def _fast_steps(self, prefix: torch.Tensor, labels: torch.Tensor | None = None) -> FastSteps:
        """Fast generation (genlab/models/wavenet/fast.py): per layer a ring of its last (k-1)·d
        inputs, filled from one parallel pass over the prefix's last receptive field (exactly what
        the next samples depend on); then each sample costs one step per layer."""
        return FastSteps(self, prefix, labels)

    # --- using the model ------------------------------------------------------------------------
    @torch.no_grad()
    def sample(
        self,
        n: int,
        generator: torch.Generator | None = None,
        seconds: float | None = None,
        temperature: float = 1.0,
        labels: torch.Tensor | int | None = None,
    ) -> torch.Tensor:
        """n new sounds of `seconds` (default 0.25) started from silence: float32 (n, S) in [-1, 1].
        A conditional model draws class `labels` (one int or (n,)); by default sound i gets class
        i mod classes."""
        if self.label_count and labels is None:
            labels = torch.arange(n) % self.label_count
        length = self.samples_for(SAMPLE_SECONDS if seconds is None else seconds)
        return mu_law_decode(self.generate(length, n=n, generator=generator, temperature=temperature, labels=labels))

    @torch.no_grad()
    def complete(
        self,
        audio: torch.Tensor,
        seconds: float,
        n: int = 1,
        generator: torch.Generator | None = None,
        temperature: float = 1.0,
        labels: torch.Tensor | int | None = None,
    ) -> torch.Tensor:
        """Continue a float sound (T,) by `seconds` in n different ways: float32 (n, T + S). A
        conditional model keeps the sound's class `labels` (one int); without it each continuation
        draws a class uniformly at random."""
        if self.label_count and labels is None:
            labels = torch.randint(self.label_count, (n,), generator=generator, device=self.device)
        prefix = mu_law_encode(audio.to(self.device))[None].expand(n, -1)  # (T,) -> (n, T)
        codes = self.generate(
            self.samples_for(seconds), prefix, generator=generator, temperature=temperature, labels=labels
        )
        return mu_law_decode(codes)

    def samples_for(self, seconds: float) -> int:
        if not 0.01 <= seconds <= 600:
            raise GenlabError(f"--seconds must be between 0.01 and 600, not {seconds}")
        return round(seconds * self.sample_rate)
