"""Writing packs (the format is described in genlab.data.formats.pack): `genlab data SPEC --pack DIR`.

An image folder is read a chunk of files at a time, and the palettes are fitted from statistics
gathered chunk by chunk, so packing never holds the images in memory; any other spec is loaded
whole once. Shards are written into a hidden folder beside DIR (`.DIR.PID.tmp`), hashed as they
are written, and the folder is renamed into place when the manifest is complete; the hidden
folders that killed packs left behind are removed by the next pack into the same parent folder.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
from pathlib import Path
from typing import Iterable

import numpy as np
import torch
from tqdm import tqdm

from genlab.data.dataset import Dataset, check_options
from genlab.data.formats.folder import check_sizes, folder_plan, image_header, stack_images
from genlab.data.formats.pack import FORMAT, MANIFEST, SPLITS, VERSION, seed_free
from genlab.data.palette import MAX_FIT_PIXELS, Palette, check_k, fit_distinct
from genlab.core.errors import GenlabError
from genlab.core.fsutil import atomic_write_text

SHARD_BYTES = 256 * 2**20  # images per shard: as many as fit in this many bytes


_TEMP = re.compile(r"^\..+\.(\d+)\.tmp$")  # .NAME.PID.tmp: a pack being written by process PID
_PACK_FILE = re.compile(r"^((train|test)-(\d{5}(-k\d+)?|labels)\.npy|pack\.json|\.pack\.json\..+\.tmp)$")


def check_pack_target(folder: str | os.PathLike) -> Path:
    """--pack DIR: a new or empty folder in a folder that can be written; checked before any work."""
    folder = Path(folder).expanduser()
    if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
        raise GenlabError(f"{folder} already exists and is not an empty folder; pack into a new folder")
    existing = next((p for p in folder.absolute().parents if p.exists()), None)
    if existing is None or not existing.is_dir() or not os.access(existing, os.W_OK | os.X_OK):
        raise GenlabError(
            f"cannot create the pack {folder}: {existing or folder.parent} cannot be written to; "
            "choose a folder you can write to"
        )
    return folder


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def remove_stale_temps(parent: Path) -> list[Path]:
    """Delete the temporary folders that killed packs left in `parent` (.NAME.PID.tmp of a process
    that no longer runs, holding only pack files); returns them. Anything else is left alone."""
    removed = []
    if not parent.is_dir():
        return removed
    for entry in parent.iterdir():
        match = _TEMP.match(entry.name)
        if not match or entry.is_symlink() or not entry.is_dir() or _alive(int(match.group(1))):
            continue
        if all(_PACK_FILE.match(f.name) and f.is_file() and not f.is_symlink() for f in entry.iterdir()):
            shutil.rmtree(entry, ignore_errors=True)
            removed.append(entry)
    return removed


class _HashingFile:
    """A write-only file that hashes what goes through it (np.lib.format writes the .npy into it)."""

    def __init__(self, fh):
        self.fh, self.sha, self.size = fh, hashlib.sha256(), 0

    def write(self, data) -> int:
        self.sha.update(data)
        self.size += len(memoryview(data).cast("B"))
        return self.fh.write(data)


def _save(folder: Path, name: str, arr: np.ndarray) -> dict:
    """Write arr to folder/name as .npy, fsynced; its manifest entry."""
    with open(folder / name, "wb") as fh:
        out = _HashingFile(fh)
        np.lib.format.write_array(out, np.ascontiguousarray(arr), allow_pickle=False)
        fh.flush()
        os.fsync(fh.fileno())
    return {"file": name, "rows": len(arr), "bytes": out.size, "sha256": out.sha.hexdigest()}


class PackWriter:
    """Writes a pack chunk by chunk, so the source never has to be in memory at once.

    `add(split, images, labels)` takes uint8 (n, C, H, W) chunks in order; `close(palettes)` writes
    the last shards, each palette's indices (read back from the image shards), the labels and the
    manifest, and moves the folder into place. Use it as a context manager: an exception removes
    the temporary folder."""

    def __init__(
        self,
        folder: str | os.PathLike,
        spec: str,
        item_shape: tuple[int, ...],
        split_note: str,
        label_names: list[str] | None,
        shard_bytes: int = SHARD_BYTES,
    ):
        self.folder = check_pack_target(folder)
        remove_stale_temps(self.folder.parent)
        self.tmp = self.folder.parent / f".{self.folder.name}.{os.getpid()}.tmp"  # mkdir: the umask's permissions
        shutil.rmtree(self.tmp, ignore_errors=True)  # left by a killed pack of the same process id
        try:
            self.folder.parent.mkdir(parents=True, exist_ok=True)
            self.tmp.mkdir()
        except OSError as exc:
            raise GenlabError(
                f"cannot create the pack {self.folder} ({exc.strerror or exc}); choose a folder you can write to"
            ) from None
        self.item_shape = tuple(item_shape)
        self.rows = max(1, shard_bytes // int(np.prod(self.item_shape)))
        self.manifest = {
            "format": FORMAT,
            "version": VERSION,
            "spec": spec,
            "kind": "image",
            "item_shape": list(self.item_shape),
            "split_note": split_note,
            "label_names": label_names,
            "rows_per_shard": self.rows,
            "palettes": {},
            "splits": {s: {"n": 0, "images": [], "indices": {}, "labels": None} for s in SPLITS},
        }
        self.pending: dict[str, list[np.ndarray]] = {s: [] for s in SPLITS}
        self.labels: dict[str, list[np.ndarray]] = {s: [] for s in SPLITS}

    def __enter__(self) -> "PackWriter":
        return self

    def __exit__(self, kind, exc, tb) -> None:
        if exc is not None:
            shutil.rmtree(self.tmp, ignore_errors=True)

    def add(self, split: str, images: np.ndarray, labels: np.ndarray | None = None) -> None:
        if images.dtype != np.uint8 or tuple(images.shape[1:]) != self.item_shape:
            raise GenlabError(f"a pack of {self.item_shape} uint8 images got {images.dtype} {tuple(images.shape[1:])}")
        self.pending[split].append(images)
        if labels is not None:
            self.labels[split].append(np.asarray(labels, np.int64))
        while sum(len(x) for x in self.pending[split]) >= self.rows:
            self._flush(split)

    def _flush(self, split: str) -> None:
        whole = np.concatenate(self.pending[split])  # (n, C, H, W), at most one shard and a chunk
        shard, rest = whole[: self.rows], whole[self.rows :]
        self.pending[split] = [rest] if len(rest) else []
        entry = self.manifest["splits"][split]
        entry["images"].append(_save(self.tmp, f"{split}-{len(entry['images']):05d}.npy", shard))
        entry["n"] += len(shard)

    def _write_indices(self, k: int, palette: Palette) -> None:
        for split in SPLITS:
            entry = self.manifest["splits"][split]
            entry["indices"][str(k)] = []
            for shard in entry["images"]:
                images = torch.from_numpy(np.load(self.tmp / shard["file"], allow_pickle=False))
                indices = palette.encode(images).to(torch.uint8).numpy()  # (rows, 1, H, W), K <= 256
                name = shard["file"].replace(".npy", f"-k{k}.npy")
                entry["indices"][str(k)].append(_save(self.tmp, name, indices))

    def close(self, palettes: dict[int, Palette] | None = None, palette_seed: int = 0) -> Path:
        """Finish the pack, with palette indices for each {K: palette} (fitted with `palette_seed`)."""
        for split in SPLITS:
            if self.pending[split]:
                self._flush(split)
            entry = self.manifest["splits"][split]
            if self.labels[split]:
                labels = np.concatenate(self.labels[split])
                if len(labels) != entry["n"]:
                    raise GenlabError(f"the {split} split has {entry['n']} images but {len(labels)} labels")
                entry["labels"] = _save(self.tmp, f"{split}-labels.npy", labels)
        if not self.manifest["splits"]["train"]["n"]:
            raise GenlabError(f"nothing to pack into {self.folder}: the training split is empty")
        for k, palette in sorted((palettes or {}).items()):
            self.manifest["palettes"][str(k)] = {"colors": palette.colors.tolist(), "seed": palette_seed}
            self._write_indices(k, palette)
        atomic_write_text(self.tmp / MANIFEST, json.dumps(self.manifest, indent=1))
        if self.folder.exists():
            self.folder.rmdir()  # empty (checked at the start)
        os.replace(self.tmp, self.folder)
        return self.folder


def write_pack(
    data: Dataset,
    folder: str | os.PathLike,
    colors: Iterable[int] = (2,),
    seed: int = 0,
    shard_bytes: int = SHARD_BYTES,
) -> Path:
    """Pack an in-memory image Dataset, with palette indices for each K in `colors` (fitted on the
    training images with `seed`, as `genlab train` fits them)."""
    if data.kind != "image":
        raise GenlabError(f"{data.spec} holds {data.kind} data; only images can be packed")
    palettes = {k: Palette.fit(data.train, k, seed=seed) for k in set(colors)}
    with PackWriter(folder, data.spec, data.item_shape, data.split_note, data.label_names, shard_bytes) as writer:
        for split, images, labels in (("train", data.train, data.train_labels), ("test", data.test, data.test_labels)):
            for start in range(0, len(images), writer.rows):
                rows = slice(start, start + writer.rows)
                writer.add(split, images[rows].numpy(), None if labels is None else labels[rows].numpy())
        return writer.close(palettes, seed)


class _PixelStats:
    """What `Palette.fit` reads of the training pixels, gathered chunk by chunk (the rules of
    palette._distinct_colors, the same seeded pixel sample), so a folder too large for memory gets
    the palette an in-memory fit would give."""

    def __init__(self, n_pixels: int, channels: int, seed: int):
        self.grey, self.offset = channels == 1, 0
        self.counts = np.zeros(256 if self.grey else 1 << 24, np.int64)  # per grey level / per RGB code
        self.positions = None
        if not self.grey and n_pixels > MAX_FIT_PIXELS:
            self.positions = np.random.default_rng(seed).integers(n_pixels, size=MAX_FIT_PIXELS)
            self.sample = np.empty(MAX_FIT_PIXELS, np.int64)

    def add(self, images: np.ndarray) -> None:
        pixels = images.transpose(0, 2, 3, 1).reshape(-1, images.shape[1])  # (n*H*W, C), Palette.fit's order
        codes = pixels[:, 0].astype(np.int64) if self.grey else pixels.astype(np.int64) @ np.array([1 << 16, 1 << 8, 1])
        distinct, counts = np.unique(codes, return_counts=True)
        self.counts[distinct] += counts
        if self.positions is not None:
            mine = (self.positions >= self.offset) & (self.positions < self.offset + len(codes))
            self.sample[mine] = codes[self.positions[mine] - self.offset]
        self.offset += len(codes)

    def palette(self, k: int, seed: int) -> Palette:
        every = np.flatnonzero(self.counts)
        distinct, counts = every, self.counts[every]
        if self.positions is not None:
            distinct, counts = np.unique(self.sample, return_counts=True)
            if len(distinct) <= k:  # rare colours the sample missed
                distinct, counts = every, self.counts[every]
        colors = (
            distinct[:, None] if self.grey else np.stack([distinct >> 16, (distinct >> 8) & 255, distinct & 255], 1)
        )
        return Palette(torch.from_numpy(fit_distinct(colors.astype(np.uint8), counts, k, seed)))


def pack_image_folder(
    folder: Path,
    out: str | os.PathLike,
    spec: str,
    size: int | None,
    channels: int | None,
    colors: Iterable[int] = (2,),
    seed: int = 0,
    chunk: int = 2048,
    shard_bytes: int = SHARD_BYTES,
) -> Path:
    """Pack a folder of images `chunk` files at a time: the same items, split, labels and palettes as
    `write_pack(load_dataset(folder))`, without holding the images in memory."""
    files, train_idx, test_idx, note, labels, names = folder_plan(folder)
    headers = [image_header(f) for f in files]  # (grey?, (w, h)): the channels and size to use
    if size is None:
        check_sizes(folder, files, [wh for _, wh in headers])
    c = channels or (1 if all(grey for grey, _ in headers) else 3)
    w, h = (size, size) if size else headers[0][1]
    ks = sorted(set(colors))
    for k in ks:
        check_k(k)
    stats = _PixelStats(len(train_idx) * h * w, c, seed) if any(not seed_free(k, c) for k in ks) else None
    bar = tqdm(total=len(files), desc=f"packing {folder}", unit="img", disable=None, leave=False)  # on a terminal
    with bar, PackWriter(out, spec, (c, h, w), note, names, shard_bytes) as writer:
        for split, idx in (("train", train_idx), ("test", test_idx)):
            for start in range(0, len(idx), chunk):
                part = idx[start : start + chunk]
                images = stack_images(folder, [files[i] for i in part], size, c)  # (n, c, h, w)
                writer.add(split, images, None if labels is None else labels[part])
                if split == "train" and stats is not None:
                    stats.add(images)
                bar.update(len(part))
        blank = torch.zeros((1, c, 1, 1), dtype=torch.uint8)  # seed-free palettes look at no pixel
        palettes = {k: Palette.fit(blank, k) if seed_free(k, c) else stats.palette(k, seed) for k in ks}
        return writer.close(palettes, seed)


def pack_spec(
    spec: str,
    out: str | os.PathLike,
    colors: Iterable[int] = (2,),
    image_size: int | None = None,
    channels: int | None = None,
    seed: int = 0,
) -> Path:
    """`genlab data SPEC --pack OUT`: an image folder is read chunk by chunk, any other spec loaded whole."""
    from genlab.data.specs import is_image_folder, load_dataset

    check_options(image_size, channels)
    check_pack_target(out)  # before any image is read
    path = Path(spec).expanduser()
    if is_image_folder(path):
        return pack_image_folder(path, out, spec, image_size, channels, colors, seed)
    return write_pack(load_dataset(spec, image_size=image_size, channels=channels), out, colors, seed)
