"""What a classifier of the data says about samples: its mean top-class confidence (near 1 when
every sample looks like one clear class) and the classifier "inception score"
exp E_x KL(p(y|x) || p(y)) (Salimans et al. 2016, "Improved Techniques for Training GANs"), here
with genlab's own classifier of the data set instead of Inception: between 1 (every sample the same
class distribution) and the number of classes (each sample one clear class, the classes equally
often).
"""
from __future__ import annotations

import math

import torch

from genlab.metrics.features import FeatureSpace


def has_classifier(space: FeatureSpace) -> bool:
    """True when the feature space is a classifier of the data's labels (it has a head)."""
    return space.net is not None and not getattr(space.net, "autoencoder", True)


@torch.no_grad()
def class_probabilities(space: FeatureSpace, images: torch.Tensor, batch_size: int = 500) -> torch.Tensor:
    """p(y|x), (N, K), from a classifier feature space's head."""
    net = space.net
    if not has_classifier(space):
        raise ValueError(f"{space.name} has no classifier head (a data set with class labels has one)")
    device = next(net.parameters()).device
    return torch.cat([net.head(net(images[i:i + batch_size].to(device))).softmax(1).cpu()
                      for i in range(0, len(images), batch_size)]).double()


def classifier_scores(probabilities: torch.Tensor) -> dict[str, float]:
    """{"confidence": E max_y p(y|x), "inception_score": exp E KL(p(y|x) || p(y))} for (N, K) p(y|x)."""
    marginal = probabilities.mean(0, keepdim=True)  # p(y), (1, K)
    kl = (probabilities * (probabilities.clamp_min(1e-30).log() - marginal.clamp_min(1e-30).log())).sum(1)
    return {"confidence": float(probabilities.max(1).values.mean()), "inception_score": math.exp(float(kl.mean()))}
