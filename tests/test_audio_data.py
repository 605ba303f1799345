"""Sound as data: .wav reading (every PCM width, channels, rates), one-second clips and splits,
the built-in `tones`, writing .wav, and exit-2 errors for bad files."""

import struct
import wave

import numpy as np
import pytest
import torch

from genlab.cli import main
from genlab.data import load_dataset
from genlab.data.builtin.tones import tone_sounds
from genlab.data.sound.wav import load_wav, read_wav, write_wav


def _wav(path, frames: np.ndarray, rate: int, width: int):
    """frames: int array (T, C) already in the file's integer range."""
    if width == 1:
        raw = (frames + 128).astype(np.uint8).tobytes()
    elif width == 3:
        v = frames.astype("<i4").reshape(-1)
        raw = np.stack([v & 255, (v >> 8) & 255, (v >> 16) & 255], 1).astype(np.uint8).tobytes()
    else:
        raw = frames.astype(f"<i{width}").tobytes()
    with wave.open(str(path), "wb") as fh:
        fh.setnchannels(frames.shape[1])
        fh.setsampwidth(width)
        fh.setframerate(rate)
        fh.writeframes(raw)
    return path


@pytest.mark.parametrize("width", [1, 2, 3, 4])
def test_every_pcm_width_reads_to_the_same_values(tmp_path, width):
    full = 2 ** (8 * width - 1)
    values = np.array([-1.0, -0.5, 0.0, 0.25, 0.5 - 1 / full])
    frames = np.stack([np.round(values * full), np.round(values * full / 2)], 1).astype(np.int64)  # stereo
    audio, rate = read_wav(_wav(tmp_path / "x.wav", frames, 8000, width))
    assert rate == 8000 and audio.shape == (5, 2) and audio.dtype == np.float32
    assert np.allclose(audio, np.stack([values, values / 2], 1), atol=1 / full)
    assert np.allclose(load_wav(tmp_path / "x.wav", 8000), 0.75 * values, atol=1 / full)  # mono: the mean of L and R


def test_resampling_keeps_pitch_and_duration(tmp_path):
    rate = 8000
    t = np.arange(rate) / rate
    tone = np.round(0.5 * np.sin(2 * np.pi * 440 * t) * 32767).astype(np.int64)[:, None]
    path = _wav(tmp_path / "a.wav", tone, rate, 2)
    for target in (16000, 4000, 11025):
        x = load_wav(path, target)
        assert len(x) == target  # one second
        freqs = np.fft.rfftfreq(len(x), 1 / target)
        assert freqs[np.abs(np.fft.rfft(x)).argmax()] == pytest.approx(440, abs=1)
        assert x[target // 4 : 3 * target // 4].std() == pytest.approx(0.5 / np.sqrt(2), rel=0.01)


def test_clips_and_splits(tmp_path):
    rate = 1000
    one = tmp_path / "one.wav"
    write_wav(one, np.linspace(-0.5, 0.5, 12_300), rate)  # 12.3 s
    ds = load_dataset(str(one), sample_rate=rate)
    assert ds.kind == "audio" and ds.item_shape == (rate,)
    assert (len(ds.train), len(ds.test)) == (12, 1)  # 13 clips of 1 s, the last one padded; 10% -> 1 test
    assert ds.files == [str(one)] * 13
    assert ds.test[0, 300:].abs().max() == 0 and ds.test[0, 299] != 0  # the padding is silence
    assert torch.allclose(ds.train.flatten()[:5], torch.linspace(-0.5, 0.5, 12_300)[:5], atol=1 / 32767)
    folder = tmp_path / "many"
    for i in range(10):
        write_wav(folder / f"sub{i % 2}" / f"{i}.wav", np.full(2 * rate, i / 20), rate)
    ds = load_dataset(str(folder), sample_rate=rate)
    assert (len(ds.train), len(ds.test)) == (18, 2)  # 9 files / 1 file, 2 clips each
    assert len(ds.files) == 20 and ds.files[-1] == ds.files[-2]
    split = tmp_path / "split"
    write_wav(split / "train" / "a.wav", np.zeros(3 * rate), rate)
    write_wav(split / "test" / "b.wav", np.zeros(rate), rate)
    ds = load_dataset(str(split), sample_rate=rate)
    assert (len(ds.train), len(ds.test)) == (3, 1) and "train/ and test/" in ds.split_note


def test_tones_are_deterministic_and_band_limited():
    a, b = load_dataset("tones", sample_rate=8000), load_dataset("tones", sample_rate=8000)
    assert torch.equal(a.train, b.train) and a.train.shape == (108, 8000) and a.test.shape == (12, 8000)
    assert a.label_names == ["note", "chord", "chirp"]
    for rate in (500, 16000):
        sounds, labels = tone_sounds(rate)
        assert np.isfinite(sounds).all() and np.bincount(labels).tolist() == [40, 40, 40]
        peaks = np.abs(sounds).max(1)
        assert (peaks >= 0.3 - 1e-6).all() and (peaks <= 0.8 + 1e-6).all()
        power = np.abs(np.fft.rfft(sounds, axis=1)) ** 2  # no partial near Nyquist, only onset leakage
        assert power[:, int(0.46 * rate) :].sum() < 1e-3 * power.sum()


def _riff(fmt_tag=1, channels=1, width=2, rate=8000, data=b"\x00\x00" * 10):
    fmt = struct.pack("<HHIIHH", fmt_tag, channels, rate, rate * channels * width, channels * width, 8 * width)
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"data" + struct.pack("<I", len(data)) + data
    return b"RIFF" + struct.pack("<I", len(body)) + body


@pytest.mark.parametrize(
    "name,content,why",
    [
        ("empty.wav", b"", "empty"),
        ("text.wav", b"this is not a sound file at all", "RIFF"),
        ("nochannels.wav", _riff(channels=0), "channels"),
        ("float.wav", _riff(fmt_tag=3, width=4, data=b"\x00" * 40), "format"),
        ("noframes.wav", _riff(data=b""), "no audio"),
        ("cut.wav", _riff()[:30], "readable WAV"),
    ],
)
def test_bad_audio_is_one_line_exit_2_naming_the_file(tmp_path, capsys, name, content, why):
    folder = tmp_path / "sounds"
    write_wav(folder / "good.wav", np.zeros(100), 1000)
    (folder / name).write_bytes(content)
    for spec in (folder / name, folder):  # the file itself, and a folder that holds it
        assert main(["data", str(spec)]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("genlab: error: ") and name in err[0] and why in err[0], err
    assert main(["data", "tones", "--sample-rate", "100"]) == 2
    assert "--sample-rate" in capsys.readouterr().err


def test_data_command_writes_sound_and_spectrograms(tmp_path, capsys):
    assert main(["data", "tones", "--sample-rate", "800", "--out", str(tmp_path / "t.wav")]) == 0
    assert "one-second clips at 800 Hz" in capsys.readouterr().out
    with wave.open(str(tmp_path / "t.wav")) as fh:
        assert fh.getframerate() == 800 and fh.getnframes() == 64 * 800 + 63 * 200  # 64 clips, gaps of 0.25 s
    assert main(["data", "tones", "--sample-rate", "800", "--out", str(tmp_path / "t.png")]) == 0
    assert (tmp_path / "t.png").stat().st_size > 10_000
