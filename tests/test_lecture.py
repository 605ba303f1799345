"""`genlab lecture`: a section run alone writes its figures and pictures into lecture.json and one
self-contained lecture.html; the page renders in headless chromium with every picture loaded."""

import base64
import io
import json
import os
import re
from pathlib import Path

import pytest
import torch
from PIL import Image

from genlab.report import lecture as lecture_pkg
from genlab.report.lecture import base
from browserhelp import browser, needs_chromium  # noqa: F401  (fixture)
from clihelp import cli_error
from threads import one_thread  # noqa: F401  (autouse fixture)


def _section(lecture_dir, key):
    section = json.loads((lecture_dir / "lecture.json").read_text())["sections"][key]
    for picture in section["pictures"]:
        assert (lecture_dir / picture["file"]).is_file()
    return section


@pytest.mark.parametrize(
    "margins, slack, expected",
    [
        ([1.0, 1.2, 0.8], 0.0, "supported"),  # mean 1.0 beyond the seeds' spread 0.4
        ([0.1, 0.5, -0.2], 0.0, "inconclusive"),  # mean 0.13 inside the spread 0.7
        ([-1.0, -1.1, -0.9], 0.0, "not supported"),
        ([0.3], 0.5, "inconclusive"),  # one seed: only the slack (a bound's looseness) can say it is noise
        ([0.6], 0.5, "supported"),
        ([-0.6], 0.5, "not supported"),
        ([0.5], 0.5, "inconclusive"),  # exactly at the noise: not beyond it
        ([float("nan"), 1.0], 0.0, "inconclusive"),
    ],
)
def test_a_rule_maps_margins_to_the_three_verdicts(margins, slack, expected):
    assert base.decide(margins, slack) == expected


def test_a_claim_of_several_parts_needs_every_part():
    s, n, i = base.SUPPORTED, base.NOT_SUPPORTED, base.INCONCLUSIVE
    assert base.all_of(s, s) == s and base.all_of(s, i) == i and base.all_of(i, n) == n and base.all_of(s, n) == n
    with pytest.raises(ValueError):
        base.Outcome({}, [], "x", "holds")  # only the three words


def test_the_claims_table_is_the_notes_order_and_every_section_answers_one():
    from genlab.report.lecture.claims import CLAIMS

    assert [c.number for c in CLAIMS] == list(range(1, len(CLAIMS) + 1))
    assert len({c.key for c in CLAIMS}) == len(CLAIMS) == 12
    notes = next(Path(__file__).resolve().parents[2].glob("shared/seed/*.txt"), None)
    for c in CLAIMS:
        assert c.quote and c.gloss and c.title
        if notes is not None:  # the quotes are the notes' own words: every run of Chinese characters is in them
            text = notes.read_text(encoding="utf-8").replace("**", "")  # without markdown emphasis
            for run in re.findall(r"[\u4e00-\u9fff，。（）]{4,}", c.quote):
                assert run in text, (c.key, run)
    assert [s.key for s in lecture_pkg.SECTIONS] == [c.key for c in CLAIMS if c.key in lecture_pkg.keys()]


def test_claims_without_a_section_are_named_on_the_page(tmp_path, monkeypatch):
    def good(lab):
        return base.Outcome({"x": 1}, [], "found 1", base.SUPPORTED, "setup")

    monkeypatch.setattr(lecture_pkg, "SECTIONS", [base.Section("bound", "d", "f", "r", good)])
    data = lecture_pkg.lecture(tmp_path, only="bound", say=lambda _: None)
    from genlab.report.lecture.claims import CLAIMS

    assert [m["key"] for m in data["missing"]] == [c.key for c in CLAIMS if c.key != "bound"]
    html = (tmp_path / "lecture.html").read_text()
    assert html.count("no experiment in this genlab yet") == len(CLAIMS) - 1


def test_labelled_rows_draw_every_pixel_as_a_block_with_the_label_inside(tmp_path):
    images = torch.zeros(3, 1, 5, 7, dtype=torch.uint8)
    images[:, :, 2, 3] = 255
    base.labelled_rows([("top", images), ("bottom", images)], tmp_path / "p.png", scale=4, label_width=60)
    pic = Image.open(tmp_path / "p.png").convert("L")
    assert pic.size == (60 + 3 * (7 * 4 + 2) + 2, 2 * (5 * 4 + 2) + 2)
    x0, y0 = 60 + 2, 2  # the first tile: its bright pixel is a 4x4 block at (3, 2)
    block = [pic.getpixel((x0 + 3 * 4 + dx, y0 + 2 * 4 + dy)) for dx in range(4) for dy in range(4)]
    assert block == [255] * 16 and pic.getpixel((x0 + 3 * 4 - 1, y0 + 2 * 4)) == 0
    assert pic.crop((0, 0, 58, pic.height)).getextrema()[0] < 100  # the labels are drawn in the label column


def test_every_section_of_the_claims_table_is_on_the_page_with_its_rule(lecture_dir):
    data = json.loads((lecture_dir / "lecture.json").read_text())
    chosen = [s.key for s in lecture_pkg.choose(os.environ.get("GENLAB_TEST_LECTURE_ONLY"))]
    assert set(data["sections"]) == set(chosen)
    for key in chosen:
        s = _section(lecture_dir, key)
        assert s["verdict"] in ("supported", "not supported", "inconclusive")
        assert s["quote"] and s["gloss"] and s["rule"] and s["data"] and s["figure"] and s["seeds"]
        assert s["pictures"] and s["seconds"] > 0 and s["cpu_seconds"] > 0


def test_the_page_is_self_contained_and_in_the_notes_order(lecture_dir):
    html = (lecture_dir / "lecture.html").read_text()
    assert "<script" not in html and not re.search(r"(src|href)=\"(?!data:|#)", html)
    images = re.findall(r'<img src="([^"]*)"', html)
    assert images and all(uri.startswith("data:image/png;base64,") for uri in images)
    for uri in images:
        Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1]))).verify()
    numbers = [int(n) for n in re.findall(r'<h2 id="[^"]+">(\d+)\. ', html)]
    ran = json.loads((lecture_dir / "lecture.json").read_text())["sections"]
    assert numbers == sorted(numbers) == sorted(s["number"] for s in ran.values())
    assert '<blockquote lang="zh">' in html and "Rule, fixed before the run." in html


def test_unknown_section_and_file_as_out_are_one_line_errors(tmp_path, capsys):
    line = cli_error(capsys, ["lecture", "--out", str(tmp_path / "x"), "--only", "nosuch"])
    assert "nosuch" in line and all(key in line for key in lecture_pkg.keys())
    assert "--jobs" in cli_error(capsys, ["lecture", "--out", str(tmp_path / "x"), "--jobs", "0"])
    (tmp_path / "file").write_text("keep")
    line = cli_error(capsys, ["lecture", "--out", str(tmp_path / "file"), "--only", "vae-noise"])
    assert "is a file" in line and (tmp_path / "file").read_text() == "keep"


@needs_chromium
def test_the_page_renders_in_chromium_with_every_picture_loaded(lecture_dir, browser):
    problems = []
    tab = browser.new_page()
    try:
        tab.on("console", lambda m: problems.append(f"{m.type}: {m.text}") if m.type in ("error", "warning") else None)
        tab.on("pageerror", lambda e: problems.append(f"page error: {e}"))
        tab.on(
            "request",
            lambda r: problems.append(f"fetched {r.url}") if not r.url.startswith(("data:", "file:")) else None,
        )
        tab.goto((lecture_dir / "lecture.html").as_uri(), wait_until="load")
        loaded = tab.evaluate("[...document.images].map(i => i.complete && i.naturalWidth > 0)")
        headings = tab.evaluate("[...document.querySelectorAll('h2')].map(h => h.textContent)")
    finally:
        tab.close()
    assert problems == []
    assert loaded and all(loaded)
    assert len(loaded) == len(re.findall(r"<img ", (lecture_dir / "lecture.html").read_text()))
    ran = json.loads((lecture_dir / "lecture.json").read_text())["sections"]
    assert headings == [f"{s.number}. {s.title}" for s in lecture_pkg.SECTIONS if s.key in ran]  # the notes' order


def test_a_section_that_fails_leaves_the_earlier_run_of_it_in_place(tmp_path, monkeypatch):
    from genlab import viz
    from genlab.core.errors import GenlabError

    def good(lab):
        viz.save_grid(torch.zeros(2, 1, 4, 4, dtype=torch.uint8), lab.picture("p.png"))
        return base.Outcome({"x": 1}, [("p.png", "a picture", False)], "found 1", base.SUPPORTED, "setup")

    def bad(lab):
        (lab.pictures / "half.png").write_bytes(b"not yet")
        raise GenlabError("stopped half way")

    monkeypatch.setattr(lecture_pkg, "SECTIONS", [base.Section("bound", "data", "figure", "rule", good)])
    lecture_pkg.lecture(tmp_path, only="bound", say=lambda _: None)
    page_before = (tmp_path / "lecture.html").read_text()
    monkeypatch.setattr(lecture_pkg, "SECTIONS", [base.Section("bound", "data", "figure", "rule", bad)])
    with pytest.raises(GenlabError):
        lecture_pkg.lecture(tmp_path, only="bound", say=lambda _: None)
    assert sorted(p.name for p in (tmp_path / "pictures" / "bound").iterdir()) == [base.MADE, "p.png"]
    assert json.loads((tmp_path / "lecture.json").read_text())["sections"]["bound"]["figures"] == {"x": 1}
    assert (tmp_path / "lecture.html").read_text() == page_before
    monkeypatch.setattr(lecture_pkg, "SECTIONS", [base.Section("bound", "data", "figure", "rule", good)])
    lecture_pkg.lecture(tmp_path, only="bound", say=lambda _: None)  # a rerun clears what the failed one left
    assert not (tmp_path / "pictures" / "bound.new").exists()


def test_sections_side_by_side_each_in_a_process_of_its_own(tmp_path):
    lines = []
    data = lecture_pkg.lecture(tmp_path, quick=True, only="vae-noise,bound", device="cpu", say=lines.append, jobs=2)
    assert set(data["sections"]) == {"vae-noise", "bound"}
    for key in ("vae-noise", "bound"):
        s = _section(tmp_path, key)
        assert s["cpu_seconds"] > 0 and s["budget"] == "quick"
        assert any(line.startswith(f"[{key}] training ") for line in lines)  # its own lines, whole and prefixed
    assert "2 at once" in lines[0]
    assert not list(tmp_path.glob("*/*.new"))


def test_a_lecture_never_deletes_or_overwrites_what_the_user_put_in_its_folder(tmp_path, capsys, monkeypatch):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep")
    line = cli_error(capsys, ["lecture", "--out", mine, "--only", "bound"])
    assert "not a lecture folder" in line and sorted(p.name for p in mine.iterdir()) == ["notes.txt"]

    def good(lab):
        viz.save_grid(torch.zeros(2, 1, 4, 4, dtype=torch.uint8), lab.picture("p.png"))
        return base.Outcome({"x": 1}, [("p.png", "a picture", False)], "found 1", base.SUPPORTED, "setup")

    from genlab import viz

    monkeypatch.setattr(lecture_pkg, "SECTIONS", [base.Section("bound", "data", "figure", "rule", good)])
    out = tmp_path / "lec"
    lecture_pkg.lecture(out, only="bound", say=lambda _: None)
    lecture_pkg.lecture(out, only="bound", say=lambda _: None)  # its own files it replaces
    for planted in (out / "pictures" / "bound" / "mine.png", out / "runs" / "bound" / "sub" / "important.txt"):
        planted.parent.mkdir(parents=True, exist_ok=True)
        planted.write_text("the user's")
        line = cli_error(capsys, ["lecture", "--out", out, "--only", "bound"])
        assert str(planted) in line and planted.read_text() == "the user's"
        assert (out / "pictures" / "bound" / "p.png").is_file()  # the earlier run of the section is still there
        planted.unlink()
