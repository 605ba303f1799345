"""The GAN losses, computed from D's logits (the table in model.py's docstring names their papers)."""

from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F

LOSSES = ("minimax", "non-saturating", "least-squares", "hinge", "wgan-gp")
PROBABILITY_LOSSES = ("minimax", "non-saturating")  # D's logit is log-odds of "real"
SMOOTHABLE = ("minimax", "non-saturating", "least-squares")  # losses with a real target to smooth


def discriminator_loss(loss: str, real: torch.Tensor, fake: torch.Tensor, real_target: float = 1.0) -> torch.Tensor:
    """D's loss (without the WGAN-GP penalty) from its logits on real and generated items."""
    if loss in PROBABILITY_LOSSES:
        return F.binary_cross_entropy_with_logits(
            real, torch.full_like(real, real_target)
        ) + F.binary_cross_entropy_with_logits(fake, torch.zeros_like(fake))
    if loss == "least-squares":
        return 0.5 * (real - real_target).pow(2).mean() + 0.5 * fake.pow(2).mean()
    if loss == "hinge":
        return F.relu(1.0 - real).mean() + F.relu(1.0 + fake).mean()
    if loss == "wgan-gp":
        return fake.mean() - real.mean()
    raise ValueError(f"unknown GAN loss {loss!r}")


def generator_loss(loss: str, fake: torch.Tensor) -> torch.Tensor:
    """G's loss from D's logits on generated items."""
    if loss == "minimax":  # minimise log(1 − D(G(z))) = −BCE(l_f, 0)
        return -F.binary_cross_entropy_with_logits(fake, torch.zeros_like(fake))
    if loss == "non-saturating":  # maximise log D(G(z))
        return F.binary_cross_entropy_with_logits(fake, torch.ones_like(fake))
    if loss == "least-squares":
        return 0.5 * (fake - 1.0).pow(2).mean()
    if loss in ("hinge", "wgan-gp"):
        return -fake.mean()
    raise ValueError(f"unknown GAN loss {loss!r}")


def gradient_penalty(
    critic: Callable[[torch.Tensor], torch.Tensor],
    real: torch.Tensor,
    fake: torch.Tensor,
    eps: torch.Tensor | None = None,
) -> torch.Tensor:
    """E[(‖∇_x̂ D(x̂)‖₂ − 1)²] at x̂ = εx + (1 − ε)x̃, one ε ~ U[0, 1] per item (Gulrajani et al. 2017)."""
    if eps is None:
        eps = torch.rand(len(real), *[1] * (real.dim() - 1), device=real.device, dtype=real.dtype)
    mixed = (eps * real + (1 - eps) * fake).requires_grad_(True)
    (grad,) = torch.autograd.grad(critic(mixed).sum(), mixed, create_graph=True)
    return (grad.flatten(1).norm(2, dim=1) - 1).pow(2).mean()  # (B, D) -> norms (B,)
