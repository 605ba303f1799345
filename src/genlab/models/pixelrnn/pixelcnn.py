"""PixelCNN and gated PixelCNN networks, each with its fast one-pixel-at-a-time stepper.

PixelCNN: van den Oord, Kalchbrenner & Kavukcuoglu 2016, "Pixel Recurrent Neural Networks" — a
7x7 mask-A convolution, then masked 3x3 mask-B convolutions with residual connections, then two
1x1 mask-B convolutions to the logits. Gated PixelCNN: van den Oord et al. 2016, "Conditional
Image Generation with PixelCNN Decoders" — a vertical stack (rows above) feeding a horizontal
stack (the current row, left of the pixel) through a 1x1 convolution after a one-row shift down,
so there is no blind spot; tanh·sigmoid gates; residual connections in the horizontal stack.

The fast path caches every layer's input (Ramachandran et al. 2017, "Fast Generation for
Convolutional Autoregressive Models"): once per row the rows above are folded in (and, for the
gated network, the vertical stack runs over the row just finished), then each pixel costs one
position per layer.

Deviations: the PixelCNN's residual block is ReLU + one 3x3 mask-B convolution of `width`
features (the paper's block has 1x1 convolutions around a 3x3 of half the features); the gated
network's first layer has the same 7x7 reach (a 4x7 vertical and a 1x4 horizontal kernel), the
later ones 3x3 (2x3 and 1x2); no skip connections to the output. Class conditioning
(`--conditional`) adds a learned vector per class to the first layer's output (to both stacks of
the gated network), from where the residual stream carries it to every later layer; the paper
adds one to every layer.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from genlab.models.pixelrnn.autoregressive import NetSpec, Stepper
from genlab.models.pixelrnn.layers import ConvStep, MaskedConv2d, OutputHead, shift_down, step_buffer
from genlab.models.shared.nn import gate, label_bias, with_label

FIRST = 3  # the 7x7 first layer reaches 3 rows up and 3 columns to each side


def first_layer(spec: NetSpec, out: int, out_groups: torch.Tensor) -> MaskedConv2d:
    """The 7x7 mask-A convolution every architecture starts with."""
    return MaskedConv2d(spec.in_features, out, FIRST, FIRST, FIRST, "A", spec.in_groups, out_groups)


class PixelCNN(nn.Module):
    def __init__(self, spec: NetSpec):
        super().__init__()
        hg = spec.hidden_groups()
        self.first = first_layer(spec, spec.width, hg)
        self.label = label_bias(spec.labels, spec.width)
        self.blocks = nn.ModuleList(
            MaskedConv2d(spec.width, spec.width, 1, 1, 1, "B", hg, hg) for _ in range(spec.layers)
        )
        self.head = OutputHead(spec.width, spec.head, spec.out_features, spec.groups, spec.out_groups)

    def forward(self, feats: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        h = with_label(self.first(feats), self.label, labels)  # (B, width, H, W)
        for block in self.blocks:
            h = h + block(F.relu(h))
        return self.head(h)

    def stepper(self, feats: torch.Tensor, labels: torch.Tensor | None = None) -> Stepper:
        return _PixelCNNStepper(self, feats, labels)


class _PixelCNNStepper(Stepper):
    def __init__(self, net: PixelCNN, feats: torch.Tensor, labels: torch.Tensor | None):
        self.feats, self.label, self.labels = feats, net.label, labels
        self.convs = [ConvStep(net.first)] + [ConvStep(block) for block in net.blocks]
        self.inputs = [feats] + [step_buffer(feats, net.first.out_channels) for _ in net.blocks]
        self.head = net.head.stepper()

    def row(self, i: int) -> None:
        self.above = [conv.rows(buf, i, current=False) for conv, buf in zip(self.convs, self.inputs)]

    def pixel(self, i: int, j: int) -> torch.Tensor:
        h = with_label(self.convs[0].at(self.feats, i, j, self.above[0][:, j]), self.label, self.labels)  # (B, width)
        for conv, buf, above in zip(self.convs[1:], self.inputs[1:], self.above[1:]):
            buf[:, :, i, j] = F.relu(h)
            h = h + conv.at(buf, i, j, above[:, j])
        return self.head(h)


class GatedPixelCNN(nn.Module):
    def __init__(self, spec: NetSpec):
        super().__init__()
        w, g1, g2 = spec.width, spec.hidden_groups(), spec.hidden_groups(2)
        self.vertical, self.horizontal, self.v_to_h, self.residual = (nn.ModuleList() for _ in range(4))
        for layer in range(spec.layers + 1):
            cin, groups = (spec.in_features, spec.in_groups) if layer == 0 else (w, g1)
            reach = FIRST if layer == 0 else 1
            self.vertical.append(MaskedConv2d(cin, 2 * w, reach, reach, reach, None))
            self.horizontal.append(MaskedConv2d(cin, 2 * w, 0, reach, 0, "A" if layer == 0 else "B", groups, g2))
            self.v_to_h.append(MaskedConv2d(2 * w, 2 * w, 0, 0, 0, None))  # reads rows above only: no mask
            if layer:
                self.residual.append(MaskedConv2d(w, w, 0, 0, 0, "B", g1, g1))
        self.head = OutputHead(w, spec.head, spec.out_features, spec.groups, spec.out_groups)
        self.label_v, self.label_h = label_bias(spec.labels, w), label_bias(spec.labels, w)  # after the first layer

    def forward(self, feats: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        v = h = feats
        for layer, (vconv, hconv, v_to_h) in enumerate(zip(self.vertical, self.horizontal, self.v_to_h)):
            v_pre = vconv(v)  # (B, 2w, H, W): row i sees rows <= i
            out = gate(hconv(h) + v_to_h(shift_down(v_pre)))  # (B, w, H, W)
            v = gate(v_pre)
            if layer == 0:
                v, h = with_label(v, self.label_v, labels), with_label(out, self.label_h, labels)
            else:
                h = h + self.residual[layer - 1](out)
        return self.head(h)

    def stepper(self, feats: torch.Tensor, labels: torch.Tensor | None = None) -> Stepper:
        return _GatedStepper(self, feats, labels)


class _GatedStepper(Stepper):
    def __init__(self, net: GatedPixelCNN, feats: torch.Tensor, labels: torch.Tensor | None):
        width, n = net.head.hidden.in_channels, len(net.vertical)
        self.feats, self.labels, self.label_v, self.label_h = feats, labels, net.label_v, net.label_h
        self.vertical = [ConvStep(c) for c in net.vertical]
        self.horizontal = [ConvStep(c) for c in net.horizontal]
        self.v_to_h = [ConvStep(c) for c in net.v_to_h]
        self.residual = [ConvStep(c) for c in net.residual]
        self.head = net.head.stepper()
        self.v_in = [feats] + [step_buffer(feats, width) for _ in range(n - 1)]  # each layer's vertical-stack input
        self.h_in = [feats] + [step_buffer(feats, width) for _ in range(n - 1)]
        self.v_pre = [step_buffer(feats, 2 * width) for _ in range(n)]

    def row(self, i: int) -> None:
        if i > 0:  # row i-1 is final: run the vertical stack over it
            for layer, vconv in enumerate(self.vertical):
                v_pre = vconv.rows(self.v_in[layer], i - 1, current=True).transpose(1, 2)  # (B, 2w, W)
                self.v_pre[layer][:, :, i - 1] = v_pre
                if layer + 1 < len(self.vertical):
                    v = gate(v_pre)  # (B, w, W)
                    self.v_in[layer + 1][:, :, i - 1] = with_label(v, self.label_v, self.labels) if layer == 0 else v
        self.above = [
            v_to_h.rows(v_pre, i - 1, current=True) + hconv.rows(h_in, i, current=False)
            for v_to_h, v_pre, hconv, h_in in zip(self.v_to_h, self.v_pre, self.horizontal, self.h_in)
        ]

    def pixel(self, i: int, j: int) -> torch.Tensor:
        h = None
        for layer, (hconv, h_in, above) in enumerate(zip(self.horizontal, self.h_in, self.above)):
            if layer:
                h_in[:, :, i, j] = h
            out = gate(hconv.at(h_in, i, j, above[:, j]))  # (B, w)
            h = with_label(out, self.label_h, self.labels) if layer == 0 else h + self.residual[layer - 1].point(out)
        return self.head(h)
