"""`genlab lecture`: a section run alone writes its figures and pictures into lecture.json and one
self-contained lecture.html; the page renders in headless chromium with every picture loaded."""
import base64
import io
import json
import math
import re
from pathlib import Path

import pytest
import torch
from PIL import Image

from genlab.cli import main
from genlab.report import lecture as lecture_pkg
from genlab.metrics import features
from genlab.report.lecture import base
from clihelp import cli_error
from threads import one_thread  # noqa: F401  (autouse fixture)

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]


SHRUNK = ("colours", "uses", "code-space", "mixtures", "bound", "imitate", "game")  # at a tenth of the quick
# budget here; vae-noise at the real quick one, whose claim the test checks


@pytest.fixture(scope="module")
def lecture_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("lecture")
    out = root / "lec"
    assert main(["lecture", "--out", str(out), "--quick", "--only", "vae-noise", "--quiet", "--device", "cpu"]) == 0
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("GENLAB_CACHE", str(root / "cache"))
        mp.setattr(features, "STEPS", 40)  # the digits classifier of code-space
        mp.setattr(base.Lab, "budget", lambda self, quick, full: max(quick // 10, 1))
        for key in SHRUNK:
            assert main(["lecture", "--out", str(out), "--quick", "--only", key, "--quiet", "--device", "cpu"]) == 0
    return out


def _section(lecture_dir, key):
    section = json.loads((lecture_dir / "lecture.json").read_text())["sections"][key]
    for picture in section["pictures"]:
        assert (lecture_dir / picture["file"]).is_file()
    return section


def test_vae_noise_section_measures_the_collapse_of_the_noise(lecture_dir):
    data = json.loads((lecture_dir / "lecture.json").read_text())
    section = data["sections"]["vae-noise"]
    assert section["number"] == 4 and section["budget"] == "quick" and section["claim"].startswith("Without the term")
    figures = section["figures"]
    curves = figures["curves"]
    assert curves["with-kl"]["step"][-1] == figures["steps"] == 300
    # the finding quotes the figures it is built from, and the verdict follows from them
    assert f"{figures['final_noise_var_with_kl']:.3g}" in section["finding"]
    assert section["holds"] == (figures["final_noise_var_without_kl"] < 0.1 * figures["final_noise_var_with_kl"])
    # at this budget the noise without KL falls by orders of magnitude (measured: ~1e-3 vs ~0.5)
    assert figures["final_noise_var_without_kl"] < 0.01 < 0.1 < figures["final_noise_var_with_kl"]
    for picture in section["pictures"]:
        assert (lecture_dir / picture["file"]).is_file()
    runs = lecture_dir / "runs" / "vae-noise"
    assert json.loads((runs / "without-kl" / "config.json").read_text())["model_config"]["beta"] == 0.0


def test_bound_section_measures_elbo_and_iwae_against_encoder_steps(lecture_dir):
    section = _section(lecture_dir, "bound")
    f = section["figures"]
    curves = f["curves"]
    assert f["encoder_steps"] == 30 and curves["step"][0] == 0 and curves["step"][-1] == 30
    assert f["gap_start"] == curves["elbo"][0] - curves["iwae1000"][0]
    assert f["gap_end"] == curves["elbo"][-1] - curves["iwae1000"][-1]
    for elbo, tight in zip(curves["elbo"], curves["iwae1000"]):
        # on 64 images the 1000-sample bound is tighter than the one-sample ELBO by nats, not by noise
        assert tight < elbo
    assert f"{curves['elbo'][0]:.1f}" in section["finding"]
    assert section["holds"] == (f["gap_end"] < 0.5 * f["gap_start"] and curves["elbo"][-1] < curves["elbo"][0])


def test_game_section_plays_with_d_fixed_and_not(lecture_dir):
    section = _section(lecture_dir, "game")
    f = section["figures"]
    assert f["iterations"] == 120 and section["number"] == 8
    for name in ("D fixed", "D not fixed"):
        assert f[name]["coverage"]["modes_total"] == 8
        assert f[name]["curves"]["step"] == list(range(0, 120, 10))
        assert all(0 <= p <= 1 for p in f[name]["curves"]["d_fake"])
    assert section["holds"] == (f["D fixed"]["coverage"]["modes_covered"] >= 6)
    frames = Image.open(lecture_dir / "pictures" / "game" / "frames_fixed.png")
    assert frames.width == 4 * frames.height * 384 // (384 + 44)  # four frames side by side


def test_colours_section_measures_saturation_of_both_outputs(lecture_dir):
    section = _section(lecture_dir, "colours")
    sat = section["figures"]["saturation"]
    assert set(sat) == {"data", "regression", "palette"} and all(0 <= v <= 1 for v in sat.values())
    assert sat["data"] == pytest.approx(0.83, abs=0.02)  # the flower photo's crops are strongly coloured
    runs = lecture_dir / "runs" / "colours"
    assert json.loads((runs / "regression" / "config.json").read_text())["model_config"]["output"] == "regression"
    assert section["holds"] == (sat["regression"] < 0.9 * sat["data"]
                                and abs(sat["palette"] - sat["data"]) < abs(sat["regression"] - sat["data"]))


def test_colours_saturation_is_zero_for_grey_and_one_for_pure_colours():
    from genlab.report.lecture.colours import saturation

    grey = torch.full((2, 3, 4, 4), 120, dtype=torch.uint8)
    red = torch.zeros(2, 3, 4, 4, dtype=torch.uint8)
    red[:, 0] = 200
    assert saturation(grey) == 0.0 and saturation(red) == 1.0


def test_uses_section_completes_in_several_ways(lecture_dir):
    f = _section(lecture_dir, "uses")["figures"]
    assert len(f["distinct_completions"]) == f["images"] and max(f["distinct_completions"]) <= f["ways"]
    assert 0 < f["test_bits_per_dim"] < 1  # binarized digits: at most 1 bit per pixel for a useful model
    assert f["test_bits_per_dim"] == pytest.approx(f["test_nll_nats"] / (64 * math.log(2)))


def test_code_space_and_imitate_sections_score_what_they_show(lecture_dir):
    scores = _section(lecture_dir, "code-space")["figures"]["scores"]
    for family in ("ae", "vae"):
        assert set(scores[family]) == {"reconstructions", "midpoints", "draws"}
        assert all(s["fid"] >= 0 and 0 < s["confidence"] <= 1 for s in scores[family].values())
    f = _section(lecture_dir, "imitate")["figures"]
    assert set(f["sharpness"]) == {"data", "vae", "gan"} and f["gan_memorization"]["ratio"] > 0


def test_sharpness_is_zero_for_flat_images_and_grows_with_edges():
    from genlab.report.lecture.imitate import sharpness

    flat = torch.full((1, 1, 4, 4), 77, dtype=torch.uint8)
    stripes = torch.zeros(1, 1, 4, 4, dtype=torch.uint8)
    stripes[..., ::2] = 255  # every horizontal neighbour differs by 1, no vertical one
    assert sharpness(flat) == 0.0 and sharpness(stripes) == pytest.approx(1.0)


def test_mixtures_section_puts_every_model_on_one_scale(lecture_dir):
    models = _section(lecture_dir, "mixtures")["figures"]["models"]
    assert models["vae"]["figure"] == "iwae100_nll" and models["gmm-4"]["figure"] == "nll"
    for r in models.values():  # bits/dim over the 64 dequantized pixel values of a digit
        assert r["bits_per_dim"] == pytest.approx(r["nats"] / (64 * math.log(2)))
    assert models["gmm-1"]["bits_per_dim"] > models["gmm-16"]["bits_per_dim"]  # more components fit better


def test_the_page_is_self_contained_and_in_the_notes_order(lecture_dir):
    html = (lecture_dir / "lecture.html").read_text()
    assert "<script" not in html and not re.search(r"(src|href)=\"(?!data:|#)", html)
    images = re.findall(r'<img src="([^"]*)"', html)
    assert images and all(uri.startswith("data:image/png;base64,") for uri in images)
    for uri in images:
        Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1]))).verify()
    numbers = [int(n) for n in re.findall(r'<h2 id="[^"]+">(\d+)\. ', html)]
    assert numbers == sorted(numbers) and 4 in numbers
    data = json.loads((lecture_dir / "lecture.json").read_text())
    run_numbers = {s.number for s in lecture_pkg.SECTIONS}
    assert {m["number"] for m in data["missing"]} == set(range(1, 9)) - run_numbers  # said, not hidden


def test_unknown_section_and_file_as_out_are_one_line_errors(tmp_path, capsys):
    line = cli_error(capsys, ["lecture", "--out", str(tmp_path / "x"), "--only", "nosuch"])
    assert "nosuch" in line and "vae-noise" in line
    (tmp_path / "file").write_text("keep")
    line = cli_error(capsys, ["lecture", "--out", str(tmp_path / "file"), "--only", "vae-noise"])
    assert "is a file" in line and (tmp_path / "file").read_text() == "keep"


@pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed (apt-get install chromium; "
                                                  "scripts/dev.sh test does it where apt-get is available)")
def test_the_page_renders_in_chromium_with_every_picture_loaded(lecture_dir):
    sync_api = pytest.importorskip("playwright.sync_api")
    problems = []
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            tab = browser.new_page()
            tab.on("console", lambda m: problems.append(f"{m.type}: {m.text}") if m.type in ("error", "warning") else None)
            tab.on("pageerror", lambda e: problems.append(f"page error: {e}"))
            tab.on("request", lambda r: problems.append(f"fetched {r.url}") if not r.url.startswith(("data:", "file:")) else None)
            tab.goto((lecture_dir / "lecture.html").as_uri(), wait_until="load")
            loaded = tab.evaluate("[...document.images].map(i => i.complete && i.naturalWidth > 0)")
            headings = tab.evaluate("[...document.querySelectorAll('h2')].map(h => h.textContent)")
        finally:
            browser.close()
    assert problems == []
    assert loaded and all(loaded)
    assert len(loaded) == len(re.findall(r"<img ", (lecture_dir / "lecture.html").read_text()))
    assert headings == [f"{s.number}. {s.title}" for s in lecture_pkg.SECTIONS]  # all 8, in the notes' order


def test_a_section_that_fails_leaves_the_earlier_run_of_it_in_place(tmp_path, monkeypatch):
    from genlab import viz
    from genlab.core.errors import GenlabError

    def good(lab):
        viz.save_grid(torch.zeros(2, 1, 4, 4, dtype=torch.uint8), lab.picture("p.png"))
        return base.Outcome({"x": 1}, [("p.png", "a picture", False)], "found 1", True, "setup")

    def bad(lab):
        (lab.pictures / "half.png").write_bytes(b"not yet")
        raise GenlabError("stopped half way")

    monkeypatch.setattr(lecture_pkg, "SECTIONS", [base.Section(4, "fake", "Fake", "A claim.", good)])
    lecture_pkg.lecture(tmp_path, only="fake", say=lambda _: None)
    page_before = (tmp_path / "lecture.html").read_text()
    monkeypatch.setattr(lecture_pkg, "SECTIONS", [base.Section(4, "fake", "Fake", "A claim.", bad)])
    with pytest.raises(GenlabError):
        lecture_pkg.lecture(tmp_path, only="fake", say=lambda _: None)
    assert sorted(p.name for p in (tmp_path / "pictures" / "fake").iterdir()) == ["p.png"]
    assert json.loads((tmp_path / "lecture.json").read_text())["sections"]["fake"]["figures"] == {"x": 1}
    assert (tmp_path / "lecture.html").read_text() == page_before
    monkeypatch.setattr(lecture_pkg, "SECTIONS", [base.Section(4, "fake", "Fake", "A claim.", good)])
    lecture_pkg.lecture(tmp_path, only="fake", say=lambda _: None)  # a rerun clears what the failed one left
    assert not (tmp_path / "pictures" / "fake.new").exists()
