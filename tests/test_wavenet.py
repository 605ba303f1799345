"""WaveNet: μ-law companding, causality, fast = naive generation, exact likelihood, learning a
pure tone, and the command line end to end on a tiny model."""

import json
import math
import wave

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from genlab.cli import main
from genlab.data import load_dataset
from genlab.data.sound.wav import write_wav
from genlab.viz import read_metrics
from genlab.models.wavenet import MU, WaveNet, WaveNetConfig, mu_law_decode, mu_law_encode
from clihelp import cli_error
from tinyfamilies import WAVENET as TINY


def _model(rate=1000, seed=0, **cfg):
    torch.manual_seed(seed)
    return WaveNet(WaveNetConfig(**{**TINY, **cfg}), (rate,)).double().eval()


def test_mu_law_round_trip_within_a_quantization_step():
    levels = mu_law_decode(torch.arange(256))
    assert torch.equal(mu_law_encode(levels), torch.arange(256))  # every level is its own code
    assert (levels.diff() > 0).all() and levels[0] == -1 and levels[-1] == 1
    x = torch.linspace(-1, 1, 200_001)
    back = mu_law_decode(mu_law_encode(x))
    j = torch.searchsorted(levels, x, right=True).clamp(1, 255)  # x lies in [levels[j-1], levels[j]]
    assert ((x - back).abs() <= levels[j] - levels[j - 1] + 1e-7).all()
    # in the companded domain the error is at most half a level: the encoder rounds
    y = lambda v: torch.sign(v) * torch.log1p(MU * v.abs()) / math.log1p(MU)  # noqa: E731
    assert ((y(x) - y(back)).abs() <= 1 / MU + 1e-6).all()
    # fine steps near silence, coarse ones near full scale: the point of companding
    assert levels[129] - levels[128] < 1e-3 < levels[255] - levels[254]
    assert mu_law_encode(torch.tensor([-5.0, 0.0, 5.0])).tolist() == [0, 128, 255]


@pytest.mark.numerics
def test_output_is_causal_by_gradients():
    model = _model(kernel_size=2)
    rf = model.receptive_field
    assert rf == 2 + 2 * (1 + 2 + 4)  # kernel + (k-1)·Σ dilations over both stacks
    t, length = 30, 48
    onehot = F.one_hot(torch.randint(256, (1, length)), 256).double().transpose(1, 2).requires_grad_()
    model.logits_from_onehot(onehot)[0, :, t].square().sum().backward()
    touched = onehot.grad[0].abs().sum(0) > 0  # (T,) inputs that output t depends on
    assert touched.nonzero().flatten().tolist() == list(range(t - rf, t))  # exactly the rf samples before t


@pytest.mark.numerics
@pytest.mark.parametrize("kernel", [2, 3])
def test_fast_generation_equals_naive(kernel):
    model = _model(kernel_size=kernel)
    rf = model.receptive_field

    def both(n_new, prefix=None, n=1):
        out = [
            model.generate(n_new, prefix, n=n, generator=torch.Generator().manual_seed(4), naive=naive)
            for naive in (False, True)
        ]
        assert torch.equal(*out)
        return out[0]

    sounds = both(2 * rf, n=3)  # from silence, through the point where the receptive field fills
    assert sounds.shape == (3, 2 * rf) and len({tuple(s.tolist()) for s in sounds}) == 3
    prefix = torch.randint(256, (2, 3 * rf))
    continued = both(rf, prefix)  # after a prefix longer than the receptive field
    assert torch.equal(continued[:, : 3 * rf], prefix)
    both(5, prefix[:, :3])  # after a prefix shorter than a kernel's reach


@pytest.mark.numerics
def test_log_prob_is_the_product_of_the_step_probabilities():
    """The parallel log-likelihood equals the sum of log p(x_t | x_<t) taken one step at a time,
    and the 256 probabilities of every step sum to one."""
    model = _model()
    codes = torch.randint(256, (2, 40))
    step = model._fast_steps(codes[:, :0])
    total, code = torch.zeros(2, dtype=torch.float64), None
    for t in range(codes.shape[1]):
        logp = torch.log_softmax(step(code), -1)  # (B, 256)
        assert torch.allclose(logp.exp().sum(-1), torch.ones(2, dtype=torch.float64))
        code = codes[:, t]
        total += logp.gather(1, code[:, None])[:, 0]
    assert torch.allclose(model.log_prob(codes), total, atol=1e-9)
    figures = model.loss(codes)
    assert figures["loss"].item() == pytest.approx(-total.sum().item() / codes.numel(), abs=1e-9)
    assert figures["bits_per_sample"].item() == pytest.approx(figures["loss"].item() / math.log(2))


def test_a_model_trained_on_a_pure_tone_sings_that_tone(tmp_path):
    rate, freq = 4000, 250.0
    t = np.arange(12 * rate) / rate
    write_wav(tmp_path / "tone.wav", 0.5 * np.sin(2 * np.pi * freq * t), rate)
    data = load_dataset(str(tmp_path / "tone.wav"), sample_rate=rate)
    torch.manual_seed(0)
    model = WaveNet(
        WaveNetConfig(layers=5, stacks=1, residual_channels=16, gate_channels=16, skip_channels=32, window=200), (rate,)
    )
    windows = model.prepare(data.train)  # (11 clips * 20, 200)
    assert windows.shape == (220, 200)
    opt = torch.optim.Adam(model.parameters(), 1e-2)
    g = torch.Generator().manual_seed(0)
    for _ in range(70):
        figures = model.train_step(windows[torch.randint(len(windows), (8,), generator=g)], {"adam": opt})
    assert figures["bits_per_sample"].item() < 0.5
    model.eval()
    sound = model.sample(1, torch.Generator().manual_seed(0), seconds=0.5)[0].numpy()  # (2000,)
    tail = sound[500:]
    spectrum = np.abs(np.fft.rfft(tail * np.hanning(len(tail))))
    dominant = np.fft.rfftfreq(len(tail), 1 / rate)[spectrum.argmax()]
    assert abs(dominant - freq) <= rate / len(tail)  # within one FFT bin (2.7 Hz)
    assert 0.25 < tail.std() < 0.45  # the tone's loudness (0.5 / sqrt 2), not silence or noise


# --- the command line -------------------------------------------------------------------------------
RATE = 1000
CLI_TINY = [
    "--data",
    "tones",
    "--sample-rate",
    str(RATE),
    "--layers",
    "3",
    "--stacks",
    "1",
    "--residual-channels",
    "4",
    "--gate-channels",
    "4",
    "--skip-channels",
    "8",
    "--window",
    "250",
    "--batch-size",
    "96",
    "--epochs",
    "1",
    "--device",
    "cpu",
]


def _read_wav(path):
    with wave.open(str(path)) as fh:
        assert (fh.getnchannels(), fh.getsampwidth()) == (1, 2)
        return fh.getframerate(), np.frombuffer(fh.readframes(fh.getnframes()), "<i2") / 32767


def test_cli_end_to_end(tmp_path, capsys):
    run = tmp_path / "wn"
    assert main(["train", "wavenet", *CLI_TINY, "--out", str(run)]) == 0
    out = capsys.readouterr().out
    assert "receptive field 9 samples (9.0 ms at 1000 Hz)" in out  # printed when training starts
    assert (run / "samples" / "epoch_0001.png").is_file()
    rate, epoch_sounds = _read_wav(run / "samples" / "epoch_0001.wav")  # each epoch's samples, to listen to
    assert rate == RATE and len(epoch_sounds) > RATE // 4
    from fastapi.testclient import TestClient

    from genlab.serve.app import create_app

    with TestClient(create_app(tmp_path)) as page:  # the Runs tab lists the sound and serves it as audio
        assert "samples/epoch_0001.wav" in page.get("/api/runs/info", params={"run": "wn"}).json()["pictures"]
        got = page.get("/api/runs/picture", params={"run": "wn", "path": "samples/epoch_0001.wav"})
        served = tmp_path / "served.wav"
        served.write_bytes(got.content)
        served_rate, played = _read_wav(served)  # a browser refuses 1 kHz: served at 8 kHz, the same sound
        assert (
            got.headers["content-type"] == "audio/wav" and served_rate == 8000 and len(played) == 8 * len(epoch_sounds)
        )
        bins = len(epoch_sounds) // 2  # the same Hz below the original Nyquist, at 8x the samples: the same spectrum
        spectra = [np.abs(np.fft.rfft(x))[1:bins] for x in (played, epoch_sounds)]
        assert np.corrcoef(*spectra)[0, 1] > 0.95
    # sample: a .wav of n sounds with short silences between, the same for the same seed
    assert (
        main(["sample", str(run), "--n", "2", "--seconds", "0.3", "--seed", "1", "--out", str(tmp_path / "a.wav")]) == 0
    )
    rate, a = _read_wav(tmp_path / "a.wav")
    assert rate == RATE and len(a) == 2 * 300 + 250
    assert np.abs(a[300:550]).max() == 0  # the gap
    assert (
        main(["sample", str(run), "--n", "2", "--seconds", "0.3", "--seed", "1", "--out", str(tmp_path / "b.npz")]) == 0
    )
    b = np.load(tmp_path / "b.npz")
    assert b["audio"].shape == (2, 300) and int(b["sample_rate"]) == RATE
    assert np.allclose(b["audio"][0], a[:300], atol=1 / 32767)
    assert main(["sample", str(run), "--n", "3", "--seconds", "0.2", "--out", str(tmp_path / "dir")]) == 0
    assert sorted(p.name for p in (tmp_path / "dir").iterdir()) == [
        f"000{i}.{x}" for i in range(3) for x in ("png", "wav")
    ]
    assert main(["sample", str(run), "--seconds", "0.25", "--out", str(tmp_path / "one.wav")]) == 0
    assert len(_read_wav(tmp_path / "one.wav")[1]) == 250  # without --n, one sound of the asked length
    # complete: the kept part comes back (μ-law quantized), then n different continuations
    clip = load_dataset("tones", sample_rate=RATE).test[0].numpy()
    write_wav(tmp_path / "clip.wav", clip, RATE)
    assert (
        main(
            [
                "complete",
                str(run),
                "--input",
                str(tmp_path / "clip.wav"),
                "--keep-seconds",
                "0.4",
                "--seconds",
                "0.1",
                "--n",
                "2",
                "--out",
                str(tmp_path / "c.npz"),
            ]
        )
        == 0
    )
    c = np.load(tmp_path / "c.npz")["audio"]
    kept = mu_law_decode(mu_law_encode(torch.from_numpy(clip[:400]))).numpy()
    assert c.shape == (2, 500) and np.allclose(c[:, :400], kept, atol=1e-3 + 1 / 32767)
    assert not np.array_equal(c[0, 400:], c[1, 400:])
    # evaluate: exact NLL per window, bits/dim = bits per sample
    assert main(["evaluate", str(run), "--quiet", "--out", str(tmp_path / "m.json")]) == 0
    report = json.loads((tmp_path / "m.json").read_text())
    assert report["images"] == 12 * 4 and report["dims_per_image"] == 250  # 12 test clips, 4 windows each
    assert report["nll_bits_per_dim"] == pytest.approx(report["nll_nats"] / (250 * math.log(2)))
    assert 1 < report["nll_bits_per_dim"] < 8  # below a uniform guess over 256 levels
    # user errors
    assert "--keep-seconds" in cli_error(
        capsys,
        [
            "complete",
            str(run),
            "--input",
            str(tmp_path / "clip.wav"),
            "--keep-seconds",
            "5",
            "--out",
            str(tmp_path / "x.wav"),
        ],
    )
    assert "--pixels" in cli_error(capsys, ["sample", str(run), "--pixels", "sample", "--out", str(tmp_path / "x.wav")])
    assert "--seconds" in cli_error(capsys, ["sample", str(run), "--seconds", "0", "--out", str(tmp_path / "x.wav")])
    assert "audio" in cli_error(capsys, ["train", "wavenet", "--data", "digits", "--out", str(tmp_path / "bad")])
    (tmp_path / "notwav.wav").write_text("hello")
    assert "notwav.wav" in cli_error(
        capsys, ["complete", str(run), "--input", str(tmp_path / "notwav.wav"), "--out", str(tmp_path / "x.wav")]
    )
    assert not (tmp_path / "x.wav").exists()


def test_silent_windows_are_left_out_of_training_but_not_of_the_test_figures(tmp_path, capsys):
    """Clips that sound in their first quarter only: an epoch steps over the loud training windows
    (--keep-silence: over all of them), and `evaluate` still scores every test window."""
    t = np.arange(RATE) / RATE
    (tmp_path / "wavs").mkdir()
    for i in range(20):
        write_wav(
            tmp_path / "wavs" / f"{i:02d}.wav", np.where(t < 0.25, 0.5 * np.sin(2 * np.pi * (40 + 7 * i) * t), 0), RATE
        )
    data = load_dataset(str(tmp_path / "wavs"), sample_rate=RATE)
    flags = [
        "--data",
        str(tmp_path / "wavs"),
        "--sample-rate",
        str(RATE),
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
        "--batch-size",
        "1",
        "--epochs",
        "1",
        "--device",
        "cpu",
        "--quiet",
    ]
    steps = {}
    for extra in ([], ["--keep-silence"]):
        run = tmp_path / f"run{len(extra)}"
        assert main(["train", "wavenet", *flags, *extra, "--out", str(run)]) == 0
        steps[bool(extra)] = max(int(r["step"]) for r in read_metrics(run / "metrics.csv"))
    assert (steps[False], steps[True]) == (len(data.train), 4 * len(data.train))  # one loud window of four per clip
    assert main(["evaluate", str(tmp_path / "run0"), "--n", "2", "--quiet", "--out", str(tmp_path / "m.json")]) == 0
    assert json.loads((tmp_path / "m.json").read_text())["images"] == 4 * len(data.test)  # every test window
