"""Spectrograms of sound: short-time power spectra of Hann-windowed frames (torch.fft.rfft) and
log-mel spectrograms (triangular filters evenly spaced on the HTK mel scale, 2595 log10(1 + f/700)).

Frames are taken without padding: a sound of T samples has 1 + (T - n_fft) // hop frames (none
when it is shorter than one frame).
"""

from __future__ import annotations

import math

import torch

DB_FLOOR = 1e-10  # power added before the logarithm: -100 dB, far below 16-bit quantisation noise


def frames(x: torch.Tensor, n_fft: int, hop: int) -> torch.Tensor:
    """Sounds (B, T) -> frames (B, F, n_fft), F = 1 + (T - n_fft) // hop (0 when T < n_fft)."""
    if x.shape[-1] < n_fft:
        return x.new_zeros(*x.shape[:-1], 0, n_fft)
    return x.unfold(-1, n_fft, hop)  # (B, T) -> (B, F, n_fft)


def power_spectrum(frame: torch.Tensor) -> torch.Tensor:
    """Frames (..., n) -> |rfft(Hann · frame)|², (..., n // 2 + 1)."""
    window = torch.hann_window(frame.shape[-1], dtype=frame.dtype, device=frame.device)
    return torch.fft.rfft(frame * window).abs().square()


def power_spectrogram(x: torch.Tensor, n_fft: int = 512, hop: int = 160) -> torch.Tensor:
    """Sounds (B, T) -> power spectra (B, F, n_fft // 2 + 1) of Hann frames every `hop` samples."""
    return power_spectrum(frames(x.double(), n_fft, hop))


def hz_to_mel(f: torch.Tensor | float) -> torch.Tensor:
    return 2595.0 * torch.log10(1.0 + torch.as_tensor(f, dtype=torch.float64) / 700.0)


def mel_to_hz(m: torch.Tensor) -> torch.Tensor:
    return 700.0 * (10.0 ** (m / 2595.0) - 1.0)


def mel_filterbank(n_fft: int, sample_rate: int, n_mels: int = 40) -> torch.Tensor:
    """Triangular filters (n_mels, n_fft // 2 + 1) from 0 Hz to the Nyquist frequency, each rising
    from the centre of its lower neighbour to its own centre and falling to the next one's."""
    edges = mel_to_hz(torch.linspace(0.0, float(hz_to_mel(sample_rate / 2)), n_mels + 2))  # (n_mels + 2,)
    bins = torch.arange(n_fft // 2 + 1, dtype=torch.float64) * sample_rate / n_fft  # (K,) bin frequencies
    lo, mid, hi = edges[:-2, None], edges[1:-1, None], edges[2:, None]  # (n_mels, 1) each
    rise, fall = (bins - lo) / (mid - lo), (hi - bins) / (hi - mid)  # (n_mels, K)
    return torch.clamp(torch.minimum(rise, fall), min=0.0)


def log_mel(
    x: torch.Tensor, sample_rate: int, n_mels: int = 40, frame_seconds: float = 0.032, hop_seconds: float = 0.010
) -> torch.Tensor:
    """Sounds (B, T) -> log-mel spectrograms in dB, (B, F, n_mels): 32 ms Hann frames every 10 ms."""
    n_fft = 2 ** math.ceil(math.log2(frame_seconds * sample_rate))
    power = power_spectrogram(x, n_fft, max(1, round(hop_seconds * sample_rate)))  # (B, F, K)
    mel = power @ mel_filterbank(n_fft, sample_rate, n_mels).T  # (B, F, n_mels)
    return 10.0 * torch.log10(mel + DB_FLOOR)
