"""Fast WaveNet generation: one sample costs one step per layer (Paine et al. 2016, "Fast Wavenet
Generation Algorithm"), written so that a step is as few tensor operations as possible, since at
batch 1 each operation's fixed cost, not its arithmetic, sets the speed.

Per layer and sample, five operations on buffers made once, before the first sample:
- the dilated causal convolution at position t as k matrix products of the layer's inputs at
  t-(k-1)d, ..., t (read from a ring of that layer's last (k-1)d + 1 inputs), accumulated into z;
- one tanh over all of z: the gate's half of the convolution is pre-scaled by 1/2 (exact in
  floating point), and σ(a) = (1 + tanh(a/2)) / 2, so tanh(f)·σ(a) = (tf + tf·tg) / 2 is one
  addcmul that writes 2·gate into this layer's columns of a buffer shared by all layers;
- one matrix product for the residual connection, written straight into the next layer's ring.
  The 1/2 is folded into the residual and skip matrices (exact), and every bias into an extra row
  fed by a column of ones, so no operation adds a bias on its own.
The skip connections of all layers are then one matrix product over that shared buffer, and the
head two more. The results equal the network's parallel pass (`WaveNet.logits`) up to float
rounding (the sums are taken in another order), which is what the fast = naive tests check.
"""

from __future__ import annotations

import torch
from torch import nn

CLASSES = 256


class FastSteps:
    """`step(code)` -> logits (B, 256) of the next position, after feeding the code just drawn
    (None for the first call). Built from a WaveNet, a prefix of codes (B, P) and its labels."""

    @torch.no_grad()  # the buffers and matrices hold no gradient, so a step needs no grad mode
    def __init__(self, model, prefix: torch.Tensor, labels: torch.Tensor | None = None):
        cfg = model.config
        k, b, p = cfg.kernel_size, len(prefix), prefix.shape[1]
        dtype, device = model.input.weight.dtype, model.device
        new = dict(dtype=dtype, device=device)
        self.k, self.t = k, p  # t: the position whose logits the next step returns
        keep: list[torch.Tensor] = []
        context = prefix[:, -model.receptive_field :]  # all that the next samples depend on
        skipped = p - context.shape[1]  # absolute position of context[:, 0]
        if p:
            model.logits(context, keep, labels, start=skipped)  # every layer's inputs over the context, (B, R, C) each
        layers = list(model.layers)
        g, r = cfg.gate_channels, cfg.residual_channels
        width = g + 1  # a layer's columns in the shared buffer: 2·gate, then a one
        self.gates = torch.ones(b, len(layers) * width, **new)
        skip_rows = []
        self.rings = []  # per layer: the slots of its inputs, slot t % len holding position t
        for i, layer in enumerate(layers):
            size = layer.history + 1  # one more than the taps reach back: writing t never overwrites t - history
            slots = list(torch.zeros(size, b, r, **new).unbind(0))
            for pos in range(max(0, p - layer.history), p):
                slots[pos % size].copy_(keep[i][:, :, pos - skipped])
            self.rings.append(slots)
        self.plan = []
        self.clock = []  # with a clock: per layer its bias without the clock, the clock's vectors, the bias used
        for i, layer in enumerate(layers):
            half = torch.ones(2 * g, **new)
            half[g:] = 0.5  # the gate half: tanh(a/2) gives σ(a)
            taps = [(layer.conv.weight[:, :, j].T * half).contiguous() for j in range(k)]  # (R, 2G) each
            bias = layer.conv.bias if layer.label is None else layer.conv.bias + layer.label.table(labels)
            bias = (bias * half).expand(b, -1).contiguous()  # (B, 2G)
            if layer.clock is not None:  # the piece's vector joins the bias; __call__ swaps it when the piece changes
                self.clock.append((bias.clone(), layer.clock.weight * half, bias))
            out_w, out_b = layer.out.weight[:, :, 0].T, layer.out.bias  # (G, R + S), (R + S,)
            rows = torch.cat([0.5 * out_w, out_b[None]])  # (G + 1, R + S): 2·gate and the one
            skip_rows.append(rows[:, r:])
            z = torch.empty(b, 2 * g, **new)
            tz = torch.empty(b, 2 * g, **new)
            cols = self.gates[:, i * width : (i + 1) * width]  # (B, G + 1)
            following = self.rings[i + 1] if i + 1 < len(layers) else None
            self.plan.append(
                (
                    self.rings[i],
                    layer.dilation,
                    taps,
                    bias,
                    z,
                    tz,
                    tz[:, :g],
                    tz[:, g:],
                    cols[:, :g],
                    cols,
                    rows[:, :r].contiguous(),
                    following,
                )
            )
        self.skip = torch.cat(skip_rows).contiguous()  # (L (G + 1), S): every layer's skip matrix and bias
        w = model.input.weight  # (R, 256, k): the input conv as k lookup tables, row 256 for "before the start"
        self.tables = list(
            torch.cat([w.permute(2, 1, 0), w.new_zeros(k, 1, w.shape[0])], 1).contiguous()
        )  # k of (257, R)
        self.input_bias = model.input.bias.detach()
        start = torch.full((b,), CLASSES, dtype=torch.long, device=device)
        self.last = [start if p - k + j < 0 else prefix[:, p - k + j] for j in range(k)]  # x_{t-k} .. x_{t-1}
        head1, head2 = (m for m in model.head if isinstance(m, nn.Conv1d))
        self.head = [(m.bias.detach(), m.weight[:, :, 0].T.contiguous()) for m in (head1, head2)]
        s = cfg.skip_channels
        self.skips, self.hidden = torch.empty(b, s, **new), torch.empty(b, s, **new)
        self.clock_rate = (cfg.clock, model.sample_rate) if self.clock else None  # WaveNet.pieces, in Python ints
        self.piece = None

    def __call__(self, code: torch.Tensor | None) -> torch.Tensor:
        if code is not None:
            self.last = self.last[1:] + [code]
            self.t += 1
        t, k = self.t, self.k
        if self.clock_rate is not None:
            pieces, rate = self.clock_rate
            self._set_piece(min(t * pieces // rate, pieces - 1))
        h = self.rings[0][t % len(self.rings[0])]
        torch.add(self.tables[0][self.last[0]], self.input_bias, out=h)  # the input conv at t
        for j in range(1, k):
            h.add_(self.tables[j][self.last[j]])
        for slots, d, taps, bias, z, tz, tf, tg, two_gate, cols, res, following in self.plan:
            size = len(slots)
            h = slots[t % size]
            torch.addmm(bias, slots[(t - (k - 1) * d) % size], taps[0], out=z)
            for j in range(1, k):
                z.addmm_(slots[(t - (k - 1 - j) * d) % size], taps[j])
            torch.tanh(z, out=tz)
            torch.addcmul(tf, tf, tg, out=two_gate)  # tf (1 + tg) = 2 tanh(f) σ(a)
            if following is not None:  # h + gate @ res_w + res_b, into the next layer's ring
                torch.addmm(h, cols, res, out=following[t % len(following)])
        torch.mm(self.gates, self.skip, out=self.skips)  # Σ over layers of skip_l + bias_l
        (b1, w1), (b2, w2) = self.head
        torch.addmm(b1, self.skips.relu_(), w1, out=self.hidden)
        return torch.addmm(b2, self.hidden.relu_(), w2)  # (B, 256)

    def _set_piece(self, piece: int) -> None:
        """Every layer's bias plus its clock vector of `piece` (only when the piece changes)."""
        if piece != self.piece:
            self.piece = piece
            for base, vectors, bias in self.clock:
                torch.add(base, vectors[piece], out=bias)
