"""`genlab complete` for sound: continue a .wav clip with a trained WaveNet, the audio analogue of
image completion (the known samples are kept, the rest is drawn one sample at a time)."""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from genlab import viz
from genlab.cli.args import class_label
from genlab.core.errors import GenlabError
from genlab.data.inputs.sound import load_audio_ref
from genlab.train.runs import LoadedRun

DEFAULT_SECONDS = 1.0  # generated after the kept part when --seconds is not given


def complete_audio(run: LoadedRun, ns: argparse.Namespace) -> None:
    """Keep the first --keep-seconds of --input (all of it by default), then draw --seconds more,
    --n times; write them the way --out asks (.wav: one after another, .png: spectrograms)."""
    out = viz.check_output_path(ns.out)
    model = run.model
    rate = model.sample_rate
    path = Path(ns.input)
    audio, label = load_audio_ref(
        ns.input, rate, run.config["data"]
    )  # mono at the run's rate; a bad file is a GenlabError naming it
    label = class_label(run, ns.label) if ns.label is not None else label  # --label wins over the clip's own
    labels = {"labels": label} if model.label_count else {}
    keep = len(audio)
    if ns.keep_seconds is not None:
        if not ns.keep_seconds > 0:
            raise GenlabError(f"--keep-seconds must be above 0, not {ns.keep_seconds}")
        keep = round(ns.keep_seconds * rate)
        if keep > len(audio):
            raise GenlabError(
                f"--keep-seconds {ns.keep_seconds:g} is longer than {path} ({len(audio) / rate:.3f} s at {rate} Hz)"
            )
    seconds = DEFAULT_SECONDS if ns.seconds is None else ns.seconds
    g = torch.Generator(device=model.device).manual_seed(ns.seed)
    sounds = model.complete(
        torch.from_numpy(audio[:keep]), seconds, n=ns.n, generator=g, temperature=ns.temperature, **labels
    )  # (n, keep + new); a conditional model keeps the clip's label
    paths = viz.save_output(sounds, out, sample_rate=rate)
    print(
        f"kept {keep / rate:.3f} s of {path.name} and continued it by {seconds:g} s in {ns.n} way(s): "
        f"{paths[0] if len(paths) == 1 else out}",
        flush=True,
    )
