"""PixelRNN's regression output: a Gaussian per channel value, an exact continuous density."""
import math

import pytest
import torch

from genlab.models.autoregressive import LEVELS, draw_gaussian
from genlab.models.pixelrnn import PixelRNN, PixelRNNConfig
from genlab.data import Palette
from threads import one_thread  # noqa: F401  (autouse fixture)


def _model(arch="pixelcnn", shape=(3, 1, 1), seed=0):
    torch.manual_seed(seed)
    c = shape[0]
    palette = Palette(torch.tensor([[0] * c, [255] * c], dtype=torch.uint8))
    cfg = PixelRNNConfig(arch=arch, layers=1, width=6, head=8, output="regression")
    return PixelRNN(cfg, shape, palette).to(torch.float64).eval()


@pytest.mark.parametrize("arch", ["pixelcnn", "row-lstm"])
@torch.no_grad()
def test_the_density_of_one_colour_pixel_integrates_to_one(arch):
    """R, G, B of a 1x1 image: ∫∫∫ p(r) p(g | r) p(b | r, g) = 1, a Riemann sum on a grid in y = v/256.
    The output layer is scaled down so every conditional has |mean| < 0.5 and a std in 0.75..1.3
    (checked), which the grid covers."""
    model = _model(arch)
    for p in model.net.head.parameters():
        p.mul_(0.2)
    step = 0.25
    ticks = torch.arange(-7.0, 7.0 + step / 2, step, dtype=torch.float64)  # y units
    r, g, b = torch.meshgrid(ticks, ticks, ticks, indexing="ij")
    v = torch.stack([r, g, b], -1).reshape(-1, 3, 1, 1) * LEVELS  # (N, 3, 1, 1), every grid point
    out = model.logits(v)  # (N, 3, 2, 1, 1)
    assert out[:, :, 0].abs().max() < 0.5 and out[:, :, 1].abs().max() < 2 * math.log(1.3)
    total = float(model.log_density(v).exp().sum()) * (step * LEVELS) ** 3
    # a Riemann sum of a Gaussian at a step of a third of its std is exact to ~exp(-2π²·9) ≈ 1e-77;
    # the tails beyond ±7 (over 5 stds from any mean) hold under 1e-6 per axis
    assert total == pytest.approx(1.0, abs=1e-5)


def test_log_prob_is_the_density_of_the_dequantized_pixels():
    model = _model(shape=(3, 2, 2))
    x = torch.randint(0, 256, (4, 3, 2, 2), generator=torch.Generator().manual_seed(0)).long()
    u = torch.rand(x.shape, generator=torch.Generator().manual_seed(1)).double()  # the model draws float32
    got = model.log_prob(x, generator=torch.Generator().manual_seed(1))
    out = model.logits(x + u)  # (B, C, 2, H, W)
    mean, std = out[:, :, 0], (0.5 * out[:, :, 1]).exp()
    expected = torch.distributions.Normal(mean, std).log_prob((x + u) / 256).sum((1, 2, 3)) - 12 * math.log(256)
    torch.testing.assert_close(got, expected)
    loss = model.loss(x)
    assert loss["bits_per_dim"].item() == pytest.approx(loss["nll"].item() / (12 * math.log(2)))


def test_gaussian_draw_is_the_inverse_cdf_clipped_to_the_pixel_range():
    outputs = torch.tensor([[0.5, 2 * math.log(0.1)], [0.5, 2 * math.log(0.1)], [2.0, 0.0]], dtype=torch.float64)
    u = torch.tensor([0.5, 0.8413447460685429, 0.5], dtype=torch.float64)  # Φ(1) = 0.8413...
    values = draw_gaussian(outputs, u)
    torch.testing.assert_close(values[:2], torch.tensor([128.0, 153.6], dtype=torch.float64))  # 256·(0.5 + 0.1)
    assert values[2] < 256  # clipped into the pixel range
    images = _model(shape=(3, 3, 3)).sample(6, torch.Generator().manual_seed(0))
    assert images.dtype == torch.uint8 and len({tuple(i.flatten().tolist()) for i in images}) == 6
