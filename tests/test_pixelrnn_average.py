"""The PixelRNN family's moving average of the weights (`--ema`): what it averages, where it is
used, and that runs saved before it existed load as they were trained."""

import json

import pytest
import torch

from clihelp import cli_error
from genlab.cli import main
from genlab.data import Palette
from genlab.models.pixelrnn import PixelRNN, PixelRNNConfig
from genlab.train import runs
from threads import one_thread  # noqa: F401  (autouse fixture)

SHAPE = (1, 4, 4)


def model_and_data(ema, arch="pixelcnn", seed=0):
    torch.manual_seed(seed)
    config = PixelRNNConfig(arch=arch, layers=2, width=6, head=8, ema=ema)
    model = PixelRNN(config, SHAPE, Palette(torch.tensor([[0], [255]], dtype=torch.uint8))).double()
    x = (torch.rand(32, *SHAPE) < 0.4).long()  # palette indices (B, 1, H, W)
    return model, x


def steps(model, x, n=6):
    """n Adam steps in training mode; the raw network's weights after each, as one flat vector."""
    opts = model.configure_optimizers(1e-2)
    model.train()
    after = []
    for k in range(n):
        model.train_step(x[k % 4 * 8 : (k % 4 + 1) * 8], opts)
        after.append(torch.cat([p.detach().flatten() for p in model.net.parameters()]))
    return after


@pytest.mark.parametrize("arch", ["pixelcnn", "row-lstm"])
def test_the_average_is_the_warmed_up_exponential_average_of_the_trained_weights(arch):
    decay = 0.6
    model, x = model_and_data(decay, arch)
    average = torch.cat([p.detach().flatten() for p in model.net.parameters()])  # starts at the initial weights
    for t, w in enumerate(steps(model, x), start=1):
        keep = min(decay, (1 + t) / (10 + t))  # the warm-up: 0.18, 0.27, ... then the decay
        average = keep * average + (1 - keep) * w
    got = torch.cat([p.flatten() for p in model.net_average.parameters()])
    assert not any(p.requires_grad for p in model.net_average.parameters())
    assert int(model.average_updates) == 6
    # the step's weight 1 - keep is computed in float32 (relative error 6e-8) and moves the weights by under 0.1
    torch.testing.assert_close(got, average, rtol=0, atol=1e-8)
    assert (got - w).abs().max() > 1e-3  # ... from the last weights, which a copy would have


def test_eval_mode_is_the_average_and_training_mode_the_trained_network():
    model, x = model_and_data(0.6)
    assert model.eval().network is model.net  # nothing averaged yet (a loop without train_step): the network itself
    steps(model, x)
    assert model.eval().network is model.net_average
    twin, _ = model_and_data(0.0)  # the averaged weights as a plain network
    twin.net.load_state_dict(model.net_average.state_dict())
    model.eval()
    assert torch.equal(model.log_prob(x), twin.eval().log_prob(x))
    g1, g2 = torch.Generator().manual_seed(3), torch.Generator().manual_seed(3)
    assert torch.equal(model.sample(8, generator=g1), twin.sample(8, generator=g2))
    model.train()  # the loss trains the network itself
    raw, _ = model_and_data(0.0)
    raw.net.load_state_dict(model.net.state_dict())
    assert torch.equal(model.log_prob(x), raw.log_prob(x))
    assert not torch.allclose(model.log_prob(x), twin.log_prob(x))
    assert model.training  # sampling put the model back as it found it


def test_no_average_means_no_second_network():
    model, x = model_and_data(0.0)
    steps(model, x, 2)
    assert model.net_average is None and not any("average" in k for k in model.state_dict())


def test_a_trained_run_keeps_the_average_and_an_older_run_loads_without_it(tmp_path, capsys):
    args = [
        "train",
        "pixelrnn",
        "--data",
        "digits",
        "--image-size",
        "8",
        "--layers",
        "1",
        "--width",
        "4",
        "--head",
        "4",
        "--epochs",
        "1",
        "--quiet",
    ]
    assert main(args + ["--out", str(tmp_path / "new")]) == 0
    new = runs.load(tmp_path / "new")
    assert new.config["model_config"]["ema"] == 0.999
    assert int(new.model.average_updates) > 0
    # a run saved before the option existed: no "ema" in config.json, no averaged weights
    assert main(args + ["--out", str(tmp_path / "old"), "--ema", "0"]) == 0
    path = tmp_path / "old" / runs.CONFIG
    config = json.loads(path.read_text())
    del config["model_config"]["ema"]
    path.write_text(json.dumps(config))
    old = runs.load(tmp_path / "old")
    assert old.model.net_average is None and old.config["model_config"]["ema"] == 0.0
    assert main(["sample", str(tmp_path / "old"), "--n", "4", "--out", str(tmp_path / "s.png")]) == 0
    assert main(["train", "pixelrnn", "--resume", "--out", str(tmp_path / "old"), "--epochs", "2", "--quiet"]) == 0


@pytest.mark.parametrize("value", ["1", "-0.1"])
def test_a_decay_outside_0_1_is_a_one_line_error(tmp_path, capsys, value):
    line = cli_error(capsys, ["train", "pixelrnn", "--data", "digits", "--ema", value, "--out", tmp_path / "r"])
    assert "--ema" in line and value in line
    assert not (tmp_path / "r").exists()
