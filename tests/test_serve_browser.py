"""`genlab serve` in a real browser: Debian's headless chromium driven by Playwright (never a
downloaded browser). Screenshots of every step are saved under pytest's tmp_path."""

import io
import re
import time
from urllib.parse import parse_qs, urlparse

import numpy as np
import pytest
import torch
from PIL import Image

import genlab
from genlab.serve.limits import Limits
from browserhelp import browser, needs_chromium, page, pixels_of, wait_until  # noqa: F401  (fixtures)
from servehelp import live_server, serve_runs  # noqa: F401  (session fixture)
from threads import one_thread  # noqa: F401  (autouse fixture)

pytestmark = needs_chromium


@pytest.fixture(scope="module")
def runs_dir(serve_runs):
    return serve_runs


@pytest.fixture(scope="module")
def server(runs_dir):
    # A closed page's game is kept 30 s for a return (Back), so this module's quick tests could fill
    # the default 4 game slots and get a 429 (the limit itself: tests/test_serve.py)
    with live_server(runs_dir, Limits(gan_sessions=32)) as (base, _app):
        yield base


def test_every_tab_loads_and_missing_families_are_named(page, server, runs_dir, tmp_path):
    page.goto(server)
    for tab in ("gan", "complete", "latent", "runs"):
        page.click(f"nav button[data-tab={tab}]")
        page.wait_for_load_state("networkidle")
        assert page.locator(f"#tab-{tab}").is_visible()
        page.screenshot(path=str(tmp_path / f"tab-{tab}.png"))
    page.wait_for_selector("#run-detail canvas")  # (networkidle was reached long before: it does not wait)
    assert page.locator("#runs-table tbody tr").count() == 4  # the first run's curves, and every run
    empty = tmp_path / "empty"
    empty.mkdir()
    with live_server(empty) as (bare, _):
        page.goto(bare + "/#complete")
        note = page.locator("#tab-complete .missing")
        note.wait_for(state="visible")
        assert "No PixelRNN run" in note.inner_text()
        page.click("nav button[data-tab=latent]")
        latent = page.locator("#tab-latent .missing", has_text="No VAE or GAN run")
        latent.wait_for(
            state="visible", timeout=10_000
        )  # the tab fills its note after the click; reading at once raced it
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
    plane = shot[
        int(box["y"]) + 2 : int(box["y"] + box["height"]) - 2, int(box["x"]) + 2 : int(box["x"] + box["width"]) - 2
    ]
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
    run = genlab.load(runs_dir / "pcnn")
    palette = run.model.palette
    original = palette.decode(palette.encode(run.dataset().test[:1]))[0, 0].numpy()  # the first test image, picked
    shown = [pixels_of(img.get_attribute("src")) for img in page.locator("#complete-results img").all()]
    assert len(shown) == 4
    others = np.arange(8) != 4
    for completion in shown:
        assert np.array_equal(completion[others], original[others])  # everything but the brushed row is kept
        assert set(np.unique(completion).tolist()) <= set(
            palette.colors[:, 0].tolist()
        )  # in the run's colours: no seam
    assert any(not np.array_equal(c[4], original[4]) for c in shown)  # and the brushed row was drawn anew


def plot_of(page) -> tuple[float, float, float]:
    """The latent map's plot inside its canvas (left, top, side), in CSS pixels of the page."""
    left, top, side = map(float, page.get_attribute("#latent-map", "data-plot").split(","))
    k = page.locator("#latent-map").bounding_box()["width"] / float(page.get_attribute("#latent-map", "width"))
    return left * k, top * k, side * k


def test_clicking_the_latent_map_decodes_that_code(page, server, runs_dir, tmp_path):
    page.goto(server + "/#latent")  # a first visit: no run picked by hand
    page.wait_for_selector("#latent-run option[value=vae]", state="attached")
    assert page.input_value("#latent-run") == "vae"  # issue 27 (10): the run with an encoder, not the first (gan)
    page.wait_for_selector("#latent-map:not([hidden])")
    decoded = lambda: page.get_attribute("#latent-decoded", "src") or ""
    wait_until(lambda: decoded().startswith("data:image/png"))
    assert page.locator("#latent-sliders output").all_inner_texts() == ["0.00", "0.00"]  # the sliders show values
    assert page.inner_text("#latent-decoded-box figcaption") == "the image decoded from z = (0.00, 0.00)"
    shot = np.asarray(Image.open(io.BytesIO(page.locator("#latent-map").screenshot())).convert("L")).astype(int)
    left, top, side = plot_of(page)
    margin = shot[int(top) + 2 : int(top + side) - 2, 2 : int(left) - 2]  # left of the plot: the z2 axis, its ticks
    assert (margin > 240).mean() > 0.7 and (margin < 110).sum() > 30  # white paper with dark tick labels
    before = decoded()
    x, y = left + 0.8 * side, top + 0.15 * side
    page.click("#latent-map", position={"x": x, "y": y})
    wait_until(lambda: decoded() != before)
    page.screenshot(path=str(tmp_path / "latent.png"))
    z = torch.tensor([[-3 + 6 * (x - left) / side, 3 - 6 * (y - top) / side]])
    sliders = [float(v) for v in page.locator("#latent-sliders output").all_inner_texts()]
    assert np.allclose(sliders, z[0].numpy(), atol=0.011)  # the sliders show the code clicked
    expected = genlab.load(runs_dir / "vae").model.decode(z)[0, 0].numpy().astype(int)
    got = pixels_of(page.get_attribute("#latent-decoded", "src")).astype(int)
    assert got.shape == (8, 8) and np.abs(got - expected).max() <= 2
    shown = [float(v) for v in page.inner_text("#latent-z").strip("z =()").split(",")]
    assert np.allclose(shown, z[0].numpy(), atol=0.011)  # the page names the code it decoded
    # "Random code" asks the server for a code drawn as the run samples (the VAE's fitted mixture)
    before = decoded()
    with page.expect_response(lambda r: "/api/latent/draw" in r.url) as answer:
        page.click("#latent-random")
    seed = int(parse_qs(urlparse(answer.value.url).query)["seed"][0])
    vae = genlab.load(runs_dir / "vae").model
    z = vae.prior(1, torch.Generator().manual_seed(seed))
    assert vae.mixture_fitted and answer.value.json()["z"] == z[0].tolist()
    wait_until(lambda: decoded() != before)
    assert np.array_equal(pixels_of(decoded()), vae.decode(z)[0, 0].numpy())  # the page decoded the drawn code


# --- issue 19: the page as a student meets it ---------------------------------------------------------
def status(page) -> tuple[str, str]:
    return page.inner_text("#status"), page.get_attribute("#status", "data-kind") or ""


def is_hidden_tint(rgb) -> bool:
    """The brush tints hidden pixels orange (60 %): red well above blue; shown pixels are grey."""
    return int(rgb[0]) - int(rgb[2]) > 60


def row_hidden(page, row: int) -> list[bool]:
    shot = np.asarray(Image.open(io.BytesIO(page.locator("#complete-canvas").screenshot())).convert("RGB"))
    h, w = shot.shape[:2]
    y = int((row + 0.5) * h / 8)
    return [is_hidden_tint(shot[y, int((col + 0.5) * w / 8)]) for col in range(8)]


def test_numbers_are_checked_in_the_page_and_the_status_speaks_for_the_latest_action(page, server):
    page.goto(server + "/#complete")
    page.wait_for_selector("#complete-examples img")
    page.click("#complete-bottom")
    sent = []
    page.on("request", lambda r: sent.append(r.url) if "/api/complete" in r.url else None)
    for bad, words in (("1e9", "from 1 to 8"), ("2.5", "a whole number"), ("", "a whole number"), ("0", "from 1 to 8")):
        page.fill("#complete-n", bad)
        page.click("#complete-go")
        text, kind = status(page)
        assert words in text and kind == "error", (bad, text)
        assert page.get_attribute("#complete-n", "aria-invalid") == "true"
    page.fill("#complete-temperature", "20")
    page.fill("#complete-n", "2")
    page.click("#complete-go")
    assert "temperature must be a number from 0.1 to 10" in status(page)[0]
    assert sent == [] and page.locator("#complete-results img").count() == 0  # nothing was sent
    page.fill("#complete-temperature", "1")
    page.click("#complete-go")
    assert status(page) == ("", "")  # the old error went with the next action
    page.wait_for_selector("#complete-results[data-done='1']", timeout=60_000)
    assert page.locator("#complete-results img").count() == 2 and len(sent) == 1
    page.fill("#complete-n", "9")
    page.click("#complete-go")
    assert status(page)[1] == "error"
    page.click("nav button[data-tab=runs]")
    assert status(page) == ("", "")  # an error does not follow the user to another tab


def test_an_inverted_upload_is_named_and_can_be_flipped(page, server, runs_dir, tmp_path):
    page.goto(server + "/#complete")
    page.wait_for_selector("#complete-examples img")
    digit = genlab.load(runs_dir / "pcnn").dataset().test[0, 0].numpy()  # light ink on black
    Image.fromarray(255 - digit, "L").resize((64, 64)).save(tmp_path / "ink.png")  # dark ink on white
    page.set_input_files("#complete-upload", str(tmp_path / "ink.png"))
    page.wait_for_selector("#complete-inverted:not([hidden])")
    assert "uploaded ink.png" in status(page)[0]
    before = page.locator("#complete-canvas").screenshot()
    page.click("#complete-invert")
    assert page.locator("#complete-inverted").is_hidden() and "inverted" in status(page)[0]
    corner = lambda png: np.asarray(Image.open(io.BytesIO(png)).convert("L"))[5:30, 5:30].mean()  # pixel (0, 0)
    assert corner(before) > 200 and corner(page.locator("#complete-canvas").screenshot()) < 50  # a black background now


def test_phone_width_fits_and_a_finger_or_a_fast_stroke_brushes_every_pixel(browser, server, tmp_path):
    context = browser.new_context(viewport={"width": 400, "height": 800}, has_touch=True, is_mobile=True)
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    try:
        for tab in ("gan", "complete", "latent", "runs"):
            page.goto(f"{server}/#{tab}")
            page.wait_for_load_state("networkidle")
            page.screenshot(path=str(tmp_path / f"phone-{tab}.png"), full_page=True)
            assert page.evaluate("document.documentElement.scrollWidth") <= 400, tab
        page.goto("about:blank")
        page.goto(server + "/#complete")
        page.wait_for_selector("#complete-examples img")
        page.locator("#complete-canvas").scroll_into_view_if_needed()
        scrolled = page.evaluate("window.scrollY")
        box = page.locator("#complete-canvas").bounding_box()
        y = lambda row: box["y"] + (row + 0.5) * box["height"] / 8
        page.mouse.move(box["x"] + 2, y(2))
        page.mouse.down()
        page.mouse.move(box["x"] + box["width"] - 2, y(2), steps=1)  # one jump across the row: a fast stroke
        page.mouse.up()
        assert row_hidden(page, 2) == [True] * 8
        cdp = context.new_cdp_session(page)
        touch = lambda kind, x: cdp.send(
            "Input.dispatchTouchEvent",
            {"type": kind, "touchPoints": [] if kind == "touchEnd" else [{"x": x, "y": y(5)}]},
        )
        touch("touchStart", box["x"] + 2)
        for k in range(1, 9):
            touch("touchMove", box["x"] + 2 + k * (box["width"] - 4) / 8)
        touch("touchEnd", 0)
        assert row_hidden(page, 5) == [True] * 8  # a finger brushes
        assert page.evaluate("window.scrollY") == scrolled and row_hidden(page, 4) == [False] * 8  # no scrolling
    finally:
        context.close()
    assert errors == []


def test_gan_controls_do_what_they_say(page, server):
    page.goto(server)
    page.fill("#gan-form input[name=width]", "8")
    page.select_option("#gan-form select[name=loss]", "hinge")
    page.click("#gan-start")
    frames = lambda: int(page.inner_text("#gan-frames"))
    wait_until(lambda: frames() >= 2)
    page.click("#gan-play")
    xs = set()
    for _ in range(12):  # the loss chart stays put while D's score range (the colour bar's label) changes
        now = frames()
        wait_until(lambda: frames() > now)
        xs.add(round(page.locator("#gan-losses").bounding_box()["x"]))
    assert len(xs) == 1 and "D score" in page.inner_text("#gan-heat-label")
    assert int(page.get_attribute("#gan-grad", "data-points")) > 5  # G's gradient size is plotted beside the losses
    for _ in range(9):  # nine quick clicks from playing: paused, whatever frames arrive meanwhile
        page.click("#gan-play")
    wait_until(lambda: page.inner_text("#gan-play") == "Play")
    time.sleep(0.5)
    held = iteration(page)
    time.sleep(0.6)
    assert iteration(page) == held and page.inner_text("#gan-play") == "Play"  # paused, as nine toggles leave it
    page.click("#gan-reset")
    wait_until(lambda: page.inner_text("#gan-iteration") == "0")
    assert frames() < 20  # the frame counter restarted with the game
    page.click("#gan-step-d")
    wait_until(lambda: page.inner_text("#gan-updates") == "1 / 0")
    assert page.inner_text("#gan-iteration") == "0"  # a D step alone is half an iteration
    page.click("#gan-step-g")
    wait_until(lambda: page.inner_text("#gan-updates") == "1 / 1")
    assert page.inner_text("#gan-iteration") == "1"


def dark_ring_near(page, x, y) -> bool:
    shot = np.asarray(Image.open(io.BytesIO(page.locator("#gan-plane").screenshot())).convert("L")).astype(int)
    around = shot[int(y) - 8 : int(y) + 9, int(x) - 8 : int(x) + 9]
    return (around < 80).sum() >= 10


def test_drawing_points_after_a_running_game_shows_them_and_ends_that_game(page, server):
    page.goto(server)
    page.fill("#gan-form input[name=width]", "8")
    # issue 27 (4): a Start whose reply comes late, after a second Start refused for a wrong field
    held = []
    page.route("**/api/gan", lambda route: held.append(route))
    page.click("#gan-start")
    wait_until(lambda: held or page.wait_for_timeout(20))
    page.fill("#gan-form input[name=lr_d]", "0")
    page.click("#gan-start")
    refused = status(page)
    assert "learning rate D must be" in refused[0] and refused[1] == "error"
    with page.expect_request(lambda r: r.method == "DELETE", timeout=10_000) as ended:  # its game: nobody watches it
        held[0].continue_()
    page.unroute("**/api/gan")
    late = ended.value.url.split("/api/gan/")[1].split("?")[0]
    assert status(page) == refused and page.get_attribute("#gan-form input[name=lr_d]", "aria-invalid") == "true"
    assert page.is_disabled("#gan-play") and late not in page.evaluate("location.href")  # the page is untouched
    page.fill("#gan-form input[name=lr_d]", "0.001")
    page.click("#gan-start")
    wait_until(lambda: int(page.inner_text("#gan-frames")) >= 2)
    page.click("#gan-play")
    page.select_option("#gan-form select[name=dataset]", "drawn")
    for button in ("#gan-play", "#gan-step-d", "#gan-step-g", "#gan-reset"):
        assert page.is_disabled(button)  # the game on the old data ended
    for x, y in ((100, 100), (300, 250)):
        page.click("#gan-plane", position={"x": x, "y": y})
        assert dark_ring_near(page, x, y)
    assert "2 point(s) drawn" in status(page)[0]
    page.click("#gan-start")
    wait_until(lambda: "of 2 modes" in page.inner_text("#gan-coverage"))
    page.click("#gan-plane", position={"x": 200, "y": 60})  # a new point: a new drawing, the game ends
    assert page.is_disabled("#gan-play") and page.is_disabled("#gan-step-d")
    assert dark_ring_near(page, 200, 60) and "3 point(s) drawn" in status(page)[0]
    # issue 27 (8): and the old game's figures go with it
    assert [page.inner_text(f"#gan-{k}") for k in ("iteration", "updates", "coverage", "frames")] == [
        "–",
        "–",
        "–",
        "0",
    ]
    assert (
        page.get_attribute("#gan-losses", "data-points") == "0"
        and page.get_attribute("#gan-grad", "data-points") == "0"
    )


def test_points_off_the_plane_are_marked_on_its_edge_and_a_stopped_server_is_named(browser, runs_dir, tmp_path):
    running = live_server(runs_dir)
    with running as (base, app):
        context = browser.new_context(viewport={"width": 1350, "height": 900})
        page = context.new_page()
        try:
            page.goto(base)
            page.fill("#gan-form input[name=width]", "8")
            page.click("#gan-start")
            wait_until(lambda: int(page.inner_text("#gan-frames")) >= 1)
            assert page.inner_text("#gan-outside") == ""
            (session,) = app.state.sessions._items.values()
            with torch.no_grad():
                last = [m for m in session.game.model.generator.modules() if isinstance(m, torch.nn.Linear)][-1]
                last.bias.copy_(torch.tensor([40.0, -150.0]))  # far right and below, as minimax at lr 0.1 left them
            wait_until(lambda: "400 of 400" in page.inner_text("#gan-outside"))
            shot = np.asarray(Image.open(io.BytesIO(page.locator("#gan-plane").screenshot())).convert("RGB")).astype(
                int
            )
            orange = np.abs(shot - [230, 85, 13]).sum(axis=2) < 60
            h, w = orange.shape
            assert orange[int(0.85 * h) :, int(0.85 * w) :].sum() > 10  # markers in the bottom-right corner
            assert orange[: int(0.8 * h), : int(0.8 * w)].sum() == 0  # and no generated point inside the plane
            # issue 27 (3): the server stops (Ctrl-C) while the game plays: the page says so and what to run
            page.click("#gan-play")
            running.__exit__(None, None, None)
            page.locator("#server-gone").wait_for(state="visible", timeout=15_000)
            words = page.inner_text("#server-gone")
            assert "server stopped" in words and "genlab serve --runs" in words, words
            assert page.is_disabled("#gan-play") and page.is_disabled("#gan-step-d")
            page.click("#gan-start")  # the next click says the same, not "Failed to fetch"
            wait_until(lambda: "server stopped" in status(page)[0])
            page.screenshot(path=str(tmp_path / "server-gone.png"))
        finally:
            context.close()


def test_latent_ends_differ_the_map_has_a_legend_and_back_stays_in_the_app(page, server):
    page.goto(server + "/#gan")
    page.click("nav button[data-tab=complete]")
    page.click("nav button[data-tab=latent]")
    page.wait_for_selector("#latent-run option[value=vae]", state="attached")
    page.select_option("#latent-run", "vae")
    page.wait_for_selector("#latent-map:not([hidden])")
    wait_until(lambda: page.locator("#latent-legend .dot").count() == 10)
    page.wait_for_selector("#latent-examples img")
    pics = page.locator("#latent-examples img")
    classes = lambda i: set((pics.nth(i).get_attribute("class") or "").split())
    pics.nth(0).click()
    pics.nth(0).click()  # the same image twice is no walk: it is unpicked
    assert "start" not in classes(0) and "end" not in classes(0)
    pics.nth(0).click()
    pics.nth(3).click()
    assert "start" in classes(0) and "end" not in classes(0) and "end" in classes(3) and "start" not in classes(3)
    start_style = pics.nth(0).evaluate("e => getComputedStyle(e).outlineStyle + getComputedStyle(e).outlineColor")
    end_style = pics.nth(3).evaluate("e => getComputedStyle(e).outlineStyle + getComputedStyle(e).outlineColor")
    assert start_style != end_style
    page.go_back()
    assert page.url.endswith("/#complete") and page.locator("#tab-complete").is_visible()
    page.go_back()
    assert page.url.endswith("/#gan") and page.locator("#tab-gan").is_visible()


def test_runs_tab_shows_every_figure_captions_and_gmm_samples(page, server):
    page.goto(server + "/#runs")
    page.wait_for_selector("#runs-table tbody tr")
    rows = {r.locator("td").first.inner_text(): r for r in page.locator("#runs-table tbody tr").all()}
    wait_until(lambda: "bits_per_dim" in rows["vae"].inner_text())
    assert rows["vae"].locator("td").nth(3).inner_text().startswith("bits_per_dim")
    rows["gmm"].click()
    page.wait_for_selector("#run-detail h2:has-text('gmm')")
    captions = page.locator("#run-detail figcaption").all_inner_texts()
    assert "components.png" in captions and "loss.png" in captions
    link = page.locator("#run-detail figure a").first
    assert "/api/runs/picture" in link.get_attribute("href") and link.get_attribute("target") == "_blank"
    page.click("#run-detail button:has-text('Draw 16 new samples')")
    wait_until(lambda: page.locator("#run-detail .gallery img").count() == 16)


def cell_colours(png, side: int = 8) -> np.ndarray:
    """The colour at the centre of each cell of an 8x8 image drawn on a canvas (a PNG or its
    pixels): (8, 8, 3)."""
    shot = png if isinstance(png, np.ndarray) else np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(int)
    h, w = shot.shape[:2]
    rows, cols = ((np.arange(side) + 0.5) * h / side).astype(int), ((np.arange(side) + 0.5) * w / side).astype(int)
    return shot[rows][:, cols]


def test_slow_motion_shows_each_pixel_with_its_palette_bars(page, server, tmp_path):
    page.goto(server + "/#complete")
    page.wait_for_selector("#complete-examples img")
    page.click("#complete-bottom")
    page.click("#slow-go")
    wait_until(lambda: page.get_attribute("#slow-bars", "data-step") == "0")
    assert "pixel 1 of 32, row 5, column 1 " in page.inner_text("#slow-caption")  # counted from 1, as the pixels
    cells = lambda: cell_colours(page.locator("#slow-image").screenshot())
    before = cells()
    page.click("#slow-step")
    assert page.get_attribute("#slow-bars", "data-step") == "1"
    caption = page.inner_text("#slow-caption")
    assert "pixel 1 of 32, row 5, column 1 " in caption
    assert re.search(
        r"drew colour \d, (black|dark grey|grey|light grey|white) \(p = (0\.\d\d|1\.00|0\.00\d+)\)", caption
    ), caption
    shot = np.asarray(Image.open(io.BytesIO(page.locator("#slow-image").screenshot())).convert("RGB")).astype(int)
    changed = np.abs(cell_colours(shot) - before).sum(axis=2) > 30  # (8, 8)
    assert changed[4, 0]  # pixel (4, 0) is drawn now
    assert not changed[:4].any() and not changed[4, 1:].any() and not changed[5:].any()  # and nothing else
    cell = shot[98:118, 3:23]  # pixel (4, 0) but its anti-aliased edge: the marker rings it, so it shows whole
    assert (cell.max(axis=(0, 1)) - cell.min(axis=(0, 1))).max() <= 30, "the marker hides the colour just drawn"
    page.fill("#slow-speed", "60")
    page.click("#slow-play")
    wait_until(lambda: page.get_attribute("#slow-bars", "data-step") == "32")
    page.screenshot(path=str(tmp_path / "slowmo.png"), full_page=True)
    assert page.inner_text("#slow-play") == "Play"  # it stops at the last pixel
    # issue 27 (6, 7): another image while a completion runs and a film is shown: neither stays
    page.click("#complete-go")
    page.wait_for_selector("#complete-results[data-done='1']", timeout=60_000)
    assert "completions in" in page.inner_text("#complete-progress")
    failed, held = [], []
    page.on("requestfailed", lambda r: failed.append(r.url))
    page.route("**/api/complete", lambda route: held.append(route))  # the next completion stays in flight
    page.click("#complete-go")
    wait_until(lambda: held or page.wait_for_timeout(20))
    page.locator("#complete-examples img").nth(1).click()
    assert page.inner_text("#complete-progress") == "" and page.locator("#complete-results img").count() == 0
    wait_until(lambda: any(u.endswith("/api/complete") for u in failed) or page.wait_for_timeout(20))  # stopped
    assert page.is_disabled("#slow-step") and page.is_disabled("#slow-play") and page.inner_text("#slow-caption") == ""
    page.unroute("**/api/complete")


def test_clicking_a_test_image_shows_its_code_spread_reconstruction_and_draws(page, server, runs_dir, tmp_path):
    page.goto(server + "/#latent")
    page.wait_for_selector("#latent-run option[value=vae]", state="attached")
    page.select_option("#latent-run", "vae")
    page.wait_for_selector("#latent-map:not([hidden])")
    page.wait_for_selector("#latent-examples img")
    left, top, side = plot_of(page)
    red = lambda: (
        np.abs(
            np.asarray(Image.open(io.BytesIO(page.locator("#latent-map").screenshot())).convert("RGB")).astype(int)
            - [255, 20, 147]
        ).sum(axis=2)
        < 30
    )
    before = red()  # a few class dots may share the colour; the ellipses are what appears
    page.locator("#latent-examples img").nth(2).click()
    wait_until(lambda: page.locator("#latent-posterior img").count() == 9)
    vae = genlab.load(runs_dir / "vae").model
    with torch.no_grad():
        m = vae.encode_images(genlab.load(runs_dir / "vae").dataset().test[2:3])[0]
    assert np.array_equal(
        pixels_of(page.locator("#latent-posterior img.recon").get_attribute("src")), vae.decode(m[None])[0, 0].numpy()
    )
    marks = red() & ~before
    h, w = marks.shape
    ys, xs = np.nonzero(marks)
    centre = np.array(
        [((xs.min() + xs.max()) / 2 - left) / side * 6 - 3, 3 - ((ys.min() + ys.max()) / 2 - top) / side * 6]
    )
    assert marks.sum() > 50 and np.abs(centre - m.numpy()).max() < 0.6  # the ellipses sit around m
    page.locator("#latent-examples img").nth(5).click()
    page.click("#latent-go")
    wait_until(lambda: page.locator("#latent-walk img").count() == 8)
    page.screenshot(path=str(tmp_path / "posterior.png"), full_page=True)
    shot = np.asarray(Image.open(io.BytesIO(page.locator("#latent-map").screenshot())).convert("RGB")).astype(int)
    assert (np.abs(shot - [17, 17, 17]).sum(axis=2) < 20).sum() > 30  # the interpolation's path is drawn
    page.select_option("#latent-run", "gan")  # a 4-D code: no map, and the page says how to get one
    page.wait_for_selector("#latent-no-map:not([hidden])")
    assert page.locator("#latent-map").is_hidden() and "--latent 2" in page.inner_text("#latent-no-map")


def iteration(page) -> int:
    """The game's iteration counter, -1 before the first frame ("–")."""
    text = page.inner_text("#gan-iteration")
    return int(text) if text.isdigit() else -1


def frames_of(page) -> int:
    return int(page.inner_text("#gan-frames"))


def test_a_second_page_joins_a_game_and_its_start_ends_no_other_page_game(page, server):
    """Issue 27 (1): a second tab on the game's URL joins it; its Start makes a game of its own, and
    both pages go on receiving frames (the first one's game still playing) for 10 s after it."""
    href = lambda tab: tab.evaluate("location.href")
    page.goto(server)
    page.fill("#gan-form input[name=width]", "8")
    page.click("#gan-start")
    wait_until(lambda: "/#gan/" in href(page))
    game_url = href(page)
    page.click("#gan-play")
    other = page.context.new_page()
    problems = []
    other.on("pageerror", lambda e: problems.append(str(e)))
    other.goto(game_url)
    wait_until(lambda: frames_of(other) >= 2 and iteration(other) > 0)
    joined = status(other)[0]
    assert other.input_value("#gan-form input[name=width]") == "8"  # the game's settings
    other.click("#gan-start")
    wait_until(lambda: href(other) != game_url and frames_of(other) >= 1)
    seen = [(frames_of(page), frames_of(other), iteration(page))]
    for _ in range(5):  # 10 s, in 2-s windows
        time.sleep(2)
        seen.append((frames_of(page), frames_of(other), iteration(page)))
    for (a0, b0, i0), (a1, b1, i1) in zip(seen, seen[1:]):
        assert a1 > a0 and b1 > b0 and i1 > i0, seen  # both pages get frames, and the first game still plays
    assert href(page) == game_url and status(page)[1] != "error"
    page.click("#gan-play")  # pause, then a step: the first page's game still answers
    wait_until(lambda: page.inner_text("#gan-play") == "Play")
    with page.expect_response(lambda r: r.url.endswith("/control")) as answer:
        page.click("#gan-step-d")
    assert answer.value.ok and status(page)[1] != "error" and problems == []
    assert "joined" in joined and "Start begins a game of your own" in joined  # the second page said what it did
    other.close()


def test_back_and_forward_come_back_to_the_running_game(page, server):
    href = lambda: page.evaluate("location.href")  # page.url misses history.replaceState
    page.goto(server)
    page.fill("#gan-form input[name=width]", "8")
    page.select_option("#gan-form select[name=loss]", "least-squares")
    page.click("#gan-start")
    wait_until(lambda: "/#gan/" in href())
    game_url = href()
    page.click("#gan-play")
    wait_until(lambda: iteration(page) >= 10)
    page.click("nav button[data-tab=runs]")
    page.go_back()
    assert href() == game_url and page.locator("#tab-gan").is_visible()
    page.goto("about:blank")  # off to another page, then Back: the app loads anew
    page.go_back()
    wait_until(lambda: iteration(page) > 10)
    assert href() == game_url and not page.is_disabled("#gan-play")
    assert page.input_value("#gan-form select[name=loss]") == "least-squares" and "back to your game" in status(page)[0]
