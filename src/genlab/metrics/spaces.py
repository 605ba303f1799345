"""Choosing a feature space by name: genlab's own network for a data set, or the standard Inception.

`--features domain` (default for evaluate/compare): the small network trained on the data set
(`features.py`); `--features inception`: the FID Inception pool3 (`inception.py`), the space of
published FIDs; `domain:SPEC` (for `genlab fid`): genlab's network trained on SPEC.
"""

from __future__ import annotations

import sys

import torch

from genlab.data import Dataset, load_dataset
from genlab.core.errors import GenlabError
from genlab.metrics.features import FeatureSpace, feature_space
from genlab.metrics.inception_weights import load_inception, stored_source

STANDARD_SAMPLES = 2048  # FID needs more items than the 2048 feature dimensions for a full-rank covariance
INCEPTION_BATCH = 50  # 299x299 inputs: keep a batch's activations at about a gigabyte


def inception_space(device: torch.device | str = "cpu", resize: str = "tf1") -> FeatureSpace:
    net = load_inception(device, resize)
    return FeatureSpace(f"inception-2015-12-05:pool3:{resize}-resize", net, batch_size=INCEPTION_BATCH)


def is_inception(space: FeatureSpace) -> bool:
    return space.name.startswith("inception-")


def weights_note(space: FeatureSpace) -> dict:
    """Where the Inception weights came from, for the report ({} for other spaces)."""
    if not is_inception(space):
        return {}
    source = stored_source()
    return {"features_weights": f"{source.get('source')} (sha256 {source.get('source_sha256')})"}


def warn_few(space: FeatureSpace, n: int) -> None:
    if is_inception(space) and n < STANDARD_SAMPLES:
        print(
            f"genlab: warning: Inception FID over {n} samples (< {STANDARD_SAMPLES:,}): biased upward and not "
            f"comparable with published FIDs (10,000 or 50,000 samples)",
            file=sys.stderr,
        )


def check_images(space: FeatureSpace, data: Dataset) -> None:
    if is_inception(space) and (data.kind != "image" or data.item_shape[0] not in (1, 3)):
        raise GenlabError(f"Inception features need grey or RGB images; {data.spec} holds {data.kind} items")


def named_space(
    name: str, data: Dataset | None = None, device: torch.device | str = "cpu", resize: str = "tf1", quiet: bool = True
) -> FeatureSpace:
    """`inception`, `domain` (trained on `data`) or `domain:SPEC` (trained on SPEC)."""
    if name == "inception":
        space = inception_space(device, resize)
        if data is not None:
            check_images(space, data)
        return space
    if name.startswith("domain:"):
        return feature_space(load_dataset(name[len("domain:") :]), device=device, quiet=quiet)
    if name == "domain" and data is not None:
        return feature_space(data, device=device, quiet=quiet)
    raise GenlabError(f"--features {name}: use inception, domain or domain:SPEC")
