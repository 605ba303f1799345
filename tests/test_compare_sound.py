"""`genlab compare` on sound: WaveNet trained on the tones (and a class-conditional run given with
--runs), one self-contained report whose audio elements play each family's samples and the test
clips (resampled to 8 kHz, as the web page plays them) above their spectrograms, with the sound
figures and, for a conditional run, the share recognised as asked per class; checked in headless
Chromium when it is installed."""

import base64
import io
import json
import re
import time
import wave
from pathlib import Path

import numpy as np
import pytest
import torch

from clihelp import train_conditional_tones
from genlab import load
from genlab.cli import main
from genlab.data import load_dataset
from genlab.data.sound.wav import PLAYABLE_RATE, read_wav, resample
from genlab.metrics.audio import EVAL_SECONDS
from genlab.report.pictures import PICTURE_SEED, SOUNDS
from genlab.report.compare_page import SOUND_COLUMNS
from threads import one_thread  # noqa: F401  (autouse fixture)

CHROMIUM = Path("/usr/bin/chromium")
RATE = 1000  # below what a browser plays: the report must resample


@pytest.fixture(scope="module")
def sound_report(tmp_path_factory):
    root = tmp_path_factory.mktemp("cmpsound")
    out = root / "cmp"
    assert (
        main(
            [
                "compare",
                "--data",
                "tones",
                "--sample-rate",
                str(RATE),
                "--models",
                "wavenet",
                "--minutes",
                "0.02",
                "--n",
                "2",
                "--threads",
                "1",
                "--out",
                str(out),
                "--quiet",
            ]
        )
        == 0
    )
    return out


@pytest.fixture(scope="module")
def conditional_report(tmp_path_factory):
    root = tmp_path_factory.mktemp("cmpcond")
    train_conditional_tones(root / "run", RATE)
    assert (
        main(
            ["compare", "--runs", str(root / "run"), "--n", "6", "--limit", "4", "--out", str(root / "cmp"), "--quiet"]
        )
        == 0
    )
    return root / "run", root / "cmp"


def _section(html: str, heading_id: str) -> str:
    return html.split(f'<h2 id="{heading_id}">')[1].split("<h2")[0]


def _figures(section: str) -> list[tuple[bytes, bytes, str]]:
    """(wav bytes, png bytes, caption) of every figure with a sound."""
    found = re.findall(
        r'<figure class=plot><audio controls preload="auto" src="data:audio/wav;base64,([^"]*)"></audio>'
        r'<img src="data:image/png;base64,([^"]*)" alt="[^"]*"><figcaption>([^<]*)</figcaption>',
        section,
    )
    return [(base64.b64decode(w), base64.b64decode(p), caption) for w, p, caption in found]


def _decode(wav_bytes: bytes) -> tuple[np.ndarray, int]:
    with wave.open(io.BytesIO(wav_bytes)) as fh:
        assert fh.getnchannels() == 1 and fh.getsampwidth() == 2
        return np.frombuffer(fh.readframes(fh.getnframes()), "<i2") / 32767, fh.getframerate()


def test_the_report_plays_the_samples_above_their_spectrograms(sound_report):
    html = (sound_report / "report.html").read_text()
    assert "media-src data:" in html and "default-src 'none'" in html
    figures = _figures(_section(html, "wavenet"))
    assert len(figures) == SOUNDS
    run = load(sound_report / "runs" / "wavenet")
    drawn = run.model.sample(SOUNDS, generator=torch.Generator().manual_seed(PICTURE_SEED), seconds=EVAL_SECONDS)
    for i, (wav, png, caption) in enumerate(figures):
        audio, rate = _decode(wav)
        assert rate == PLAYABLE_RATE and len(audio) == round(EVAL_SECONDS * PLAYABLE_RATE)  # 1 kHz played at 8 kHz
        # the very sound drawn with the picture seed, resampled for playback (16-bit rounding, twice, aside)
        want = resample(drawn[i].numpy(), RATE, PLAYABLE_RATE)
        np.testing.assert_allclose(audio, want, atol=4 / 32767)
        stored, stored_rate = read_wav(sound_report / "pictures" / "wavenet_samples" / f"{i:04d}.wav")
        assert stored_rate == RATE and len(stored) == round(EVAL_SECONDS * RATE)
        assert png == (sound_report / "pictures" / "wavenet_samples" / f"{i:04d}.png").read_bytes()  # its spectrogram
        assert png.startswith(b"\x89PNG") and caption == f"wavenet: sample {i} (seed 0), its waveform and spectrogram"


def test_the_report_plays_test_clips_and_shows_sound_figures(sound_report):
    html = (sound_report / "report.html").read_text()
    clips = _figures(_section(html, "test-clips"))
    data = load_dataset("tones", sample_rate=RATE)
    kinds = [data.label_names[y] for y in data.test_labels[:SOUNDS].tolist()]
    assert [caption for *_, caption in clips] == [f"test clip {i}, “{kinds[i]}”" for i in range(SOUNDS)]
    for (wav, _, _), clip in zip(clips, data.test):
        audio, rate = _decode(wav)
        assert rate == PLAYABLE_RATE
        np.testing.assert_allclose(audio, resample(clip.numpy(), RATE, PLAYABLE_RATE), atol=4 / 32767)
    m = json.loads((sound_report / "metrics.json").read_text())
    assert m["kind"] == "audio" and m["features"] is None
    figures = m["models"]["wavenet"]
    assert figures["sounds"] == 2 and 0 < figures["nll_bits_per_sample"] <= 8.5
    table = html.split('<table id="metrics">')[1].split("</table>")[0]
    cells = dict(re.findall(r'data-model="wavenet" data-key="([^"]*)">([^<]*)<', table))
    trained = {key: cells.pop(key) for key in list(cells) if key.startswith("training/")}  # steps, wall and CPU s
    assert int(trained["training/steps"]) == figures["training"]["steps"] and float(trained["training/cpu_seconds"]) > 0
    shown = {key for key, *_ in SOUND_COLUMNS if figures.get(key) is not None}  # flatness: None, 0.75 s < 1024 samples
    assert set(cells) == shown and {"nll_bits_per_sample", "log_mel_distance_db", "rms", "rms_test"} <= shown
    for key, text in cells.items():
        assert float(text) == pytest.approx(figures[key], rel=5e-3), key
    assert "FID" not in table and "Memorization" not in html  # image figures have no place here
    assert "recognition" not in html  # an unconditional run asks for no class


def test_a_conditional_run_shows_the_share_recognised_per_class(conditional_report):
    run, out = conditional_report
    html = (out / "report.html").read_text()
    figures = json.loads((out / "metrics.json").read_text())["models"]["wavenet"]
    # six samples, classes asked in turn: two each of note, chord, chirp
    by_class = figures["recognised_by_class"]
    assert list(by_class) == ["note", "chord", "chirp"] and all(v in (0, 0.5, 1) for v in by_class.values())
    assert figures["recognised_as_asked"] == pytest.approx(sum(by_class.values()) / 3)
    table = html.split('<table id="recognition">')[1].split("</table>")[0]
    for name, share in by_class.items():
        assert f'data-key="recognised_by_class/{name}">{share:.3g}<' in table
    captions = [caption for *_, caption in _figures(_section(html, "wavenet"))]
    assert [c.split(" (")[0] for c in captions] == [
        f"wavenet: sample {i} asked for “{n}”" for i, n in enumerate(["note", "chord", "chirp", "note"])
    ]


@pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason="Debian's chromium is not installed (apt-get install chromium; "
    "scripts/dev.sh test does it where apt-get is available)",
)
def test_every_sound_loads_in_headless_chromium(sound_report):
    """The page under its own policy: every audio element decodes (a duration, no error), every
    image shows, and the console stays quiet (a blocked data: URI would be reported there)."""
    sync_api = pytest.importorskip("playwright.sync_api")
    args = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
    ]
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=args)
        try:
            page = browser.new_page()
            problems = []
            page.on("console", lambda m: problems.append(f"{m.type}: {m.text}"))
            page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
            page.goto((sound_report / "report.html").as_uri())
            state = "() => [...document.querySelectorAll('audio')].map(a => [a.readyState, a.duration, a.error && a.error.code])"
            deadline = time.monotonic() + 30
            sounds = page.evaluate(state)
            while not all(ready >= 1 for ready, *_ in sounds):  # metadata loaded
                assert time.monotonic() < deadline and not any(error for *_, error in sounds), sounds
                time.sleep(0.05)
                sounds = page.evaluate(state)
            images = page.evaluate("() => [...document.images].map(i => i.complete && i.naturalWidth > 0)")
        finally:
            browser.close()
    assert problems == []
    assert sorted({round(duration, 3) for _, duration, _ in sounds}) == [EVAL_SECONDS, 1.0]  # samples, test clips
    assert len(sounds) == 2 * SOUNDS and all(error is None for *_, error in sounds)
    assert images and all(images)
