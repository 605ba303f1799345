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
genlab.data.formats.pack_writer writes them (atomically: an interrupted pack leaves no DIR).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from genlab.data.dataset import Dataset, image_dataset
from genlab.data.palette import Palette
from genlab.core.errors import GenlabError
from genlab.core.jsonfile import read_json
from genlab.data.formats.npyfile import npy_layout, read_npy

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
                shape, dtype, fortran, offset = npy_layout(path)  # the header checked against the file first
                if dtype != np.uint8 or shape != (s["rows"], *self.item_shape) or fortran:
                    raise GenlabError(
                        f"{path} holds {dtype} {shape}, not the uint8 "
                        f"{(s['rows'], *self.item_shape)} its manifest says; pack the data again"
                    )
                maps.append(np.memmap(path, np.uint8, "r", offset, shape))
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
            raise GenlabError(
                f"{self.spec} has no palette indices for --colors {k} (it has: {has}); pack the data "
                f"again with `genlab data SOURCE --pack DIR --colors {k}`"
            )
        if entry["seed"] != seed and not seed_free(k, self.item_shape[0]):
            raise GenlabError(
                f"{self.spec}'s {k}-colour palette was fitted with seed {entry['seed']}, not {seed}; "
                f"train with --seed {entry['seed']} or pack again with `--colors {k} --seed {seed}`"
            )
        return Palette(torch.tensor(entry["colors"], dtype=torch.uint8))

    def fingerprint(self) -> str:
        """A short hash of the training images (from their shards' SHA-256s; nothing is read)."""
        h = hashlib.sha256(
            json.dumps([self.manifest["item_shape"], self.manifest["splits"]["train"]["images"]]).encode()
        )
        return h.hexdigest()[:16]


def _read_manifest(folder: Path) -> dict:
    path = folder / MANIFEST
    fix = "pack the data again"
    manifest = read_json(path, fix)
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT or manifest.get("version") != VERSION:
        raise GenlabError(f"{path} is not a {FORMAT} version {VERSION} manifest; pack the data again with this genlab")
    try:
        _check_layout(manifest)
    except ValueError as exc:  # a hand-edited or damaged manifest
        raise GenlabError(f"{path} is not a valid pack manifest ({exc}); {fix}") from None
    return manifest


_SHA = re.compile(r"^[0-9a-f]{64}$")
_FILE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*\.npy$")  # a plain name in the pack folder
MAX_SIDE = 1 << 16


def _int(value, lo: int, hi: int, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise ValueError(f"{what} is {str(value)[:40]!r}, not a whole number from {lo} to {hi}")
    return value


def _fields(obj, keys: set[str], what: str, optional: set[str] = frozenset()) -> dict:
    if not isinstance(obj, dict) or not keys <= set(obj) or not set(obj) <= keys | optional:
        got = sorted(obj)[:8] if isinstance(obj, dict) else type(obj).__name__
        raise ValueError(f"{what} should have the fields {sorted(keys)}, not {got}")
    return obj


def _shard(entry, what: str) -> dict:
    _fields(entry, {"file", "rows", "bytes", "sha256"}, what)
    if not isinstance(entry["file"], str) or not _FILE.match(entry["file"]):
        raise ValueError(f"{what} names the file {str(entry['file'])[:60]!r}, not a .npy file in the pack folder")
    if not isinstance(entry["sha256"], str) or not _SHA.match(entry["sha256"]):
        raise ValueError(f"{what} has no SHA-256 of 64 hex digits")
    _int(entry["rows"], 0, 2**40, f"{what} rows")
    _int(entry["bytes"], 0, 2**50, f"{what} bytes")
    return entry


def _check_layout(m: dict) -> None:
    """Every field of the manifest: its type, its range, and the structure reading relies on (every
    shard of a split but the last holds rows_per_shard rows, so row r sits in shard r // rows_per_shard)."""
    _fields(
        m,
        {
            "format",
            "version",
            "spec",
            "kind",
            "item_shape",
            "split_note",
            "label_names",
            "rows_per_shard",
            "palettes",
            "splits",
        },
        "the manifest",
    )
    if m["kind"] != "image" or not isinstance(m["spec"], str) or not isinstance(m["split_note"], str):
        raise ValueError("kind, spec or split_note")
    shape = m["item_shape"]
    if not isinstance(shape, list) or len(shape) != 3:
        raise ValueError(f"item_shape {str(shape)[:40]}")
    c, h, w = (_int(x, 1, MAX_SIDE, "item_shape") for x in shape)
    if c not in (1, 3):
        raise ValueError(f"item_shape {shape}: 1 or 3 channels")
    rows = _int(m["rows_per_shard"], 1, 2**40, "rows_per_shard")
    names = m["label_names"]
    if names is not None and not (isinstance(names, list) and all(isinstance(x, str) for x in names)):
        raise ValueError("label_names should be a list of names")
    if not isinstance(m["palettes"], dict):
        raise ValueError("palettes")
    for k, palette in m["palettes"].items():
        if k != str(_int(int(k) if k.isdigit() else k, 2, 256, "a palette's size")):
            raise ValueError(f"palette {k!r}")
        _fields(palette, {"colors", "seed"}, f"palette {k}")
        _int(palette["seed"], -(2**63), 2**63 - 1, f"palette {k} seed")
        colors = palette["colors"]
        if not (
            isinstance(colors, list)
            and 2 <= len(colors) <= int(k)
            and all(
                isinstance(col, list)
                and len(col) == c
                and all(_int(v, 0, 255, f"palette {k} colour") == v for v in col)
                for col in colors
            )
        ):
            raise ValueError(f"palette {k} should hold 2 to {k} colours of {c} values 0..255")
    _fields(m["splits"], set(SPLITS), "splits")
    for name in SPLITS:
        split = _fields(m["splits"][name], {"n", "images", "indices", "labels"}, f"the {name} split")
        n = _int(split["n"], 0, 2**40, f"the {name} split's n")
        if not isinstance(split["indices"], dict) or set(split["indices"]) != set(m["palettes"]):
            raise ValueError(f"the {name} split's indices do not match the palettes")
        for label, shards in [("images", split["images"]), *((f"indices {k}", v) for k, v in split["indices"].items())]:
            if not isinstance(shards, list):
                raise ValueError(f"the {name} split's {label}")
            sizes = [_shard(shard, f"a {name} {label} shard")["rows"] for shard in shards]
            if sum(sizes) != n or any(r != rows for r in sizes[:-1]) or (sizes and not 0 < sizes[-1] <= rows):
                raise ValueError(f"the {name} shards hold {sizes[:8]} rows, not {n} in shards of {rows}")
        if split["labels"] is not None:
            _shard(split["labels"], f"the {name} labels")
    if m["splits"]["train"]["n"] < 1:
        raise ValueError("the train split is empty")


def _check_files(folder: Path, manifest: dict) -> None:
    """Every file the manifest names exists with its recorded size (hashes: `verify`)."""
    for entry in _entries(manifest):
        path = folder / entry["file"]
        if Path(entry["file"]).name != entry["file"] or not path.is_file() or path.stat().st_size != entry["bytes"]:
            raise GenlabError(
                f"{path} is missing or not the {entry['bytes']} bytes the manifest says; pack the data again"
            )


def _entries(manifest: dict) -> list[dict]:
    out = []
    for entry in manifest["splits"].values():
        out += entry["images"] + [s for shards in entry["indices"].values() for s in shards]
        out += [entry["labels"]] if entry["labels"] else []
    return out


def verify(folder: str | os.PathLike) -> None:
    """Check every file of a pack against its SHA-256 in the manifest (reads the whole pack once),
    and every palette index shard's values against its palette's size."""
    folder = Path(folder).expanduser()
    manifest = _read_manifest(folder)
    _check_files(folder, manifest)
    colours = {
        id(s): len(manifest["palettes"][k]["colors"])
        for split in manifest["splits"].values()
        for k, shards in split["indices"].items()
        for s in shards
    }
    for entry in _entries(manifest):
        path = folder / entry["file"]
        k = colours.get(id(entry))
        offset = npy_layout(path)[3] if k is not None else None
        sha, top, at = hashlib.sha256(), 0, 0
        with open(path, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                sha.update(block)
                if offset is not None and at + len(block) > offset:
                    top = max(top, int(np.frombuffer(block, np.uint8)[max(0, offset - at) :].max()))
                at += len(block)
        if sha.hexdigest() != entry["sha256"]:
            raise GenlabError(
                f"{path} does not match its SHA-256 in the manifest; the pack is damaged: pack the data again"
            )
        if k is not None and top >= k:
            raise GenlabError(
                f"{path} holds palette index {top}, but its palette has {k} colours; the pack is "
                f"damaged: pack the data again"
            )


def _split(folder: Path, manifest: dict, name: str, k: int | None = None) -> PackedSplit:
    entry = manifest["splits"][name]
    shards = entry["images"] if k is None else entry["indices"][str(k)]
    c, h, w = manifest["item_shape"]
    return PackedSplit(folder, shards, manifest["rows_per_shard"], (c, h, w) if k is None else (1, h, w))


def _labels(folder: Path, entry: dict | None, n: int, classes: int | None) -> torch.Tensor | None:
    """A split's labels: int64 (n,), each 0 .. classes - 1 (when the pack names its classes)."""
    if entry is None:
        return None
    path = folder / entry["file"]
    shape, dtype, _, _ = npy_layout(path)
    if dtype != np.int64 or shape != (n,):
        raise GenlabError(f"{path} holds {dtype} {shape}, not int64 ({n},); pack the data again")
    labels = read_npy(path)
    if len(labels) and (labels.min() < 0 or classes is not None and labels.max() >= classes):
        raise GenlabError(
            f"{path} holds labels from {labels.min()} to {labels.max()}, outside the pack's "
            f"{classes} classes; pack the data again"
        )
    return torch.from_numpy(labels)


def open_pack(spec: str | os.PathLike) -> PackedDataset:
    """Open a pack for streaming: the manifest and file sizes are checked, the images stay on disk."""
    folder = Path(spec).expanduser()
    manifest = _read_manifest(folder)
    _check_files(folder, manifest)
    splits, names = manifest["splits"], manifest["label_names"]
    classes = None if names is None else len(names)
    return PackedDataset(
        os.fspath(spec),
        folder,
        manifest,
        _split(folder, manifest, "train"),
        _split(folder, manifest, "test"),
        _labels(folder, splits["train"]["labels"], splits["train"]["n"], classes),
        _labels(folder, splits["test"]["labels"], splits["test"]["n"], classes),
    )


def load_pack(folder: Path, spec: str) -> Dataset:
    """A pack read whole into memory (every file verified first), for commands that take any spec."""
    verify(folder)
    ds = open_pack(folder)
    images = [split.read(np.arange(len(split))) for split in (ds.train, ds.test)]
    m = ds.manifest
    return image_dataset(
        spec,
        *images,
        *(None if x is None else x.numpy() for x in (ds.train_labels, ds.test_labels)),
        m["label_names"],
        f"{m['split_note']} (packed from {m['spec']})",
    )


def describe_pack(spec: str | os.PathLike) -> str:
    """A few lines for a person, from the manifest alone (nothing is loaded)."""
    folder = Path(spec).expanduser()
    m = _read_manifest(folder)
    _check_files(folder, m)
    n = {s: m["splits"][s]["n"] for s in SPLITS}
    size = sum(e["bytes"] for e in _entries(m)) / 2**20
    names = m["label_names"]
    return "\n".join(
        [
            f"pack: {spec} (packed from {m['spec']}), {n['train']} train / {n['test']} test images of shape "
            f"{tuple(m['item_shape'])} uint8, {len(m['splits']['train']['images'])} train shard(s), {size:,.1f} MB",
            f"split: {m['split_note']}",
            f"labels: {len(names)} classes ({', '.join(names[:10])}{', ...' if len(names) > 10 else ''})"
            if names
            else "labels: none",
            f"palette indices for --colors {', '.join(m['palettes'])} (fitted with seed "
            f"{', '.join(sorted({str(p['seed']) for p in m['palettes'].values()}))})"
            if m["palettes"]
            else "palette indices: none (PixelRNN, the VAE and the mixture need them: pack with --colors K)",
            f"train on it with --data {spec}: streamed from disk",
        ]
    )
