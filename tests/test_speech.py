"""The built-in `speech` set: made offline by flite, byte-identical on every build, split by
utterance, labelled with the words actually spoken (a word classifier on the test split is far above
chance), drawn as spectrograms and written as a .wav; without flite it is a one-line exit-2 error."""

import shutil
import wave

import numpy as np
import pytest
import torch
from PIL import Image

from clihelp import cli_error
from genlab.cli import main
from genlab.data import load_dataset
from genlab.data.builtin.speech import PEAK, SYNTH_RATE, TEST_PER_WORD, WORDS, cached_set, utterances
from genlab.data.sound.spectrogram import log_mel, mel_filterbank, power_spectrogram
from genlab.core.errors import GenlabError
from genlab.metrics.audio import classifier_for

needs_flite = pytest.mark.skipif(
    shutil.which("flite") is None, reason="flite is not installed (scripts/dev.sh test installs Debian's flite as root)"
)


@pytest.fixture(scope="module")
def speech(tmp_path_factory):
    """The whole set, built once into a cache of its own."""
    cache = tmp_path_factory.mktemp("cache")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("GENLAB_CACHE", str(cache))
        yield load_dataset("speech"), cache


@needs_flite
def test_two_builds_are_byte_identical(tmp_path, monkeypatch):
    files = []
    for build in ("a", "b"):
        monkeypatch.setenv("GENLAB_CACHE", str(tmp_path / build))
        path, clips, items = cached_set(words=("zero", "one"))
        files.append(path)
    assert files[0].name == files[1].name and files[0].read_bytes() == files[1].read_bytes()
    assert (
        clips.shape == (48, SYNTH_RATE) and clips.dtype == np.int16 and [u.word for u in items[::24]] == ["zero", "one"]
    )
    # every utterance is scaled to the same peak, starts within the 30 ms margin and ends in silence
    assert (np.abs(clips).max(1) == round(PEAK * 32767)).all()
    first_loud = (np.abs(clips) > 0.02 * np.abs(clips).max(1, keepdims=True)).argmax(1)
    assert (first_loud <= 0.03 * SYNTH_RATE + 1).all() and (clips[:, -SYNTH_RATE // 5 :] == 0).all()
    assert len({c.tobytes() for c in clips}) == 48  # voices, rates and pitches all differ
    # read again from the cache: the same clips; a two-word spec is labelled in the order it names the words
    assert np.array_equal(cached_set(words=("zero", "one"))[1], clips)
    two = load_dataset("speech:one,zero")
    assert two.label_names == ["one", "zero"] and (len(two.train), len(two.test)) == (42, 6)
    assert all(
        name.endswith(": " + two.label_names[y])
        for name, y in zip(two.files, torch.cat([two.train_labels, two.test_labels]).tolist())
    )
    assert torch.equal(two.train[two.train_labels == 1][0], torch.from_numpy(clips[0] / np.float32(32767)))
    # without flite a cached set is still read, and only the set that was asked for
    monkeypatch.setenv("PATH", str(tmp_path / "nowhere"))
    assert torch.equal(load_dataset("speech:zero,one").test, two.test)
    with pytest.raises(GenlabError, match="apt-get install flite"):
        load_dataset("speech:yes,no")


@needs_flite
def test_the_set_is_split_by_utterance_and_labelled_by_the_spoken_word(speech):
    data, _ = speech
    assert data.kind == "audio" and data.item_shape == (16000,) and data.label_names == list(WORDS)
    assert len(data.train) + len(data.test) == len(utterances()) == 288
    assert torch.bincount(data.test_labels).tolist() == [TEST_PER_WORD] * len(WORDS)
    assert not set(data.files[: len(data.train)]) & set(data.files[len(data.train) :])  # no utterance in both
    for label, name in zip(data.train_labels[:20].tolist(), data.files[:20]):
        assert name.endswith(": " + WORDS[label])
    accuracy = classifier_for(data).accuracy(data.test, data.test_labels)
    assert accuracy >= 0.75, accuracy  # chance is 1/12
    wrong = classifier_for(type(data)(**{**vars(data), "train_labels": data.train_labels.roll(21)}))
    assert wrong.accuracy(data.test, data.test_labels) < 0.3  # shuffled labels: nothing to learn
    voices = load_dataset("speech:voice")
    assert voices.label_names == ["slt", "awb", "kal16", "rms"] and torch.equal(voices.test, data.test)


@needs_flite
def test_data_command_draws_spectrograms_and_writes_a_wav(speech, tmp_path, capsys):
    assert main(["data", "speech", "--out", str(tmp_path / "grid.png")]) == 0
    out = capsys.readouterr().out
    assert "252 train / 36 test utterances" in out and "zero 21/3" in out
    with Image.open(tmp_path / "grid.png") as im:
        assert im.width > 800 and im.height > 1000
    assert main(["data", "speech", "--sample-rate", "8000", "--out", str(tmp_path / "words.wav")]) == 0
    with wave.open(str(tmp_path / "words.wav")) as fh:
        assert fh.getframerate() == 8000 and fh.getnframes() == 64 * 8000 + 63 * 2000  # 64 words, gaps of 0.25 s


def test_without_flite_the_spec_says_how_to_install_it(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("PATH", str(tmp_path))  # no flite on it
    monkeypatch.setenv("GENLAB_CACHE", str(tmp_path / "cache"))
    line = cli_error(capsys, ["data", "speech"])
    assert "flite" in line and "apt-get install flite" in line
    assert "comma-separated" in cli_error(capsys, ["data", "speech:yes,maybe"])


def test_spectrogram_maths():
    rate = 16000
    t = torch.arange(rate, dtype=torch.float64) / rate
    tone = torch.sin(2 * torch.pi * 1000 * t)[None]  # exactly on bin 32 of a 512-point frame
    power = power_spectrogram(tone, 512, 160)
    assert power.shape == (1, 1 + (rate - 512) // 160, 257)
    assert (power.argmax(-1) == 32).all()
    # Parseval: Σ|X_k|² over the full spectrum = n Σ (w x)²; the one-sided bins count twice but DC and Nyquist
    frame = tone[0, :512] * torch.hann_window(512, dtype=torch.float64)
    one_sided = power[0, 0]
    assert (one_sided[0] + 2 * one_sided[1:-1].sum() + one_sided[-1]).item() == pytest.approx(
        512 * frame.square().sum().item()
    )
    bank = mel_filterbank(512, rate, 40)
    assert bank.shape == (40, 257) and (bank.max(1).values > 0.5).all() and (bank >= 0).all()
    mel = log_mel(tone, rate)
    assert mel.shape == (1, 1 + (rate - 512) // 160, 40)
    # the loudest band is the one whose filter weighs 1000 Hz (bin 32) the most
    assert (mel[0].argmax(-1) == bank[:, 32].argmax()).all()
