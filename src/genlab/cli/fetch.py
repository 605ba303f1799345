"""`genlab fetch` (the only verb that downloads) and `genlab fid A B` (the distance between two image sets).

`genlab fid` works like `python -m pytorch_fid A B`: each side is a folder of images, a .npz/.npy
file, or a data spec with an optional split (`mnist5k:test`, `cifar10:train`; without a split,
every item); the default space is the FID Inception's pool3 with TF1 resizing.
"""
from __future__ import annotations

import argparse
import json

import torch

from genlab.core.errors import GenlabError

SPLITS = ("train", "test", "all")


def cmd_fetch(ns: argparse.Namespace) -> None:
    if ns.what == "inception":
        from genlab.metrics.inception_weights import fetch_inception

        path = fetch_inception(ns.source, mirror=ns.mirror, quiet=ns.quiet)
        print(f"stored the FID Inception weights in {path}")
        return
    from genlab.data.fetch import DATASETS, fetch_dataset

    if ns.what not in DATASETS:
        raise GenlabError(f"cannot fetch {ns.what!r}: choose inception or one of {', '.join(DATASETS)}")
    if ns.source:
        raise GenlabError("--from imports the Inception weights only; data sets are downloaded (use --mirror)")
    folder = fetch_dataset(ns.what, mirror=ns.mirror, quiet=ns.quiet)
    print(f"{ns.what} is in {folder}; use it as the data spec `{ns.what}`")


def image_set(text: str, image_size: int | None = None) -> torch.Tensor:
    """uint8 images (N, C, H, W) of a folder, an array file, or SPEC[:SPLIT] (default: all items)."""
    from pathlib import Path

    from genlab.data import load_dataset

    spec, split = text, "all"
    head, _, tail = text.rpartition(":")
    if head and tail in SPLITS and not Path(text).exists():
        spec, split = head, tail
    data = load_dataset(spec, image_size=image_size)
    if data.kind != "image":
        raise GenlabError(f"{text}: FID compares images; {spec} holds {data.kind} items")
    if split == "all":  # a one-item set is both its splits: count it once
        one = len(data.train) == len(data.test) == 1 and torch.equal(data.train, data.test)
        return data.train if one else torch.cat([data.train, data.test])
    return data.train if split == "train" else data.test


def cmd_fid(ns: argparse.Namespace) -> None:
    from genlab.core.fsutil import atomic_write_text
    from genlab.metrics.fid import fid, kid
    from genlab.metrics.spaces import named_space, warn_few, weights_note
    from genlab.train.trainer import resolve_device

    if ns.out and not str(ns.out).endswith(".json"):
        raise GenlabError(f"--out {ns.out}: give a file name ending in .json")
    if ns.features == "domain":
        raise GenlabError("--features domain needs the data set to train on: --features domain:SPEC")
    a, b = image_set(ns.a, ns.image_size), image_set(ns.b, ns.image_size)
    if min(len(a), len(b)) < 2:
        raise GenlabError("FID needs at least 2 images in each set")
    channels = (1, 3)  # Inception: grey (copied to RGB) or RGB; genlab's network: its data's channels
    if ns.features.startswith("domain:"):
        from genlab.data import load_dataset

        channels = (load_dataset(ns.features[len("domain:"):]).item_shape[0],)
    for images, text in ((a, ns.a), (b, ns.b)):
        if images.shape[1] not in channels:
            raise GenlabError(f"{text}: images with {images.shape[1]} channel(s); {ns.features} features take "
                              f"{' or '.join(map(str, channels))} (--image-size resizes folders; see `genlab data`)")
    space = named_space(ns.features, device=resolve_device(ns.device), resize=ns.resize)
    warn_few(space, min(len(a), len(b)))
    fa, fb = space.embed(a), space.embed(b)
    result = {"fid": fid(fa, fb), "features": space.name, **weights_note(space), "a": ns.a, "b": ns.b,
              "n_a": len(a), "n_b": len(b)}
    line = f"FID: {result['fid']:.4f}"
    if ns.kid:
        k = kid(fa, fb)
        result.update(kid=k.mean, kid_std=k.std, kid_subsets={"subsets": k.subsets, "subset_size": k.subset_size,
                                                              "std_ddof": 1})
        line += f"  KID: {k.mean:.6f} ± {k.std:.6f} (subsets of {k.subset_size})"
    print(f"{line}  ({space.name}; {len(a)} vs {len(b)} images)")
    if ns.out:
        atomic_write_text(ns.out, json.dumps(result, indent=2) + "\n")
