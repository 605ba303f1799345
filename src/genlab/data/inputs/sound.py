"""A sound a user points at: a .wav file, or SPEC:SPLIT:INDEX (e.g. speech:test:3), the clip of a
data spec together with its class label (what `genlab complete` keeps for a conditional WaveNet)."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from genlab.core.errors import GenlabError

_REF = re.compile(r"^(?P<spec>.+):(?P<split>train|test):(?P<index>-?\d+)$")


def load_audio_ref(text: str, sample_rate: int, data_options: dict | None = None) -> tuple[np.ndarray, int | None]:
    """-> (mono float32 (T,) at sample_rate, the clip's label or None for a file or unlabelled data)."""
    from genlab.data.sound.wav import load_wav
    from genlab.data.specs import load_dataset

    match = _REF.match(text)
    if match and not Path(text).exists():
        opts = {k: v for k, v in (data_options or {}).items() if k != "data"}
        data = load_dataset(match["spec"], **{**opts, "sample_rate": sample_rate})
        if data.kind != "audio":
            raise GenlabError(f"{match['spec']} holds {data.kind} items, not sound")
        items = data.train if match["split"] == "train" else data.test
        labels = data.train_labels if match["split"] == "train" else data.test_labels
        index = int(match["index"])
        if not -len(items) <= index < len(items):
            raise GenlabError(f"{text}: index {index} is outside the {match['split']} split (0..{len(items) - 1})")
        return items[index].numpy(), None if labels is None else int(labels[index])
    path = Path(text)
    if not path.is_file():
        raise GenlabError(f"--input {text}: give a .wav file or SPEC:SPLIT:INDEX (e.g. speech:test:3)")
    return load_wav(path, sample_rate), None
