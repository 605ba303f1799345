"""WaveNet's clock (`--clock N`, local conditioning on the position within the clip): causality,
the exact likelihood as a product of steps, fast = naive generation across the clock's pieces,
whole clips as training items, errors, and a tiny model that learns when in the clip to sound."""

import json
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from genlab import load
from genlab.core.errors import GenlabError
from genlab.models.wavenet import WaveNet, WaveNetConfig, mu_law_decode
from clihelp import cli_error
from tinyfamilies import WAVENET as TINY

RATE = 60  # samples per clip: the clock's pieces are RATE / clock samples long


def clocked(kernel=2, clock=6, classes=0, seed=0):
    """A float64 model whose clock (and class) vectors are random, so every piece differs."""
    torch.manual_seed(seed)
    cfg = WaveNetConfig(**TINY, kernel_size=kernel, clock=clock, conditional=bool(classes), label_count=classes)
    model = WaveNet(cfg, (RATE,)).double()
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "clock" in name or "label" in name:
                p.normal_(0, 1.0)
    return model.eval()


def test_pieces_cut_the_clip_evenly_and_keep_the_last_after_it():
    model = clocked(clock=6)
    assert model.pieces(0, 2 * RATE).tolist() == [t * 6 // RATE for t in range(RATE)] + [5] * RATE
    assert model.pieces(25, 3).tolist() == [2, 2, 2]
    assert clocked(clock=0).pieces(0, 5) is None


@pytest.mark.numerics
def test_the_clock_keeps_causality_and_moves_with_the_start():
    model = clocked()
    rf, t = model.receptive_field, 30
    onehot = F.one_hot(torch.randint(256, (2, 48)), 256).double().transpose(1, 2).requires_grad_()
    logits = model.logits_from_onehot(onehot)
    logits[:, :, t].square().sum().backward()
    touched = onehot.grad.abs().sum((0, 1)) > 0
    assert touched.nonzero().flatten().tolist() == list(range(t - rf, t))  # exactly the rf samples before t
    # a window cut at sample s and told so reproduces the whole sound's logits once its receptive
    # field lies inside it (what naive generation relies on); told the wrong start, it does not
    codes = torch.randint(256, (2, 50))
    whole = model.logits(codes)
    s = 20
    window = model.logits(codes[:, s:], start=s)
    torch.testing.assert_close(window[:, :, rf:], whole[:, :, s + rf :], rtol=1e-12, atol=1e-12)
    assert (model.logits(codes[:, s:])[:, :, rf:] - whole[:, :, s + rf :]).abs().max() > 1e-3


@pytest.mark.numerics
def test_log_prob_is_the_product_of_the_fast_steps_across_pieces():
    model = clocked(classes=2)
    codes, labels = torch.randint(256, (2, RATE + 10)), torch.tensor([1, 0])  # every piece, then past the clip
    step = model._fast_steps(codes[:, :0], labels)
    total, code = torch.zeros(2, dtype=torch.float64), None
    for t in range(codes.shape[1]):
        logp = torch.log_softmax(step(code), -1)
        assert torch.allclose(logp.exp().sum(-1), torch.ones(2, dtype=torch.float64))
        code = codes[:, t]
        total += logp.gather(1, code[:, None])[:, 0]
    assert torch.allclose(model.log_prob(codes, labels), total, atol=1e-9)
    # without labels, the exact mixture over the classes
    mixture = torch.stack([model.log_prob(codes, torch.full((2,), y)) for y in range(2)]).logsumexp(0) - math.log(2)
    torch.testing.assert_close(model.log_prob(codes), mixture, rtol=1e-12, atol=0)


@pytest.mark.numerics
@pytest.mark.parametrize("kernel", [2, 3])
def test_fast_generation_equals_naive_with_the_clock(kernel):
    model = clocked(kernel, classes=3)
    labels = torch.tensor([0, 2, 1])

    def both(n_new, prefix=None):
        out = [
            model.generate(n_new, prefix, n=3, generator=torch.Generator().manual_seed(4), naive=naive, labels=labels)
            for naive in (False, True)
        ]
        assert torch.equal(*out)
        return out[0]

    sounds = both(2 * RATE)  # from silence through every piece and past the clip's end
    prefix = torch.randint(256, (3, RATE // 2 + model.receptive_field))
    assert torch.equal(both(RATE, prefix)[:, : prefix.shape[1]], prefix)  # the context starts mid-clip
    both(5, prefix[:, :3])
    # the clock changes what is drawn: the same model without its clock vectors, the same uniforms
    with torch.no_grad():
        for layer in model.layers:
            layer.clock.weight.zero_()
    assert not torch.equal(both(2 * RATE), sounds)


def test_training_items_are_whole_clips_and_bad_clocks_are_refused(tmp_path, capsys):
    clips = torch.rand(3, RATE) - 0.5
    model = clocked(clock=4, classes=2)
    assert model.prepare(clips).shape == (3, RATE)  # not windows: positions count from the clip's start
    assert model.prepare_labels(torch.tensor([1, 0, 1])).tolist() == [1, 0, 1]
    windowed = WaveNet(WaveNetConfig(**TINY, window=20), (RATE,))
    assert windowed.prepare(clips).shape == (9, 20)
    with pytest.raises(GenlabError, match="--clock 61 cuts a clip of 60 samples"):
        WaveNet(WaveNetConfig(**TINY, clock=RATE + 1), (RATE,))
    assert "--clock must be 0" in cli_error(
        capsys, ["train", "wavenet", "--data", "tones", "--clock", "-1", "--out", tmp_path / "run"]
    )
    assert not (tmp_path / "run").exists()  # refused before the run folder is made
    line = cli_error(
        capsys, ["train", "wavenet", "--data", "tones", "--clock", "4", "--window", "500", "--out", tmp_path / "run"]
    )
    assert "--window has no effect with --clock" in line and not (tmp_path / "run").exists()


def _train(clock: int, clips: torch.Tensor, steps: int = 150) -> WaveNet:
    torch.manual_seed(0)
    model = WaveNet(WaveNetConfig(**TINY, clock=clock, window=RATE), (RATE,))
    items = model.prepare(clips)
    opt = torch.optim.Adam(model.parameters(), 3e-2)
    g = torch.Generator().manual_seed(0)
    for _ in range(steps):
        model.train_step(items[torch.randint(len(items), (8,), generator=g)], {"adam": opt})
    return model.eval()


def test_a_clocked_model_learns_when_in_the_clip_to_sound():
    """Clips silent for their first half, then a square wave: after silence, only the clock can
    say when the sound begins (the receptive field, 16 samples, sees silence either way)."""
    onset = RATE // 2
    square = 0.5 * (1 - 2 * (torch.arange(RATE - onset) % 2)).float()  # +0.5, -0.5, ...
    clips = torch.cat([torch.zeros(32, onset), square.expand(32, -1)], 1)
    nll, on_time = {}, {}
    for clock in (0, 4):
        model = _train(clock, clips)
        nll[clock] = -model.log_prob(model.prepare(clips[:4])).mean().item()  # nats per clip
        sounds = mu_law_decode(model.generate(RATE, n=16, generator=torch.Generator().manual_seed(1)))
        loud = sounds.abs() > 0.1
        starts = torch.where(loud.any(1), loud.float().argmax(1), RATE)  # each sound's first loud sample
        on_time[clock] = int(((starts - onset).abs() <= 4).sum())
    # measured: 1.2 vs 4.3 nats per clip (the onset's position costs the clockless model ~log 32),
    # and 14 vs 1 of 16 sounds beginning within 4 samples of the clips' onset
    assert nll[4] < nll[0] - 2, nll
    assert on_time[4] >= 12 and on_time[0] <= 8, on_time


def test_the_command_line_trains_samples_completes_and_evaluates_with_a_clock(tmp_path, capsys):
    from genlab.cli import main

    run, rate = tmp_path / "wn", 1000
    assert (
        main(
            [
                "train",
                "wavenet",
                "--data",
                "tones",
                "--sample-rate",
                str(rate),
                "--clock",
                "8",
                "--layers",
                "3",
                "--stacks",
                "1",
                "--residual-channels",
                "8",
                "--gate-channels",
                "8",
                "--skip-channels",
                "8",
                "--batch-size",
                "4",
                "--epochs",
                "1",
                "--seed",
                "0",
                "--out",
                str(run),
            ]
        )
        == 0
    )
    assert "clock: 8 pieces of 125 ms per clip" in capsys.readouterr().out  # printed when training starts
    model = load(run).model
    assert model.config.clock == 8 and model.layers[0].clock.weight.abs().sum() > 0  # trained, saved, loaded
    assert (
        main(["sample", str(run), "--n", "2", "--seconds", "1.5", "--seed", "1", "--out", str(tmp_path / "a.npz")]) == 0
    )
    assert np.load(tmp_path / "a.npz")["audio"].shape == (2, 1500)  # past the clip's end: the last piece
    assert (
        main(
            [
                "complete",
                str(run),
                "--input",
                "tones:test:0",
                "--keep-seconds",
                "0.6",
                "--seconds",
                "0.2",
                "--n",
                "2",
                "--out",
                str(tmp_path / "c.npz"),
            ]
        )
        == 0
    )
    assert np.load(tmp_path / "c.npz")["audio"].shape == (2, 800)
    assert main(["evaluate", str(run), "--quiet", "--n", "2", "--out", str(tmp_path / "m.json")]) == 0
    report = json.loads((tmp_path / "m.json").read_text())
    assert report["images"] == 12 and report["dims_per_image"] == rate  # 12 test clips, whole
