"""Class-conditional VAE and GAN (`--conditional`): trained on two classes told apart by brightness
(dark and bright noisy 8x8 squares), each draws the class it is asked for far above chance (½);
the label changes a seeded sample and holds along an interpolation; unknown labels exit 2 naming the
valid ones; the report scores each class as the data's classifier reads it; the GAN's options
(spectral norm, EMA, WGAN-GP) carry the class; and runs saved before the option load as trained."""

import json

import numpy as np
import pytest
import torch

from clihelp import cli_error
from genlab import load
from genlab.cli import main as cli_main
from genlab.core.errors import GenlabError
from genlab.models.gan import GAN
from genlab.models.vae import VAE
from browserhelp import browser, needs_chromium, pixels_of, wait_until  # noqa: F401  (fixture)
from servehelp import live_server
from threads import one_thread  # noqa: F401  (autouse fixture)

FAMILIES = {  # tiny networks, a few hundred steps: seconds each
    "vae": ["--hidden", "16", "--latent", "3", "--mixture", "4", "--steps", "120"],
    "gan": ["--conv-channels", "8", "--latent", "8", "--steps", "120"],
}


def main(argv) -> int:
    return cli_main([str(a) for a in argv])


def bright(images) -> np.ndarray:
    """Which images (N, 1, 8, 8) are of the bright class: mean above mid-grey."""
    return np.asarray(images, dtype=float).mean((1, 2, 3)) > 127.5


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Class 0: dark squares (grey 40 ± 25), class 1: bright ones (215 ± 25); a conditional run of each family."""
    root = tmp_path_factory.mktemp("condlatent")
    rng = np.random.default_rng(0)
    y = np.arange(1600) % 2  # 1,280 training squares: the steps take 4 epochs, and their pictures, not 15
    x = np.clip(np.where(y == 0, 40, 215)[:, None, None] + rng.normal(0, 25, (1600, 8, 8)), 0, 255).astype(np.uint8)
    np.savez(root / "two.npz", x_train=x[:1280], y_train=y[:1280], x_test=x[1280:], y_test=y[1280:])
    for family, options in FAMILIES.items():
        assert (
            main(
                [
                    "train",
                    family,
                    "--data",
                    root / "two.npz",
                    "--conditional",
                    *options,
                    "--batch-size",
                    "32",
                    "--out",
                    root / family,
                    "--quiet",
                ]
            )
            == 0
        )
    return root


@pytest.mark.parametrize("family", FAMILIES)
def test_a_conditional_run_draws_the_class_it_is_asked_for(runs, family):
    run = runs / family
    assert json.loads((run / "config.json").read_text())["model_config"]["label_count"] == 2
    for label in (0, 1):
        out = runs / f"{family}{label}.npz"
        assert main(["sample", run, "--n", "64", "--label", str(label), "--out", out]) == 0
        assert (bright(np.load(out)["images"]) == bool(label)).mean() >= 0.9  # chance: 0.5
    model = load(run).model
    same_seed = [model.sample(16, torch.Generator().manual_seed(3), labels=label) for label in (0, 1, 1)]
    assert torch.equal(same_seed[1], same_seed[2])  # seeded: the same class draws the same images
    assert (same_seed[0].float() - same_seed[1].float()).abs().mean() > 50  # the label alone changes them
    default = bright(model.sample(16, torch.Generator().manual_seed(3)).numpy())  # item i asks for class i mod 2
    assert (default == (np.arange(16) % 2 == 1)).mean() >= 0.9


@pytest.mark.parametrize("family", FAMILIES)
def test_interpolation_holds_the_class(runs, family):
    out = runs / f"{family}_line.npz"
    assert main(["interpolate", runs / family, "--n", "2", "--steps", "5", "--out", out]) == 0
    rows = bright(np.load(out)["images"]).reshape(2, 5)  # row r holds class r mod 2
    assert rows[0].mean() <= 0.2 and rows[1].mean() >= 0.8
    assert main(["interpolate", runs / family, "--n", "2", "--steps", "5", "--label", "1", "--out", out]) == 0
    assert bright(np.load(out)["images"]).mean() >= 0.8
    if family == "vae":  # between two dark test squares, held to their class
        assert (
            main(
                [
                    "interpolate",
                    runs / family,
                    "--from",
                    f"{runs / 'two.npz'}:test:0",
                    "--to",
                    f"{runs / 'two.npz'}:test:2",
                    "--steps",
                    "4",
                    "--out",
                    out,
                ]
            )
            == 0
        )
        assert not bright(np.load(out)["images"]).any()


def test_unknown_labels_exit_2_naming_the_classes(runs, capsys, tmp_path):
    for family in FAMILIES:
        run = runs / family
        for label in ("2", "seven"):
            line = cli_error(capsys, ["sample", run, "--label", label, "--out", tmp_path / "x.png"])
            assert line == f"genlab: error: --label {label}: {run} knows classes 0 to 1 or their names 0, 1"
        assert "knows classes 0 to 1" in cli_error(
            capsys, ["interpolate", run, "--label", "-1", "--out", tmp_path / "y.png"]
        )
    assert "give --label" in cli_error(
        capsys,
        [
            "interpolate",
            runs / "vae",
            "--from",
            runs / "vae" / "reconstructions.png",
            "--to",
            runs / "vae" / "reconstructions.png",
            "--out",
            tmp_path / "z.png",
        ],
    )
    assert not any(tmp_path.iterdir())


def test_the_report_scores_each_asked_class(runs, monkeypatch):
    from genlab.metrics import features

    monkeypatch.setenv("GENLAB_CACHE", str(runs / "cache"))
    monkeypatch.setattr(features, "STEPS", 40)  # the data's classifier: a few steps tell dark from bright
    out = runs / "cmp"
    assert (
        main(
            [
                "compare",
                "--runs",
                f"{runs / 'vae'},{runs / 'gan'}",
                "--n",
                "40",
                "--iwae-k",
                "2",
                "--jobs",
                "1",
                "--out",
                out,
                "--quiet",
            ]
        )
        == 0
    )
    metrics = json.loads((out / "metrics.json").read_text())
    for family in FAMILIES:
        figures = metrics["models"][family]
        assert figures["recognised_as_asked"]["mean"] >= 0.9 and figures["asked_confidence"]["mean"] >= 0.8
        assert set(figures["asked_by_class"]) == {"0", "1"}
        assert all(c["n"] == 20 and c["recognised"] >= 0.8 for c in figures["asked_by_class"].values())
    html = (out / "report.html").read_text()
    table = html.split('<table id="asked-class">')[1].split("</table>")[0]
    assert table.count("<tr>") == 1 + 2 + 1  # header, one row per class, all
    assert "vae: confidence ↑" in table and "gan: recognised ↑" in table
    assert "column k asked for class k (0, 1)" in html


def test_runs_saved_before_the_option_load_as_they_were_trained(tmp_path, runs):
    for family, options in FAMILIES.items():
        run = tmp_path / family
        assert main(["train", family, "--data", runs / "two.npz", *options[:-1], "5", "--out", run, "--quiet"]) == 0
        assert main(["sample", run, "--n", "6", "--out", tmp_path / "today.npz"]) == 0
        config = json.loads((run / "config.json").read_text())
        for name in ("conditional", "label_count"):
            del config["model_config"][name]
        (run / "config.json").write_text(json.dumps(config))
        assert load(run).model.label_count == 0
        assert main(["sample", run, "--n", "6", "--out", tmp_path / "before.npz"]) == 0
        assert np.array_equal(np.load(tmp_path / "today.npz")["images"], np.load(tmp_path / "before.npz")["images"])


def test_the_gan_carries_the_class_through_its_options():
    """Spectral norm covers the projection's class vectors, the EMA copy averages G's, WGAN-GP's
    critic scores with the class, and D's score depends on the class it is given."""
    torch.manual_seed(0)
    model = GAN(
        GAN.make_config(
            conditional=True,
            label_count=3,
            loss="wgan-gp",
            d_steps=1,
            spectral_norm=True,
            ema=0.5,
            conv_channels=4,
            latent=4,
        ),
        (1, 8, 8),
    )
    projection = model.discriminator.projection.embed
    assert torch.nn.utils.parametrize.is_parametrized(projection, "weight")
    optimizers = model.configure_optimizers(1e-2)
    x, y = torch.rand(12, 1, 8, 8) * 2 - 1, torch.arange(12) % 3
    for _ in range(3):
        figures = model.train_step(x, optimizers, labels=y)
    assert figures["gp"] > 0
    averaged = model.generator_ema.label.table.weight
    assert averaged.abs().max() > 0 and not torch.equal(averaged, model.generator.label.table.weight)
    scores = torch.stack([model.discriminator(x[:4], torch.full((4,), k)) for k in range(3)])
    assert (scores[0] - scores[1]).abs().min() > 0
    with pytest.raises(GenlabError, match="label from 0 to 2"):
        model.train_step(x, optimizers)  # a conditional step needs the batch's classes
    with pytest.raises(GenlabError, match="needs images"):
        GAN(GAN.make_config(conditional=True, label_count=2), (2,))


def test_a_conditional_vae_bounds_the_mixture_without_labels():
    """Asked without labels, the bound is log-sum-exp over the classes of the per-class bound − log K:
    at most the best class's bound, at least it − log K."""
    from genlab.data import Palette

    torch.manual_seed(0)
    model = VAE(
        VAE.make_config(conditional=True, label_count=2, hidden=8, latent=2),
        (1, 4, 4),
        Palette(torch.tensor([[0], [255]], dtype=torch.uint8)),
    ).eval()
    with torch.no_grad():
        model.encoder.label.table.weight.normal_(0, 3)
        model.decoder[0].label.table.weight.normal_(0, 3)
    x = torch.randint(0, 2, (5, 1, 4, 4))
    per_class = torch.stack([model.iwae(x, 500, torch.Generator().manual_seed(1), torch.full((5,), k)) for k in (0, 1)])
    mixture = model.iwae(x, 500, torch.Generator().manual_seed(1))
    best = per_class.max(0).values
    assert (per_class[0] - per_class[1]).abs().max() > 0.5  # the label changes the likelihood
    assert bool((mixture <= best + 0.05).all() and (mixture >= best - np.log(2) - 0.05).all())


def test_the_web_page_draws_the_class_it_is_asked_for(runs):
    """The page's class picker ("draw me a 7") asks the API for a class: samples, decodes, walks and
    draws of the conditional runs hold it; the encoder reads a test item as its own class; a class
    the run lacks, or a class asked of an unconditional run, is a one-line 400."""
    from fastapi.testclient import TestClient

    from genlab.serve.app import create_app

    def images(answer) -> np.ndarray:
        from io import BytesIO
        from base64 import b64decode
        from PIL import Image

        return np.stack(
            [np.asarray(Image.open(BytesIO(b64decode(src.split(",", 1)[1]))).convert("L"))[None] for src in answer]
        )

    with TestClient(create_app(runs)) as c:
        listed = {r["name"]: r for r in c.get("/api/runs").json()["runs"]}
        assert listed["gan"]["classes"] == listed["vae"]["classes"] == ["0", "1"]
        for family in FAMILIES:
            for label in (0, 1):
                drawn = c.post("/api/sample", json={"run": family, "n": 16, "seed": 3, "label": label}).json()["images"]
                assert (bright(images(drawn)) == bool(label)).mean() >= 0.9, (family, label)
            for label in (0, 1):  # a code drawn as the run samples that class (a VAE: its class's mixture)
                drawn = [c.get(f"/api/latent/draw?run={family}&seed={seed}&label={label}").json() for seed in range(4)]
                assert list(bright(images([d["png"] for d in drawn]))) == [bool(label)] * 4, (family, label)
            ends = [c.get(f"/api/latent/draw?run={family}&seed={seed}&label=0").json()["z"] for seed in (1, 2)]
            walk = c.post(
                "/api/interpolate",
                json={"run": family, "a": {"z": ends[0]}, "b": {"z": ends[1]}, "steps": 4, "label": 0},
            ).json()["images"]
            assert not bright(images(walk)).any()  # the whole walk draws class 0
            if family == "gan":  # G takes the class beside the code: the same code, two classes
                pair = [
                    c.post("/api/decode", json={"run": family, "z": ends[0], "label": k}).json()["png"] for k in (0, 1)
                ]
                assert list(bright(images(pair))) == [False, True]
            wrong = c.post("/api/sample", json={"run": family, "n": 4, "label": 5})
            assert wrong.status_code == 400 and "label from 0 to 1" in wrong.json()["error"]
        seen = c.get("/api/latent/posterior?run=vae&index=0").json()  # q(z|x, y) with the item's own class
        assert len(seen["m"]) == 3 and len(seen["draws"]) == 8
        assert c.get("/api/latent?run=vae").json()["classes"] == ["0", "1"]


@needs_chromium
@pytest.mark.parametrize("width", [1350, 400])
def test_the_class_picker_draws_the_picked_class_in_a_browser(runs, browser, width, tmp_path):
    """In a real browser, desktop and phone width: the Runs tab's picker makes "Draw 16 new samples"
    draw the picked class, and the Latent tab's picker decodes the shown code as the picked class
    (the GAN takes the class beside the code); the picker fits the phone's width; no page errors."""
    context = browser.new_context(viewport={"width": width, "height": 900}, is_mobile=width < 500)
    page = context.new_page()
    problems = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))

    def picked_images(selector: str) -> np.ndarray:
        return np.stack([pixels_of(src)[None] for src in page.locator(selector).evaluate_all("e => e.map(i => i.src)")])

    try:
        with live_server(runs) as (base, _app):
            page.goto(base + "/#runs")
            page.wait_for_selector("#runs-table tbody tr")
            page.locator("#runs-table tbody tr", has_text="vae").first.click()
            picker = page.locator("#run-detail .class-picker")
            picker.wait_for()
            assert picker.locator("option").all_inner_texts() == ["every class in turn", "0", "1"]
            for label in ("1", "0"):
                picker.select_option(label)
                page.locator("#run-detail .gallery").evaluate("e => e.replaceChildren()")
                page.click("#run-detail button:has-text('Draw 16 new samples')")
                wait_until(lambda: page.locator("#run-detail .gallery img").count() == 16)
                drawn = bright(picked_images("#run-detail .gallery img"))
                assert (drawn == (label == "1")).mean() >= 0.9, (width, label)
            box = picker.bounding_box()
            assert box["x"] >= 0 and box["x"] + box["width"] <= width
            page.screenshot(path=str(tmp_path / f"runs-{width}.png"), full_page=True)

            page.click("nav button[data-tab=latent]")
            page.wait_for_selector("#latent-run option[value=gan]", state="attached")
            page.select_option("#latent-run", "gan")
            latent_picker = page.locator("#latent-class select")
            latent_picker.wait_for()
            decoded = lambda: page.locator("#latent-decoded").get_attribute("src") or ""
            wait_until(lambda: decoded().startswith("data:"))  # the run's first code, decoded for no class
            for label in ("1", "0", "1"):  # the same code each time: a picker that did nothing fails one of the three
                latent_picker.select_option(label)
                wait_until(lambda: bool(bright(picked_images("#latent-decoded"))[0]) == (label == "1"), timeout=20)
            assert page.evaluate("document.documentElement.scrollWidth") <= width
            page.screenshot(path=str(tmp_path / f"latent-{width}.png"), full_page=True)
    finally:
        context.close()
    assert problems == []
