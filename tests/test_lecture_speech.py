"""The lecture's `speech` section (claim 4, WaveNet): its margins and sampling error on known inputs,
its rule at the edges, what it wrote (figures, pictures, the sounds the page plays), and the
optional sound of a picture carried through lecture.json to the page."""

import json
import math
import re
import wave

import numpy as np
import pytest
import torch

from genlab.report import lecture as lecture_pkg
from genlab.report.lecture import base, speech
from threads import one_thread  # noqa: F401  (autouse fixture)

S, N, I = base.SUPPORTED, base.NOT_SUPPORTED, base.INCONCLUSIVE


def _tone(n: int, period: float, noise: float = 0.0, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    t = torch.arange(4000, dtype=torch.float64)
    return (
        0.5 * torch.sin(2 * math.pi * t / period) + noise * torch.randn(n, 4000, generator=g, dtype=torch.float64)
    ).float()


def test_margins_count_decades_and_nearness_to_the_data():
    m, c = speech.margins(long=1e-3, short=1e-1, data=1e-9)
    assert m == pytest.approx(2.0) and c == pytest.approx(2.0)  # both above the data: nearer by the same 2 decades
    m, c = speech.margins(long=1e-12, short=1e-8, data=1e-9)  # the long one overshoots, 3 decades below the data
    assert m == pytest.approx(4.0) and c == pytest.approx(1 - 3)
    assert all(math.isnan(v) for v in speech.margins(None, 1e-2, 1e-9))  # silent samples have no flatness


def test_sampling_slack_is_small_for_alike_sounds_and_zero_for_one_sound():
    noise = _tone(16, 40.0, noise=10.0)  # practically white noise
    other = _tone(16, 40.0, noise=10.0, seed=1)
    alike = speech.sampling_slack(noise, other, 1e-9, seed=0, rounds=50)
    assert 0 < alike < 0.05  # flatness of white noise is about 0.56 in every resample
    mixed = torch.cat([_tone(8, 40.0, noise=0.001), _tone(8, 40.0, noise=10.0)])  # half tones, half noise
    assert speech.sampling_slack(mixed, noise, 1e-9, seed=0, rounds=50) > 10 * alike  # the median jumps between
    assert speech.sampling_slack(noise[:1], other[:1], 1e-9, seed=0) == 0.0


def test_the_median_frame_is_the_one_spectral_flatness_reports():
    from genlab.metrics.audio import spectral_flatness

    clips = torch.cat([_tone(3, 40.0, noise=0.0), _tone(2, 40.0, noise=1.0)])  # 3 pure, 2 noisy sounds: 35 frames
    power, flatness = speech.median_frame(clips)
    assert flatness == pytest.approx(spectral_flatness(clips)) and flatness < 1e-3  # most frames are pure
    assert int(power.argmax()) == round(1024 / 40.0)  # its peak: the sine's bin, 8000/40 = 200 Hz at 8 kHz
    assert speech.median_frame(torch.zeros(2, 4000)) is None  # silence has no spectral shape


def test_the_period_of_a_sine_is_found():
    x = 0.5 * np.sin(2 * np.pi * np.arange(1024) / 40.0)
    assert speech._period(x) == 40


def _part(pairs, data=1e-9, slack=0.0):
    """Made-up figures of one data set: (long, short) flatness per seed."""
    rows = []
    for seed, (long, short) in enumerate(pairs):
        m, c = speech.margins(long, short, data)
        rows.append(
            {
                "seed": seed,
                "long": {"flatness": long},
                "short": {"flatness": short},
                "margin_decades": m,
                "closer_decades": c,
                "slack_decades": slack,
            }
        )
    return {"flatness_test": data, "seeds": rows}


@pytest.mark.parametrize(
    "pairs, slack, expected",
    [
        ([(1e-3, 1e-1), (2e-3, 1e-1), (1e-3, 5e-2)], 0.1, S),  # 1.8 decades apart, spread 0.3
        ([(1e-3, 1e-1)], 0.1, S),  # one seed: only the sampling error is noise
        ([(1e-3, 1e-1)], 2.5, I),  # the drawn sounds vary more than the margin
        ([(1e-2, 1e-1), (1e-1, 1e-2), (3e-2, 3e-2)], 0.0, I),  # the seeds disagree: spread 2 decades
        ([(1e-1, 1e-3), (1e-1, 2e-3), (5e-2, 1e-3)], 0.1, N),  # the short one is the tonal one
        ([(1e-1, 1e-1)], 0.0, I),  # no difference at all
        ([(1e-3, None)], 0.0, I),  # silent samples: no flatness, no verdict
        ([], 0.0, I),
    ],
)
def test_the_rule_gives_each_verdict(pairs, slack, expected):
    assert speech.judge(_part(pairs, slack=slack)) == expected


def test_the_long_field_must_also_be_nearer_the_data():
    # the long one 4 decades below the short one, but 6 below the data's: farther from it than the short one
    assert speech.judge(_part([(1e-15, 1e-11), (1e-15, 1e-11)], data=1e-9)) == N


def test_the_section_wrote_its_figures_pictures_and_sounds(lecture_dir):
    section = json.loads((lecture_dir / "lecture.json").read_text())["sections"]["speech"]
    figures = section["figures"]
    tones = figures["tones"]
    assert section["verdict"] == speech.judge(tones) == tones["verdict"]
    assert [r["seed"] for r in tones["seeds"]] == section["seeds"]
    for row in tones["seeds"]:
        m, c = speech.margins(row["long"]["flatness"], row["short"]["flatness"], tones["flatness_test"])
        assert row["margin_decades"] == pytest.approx(m, nan_ok=True)
        assert row["closer_decades"] == pytest.approx(c, nan_ok=True)
    nets = figures["networks"]
    assert nets["long"]["parameters"] == nets["short"]["parameters"]  # the same network but for the dilations
    assert nets["long"]["receptive_field_samples"] == 257 and nets["short"]["receptive_field_samples"] == 10
    assert tones["flatness_test"] < 1e-6  # the test tones are tonal
    assert "full budget only" in figures["speech"]["left_out"]  # --quick leaves speech out, and says so
    assert "left out" in section["finding"] and tones["verdict"] in section["finding"]
    first = tones["seeds"][0]
    for value in (first["long"]["flatness"], first["short"]["flatness"]):
        if value is not None:
            assert f"{value:.3g}" in section["finding"]
    sounds = [p for p in section["pictures"] if "sound" in p]
    assert [p["sound"].rsplit("/", 1)[1] for p in sounds] == ["tones_test.wav", "tones_long.wav", "tones_short.wav"]
    for picture in section["pictures"]:
        assert (lecture_dir / picture["file"]).is_file()
    for picture in sounds:
        with wave.open(str(lecture_dir / picture["sound"])) as fh:
            assert fh.getframerate() == speech.RATE and fh.getnframes() >= speech.RATE * speech.SOUND_SECONDS
    html = (lecture_dir / "lecture.html").read_text()
    assert len(re.findall(r'<audio controls preload="auto" src="data:audio/wav;base64,', html)) >= len(sounds)


def test_a_picture_may_carry_a_sound_and_older_entries_still_render(tmp_path):
    from genlab.data.sound.wav import write_wav
    from genlab.report.lecture.page import _section

    assert lecture_pkg._picture("k", "a.png", "c", True) == {"file": "pictures/k/a.png", "caption": "c", "plot": True}
    assert lecture_pkg._picture("k", "a.png", "c", True, "a.wav")["sound"] == "pictures/k/a.wav"
    folder = tmp_path / "pictures" / "k"
    folder.mkdir(parents=True)
    from genlab import viz

    viz.save_grid(torch.zeros(1, 1, 4, 4, dtype=torch.uint8), folder / "a.png")
    write_wav(folder / "a.wav", torch.zeros(8000), 8000)
    entry = {
        "key": "k",
        "number": 4,
        "title": "t",
        "quote": "q",
        "gloss": "g",
        "data": "d",
        "figure": "f",
        "rule": "r",
        "verdict": "supported",
        "finding": "x",
        "setup": "s",
        "budget": "quick",
        "seeds": [0],
        "seconds": 1.0,
        "pictures": [
            lecture_pkg._picture("k", "a.png", "with", True, "a.wav"),
            lecture_pkg._picture("k", "a.png", "without", True),
        ],
    }
    html = _section(entry, tmp_path)
    assert html.count("<audio") == 1 and html.index("<audio") < html.index("with")


def test_the_speech_part_runs_beside_the_tones_at_the_full_budget(tmp_path, monkeypatch):
    """The branch flite opens, run on the tones instead of spoken words (flite may be missing here)."""
    monkeypatch.setattr(speech, "SPEECH", "tones")
    monkeypatch.setattr(speech, "_speech_missing", lambda quick: None)
    monkeypatch.setattr(speech, "SOUND_SECONDS", 0.2)
    monkeypatch.setattr(speech, "BOOTSTRAP", 20)
    monkeypatch.setattr(base.Lab, "budget", lambda self, quick, full: 4)
    monkeypatch.setattr(base.Lab, "seeds", lambda self, quick=1, full=3: [0])
    lab = base.Lab.open(tmp_path, "speech", quick=False, device="cpu", say=lambda _: None)
    outcome = speech.run(lab)
    assert outcome.figures["speech"]["data"] == "speech" and len(outcome.figures["speech"]["seeds"]) == 1
    assert "Beside it (not counted in the verdict)" in outcome.finding
    assert outcome.verdict == speech.judge(outcome.figures["tones"])
    names = {p[0] for p in outcome.pictures} | {p[3] for p in outcome.pictures if len(p) > 3}
    assert {"speech_test.png", "speech_long.wav", "speech_short.png"} <= names
    assert all((lab.pictures / name).is_file() for name in names)
