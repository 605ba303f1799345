"""Sound for WaveNet: `.wav` files (a folder or one file) -> an audio Dataset of one-second clips
(the built-in `tones` and `speech` sets are made into the same clips, data/builtin/).

Every sound is converted to mono (the mean of its channels) at `--sample-rate` R Hz (default
16000; polyphase resampling with scipy), then cut into consecutive clips of exactly one second: a
Dataset of kind "audio" holds float32 clips (N, R) with values in [-1, 1], so its item shape
(R,) also says the sample rate. A last partial clip is padded with silence (zeros).

WAV files are read with Python's `wave` module: integer PCM, 8-bit (unsigned), 16, 24 or 32-bit,
any rate and channel count. A file that is not such a WAV (corrupt or empty header, no channels,
no frames, float samples, another format) stops the load with a one-line error naming it.
"""

from __future__ import annotations

import math
import struct
import wave
from pathlib import Path

import numpy as np
import torch

from genlab.core.errors import GenlabError
from genlab.core.fsutil import atomic_write_with
from genlab.data.dataset import SHARED_ITEM, Dataset, _tensor, held_out_count, one_line, tenth_split

DEFAULT_SAMPLE_RATE = 16000
MIN_SAMPLE_RATE, MAX_SAMPLE_RATE = 500, 192_000
FILE_RATES = (100, 768_000)  # sample rates a .wav file may have (it is resampled to --sample-rate)
AUDIO_EXTENSIONS = (".wav",)


def check_sample_rate(sample_rate: int | None) -> int:
    rate = DEFAULT_SAMPLE_RATE if sample_rate is None else sample_rate
    if isinstance(rate, bool) or not isinstance(rate, int) or not MIN_SAMPLE_RATE <= rate <= MAX_SAMPLE_RATE:
        raise GenlabError(
            f"--sample-rate must be a whole number of Hz between {MIN_SAMPLE_RATE} and "
            f"{MAX_SAMPLE_RATE} (got {sample_rate!r})"
        )
    return rate


# --- reading and writing .wav -------------------------------------------------------------------
def read_wav(path: str | Path) -> tuple[np.ndarray, int]:
    """A PCM .wav file -> (float32 (frames, channels) in [-1, 1], its sample rate)."""
    path = Path(path)
    try:
        with wave.open(str(path), "rb") as fh:
            channels, width, rate = fh.getnchannels(), fh.getsampwidth(), fh.getframerate()
            _check_header(path, channels, width, rate, fh.getnframes())
            raw = fh.readframes(fh.getnframes())
    except EOFError:
        raise GenlabError(
            f"{path} is not a readable WAV file (it is empty or its header is cut short); remove it or fix it"
        ) from None
    except (wave.Error, struct.error, ValueError) as exc:
        raise GenlabError(
            f"{path} is not a readable WAV file ({one_line(exc)}); genlab reads integer PCM "
            ".wav files (8, 16, 24 or 32-bit): convert it, e.g. with `ffmpeg -i IN -c:a pcm_s16le OUT.wav`"
        ) from None
    frames = len(raw) // (width * channels)  # a torn last frame is dropped
    if frames == 0:
        raise GenlabError(f"{path} holds no audio (0 frames); remove it")
    raw = raw[: frames * width * channels]
    if width == 1:  # 8-bit WAV is unsigned
        ints = np.frombuffer(raw, np.uint8).astype(np.int32) - 128
    elif width == 3:  # 24-bit little-endian: put the three bytes in the top of an int32
        b = np.frombuffer(raw, np.uint8).reshape(-1, 3).astype(np.int32)
        ints = ((b[:, 0] << 8) | (b[:, 1] << 16) | (b[:, 2] << 24)) >> 8
    else:
        ints = np.frombuffer(raw, f"<i{width}").astype(np.int64)
    scale = float(2 ** (8 * width - 1))
    return (ints / scale).astype(np.float32).reshape(frames, channels), rate  # (frames, channels)


def _check_header(path: Path, channels: int, width: int, rate: int, frames: int) -> None:
    """What a WAV header declares, checked before its samples are read: a sample rate within
    FILE_RATES and no more sample bytes than the file holds (the `wave` module would allocate them)."""
    if channels < 1:
        raise GenlabError(f"{path} is not a readable WAV file (its header says {channels} channels)")
    if not 1 <= width <= 4 or not FILE_RATES[0] <= rate <= FILE_RATES[1]:
        raise GenlabError(
            f"{path} is not a readable WAV file ({8 * width}-bit samples at {rate} Hz); genlab reads "
            f"8 to 32-bit PCM at {FILE_RATES[0]} to {FILE_RATES[1]} Hz"
        )
    declared, size = frames * channels * width, path.stat().st_size
    if declared > size:
        raise GenlabError(
            f"{path}'s header declares {frames:,} frames ({declared:,} bytes) but the file has "
            f"{size:,} bytes; the file is truncated or corrupt: remove it or fix it"
        )


def load_wav(path: str | Path, sample_rate: int | None = None) -> np.ndarray:
    """A .wav file -> mono float32 (T,) in [-1, 1] at `sample_rate` Hz (refused when the resampled
    sound would not fit in memory)."""
    from genlab.data.formats.npyfile import memory_bytes

    rate = check_sample_rate(sample_rate)
    audio, file_rate = read_wav(path)
    out_bytes = 8 * len(audio) * max(rate, file_rate) // file_rate  # resampling works in float64
    if 4 * out_bytes > memory_bytes():
        raise GenlabError(
            f"{path}: {len(audio):,} frames at {file_rate} Hz make {out_bytes // 8:,} samples at {rate} "
            "Hz, more than this machine's memory holds; cut the file into parts"
        )
    return resample(audio.mean(axis=1), file_rate, rate)


def resample(x: np.ndarray, rate: int, target: int) -> np.ndarray:
    """Polyphase resampling (scipy.signal.resample_poly, which filters out what the new rate
    cannot hold), float32 (T,) in [-1, 1]."""
    if rate == target:
        return np.clip(x, -1, 1).astype(np.float32)
    from scipy.signal import resample_poly

    g = math.gcd(rate, target)
    y = resample_poly(x.astype(np.float64), target // g, rate // g)
    return np.clip(y, -1, 1).astype(np.float32)


def wav_bytes(audio: np.ndarray, sample_rate: int) -> bytes:
    """float (T,) in [-1, 1] -> a mono 16-bit PCM .wav file's bytes."""
    import io

    pcm = np.round(np.clip(np.asarray(audio, np.float64), -1, 1) * 32767).astype("<i2")
    buf = io.BytesIO()
    with wave.open(buf, "wb") as fh:
        fh.setnchannels(1)
        fh.setsampwidth(2)
        fh.setframerate(sample_rate)
        fh.writeframes(pcm.tobytes())
    return buf.getvalue()


PLAYABLE_RATE = 8000  # browsers play PCM .wav from about 3 kHz up; slower sounds are played at this rate


def playable_wav(path: str | Path) -> bytes | None:
    """A .wav below PLAYABLE_RATE resampled to it (Chromium refuses a 2 kHz file), as the web page
    and the compare report play it; None when the file plays as it is."""
    audio, rate = read_wav(path)
    if rate >= PLAYABLE_RATE:
        return None
    return wav_bytes(resample(audio.mean(axis=1), rate, PLAYABLE_RATE), PLAYABLE_RATE)


def write_wav(path: str | Path, audio: np.ndarray | torch.Tensor, sample_rate: int) -> None:
    """Write mono audio as 16-bit PCM, atomically."""
    if isinstance(audio, torch.Tensor):
        audio = audio.detach().cpu().numpy()
    data = wav_bytes(audio, sample_rate)
    atomic_write_with(path, lambda tmp: Path(tmp).write_bytes(data))


# --- clips and datasets -------------------------------------------------------------------------
def one_second_clips(x: np.ndarray, sample_rate: int) -> np.ndarray:
    """Mono (T,) -> (ceil(T / R), R): consecutive one-second clips, the last padded with zeros."""
    n = max(1, math.ceil(len(x) / sample_rate))
    out = np.zeros(n * sample_rate, np.float32)
    out[: len(x)] = x
    return out.reshape(n, sample_rate)  # (n * R,) -> (n, R)


def audio_dataset(
    spec: str,
    train: np.ndarray,
    test: np.ndarray,
    split_note: str,
    train_labels: np.ndarray | None = None,
    test_labels: np.ndarray | None = None,
    label_names: list[str] | None = None,
    files: list[str] | None = None,
) -> Dataset:
    """Wrap float32 (N, R) one-second clips as an audio Dataset."""
    for x in (train, test):
        assert x.ndim == 2 and x.shape[1] == train.shape[1] and np.isfinite(x).all(), x.shape
    labels = [None if y is None else _tensor(np.asarray(y), np.int64) for y in (train_labels, test_labels)]
    return Dataset(
        spec,
        "audio",
        _tensor(train, np.float32),
        _tensor(test, np.float32),
        labels[0],
        labels[1],
        label_names,
        split_note,
        files,
    )


def find_wavs(folder: Path) -> list[Path]:
    from genlab.data.formats.folder import find_files

    return find_files(folder, AUDIO_EXTENSIONS)


def is_audio_folder(folder: Path) -> bool:
    """A folder with .wav files and no images is read as sound."""
    from genlab.data.formats.folder import find_images

    return bool(find_wavs(folder)) and not find_images(folder)


def load_wav_path(path: Path, spec: str, sample_rate: int | None) -> Dataset:
    """A .wav file or a folder of them -> one-second clips, split by file (or, for one file, by time)."""
    from genlab.data.formats.folder import _has_split_dirs

    rate = check_sample_rate(sample_rate)
    files = [path] if path.is_file() else find_wavs(path)
    clips = [one_second_clips(load_wav(f, rate), rate) for f in files]  # each (n_f, R)
    sources = [str(f) for f, c in zip(files, clips) for _ in range(len(c))]
    if len(files) == 1:
        n = len(clips[0])
        n_test = held_out_count(n) if n > 1 else 0
        train, test = clips[0][: n - n_test], clips[0][n - n_test :] if n_test else clips[0]
        note = (
            f"{len(train)} train / {len(test)} test clips of 1 s: the last {n_test} seconds of {files[0].name} "
            f"are the test split"
            if n_test
            else f"1 train / 1 test clip: the only second of sound {SHARED_ITEM}"
        )
        return audio_dataset(spec, train, test, note, files=sources[: len(train)] + sources[len(sources) - len(test) :])
    if _has_split_dirs(path, files):
        is_train = [f.relative_to(path).parts[0].lower() == "train" for f in files]
        train_files = [i for i, t in enumerate(is_train) if t]
        test_files = [i for i, t in enumerate(is_train) if not t]
        why = "the folder's own train/ and test/ subfolders"
    else:
        train_idx, test_idx, _ = tenth_split(len(files), "files")
        train_files, test_files = sorted(train_idx.tolist()), sorted(test_idx.tolist())
        why = (
            f"the last {len(test_files)} of a seed-0 permutation of the {len(files)} .wav files (sorted by path) "
            "are the test files"
        )
    train = np.concatenate([clips[i] for i in train_files])
    test = np.concatenate([clips[i] for i in test_files])
    note = f"{len(train)} train / {len(test)} test clips of 1 s: {why}"
    files_of = [str(files[i]) for i in train_files for _ in range(len(clips[i]))]
    files_of += [str(files[i]) for i in test_files for _ in range(len(clips[i]))]
    return audio_dataset(spec, train, test, note, files=files_of)
