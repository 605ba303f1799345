"""The PixelRNN family: causality, exact normalization, fast == naive sampling, completion."""

import itertools
import math

import pytest
import torch

from genlab.data import Palette
from genlab.core.errors import GenlabError
from genlab.models.pixelrnn.autoregressive import draw
from genlab.models.pixelrnn import ARCHS, PixelRNN, PixelRNNConfig
from threads import one_thread  # noqa: F401  (autouse fixture)

MODES = [("palette", 1), ("raw", 3), ("regression", 3)]  # (output, image channels)


def tiny(arch, output="palette", shape=(1, 4, 5), colors=2, width=6, layers=2, seed=0, dtype=torch.float64, head=8):
    torch.manual_seed(seed)
    c = shape[0]
    levels = torch.linspace(0, 255, colors).round().to(torch.uint8)
    palette = Palette(levels[:, None].repeat(1, c))
    config = PixelRNNConfig(arch=arch, layers=layers, width=width, head=head, colors=colors, output=output, ema=0.0)
    model = PixelRNN(config, shape, palette).to(dtype)
    with torch.no_grad():  # larger weights than the default init, so every dependence shows
        for p in model.parameters():
            p.mul_(2.0)
    return model.eval()


def live(model):
    """No biases: the ReLUs' signs then vary with the image, so no unit is dead for every image and
    a gradient of zero means no connection."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("bias"):
                p.zero_()
    return model


def _order(model, c, i, j):
    """Position in generation order of channel c (raw) of pixel (i, j)."""
    _, h, w = model.item_shape
    return (i * w + j) * model.positions + c


@pytest.mark.numerics
@pytest.mark.parametrize("output,channels", MODES)
@pytest.mark.parametrize("arch", ARCHS)
def test_output_depends_only_on_earlier_positions(arch, output, channels):
    model = live(tiny(arch, output, (channels, 4, 5), width=12, head=24))
    _, h, w = model.item_shape
    x = model.prepare(torch.randint(0, 256, (8, channels, h, w), dtype=torch.uint8))
    feats = model.features(x).requires_grad_()
    logits = model.net(feats).view(8, model.positions, model.classes, h, w)
    weights = torch.randn(model.classes, dtype=feats.dtype)  # a random mix of the logits: no cancellation
    for c, i, j in itertools.product(range(model.positions), range(h), range(w)):
        # summed over 8 images (each output sees only its own image), so a ReLU dead for one hides nothing
        (grad,) = torch.autograd.grad((logits[:, c, :, i, j] @ weights).sum(), feats, retain_graph=True)
        grad = grad.abs().sum(0)  # (F, H, W)
        for ci, ii, jj in itertools.product(range(model.positions), range(h), range(w)):
            seen = grad[ci, ii, jj] if model.raw else grad[:, ii, jj].sum()  # palette: F one-hot features per pixel
            if _order(model, ci, ii, jj) >= _order(model, c, i, j):
                assert seen == 0, f"output {(c, i, j)} sees input {(ci, ii, jj)}"
        # and the mask is not stricter than it should be: the neighbours just before are seen
        if j:
            assert grad[:, i, j - 1].sum() > 0
        if i:
            assert grad[:, i - 1, j].sum() > 0
        if model.raw and c:
            assert grad[c - 1, i, j] > 0, "a channel sees the earlier channels of its own pixel"


def _unseen_earlier(arch, i, j, shape=(1, 7, 9)):
    model = live(tiny(arch, shape=shape, width=8, head=16))
    x = model.prepare(torch.randint(0, 256, (8, *shape), dtype=torch.uint8))
    feats = model.features(x).requires_grad_()
    (grad,) = torch.autograd.grad(model.net(feats)[:, :, i, j].sum(), feats)
    seen = grad.abs().sum((0, 1)) > 0  # (H, W)
    return {(a, b) for a in range(shape[1]) for b in range(shape[2]) if (a, b) < (i, j) and not seen[a, b]}


def test_receptive_fields_blind_spots_and_the_diagonal_bilstms_one_missing_pixel():
    assert _unseen_earlier("gated-pixelcnn", 6, 4) == set()  # vertical + horizontal stacks: no blind spot
    assert (5, 8) in _unseen_earlier("pixelcnn", 6, 4)  # stacked masked 3x3 convolutions leave one up-right
    assert _unseen_earlier("row-lstm", 6, 4) == {(5, 8)}  # a triangle: one more column per row up
    # the right-to-left LSTM reads row i-1 through features that exclude their own pixel, so the last
    # pixel of the row above is out of reach once it is beyond the 7x7 first layer (as in the paper)
    assert _unseen_earlier("diagonal-bilstm", 6, 4) == {(5, 8)}
    assert _unseen_earlier("diagonal-bilstm", 6, 6) == set()


def _total_probability(model, images_idx):
    with torch.no_grad():
        return torch.logsumexp(model.log_prob(images_idx), 0).exp().item()


@pytest.mark.numerics
@pytest.mark.parametrize("arch", ARCHS)
def test_probabilities_of_all_images_sum_to_one(arch):
    binary = tiny(arch, shape=(1, 3, 3), colors=2)
    every = torch.tensor(list(itertools.product(range(2), repeat=9))).view(512, 1, 3, 3)
    assert _total_probability(binary, every) == pytest.approx(1.0, abs=1e-5)
    three = tiny(arch, shape=(3, 2, 2), colors=3, seed=1)  # a 3-colour RGB palette
    every = torch.tensor(list(itertools.product(range(3), repeat=4))).view(81, 1, 2, 2)
    assert _total_probability(three, every) == pytest.approx(1.0, abs=1e-5)


@pytest.mark.numerics
def test_raw_output_probabilities_sum_to_one():
    raw = tiny("pixelcnn", "raw", shape=(1, 1, 2), seed=2)  # two grey pixels, 256 levels each
    every = torch.cartesian_prod(torch.arange(256), torch.arange(256)).view(65536, 1, 1, 2)
    assert _total_probability(raw, every) == pytest.approx(1.0, abs=1e-5)


def test_loss_figures_and_uniform_model():
    model = tiny("pixelcnn", shape=(1, 4, 5), colors=3)
    x = torch.randint(0, 3, (7, 1, 4, 5), generator=torch.Generator().manual_seed(0))
    out = model.loss(x)
    nll = -model.log_prob(x)
    assert out["nll"].item() == pytest.approx(nll.mean().item())
    assert out["bits_per_dim"].item() == pytest.approx(nll.mean().item() / (20 * math.log(2)))
    assert out["loss"].item() == pytest.approx(nll.mean().item() / 20)
    with torch.no_grad():
        for p in model.parameters():
            p.zero_()
    torch.testing.assert_close(model.log_prob(x), torch.full((7,), -20 * math.log(3), dtype=torch.float64))


CASES = [
    (arch, output, channels, colors)
    for arch in ARCHS
    for output, channels, colors in (
        ("palette", 1, 2),
        ("palette", 3, 4),
        ("raw", 3, 2),
        ("regression", 3, 2),
        ("mean", 3, 2),
    )
]


@pytest.mark.numerics
@pytest.mark.parametrize("arch,output,channels,colors", CASES)
def test_fast_path_matches_the_whole_network(arch, output, channels, colors):
    model = tiny(arch, output, (channels, 5, 6), colors=colors)
    x = model.prepare(
        torch.randint(0, 256, (3, channels, 5, 6), dtype=torch.uint8, generator=torch.Generator().manual_seed(1))
    )
    torch.testing.assert_close(model.stepped_logits(x), model.logits(x), rtol=0, atol=1e-10)
    for options in ({}, {"temperature": 0.7, "seed_pixels": 4}):
        fast = model.sample(5, torch.Generator().manual_seed(3), **options)
        naive = model.sample(5, torch.Generator().manual_seed(3), fast=False, **options)
        assert torch.equal(fast, naive)
    assert not torch.equal(fast, model.sample(5, torch.Generator().manual_seed(4), **options))
    image = torch.randint(0, 256, (2, channels, 5, 6), dtype=torch.uint8)
    hidden = torch.rand(2, 1, 5, 6, generator=torch.Generator().manual_seed(5)) < 0.5
    fast = model.complete(image, hidden, 3, torch.Generator().manual_seed(6))
    naive = model.complete(image, hidden, 3, torch.Generator().manual_seed(6), fast=False)
    assert torch.equal(fast, naive)


def _constant_model(bias, shape=(1, 4, 5)):
    """A model whose every pixel has the same logits `bias`: all weights zero."""
    model = tiny("pixelcnn", shape=shape, colors=len(bias), dtype=torch.float32)
    with torch.no_grad():
        for p in model.parameters():
            p.zero_()
        model.net.head.out.bias.copy_(torch.tensor(bias))
    return model


def test_seed_pixels_are_uniform_and_the_rest_follows_the_model():
    model = _constant_model([30.0, 0.0])  # the model always says colour 0 (black)
    images = model.sample(400, torch.Generator().manual_seed(0), seed_pixels=3)
    flat = images.view(400, -1)
    white = (flat[:, :3] == 255).float().mean().item()
    assert 0.4 < white < 0.6  # the first 3 pixels: coin flips
    assert (flat[:, 3:] == 0).all()


def test_temperature_divides_the_logits():
    model = _constant_model([0.0, 1.0])  # p(white) = sigmoid(1) = 0.731
    warm = (model.sample(200, torch.Generator().manual_seed(0)) == 255).float().mean().item()
    cold = (model.sample(200, torch.Generator().manual_seed(0), temperature=0.1) == 255).float().mean().item()
    hot = (model.sample(200, torch.Generator().manual_seed(0), temperature=100.0) == 255).float().mean().item()
    assert warm == pytest.approx(1 / (1 + math.exp(-1)), abs=0.03)
    assert cold > 0.999 and hot == pytest.approx(0.5, abs=0.03)
    with pytest.raises(GenlabError):
        model.sample(2, temperature=0.0)
    with pytest.raises(GenlabError):
        model.sample(2, seed_pixels=21)


def test_inverse_cdf_draw():
    logits = torch.log(torch.tensor([[0.2, 0.5, 0.3]])).expand(4, 3)
    u = torch.tensor([0.0, 0.1999, 0.2001, 0.9999], dtype=torch.float64)
    assert draw(logits, u).tolist() == [0, 0, 1, 2]


@pytest.mark.numerics
@pytest.mark.parametrize("output,channels", MODES)
def test_completion_keeps_every_visible_pixel_exactly(output, channels):
    model = tiny("gated-pixelcnn", output, (channels, 5, 6), colors=3)
    images = torch.randint(0, 256, (2, channels, 5, 6), dtype=torch.uint8)  # mostly not palette colours
    hidden = torch.rand(2, 1, 5, 6, generator=torch.Generator().manual_seed(0)) < 0.4
    out = model.complete(images, hidden, 4, torch.Generator().manual_seed(1))
    assert out.shape == (8, channels, 5, 6) and out.dtype == torch.uint8
    keep = ~hidden.repeat_interleave(4, 0).expand_as(out)
    assert torch.equal(out[keep], images.repeat_interleave(4, 0)[keep])
    if output == "palette":  # the drawn pixels are palette colours
        drawn = out.permute(0, 2, 3, 1)[hidden.repeat_interleave(4, 0)[:, 0]]  # (M, C)
        assert {tuple(p) for p in drawn.tolist()} <= {tuple(p) for p in model.palette_colors.tolist()}
    assert len({tuple(o.flatten().tolist()) for o in out[:4]}) > 1  # different completions


@pytest.mark.parametrize("arch", ["pixelcnn", "row-lstm"])
def test_a_model_trained_on_one_image_completes_it_to_that_image(arch):
    torch.manual_seed(0)
    image = (torch.rand(1, 1, 8, 8, generator=torch.Generator().manual_seed(3)) < 0.4).to(torch.uint8) * 255
    model = PixelRNN(
        PixelRNNConfig(arch=arch, layers=1, width=8, head=16),
        (1, 8, 8),
        Palette(torch.tensor([[0], [255]], dtype=torch.uint8)),
    )
    batch = model.prepare(image).expand(4, -1, -1, -1)
    opt = torch.optim.Adam(model.parameters(), lr=5e-2)
    for _ in range(300):
        opt.zero_grad()
        loss = model.loss(batch)
        loss["loss"].backward()
        opt.step()
        if loss["nll"].item() < 1e-3:
            break
    assert loss["nll"].item() < 1e-2
    hidden = torch.zeros(8, 8, dtype=torch.bool)
    hidden[4:] = True
    out = model.complete(image, hidden, 6, torch.Generator().manual_seed(0))
    assert torch.equal(out, image.expand(6, -1, -1, -1))


def test_bad_sizes_are_user_errors():
    palette = Palette(torch.tensor([[0, 0, 0], [255, 255, 255]], dtype=torch.uint8))
    with pytest.raises(GenlabError, match="--width"):
        PixelRNN(PixelRNNConfig(width=2, output="raw"), (3, 8, 8), palette)  # fewer features than colour groups
    with pytest.raises(GenlabError, match="--arch"):
        PixelRNN(PixelRNNConfig(arch="nope"), (3, 8, 8), palette)
