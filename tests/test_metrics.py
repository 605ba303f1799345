"""Sample-quality metrics: FID, KID, precision/recall, density/coverage, memorization, the feature
cache, and `genlab evaluate` end to end."""

import dataclasses
import json

import numpy as np
import pytest
import torch

from genlab.cli import main
from genlab.data import Dataset, Palette, load_dataset
from genlab.metrics import features
from genlab.metrics.evaluate import sample_report
from genlab.metrics.fid import cubic_kernel, fid, frechet_distance, kid
from genlab.metrics.memorization import flat_pixels, memorization
from genlab.metrics.prdc import nearest, prdc
from genlab.models import GenerativeModel


@pytest.fixture(autouse=True)
def quick_features(tmp_path, monkeypatch):
    """A private cache and a short feature-net training, so the tests stay fast."""
    monkeypatch.setenv("GENLAB_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(features, "STEPS", 40)


def _blobs(n, d=16, seed=0, shift=0.0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, d, generator=g).pow(2) + shift  # skewed, not Gaussian


# --- FID / KID ------------------------------------------------------------------------------------
def test_frechet_distance_matches_the_closed_form_for_gaussians():
    d = 5
    mu = np.arange(d, dtype=float)
    # N(0, I) vs N(mu, 4I): ‖mu‖² + Tr(I + 4I − 2·2I) = ‖mu‖² + d
    assert frechet_distance(np.zeros(d), np.eye(d), mu, 4 * np.eye(d)) == pytest.approx(mu @ mu + d)


def test_fid_of_a_set_with_itself_is_zero_and_grows_with_noise():
    x = _blobs(600)
    assert fid(x, x) == pytest.approx(0.0, abs=1e-6)
    g = torch.Generator().manual_seed(1)
    noise = torch.randn(x.shape, generator=g)
    values = [fid(x, x + s * noise) for s in (0.1, 0.3, 1.0, 3.0)]
    assert all(a < b for a, b in zip(values, values[1:])), values
    singular = torch.cat([x[:, :8], torch.zeros(600, 8)], 1)  # constant features: a singular covariance
    assert fid(singular, singular) == pytest.approx(0.0, abs=1e-4)


def test_kid_equals_the_brute_force_unbiased_mmd():
    x, y = _blobs(40, seed=1), _blobs(40, seed=2, shift=0.3)
    x, y = x.double(), y.double()
    kxx, kyy, kxy = cubic_kernel(x, x), cubic_kernel(y, y), cubic_kernel(x, y)
    brute = (kxx.sum() - kxx.trace() + kyy.sum() - kyy.trace()) / (40 * 39) - 2 * kxy.mean()
    mean, std, m, _ = kid(x, y, subsets=3, subset_size=40)  # every subset is the whole set
    assert m == 40
    assert mean == pytest.approx(float(brute), rel=1e-5) and std == pytest.approx(0.0, abs=1e-9)


def test_kid_is_unbiased_on_equal_distributions_and_positive_on_different_ones():
    def normal(seed, shift=0.0):
        return torch.randn(200, 16, generator=torch.Generator().manual_seed(seed)) + shift

    same = [kid(normal(2 * s), normal(2 * s + 1), subsets=10, subset_size=100, seed=s)[0] for s in range(20)]
    mean, sem = np.mean(same), np.std(same, ddof=1) / np.sqrt(len(same))
    assert abs(mean) < 3 * sem, (mean, sem)  # a biased estimator (diagonal kept) sits many sems above 0
    assert min(same) < 0 < max(same)
    apart, spread, _, _ = kid(normal(0), normal(1, shift=0.5), subsets=10, subset_size=100)
    assert apart > 10 * max(spread, sem)


# --- precision / recall / density / coverage ----------------------------------------------------
def test_nearest_matches_brute_force_in_small_chunks():
    a, b = _blobs(50, d=3, seed=3), _blobs(70, d=3, seed=4)
    dist, idx = nearest(a, b, k=2, chunk=7)
    full = torch.cdist(a, b)
    assert torch.equal(idx[:, 0], full.argmin(1))
    assert torch.allclose(dist[:, 0], full.min(1).values, atol=1e-5)
    own, own_idx = nearest(a, a, k=1, exclude_self=True, chunk=7)
    full = torch.cdist(a, a).fill_diagonal_(float("inf"))
    assert torch.equal(own_idx[:, 0], full.argmin(1))
    # tight 2-D clusters far from the origin: ‖a‖² + ‖b‖² − 2aᵀb in float32 would give 0 here
    tight = torch.tensor([2.0, 0.0]) + 1e-4 * _blobs(300, d=2, seed=5)
    dist, _ = nearest(tight[:100], tight[100:])
    # The reference from exact float64 differences: float64 cdist takes the matrix-product form too,
    # whose cancellation here is 0.3-0.7 % depending on the CPU's kernels. genlab's float32 distances
    # differ from it only by the rounding of centring (half an ulp of 1e-4 per coordinate, 3.6e-12),
    # at most 2.4e-5 of the 3e-7 distances here.
    exact = (tight[:100, None].double() - tight[None, 100:].double()).norm(dim=2).min(1).values
    assert torch.allclose(dist[:, 0].double(), exact, rtol=1e-4, atol=0) and bool((dist > 0).all())


def test_prdc_of_identical_disjoint_and_mode_dropping_sets():
    x = _blobs(400, d=4)
    same = prdc(x, x)
    assert same["precision"] == same["recall"] == same["coverage"] == 1.0
    assert same["density"] == 1.0  # its own ball and k - 1 others, strictly inside (Naeem et al.)
    far = prdc(x, x + 100.0)
    assert far == {"precision": 0.0, "recall": 0.0, "density": 0.0, "coverage": 0.0}
    two_modes = torch.cat([x, x + 50.0])  # the data has two clusters; the "model" draws only one
    dropped = prdc(two_modes, _blobs(400, d=4, seed=9))
    assert dropped["precision"] > 0.9 and dropped["recall"] < 0.55 and dropped["coverage"] < 0.55


# --- memorization ------------------------------------------------------------------------------
class _Pool(GenerativeModel):
    """A fake "model" that returns items of a fixed pool (training images: a copier)."""

    def __init__(self, pool, palette=None):
        super().__init__(None, tuple(pool.shape[1:]), palette)
        self.register_buffer("pool", pool if palette is None else palette.decode(palette.encode(pool)))

    def sample(self, n, generator=None):
        return self.pool[torch.randint(len(self.pool), (n,), generator=generator, device=self.pool.device)]


class _BinaryPool(_Pool):
    """A binarized model (`--colors 2`) that copies: it returns binarized training images."""

    uses_palette = True


def test_memorization_flags_a_model_that_returns_training_images():
    full = load_dataset("digits")
    data = dataclasses.replace(full, train=full.train[:600], train_labels=full.train_labels[:600])
    test, held_out = data.test[:150], data.test[150:]
    copier = sample_report(_Pool(data.train), data, test, n=100, seeds=[0, 1])
    honest = sample_report(_Pool(held_out), data, test, n=100, seeds=[0, 1])
    for space in ("pixels", "features"):
        assert copier[f"nn_ratio_{space}"]["mean"] < 0.05 and copier[f"copy_share_{space}"]["mean"] == 1.0
        assert 0.7 < honest[f"nn_ratio_{space}"]["mean"] < 1.4 and honest[f"copy_share_{space}"]["mean"] < 0.1
    assert len(copier["fid"]["values"]) == 2 and copier["fid"]["values"][0] != copier["fid"]["values"][1]
    binary = sample_report(_BinaryPool(data.train, Palette.fit(data.train, 2)), data, test, n=100, seeds=[0])
    assert binary["nn_ratio_pixels"]["mean"] < 0.05 and binary["copy_share_pixels"]["mean"] == 1.0
    assert copier["features"].startswith("genlab-classifier:digits:")


def test_memorization_figures_by_definition():
    train = torch.tensor([[0.0], [10.0]])
    test = torch.tensor([[1.0], [12.0], [7.0]])  # nearest-train distances 1, 2, 3: median 2, min 1
    samples = torch.tensor([[0.5], [9.0], [4.0], [10.0]])  # distances 0.5, 1, 4, 0: median 0.75
    figures, index = memorization(samples, train, test)
    assert figures["ratio"] == pytest.approx(0.75 / 2) and figures["copy_share"] == 0.75
    assert index.tolist() == [0, 1, 0, 1]
    assert flat_pixels(torch.full((2, 1, 2, 2), 255, dtype=torch.uint8)).tolist() == [[1.0] * 4] * 2


def test_points_use_their_own_coordinates_as_features():
    data = load_dataset("toy:gmm8")
    report = sample_report(_Pool(data.train[:500]), data, data.test[:300], n=200, seeds=[0])
    assert report["features"] == "raw:points" and "nn_ratio_pixels" not in report
    assert report["precision"]["mean"] > 0.9 and report["nn_ratio_features"]["mean"] < 0.05


# --- the feature network and its cache ------------------------------------------------------------
def _images(seed, labels=True):
    g = torch.Generator().manual_seed(seed)
    x = torch.randint(0, 256, (120, 1, 8, 8), generator=g, dtype=torch.uint8)
    y = torch.arange(120) % 3 if labels else None
    return Dataset(
        "toyimg", "image", x[:100], x[100:], y[:100] if labels else None, y[100:] if labels else None, None, "test"
    )


def test_feature_cache_is_reused_and_keyed_by_the_data(tmp_path, monkeypatch):
    first = features.feature_space(_images(0))
    files = list((tmp_path / "cache" / "features").glob("*.safetensors"))
    assert len(files) == 1 and first.name.startswith("genlab-classifier:toyimg:")
    trained, mtime = features.TRAININGS, files[0].stat().st_mtime_ns
    again = features.feature_space(_images(0))
    assert features.TRAININGS == trained and files[0].stat().st_mtime_ns == mtime  # read, not retrained
    x = _images(0).test
    assert again.name == first.name and torch.equal(again.embed(x), first.embed(x))
    other = features.feature_space(_images(1))  # other training images: another network
    assert other.name != first.name and features.TRAININGS == trained + 1
    ae = features.feature_space(_images(0, labels=False))
    assert ae.name.startswith("genlab-autoencoder:toyimg:") and ae.embed(x).shape == (20, features.WIDTH)
    monkeypatch.setenv("GENLAB_CACHE", str(tmp_path / "elsewhere"))  # trained afresh: the same weights
    assert torch.equal(features.feature_space(_images(0)).embed(x), first.embed(x))


def test_classifier_confidence_sees_digits_that_are_no_one_class():
    from genlab.metrics.classifier import class_probabilities, classifier_scores, has_classifier

    data = load_dataset("digits")
    space = features.feature_space(data)
    assert has_classifier(space)
    x, y = data.test, data.test_labels
    other = torch.stack([x[(y != label).nonzero()[0, 0]] for label in y])  # a digit of another class
    blends = (x.float() / 2 + other.float() / 2).to(x.dtype)  # half one digit, half another: no one class
    real, mixed = (classifier_scores(class_probabilities(space, images))["confidence"] for images in (x, blends))
    assert real > 0.8 and real - mixed > 0.1, (real, mixed)  # seen: 0.90 and 0.73 (a 40-step net)


# --- the command line ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def vae_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("metrics") / "vae"
    assert (
        main(
            [
                "train",
                "vae",
                "--data",
                "digits",
                "--hidden",
                "16",
                "--latent",
                "4",
                "--epochs",
                "1",
                "--batch-size",
                "64",
                "--device",
                "cpu",
                "--quiet",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    return out


def test_cli_evaluate_reports_sample_figures_over_seeds(vae_run, tmp_path, capsys):
    out = tmp_path / "metrics.json"
    args = ["evaluate", str(vae_run), "--n", "40", "--seeds", "2", "--limit", "60", "--iwae-k", "2", "--quiet"]
    assert main([*args, "--out", str(out)]) == 0
    printed, warned = capsys.readouterr()
    m = json.loads(out.read_text())
    assert m["features"].startswith("genlab-classifier:digits:") and m["sample_setup"]["seeds"] == [0, 1]
    # 40 samples, 60 test items: KID over subsets of 20, said once; the k of each figure is reported
    assert m["sample_setup"]["kid_subsets"] == {"subsets": 100, "subset_size": 20, "std_ddof": 1}
    assert m["sample_setup"]["k"] == {"precision_recall": 3, "density_coverage": 5}
    assert warned.count("genlab: warning: KID over 60 and 40 items") == 1 and "k=5" in m["metric_settings"]
    for key in (
        "fid",
        "kid",
        "precision",
        "recall",
        "density",
        "coverage",
        "confidence",
        "nn_ratio_pixels",
        "copy_share_features",
    ):
        assert len(m[key]["values"]) == 2 and m[key]["mean"] == pytest.approx(np.mean(m[key]["values"]))
        assert m[key]["std"] == pytest.approx(np.std(m[key]["values"], ddof=1))
    assert m["fid"]["values"][0] != m["fid"]["values"][1]  # two seeds, two sample sets
    assert "elbo_nll_nats" in m and m["images"] == 60
    assert " ± " in printed and "fid" in printed
    assert (tmp_path / "metrics_nearest.png").stat().st_size > 500
    assert main([*args, "--out", str(tmp_path / "again.json")]) == 0  # seeded: the same figures
    assert json.loads((tmp_path / "again.json").read_text())["fid"] == m["fid"]


def test_cli_evaluate_n_zero_skips_samples_and_inception_is_refused(vae_run, tmp_path, capsys):
    out = tmp_path / "m.json"
    assert main(["evaluate", str(vae_run), "--n", "0", "--limit", "20", "--iwae-k", "2", "--out", str(out)]) == 0
    m = json.loads(out.read_text())
    assert "fid" not in m and m["sample_figures"] == "not computed: --n 0"
    capsys.readouterr()
    for extra, needle in (
        (["--features", "inception"], "not in genlab's cache; get them with `genlab fetch inception`"),
        (["--n", "3"], "at least 6"),
        (["--seeds", "0"], "--seeds"),
    ):
        assert main(["evaluate", str(vae_run), "--limit", "20", *extra, "--out", str(tmp_path / "x.json")]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("genlab: error: ") and needle in err[0], err
    assert not (tmp_path / "x.json").exists()
