"""The VAE's sampling mixture (models/vae/mixture.py): fitted to the training codes when training
ends, stored with the weights, drawn from by default; N(0, I) on request and for older runs."""

import pytest
import torch
from safetensors.torch import load_file

from genlab import load
from genlab.cli import main as cli_main
from genlab.data import Palette, load_dataset
from genlab.models.vae import VAE, VAEConfig
from genlab.models.vae.mixture import draw_codes, fit_mixture, mixture_moments


def _vae(**options):
    torch.manual_seed(0)
    config = VAEConfig(hidden=16, latent=3, colors=2, **options)
    return VAE(config, (1, 8, 8), Palette(torch.tensor([[0], [255]], dtype=torch.uint8)))


def _digits(model):
    return model.prepare(load_dataset("digits").train)


def test_the_mixture_has_the_training_codes_mean_and_covariance():
    """At an EM fixed point Σ w_k μ_k and Σ w_k (Σ_k + μ_k μ_kᵀ) − μμᵀ are the data's own mean and
    covariance (plus scikit-learn's 1e-6 ridge), whatever the responsibilities: a mixture fitted to
    other codes (sampled ones, another split) or stored with the Cholesky factor transposed fails."""
    model = _vae(mixture=5)
    data = _digits(model)
    assert model.fit_sampler(data) and model.mixture_fitted
    codes = model.training_codes(data)  # the posterior means, float64 (N, 3)
    mean, cov = mixture_moments(model.code_weights, model.code_means, model.code_scales)
    assert model.code_weights.sum().item() == pytest.approx(1.0, abs=1e-12)
    torch.testing.assert_close(mean, codes.mean(0), rtol=0, atol=1e-9 * codes.abs().max().item())
    expected = torch.cov(codes.T, correction=0) + 1e-6 * torch.eye(3, dtype=torch.float64)
    torch.testing.assert_close(cov, expected, rtol=0, atol=1e-9 * expected.abs().max().item())
    assert torch.equal(model.code_scales, model.code_scales.tril())  # lower-triangular factors


def test_draws_follow_the_weights_and_each_components_covariance():
    weights = torch.tensor([0.25, 0.75], dtype=torch.float64)
    means = torch.tensor([[-20.0, 0.0], [20.0, 5.0]], dtype=torch.float64)
    scales = torch.tensor([[[1.0, 0.0], [0.9, 0.5]], [[2.0, 0.0], [-1.0, 1.0]]], dtype=torch.float64)
    z = draw_codes(weights, means, scales, 40_000, torch.Generator().manual_seed(0))
    first = z[:, 0] < 0
    assert first.double().mean().item() == pytest.approx(0.25, abs=4 * (0.25 * 0.75 / 40_000) ** 0.5)
    for k, part in enumerate((z[first], z[~first])):
        torch.testing.assert_close(part.mean(0), means[k], rtol=0, atol=0.06)
        cov = scales[k] @ scales[k].T  # L Lᵀ; Lᵀ L would be [[1.81, .45], [.45, .25]] for the first
        torch.testing.assert_close(torch.cov(part.T), cov, rtol=0.05, atol=0.03)


def test_fewer_training_codes_than_components_fit_that_many():
    weights, means, scales = fit_mixture(torch.randn(3, 2, dtype=torch.float64), components=20)
    assert weights.shape == (3,) and means.shape == (3, 2) and scales.shape == (3, 2, 2)


def test_unfitted_or_normal_sampling_is_the_textbook_prior():
    model = _vae()
    g = lambda: torch.Generator().manual_seed(3)  # noqa: E731
    assert not model.mixture_fitted
    assert torch.equal(model.sample(6, g()), model.sample(6, g(), sample_prior="normal"))
    model.fit_sampler(_digits(model))
    assert not torch.equal(model.sample(6, g()), model.sample(6, g(), sample_prior="normal"))
    assert torch.equal(model.sample(6, g(), sample_prior="normal"), _vae().sample(6, g()))
    normal = _vae(sample_prior="normal")
    assert not normal.fit_sampler(_digits(normal)) and not normal.mixture_fitted


def test_training_stores_the_mixture_and_sample_draws_from_it(tmp_path, capsys):
    run = tmp_path / "run"
    assert (
        cli_main(
            [
                "train",
                "vae",
                "--data",
                "digits",
                "--hidden",
                "16",
                "--latent",
                "3",
                "--steps",
                "20",
                "--device",
                "cpu",
                "--out",
                str(run),
            ]
        )
        == 0
    )
    assert "samples: codes from a mixture of 20 Gaussians" in capsys.readouterr().out
    state = load_file(str(run / "model.safetensors"))
    assert state["code_weights"].sum().item() == pytest.approx(1.0, abs=1e-12)
    loaded = load(run).model
    refit = load(run).model
    refit.fit_sampler(refit.prepare(load_dataset("digits").train))  # deterministic: the same mixture again
    assert torch.equal(refit.code_means, loaded.code_means) and torch.equal(refit.code_scales, loaded.code_scales)
    for extra in ([], ["--sample-prior", "normal"]):
        assert cli_main(["sample", str(run), "--n", "8", *extra, "--out", str(tmp_path / f"s{len(extra)}.npz")]) == 0
    import numpy as np

    mixture, normal = (np.load(tmp_path / f"s{i}.npz")["images"] for i in (0, 2))
    g = lambda: torch.Generator().manual_seed(0)  # noqa: E731  (genlab sample's default seed)
    assert np.array_equal(mixture, loaded.sample(8, g()).numpy())
    assert np.array_equal(normal, loaded.sample(8, g(), sample_prior="normal").numpy())
    assert cli_main(["sample", str(run), "--sample-prior", "gauss", "--out", str(tmp_path / "x.png")]) == 2
    assert "invalid choice: 'gauss'" in capsys.readouterr().err


def test_runs_saved_before_the_mixture_load_and_sample_from_n01():
    model = _vae()
    model.fit_sampler(_digits(model))
    old = {k: v for k, v in model.state_dict().items() if not k.startswith("code_")}
    again = _vae()
    again.load_state_dict(old)
    g = lambda: torch.Generator().manual_seed(1)  # noqa: E731
    assert not again.mixture_fitted
    assert torch.equal(again.sample(4, g()), model.sample(4, g(), sample_prior="normal"))
