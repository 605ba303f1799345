"""What a Trainer trains and evaluates on, built once by setup.py: the model's prepared train and
test splits on the device, and their class labels for a class-conditional model.

The splits are tensors in memory; a pack's are `StreamedSplit`s read as they are used
(`StreamedData`, train/streaming.py), whose `plan_epoch` reads the epoch's batches ahead. The
trainer asks both alike, by batch indices or slices, and never asks which it has."""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass
class TrainingData:
    train: torch.Tensor  # prepared items, on the device
    test: torch.Tensor
    train_labels: torch.Tensor | None = None  # class labels (N,), on the device: for class-conditional models only
    test_labels: torch.Tensor | None = None

    def plan_epoch(self, order: torch.Tensor, start_step: int, batch_size: int, group) -> None:
        """The epoch's batch order, from batch `start_step` on; items in memory need no plan."""

    def batch(self, idx: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """The training items at `idx` and the `labels=` keyword of a step on them ({} without labels)."""
        idx = idx.to(self.train.device)
        return self.train[idx], _labels(self.train_labels, idx)

    def train_rows(self, rows: slice) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """The training items in `rows` and their `labels=` keyword."""
        return self.train[rows], _labels(self.train_labels, rows)

    def test_rows(self, rows: slice) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """The test items in `rows` and their `labels=` keyword."""
        return self.test[rows], _labels(self.test_labels, rows)

    def train_labels_keyword(self) -> dict[str, torch.Tensor]:
        """The `labels=` keyword for the whole training split ({} without labels)."""
        return _labels(self.train_labels, slice(None))


def _labels(labels: torch.Tensor | None, which) -> dict[str, torch.Tensor]:
    return {} if labels is None else {"labels": labels[which]}
