"""`genlab compare`: every registered image family trained on the same data and budget, one
self-contained report (checked in headless Chromium when it is installed), and its exit-2 errors."""

import base64
import io
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from PIL import Image

from genlab import viz
from genlab.cli import main
from genlab.metrics import features
from genlab.models import REGISTRY, Capability
from genlab.report.compare import kinds_of
from clihelp import cli_error

FAMILIES = [name for name in sorted(REGISTRY) if "image" in kinds_of(name)]  # whatever has landed
CHROMIUM = Path("/usr/bin/chromium")


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    root = tmp_path_factory.mktemp("compare")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("GENLAB_CACHE", str(root / "cache"))
        mp.setattr(features, "STEPS", 40)
        out = root / "cmp"
        assert (
            main(
                [
                    "compare",
                    "--data",
                    "digits",
                    "--models",
                    ",".join(FAMILIES),
                    "--minutes",
                    "0.02",
                    "--n",
                    "30",
                    "--seeds",
                    "2",
                    "--limit",
                    "40",
                    "--iwae-k",
                    "4",
                    "--out",
                    str(out),
                    "--quiet",
                    "--jobs",
                    "1",
                ]
            )
            == 0
        )  # in this process: side by side is test_compare_jobs.py's
    return out


def _images(html: str) -> list[str]:
    return re.findall(r'<img src="([^"]*)"', html)


def test_metrics_json_holds_every_family_in_one_feature_space(report):
    m = json.loads((report / "metrics.json").read_text())
    assert list(m["models"]) == FAMILIES and m["budget_minutes"] == {f: 0.02 for f in FAMILIES} and m["seeds"] == [0, 1]
    assert m["features"].startswith("genlab-classifier:digits:")
    for name, figures in m["models"].items():
        assert figures["family"] == name and (report / "runs" / name / "config.json").is_file()
        assert figures["features"] == m["features"]  # one feature space for every model
        assert len(figures["fid"]["values"]) == 2 and 0 <= figures["precision"]["mean"] <= 1
        assert figures["training"]["steps"] >= 1
        picture = figures["sample_setup"].get("nearest_picture")  # every path relative to the report folder
        assert picture is None or (picture == f"pictures/{name}_nearest.png" and (report / picture).is_file())
    assert any("nearest_picture" in f["sample_setup"] for f in m["models"].values())


def test_the_report_draws_time_to_quality_lines_from_metrics_csv(report):
    m = json.loads((report / "metrics.json").read_text())
    html = (report / "report.html").read_text()
    section = html.split('<h2 id="time-to-quality">')[1].split("<h2")[0]
    assert len(_images(section)) == 1 and (report / "pictures" / "time_to_quality.png").is_file()
    for name, figures in m["models"].items():
        quality = figures["training"]["quality"]  # [training seconds, FID] per sample-quality row
        rows = [r for r in viz.read_metrics(report / "runs" / name / "metrics.csv") if r.get("fid")]
        assert quality == [[float(r["seconds"]), float(r["fid"])] for r in rows] and len(quality) >= 1
        assert quality[-1][0] == figures["training"]["seconds"]  # the last row: the trained model
        # a row every tenth of the budget and one at the end; a full-batch family (the mixture: one
        # step is an EM epoch over all the data) may converge within its first step or two: one row
        assert len(quality) >= (1 if REGISTRY[name].full_batch else 2), (name, quality)
        assert all(a[0] < b[0] for a, b in zip(quality, quality[1:])) and all(f > 0 for _, f in quality)


def test_report_is_one_self_contained_page(report):
    html = (report / "report.html").read_text()
    assert html.count("<html") == 1 and "<script" not in html and "<link" not in html
    assert not re.search(r"(src|href)=\"(?!data:)", html) and "url(" not in html
    assert "default-src 'none'" in html  # the page's own policy forbids anything fetched
    for uri in _images(html):
        assert uri.startswith("data:image/png;base64,")
        Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1]))).verify()
    assert "Memorization, in plain words" in html and "distance ratio" in html


@pytest.mark.parametrize("family", FAMILIES)
def test_each_family_gets_its_pictures(report, family):
    html = (report / "report.html").read_text()
    section = html.split(f'<h2 id="{family}">')[1].split("<h2")[0]
    cls = REGISTRY[family]
    expected = ["64 samples", "nearest training images", "per step"]
    expected += ["two completions of each"] if Capability.COMPLETES in cls.capabilities else []
    expected += ["reconstructions", "straight lines in latent space"] if Capability.ENCODES in cls.capabilities else []
    for caption in expected:
        assert f"<figcaption>{family}: " in section and caption in section, caption
    assert len(_images(section)) >= len(expected)
    if Capability.COMPLETES not in cls.capabilities:
        assert "completions" not in section


@pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason="Debian's chromium is not installed (apt-get install chromium; "
    "scripts/dev.sh test does it where apt-get is available)",
)
def test_report_renders_in_headless_chromium(report, tmp_path):
    """Load a copy of the page with a probe script in front of its policy: no console error, no
    blocked resource, every image decoded, and the metrics table equal to metrics.json."""
    probe = """<script>
    const problems = [];
    window.addEventListener("error", e => problems.push("error: " + e.message));
    document.addEventListener("securitypolicyviolation", e => problems.push("blocked: " + e.blockedURI));
    for (const level of ["error", "warn"]) {
      const original = console[level];
      console[level] = (...args) => { problems.push(level + ": " + args.join(" ")); original(...args); };
    }
    window.addEventListener("load", () => {
      const images = [...document.images].map(i => i.complete && i.naturalWidth > 0);
      const cells = [...document.querySelectorAll("td[data-key]")].map(
        td => [td.dataset.model, td.dataset.key, td.textContent]);
      const out = document.createElement("pre");
      out.id = "probe";
      out.textContent = JSON.stringify({problems, images, cells});
      document.body.appendChild(out);
    });
    </script>"""
    page = tmp_path / "page.html"
    page.write_text((report / "report.html").read_text().replace("<head>", "<head>" + probe, 1))
    flags = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        f"--user-data-dir={tmp_path / 'ud'}",
    ]
    done = subprocess.run(
        [str(CHROMIUM), *flags, "--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=120
    )
    found = re.search(r'<pre id="probe">(.*?)</pre>', done.stdout, re.S)
    assert found, done.stderr[-2000:]
    result = json.loads(found.group(1).replace("&amp;", "&").replace("&lt;", "<").replace("&gt;", ">"))
    assert result["problems"] == []
    assert result["images"] and all(result["images"]) and len(result["images"]) == len(_images(page.read_text()))
    metrics = json.loads((report / "metrics.json").read_text())["models"]
    keys = {(model, key) for model, key, _ in result["cells"]}
    assert {(m, "fid") for m in FAMILIES} <= keys and {(m, "recall") for m in FAMILIES} <= keys
    for model, key, text in result["cells"]:
        value = metrics[model]
        for part in key.split("/"):  # training/steps: metrics.json's nested figures
            value = value[part]
        mean = value["mean"] if isinstance(value, dict) else value
        shown = float(text.split(" ± ")[0])
        rounded = 0.5 if key.startswith("training/") else 5e-4  # seconds shown whole, epochs to a tenth
        assert shown == pytest.approx(mean, rel=5e-3, abs=rounded), (model, key, text)
        assert (" ± " in text) == isinstance(value, dict)  # two seeds: mean ± std
    shot = tmp_path / "report.png"
    subprocess.run(
        [str(CHROMIUM), *flags, "--window-size=1200,1600", f"--screenshot={shot}", page.as_uri()],
        capture_output=True,
        timeout=120,
    )
    assert Image.open(shot).size == (1200, 1600)


def test_compare_given_runs_without_training(report, tmp_path, capsys):
    runs = [str(report / "runs" / name) for name in FAMILIES[:2]]
    out = tmp_path / "again"
    assert (
        main(
            [
                "compare",
                "--runs",
                ",".join(runs),
                "--n",
                "0",
                "--limit",
                "20",
                "--iwae-k",
                "2",
                "--out",
                str(out),
                "--quiet",
            ]
        )
        == 0
    )
    m = json.loads((out / "metrics.json").read_text())
    assert list(m["models"]) == FAMILIES[:2] and m["budget_minutes"] is None and m["features"] is None
    assert all("fid" not in f for f in m["models"].values())
    assert not (out / "runs").exists()  # nothing was trained


def test_compare_errors_exit_2(report, tmp_path, capsys):
    capsys.readouterr()
    line = cli_error(capsys, ["compare", "--data", "digits", "--models", "vae,nosuch", "--out", str(tmp_path / "x")])
    assert "nosuch" in line and all(name in line for name in REGISTRY)  # names what exists
    if "wavenet" in REGISTRY:
        assert "cannot train on digits" in cli_error(
            capsys, ["compare", "--data", "digits", "--models", "wavenet", "--out", str(tmp_path / "x")]
        )
    other = tmp_path / "other"
    shutil.copytree(report / "runs" / FAMILIES[0], other)
    config = json.loads((other / "config.json").read_text())
    config["data"]["data"] = "mnist5k"
    (other / "config.json").write_text(json.dumps(config))
    assert "different data" in cli_error(
        capsys, ["compare", "--runs", f"{report / 'runs' / FAMILIES[0]},{other}", "--out", str(tmp_path / "x")]
    )
    assert "not both" in cli_error(
        capsys, ["compare", "--runs", str(other), "--models", "vae", "--out", str(tmp_path / "x")]
    )
    assert "twice" in cli_error(capsys, ["compare", "--models", "vae,vae", "--out", str(tmp_path / "x")])
    assert "already holds" in cli_error(
        capsys, ["compare", "--data", "digits", "--models", FAMILIES[0], "--out", str(report)]
    )
    assert not (tmp_path / "x").exists()


def test_the_readme_section_shows_the_reports_pictures_and_table(report, tmp_path):
    from genlab.core.errors import GenlabError
    from genlab.report.compare_page import fmt
    from genlab.report.readme import BEGIN, END, demo_section, replace_section

    docs = tmp_path / "docs" / "demo"
    section = demo_section(report, docs, tmp_path)
    m = json.loads((report / "metrics.json").read_text())
    for name, figures in m["models"].items():
        row = next(line for line in section.splitlines() if line.startswith(f"| {name} |"))
        assert fmt(figures["fid"]) in row and fmt(figures["coverage"]) in row
    copied = sorted(p.name for p in docs.iterdir())
    assert "vae_samples.png" in copied and all(f"](docs/demo/{name})" in section for name in copied)
    Image.open(docs / "vae_samples.png").verify()
    readme = f"intro\n{BEGIN}\nold table\n{END}\noutro\n"
    once = replace_section(readme, section)
    assert once.startswith(f"intro\n{BEGIN}\n") and once.endswith(f"{END}\noutro\n") and "old table" not in once
    assert replace_section(once, section) == once
    with pytest.raises(GenlabError, match="marker|needs one"):
        replace_section("no markers here", section)


def test_a_test_split_smaller_than_a_picture_row_shrinks_the_rows(tmp_path, monkeypatch, capsys):
    """A folder of 60 PNGs leaves 6 test images: completions and reconstructions show rows of 6,
    interpolations 3 lines (it crashed on rows of 8 before)."""
    from sklearn.datasets import load_digits

    folder = tmp_path / "pngs"
    folder.mkdir()
    for i, x in enumerate(load_digits().images[:60]):
        Image.fromarray((x * 16).clip(0, 255).astype("uint8")).save(folder / f"{i}.png")
    monkeypatch.setenv("GENLAB_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(features, "STEPS", 20)
    out = tmp_path / "cmp"
    assert (
        main(
            [
                "compare",
                "--data",
                str(folder),
                "--models",
                "pixelrnn,vae",
                "--minutes",
                "0.005",
                "--n",
                "30",
                "--iwae-k",
                "2",
                "--jobs",
                "1",
                "--out",
                str(out),
                "--quiet",
            ]
        )
        == 0
    )
    assert "against 6 test items" in capsys.readouterr().out
    for name, (cols, rows) in {
        "pixelrnn_completions": (6, 4),
        "vae_reconstructions": (6, 2),
        "vae_interpolations": (10, 3),
    }.items():
        w, h = Image.open(out / "pictures" / f"{name}.png").size  # cells of c pixels, padding c / 5
        assert w / h == pytest.approx((cols + 0.2) / (rows + 0.2), rel=0.02), name
