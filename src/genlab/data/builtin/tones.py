"""The built-in `tones` set: 120 synthetic one-second sounds (40 notes, 40 chords, 40 chirps) made
from a seed-0 generator at the asked sample rate, split 108 / 12 by a seed-0 permutation."""

from __future__ import annotations

import numpy as np

from genlab.data.dataset import Dataset, tenth_split
from genlab.data.sound.wav import audio_dataset, check_sample_rate

TONES_SEED = 0
TONES_PER_KIND = 40  # notes, chords, chirps: 120 one-second sounds
TONE_KINDS = ["note", "chord", "chirp"]


def _envelope(n: int, rate: int, attack: float, decay: float) -> np.ndarray:
    """Linear attack, exponential decay, 20 ms fade-out at the end."""
    t = np.arange(n) / rate
    env = np.minimum(1.0, t / attack) * np.exp(-np.maximum(0.0, t - attack) / decay)
    fade = max(1, int(0.02 * rate))
    env[-fade:] *= np.linspace(1.0, 0.0, fade)
    return env


def _note(freq: float, t: np.ndarray, rate: int, phase: float) -> np.ndarray:
    """A harmonic tone: partials k·f with amplitude 1/k², those below 0.45·rate (a fundamental too
    high for the rate drops by octaves)."""
    while freq >= 0.45 * rate:
        freq /= 2
    out = np.zeros_like(t)
    for k in range(1, 6):
        if k * freq < 0.45 * rate:
            out += np.sin(2 * np.pi * k * freq * t + k * phase) / k**2
    return out


def midi_hz(pitch: float) -> float:
    return 440.0 * 2 ** ((pitch - 69) / 12)


def tone_sounds(sample_rate: int) -> tuple[np.ndarray, np.ndarray]:
    """The 120 one-second `tones` sounds -> (float32 (120, R), kind labels): notes (harmonic tones,
    MIDI 45..81 = 110..880 Hz), major/minor triads, exponential chirps; made from a seed-0 rng."""
    rng = np.random.default_rng(TONES_SEED)
    rate = sample_rate
    t = np.arange(rate) / rate
    top = min(2000.0, 0.4 * rate)  # highest chirp frequency
    sounds, labels = [], []
    for kind in range(len(TONE_KINDS)):
        for _ in range(TONES_PER_KIND):
            attack, decay = rng.uniform(0.005, 0.05), rng.uniform(0.3, 1.5)
            if kind == 0:
                wave_ = _note(midi_hz(rng.integers(45, 82)), t, rate, rng.uniform(0, 2 * np.pi))
            elif kind == 1:
                root, third = rng.integers(45, 70), rng.choice([3, 4])  # minor or major
                wave_ = sum(_note(midi_hz(root + step), t, rate, rng.uniform(0, 2 * np.pi)) for step in (0, third, 7))
            else:
                f0, f1 = np.exp(rng.uniform(np.log(100.0), np.log(top), size=2))
                k = np.log(f1 / f0)
                phase = 2 * np.pi * f0 * (np.expm1(k * t) / k if abs(k) > 1e-9 else t)
                wave_, decay = np.sin(phase), 10.0
            amp = rng.uniform(0.3, 0.8)
            sound = wave_ * _envelope(rate, rate, attack, decay)
            sounds.append(amp * sound / np.abs(sound).max())
            labels.append(kind)
    return np.stack(sounds).astype(np.float32), np.array(labels, np.int64)  # (120, R)


def load_tones(sample_rate: int | None = None) -> Dataset:
    """The built-in `tones` spec: 120 synthetic one-second sounds, split 108 / 12 by a seed-0 permutation."""
    rate = check_sample_rate(sample_rate)
    sounds, labels = tone_sounds(rate)
    train_idx, test_idx, note = tenth_split(len(sounds), "one-second sounds (40 notes, 40 chords, 40 chirps)")
    return audio_dataset(
        "tones", sounds[train_idx], sounds[test_idx], note, labels[train_idx], labels[test_idx], TONE_KINDS
    )
