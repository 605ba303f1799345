"""Sound figures of `genlab evaluate`: spectral flatness and the log-mel distance measure what they
say on sounds whose answer is known, a conditional run reports word recognition, and every WAV that
`sample` / `complete` write gets a spectrogram PNG beside it."""

import json
import math

import numpy as np
import pytest
import torch
from PIL import Image

from clihelp import train_conditional_tones
from genlab.cli import main
from genlab.metrics.audio import log_mel_distance, loudness, spectral_flatness
from threads import one_thread  # noqa: F401  (autouse fixture)

RATE = 16000
T = torch.arange(RATE, dtype=torch.float64) / RATE


def test_spectral_flatness_of_noise_tones_and_silence():
    g = torch.Generator().manual_seed(0)
    noise = 0.3 * torch.randn(8, RATE, generator=g, dtype=torch.float64)
    # white noise: powers are exponentially distributed, so geometric / arithmetic mean -> e^-γ
    assert spectral_flatness(noise) == pytest.approx(math.exp(-0.5772156649), abs=0.02)
    tone = 0.5 * torch.sin(2 * torch.pi * 440 * T)[None]
    assert spectral_flatness(tone) < 1e-4
    # a DC offset is removed before the spectrum: an offset tone is still a tone
    assert spectral_flatness(tone + 0.3) < 1e-4
    # silent frames are left out: a tone followed by silence is as flat as the tone; silence alone has none
    half = torch.cat([tone[:, : RATE // 2], torch.zeros(1, RATE // 2, dtype=torch.float64)], 1)
    assert spectral_flatness(half) == pytest.approx(spectral_flatness(tone), rel=0.5)
    assert spectral_flatness(torch.zeros(2, RATE)) is None
    assert loudness(tone + 0.3) == pytest.approx(loudness(tone)) == pytest.approx(float(tone.std()), rel=1e-3)
    assert loudness(2 * tone) == pytest.approx(2 * loudness(tone))
    # noise mixed into a tone raises its flatness in between
    assert 1e-4 < spectral_flatness(tone + 0.05 * noise[:1]) < 0.5


def test_log_mel_distance():
    low = 0.5 * torch.sin(2 * torch.pi * 300 * T)[None]
    high = 0.5 * torch.sin(2 * torch.pi * 3000 * T)[None]
    assert log_mel_distance(low, low, RATE) == 0.0
    noise = 0.1 * torch.randn(2, RATE, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    louder = log_mel_distance(noise, 2 * noise, RATE)  # twice the amplitude is +6.02 dB in every band
    # (noise is loud in every band; the -100 dB floor of the log is 50 dB below the quietest)
    assert louder == pytest.approx(20 * math.log10(2), abs=1e-6)
    assert log_mel_distance(low, high, RATE) > 10 * louder  # a different spectral envelope is far
    assert log_mel_distance(low, torch.zeros(1, RATE), RATE) is None


@pytest.fixture(scope="module")
def conditional_tones(tmp_path_factory):
    root = tmp_path_factory.mktemp("wne")
    run = root / "run"
    train_conditional_tones(run, 2000)
    return root, run


def test_evaluate_reports_sound_figures_and_word_recognition(conditional_tones, capsys):
    root, run = conditional_tones
    assert main(["evaluate", str(run), "--n", "6", "--out", str(root / "m.json"), "--quiet"]) == 0
    report = json.loads((root / "m.json").read_text())
    assert report["sounds"] == 6 and 0 < report["nll_bits_per_sample"] <= 8.5
    assert report["nll_bits_per_sample"] == report["nll_bits_per_dim"]
    assert 0 <= report["spectral_flatness"] <= 1 and 0 <= report["spectral_flatness_test"] < 0.2  # tones are tonal
    assert 0.15 < report["rms_test"] < 0.45 and report["rms"] >= 0  # the built-in tones' RMS is about 0.29
    assert report["log_mel_distance_db"] > 0
    assert report["classifier_test_accuracy"] >= 0.75  # notes / chords / chirps, chance 1/3
    assert report["recognised_as_asked"] in {k / 6 for k in range(7)} and report["recognised_chance"] == 1 / 3
    by_class = report["recognised_by_class"]  # six sounds, each class asked twice, named as the data names it
    assert list(by_class) == ["note", "chord", "chirp"] and set(by_class.values()) <= {0, 0.5, 1}
    assert sum(by_class.values()) / 3 == pytest.approx(report["recognised_as_asked"])
    shown = ", ".join(f"{name} {share:.2f}" for name, share in by_class.items())
    assert f"recognised_by_class: {shown}" in capsys.readouterr().out


def test_sample_and_complete_write_a_spectrogram_beside_every_wav(conditional_tones, tmp_path):
    _, run = conditional_tones
    assert main(["sample", str(run), "--n", "2", "--seconds", "0.2", "--out", str(tmp_path / "new.wav")]) == 0
    assert main(["sample", str(run), "--n", "2", "--seconds", "0.2", "--out", str(tmp_path / "each")]) == 0
    assert (
        main(
            [
                "complete",
                str(run),
                "--input",
                "tones:test:1",
                "--keep-seconds",
                "0.2",
                "--seconds",
                "0.1",
                "--n",
                "1",
                "--out",
                str(tmp_path / "more.wav"),
            ]
        )
        == 0
    )
    for png in ("new.png", "each/0000.png", "each/0001.png", "more.png"):
        with Image.open(tmp_path / png) as im:
            pixels = np.asarray(im.convert("L"))
            assert im.width > 500 and pixels.std() > 10, png  # a drawn figure, not a blank page
