"""The built-in `speech` set: spoken words that genlab makes on the user's machine with Debian's
offline speech synthesizer `flite` (CMU Flite 2.2, BSD-style licence), no download at run time.

Twelve words ("zero" ... "nine", "yes", "no") in four voices (slt, awb, kal16, rms; all 16 kHz), each
in six variants of speaking rate (flite's `duration_stretch`) and pitch (`int_f0_target_mean`):
12 x 4 x 6 = 288 utterances. flite 2.2's rms voice ignores the pitch target, so rms varies its rate
only (six rates). Every utterance is trimmed of the silence flite puts around it (a margin of 30 ms
is kept around the samples above 2% of its peak), scaled to a peak of 0.7, rounded to 16 bits and
placed at the start of a one-second clip (the rest is silence): the audio Dataset of
genlab/data/sound/wav.py, one clip per utterance.

Labels: `speech` labels each clip by its word (WORDS), `speech:voice` by its voice (VOICES);
`speech:yes,no` (any words of WORDS, comma-separated) is the set of those words only, labelled
0, 1, ... in the order given (built and cached on its own, in a few seconds). The Dataset's `files` name every clip's word, voice, rate and pitch. Split, by utterance: of each word's
24 utterances, 3 drawn by a seed-0 numpy generator are the test split (36 test, 252 train; every
word is in both splits, no utterance is).

The set is built once (about ten seconds) and cached under genlab's cache dir as safetensors,
keyed by the flite version and the settings; the same flite gives the same bytes on every build.
Without flite (and without a cached set) the spec stops with the command that installs it.
Fallback, not built in: the pip package `espeakng-loader` bundles the espeak-ng library (GPL-3),
driven through ctypes; it is deterministic only after `espeak_ng_SetRandSeed(0)` and speaks at
22.05 kHz (see docs/data.md).
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from genlab.data.sound.wav import audio_dataset, check_sample_rate, read_wav, resample
from genlab.data.cache import cache_dir
from genlab.data.dataset import SPLIT_SEED, Dataset
from genlab.core.errors import GenlabError
from genlab.core.fsutil import atomic_write_with

VERSION = 1  # bump when the recipe changes: older cached sets are then ignored
SYNTH_RATE = 16000  # the rate of the four voices and of the cached set
WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "yes", "no")
VOICES = ("slt", "awb", "kal16", "rms")
RATES = (0.85, 1.0, 1.2)  # duration_stretch: above 1 is slower
PITCHES = {"slt": (150, 200), "awb": (95, 130), "kal16": (90, 125)}  # mean F0 in Hz, low and high
RMS_RATES = (0.8, 0.9, 1.0, 1.1, 1.2, 1.3)  # rms ignores the pitch target: six rates instead
LABELLINGS = {"speech": "word", "speech:voice": "voice"}
MARGIN_SECONDS, QUIET_SHARE, PEAK = 0.03, 0.02, 0.7
TEST_PER_WORD = 3
INSTALL = (
    "the speech set is made on this machine by the offline speech synthesizer flite, which is not "
    "installed: install it (Debian/Ubuntu: `sudo apt-get install flite`, macOS: `brew install flite`) "
    "and run again"
)


@dataclass(frozen=True)
class Utterance:
    word: str
    voice: str
    rate: float
    pitch: int | None  # None: the voice's own

    def flite_args(self) -> list[str]:
        pitch = [] if self.pitch is None else ["--setf", f"int_f0_target_mean={self.pitch}"]
        return ["-voice", self.voice, "--setf", f"duration_stretch={self.rate}", *pitch, "-t", self.word]

    def describe(self) -> str:
        pitch = "" if self.pitch is None else f", mean F0 {self.pitch} Hz"
        return f"flite {self.voice}, rate x{1 / self.rate:.2f}{pitch}: {self.word}"


def utterances(words: tuple[str, ...] = WORDS) -> list[Utterance]:
    """Every utterance of the set, word by word, voice by voice."""
    out = []
    for word in words:
        for voice in VOICES:
            variants = (
                [(r, None) for r in RMS_RATES] if voice == "rms" else [(r, p) for r in RATES for p in PITCHES[voice]]
            )
            out.extend(Utterance(word, voice, rate, pitch) for rate, pitch in variants)
    return out


def flite() -> str | None:
    return shutil.which("flite")


def flite_version(binary: str) -> str:
    out = subprocess.run([binary, "--version"], capture_output=True, text=True, check=False)
    return " ".join((out.stdout + out.stderr).split())


def trim_and_scale(x: np.ndarray) -> np.ndarray:
    """float (T,) -> int16 (<= SYNTH_RATE,): the loud part with a margin, peak PEAK, rounded."""
    peak = float(np.abs(x).max())
    if peak == 0:
        raise GenlabError("flite wrote a silent utterance; check the flite installation")
    loud = np.flatnonzero(np.abs(x) > QUIET_SHARE * peak)
    margin = round(MARGIN_SECONDS * SYNTH_RATE)
    part = x[max(0, loud[0] - margin) : loud[-1] + 1 + margin][:SYNTH_RATE]
    return np.round(part.astype(np.float64) * (PEAK / peak) * 32767).astype(np.int16)


def synthesize(binary: str, utterance: Utterance, folder: Path, index: int) -> np.ndarray:
    """One utterance -> int16 (SYNTH_RATE,): a one-second clip, the word at its start."""
    path = folder / f"{index:04d}.wav"
    done = subprocess.run([binary, *utterance.flite_args(), "-o", str(path)], capture_output=True, check=False)
    if done.returncode != 0 or not path.is_file():
        raise GenlabError(
            f"flite could not speak {utterance.describe()!r} ({done.stderr.decode(errors='replace')[:200]!r})"
        )
    audio, rate = read_wav(path)
    mono = audio.mean(axis=1)
    if rate != SYNTH_RATE:
        mono = resample(mono, rate, SYNTH_RATE)
    clip = np.zeros(SYNTH_RATE, np.int16)
    word = trim_and_scale(mono)
    clip[: len(word)] = word
    return clip


def build(binary: str, items: list[Utterance]) -> np.ndarray:
    """Speak every utterance (a few flite processes at a time): int16 (N, SYNTH_RATE)."""
    with tempfile.TemporaryDirectory(prefix="genlab-speech-") as tmp, ThreadPoolExecutor(4) as pool:
        clips = pool.map(lambda iu: synthesize(binary, iu[1], Path(tmp), iu[0]), enumerate(items))
        return np.stack(list(clips))  # (N, SYNTH_RATE)


def _digest(value) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True).encode()).hexdigest()[:12]


def cached_set(words: tuple[str, ...] = WORDS) -> tuple[Path, np.ndarray, list[Utterance]]:
    """(cache file, int16 clips (N, SYNTH_RATE), their utterances): read from genlab's cache, or built
    with flite and cached first."""
    from safetensors import SafetensorError
    from safetensors.numpy import load_file, save_file

    items = utterances(words)
    binary = flite()
    recipe = {
        "version": VERSION,
        "rate": SYNTH_RATE,
        "items": [u.flite_args() for u in items],
        "trim": [MARGIN_SECONDS, QUIET_SHARE, PEAK],
    }
    name = f"speech-{len(items)}-{_digest(recipe)}"  # the set; then the flite that made it
    folder = cache_dir() / "speech"
    if binary is None:  # a set cached by an earlier flite can still be used
        found = sorted(folder.glob(f"{name}-*.safetensors"))
        if not found:
            raise GenlabError(INSTALL)
        path = found[-1]
    else:
        path = folder / f"{name}-{_digest(flite_version(binary))}.safetensors"
    try:
        clips = load_file(path)["audio"]
        if clips.shape == (len(items), SYNTH_RATE):
            return path, clips, items
    except (OSError, SafetensorError, KeyError):
        pass  # not built yet, or unreadable: (re)built below
    if binary is None:
        raise GenlabError(f"{path} is not a readable speech set and {INSTALL}")
    clips = build(binary, items)
    atomic_write_with(path, lambda tmp: save_file({"audio": clips}, str(tmp)))
    return path, clips, items


def split_by_word(items: list[Utterance]) -> tuple[np.ndarray, np.ndarray, str]:
    """(train indices, test indices, note): TEST_PER_WORD utterances of each word, drawn by a
    seed-0 generator, are the test split."""
    rng = np.random.default_rng(SPLIT_SEED)
    words = sorted({u.word for u in items}, key=[u.word for u in items].index)
    test = sorted(
        int(i)
        for w in words
        for i in rng.choice([i for i, u in enumerate(items) if u.word == w], TEST_PER_WORD, replace=False)
    )
    train = sorted(set(range(len(items))) - set(test))
    note = (
        f"{len(train)} train / {len(test)} test utterances: {TEST_PER_WORD} of each word's "
        f"{len(items) // len(words)} (voices, rates, pitches), drawn by a seed-{SPLIT_SEED} numpy generator, "
        f"are the test split"
    )
    return np.array(train), np.array(test), note


def spec_words(spec: str) -> tuple[str, ...]:
    """The words of `speech:WORD,WORD,...` (every word for `speech` and `speech:voice`)."""
    if spec in LABELLINGS:
        return WORDS
    words = tuple(w.strip() for w in spec.split(":", 1)[1].split(","))
    unknown = [w for w in words if w not in WORDS]
    if unknown or len(set(words)) != len(words) or len(words) < 2:
        raise GenlabError(
            f"{spec}: give `speech`, `speech:voice` or `speech:` with two or more different words "
            f"from {', '.join(WORDS)}, comma-separated (e.g. speech:yes,no)"
        )
    return words


def load_speech(spec: str = "speech", sample_rate: int | None = None) -> Dataset:
    """The `speech`, `speech:voice` or `speech:WORD,WORD,...` spec: one-second clips of spoken
    words, split by utterance."""
    rate = check_sample_rate(sample_rate)
    words = spec_words(spec)
    _, clips, items = cached_set(tuple(w for w in WORDS if w in words))
    audio = clips.astype(np.float32) / 32767  # (N, SYNTH_RATE) in [-1, 1]
    if rate != SYNTH_RATE:
        audio = np.stack([resample(a, SYNTH_RATE, rate) for a in audio])[:, :rate]  # (N, rate)
    labelling = LABELLINGS.get(spec, "word")
    names = list(words) if labelling == "word" else list(VOICES)
    labels = np.array([names.index(getattr(u, labelling)) for u in items], np.int64)
    train, test, note = split_by_word(items)
    files = [items[i].describe() for i in (*train, *test)]
    return audio_dataset(spec, audio[train], audio[test], note, labels[train], labels[test], names, files)
