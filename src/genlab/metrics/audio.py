"""`genlab evaluate` on sound: how speech-like a WaveNet's samples are, beside its test NLL.

- Spectral flatness (Wiener entropy): 1024-sample Hann frames every 512 samples, each frame's mean
  removed, the power spectrum's geometric mean over its arithmetic mean, the median over every
  frame of every sound. White noise has about e^-γ ≈ 0.56 (the ratio for exponentially distributed
  powers), a pure tone almost 0, voiced speech a few hundredths. Frames quieter than -60 dBFS RMS
  (after the mean is removed) are left out: silence has no spectral shape.
- Log-mel distance: the mean log-mel spectrum (40 bands, 32 ms frames every 10 ms, frames above
  -60 dBFS) of the samples against that of the test clips, as the root-mean-square difference over
  the bands in dB: 0 when the two sets have the same average spectral envelope.
- Word recognition (class-conditional runs): a small word classifier (`SoundClassifier`: log-mel
  features pooled over time, scikit-learn's logistic regression) trained on the data's training
  split; its accuracy on the test split says how far it can be trusted, and the share of samples
  drawn for class k that it assigns to class k says how well the model says the asked word (over
  all samples, and per class under the data's name for it).
"""

from __future__ import annotations

import math

import numpy as np
import torch

from genlab.data import Dataset
from genlab.data.sound.spectrogram import frames, log_mel, power_spectrum

FLATNESS_FRAME, FLATNESS_HOP = 1024, 512
SILENCE_RMS = 1e-3  # -60 dBFS
SEGMENTS = 10  # the classifier's time resolution: mean log-mel of each tenth of a clip
MAX_SOUNDS = 32  # sounds drawn by `genlab evaluate` for these figures (generation is sample by sample)
EVAL_SECONDS = 0.75  # length of each drawn sound: a spoken word of the speech set fits


def _loud(chunks: torch.Tensor) -> torch.Tensor:
    """Which frames (..., n) are louder than SILENCE_RMS, (...,) bool."""
    return chunks.square().mean(-1).sqrt() > SILENCE_RMS


def spectral_flatness(clips: torch.Tensor) -> float | None:
    """Median spectral flatness of float sounds (N, T) over their non-silent frames (None if none)."""
    chunks = frames(clips.double(), FLATNESS_FRAME, FLATNESS_HOP)  # (N, F, 1024)
    chunks = chunks - chunks.mean(-1, keepdim=True)
    chunks = chunks[_loud(chunks)]  # (M, 1024)
    if len(chunks) == 0:
        return None
    power = power_spectrum(chunks) + 1e-30  # (M, 513); the floor keeps the log finite on exact zeros
    flatness = power.log().mean(-1).exp() / power.mean(-1)
    return float(flatness.median())


def loudness(clips: torch.Tensor) -> float:
    """RMS of the sounds (N, S) in [-1, 1], mean removed per sound: how loud they are, whatever their offset."""
    centred = clips.double() - clips.double().mean(-1, keepdim=True)
    return float(centred.square().mean().sqrt())


def mean_log_mel(clips: torch.Tensor, sample_rate: int) -> torch.Tensor | None:
    """The mean log-mel spectrum (40,) in dB over the non-silent frames of sounds (N, T)."""
    n_fft = 2 ** math.ceil(math.log2(0.032 * sample_rate))
    loud = _loud(frames(clips.double(), n_fft, max(1, round(0.010 * sample_rate))))  # (N, F), as log_mel frames them
    spec = log_mel(clips, sample_rate)[loud]  # (M, 40)
    return spec.mean(0) if len(spec) else None


def log_mel_distance(samples: torch.Tensor, reference: torch.Tensor, sample_rate: int) -> float | None:
    """RMS difference in dB over 40 mel bands of the two sets' mean log-mel spectra."""
    a, b = mean_log_mel(samples, sample_rate), mean_log_mel(reference, sample_rate)
    if a is None or b is None:
        return None
    return float((a - b).square().mean().sqrt())


class SoundClassifier:
    """Logistic regression on log-mel features: the mean spectrum of each tenth of the clip (which
    keeps the order of the sounds in a word), plus the mean and spread over the whole clip."""

    def __init__(self, sample_rate: int, length: int):
        self.sample_rate, self.length = sample_rate, length

    def features(self, clips: torch.Tensor) -> np.ndarray:
        """Sounds (N, T) -> features (N, (SEGMENTS + 2) * 40), each sound cut or padded to `length`."""
        clips = torch.nn.functional.pad(clips.double(), (0, max(0, self.length - clips.shape[1])))[:, : self.length]
        spec = log_mel(clips, self.sample_rate)  # (N, F, 40)
        parts = [part.mean(1) for part in spec.tensor_split(SEGMENTS, dim=1)]  # SEGMENTS x (N, 40)
        return torch.cat([*parts, spec.mean(1), spec.std(1)], 1).numpy()

    def fit(self, clips: torch.Tensor, labels: torch.Tensor) -> SoundClassifier:
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        self.model = make_pipeline(StandardScaler(), LogisticRegression(C=0.1, max_iter=2000))
        self.model.fit(self.features(clips), labels.numpy())
        return self

    def predict(self, clips: torch.Tensor) -> np.ndarray:
        return self.model.predict(self.features(clips))

    def accuracy(self, clips: torch.Tensor, labels: torch.Tensor) -> float:
        return float((self.predict(clips) == labels.numpy()).mean())


def classifier_for(data: Dataset) -> SoundClassifier:
    """A SoundClassifier trained on the training split of a labelled audio Dataset."""
    (rate,) = data.item_shape
    return SoundClassifier(rate, rate).fit(data.train, data.train_labels)


@torch.no_grad()
def audio_report(
    model, data: Dataset, test: torch.Tensor, n: int, seed: int = 0, seconds: float = EVAL_SECONDS
) -> dict:
    """Sound figures of `model`'s samples (min(n, MAX_SOUNDS) sounds of `seconds`) against the
    test clips `test` (N, R) of `data`."""
    rate = model.sample_rate
    count = min(n, MAX_SOUNDS)
    g = torch.Generator(device=model.device).manual_seed(seed)
    labels = torch.arange(count) % model.label_count if model.label_count else None
    samples = model.sample(count, generator=g, seconds=seconds, labels=labels).cpu()  # (count, S)
    report = {
        "sounds": count,
        "sound_seconds": seconds,
        "spectral_flatness": spectral_flatness(samples),
        "spectral_flatness_test": spectral_flatness(test),
        "log_mel_distance_db": log_mel_distance(samples, test, rate),
        "rms": loudness(samples),
        "rms_test": loudness(test),
    }
    if labels is not None and data.train_labels is not None and data.test_labels is not None:
        classifier = classifier_for(data)
        report["classifier_test_accuracy"] = classifier.accuracy(data.test, data.test_labels)
        asked = labels.numpy()
        hits = classifier.predict(samples) == asked  # (count,) bool
        report["recognised_as_asked"] = float(hits.mean())
        report["recognised_chance"] = 1 / model.label_count
        names = data.label_names or []
        report["recognised_by_class"] = {
            (names[k] if k < len(names) else str(k)): float(hits[asked == k].mean())
            for k in range(model.label_count)
            if (asked == k).any()
        }
    return report
