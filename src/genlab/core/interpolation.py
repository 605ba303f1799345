"""Paths through a latent space, shared by `genlab interpolate`, the compare report (and so the demo)
and the web page's Latent view: plain tensor arithmetic on codes, no model's."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def lerp_codes(z0: torch.Tensor, z1: torch.Tensor, steps: int, path: str = "linear") -> torch.Tensor:
    """Codes from each z0 row to the matching z1 row, ends included: (rows*steps, L).
    "linear" is the straight line; "spherical" is slerp (Shoemake 1985), which keeps the norm of
    Gaussian codes typical all the way."""
    t = torch.linspace(0, 1, steps, device=z0.device)[None, :, None]  # (1, S, 1)
    a, b = z0[:, None], z1[:, None]  # (R, 1, L)
    if path == "spherical":
        cos = F.cosine_similarity(z0, z1, dim=1).clamp(-1 + 1e-7, 1 - 1e-7)[:, None, None]  # (R, 1, 1)
        omega = torch.acos(cos)
        if bool((omega > 1e-4).all()):
            codes = (torch.sin((1 - t) * omega) * a + torch.sin(t * omega) * b) / torch.sin(omega)
            return codes.reshape(-1, z0.shape[1])  # (R, S, L) -> (R*S, L)
    return (a * (1 - t) + b * t).reshape(-1, z0.shape[1])  # (R, S, L) -> (R*S, L)
