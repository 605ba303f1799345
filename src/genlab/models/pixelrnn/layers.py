"""The layers of the PixelRNN family's networks (Row LSTM, Diagonal BiLSTM, PixelCNN, gated
PixelCNN): masked convolutions with colour-channel masks A and B, LSTM cell updates, and the shift
and skew of feature maps. The gated unit and the class vectors they share with other families are
in models/shared/nn.py.

van den Oord, Kalchbrenner & Kavukcuoglu 2016, "Pixel Recurrent Neural Networks" (masks A and B,
the skew of the Diagonal BiLSTM); van den Oord et al. 2016, "Conditional Image Generation with
PixelCNN Decoders" (vertical and horizontal stacks).

Every convolution here is *row-causal*: its output at (i, j) sees input rows i-up..i-1 in full
(columns j-left..j+right) and, in row i, only columns j-left..j-1 plus, at (i, j) itself, the
colour groups its mask allows ("A": earlier groups, "B": earlier and the same group; with one group
A hides the centre and B shows it). The kernel holds only those rows, so no work is spent on rows
below. `mask=None` shows the whole of row i (the gated PixelCNN's vertical stack, which is shifted
down one row before anything reads it).

`ConvStep` is the same convolution evaluated one output row or one output pixel at a time, for the
fast sampling path: the rows above are folded in once per row, the in-row taps once per pixel.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def channel_groups(n: int, groups: int, chunks: int = 1) -> torch.Tensor:
    """The colour group (0..groups-1) of each of n channels: the n/chunks channels of one chunk are
    split into `groups` contiguous runs, and every chunk repeats that split (so channel c of each
    gate chunk, e.g. the o, f, i, g of an LSTM, belongs to the same group)."""
    per = n // chunks
    return (torch.arange(per) * groups // per).repeat(chunks)


class MaskedConv2d(nn.Conv2d):
    """Row-causal convolution (see the module docstring) with an optional A/B colour mask."""

    def __init__(
        self,
        cin: int,
        cout: int,
        up: int,
        left: int,
        right: int,
        mask: str | None,
        in_groups: torch.Tensor | None = None,
        out_groups: torch.Tensor | None = None,
    ):
        super().__init__(cin, cout, (up + 1, left + right + 1))
        self.up, self.left, self.right = up, left, right
        keep = torch.ones_like(self.weight)  # (cout, cin, up+1, left+right+1)
        if mask is not None:
            in_groups = torch.zeros(cin, dtype=torch.long) if in_groups is None else in_groups
            out_groups = torch.zeros(cout, dtype=torch.long) if out_groups is None else out_groups
            allowed = (
                in_groups[None, :] < out_groups[:, None] if mask == "A" else in_groups[None, :] <= out_groups[:, None]
            )
            keep[:, :, up, left + 1 :] = 0
            keep[:, :, up, left] = allowed.to(keep.dtype)  # (cout, cin): the centre tap
        self.register_buffer("mask", keep, persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.pad(x, (self.left, self.right, self.up, 0))  # (B, cin, H+up, W+left+right)
        return F.conv2d(x, self.weight * self.mask, self.bias)


def step_buffer(like: torch.Tensor, channels: int) -> torch.Tensor:
    """Zeros (B, channels, H, W) shaped like `like`, stored channels-last, so that the taps of one
    row (B, n, channels) are a view and a pixel's features are contiguous."""
    b, _, h, w = like.shape
    return like.new_zeros(b, h, w, channels).permute(0, 3, 1, 2)  # (B, H, W, C) -> (B, C, H, W)


class ConvStep:
    """A MaskedConv2d with its masked weights taken once, evaluated a row or a pixel at a time.

    `rows(buf, r, current)` is the output at row r from the input rows above it (current=False,
    bias included) or from rows r-up..r in full (current=True), as (B, W, cout); `at(buf, i, j, add)`
    is `add` plus what row i's taps j-left..j contribute at (i, j) (no bias). `buf` is the layer's
    input (B, cin, H, W), filled so far, ideally a `step_buffer`.
    """

    def __init__(self, conv: MaskedConv2d):
        w = (conv.weight * conv.mask).detach()  # (cout, cin, up+1, kw)
        self.up, self.left, self.right = conv.up, conv.left, conv.right
        self.weight, self.bias = w, conv.bias.detach()
        self.point_t = w[:, :, conv.up, conv.left].t().contiguous()  # (cin, cout): the centre tap
        row = w[:, :, conv.up, : conv.left + 1]  # (cout, cin, left+1)
        # one (taps*cin, cout) matrix per number of columns available (fewer at the left edge)
        self.row_t = [
            row[:, :, conv.left + 1 - n :].permute(2, 1, 0).reshape(-1, len(w))  # (cout, cin, n) -> (n*cin, cout)
            for n in range(1, conv.left + 2)
        ]

    def rows(self, buf: torch.Tensor, r: int, current: bool) -> torch.Tensor:
        b, _, _, width = buf.shape
        hi = r + 1 if current else r
        lo = max(0, r - self.up)
        if hi <= lo:  # nothing above (row 0, or a kernel one row tall)
            return self.bias.expand(b, width, -1)
        weight = self.weight if current else self.weight[:, :, : self.up]
        x = F.pad(buf[:, :, lo:hi], (self.left, self.right, lo - (r - self.up), 0))  # (B, cin, rows, W+pad)
        return F.conv2d(x, weight, self.bias)[:, :, 0].transpose(1, 2).contiguous()  # (B, cout, W) -> (B, W, cout)

    def at(self, buf: torch.Tensor, i: int, j: int, add: torch.Tensor) -> torch.Tensor:
        lo = max(0, j - self.left)
        patch = buf[:, :, i, lo : j + 1].transpose(1, 2)  # (B, n, cin)
        return torch.addmm(add, patch.reshape(len(patch), -1), self.row_t[j - lo])  # (B, cout)

    def point(self, v: torch.Tensor) -> torch.Tensor:
        """A 1x1 convolution at one position: (B, cin) -> (B, cout), bias included."""
        return torch.addmm(self.bias, v, self.point_t)


class OutputHead(nn.Module):
    """ReLU, 1x1 conv (mask B), ReLU, 1x1 conv (mask B) to the logits, as in the paper."""

    def __init__(self, width: int, hidden: int, out: int, groups: int, out_groups: torch.Tensor):
        super().__init__()
        hg, wg = channel_groups(hidden, groups), channel_groups(width, groups)
        self.hidden = MaskedConv2d(width, hidden, 0, 0, 0, "B", wg, hg)
        self.out = MaskedConv2d(hidden, out, 0, 0, 0, "B", hg, out_groups)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return self.out(F.relu(self.hidden(F.relu(h))))

    def stepper(self):
        hidden, out = ConvStep(self.hidden), ConvStep(self.out)
        return lambda v: out.point(F.relu(hidden.point(F.relu(v))))  # (B, width) -> (B, out)


def lstm_cell(gates: torch.Tensor, c_prev: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """gates (..., 4h) as [o, f, i, g], previous cell (..., h) -> new (hidden, cell), each (..., h)."""
    o, f, i, g = gates.chunk(4, -1)
    c = torch.sigmoid(f) * c_prev + torch.sigmoid(i) * torch.tanh(g)
    return torch.sigmoid(o) * torch.tanh(c), c


def shift_down(x: torch.Tensor) -> torch.Tensor:
    """(B, C, H, W): row i takes row i-1's values, row 0 is zero."""
    return F.pad(x, (0, 0, 1, 0))[:, :, :-1]


def skew(x: torch.Tensor) -> torch.Tensor:
    """(B, C, H, W) -> (B, C, H, H+W-1) with out[..., i, i+j] = x[..., i, j], zeros elsewhere: each
    row shifted right by its index, so column t of the result is the diagonal i + j = t."""
    b, c, h, w = x.shape
    flat = F.pad(x, (0, h)).flatten(2)  # (B, C, H*(W+H)): row i starts at i*(W+H)
    return flat[:, :, : h * (w + h - 1)].view(b, c, h, w + h - 1)  # row i now starts i places later


def unskew(x: torch.Tensor, width: int) -> torch.Tensor:
    """Inverse of `skew`: (B, C, H, H+W-1) -> (B, C, H, W) with out[..., i, j] = x[..., i, i+j]."""
    b, c, h, _ = x.shape
    flat = F.pad(x, (0, 1)).flatten(2)  # (B, C, H*(W+H)): x[i, t] at i*(W+H) + t
    flat = F.pad(flat, (0, h))  # (B, C, H*(W+H+1)); x[i, i+j] sits at i*(W+H+1) + j
    return flat.view(b, c, h, width + h + 1)[:, :, :, :width]  # (B, C, H, W+H+1) -> (B, C, H, W)
