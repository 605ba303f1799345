"""--quality-every: sample-quality rows (FID) in metrics.csv at the asked interval of training
seconds, and the same weights as a run without them (the probe draws from its own generator, the
global ones are restored, its time is not training time)."""

import pytest
import torch
from safetensors.torch import load_file

from clihelp import cli_error
from genlab import viz
from genlab.cli import main as cli_main
from genlab.metrics import probe as probe_module


def main(argv) -> int:
    return cli_main([str(a) for a in argv])


TINY = {
    "vae": ["--hidden", "8", "--latent", "2"],
    "gan": ["--conv-channels", "4", "--latent", "4"],  # batch norm, dropout-free, EMA: the touchiest state
    "pixelrnn": ["--arch", "pixelcnn", "--width", "4", "--layers", "1", "--colors", "2"],
}
COMMON = ["--data", "digits", "--steps", "12", "--batch-size", "64", "--log-every", "1", "--device", "cpu", "--quiet"]


@pytest.fixture(autouse=True)
def few_samples(monkeypatch):
    monkeypatch.setattr(probe_module, "PROBE_SAMPLES", 40)  # 8x8 digits: plenty for the test's purpose


def _rows(run, split):
    return [r for r in viz.read_metrics(run / "metrics.csv") if r["split"] == split]


@pytest.mark.parametrize("family", sorted(TINY))
def test_quality_rows_never_change_the_weights(tmp_path, family):
    every = 0.02
    assert main(["train", family, *TINY[family], *COMMON, "--out", tmp_path / "plain"]) == 0
    assert main(["train", family, *TINY[family], *COMMON, "--quality-every", every, "--out", tmp_path / "probed"]) == 0
    plain, probed = (load_file(str(tmp_path / r / "model.safetensors")) for r in ("plain", "probed"))
    assert plain.keys() == probed.keys() and all(torch.equal(plain[k], probed[k]) for k in plain)
    quality = [r for r in _rows(tmp_path / "probed", "test") if r.get("fid")]
    assert not any(r.get("fid") for r in _rows(tmp_path / "plain", "test"))
    assert quality and int(quality[-1]["step"]) == 12  # one more at the end of training
    assert all(float(r["fid"]) > 0 for r in quality)
    seconds = {int(r["step"]): float(r["seconds"]) for r in _rows(tmp_path / "probed", "train")}
    last = 0.0
    for row in quality[:-1]:  # each row is written at the first step at least `every` seconds after the last
        step = int(row["step"])
        assert seconds[step] - last >= every and (step == 1 or seconds[step - 1] - last < every)
        last = seconds[step]


def test_quality_rows_resume_and_improve(tmp_path):
    run = tmp_path / "run"
    flags = [
        "--hidden",
        "64",
        "--latent",
        "8",
        "--lr",
        "3e-3",
        "--data",
        "digits",
        "--batch-size",
        "64",
        "--device",
        "cpu",
        "--quiet",
        "--quality-every",
        "1000",
        "--out",
        run,
    ]
    assert main(["train", "vae", *flags, "--steps", "2"]) == 0
    assert main(["train", "vae", *flags, "--resume", "--steps", "150"]) == 0
    fids = [float(r["fid"]) for r in _rows(run, "test") if r.get("fid")]
    assert len(fids) == 2 and fids[1] < 0.6 * fids[0]  # end of each session; learning shows in the figure


def test_quality_every_refuses_sound_before_writing_anything(tmp_path, capsys):
    err = cli_error(
        capsys, ["train", "wavenet", "--data", "tones", "--steps", "1", "--quality-every", "5", "--out", tmp_path / "w"]
    )
    assert "--quality-every measures images and 2-D points" in err and not (tmp_path / "w").exists()
    assert "--quality-every must be above 0" in cli_error(
        capsys, ["train", "vae", "--data", "digits", "--quality-every", "0", "--out", tmp_path / "v"]
    )
