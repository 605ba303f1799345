"""The lecture's image sections: colours (claim 2), pixel-distance (claim 10) and imitate (claim 11):
their metrics on inputs whose answer is known, their rules at the edges, and what a run wrote."""

import json
import math

import numpy as np
import pytest
import torch

from genlab.metrics.memorization import flat_pixels, memorization
from genlab.report.lecture import colours, imitate, pixel_distance as pd
from genlab.report.lecture.base import INCONCLUSIVE, NOT_SUPPORTED, SUPPORTED
from threads import one_thread  # noqa: F401  (autouse fixture)


def _section(lecture_dir, key):
    sections = json.loads((lecture_dir / "lecture.json").read_text())["sections"]
    if key not in sections:
        pytest.skip(f"{key} was not run (GENLAB_TEST_LECTURE_ONLY)")
    section = sections[key]
    assert section["pictures"]
    for picture in section["pictures"]:
        assert (lecture_dir / picture["file"]).is_file()
    return section


def _photo(n=6, size=8, seed=0):
    return torch.randint(0, 256, (n, 3, size, size), generator=torch.Generator().manual_seed(seed), dtype=torch.uint8)


# --- colours ------------------------------------------------------------------------------------


def test_chroma_is_zero_for_a_greyed_copy_and_one_for_pure_colours():
    photo = _photo()
    grey = photo.float().mean(1, keepdim=True).round().to(torch.uint8).expand(-1, 3, -1, -1)  # R = G = B
    assert colours.chroma(photo) > 0.3 and colours.chroma(grey) == 0.0
    assert colours.lab_chroma(grey) == pytest.approx(0.0, abs=1e-9)
    pure = torch.zeros(3, 3, 4, 4, dtype=torch.uint8)
    for c in range(3):
        pure[c, c] = 255  # a red, a green and a blue image
    assert colours.chroma(pure) == 1.0
    halfway = (photo.int() + grey.int()).div(2, rounding_mode="floor").to(torch.uint8)  # halfway to grey
    assert colours.chroma(halfway) == pytest.approx(colours.chroma(photo) / 2, abs=0.01)
    red = torch.zeros(1, 3, 1, 1, dtype=torch.uint8)
    red[0, 0] = 255
    assert colours.lab_chroma(red) == pytest.approx(104.55, abs=0.05)  # sRGB red: a* 80.11, b* 67.22
    assert colours.pixel_chroma(pure).tolist() == [1.0] * 48
    assert colours.detail(pure) == 0.0  # flat fields
    checker = ((torch.arange(4)[:, None] + torch.arange(4)[None]) % 2 * 255).to(torch.uint8).expand(1, 3, 4, 4)
    assert colours.detail(checker) == 1.0


@pytest.mark.parametrize(
    "mean, palette, expected",
    [
        ([0.20, 0.21, 0.19], [0.29, 0.30, 0.29], (SUPPORTED, SUPPORTED, SUPPORTED)),  # 33 % greyer, palette on the data
        ([0.30, 0.31, 0.30], [0.29, 0.30, 0.29], (NOT_SUPPORTED, NOT_SUPPORTED, INCONCLUSIVE)),  # not greyer
        ([0.25, 0.30, 0.20], [0.29, 0.30, 0.29], (INCONCLUSIVE, INCONCLUSIVE, INCONCLUSIVE)),  # 17 % ± a spread of 33 %
        (
            [0.20, 0.21, 0.19],
            [0.45, 0.46, 0.45],
            (NOT_SUPPORTED, SUPPORTED, NOT_SUPPORTED),
        ),  # greyer; palette overshoots
    ],
)
def test_the_colours_rule(mean, palette, expected):
    figures = {"chroma": {"data": [0.30] * 3, "mean": mean, "regression": [0.1] * 3, "palette": palette}}
    assert colours.judge(figures) == expected


def test_the_colours_section_reports_what_it_measured(lecture_dir):
    s = _section(lecture_dir, "colours")
    f = s["figures"]
    assert set(f["chroma"]) == {"data", "mean", "regression", "palette"}
    assert all(len(v) == len(s["seeds"]) and all(0 <= x <= 1 for x in v) for v in f["chroma"].values())
    assert colours.judge(f) == (s["verdict"], f["greyer"], f["palette_closer"])
    assert (
        f"data {f['chroma']['data'][0]:.3g}" in s["finding"]
        and f"palette head {f['chroma']['palette'][0]:.3g}" in s["finding"]
    )
    assert "mean" in " ".join(s["trained"]) and len(s["trained"]) == 3 * len(s["seeds"])


# --- imitate ------------------------------------------------------------------------------------


def test_a_blurred_copy_gains_mid_grey_share_and_moves_its_histogram():
    digits = torch.zeros(4, 1, 28, 28, dtype=torch.uint8)
    digits[:, :, 6:22, 12:16] = 255  # black and white bars: no mid-grey pixel
    blurred = torch.nn.functional.avg_pool2d(digits.float(), 5, 1, 2).round().to(torch.uint8)
    assert imitate.mid_grey_share(digits) == 0.0
    edges = imitate.mid_grey_share(blurred)
    assert 0.1 < edges < 0.3  # the bars' edges: 2 columns each side of a 4-wide bar, over 784 pixels
    assert imitate.histogram_distance(digits, digits) == 0.0
    assert imitate.histogram_distance(digits, blurred) == pytest.approx(edges, abs=0.05)
    white = torch.full_like(digits, 255)
    black = torch.zeros_like(digits)
    assert imitate.histogram_distance(white, black) == 1.0
    grey = torch.full_like(digits, 128)
    assert imitate.mid_grey_share(grey) == 1.0 and imitate.histogram(grey)[8] == 1.0


def test_copies_of_training_images_give_a_nearest_neighbour_ratio_near_zero():
    g = torch.Generator().manual_seed(0)
    train, test = (torch.randint(0, 256, (n, 1, 8, 8), generator=g, dtype=torch.uint8) for n in (200, 50))
    copies = train[:50]
    figures, index = memorization(flat_pixels(copies), flat_pixels(train), flat_pixels(test))
    assert figures["ratio"] < 0.01 and figures["copy_share"] == 1.0 and index.tolist() == list(range(50))
    new = torch.randint(0, 256, (50, 1, 8, 8), generator=g, dtype=torch.uint8)
    assert 0.8 < memorization(flat_pixels(new), flat_pixels(train), flat_pixels(test))[0]["ratio"] < 1.2


@pytest.mark.parametrize(
    "vae, gan, ratio, expected",
    [
        ([0.18, 0.19, 0.18], [0.07, 0.08, 0.07], [1.0, 1.1, 1.0], SUPPORTED),
        ([0.18, 0.19, 0.18], [0.07, 0.08, 0.07], [0.1, 0.1, 0.1], NOT_SUPPORTED),  # the GAN copies
        ([0.05, 0.05, 0.05], [0.07, 0.08, 0.07], [1.0, 1.1, 1.0], NOT_SUPPORTED),  # the VAE is not blurrier
        ([0.18, 0.19, 0.18], [0.07, 0.30, 0.07], [1.0, 1.1, 1.0], INCONCLUSIVE),  # the GAN's share spreads over the gap
    ],
)
def test_the_imitate_rule(vae, gan, ratio, expected):
    figures = {"mid_grey": {"data": [0.06] * 3, "vae": vae, "gan": gan}, "nn_ratio": {"vae": [1.2] * 3, "gan": ratio}}
    assert imitate.judge(figures)[0] == expected


def test_the_imitate_section_measures_both_models(lecture_dir):
    s = _section(lecture_dir, "imitate")
    f = s["figures"]
    for key in ("histogram_tv", "precision", "recall", "nn_ratio", "copy_share", "cpu_seconds"):
        assert set(f[key]) == {"vae", "gan"} and all(len(v) == len(s["seeds"]) for v in f[key].values())
    assert set(f["mid_grey"]) == {"data", "vae", "gan"}
    verdict, parts = imitate.judge(f)
    assert verdict == s["verdict"] and parts == f["parts"]
    assert f["vae_steps"] == imitate.STEP_RATIO * f["gan_steps"]
    assert f"VAE {f['mid_grey']['vae'][0]:.3g}" in s["finding"] and f"GAN {f['nn_ratio']['gan'][0]:.3g}" in s["finding"]


# --- pixel-distance ----------------------------------------------------------------------------


def _ring():
    image = np.zeros((28, 28), dtype=np.uint8)
    image[8:20, 8:20] = 255
    image[10:18, 10:18] = 0  # a square ring, 2 pixels thick: one piece, one hole
    return image


def test_topology_counts_pieces_and_holes():
    ring = _ring()
    assert pd.topology(ring >= 128) == (1, 1)
    bars = np.zeros((28, 28), dtype=bool)
    bars[5:20, 6:8] = bars[5:20, 12:14] = True
    assert pd.topology(bars) == (2, 0)
    bars[3, 3] = True  # a speck is not a piece
    assert pd.topology(bars) == (2, 0)


def test_the_harmful_edit_breaks_a_stroke_with_few_pixels_and_the_harmless_ones_keep_the_strokes():
    ring = _ring()
    edited, did = pd.harmful_edit(ring)
    assert did == "open" and pd.topology(edited >= 128) == (1, 0)
    assert (edited != ring).sum() == 4  # a 2x2 square through the 2-pixel-thick ring
    bar = np.zeros((28, 28), dtype=np.uint8)
    bar[5:22, 12:14] = 255
    edited, did = pd.harmful_edit(bar)
    assert did == "cut" and pd.topology(edited >= 128) == (2, 0) and (edited != bar).sum() == 4
    gap = bar.copy()
    gap[12:14] = 0  # a bar with a 2-pixel gap: painting it joins the halves
    assert pd.harmful_edit(gap)[1] == "join"
    assert pd.harmful_edit(np.zeros((28, 28), dtype=np.uint8)) is None
    rng = np.random.default_rng(0)
    for kind in pd.HARMLESS:
        edited, done = pd.harmless_edit(ring, kind, rng)
        assert done == kind and pd.strokes(edited) == pd.strokes(ring)
        assert (edited != ring).sum() > 20  # many pixels
    shifted, _ = pd.harmless_edit(ring, "shift", rng)
    assert pd.pixel_l2(
        torch.from_numpy(ring)[None, None], torch.from_numpy(shifted)[None, None]
    ).item() == pytest.approx(
        math.sqrt(40)
    )  # a 2-thick 12x12 ring moved one pixel: 2 per full row, 4 per row with the hole
    noisy, _ = pd.harmless_edit(ring, "margin noise", rng)
    assert (noisy[4:-4, 4:-4] == ring[4:-4, 4:-4]).all()


def test_total_variation_notes_way_and_bootstrap():
    p = torch.tensor([[1.0, 0.0], [0.5, 0.5]])
    q = torch.tensor([[0.0, 1.0], [0.5, 0.5]])
    assert pd.total_variation(p, q).tolist() == [1.0, 0.0]
    scores = {
        "l2_harmless": torch.tensor([5.0, 5.0, 1.0]),
        "l2_harmful": torch.tensor([1.0, 1.0, 2.0]),
        "tv_harmful": torch.tensor([0.5, 0.1, 0.5]),
        "tv_harmless": torch.tensor([0.1, 0.5, 0.1]),
    }
    assert pd.notes_way(scores).tolist() == [True, False, False]
    assert pd.bootstrap_std(torch.ones(50, dtype=torch.bool)) == 0.0
    half = torch.arange(400) % 2 == 0
    assert pd.bootstrap_std(half) == pytest.approx(0.5 / math.sqrt(400), rel=0.2)


@pytest.mark.parametrize(
    "shares, std, expected",
    [
        ([0.80, 0.82, 0.78], [0.02] * 3, SUPPORTED),
        ([0.30, 0.31, 0.29], [0.02] * 3, NOT_SUPPORTED),
        ([0.55, 0.56, 0.54], [0.03] * 3, INCONCLUSIVE),  # 5 points above one half, inside twice the bootstrap std
        ([0.70, 0.40, 0.60], [0.01] * 3, INCONCLUSIVE),  # inside the seeds' spread
    ],
)
def test_the_pixel_distance_rule(shares, std, expected):
    assert pd.judge({"notes_way": shares, "bootstrap_std": std}) == expected


def test_the_pixel_distance_section_reports_what_it_measured(lecture_dir):
    s = _section(lecture_dir, "pixel-distance")
    f = s["figures"]
    assert pd.judge(f) == s["verdict"] and len(f["notes_way"]) == len(s["seeds"])
    for share, pixel, classifier in zip(
        f["notes_way"], f["pixel_says_harmless_farther"], f["classifier_says_harmful_farther"]
    ):
        assert share <= min(pixel, classifier)  # both at once is at most either
    assert f["pairs"][0] > 0 and f"{100 * f['notes_way'][0]:.3g} % of pairs" in s["finding"]
    assert f["classifier"].startswith("genlab-classifier:mnist5k:")
