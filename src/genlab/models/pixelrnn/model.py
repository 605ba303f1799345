"""PixelRNN: images generated one pixel at a time, each conditioned on all before it.

van den Oord, Kalchbrenner & Kavukcuoglu 2016, "Pixel Recurrent Neural Networks". `--arch` picks
the network; all share a 7x7 mask-A first layer, residual connections and a 1x1 output head:
- `row-lstm`: an LSTM over rows; the input-to-state part is a 3x1 mask-B convolution along the
  row and the state-to-state part a 3x1 convolution of the previous row's state, so a whole row
  is computed at once (triangular receptive field).
- `diagonal-bilstm`: the map is skewed (row i shifted right by i) so that an LSTM can sweep the
  diagonals; input-to-state is a 1x1 mask-B convolution, state-to-state a 2x1 convolution of the
  previous diagonal (the pixel above and the one to the left). A second LSTM sweeps right to left;
  its output is shifted down one row before the two are added, so nothing sees the future.
- `pixelcnn`, `gated-pixelcnn`: see `genlab.models.pixelrnn.pixelcnn`.

Output: a softmax over the palette (`--colors`), as the lecture notes ask, or (`--output raw`) the
paper's three 256-way softmaxes per pixel ordered R -> G -> B with channel masks A/B, or
(`--output regression`) the notes' greyish alternative: a Gaussian per channel value in the same
order, an exact continuous density on dequantized pixels, or (`--output mean`) the plainest
regression: the predicted colour itself, trained by squared error and taken, not drawn, when
generating (see autoregressive.py). The fast
samplers carry each LSTM's state: a row (Row LSTM) or the right-to-left sweep of the row above
(Diagonal BiLSTM) is computed once per row, then each pixel is one step of every layer.

Training keeps an exponential moving average of the weights (`--ema`, default 0.999; Polyak
averaging as in Salimans et al. 2017, "PixelCNN++"), and a trained model samples and computes
likelihoods with the average (autoregressive.py).

Deviations: one width h for the residual stream and the LSTM state (the paper keeps 2h features
between layers and h in the LSTM); states outside the image are zero (the paper does not say);
the LSTM cell update takes the cell of the previous position along the sweep (the left pixel for
the Diagonal BiLSTM, the pixel above for the Row LSTM). Class conditioning (`--conditional`, where
the data has labels) adds a learned vector per class to the first layer's output, as the PixelCNNs
do (see `genlab.models.pixelrnn.pixelcnn`); the paper has no conditioning.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from genlab.core.config import opt
from genlab.core.errors import GenlabError
from genlab.data import Palette
from genlab.models.base import colors_opt, conditional_classes, conditional_opt, label_count_opt, register
from genlab.models.pixelrnn.autoregressive import AutoregressiveImageModel, NetSpec, Stepper
from genlab.models.pixelrnn.layers import (
    ConvStep,
    MaskedConv2d,
    OutputHead,
    lstm_cell,
    shift_down,
    skew,
    step_buffer,
    unskew,
)
from genlab.models.pixelrnn.pixelcnn import GatedPixelCNN, PixelCNN, first_layer
from genlab.models.shared.nn import label_bias, with_label


def row_neighbours(h: torch.Tensor) -> torch.Tensor:
    """States of a row (B, W, w) -> (B, W, 3w): at each column j, the states at j-1, j and j+1."""
    return torch.cat([F.pad(h, (0, 0, 1, 0))[:, :-1], h, F.pad(h, (0, 0, 0, 1))[:, 1:]], 2)


class RowLSTM(nn.Module):
    def __init__(self, spec: NetSpec):
        super().__init__()
        w, g1, g4 = spec.width, spec.hidden_groups(), spec.hidden_groups(4)
        self.first = first_layer(spec, w, g1)
        self.label = label_bias(spec.labels, w)
        # the paper's 3x1 masked input-to-state kernel: its right tap is always masked, so it is left out
        self.input_to_state = nn.ModuleList(MaskedConv2d(w, 4 * w, 0, 1, 0, "B", g1, g4) for _ in range(spec.layers))
        # the 3x1 state-to-state kernel over the previous row, as one matrix on `row_neighbours`
        self.state_to_state = nn.ModuleList(nn.Linear(3 * w, 4 * w, bias=False) for _ in range(spec.layers))
        self.out = nn.ModuleList(MaskedConv2d(w, w, 0, 0, 0, "B", g1, g1) for _ in range(spec.layers))
        self.head = OutputHead(w, spec.head, spec.out_features, spec.groups, spec.out_groups)

    def forward(self, feats: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        u = with_label(self.first(feats), self.label, labels)  # (B, w, H, W)
        b, w, _, width = u.shape
        for i2s, s2s, out in zip(self.input_to_state, self.state_to_state, self.out):
            gates = i2s(u).permute(2, 0, 3, 1).contiguous()  # (B, 4w, H, W) -> (H, B, W, 4w): contiguous rows
            h = c = u.new_zeros(b, width, w)
            rows = []
            for row in gates.unbind(0):  # unbind: one backward op for all rows
                h, c = lstm_cell(row + s2s(row_neighbours(h)), c)  # (B, W, w)
                rows.append(h)
            u = u + out(torch.stack(rows).permute(1, 3, 0, 2))  # (H, B, W, w) -> (B, w, H, W)
        return self.head(u)

    def stepper(self, feats: torch.Tensor, labels: torch.Tensor | None = None) -> Stepper:
        return _RowLSTMStepper(self, feats, labels)


class _RowLSTMStepper(Stepper):
    def __init__(self, net: RowLSTM, feats: torch.Tensor, labels: torch.Tensor | None):
        width = net.first.out_channels
        self.feats, self.first, self.head = feats, ConvStep(net.first), net.head.stepper()
        self.label, self.labels = net.label, labels
        self.i2s = [ConvStep(c) for c in net.input_to_state]
        self.s2s = list(net.state_to_state)
        self.out = [ConvStep(c) for c in net.out]
        self.u, self.h, self.c = ([step_buffer(feats, width) for _ in self.i2s] for _ in range(3))

    def row(self, i: int) -> None:
        self.above = self.first.rows(self.feats, i, current=False)  # (B, W, w)
        self.gates, self.c_prev = [], []
        for i2s, s2s, u, h, c in zip(self.i2s, self.s2s, self.u, self.h, self.c):
            prev_h, prev_c = (h[:, :, i - 1], c[:, :, i - 1]) if i else (torch.zeros_like(h[:, :, 0]),) * 2
            prev_h, prev_c = prev_h.transpose(1, 2), prev_c.transpose(1, 2)  # (B, w, W) -> (B, W, w)
            self.gates.append(i2s.rows(u, i, current=False) + s2s(row_neighbours(prev_h)))  # (B, W, 4w)
            self.c_prev.append(prev_c)

    def pixel(self, i: int, j: int) -> torch.Tensor:
        u = with_label(self.first.at(self.feats, i, j, self.above[:, j]), self.label, self.labels)  # (B, w)
        for layer, (i2s, out) in enumerate(zip(self.i2s, self.out)):
            self.u[layer][:, :, i, j] = u
            h, c = lstm_cell(i2s.at(self.u[layer], i, j, self.gates[layer][:, j]), self.c_prev[layer][:, j])
            self.h[layer][:, :, i, j], self.c[layer][:, :, i, j] = h, c
            u = u + out.point(h)
        return self.head(u)


def diagonal_sweep(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    """D diagonal LSTMs at once, each over its own map, left to right (the skew trick).

    x (D, B, w, H, W); weight (D, 3w, 4w) acting on [input, state above, state to the left] (the
    1x1 input-to-state and the 2x1 column state-to-state kernels); bias (D, 4w). Returns the
    hidden states (D, B, w, H, W). Column t of the skewed map is the diagonal i + j = t, so one
    step computes a whole diagonal from the one before it.
    """
    d, b, w, height, width = x.shape
    skewed = skew(x.flatten(0, 1)).view(d, b, w, height, -1)  # (D, B, w, H, T), T = H+W-1
    columns = skewed.permute(4, 0, 1, 3, 2).reshape(-1, d, b * height, w)  # (T, D, B*H, w): contiguous steps
    inside = skew(x.new_ones(1, 1, height, width))[0, 0].t()[:, None, None, :, None]  # (T, 1, 1, H, 1): 1 on the image
    h = c = x.new_zeros(d, b, height, w)
    states = []
    for column, on in zip(columns.unbind(0), inside.unbind(0)):  # unbind: one backward op for all steps
        above = F.pad(h, (0, 0, 1, 0))[:, :, :-1]  # (D, B, H, w): row i gets row i-1 of the previous diagonal
        inputs = torch.cat([column, above.reshape(d, b * height, w), h.reshape(d, b * height, w)], 2)  # (D, B*H, 3w)
        h, c = lstm_cell(torch.baddbmm(bias[:, None], inputs, weight), c.reshape(d, b * height, w))  # (D, B*H, w)
        h, c = h.view(d, b, height, w) * on, c.view(d, b, height, w) * on  # states off the image stay zero
        states.append(h)
    states = torch.stack(states).permute(1, 2, 4, 3, 0)  # (T, D, B, H, w) -> (D, B, w, H, T)
    return unskew(states.flatten(0, 1), width).view(d, b, w, height, width)  # (D*B, w, H, W) -> (D, B, w, H, W)


class DiagonalLSTM(nn.Module):
    """The state-to-state kernel of one direction of the Diagonal BiLSTM: the 2x1 column kernel
    over the previous diagonal, as one matrix on [state above, state to the left]."""

    def __init__(self, width: int):
        super().__init__()
        self.state_to_state = nn.Linear(2 * width, 4 * width, bias=False)


class DiagonalBiLSTM(nn.Module):
    def __init__(self, spec: NetSpec):
        super().__init__()
        w, g1 = spec.width, spec.hidden_groups()
        self.first = first_layer(spec, w, g1)
        self.label = label_bias(spec.labels, w)
        # one 1x1 convolution holds both directions' input-to-state weights: [o, f, i, g] left-to-right, then right-to-left
        self.input_to_state = nn.ModuleList(
            MaskedConv2d(w, 8 * w, 0, 0, 0, "B", g1, spec.hidden_groups(8)) for _ in range(spec.layers)
        )
        self.left = nn.ModuleList(DiagonalLSTM(w) for _ in range(spec.layers))
        self.right = nn.ModuleList(DiagonalLSTM(w) for _ in range(spec.layers))
        self.out = nn.ModuleList(MaskedConv2d(w, w, 0, 0, 0, "B", g1, g1) for _ in range(spec.layers))
        self.head = OutputHead(w, spec.head, spec.out_features, spec.groups, spec.out_groups)

    def forward(self, feats: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        u = with_label(self.first(feats), self.label, labels)  # (B, w, H, W)
        w = u.shape[1]
        for i2s, left, right, out in zip(self.input_to_state, self.left, self.right, self.out):
            w_in = (i2s.weight * i2s.mask)[:, :, 0, 0]  # (8w, w)
            weight = torch.stack(
                [
                    torch.cat([w_in[: 4 * w], left.state_to_state.weight], 1).t(),
                    torch.cat([w_in[4 * w :], right.state_to_state.weight], 1).t(),
                ]
            )  # (2, 3w, 4w)
            # the right-to-left sweep is a left-to-right sweep of the mirrored map
            h_l, h_r = diagonal_sweep(torch.stack([u, u.flip(3)]), weight, i2s.bias.view(2, 4 * w))  # (B, w, H, W) each
            u = u + out(h_l + shift_down(h_r.flip(3)))  # shifted down: row i sees the right of rows above only
        return self.head(u)

    def stepper(self, feats: torch.Tensor, labels: torch.Tensor | None = None) -> Stepper:
        return _DiagonalStepper(self, feats, labels)


class _DiagonalStepper(Stepper):
    """Left-to-right: one LSTM step per pixel. Right-to-left: at the start of row i the sweep runs
    over row i-1 (final by then), which is what row i reads after the shift down."""

    def __init__(self, net: DiagonalBiLSTM, feats: torch.Tensor, labels: torch.Tensor | None):
        width = net.first.out_channels
        four = 4 * width
        self.feats, self.first, self.head = feats, ConvStep(net.first), net.head.stepper()
        self.label, self.labels = net.label, labels
        self.i2s = [ConvStep(c) for c in net.input_to_state]
        self.out = [ConvStep(c) for c in net.out]
        # left-to-right input-to-state (the first 4w outputs), as (w, 4w) and (4w,)
        self.i2s_l = [(c.point_t[:, :four], c.bias[:four]) for c in self.i2s]
        # state-to-state (4w, 2w) split into the taps on the state above and the previous one of the sweep
        self.taps_l = [d.state_to_state.weight.detach().split(width, 1) for d in net.left]
        self.taps_r = [d.state_to_state.weight.detach().split(width, 1) for d in net.right]
        new = lambda: [step_buffer(feats, width) for _ in net.out]  # noqa: E731
        self.u, self.h_l, self.c_l, self.h_r = new(), new(), new(), new()

    def row(self, i: int) -> None:
        self.above = self.first.rows(self.feats, i, current=False)  # (B, W, w)
        self.from_above, self.h_r_above = [], []
        for layer, (_, i2s_bias) in enumerate(self.i2s_l):
            if i:
                self._sweep_right_to_left(layer, i - 1)
            zeros = torch.zeros_like(self.h_l[layer][:, :, 0])  # (B, w, W): the row above the image
            prev_l, prev_r = (self.h_l[layer][:, :, i - 1], self.h_r[layer][:, :, i - 1]) if i else (zeros, zeros)
            self.from_above.append(F.linear(prev_l.transpose(1, 2), self.taps_l[layer][0], i2s_bias))  # (B, W, 4w)
            self.h_r_above.append(prev_r.transpose(1, 2))  # (B, W, w)

    def _sweep_right_to_left(self, layer: int, r: int) -> None:
        above, right = self.taps_r[layer]  # (4w, w) each; the previous pixel of this sweep is the right one
        gates = self.i2s[layer].rows(self.u[layer], r, current=True)[:, :, len(above) :]  # (B, W, 4w)
        if r:
            gates = gates + F.linear(self.h_r[layer][:, :, r - 1].transpose(1, 2), above)  # (B, w, W) -> (B, W, w)
        right_t = right.t()  # (w, 4w)
        h = c = gates.new_zeros(gates.shape[0], right.shape[1])
        for j in reversed(range(gates.shape[1])):
            h, c = lstm_cell(torch.addmm(gates[:, j], h, right_t), c)
            self.h_r[layer][:, :, r, j] = h

    def pixel(self, i: int, j: int) -> torch.Tensor:
        u = with_label(self.first.at(self.feats, i, j, self.above[:, j]), self.label, self.labels)  # (B, w)
        for layer, out in enumerate(self.out):
            self.u[layer][:, :, i, j] = u
            gates = torch.addmm(self.from_above[layer][:, j], u, self.i2s_l[layer][0])  # (B, 4w)
            if j:
                gates = torch.addmm(gates, self.h_l[layer][:, :, i, j - 1], self.taps_l[layer][1].t())
                c_prev = self.c_l[layer][:, :, i, j - 1]
            else:
                c_prev = torch.zeros_like(u)
            h, c = lstm_cell(gates, c_prev)
            self.h_l[layer][:, :, i, j], self.c_l[layer][:, :, i, j] = h, c
            u = u + out.point(h + self.h_r_above[layer][:, j])
        return self.head(u)


OUTPUTS = ("palette", "raw", "regression", "mean")
ARCHS = {"row-lstm": RowLSTM, "diagonal-bilstm": DiagonalBiLSTM, "pixelcnn": PixelCNN, "gated-pixelcnn": GatedPixelCNN}
# (layers, width) when --layers / --width are not given, chosen on sample quality per CPU minute
# (bench/quality.py, bench/README.md). The Row LSTM's (2, 16) draws as well at 2 minutes as (3, 16) or
# (2, 32), which train fewer steps; the PixelCNN's 10 layers see 13 rows up (5 layers: 8).
DEFAULT_SIZES = {"row-lstm": (2, 16), "diagonal-bilstm": (2, 16), "pixelcnn": (10, 32), "gated-pixelcnn": (4, 16)}


@dataclass
class PixelRNNConfig:
    # the Row LSTM: at 2 CPU minutes on mnist5k FID 6.0 vs 11-14 for the best PixelCNNs (bench/README.md)
    arch: str = opt(
        "row-lstm",
        "network: row-lstm, diagonal-bilstm (PixelRNN paper), pixelcnn (masked "
        "convolutions), gated-pixelcnn (vertical + horizontal stacks, no blind spot)",
        tuple(ARCHS),
    )
    layers: int | None = opt(
        None,
        "recurrent / masked layers after the 7x7 mask-A first layer (default: "
        + ", ".join(f"{v[0]} for {k}" for k, v in DEFAULT_SIZES.items())
        + ")",
    )
    width: int | None = opt(
        None,
        "features per pixel in every hidden layer, h in the paper (default: "
        + ", ".join(f"{v[1]} for {k}" for k, v in DEFAULT_SIZES.items())
        + ")",
    )
    head: int = opt(64, "features of the hidden 1x1 layer of the output head")
    colors: int = colors_opt("the palette output")
    output: str = opt(
        "palette",
        "palette: one softmax over --colors per pixel; raw: a 256-way softmax per "
        "channel, R -> G -> B; regression: a Gaussian per channel, R -> G -> B, on "
        "dequantized pixels; mean: the predicted value per channel, trained by squared "
        "error and taken as it is when sampling, so only --seed-pixels make samples differ "
        "(--colors is then unused)",
        OUTPUTS,
    )
    conditional: bool = conditional_opt(
        "`genlab sample --label K` draws class K, and likelihoods are exact mixtures over the classes"
    )
    label_count: int = label_count_opt()
    ema: float = opt(
        0.999,
        "decay of the moving average of the weights (Polyak averaging) that sampling and "
        "likelihoods use once trained; 0 = off",
        before=0.0,
    )


@register("pixelrnn")
class PixelRNN(AutoregressiveImageModel):
    """Pixel-by-pixel image model: Row LSTM, Diagonal BiLSTM, PixelCNN or gated PixelCNN."""

    Config = PixelRNNConfig
    # lr: all four learn much faster early on than at 1e-3 (mnist5k); 1e-2 is worse for the PixelCNN. Batch 16:
    # about 8x the steps of 128 in a CPU minute; PixelCNN FID 12.0 vs 15.2 at 2 minutes, and the Row LSTM
    # trains as many steps as the PixelCNN at it (bench/README.md)
    train_defaults = {"lr": 3e-3, "batch_size": 16}

    def __init__(self, config: PixelRNNConfig, item_shape, palette: Palette | None = None):
        super().__init__(config, item_shape, palette)
        if config.arch not in ARCHS or config.output not in OUTPUTS:
            raise GenlabError(
                f"unknown --arch {config.arch!r} or --output {config.output!r}; choose --arch from "
                f"{', '.join(ARCHS)} and --output from {', '.join(OUTPUTS)}"
            )
        layers, width = self.sizes(config)
        if layers < 0 or width < self.groups or config.head < 1:
            raise GenlabError(
                f"--layers must be at least 0, --width at least {self.groups} and --head at least 1 "
                f"(got {layers}, {width}, {config.head})"
            )
        if not 0 <= config.ema < 1:
            raise GenlabError(f"--ema must be in [0, 1) (got {config.ema})")
        self.label_count = conditional_classes(config)
        spec = NetSpec(
            self.in_features,
            self.in_groups,
            self.out_features,
            self.out_groups,
            self.groups,
            width,
            layers,
            config.head,
            self.label_count,
        )
        self.net = ARCHS[config.arch](spec)
        self.average_weights(config.ema)

    @staticmethod
    def sizes(config: PixelRNNConfig) -> tuple[int, int]:
        """(layers, width): the config's, or the architecture's defaults where it leaves them out."""
        layers, width = DEFAULT_SIZES[config.arch]
        return (layers if config.layers is None else config.layers), (width if config.width is None else config.width)
