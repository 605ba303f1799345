"""Training on a pack (genlab.data.formats.pack) read from disk as it goes, for data larger than memory.

A `StreamedSplit` stands where the trainer otherwise keeps a split's prepared items in memory (in a
`StreamedData`, the `TrainingData` of a pack): it is indexed with a batch's indices (`split[idx]`)
or a slice, and gives the prepared batch on the device. Before each epoch the training split gets
the epoch's plan (`StreamedData.plan_epoch` -> `plan(order, ...)`): the pure (seed, epoch) order,
cut into batches and shared among the processes exactly as the trainer will ask for them. A DataLoader then reads the coming batches ahead in worker processes (pinned
memory on CUDA). The plan is only a hint: each batch handed out is the one for the indices asked,
checked against the plan, and any other request is read directly, so resume, evaluation and the
GAN's fixed picks read the same items as the in-memory path.

Palette models get the pack's precomputed palette indices when they equal what the model's own
`prepare` makes of the images (checked on the first items); other models get the uint8 images and
`prepare` runs on each batch, on the device. Both give the in-memory path's values bit for bit.
"""

from __future__ import annotations

import collections
import multiprocessing
from typing import Callable

import numpy as np
import torch
from torch.utils.data import DataLoader, Sampler

from genlab.data.formats.pack import PackedDataset, PackedSplit, open_pack, verify
from genlab.core.errors import GenlabError
from genlab.models import GenerativeModel
from genlab.train.training_data import TrainingData

LOADER_WORKERS = 2  # processes reading ahead; the step's own work stays in the training process
PREFETCH = 4  # batches each worker reads ahead
PROBE_ITEMS = 8  # items on which precomputed palette indices are compared with the model's prepare


class _Rows(torch.utils.data.Dataset):
    """Map-style dataset whose item for an array of rows is those rows (one whole batch)."""

    def __init__(self, split: PackedSplit):
        self.split = split

    def __len__(self) -> int:
        return len(self.split)

    def __getitem__(self, rows: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(self.split.read(rows))


class _Plan(Sampler):
    """The batches (arrays of rows) the current epoch will ask for, in order; replaced every epoch."""

    def __init__(self):
        self.batches: list[np.ndarray] = []

    def __iter__(self):
        return iter(self.batches)

    def __len__(self) -> int:
        return len(self.batches)


def _context(workers: int) -> str | None:
    """Workers are forked where the OS can (they only read arrays): a worker started by forkserver or
    spawn, the default of some parents (Python 3.14, multiprocessing pools), imports torch again
    and takes seconds to start."""
    return "fork" if workers and "fork" in multiprocessing.get_all_start_methods() else None


class StreamedSplit:
    """A packed split that reads and prepares the items the trainer asks for (see the module doc)."""

    def __init__(
        self,
        split: PackedSplit,
        prepare: Callable[[torch.Tensor], torch.Tensor],
        device: torch.device,
        workers: int = LOADER_WORKERS,
    ):
        self.split, self.prepare, self.target = split, prepare, device
        # where callers put the indices they pass (TrainingData.batch moves them to `.device`): the CPU, so
        # that reading them back costs no device synchronisation per step on CUDA
        self.device = torch.device("cpu")
        self._plan = _Plan()
        self.loader = DataLoader(
            _Rows(split),
            batch_size=None,
            sampler=self._plan,
            num_workers=workers,
            pin_memory=device.type == "cuda",
            prefetch_factor=PREFETCH if workers else None,
            persistent_workers=workers > 0,
            multiprocessing_context=_context(workers),
            generator=torch.Generator(),
        )  # its seeds would otherwise come from the global RNG
        self._expected: collections.deque[np.ndarray] = collections.deque()
        self._ahead = None
        self.read_ahead = 0  # batches handed out from the DataLoader (the rest were read on request)

    def __len__(self) -> int:
        return len(self.split)

    @property
    def shape(self) -> tuple[int, ...]:
        return self.split.shape

    def plan(self, order: torch.Tensor, start_step: int, batch_size: int, group) -> None:
        """Read ahead this process's share of the epoch's batches from `start_step` on (`group.part`
        is the very cut the trainer's `group.shard` makes)."""
        batches = [
            group.part(order[s : s + batch_size]).numpy()
            for s in range(start_step * batch_size, len(order), batch_size)
        ]
        self._plan.batches = batches
        self._expected = collections.deque(batches)
        self._ahead = iter(self.loader) if batches else None

    def __getitem__(self, key: torch.Tensor | slice) -> torch.Tensor:
        if isinstance(key, slice):
            r = range(len(self.split))[key]
            rows = np.arange(r.start, r.stop, r.step)
        else:
            rows = key.cpu().numpy()
        if self._expected and np.array_equal(self._expected[0], rows):
            self._expected.popleft()
            batch = next(self._ahead)
            self.read_ahead += 1
        else:  # not the planned batch: read it here, and stop reading ahead
            self._expected.clear()
            self._ahead = None
            batch = torch.from_numpy(self.split.read(rows))
        return self.prepare(batch.to(self.target, non_blocking=True))


class StreamedData(TrainingData):
    """The `TrainingData` of a pack: its splits are `StreamedSplit`s, and the training split reads
    each epoch's batches ahead."""

    def plan_epoch(self, order: torch.Tensor, start_step: int, batch_size: int, group) -> None:
        self.train.plan(order, start_step, batch_size, group)


def _as_long(batch: torch.Tensor) -> torch.Tensor:
    return batch.long()


def streamed_splits(
    model: GenerativeModel, data: PackedDataset, device: torch.device, workers: int = LOADER_WORKERS
) -> tuple[StreamedSplit, StreamedSplit]:
    """The train and test splits of a pack as the model's prepared items, read as they are used."""
    k = _palette_source(model, data)
    prepare = model.prepare if k is None else _as_long  # precomputed indices: uint8 -> int64, as encode gives
    return tuple(
        StreamedSplit(data.split(name, k), prepare, device, w) for name, w in (("train", workers), ("test", 0))
    )


def _palette_source(model: GenerativeModel, data: PackedDataset) -> int | None:
    """The K of the pack's palette indices that equal the model's `prepare` of the images, or None."""
    if not model.uses_palette:
        return None
    colors = model.palette.colors
    for k in data.palette_sizes():
        packed = data.palette(k, seed=data.manifest["palettes"][str(k)]["seed"])
        if torch.equal(packed.colors, colors.cpu()):
            rows = np.arange(min(PROBE_ITEMS, len(data.train)))
            expected = model.prepare(torch.from_numpy(data.train.read(rows)).to(model.device)).cpu()
            indices = torch.from_numpy(data.split("train", k).read(rows)).long()
            return k if torch.equal(expected, indices) else None
    return None


def open_for_training(data_cfg) -> PackedDataset:
    """The pack a training run's data spec names; it is stored at its packed size and channels.
    Every file is checked against the manifest's SHA-256 (and palette indices against their palette)
    before training starts: a damaged pack stops here, not after a run has saved."""
    if data_cfg.image_size is not None or data_cfg.channels is not None:
        raise GenlabError(
            f"{data_cfg.data} is a pack, stored at one size and colour mode; pack the source "
            f"again with --image-size / --channels instead of passing them to train"
        )
    verify(data_cfg.data)
    return open_pack(data_cfg.data)
