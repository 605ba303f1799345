"""Latent paths: linear and spherical interpolation between codes."""

import torch

from genlab.core.interpolation import lerp_codes


def test_linear_path_hits_both_ends_and_the_midpoint():
    z0, z1 = torch.tensor([[0.0, 2.0]]), torch.tensor([[4.0, -2.0]])
    path = lerp_codes(z0, z1, 5)
    assert path.shape == (5, 2)
    torch.testing.assert_close(path[0], z0[0])
    torch.testing.assert_close(path[-1], z1[0])
    torch.testing.assert_close(path[2], torch.tensor([2.0, 0.0]))


def test_spherical_path_keeps_the_norm_of_equal_norm_codes():
    g = torch.Generator().manual_seed(0)
    z0, z1 = torch.randn(3, 16, generator=g), torch.randn(3, 16, generator=g)
    z1 = z1 / z1.norm(dim=1, keepdim=True) * z0.norm(dim=1, keepdim=True)
    path = lerp_codes(z0, z1, 7, "spherical").view(3, 7, 16)
    torch.testing.assert_close(path[:, 0], z0)
    torch.testing.assert_close(path[:, -1], z1)
    torch.testing.assert_close(path.norm(dim=2), z0.norm(dim=1, keepdim=True).expand(3, 7))
    assert (lerp_codes(z0, z1, 7).view(3, 7, 16)[:, 3].norm(dim=1) < z0.norm(dim=1)).all()  # the line cuts inside
