"""Images on the page: uint8 tensors <-> PNG data URLs at their own size (the page scales them up
with `image-rendering: pixelated`)."""
from __future__ import annotations

import base64
import io

import torch
from PIL import Image


def png_url(image: torch.Tensor) -> str:
    """uint8 (C, H, W) with C = 1 or 3 -> "data:image/png;base64,..."."""
    array = image.detach().cpu().permute(1, 2, 0).numpy()  # (C, H, W) -> (H, W, C)
    pic = Image.fromarray(array[:, :, 0], "L") if array.shape[2] == 1 else Image.fromarray(array, "RGB")
    buf = io.BytesIO()
    pic.save(buf, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def png_urls(images: torch.Tensor) -> list[str]:
    return [png_url(im) for im in images]


PLAYABLE_RATE = 8000  # browsers play PCM .wav from about 3 kHz up; slower sounds are served at this rate


def playable_wav(path) -> bytes | None:
    """A .wav below PLAYABLE_RATE resampled to it (Chromium refuses a 2 kHz file); None when the
    file plays as it is."""
    from genlab.data.audio import read_wav, resample, wav_bytes

    audio, rate = read_wav(path)
    if rate >= PLAYABLE_RATE:
        return None
    return wav_bytes(resample(audio.mean(axis=1), rate, PLAYABLE_RATE), PLAYABLE_RATE)
