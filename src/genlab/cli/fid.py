"""`genlab fid A B`: the distance between two image sets.

It works like `python -m pytorch_fid A B`: each side is a folder of images, a .npz/.npy file, or a
data spec with an optional split (`mnist5k:test`, `cifar10:train`; without a split, every item);
the default space is the FID Inception's pool3 with TF1 resizing.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import torch

from genlab.core.errors import GenlabError

SPLITS = ("train", "test", "all")


def split_of(text: str) -> tuple[str, str]:
    """(spec, split) of SPEC[:SPLIT]; a SPEC that loads with a word after it that is no split is
    refused naming the splits (`mnist5k:validation`)."""
    from genlab.data.specs import is_known_spec

    head, _, tail = text.rpartition(":")
    if not head or Path(text).exists():
        return text, "all"
    if tail in SPLITS:
        return head, tail
    if is_known_spec(head) and not is_known_spec(text):
        raise GenlabError(f"{text}: {head} has no split {tail!r}; use {head}:train, {head}:test or {head} (every item)")
    return text, "all"


def image_set(text: str, image_size: int | None = None) -> torch.Tensor:
    """uint8 images (N, C, H, W) of a folder, an array file, or SPEC[:SPLIT] (default: all items)."""
    from genlab.data import load_dataset
    from genlab.data.dataset import one_shared_item

    spec, split = split_of(text)
    data = load_dataset(spec, image_size=image_size)
    if data.kind != "image":
        raise GenlabError(f"{text}: FID compares images; {spec} holds {data.kind} items")
    if split == "all":  # a one-item set is both its splits: count it once
        return data.train if one_shared_item(data) else torch.cat([data.train, data.test])
    return data.train if split == "train" else data.test


def check_json_out(out: str | None) -> None:
    """--out of `genlab fid`: a .json file name whose folder can be written, checked before any work."""
    if not out:
        return
    path = Path(out)
    if not str(out).endswith(".json"):
        raise GenlabError(f"--out {out}: give a file name ending in .json")
    if path.is_dir():
        raise GenlabError(f"--out {out} is a folder; give a file name ending in .json (e.g. {path / 'fid.json'})")
    folder = path.parent if str(path.parent) else Path(".")
    existing = next((p for p in (folder, *folder.parents) if p.exists()), Path("."))
    if not existing.is_dir() or not os.access(existing, os.W_OK | os.X_OK):
        raise GenlabError(f"--out {out}: {existing} cannot be written to; choose a folder you can write to")


def cmd_fid(ns: argparse.Namespace) -> None:
    from genlab.core.fsutil import atomic_write_text
    from genlab.metrics.fid import fid, kid
    from genlab.metrics.spaces import named_space, warn_few, weights_note
    from genlab.train.trainer import resolve_device

    check_json_out(ns.out)
    if ns.features == "domain":
        raise GenlabError("--features domain needs the data set to train on: --features domain:SPEC")
    a, b = image_set(ns.a, ns.image_size), image_set(ns.b, ns.image_size)
    for images, text in ((a, ns.a), (b, ns.b)):
        if len(images) < 2:
            raise GenlabError(f"{text} holds {len(images)} image(s); FID needs at least 2 images in each set")
    channels = (1, 3)  # Inception: grey (copied to RGB) or RGB; genlab's network: its data's channels
    if ns.features.startswith("domain:"):
        from genlab.data import load_dataset

        channels = (load_dataset(ns.features[len("domain:") :]).item_shape[0],)
    for images, text in ((a, ns.a), (b, ns.b)):
        if images.shape[1] not in channels:
            raise GenlabError(
                f"{text}: images with {images.shape[1]} channel(s); {ns.features} features take "
                f"{' or '.join(map(str, channels))} (--image-size resizes folders; see `genlab data`)"
            )
    space = named_space(ns.features, device=resolve_device(ns.device), resize=ns.resize)
    warn_few(space, min(len(a), len(b)))
    fa, fb = space.embed(a), space.embed(b)
    result = {
        "fid": fid(fa, fb),
        "features": space.name,
        **weights_note(space),
        "a": ns.a,
        "b": ns.b,
        "n_a": len(a),
        "n_b": len(b),
    }
    line = f"FID: {result['fid']:.4f}"
    if ns.kid:
        k = kid(fa, fb)
        result.update(
            kid=k.mean, kid_std=k.std, kid_subsets={"subsets": k.subsets, "subset_size": k.subset_size, "std_ddof": 1}
        )
        line += f"  KID: {k.mean:.6f} ± {k.std:.6f} (subsets of {k.subset_size})"
    print(f"{line}  ({space.name}; {len(a)} vs {len(b)} images)")
    if ns.out:
        atomic_write_text(ns.out, json.dumps(result, indent=2) + "\n")
