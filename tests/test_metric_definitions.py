"""The sample metrics follow their reference code exactly where users compare numbers: density and
coverage with Naeem et al.'s strict `<` (copies decided exactly), KID below 1,000 items."""

import numpy as np
import pytest
import torch

from genlab.metrics.fid import kid, kid_values
from genlab.metrics.prdc import prdc


def naeem_reference(real: np.ndarray, fake: np.ndarray, k: int) -> tuple[float, float]:
    """density, coverage as in clovaai's prdc 0.2 (np.partition over k+1 incl. self, then `<`), on
    float64 exact squared distances: with integer features every distance is exact, so ties are real."""
    real_real = ((real[:, None] - real[None]) ** 2).sum(-1)
    radii = np.partition(real_real, k, axis=1)[:, k]  # k-th nearest other item (index 0 is the item itself)
    real_fake = ((real[:, None] - fake[None]) ** 2).sum(-1)  # (N, M)
    density = (real_fake < radii[:, None]).sum() / (k * len(fake))
    coverage = (real_fake.min(1) < radii).mean()
    return float(density), float(coverage)


@pytest.mark.parametrize("k", [3, 5])
def test_samples_that_copy_the_real_set_have_density_exactly_one(k):
    g = torch.Generator().manual_seed(0)
    # 64-d (the matrix-product distance path) far from the origin: float32 cdist misjudges these ties
    real = torch.randn(300, 64, generator=g) + 50.0
    fake = real[torch.randperm(300, generator=g)].clone()
    figures = prdc(real, fake, k_pr=3, k_dc=k)
    # each copy sits strictly inside its own ball and the k-1 balls of items it is a nearer neighbour
    # of; on the k-th neighbour's edge it is outside: N·k / (k·N) = 1 (with `<=` it would be (k+1)/k)
    assert figures["density"] == 1.0 and figures["coverage"] == 1.0
    assert figures["precision"] == figures["recall"] == 1.0


@pytest.mark.parametrize("offset", [0.0, 1000.0])
def test_density_coverage_equal_the_reference_on_palette_data_full_of_ties(offset):
    g = torch.Generator().manual_seed(1)
    # 40-d features from a 3-level palette: duplicate items and equal distances everywhere
    real = torch.randint(0, 3, (400, 40), generator=g).float()
    real[200:260] = real[:60]  # exact duplicates within the real set
    fake = torch.cat([torch.randint(0, 3, (200, 40), generator=g).float(), real[100:300]])  # half copies
    for k in (3, 5):
        density, coverage = naeem_reference(real.double().numpy(), fake.double().numpy(), k)
        figures = prdc(real + offset, fake + offset, k_pr=3, k_dc=k)
        assert (figures["density"], figures["coverage"]) == pytest.approx((density, coverage), abs=0), k
        assert 0 < figures["coverage"] < 1 and figures["density"] > 0.3  # not a trivial case


def test_kid_below_the_standard_subset_size_warns_and_has_a_real_spread(capsys):
    g = torch.Generator().manual_seed(2)
    x, y = torch.randn(300, 16, generator=g), torch.randn(400, 16, generator=g) + 0.2
    small = kid(x, y, subsets=20)
    assert small.subset_size == 150 and small.subsets == 20  # half the smaller set
    err = capsys.readouterr().err
    assert err.startswith("genlab: warning: KID over 300 and 400 items") and "subsets of 150" in err
    assert small.std > 0.05 * abs(small.mean) > 0  # random halves differ: a spread, not 0
    whole = kid(x, y, subsets=20, subset_size=300)  # the whole smaller set: no warning
    assert whole.subset_size == 300 and capsys.readouterr().err == ""
    # the std is over the subsets' values with ddof=1 (torch-fidelity's ddof=0 is smaller)
    values = kid_values(x, y, subsets=20, m=150, seed=0).numpy()
    assert small.mean == pytest.approx(values.mean(), rel=1e-12)
    assert small.std == pytest.approx(np.std(values, ddof=1), rel=1e-12) != np.std(values)
