"""Sample quality while a model trains: the probe `genlab train --quality-every SECONDS` hands the
trainer (which imports no metric). Cheap by design: PROBE_SAMPLES samples from one fixed seed
against REFERENCE_ITEMS test items, FID only, in the data's own feature space (genlab's network for
images, the points themselves for 2-D data), so a row costs about a second for the feed-forward
families. The figure is biased upward by the few samples (FID's bias falls as 1/n), so it is for
watching a run improve, not for comparing with `genlab evaluate`'s 1,000-sample FID.
"""

from __future__ import annotations

import torch

from genlab.core.errors import GenlabError
from genlab.data import Dataset
from genlab.metrics.evaluate import draw
from genlab.metrics.features import FeatureSpace, feature_space
from genlab.metrics.fid import fid
from genlab.models import GenerativeModel

PROBE_SAMPLES = 250  # more than the domain features' 128 dimensions, so the covariance is full rank
REFERENCE_ITEMS = 1000
PROBE_SEED = 4321  # the same samples' noise at every row, so rows differ only by the weights


class QualityProbe:
    """`probe(model) -> {"fid": ...}` against the test split of `data`; draws from its own generator."""

    def __init__(self, data: Dataset, space: FeatureSpace, n: int | None = None):
        self.space, self.n = space, n or PROBE_SAMPLES
        self.real = space.embed(data.test[:REFERENCE_ITEMS])

    def __call__(self, model: GenerativeModel) -> dict[str, float]:
        return {"fid": fid(self.real, self.space.embed(draw(model, self.n, PROBE_SEED)))}


def quality_probe(data: Dataset, device: torch.device | str = "cpu", quiet: bool = True) -> QualityProbe:
    """The probe for a run on `data`; a clear error for data without a feature space (sound)."""
    if data.kind not in ("image", "points"):
        raise GenlabError(
            f"--quality-every measures images and 2-D points; {data.spec} holds {data.kind} data; "
            f"train without it (and use `genlab evaluate` on the run)"
        )
    if len(data.test) < 2:
        raise GenlabError(
            f"--quality-every compares samples with the test split, and {data.spec} has "
            f"{len(data.test)} test item(s); train without it"
        )
    return QualityProbe(data, feature_space(data, device=device, quiet=quiet))
