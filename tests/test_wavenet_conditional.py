"""Class-conditional WaveNet (`--conditional`, global conditioning inside every gated unit): the
label never breaks causality, p(x | y) is a distribution for every class and the mixture is exact,
fast generation equals the naive loop with labels, and the command line draws and keeps labels."""

import json
import shutil

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from clihelp import cli_error, train_conditional_tones
from genlab import load
from genlab.cli import main
from genlab.data.sound.wav import write_wav
from genlab.core.errors import GenlabError
from genlab.models.wavenet import WaveNet, WaveNetConfig, mu_law_decode
from threads import one_thread  # noqa: F401  (autouse fixture)
from tinyfamilies import WAVENET as TINY

CLASSES = 3


def conditional(kernel=2, rate=1000, seed=0):
    torch.manual_seed(seed)
    model = WaveNet(WaveNetConfig(**TINY, kernel_size=kernel, conditional=True, label_count=CLASSES), (rate,)).double()
    with torch.no_grad():  # the class vectors start at zero: give them values so the classes differ
        for name, p in model.named_parameters():
            if "label" in name:
                p.normal_(0, 1.0)
    return model.eval()


@pytest.mark.numerics
def test_the_label_keeps_causality():
    model = conditional()
    rf, t = model.receptive_field, 30
    onehot = F.one_hot(torch.randint(256, (2, 48)), 256).double().transpose(1, 2).requires_grad_()
    logits = model.logits_from_onehot(onehot, labels=torch.tensor([0, 2]))
    logits[:, :, t].square().sum().backward()
    touched = onehot.grad.abs().sum((0, 1)) > 0  # (T,)
    assert touched.nonzero().flatten().tolist() == list(range(t - rf, t))  # exactly the rf samples before t
    # the label reaches every position, from the first on (a silent start already says the class)
    other = model.logits_from_onehot(onehot.detach(), labels=torch.tensor([1, 1]))
    assert (logits.detach() - other).abs().amax((0, 1)).min() > 1e-3


@pytest.mark.numerics
def test_every_class_and_the_mixture_are_distributions():
    """All 256² sounds of two samples: Σ_x p(x | y) = 1 for each class y, and the label-free
    likelihood is the exact mixture (1/K) Σ_y p(x | y)."""
    model = conditional()
    every = torch.cartesian_prod(torch.arange(256), torch.arange(256))  # (65536, 2)
    single = model.float()  # float32: the dilated convolutions of float64 are ~5x slower on the CPU
    for y in range(CLASSES):
        total = single.log_prob(every, torch.full((len(every),), y)).double().logsumexp(0).exp().item()
        # each float32 log-probability is off by ~1e-6 relative at most, and so is their sum
        assert total == pytest.approx(1.0, abs=1e-5)
    model.double()
    some = every[torch.randperm(len(every), generator=torch.Generator().manual_seed(0))[:500]]
    per_class = torch.stack([model.log_prob(some, torch.full((len(some),), y)) for y in range(CLASSES)])
    mixture = model.log_prob(some)
    torch.testing.assert_close(mixture.exp(), per_class.exp().mean(0), rtol=1e-12, atol=0)  # float64, same sums
    assert (per_class[0] - per_class[1]).abs().max() > 0.1
    # the training loss without labels is the mixture's NLL per sample
    assert model.loss(some)["loss"].item() == pytest.approx(-mixture.mean().item() / 2, rel=1e-12)


@pytest.mark.numerics
@pytest.mark.parametrize("kernel", [2, 3])
def test_fast_generation_equals_naive_with_labels(kernel):
    model = conditional(kernel)
    rf = model.receptive_field
    labels = torch.tensor([0, 1, 2, 1])

    def both(n_new, prefix=None, labels=labels):
        out = [
            model.generate(
                n_new, prefix, n=len(labels), generator=torch.Generator().manual_seed(4), naive=naive, labels=labels
            )
            for naive in (False, True)
        ]
        assert torch.equal(*out)
        return out[0]

    sounds = both(2 * rf)
    prefix = torch.randint(256, (4, 3 * rf))
    assert torch.equal(both(rf, prefix)[:, : 3 * rf], prefix)
    both(5, prefix[:, :3])
    # the class changes what is drawn: the same uniforms, other labels
    assert not torch.equal(both(2 * rf, labels=torch.tensor([2, 2, 0, 0])), sounds)
    # sample(): sound i gets class i mod K by default
    g = lambda: torch.Generator().manual_seed(5)  # noqa: E731
    assert torch.equal(
        model.sample(6, g(), seconds=0.05), model.sample(6, g(), seconds=0.05, labels=torch.arange(6) % 3)
    )


def test_windows_keep_their_clips_label():
    model = WaveNet(WaveNetConfig(**TINY, window=250, conditional=True, label_count=2), (1000,))
    clips = torch.linspace(-0.5, 0.5, 3000).view(3, 1000)
    windows, labels = model.prepare(clips), model.prepare_labels(torch.tensor([1, 0, 1]))
    assert windows.shape == (12, 250) and labels.tolist() == [1] * 4 + [0] * 4 + [1] * 4


def test_labels_are_checked():
    model = conditional()
    with pytest.raises(GenlabError, match="label from 0 to 2"):
        model.log_prob(torch.zeros(2, 5, dtype=torch.long), torch.tensor([0, 3]))
    with pytest.raises(GenlabError, match="label from 0 to 2"):
        model.sample(2, labels=-1, seconds=0.01)
    plain = WaveNet(WaveNetConfig(**TINY), (1000,))
    with pytest.raises(GenlabError, match="not class-conditional"):
        plain.sample(1, labels=0, seconds=0.01)
    with pytest.raises(GenlabError, match="label_count"):
        WaveNet(WaveNetConfig(**TINY, conditional=True), (1000,))


@pytest.fixture(scope="module")
def tones_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("wnc")
    run = root / "run"
    train_conditional_tones(run, 1000)
    return root, run


def test_the_command_line_draws_and_keeps_labels(tones_run, tmp_path, capsys):
    root, run = tones_run
    config = json.loads((run / "config.json").read_text())["model_config"]
    assert config["conditional"] and config["label_count"] == 3
    assert json.loads((run / "config.json").read_text())["label_names"] == ["note", "chord", "chirp"]
    loaded = load(run).model
    capsys.readouterr()
    want = loaded.sample(2, torch.Generator().manual_seed(0), seconds=0.05, labels=2)
    for label in ("2", "chirp"):  # class 2 by number and by the name the data gives it
        assert (
            main(
                [
                    "sample",
                    str(run),
                    "--n",
                    "2",
                    "--seconds",
                    "0.05",
                    "--label",
                    label,
                    "--out",
                    str(tmp_path / f"s{label}.npz"),
                ]
            )
            == 0
        )
        np.testing.assert_array_equal(np.load(tmp_path / f"s{label}.npz")["audio"], want.numpy())
    other = loaded.sample(2, torch.Generator().manual_seed(0), seconds=0.05, labels=1)
    assert (
        main(
            [
                "complete",
                str(run),
                "--input",
                "tones:test:0",
                "--keep-seconds",
                "0.1",
                "--seconds",
                "0.05",
                "--n",
                "2",
                "--label",
                "chord",
                "--out",
                str(tmp_path / "chord.npz"),
            ]
        )
        == 0
    )
    clip = load(run).dataset().test[0, :100]
    chord = loaded.complete(clip, 0.05, n=2, generator=torch.Generator().manual_seed(0), labels=1).numpy()
    np.testing.assert_array_equal(np.load(tmp_path / "chord.npz")["audio"], chord)
    assert not np.array_equal(other.numpy(), want.numpy())
    # completing test clip 0 keeps its own class (tones: note / chord / chirp)
    data_label = int(load(run).dataset().test_labels[0])
    assert (
        main(
            [
                "complete",
                str(run),
                "--input",
                "tones:test:0",
                "--keep-seconds",
                "0.1",
                "--seconds",
                "0.05",
                "--n",
                "2",
                "--out",
                str(tmp_path / "c.npz"),
            ]
        )
        == 0
    )
    kept = np.load(tmp_path / "c.npz")["audio"]
    clip = load(run).dataset().test[0, :100]
    for label in range(3):
        same = loaded.complete(clip, 0.05, n=2, generator=torch.Generator().manual_seed(0), labels=label).numpy()
        assert np.array_equal(kept, same) == (label == data_label)


def test_label_errors_from_the_command_line(tones_run, tmp_path, capsys):
    _, run = tones_run
    for label in ("3", "-1", "flute", "Chirp"):  # out of range, unknown name (names are case-sensitive)
        line = cli_error(capsys, ["sample", run, "--label", label, "--seconds", "0.05", "--out", tmp_path / "x.wav"])
        assert line == (f"genlab: error: --label {label}: {run} knows classes 0 to 2 or their names note, chord, chirp")
    assert not (tmp_path / "x.wav").exists()
    old = tmp_path / "old"  # a run trained before class names were recorded takes numbers only
    shutil.copytree(run, old)
    config = json.loads((old / "config.json").read_text())
    del config["label_names"]
    (old / "config.json").write_text(json.dumps(config))
    line = cli_error(capsys, ["sample", old, "--label", "chirp", "--seconds", "0.05", "--out", tmp_path / "x.wav"])
    assert line == f"genlab: error: --label chirp: {old} knows classes 0 to 2"
    assert main(["sample", str(old), "--label", "2", "--seconds", "0.05", "--out", str(tmp_path / "x.wav")]) == 0
    write_wav(tmp_path / "in.wav", mu_law_decode(torch.randint(256, (300,))), 1000)
    assert "classes 0 to 2" in cli_error(
        capsys,
        [
            "complete",
            run,
            "--input",
            tmp_path / "in.wav",
            "--label",
            "7",
            "--seconds",
            "0.05",
            "--out",
            tmp_path / "y.wav",
        ],
    )
    assert "outside the test split" in cli_error(
        capsys, ["complete", run, "--input", "tones:test:99", "--seconds", "0.05", "--out", tmp_path / "y.wav"]
    )
    write_wav(tmp_path / "wavs" / "a.wav", np.zeros(1000), 1000)
    write_wav(tmp_path / "wavs" / "b.wav", np.zeros(1000), 1000)
    line = cli_error(
        capsys,
        [
            "train",
            "wavenet",
            "--data",
            tmp_path / "wavs",
            "--sample-rate",
            "1000",
            "--conditional",
            "--out",
            tmp_path / "r",
            "--quiet",
        ],
    )
    assert "--conditional needs class labels" in line and not (tmp_path / "r").exists()


@pytest.mark.skipif(shutil.which("flite") is None, reason="flite is not installed (it builds the speech set)")
def test_a_word_is_asked_for_by_its_name(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("GENLAB_CACHE", str(tmp_path / "cache"))
    run = tmp_path / "words"
    assert (
        main(
            [
                "train",
                "wavenet",
                "--data",
                "speech:yes,no",
                "--sample-rate",
                "1000",
                "--conditional",
                "--layers",
                "2",
                "--stacks",
                "1",
                "--residual-channels",
                "4",
                "--gate-channels",
                "4",
                "--skip-channels",
                "4",
                "--window",
                "250",
                "--steps",
                "2",
                "--out",
                str(run),
                "--quiet",
            ]
        )
        == 0
    )
    assert json.loads((run / "config.json").read_text())["label_names"] == ["yes", "no"]
    assert (
        main(["sample", str(run), "--label", "no", "--n", "2", "--seconds", "0.05", "--out", str(tmp_path / "no.npz")])
        == 0
    )
    want = load(run).model.sample(2, torch.Generator().manual_seed(0), seconds=0.05, labels=1)
    np.testing.assert_array_equal(np.load(tmp_path / "no.npz")["audio"], want.numpy())
    line = cli_error(capsys, ["sample", run, "--label", "seven", "--seconds", "0.05", "--out", tmp_path / "x.wav"])
    assert line == f"genlab: error: --label seven: {run} knows classes 0 to 1 or their names yes, no"
