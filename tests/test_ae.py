"""The plain autoencoder: no noise, no KL term, the VAE's networks; sampling from its fitted Gaussian."""

import numpy as np
import pytest
import torch

import genlab
from genlab.cli import main
from genlab.data import Palette, load_dataset
from genlab.models.ae import AEConfig, Autoencoder
from genlab.models.vae import VAE, VAEConfig


def _pair(arch="mlp", colors=2, shape=(1, 8, 8)):
    palette = Palette(torch.tensor([[0] * shape[0], [255] * shape[0]], dtype=torch.uint8))
    torch.manual_seed(0)
    ae = Autoencoder(AEConfig(arch=arch, hidden=8, latent=3, conv_channels=4, colors=colors), shape, palette)
    torch.manual_seed(0)
    vae = VAE(VAEConfig(arch=arch, hidden=8, latent=3, conv_channels=4, colors=colors), shape, palette)
    return ae, vae


@pytest.mark.parametrize("arch", ["mlp", "conv"])
def test_the_loss_is_the_reconstruction_of_the_code_itself(arch):
    ae, vae = _pair(arch)
    idx = torch.randint(0, 2, (5, 1, 8, 8), generator=torch.Generator().manual_seed(1))
    torch.manual_seed(3)
    first = ae.loss(idx)
    torch.manual_seed(4)  # different global noise must not matter: there is none
    second = ae.loss(idx)
    assert set(first) == {"loss", "recon"}  # no KL term, no bound
    assert torch.equal(first["loss"], second["loss"])
    code = ae.encoder_out(idx)
    assert code.shape == (5, 3)  # one number per latent dimension, not (m, σ)
    p = ae.logits(code).sigmoid()
    expected = -(idx * p.log() + (1 - idx) * (1 - p).log()).sum((1, 2, 3)).mean()
    assert first["loss"].item() == pytest.approx(expected.item(), rel=1e-4)
    # the same decoder as the VAE: its weights load into the VAE's decoder unchanged
    vae.decoder.load_state_dict(ae.decoder.state_dict())
    z = torch.randn(2, 3)
    assert torch.equal(vae.logits(z), ae.logits(z))


def test_samples_come_from_the_gaussian_fitted_to_the_training_codes():
    ae, _ = _pair()
    idx = torch.randint(0, 2, (400, 1, 8, 8), generator=torch.Generator().manual_seed(2))
    ae.fit_codes(idx)
    codes = ae.encoder_out(idx).double()
    torch.testing.assert_close(ae.code_mean.double(), codes.mean(0), rtol=1e-5, atol=1e-6)
    cov = ae.code_scale.double() @ ae.code_scale.double().T
    torch.testing.assert_close(cov, torch.cov(codes.T, correction=0), rtol=1e-4, atol=2e-6)  # ridge 1e-6
    draws = ae.prior(200_000, torch.Generator().manual_seed(0)).double()
    # 200k draws: the sample mean is within a few std/sqrt(n) of the fitted mean
    std = cov.diagonal().sqrt()
    assert ((draws.mean(0) - ae.code_mean.double()).abs() < 5 * std / 200_000**0.5).all()
    a = ae.sample(4, torch.Generator().manual_seed(5))
    assert torch.equal(a, ae.sample(4, torch.Generator().manual_seed(5))) and a.shape == (4, 1, 8, 8)


def test_train_ae_end_to_end_saves_the_fitted_gaussian(tmp_path):
    run = tmp_path / "ae"
    assert (
        main(
            [
                "train",
                "ae",
                "--data",
                "digits",
                "--hidden",
                "8",
                "--latent",
                "2",
                "--colors",
                "2",
                "--steps",
                "12",
                "--batch-size",
                "64",
                "--quiet",
                "--out",
                str(run),
            ]
        )
        == 0
    )
    model = genlab.load(run).model
    assert isinstance(model, Autoencoder)
    fitted_mean = model.code_mean.clone()
    assert not torch.equal(fitted_mean, torch.zeros(2))
    data = load_dataset("digits")
    model.fit_codes(model.prepare(data.train))  # the saved Gaussian is the fit to the training codes
    torch.testing.assert_close(model.code_mean, fitted_mean)
    assert (run / "latent_map.png").exists() and (run / "reconstructions.png").exists()
    assert main(["sample", str(run), "--n", "6", "--seed", "1", "--out", str(tmp_path / "s.npz")]) == 0
    assert np.load(tmp_path / "s.npz")["images"].shape[0] == 6
