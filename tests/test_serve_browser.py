"""`genlab serve` in a real browser: Debian's headless chromium driven by Playwright (never a
downloaded browser). Screenshots of every step are saved under pytest's tmp_path."""
import base64
import io
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import genlab
from servehelp import live_server, serve_runs  # noqa: F401  (session fixture)
from threads import one_thread  # noqa: F401  (autouse fixture)

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed (apt-get install "
                                "chromium; scripts/dev.sh test does it where apt-get is available)")


@pytest.fixture(scope="module")
def runs_dir(serve_runs):
    return serve_runs


@pytest.fixture(scope="module")
def server(runs_dir):
    with live_server(runs_dir) as (base, _app):
        yield base


@pytest.fixture(scope="module")
def browser():
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser):
    """A fresh page; the test fails if the page logs any console error or throws."""
    context = browser.new_context(viewport={"width": 1350, "height": 900})
    tab = context.new_page()
    problems = []
    tab.on("console", lambda m: problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
    tab.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    yield tab
    context.close()
    assert problems == []


def wait_until(check, timeout: float = 30.0):
    """Poll check() until it is true (the page's policy forbids the string eval of wait_for_function)."""
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "the page did not get there in time"
        time.sleep(0.05)


def pixels_of(url: str) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1]))))


def test_every_tab_loads_and_missing_families_are_named(page, server, runs_dir, tmp_path):
    page.goto(server)
    for tab in ("gan", "complete", "latent", "runs"):
        page.click(f"nav button[data-tab={tab}]")
        page.wait_for_load_state("networkidle")
        assert page.locator(f"#tab-{tab}").is_visible()
        page.screenshot(path=str(tmp_path / f"tab-{tab}.png"))
    assert page.locator("#runs-table tbody tr").count() == 3
    assert page.locator("#run-detail canvas").count() >= 1  # the first run's curves
    empty = tmp_path / "empty"
    empty.mkdir()
    with live_server(empty) as (bare, _):
        page.goto(bare + "/#complete")
        note = page.locator("#tab-complete .missing")
        note.wait_for(state="visible")
        assert "No PixelRNN run" in note.inner_text()
        page.click("nav button[data-tab=latent]")
        latent = page.locator("#tab-latent .missing", has_text="No VAE or GAN run")
        latent.wait_for(state="visible", timeout=10_000)  # the tab fills its note after the click; reading at once raced it
        assert "No VAE or GAN run" in latent.inner_text()


def test_gan_game_streams_frames_and_the_loss_chart_grows(page, server, tmp_path):
    page.goto(server)
    page.fill("#gan-form input[name=width]", "16")
    page.click("#gan-start")
    wait_until(lambda: int(page.inner_text("#gan-frames")) >= 2)
    page.click("#gan-play")
    points = lambda: int(page.get_attribute("#gan-losses", "data-points"))
    wait_until(lambda: points() >= 20)
    first = points()
    wait_until(lambda: points() > first + 20)
    assert int(page.inner_text("#gan-iteration")) > first
    assert "of 8 modes" in page.inner_text("#gan-coverage")
    page.screenshot(path=str(tmp_path / "gan.png"))
    shot = np.asarray(Image.open(tmp_path / "gan.png").convert("RGB")).astype(int)
    box = page.locator("#gan-plane").bounding_box()
    plane = shot[int(box["y"]) + 2:int(box["y"] + box["height"]) - 2, int(box["x"]) + 2:int(box["x"] + box["width"]) - 2]
    orange = (abs(plane - [230, 85, 13]).sum(axis=2) < 40).sum()
    assert orange > 100  # generated points are drawn on the plane


def test_brushed_mask_is_completed_and_unmasked_pixels_are_kept(page, server, runs_dir, tmp_path):
    page.goto(server + "/#complete")
    page.wait_for_selector("#complete-examples img")
    box = page.locator("#complete-canvas").bounding_box()
    y = box["y"] + 1 + 4.5 * (box["height"] - 2) / 8  # the middle of row 4 of the 8x8 image
    page.mouse.move(box["x"] + 3, y)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] - 3, y, steps=40)  # one stroke across the row
    page.mouse.up()
    page.click("#complete-go")
    page.wait_for_selector("#complete-results[data-done='1']", timeout=60_000)
    page.screenshot(path=str(tmp_path / "complete.png"))
    original = genlab.load(runs_dir / "pcnn").dataset().test[0, 0].numpy()  # the first test image, picked by default
    shown = [pixels_of(img.get_attribute("src")) for img in page.locator("#complete-results img").all()]
    assert len(shown) == 4
    others = np.arange(8) != 4
    for completion in shown:
        assert np.array_equal(completion[others], original[others])  # everything but the brushed row is kept
    assert any(not np.array_equal(c[4], original[4]) for c in shown)  # and the brushed row was drawn anew


def test_clicking_the_latent_map_decodes_that_code(page, server, runs_dir, tmp_path):
    page.goto(server + "/#latent")
    page.wait_for_selector("#latent-run option[value=vae]", state="attached")
    page.select_option("#latent-run", "vae")
    page.wait_for_selector("#latent-map:not([hidden])")
    decoded = lambda: page.get_attribute("#latent-decoded", "src") or ""
    wait_until(lambda: decoded().startswith("data:image/png"))
    before = decoded()
    box = page.locator("#latent-map").bounding_box()
    x, y = 0.8 * box["width"], 0.15 * box["height"]
    page.click("#latent-map", position={"x": x, "y": y})
    wait_until(lambda: decoded() != before)
    page.screenshot(path=str(tmp_path / "latent.png"))
    z = torch.tensor([[-3 + 6 * x / box["width"], 3 - 6 * y / box["height"]]])
    expected = genlab.load(runs_dir / "vae").model.decode(z)[0, 0].numpy().astype(int)
    got = pixels_of(page.get_attribute("#latent-decoded", "src")).astype(int)
    assert got.shape == (8, 8) and np.abs(got - expected).max() <= 2
    shown = [float(v) for v in page.inner_text("#latent-z").strip("z =()").split(",")]
    assert np.allclose(shown, z[0].numpy(), atol=0.011)  # the page names the code it decoded
