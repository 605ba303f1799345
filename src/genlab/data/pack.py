"""Packs: an image data spec converted once into memory-mapped uint8 NumPy shards, for data larger
than memory (`genlab data SPEC --pack DIR`; training on DIR streams it, see train/streaming.py).

A pack folder holds
  pack.json              the manifest: format and version, the source spec, item shape, split note,
                         label names; per split its item count and shards (file, rows, bytes,
                         SHA-256), per palette its colours, fitting seed and index shards
  train-00000.npy ...    uint8 (rows, C, H, W) images; every shard holds `rows_per_shard` rows but
                         the last of its split
  train-00000-k2.npy ... uint8 (rows, 1, H, W) palette indices for --colors 2 (precomputed, since
                         nearest-colour matching of RGB pixels costs more than reading them)
  train-labels.npy       int64 (N,) class labels, when the spec has them
and the same for `test`. Shards are plain `.npy` files, read with `np.load(mmap_mode="r",
allow_pickle=False)`: nothing in a pack is ever unpickled. This module reads packs;
genlab.data.pack_writer writes them (atomically: an interrupted pack leaves no DIR).
"""
from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from genlab.data.dataset import Dataset, image_dataset
from genlab.data.palette import Palette
from genlab.core.errors import GenlabError

MANIFEST = "pack.json"
FORMAT, VERSION = "genlab-pack", 1
SPLITS = ("train", "test")


def is_pack(spec: str | os.PathLike) -> bool:
    """True when the spec is a folder holding a pack manifest."""
    return (Path(spec).expanduser() / MANIFEST).is_file()


def seed_free(k: int, channels: int) -> bool:
    """Palettes that Palette.fit makes without k-means, the same for every seed."""
    return k == 2 or (k == 256 and channels == 1)


class PackedSplit:
    """One split's images (or palette indices) across its shards, read through memory maps.

    `read(rows)` returns those rows, in that order, as a fresh array. The maps are opened on first
    use in each process (a DataLoader worker opens its own; pickling carries only the paths)."""

    def __init__(self, folder: Path, shards: list[dict], rows_per_shard: int, item_shape: tuple[int, ...]):
        self.folder, self.shards, self.rows, self.item_shape = folder, shards, rows_per_shard, item_shape
        self.n = sum(s["rows"] for s in shards)
        self._maps: list[np.ndarray] | None = None

    def __len__(self) -> int:
        return self.n

    @property
    def shape(self) -> tuple[int, ...]:
        return (self.n, *self.item_shape)

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_maps": None}

    def _open(self) -> list[np.ndarray]:
        if self._maps is None:
            maps = []
            for s in self.shards:
                path = self.folder / s["file"]
                arr = np.load(path, mmap_mode="r", allow_pickle=False)
                if arr.dtype != np.uint8 or arr.shape != (s["rows"], *self.item_shape):
                    raise GenlabError(f"{path} holds {arr.dtype} {arr.shape}, not the uint8 "
                                      f"{(s['rows'], *self.item_shape)} its manifest says; pack the data again")
                maps.append(arr)
            self._maps = maps
        return self._maps

    def read(self, rows: np.ndarray) -> np.ndarray:
        """uint8 (len(rows), *item_shape): the rows asked for, read shard by shard in ascending order."""
        rows = np.asarray(rows, np.int64)
        maps, out = self._open(), np.empty((len(rows), *self.item_shape), np.uint8)
        shard, local = np.divmod(rows, self.rows)
        for s in np.unique(shard):
            where = np.flatnonzero(shard == s)
            where = where[np.argsort(local[where], kind="stable")]  # ascending offsets: sequential reads
            out[where] = maps[s][local[where]]
        return out


@dataclass
class PackedDataset:
    """A pack opened for streaming: what `Dataset` says about the data, without loading the images."""

    spec: str
    folder: Path
    manifest: dict
    train: PackedSplit
    test: PackedSplit
    train_labels: torch.Tensor | None
    test_labels: torch.Tensor | None
    kind: str = "image"

    @property
    def item_shape(self) -> tuple[int, ...]:
        return self.train.item_shape

    @property
    def label_names(self) -> list[str] | None:
        """The name of each class, as the packed data named them (None where it did not)."""
        return self.manifest.get("label_names")

    def split(self, name: str, k: int | None = None) -> PackedSplit:
        """A split's images, or (k) its indices for the k-colour palette."""
        return _split(self.folder, self.manifest, name, k)

    def palette_sizes(self) -> list[int]:
        return sorted(int(k) for k in self.manifest["palettes"])

    def palette(self, k: int, seed: int) -> Palette:
        """The k-colour palette packed with the data, as `Palette.fit(train, k, seed)` would make it."""
        entry = self.manifest["palettes"].get(str(k))
        if entry is None:
            has = ", ".join(map(str, self.palette_sizes())) or "none"
            raise GenlabError(f"{self.spec} has no palette indices for --colors {k} (it has: {has}); pack the data "
                              f"again with `genlab data SOURCE --pack DIR --colors {k}`")
        if entry["seed"] != seed and not seed_free(k, self.item_shape[0]):
            raise GenlabError(f"{self.spec}'s {k}-colour palette was fitted with seed {entry['seed']}, not {seed}; "
                              f"train with --seed {entry['seed']} or pack again with `--colors {k} --seed {seed}`")
        return Palette(torch.tensor(entry["colors"], dtype=torch.uint8))

    def fingerprint(self) -> str:
        """A short hash of the training images (from their shards' SHA-256s; nothing is read)."""
        h = hashlib.sha256(json.dumps([self.manifest["item_shape"], self.manifest["splits"]["train"]["images"]]).encode())
        return h.hexdigest()[:16]


def _read_manifest(folder: Path) -> dict:
    path = folder / MANIFEST
    try:
        manifest = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise GenlabError(f"{path} is not a readable pack manifest ({exc}); pack the data again") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT or manifest.get("version") != VERSION:
        raise GenlabError(f"{path} is not a {FORMAT} version {VERSION} manifest; pack the data again with this genlab")
    try:
        _check_layout(manifest)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:  # a hand-edited or damaged manifest
        raise GenlabError(f"{path} is not a valid pack manifest ({type(exc).__name__}: {exc}); "
                          f"pack the data again") from None
    return manifest


def _check_layout(m: dict) -> None:
    """The manifest's structure, which reading relies on: shapes, shard sizes (every shard of a split
    but the last holds rows_per_shard rows, so row r sits in shard r // rows_per_shard), palettes."""
    c, h, w = (int(x) for x in m["item_shape"])
    rows = int(m["rows_per_shard"])
    if c not in (1, 3) or min(h, w, rows) < 1:
        raise ValueError(f"item_shape {m['item_shape']}, rows_per_shard {rows}")
    for k, palette in m["palettes"].items():
        if not 2 <= int(k) <= 256 or not isinstance(palette["seed"], int):
            raise ValueError(f"palette {k}")
    for name in SPLITS:
        split = m["splits"][name]
        for shards in [split["images"], *(split["indices"][k] for k in m["palettes"])]:
            sizes = [int(shard["rows"]) for shard in shards]
            if sum(sizes) != int(split["n"]) or any(r != rows for r in sizes[:-1]) or (sizes and not 0 < sizes[-1] <= rows):
                raise ValueError(f"the {name} shards hold {sizes} rows, not {split['n']} in shards of {rows}")
            for shard in shards:
                if not all(isinstance(shard[key], t) for key, t in (("file", str), ("bytes", int), ("sha256", str))):
                    raise ValueError(f"shard entry {shard}")
    names = m["label_names"]
    if names is not None and not all(isinstance(x, str) for x in names):
        raise ValueError("label_names")


def _check_files(folder: Path, manifest: dict) -> None:
    """Every file the manifest names exists with its recorded size (hashes: `verify`)."""
    for entry in _entries(manifest):
        path = folder / entry["file"]
        if Path(entry["file"]).name != entry["file"] or not path.is_file() or path.stat().st_size != entry["bytes"]:
            raise GenlabError(f"{path} is missing or not the {entry['bytes']} bytes the manifest says; "
                              f"pack the data again")


def _entries(manifest: dict) -> list[dict]:
    out = []
    for entry in manifest["splits"].values():
        out += entry["images"] + [s for shards in entry["indices"].values() for s in shards]
        out += [entry["labels"]] if entry["labels"] else []
    return out


def verify(folder: str | os.PathLike) -> None:
    """Check every file of a pack against its SHA-256 in the manifest (reads the whole pack)."""
    folder = Path(folder).expanduser()
    manifest = _read_manifest(folder)
    _check_files(folder, manifest)
    for entry in _entries(manifest):
        sha = hashlib.sha256()
        with open(folder / entry["file"], "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                sha.update(block)
        if sha.hexdigest() != entry["sha256"]:
            raise GenlabError(f"{folder / entry['file']} does not match its SHA-256 in the manifest; "
                              f"the pack is damaged: pack the data again")


def _split(folder: Path, manifest: dict, name: str, k: int | None = None) -> PackedSplit:
    entry = manifest["splits"][name]
    shards = entry["images"] if k is None else entry["indices"][str(k)]
    c, h, w = manifest["item_shape"]
    return PackedSplit(folder, shards, manifest["rows_per_shard"], (c, h, w) if k is None else (1, h, w))


def _labels(folder: Path, entry: dict | None, n: int) -> torch.Tensor | None:
    if entry is None:
        return None
    labels = np.load(folder / entry["file"], allow_pickle=False)
    if labels.dtype != np.int64 or labels.shape != (n,):
        raise GenlabError(f"{folder / entry['file']} holds {labels.dtype} {labels.shape}, not int64 ({n},)")
    return torch.from_numpy(labels)


def open_pack(spec: str | os.PathLike) -> PackedDataset:
    """Open a pack for streaming: the manifest and file sizes are checked, the images stay on disk."""
    folder = Path(spec).expanduser()
    manifest = _read_manifest(folder)
    _check_files(folder, manifest)
    splits = manifest["splits"]
    return PackedDataset(os.fspath(spec), folder, manifest, _split(folder, manifest, "train"),
                         _split(folder, manifest, "test"),
                         _labels(folder, splits["train"]["labels"], splits["train"]["n"]),
                         _labels(folder, splits["test"]["labels"], splits["test"]["n"]))


def load_pack(folder: Path, spec: str) -> Dataset:
    """A pack read whole into memory (every file verified first), for commands that take any spec."""
    verify(folder)
    ds = open_pack(folder)
    images = [split.read(np.arange(len(split))) for split in (ds.train, ds.test)]
    m = ds.manifest
    return image_dataset(spec, *images, *(None if x is None else x.numpy() for x in (ds.train_labels, ds.test_labels)),
                         m["label_names"], f"{m['split_note']} (packed from {m['spec']})")


def describe_pack(spec: str | os.PathLike) -> str:
    """A few lines for a person, from the manifest alone (nothing is loaded)."""
    folder = Path(spec).expanduser()
    m = _read_manifest(folder)
    _check_files(folder, m)
    n = {s: m["splits"][s]["n"] for s in SPLITS}
    size = sum(e["bytes"] for e in _entries(m)) / 2**20
    names = m["label_names"]
    return "\n".join([
        f"pack: {spec} (packed from {m['spec']}), {n['train']} train / {n['test']} test images of shape "
        f"{tuple(m['item_shape'])} uint8, {len(m['splits']['train']['images'])} train shard(s), {size:,.1f} MB",
        f"split: {m['split_note']}",
        f"labels: {len(names)} classes ({', '.join(names[:10])}{', ...' if len(names) > 10 else ''})" if names
        else "labels: none",
        f"palette indices for --colors {', '.join(m['palettes'])} (fitted with seed "
        f"{', '.join(sorted({str(p['seed']) for p in m['palettes'].values()}))})" if m["palettes"]
        else "palette indices: none (PixelRNN, the VAE and the mixture need them: pack with --colors K)",
        f"train on it with --data {spec}: streamed from disk"])
