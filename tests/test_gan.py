"""The GAN: who gets gradients when, the five losses by hand, the gradient penalty, learning, mode
coverage, the EMA copy in a saved run, the guards, and the command line on tiny configs. Save/load and
exact resume: test_family_contract.py."""

import json
import math

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import load_file

import genlab
from genlab import train
from genlab.cli import main
from genlab.core.config import DataConfig, TrainConfig
from genlab.data import toy_modes
from genlab.core.errors import GenlabError
from genlab.models.gan.modes import diversity_ratio, mode_coverage
from genlab.models.gan import GAN, GANConfig, dcgan_sizes, discriminator_loss, generator_loss, gradient_penalty
from clihelp import cli_error

TINY_IMG = {"conv_channels": 4, "latent": 8}
TINY_PTS = {"width": 16, "layers": 2, "latent": 4}


@pytest.fixture(autouse=True)
def one_thread():
    """These nets are tiny: one thread is faster, and far faster on a busy machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _cfg(**kw):
    base = dict(epochs=2, batch_size=128, lr=2e-3, seed=0, device="cpu", log_every=5)
    return TrainConfig(**{**base, **kw})


def _snapshot(module):
    return {k: v.detach().clone() for k, v in module.named_parameters()}


def _changed(module, before):
    return [k for k, v in module.named_parameters() if not torch.equal(v, before[k])]


def _batch(model, n=16):
    if model.data_kind == "points":
        return torch.randn(n, 2) + torch.tensor([2.0, -1.0])
    return torch.rand(n, *model.item_shape) * 2 - 1


# --- who is fixed when -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "shape, options",
    [
        ((1, 8, 8), {}),  # DCGAN with batch norm
        ((1, 8, 8), {"spectral_norm": True, "ema": 0.9}),  # spectral-norm parametrizations, EMA copy
        ((2,), {"loss": "wgan-gp", "d_steps": 2}),  # MLP, a penalty with create_graph, several D steps
    ],
)
def test_d_step_fixes_g_and_g_step_fixes_d(shape, options):
    torch.manual_seed(0)
    model = GAN(GANConfig(**{**TINY_IMG, **TINY_PTS, **options}), shape)
    opts = model.configure_optimizers(1e-2)
    model.train()
    real = _batch(model)
    g_before, d_before = _snapshot(model.generator), _snapshot(model.discriminator)
    for k in range(model.d_steps):
        _, fake = model.d_step(real, opts["discriminator"], keep_graph=k == model.d_steps - 1)
    assert _changed(model.generator, g_before) == []
    assert all(p.grad is None for p in model.generator.parameters())  # G received no gradient
    weights = {k for k in d_before if not k.endswith("bias")}  # (a WGAN critic's last bias gets no gradient)
    assert weights <= set(_changed(model.discriminator, d_before))  # D took a step
    assert fake.requires_grad  # the last D step kept G's graph for the G step

    opts["discriminator"].zero_grad(set_to_none=True)
    d_after = _snapshot(model.discriminator)
    model.g_step(fake, opts["generator"])
    assert _changed(model.discriminator, d_after) == []
    assert all(p.grad is None for p in model.discriminator.parameters())  # D accumulated no gradient
    assert all(p.requires_grad for p in model.discriminator.parameters())  # and is trainable again
    assert len(_changed(model.generator, g_before)) == len(g_before)


def test_with_d_not_fixed_g_step_moves_d_toward_calling_fakes_real():
    """The lecture's counter-example (`fix_d = False`): the same train_step, but G's loss also steps D."""
    torch.manual_seed(0)
    model = GAN(GANConfig(**TINY_PTS), (2,))
    model.fix_d = False
    opts = model.configure_optimizers(1e-2)
    model.train()
    real = _batch(model)
    _, fake = model.d_step(real, opts["discriminator"], keep_graph=True)
    d_after = _snapshot(model.discriminator)
    with torch.no_grad():
        before = generator_loss("non-saturating", model.discriminator(fake))
    model.g_step(fake, opts["generator"], opts["discriminator"])
    assert set(_changed(model.discriminator, d_after)) == set(d_after)  # every D parameter moved
    with torch.no_grad():  # on the same points, D now calls them more "real": G's loss fell through D alone
        assert generator_loss("non-saturating", model.discriminator(fake)) < before


def test_train_step_returns_the_game_figures():
    torch.manual_seed(0)
    model = GAN(GANConfig(**TINY_PTS), (2,))
    out = model.train_step(_batch(model, 32), model.configure_optimizers(1e-3))
    assert set(out) == {"loss", "d_loss", "g_loss", "d_real", "d_fake"}
    assert 0 < float(out["d_real"]) < 1 and 0 < float(out["d_fake"]) < 1  # probabilities for this loss
    assert float(out["loss"]) == pytest.approx(float(out["d_loss"] + out["g_loss"]))


# --- the losses, by hand -----------------------------------------------------------------------------
REAL, FAKE = [2.0, -1.0, 0.5], [0.5, -3.0, 1.5]


def _mean(values):
    return sum(values) / len(values)


def _log_sigmoid(x):
    return -math.log1p(math.exp(-x))


def _log_one_minus_sigmoid(x):
    return -math.log1p(math.exp(x))


EXPECTED = {
    "minimax": (
        _mean([-_log_sigmoid(r) for r in REAL]) + _mean([-_log_one_minus_sigmoid(f) for f in FAKE]),
        _mean([_log_one_minus_sigmoid(f) for f in FAKE]),
    ),
    "non-saturating": (
        _mean([-_log_sigmoid(r) for r in REAL]) + _mean([-_log_one_minus_sigmoid(f) for f in FAKE]),
        _mean([-_log_sigmoid(f) for f in FAKE]),
    ),
    "least-squares": (
        0.5 * _mean([(r - 1) ** 2 for r in REAL]) + 0.5 * _mean([f**2 for f in FAKE]),
        0.5 * _mean([(f - 1) ** 2 for f in FAKE]),
    ),
    "hinge": (_mean([max(0.0, 1 - r) for r in REAL]) + _mean([max(0.0, 1 + f) for f in FAKE]), -_mean(FAKE)),
    "wgan-gp": (_mean(FAKE) - _mean(REAL), -_mean(FAKE)),
}


@pytest.mark.parametrize("loss", list(EXPECTED))
def test_losses_match_hand_computed_values(loss):
    real, fake = torch.tensor(REAL, dtype=torch.float64), torch.tensor(FAKE, dtype=torch.float64)
    d_expected, g_expected = EXPECTED[loss]
    assert float(discriminator_loss(loss, real, fake)) == pytest.approx(d_expected, rel=1e-12)
    assert float(generator_loss(loss, fake)) == pytest.approx(g_expected, rel=1e-12)


def test_one_sided_label_smoothing_moves_only_the_real_target():
    real, fake = torch.tensor(REAL, dtype=torch.float64), torch.tensor(FAKE, dtype=torch.float64)
    s = 0.1  # real target 0.9: −(0.9 log σ(r) + 0.1 log(1 − σ(r))); generated targets stay 0
    expected = _mean([-(1 - s) * _log_sigmoid(r) - s * _log_one_minus_sigmoid(r) for r in REAL]) + _mean(
        [-_log_one_minus_sigmoid(f) for f in FAKE]
    )
    assert float(discriminator_loss("non-saturating", real, fake, 1 - s)) == pytest.approx(expected, rel=1e-12)
    ls = 0.5 * _mean([(r - 0.9) ** 2 for r in REAL]) + 0.5 * _mean([f**2 for f in FAKE])
    assert float(discriminator_loss("least-squares", real, fake, 1 - s)) == pytest.approx(ls, rel=1e-12)


def test_gradient_penalty_matches_a_direct_computation():
    torch.manual_seed(0)
    real, fake = torch.randn(5, 3, dtype=torch.float64), torch.randn(5, 3, dtype=torch.float64)
    eps = torch.rand(5, 1, dtype=torch.float64)
    # D(x) = Σ x²: the gradient at x̂ is 2x̂, so the penalty is mean((2‖x̂‖ − 1)²)
    mixed = eps * real + (1 - eps) * fake
    direct = ((2 * mixed.norm(dim=1) - 1) ** 2).mean()
    got = gradient_penalty(lambda x: x.pow(2).sum(1), real, fake, eps)
    assert float(got.detach()) == pytest.approx(float(direct), rel=1e-12)
    # a linear critic w·x + b has gradient w everywhere: penalty (‖w‖ − 1)², differentiable in w
    critic = torch.nn.Linear(3, 1).double()
    gp = gradient_penalty(critic, real, fake)
    w = critic.weight.detach()[0]
    assert float(gp.detach()) == pytest.approx(float((w.norm() - 1) ** 2), rel=1e-12)
    gp.backward()
    torch.testing.assert_close(critic.weight.grad[0], 2 * (w.norm() - 1) * w / w.norm())


# --- it learns ---------------------------------------------------------------------------------------
def test_training_moves_samples_toward_the_data_mean():
    torch.manual_seed(0)
    data = torch.randn(2048, 2) * 0.3 + torch.tensor([3.0, -2.0])  # a Gaussian away from G's start
    model = GAN(GANConfig(width=32, layers=2, latent=2), (2,))
    opts = model.configure_optimizers(2e-3)
    g = torch.Generator().manual_seed(1)
    start = (model.sample(512, g).mean(0) - data.mean(0)).norm()
    for step in range(300):
        model.train()
        model.train_step(data[torch.randint(len(data), (64,))], opts)
    end = (model.sample(512, g.manual_seed(1)).mean(0) - data.mean(0)).norm()
    assert start > 3.0 and end < 0.25 * start, (float(start), float(end))


# --- the networks fit any image size -----------------------------------------------------------------
@pytest.mark.parametrize("shape", [(1, 28, 28), (3, 32, 32), (3, 64, 64), (1, 8, 8), (1, 27, 27), (3, 20, 12)])
def test_dcgan_generates_exactly_the_image_size(shape):
    torch.manual_seed(0)
    model = GAN(GANConfig(conv_channels=4, latent=5), shape)
    images = model.sample(3, torch.Generator().manual_seed(0))
    assert images.shape == (3, *shape) and images.dtype == torch.uint8
    assert model.discriminator(model.prepare(images)).shape == (3,)
    assert dcgan_sizes(28, 28) == [(28, 28), (14, 14), (7, 7)]
    assert dcgan_sizes(64, 64)[-1] == (4, 4)


# --- mode coverage -----------------------------------------------------------------------------------
def test_mode_coverage_on_hand_built_samples():
    centres, std = toy_modes("gmm8")
    everywhere = centres.repeat(25, 1)  # 200 samples, 25 on every centre
    assert mode_coverage(everywhere, centres, std) == {"modes_covered": 8, "modes_total": 8, "high_quality": 1.0}
    one = centres[3].expand(200, 2)
    assert mode_coverage(one, centres, std)["modes_covered"] == 1
    # 2.9 std off a centre is still high quality, 3.1 is not; a mode needs 20 high-quality samples
    near = centres.repeat(25, 1) + torch.tensor([2.9 * std, 0.0])
    far = centres.repeat(25, 1) + torch.tensor([0.0, 3.1 * std])
    both = mode_coverage(torch.cat([near, far]), centres, std)
    assert both["high_quality"] == pytest.approx(0.5) and both["modes_covered"] == 8
    few = torch.cat([centres[:1].expand(19, 2), centres[1:2].expand(20, 2)])
    assert mode_coverage(few, centres, std)["modes_covered"] == 1


def test_diversity_ratio_sees_a_collapse():
    g = torch.Generator().manual_seed(0)
    real = torch.randn(300, 2, generator=g)
    assert diversity_ratio(torch.randn(300, 2, generator=g), real) == pytest.approx(1.0, abs=0.1)
    assert diversity_ratio(torch.randn(300, 2, generator=g) * 0.01, real) < 0.02


# --- runs: save/load, resume, guards -----------------------------------------------------------------
DIGITS, GMM8 = DataConfig(data="digits"), DataConfig(data="toy:gmm8")


def test_a_saved_run_keeps_the_ema_copy_and_samples_from_it(tiny_runs):
    """The tiny GAN of the contract test (tests/tinyfamilies.py) averages G; that test checks the rest of save/load."""
    loaded = genlab.load(tiny_runs["gan"].run)
    assert isinstance(loaded.model, GAN) and not loaded.model.training
    assert any(k.startswith("generator_ema.") for k in loaded.model.state_dict())  # the EMA copy is in the checkpoint
    z = loaded.model.prior(4, torch.Generator().manual_seed(0))
    ema_out = loaded.model.generate(z)
    assert not torch.allclose(ema_out, loaded.model.generate(z, net=loaded.model.generator))  # EMA samples
    assert torch.equal(loaded.model.sample(4, torch.Generator().manual_seed(0)), loaded.model.decode(z))


def test_nan_stops_the_gan_and_keeps_the_last_good_checkpoint(tmp_path, monkeypatch):
    run = tmp_path / "run"
    train.start("gan", TINY_IMG, DIGITS, _cfg(epochs=1), run, quiet=True)
    good = load_file(str(run / "model.safetensors"))
    original, calls = GAN.g_step, {"n": 0}

    def poisoned(self, fake, optimizer, **kw):
        calls["n"] += 1
        out = original(self, fake, optimizer, **kw)
        if calls["n"] >= 3:
            out["g_loss"] = out["g_loss"] * float("inf")
        return out

    monkeypatch.setattr(GAN, "g_step", poisoned)
    with pytest.raises(GenlabError, match="training diverged"):
        train.resume(run, {"epochs": 3, "save_every": 0.0}, quiet=True)
    kept = load_file(str(run / "model.safetensors"))
    assert all(torch.equal(good[k], kept[k]) for k in good)


def test_collapse_warning_is_printed_once_when_diversity_falls(tmp_path, monkeypatch, capsys):
    spread = {"diversity": [0.1, 2.0, 0.0, 0.0]}  # narrow at the start (no warning), spread, collapsed

    def sample(self, n, generator=None):
        scale = spread["diversity"].pop(0) if n == 256 else 0.0  # the watcher's diversity batch
        return torch.randn(n, 2, generator=torch.Generator().manual_seed(n)) * scale

    monkeypatch.setattr(GAN, "sample", sample)
    train.start("gan", TINY_PTS, GMM8, _cfg(epochs=4, batch_size=1024), tmp_path / "run", quiet=True)
    err = capsys.readouterr().err
    assert err.count("possible mode collapse at epoch 3") == 1 and err.count("collapse") == 1, err
    rows = [r for r in genlab.viz.read_metrics(tmp_path / "run" / "metrics.csv") if r["split"] == "test"]
    assert [float(r["diversity"]) > 0.5 for r in rows] == [False, True, False, False]
    assert all(r["modes_covered"] == "0" for r in rows)  # the 2,500 mode samples sit at the origin, on no mode


# --- the command line --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def image_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("gan") / "digits"
    assert (
        main(
            [
                "train",
                "gan",
                "--data",
                "digits",
                "--conv-channels",
                "4",
                "--latent",
                "8",
                "--epochs",
                "2",
                "--batch-size",
                "128",
                "--lr-d",
                "1e-3",
                "--device",
                "cpu",
                "--quiet",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    return out


def test_cli_trains_an_image_gan_with_its_pictures_and_defaults(image_run):
    for name in ("samples/epoch_0001.png", "samples/epoch_0002.png", "loss.png", "game.png"):
        assert Image.open(image_run / name).size[0] >= 256, name
    config = json.loads((image_run / "config.json").read_text())
    assert config["train"]["lr"] == 2e-3  # the GAN's own image default (bench/README.md), not the generic 1e-3
    rows = genlab.viz.read_metrics(image_run / "metrics.csv")
    assert {"d_loss", "g_loss", "d_real", "d_fake", "diversity"} <= set(rows[0])
    assert all(r["diversity"] for r in rows if r["split"] == "test")
    assert not (image_run / "frames").exists()  # frames are for 2-D data
    run = genlab.load(image_run)
    optimizers = run.model.configure_optimizers(2e-4)
    assert {name: opt.param_groups[0]["lr"] for name, opt in optimizers.items()} == {
        "discriminator": 1e-3,
        "generator": 2e-4,
    }
    assert {opt.param_groups[0]["betas"] for opt in optimizers.values()} == {(0.5, 0.99)}  # images: β2 0.99


def test_cli_sample_interpolate_and_evaluate_images(image_run, tmp_path, capsys):
    for name in ("a", "b"):
        assert main(["sample", str(image_run), "--n", "5", "--seed", "7", "--out", str(tmp_path / f"{name}.npz")]) == 0
    a = np.load(tmp_path / "a.npz")["images"]
    assert a.shape == (5, 1, 8, 8) and a.dtype == np.uint8
    assert np.array_equal(a, np.load(tmp_path / "b.npz")["images"])
    for path in ("linear", "spherical"):
        assert (
            main(
                [
                    "interpolate",
                    str(image_run),
                    "--n",
                    "2",
                    "--steps",
                    "6",
                    "--path",
                    path,
                    "--out",
                    str(tmp_path / f"{path}.npz"),
                ]
            )
            == 0
        )
    lin, sph = (np.load(tmp_path / f"{p}.npz")["images"] for p in ("linear", "spherical"))
    assert lin.shape == sph.shape == (12, 1, 8, 8)
    assert np.array_equal(lin.reshape(2, 6, 64)[:, [0, -1]], sph.reshape(2, 6, 64)[:, [0, -1]])  # same ends
    assert not np.array_equal(lin, sph)  # different paths between them
    assert "no encoder" in cli_error(
        capsys,
        [
            "interpolate",
            str(image_run),
            "--from",
            "digits:test:0",
            "--to",
            "digits:test:1",
            "--out",
            str(tmp_path / "x.png"),
        ],
    )
    assert "--pixels does not apply" in cli_error(
        capsys, ["sample", str(image_run), "--pixels", "sample", "--out", str(tmp_path / "p.png")]
    )
    assert main(["evaluate", str(image_run), "--out", str(tmp_path / "m.json"), "--quiet"]) == 0
    report = json.loads((tmp_path / "m.json").read_text())
    assert report["model"] == "gan" and 0 < report["diversity"] < 3


def test_cli_toy_gmm8_with_frames_animation_and_mode_figures(tmp_path):
    out = tmp_path / "toy"
    assert (
        main(
            [
                "train",
                "gan",
                "--data",
                "toy:gmm8",
                "--width",
                "16",
                "--layers",
                "2",
                "--epochs",
                "3",
                "--batch-size",
                "512",
                "--animate",
                "--device",
                "cpu",
                "--quiet",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    config = json.loads((out / "config.json").read_text())
    assert config["train"]["lr"] == 1e-3  # the 2-D default (2e-4 locks into few modes; docs/gan.md)
    model = genlab.load(out).model
    assert (model.latent, model.ema) == (2, 0.999) and hasattr(model, "generator_ema")
    assert {opt.param_groups[0]["betas"] for opt in model.configure_optimizers(1e-3).values()} == {(0.5, 0.999)}
    frames = sorted(p.name for p in (out / "frames").iterdir())
    assert frames == ["epoch_0001.png", "epoch_0002.png", "epoch_0003.png"]
    frame = np.asarray(Image.open(out / "frames" / "epoch_0003.png").convert("RGB"))
    assert frame.shape[0] > frame.shape[1] >= 256
    assert ((frame == (230, 85, 13)).all(-1)).sum() > 100  # generated points are drawn
    with Image.open(out / "training.gif") as gif:
        assert gif.n_frames == 3 and gif.info["loop"] == 0
    test_rows = [r for r in genlab.viz.read_metrics(out / "metrics.csv") if r["split"] == "test"]
    assert all(0 <= int(r["modes_covered"]) <= 8 and 0 <= float(r["high_quality"]) <= 1 for r in test_rows)
    assert main(["sample", str(out), "--n", "7", "--out", str(tmp_path / "p.npz")]) == 0
    assert np.load(tmp_path / "p.npz")["points"].shape == (7, 2)
    assert (
        main(
            [
                "interpolate",
                str(out),
                "--n",
                "2",
                "--steps",
                "3",
                "--path",
                "spherical",
                "--out",
                str(tmp_path / "walk.npz"),
            ]
        )
        == 0
    )
    assert np.load(tmp_path / "walk.npz")["points"].shape == (6, 2)
    assert main(["evaluate", str(out), "--out", str(tmp_path / "m.json"), "--quiet"]) == 0
    report = json.loads((tmp_path / "m.json").read_text())
    assert report["modes_total"] == 8 and 0 <= report["modes_covered"] <= 8 and 0 <= report["high_quality"] <= 1


def test_cli_refuses_settings_that_cannot_work(tmp_path, capsys):
    base = ["train", "gan", "--data", "toy:gmm8", "--epochs", "1", "--quiet"]
    assert "--label-smoothing needs" in cli_error(
        capsys, [*base, "--loss", "hinge", "--label-smoothing", "0.1", "--out", str(tmp_path / "a")]
    )
    assert "--arch dcgan needs images" in cli_error(capsys, [*base, "--arch", "dcgan", "--out", str(tmp_path / "b")])
    assert "--ema must be in [0, 1)" in cli_error(capsys, [*base, "--ema", "1.5", "--out", str(tmp_path / "c")])
    assert "vae trains on image data" in cli_error(
        capsys, ["train", "vae", "--data", "toy:gmm8", "--epochs", "1", "--out", str(tmp_path / "d")]
    )
    assert not any((tmp_path / name).exists() for name in "abcd")
