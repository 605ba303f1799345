"""The Gaussian mixture: EM recovers a known mixture, the density is normalised (points) and on the
256-level scale (images), and the CLI end to end. Save/load and exact resume: test_family_contract.py."""

import json
import math

import numpy as np
import pytest
import torch
from PIL import Image

import genlab
from genlab.cli import main
from genlab.models.gmm import GMM
from clihelp import cli_error

# a known mixture in 2-D: weights, means, covariances
TRUE_W = torch.tensor([0.5, 0.3, 0.2], dtype=torch.float64)
TRUE_MU = torch.tensor([[0.0, 0.0], [3.0, 1.0], [-2.0, 3.0]], dtype=torch.float64)
TRUE_COV = torch.tensor(
    [[[1.0, 0.6], [0.6, 0.8]], [[0.3, -0.1], [-0.1, 0.2]], [[0.5, 0.0], [0.0, 1.5]]], dtype=torch.float64
)


def true_mixture():
    mix = torch.distributions.Categorical(TRUE_W)
    comp = torch.distributions.MultivariateNormal(TRUE_MU, TRUE_COV)
    return torch.distributions.MixtureSameFamily(mix, comp)


def _model(item_shape=(2,), **cfg):
    return GMM(GMM.make_config(**cfg), item_shape)


def _fit(model, data, epochs):
    for _ in range(epochs):
        model.train_step(data, {})
    return model


def test_em_recovers_a_known_mixture():
    torch.manual_seed(0)
    truth = true_mixture()
    train_x, test_x = truth.sample((6000,)), truth.sample((20000,))
    model = _fit(_model(components=3, em_steps=20), train_x.float(), 3)
    fitted = model.log_prob(test_x).mean().item()
    exact = truth.log_prob(test_x).mean().item()
    assert fitted == pytest.approx(exact, abs=0.03)  # nats per point
    order = model.weights.argsort(descending=True)
    assert torch.allclose(model.weights[order], TRUE_W, atol=0.03)
    assert torch.allclose(model.means[order], TRUE_MU, atol=0.1)
    # samples have the mixture's mean and covariance
    draws = model.sample(40000, torch.Generator().manual_seed(1)).double()
    assert draws.dtype == torch.float64 and draws.shape == (40000, 2)
    mean = (TRUE_W[:, None] * TRUE_MU).sum(0)
    second = (TRUE_W[:, None, None] * (TRUE_COV + TRUE_MU[:, :, None] * TRUE_MU[:, None, :])).sum(0)
    assert torch.allclose(draws.mean(0), mean, atol=0.05)
    assert torch.allclose(draws.T.cov(), second - torch.outer(mean, mean), atol=0.1)
    assert torch.equal(
        model.sample(5, torch.Generator().manual_seed(2)), model.sample(5, torch.Generator().manual_seed(2))
    )


@pytest.mark.parametrize("covariance", ["full", "diag"])
def test_density_is_the_mixture_and_integrates_to_one(covariance):
    model = _model(components=3, covariance=covariance)
    model.weights.copy_(TRUE_W)
    model.means.copy_(TRUE_MU)
    cov = TRUE_COV if covariance == "full" else TRUE_COV.diagonal(dim1=1, dim2=2)
    model.covariances.copy_(cov)
    full = TRUE_COV if covariance == "full" else torch.diag_embed(cov)
    reference = torch.distributions.MixtureSameFamily(
        torch.distributions.Categorical(TRUE_W), torch.distributions.MultivariateNormal(TRUE_MU, full)
    )
    x = torch.randn(500, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(0)) * 2
    assert torch.allclose(model.log_prob(x), reference.log_prob(x), atol=1e-9)
    ticks = torch.linspace(-9, 9, 601, dtype=torch.float64)
    gx, gy = torch.meshgrid(ticks, ticks, indexing="ij")
    grid = torch.stack([gx.flatten(), gy.flatten()], 1)
    mass = model.log_prob(grid).exp().sum() * (ticks[1] - ticks[0]) ** 2
    assert mass.item() == pytest.approx(1.0, abs=1e-3)


def test_image_likelihood_is_the_dequantized_density_on_the_256_level_scale():
    """One-pixel images: Σ_k E_u[P(k)] over the 256 levels is the mixture's mass on [0, 1]."""
    model = _model((1, 1, 1), components=2)
    model.weights.copy_(torch.tensor([0.7, 0.3]))
    model.means.copy_(torch.tensor([[0.3], [0.8]]))
    model.covariances.copy_(torch.tensor([[0.01], [0.04]]))
    torch.manual_seed(0)
    levels = torch.arange(256, dtype=torch.uint8).repeat_interleave(400).view(-1, 1, 1, 1)  # 400 u per level
    probs = model.log_prob(levels).exp().view(256, 400).mean(1)
    normal = torch.distributions.Normal(model.means[:, 0], model.covariances[:, 0].sqrt())
    edges = normal.cdf(torch.arange(257, dtype=torch.float64)[:, None] / 256)  # (257, M)
    exact = ((edges[1:] - edges[:-1]) * model.weights).sum(1)  # the mixture's mass in each level's bin
    assert torch.allclose(probs, exact, atol=0.01 * exact.max().item())
    assert probs.sum().item() == pytest.approx(exact.sum().item(), rel=0.002)  # ≈ 0.98: the mass on [0, 1]
    pixels = model.sample(20000, torch.Generator().manual_seed(0))
    assert pixels.dtype == torch.uint8 and pixels.shape == (20000, 1, 1, 1)
    x = (pixels.double() + 0.5) / 256  # pixel centres, the inverse of the dequantization
    assert x.mean().item() == pytest.approx(0.7 * 0.3 + 0.3 * 0.8, abs=0.01)


def test_cli_points(tmp_path, capsys):
    run = tmp_path / "gmm8"
    assert (
        main(["train", "gmm", "--data", "toy:gmm8", "--epochs", "2", "--em-steps", "3", "--quiet", "--out", str(run)])
        == 0
    )
    assert "8 full-covariance Gaussians" not in capsys.readouterr().out  # --quiet: no summary line
    for name in ("mixture.png", "mixture/epoch_0001.png", "mixture/epoch_0002.png", "samples/epoch_0002.png"):
        assert Image.open(run / name).size[0] > 200, name
    assert main(["sample", str(run), "--n", "500", "--out", str(tmp_path / "s.npz")]) == 0
    points = np.load(tmp_path / "s.npz")["points"]
    assert points.shape == (500, 2)
    assert np.abs(np.linalg.norm(points, axis=1) - 2).max() < 0.2  # every draw near the circle of modes
    assert main(["evaluate", str(run), "--quiet", "--out", str(tmp_path / "m.json")]) == 0
    report = json.loads((tmp_path / "m.json").read_text())
    # the true mixture: 8 equal modes of std 0.02, -log(1/8) + log(2π e 0.02²) nats per point
    assert report["nll_nats"] == pytest.approx(math.log(8) + math.log(2 * math.pi * math.e * 0.02**2), abs=0.05)


def test_cli_digits_and_errors(tmp_path, capsys):
    run = tmp_path / "digits"
    assert (
        main(["train", "gmm", "--data", "digits", "--components", "4", "--epochs", "1", "--quiet", "--out", str(run)])
        == 0
    )
    assert Image.open(run / "components.png").size[0] > 100
    assert main(["sample", str(run), "--n", "5", "--out", str(tmp_path / "s.npz")]) == 0
    images = np.load(tmp_path / "s.npz")["images"]
    assert images.shape == (5, 1, 8, 8) and images.dtype == np.uint8
    assert main(["evaluate", str(run), "--quiet", "--out", str(tmp_path / "m.json")]) == 0
    report = json.loads((tmp_path / "m.json").read_text())
    assert report["dims_per_image"] == 64 and 3 < report["nll_bits_per_dim"] < 8
    assert "KID over 300 and 1000 items" in capsys.readouterr().err  # digits' 300 test items: smaller KID subsets
    assert "--components" in cli_error(
        capsys, ["train", "gmm", "--data", "toy:gmm8", "--components", "0", "--out", str(tmp_path / "bad")]
    )
    assert "points or image" in cli_error(capsys, ["train", "gmm", "--data", "tones", "--out", str(tmp_path / "bad2")])
    assert "--covariance" in cli_error(
        capsys, ["train", "gmm", "--covariance", "spherical", "--out", str(tmp_path / "b3")]
    )


def test_training_stops_once_em_has_converged(tmp_path, capsys):
    """--tol: an epoch that lowers the training NLL by less than tol nats per dimension ends training;
    --tol 0 trains for every epoch asked for."""
    run = tmp_path / "tol"
    assert (
        main(["train", "gmm", "--data", "toy:gmm8", "--epochs", "40", "--em-steps", "2", "--quiet", "--out", str(run)])
        == 0
    )
    assert "stopped early: training has converged" in capsys.readouterr().out
    rows = [r for r in genlab.viz.read_metrics(run / "metrics.csv") if r["split"] == "train"]
    epochs = len(rows)
    assert 2 <= epochs < 40
    nll = [float(r["loss"]) for r in rows]
    assert nll[-2] - nll[-1] < 1e-4 * 2  # the last epoch gained less than tol per dimension (2 of them)
    assert all(a - b >= 1e-4 * 2 for a, b in zip(nll[:-2], nll[1:-1]))  # and every earlier one more
    full = tmp_path / "full"
    assert (
        main(
            [
                "train",
                "gmm",
                "--data",
                "toy:gmm8",
                "--epochs",
                "12",
                "--em-steps",
                "2",
                "--tol",
                "0",
                "--quiet",
                "--out",
                str(full),
            ]
        )
        == 0
    )
    assert len([r for r in genlab.viz.read_metrics(full / "metrics.csv") if r["split"] == "train"]) == 12
