"""PixelRNN's regression output: a Gaussian per channel value, an exact continuous density."""

import math

import pytest
import torch

from genlab.models.pixelrnn.autoregressive import LEVELS, draw_gaussian
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


def _mean_model(arch="pixelcnn", shape=(3, 4, 4), seed=0):
    torch.manual_seed(seed)
    palette = Palette(torch.tensor([[0] * shape[0], [255] * shape[0]], dtype=torch.uint8))
    cfg = PixelRNNConfig(arch=arch, layers=1, width=6, head=8, output="mean")
    return PixelRNN(cfg, shape, palette).to(torch.float64).eval()


@pytest.mark.parametrize("arch", ["pixelcnn", "row-lstm"])
def test_the_mean_output_is_squared_error_and_its_samples_take_the_prediction(arch):
    """--output mean, the notes' plain 3-number regression: one number per channel value; its nats are
    the squared error over 2·MEAN_STD² plus the Gaussian's constant; sampling writes the predicted
    mean itself, so two images with the same seed pixel are the same image, and each written value is
    the network's output at that position given the image as drawn."""
    from genlab.models.pixelrnn.autoregressive import MEAN_STD

    model = _mean_model(arch)
    assert model.classes == 1 and model.net(model.features(torch.zeros(1, 3, 4, 4))).shape == (1, 3, 4, 4)
    x = torch.randint(0, 256, (2, 3, 4, 4), generator=torch.Generator().manual_seed(0)).long()
    v = x + torch.rand(x.shape, generator=torch.Generator().manual_seed(1)).double()
    mean = model.logits(v)[:, :, 0]  # (B, C, H, W)
    expected = (
        -(v / 256 - mean).pow(2) / (2 * MEAN_STD**2) - 0.5 * math.log(2 * math.pi * MEAN_STD**2) - math.log(256)
    ).sum((1, 2, 3))
    torch.testing.assert_close(model.log_prob(x, generator=torch.Generator().manual_seed(1)), expected)
    images = model.sample(4, torch.Generator().manual_seed(0), seed_pixels=1)
    again = model.sample(4, torch.Generator().manual_seed(5), seed_pixels=1, temperature=3.0)
    firsts = images[:, :, 0, 0]
    assert len({tuple(f.tolist()) for f in firsts}) == 4  # the random first pixels differ
    same_start = model.sample(2, torch.Generator().manual_seed(0), seed_pixels=1)
    assert torch.equal(same_start, images[:2])
    # deterministic given the first pixel: the rest follows from it whatever the generator and temperature
    for a in range(4):
        for b in range(4):
            if torch.equal(firsts[a], again[b, :, 0, 0]):
                assert torch.equal(images[a], again[b])
    # the loop feeds the unrounded values forward, these are the rounded ones: equal within one level
    predicted = model.logits(images.double() + 0.5)[:, :, 0]  # (B, C, H, W), in [0, 1] units
    written = (predicted * 256).clamp(0, 256 - 1e-6).floor()
    written.view(4, 3, 16)[:, :, 0] = images.view(4, 3, 16)[:, :, 0].double()  # the seed pixel is drawn, not predicted
    assert (images.double() - written).abs().max() <= 1 and (images.double() == written).float().mean() > 0.9
    assert torch.equal(
        model.sample(3, torch.Generator().manual_seed(1)), model.sample(3, torch.Generator().manual_seed(2))
    )


@pytest.mark.parametrize("arch", ["pixelcnn", "gated-pixelcnn", "row-lstm", "diagonal-bilstm"])
def test_the_mean_output_predicts_the_whole_colour_from_earlier_pixels_only(arch):
    """The notes' 3-number vector: R, G and B of pixel t all come from pixels before t (changing any
    channel of pixel t, or later, leaves them alone), and the fast sampler's outputs are the network's."""
    model = _mean_model(arch, shape=(3, 3, 3))
    x = torch.rand(1, 3, 3, 3, dtype=torch.float64) * 255
    base = model.logits(x)[0, :, 0]  # (C, H, W)
    for t in range(9):
        changed = x.clone()
        changed.view(1, 3, 9)[:, :, t:] = torch.rand(1, 3, 9 - t, dtype=torch.float64) * 255  # pixel t and later
        after = model.logits(changed)[0, :, 0].reshape(3, 9)
        torch.testing.assert_close(after[:, : t + 1], base.reshape(3, 9)[:, : t + 1])
    moved = x.clone()
    moved[0, :, 0, 0] += 40  # the first pixel reaches the next one's R, G and B
    assert (model.logits(moved)[0, :, 0, 0, 1] - base[:, 0, 1]).abs().min() > 0
    torch.testing.assert_close(model.stepped_logits(x), model.logits(x))
