"""The work of one training step, for the thread policy (`genlab.core.threads`)."""

from __future__ import annotations

import torch
from torch.utils.flop_counter import FlopCounterMode

from genlab.models import GenerativeModel

PROBE_ITEMS = 8  # items the forward pass is counted on; FLOPs grow linearly with the batch
BACKWARD_FACTOR = 3  # forward + backward: the backward pass costs about twice the forward


class _TotalOnly:
    """The module tracker FlopCounterMode attributes FLOPs with, reduced to the one total read here:
    torch's tracker hooks every module's backward, which an autograd.grad inside the counted pass
    (the WGAN-GP gradient penalty) refuses."""

    parents = {"Global"}

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        return None


def step_flops(model: GenerativeModel, batch: torch.Tensor, **labels: torch.Tensor) -> float:
    """FLOPs (a multiply-add is 2; matrix products and convolutions, as torch's counter counts) of
    one training step on `batch`, estimated from the forward figures on its first PROBE_ITEMS items.
    Neither the weights nor the global random generator change."""
    items = min(len(batch), PROBE_ITEMS)
    if items == 0:
        return 0.0
    was_training = model.training
    counter = FlopCounterMode(display=False)
    counter.mod_tracker = _TotalOnly()
    devices = [model.device] if model.device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices), torch.no_grad(), counter:
        model.eval()
        model.evaluate_batch(batch[:items], **{k: v[:items] for k, v in labels.items()})
    model.train(was_training)
    return BACKWARD_FACTOR * counter.get_total_flops() * len(batch) / items
