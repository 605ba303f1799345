"""Layers and helpers more than one family uses: the per-class vector a class-conditional network
adds to a layer's output (PixelRNN, WaveNet, VAE/AE, GAN), the gated unit (PixelCNN's and WaveNet's)
and the moving average of weights (the PixelRNN's --ema, the GAN's generator average)."""

from __future__ import annotations

import torch
from torch import nn


class LabelBias(nn.Module):
    """A learned vector per class, added to a layer's output: the class conditioning of van den
    Oord et al. 2016, "Conditional Image Generation with PixelCNN Decoders" (a term V^T y with y
    one-hot is a per-class bias). Zero at the start, so training begins from the unconditional net."""

    def __init__(self, classes: int, features: int):
        super().__init__()
        self.table = nn.Embedding(classes, features)
        nn.init.zeros_(self.table.weight)

    def forward(self, h: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """h (B, F, ...) plus each image's class vector; labels (B,) int64."""
        v = self.table(labels)  # (B, F)
        return h + v.view(*v.shape, *(1,) * (h.dim() - 2))  # (B, F, 1, ...)


def with_label(h: torch.Tensor, bias: LabelBias | None, labels: torch.Tensor | None) -> torch.Tensor:
    """h plus the class vectors of a conditional network; h itself for an unconditional one."""
    return h if bias is None else bias(h, labels)


def label_bias(classes: int, features: int) -> LabelBias | None:
    return LabelBias(classes, features) if classes else None


def gate(x: torch.Tensor) -> torch.Tensor:
    """Gated unit: (B, 2h, ...) -> tanh(first half) · σ(second half), (B, h, ...)."""
    a, b = x.chunk(2, 1)
    return torch.tanh(a) * torch.sigmoid(b)


@torch.no_grad()
def update_average(average: nn.Module, net: nn.Module, updates: torch.Tensor, decay: float) -> None:
    """One step of an exponential moving average of `net`'s weights into `average` (Polyak
    averaging); `updates` counts the steps (a 0-d int64 buffer, advanced here). The decay warms up
    as min(decay, (1 + t) / (10 + t)), so early weights are soon forgotten. Buffers are copied."""
    updates += 1
    t = updates.float()  # stays on the device: no synchronisation per step
    weight = 1.0 - ((1 + t) / (10 + t)).clamp(max=decay)  # 1 − decay
    for p_avg, p in zip(average.parameters(), net.parameters()):
        p_avg.lerp_(p, weight)
    for b_avg, b in zip(average.buffers(), net.buffers()):
        b_avg.copy_(b)
