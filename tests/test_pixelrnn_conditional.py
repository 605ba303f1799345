"""Class-conditional PixelRNN (`--conditional`): p(x | y) is a distribution for every class, the
label never breaks causality, the fast path still equals the whole network, and a model trained on
two classes draws the class it is asked for."""

import itertools
import json

import numpy as np
import pytest
import torch

from clihelp import cli_error
from genlab import load
from genlab.cli import main
from genlab.data import Palette
from genlab.core.errors import GenlabError
from genlab.models.pixelrnn import ARCHS, PixelRNN, PixelRNNConfig
from threads import one_thread  # noqa: F401  (autouse fixture)

CLASSES = 3


def conditional(arch, shape=(1, 3, 3), colors=2, width=6, output="palette", seed=0):
    torch.manual_seed(seed)
    levels = torch.linspace(0, 255, colors).round().to(torch.uint8)
    config = PixelRNNConfig(
        arch=arch,
        layers=2,
        width=width,
        head=8,
        colors=colors,
        output=output,
        conditional=True,
        label_count=CLASSES,
        ema=0.0,
    )
    model = PixelRNN(config, shape, Palette(levels[:, None].repeat(1, shape[0]))).double()
    with torch.no_grad():  # the class vectors start at zero: give them values so the classes differ
        for p in model.parameters():
            p.mul_(2.0)
        for name, p in model.named_parameters():
            if "label" in name:
                p.normal_(0, 2.0)
    return model.eval()


@pytest.mark.numerics
@pytest.mark.parametrize("arch", ARCHS)
def test_every_class_and_the_mixture_are_distributions(arch):
    model = conditional(arch)
    every = torch.tensor(list(itertools.product(range(2), repeat=9))).view(512, 1, 3, 3)
    with torch.no_grad():
        per_class = [model.log_prob(every, torch.full((512,), y)) for y in range(CLASSES)]
        mixture = model.log_prob(every)
    for lp in per_class:
        assert lp.logsumexp(0).exp().item() == pytest.approx(1.0, abs=1e-5)
    assert mixture.logsumexp(0).exp().item() == pytest.approx(1.0, abs=1e-5)
    # the mixture is the mean of the class likelihoods, and the label changes them
    torch.testing.assert_close(mixture.exp(), torch.stack(per_class).exp().mean(0))
    assert (per_class[0] - per_class[1]).abs().max() > 0.1


@pytest.mark.numerics
@pytest.mark.parametrize("arch", ARCHS)
def test_the_label_keeps_causality_and_the_fast_path_equals_the_network(arch):
    model = conditional(arch, shape=(3, 4, 5), colors=4, width=8)
    x = model.prepare(
        torch.randint(0, 256, (4, 3, 4, 5), dtype=torch.uint8, generator=torch.Generator().manual_seed(1))
    )
    labels = torch.tensor([0, 1, 2, 1])
    feats = model.features(x).requires_grad_()
    logits = model.net(feats, labels)  # (B, K, H, W)
    for i, j in itertools.product(range(4), range(5)):
        (grad,) = torch.autograd.grad(logits[:, :, i, j].sum(), feats, retain_graph=True)
        seen = grad.abs().sum((0, 1))  # (H, W)
        assert seen.flatten()[i * 5 + j :].sum() == 0, f"output {(i, j)} sees its own or a later pixel"
    torch.testing.assert_close(model.stepped_logits(x, labels), model.logits(x, labels), rtol=0, atol=1e-10)
    fast = model.sample(6, torch.Generator().manual_seed(3), labels=torch.arange(6) % 3)
    naive = model.sample(6, torch.Generator().manual_seed(3), labels=torch.arange(6) % 3, fast=False)
    assert torch.equal(fast, naive)
    assert torch.equal(fast, model.sample(6, torch.Generator().manual_seed(3)))  # default: class i mod 3


def test_labels_are_checked():
    model = conditional("pixelcnn")
    x = torch.zeros(2, 1, 3, 3, dtype=torch.long)
    with pytest.raises(GenlabError, match="label from 0 to 2"):
        model.log_prob(x, torch.tensor([0, 3]))
    with pytest.raises(GenlabError, match="label from 0 to 2"):
        model.sample(2, labels=-1)
    plain = PixelRNN(
        PixelRNNConfig(layers=1, width=4, head=4), (1, 3, 3), Palette(torch.tensor([[0], [255]], dtype=torch.uint8))
    )
    with pytest.raises(GenlabError, match="not class-conditional"):
        plain.sample(1, labels=0)
    with pytest.raises(GenlabError, match="label_count"):
        PixelRNN(PixelRNNConfig(conditional=True), (1, 3, 3), plain.palette)


@pytest.fixture(scope="module")
def two_classes(tmp_path_factory):
    """Class 0: black images with a white top row; class 1: white images with a black top row."""
    root = tmp_path_factory.mktemp("cond")
    y = np.arange(400) % 2
    x = np.where(y[:, None, None] == 0, 0, 255).repeat(6, 1).repeat(6, 2).astype(np.uint8)  # (N, 6, 6)
    x[:, 0] = 255 - x[:, 0]
    np.savez(root / "two.npz", x_train=x[:320], y_train=y[:320], x_test=x[320:], y_test=y[320:])
    run = root / "run"
    assert (
        main(
            [
                "train",
                "pixelrnn",
                "--data",
                str(root / "two.npz"),
                "--conditional",
                "--arch",
                "gated-pixelcnn",
                "--layers",
                "1",
                "--width",
                "8",
                "--head",
                "8",
                "--epochs",
                "20",
                "--batch-size",
                "32",
                "--out",
                str(run),
                "--quiet",
            ]
        )
        == 0
    )
    return root, run


def test_a_conditional_run_draws_and_completes_the_class_it_is_given(two_classes, capsys):
    root, run = two_classes
    assert json.loads((run / "config.json").read_text())["model_config"]["label_count"] == 2
    for label, body in ((0, 0), (1, 255)):
        out = root / f"class{label}.npz"
        assert main(["sample", str(run), "--n", "16", "--label", str(label), "--out", str(out)]) == 0
        images = np.load(out)["images"]  # (16, 1, 6, 6)
        assert (images[:, 0, 1:] == body).mean() > 0.95, f"class {label} should be {body} below the top row"
        assert (images[:, 0, 0] == 255 - body).mean() > 0.95
    # completing test item 1 (class 1) from its top row: its own label is used
    out = root / "completed.npz"
    assert (
        main(
            [
                "complete",
                str(run),
                "--input",
                f"{root / 'two.npz'}:test:1",
                "--mask",
                "bottom",
                "--n",
                "4",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    assert (np.load(out)["completions"][:, 0, 3:] == 255).mean() > 0.95
    loaded = load(run)
    test = torch.from_numpy(np.load(root / "two.npz")["x_test"][:8, None])
    nll_given = -loaded.model.log_prob(loaded.model.prepare(test), torch.arange(8) % 2)
    nll_mixture = -loaded.model.log_prob(loaded.model.prepare(test))
    # knowing the class is worth at most log 2 nats, and here (two easily told classes) about that much
    gap = (nll_mixture - nll_given).detach()
    assert bool(((gap > 0.5) & (gap <= np.log(2) + 1e-6)).all())


def test_label_errors_from_the_command_line(two_classes, tmp_path, capsys):
    root, run = two_classes
    # labelled arrays name their classes by number: "1" is both the name and the number of class 1
    assert json.loads((run / "config.json").read_text())["label_names"] == ["0", "1"]
    for label in ("2", "one"):
        line = cli_error(capsys, ["sample", run, "--label", label, "--out", tmp_path / "x.png"])
        assert line == f"genlab: error: --label {label}: {run} knows classes 0 to 1 or their names 0, 1"
    assert "knows classes 0 to 1" in cli_error(
        capsys, ["complete", run, "--input", f"{root / 'two.npz'}:test:1", "--label", "3", "--out", tmp_path / "y.png"]
    )
    assert not (tmp_path / "x.png").exists() and not (tmp_path / "y.png").exists()
    x = np.load(root / "two.npz")["x_train"]
    np.savez(tmp_path / "unlabelled.npz", x_train=x[:40], x_test=x[40:50])
    line = cli_error(
        capsys,
        [
            "train",
            "pixelrnn",
            "--data",
            tmp_path / "unlabelled.npz",
            "--conditional",
            "--out",
            tmp_path / "r",
            "--quiet",
        ],
    )
    assert "--conditional needs class labels" in line and not (tmp_path / "r").exists()
