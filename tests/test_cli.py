"""The real command line end to end on tiny configs, and its exit-2 errors."""

import json
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from genlab.cli import main
from clihelp import cli_error

TINY = [
    "--data",
    "digits",
    "--hidden",
    "16",
    "--latent",
    "2",
    "--epochs",
    "2",
    "--batch-size",
    "64",
    "--device",
    "cpu",
    "--quiet",
]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("cli") / "vae"
    assert main(["train", "vae", *TINY, "--out", str(out)]) == 0
    return out


def test_train_writes_two_d_latent_pictures(run):
    for name in ("latent_map.png", "latent_scatter.png", "loss.png", "reconstructions.png"):
        assert Image.open(run / name).size[0] > 100


def test_sample_png_npz_and_folder(run, tmp_path, capsys):
    assert main(["sample", str(run), "--n", "6", "--seed", "1", "--out", str(tmp_path / "a.npz")]) == 0
    assert main(["sample", str(run), "--n", "6", "--seed", "1", "--out", str(tmp_path / "b.npz")]) == 0
    a = np.load(tmp_path / "a.npz")["images"]
    assert a.shape == (6, 1, 8, 8) and a.dtype == np.uint8
    assert np.array_equal(a, np.load(tmp_path / "b.npz")["images"])  # the seed fixes the picture
    assert main(["sample", str(run), "--n", "6", "--seed", "2", "--out", str(tmp_path / "c.npz")]) == 0
    assert not np.array_equal(a, np.load(tmp_path / "c.npz")["images"])
    assert main(["sample", str(run), "--n", "3", "--pixels", "sample", "--out", str(tmp_path / "dir")]) == 0
    files = sorted((tmp_path / "dir").iterdir())
    assert [f.name for f in files] == ["0000.png", "0001.png", "0002.png"]
    assert set(np.unique(np.asarray(Image.open(files[0])))) <= {0, 255}  # drawn binary pixels
    assert main(["sample", str(run), "--n", "4", "--out", str(tmp_path / "g.png")]) == 0
    assert Image.open(tmp_path / "g.png").mode == "L"
    assert main(["sample", str(run), "--out", str(tmp_path / "d.npz")]) == 0
    assert np.load(tmp_path / "d.npz")["images"].shape[0] == 64  # without --n, a grid's worth of images


def test_interpolate_between_images_and_random_codes(run, tmp_path):
    out = tmp_path / "i.npz"
    assert (
        main(
            [
                "interpolate",
                str(run),
                "--from",
                "digits:test:0",
                "--to",
                "digits:test:1",
                "--steps",
                "5",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    rows = np.load(out)["images"]
    assert rows.shape == (5, 1, 8, 8)
    assert not np.array_equal(rows[0], rows[-1])
    assert main(["interpolate", str(run), "--n", "3", "--steps", "4", "--out", str(tmp_path / "r.npz")]) == 0
    assert np.load(tmp_path / "r.npz")["images"].shape == (12, 1, 8, 8)
    Image.fromarray(np.full((20, 20), 255, np.uint8)).save(tmp_path / "white.png")
    assert (
        main(
            [
                "interpolate",
                str(run),
                "--from",
                str(tmp_path / "white.png"),
                "--to",
                "digits:train:3",
                "--steps",
                "3",
                "--out",
                str(tmp_path / "f.png"),
            ]
        )
        == 0
    )


def test_evaluate_reports_bounds_in_nats_and_bits(run, tmp_path):
    out = tmp_path / "m.json"
    assert main(["evaluate", str(run), "--iwae-k", "20", "--out", str(out), "--quiet", "--n", "0"]) == 0
    m = json.loads(out.read_text())
    assert m["images"] == 300 and m["dims_per_image"] == 64
    assert 0 < m["iwae20_nll_nats"] <= m["elbo_nll_nats"] + 0.5  # IWAE is the tighter (smaller) NLL bound
    assert m["elbo_nll_bits_per_dim"] == pytest.approx(m["elbo_nll_nats"] / (64 * np.log(2)))


def test_data_command_describes_and_draws(tmp_path, capsys):
    assert main(["data", "digits", "--out", str(tmp_path / "d.png")]) == 0
    text = capsys.readouterr().out
    assert "digits" in text and "1797" in text.replace(",", "")
    assert Image.open(tmp_path / "d.png").size[0] >= 256
    assert main(["data", "toy:gmm8", "--out", str(tmp_path / "t.png")]) == 0
    assert (tmp_path / "t.png").stat().st_size > 1000


@pytest.mark.parametrize(
    "argv,needle",
    [
        (["train", "vae", "--data", "digits"], "--out"),
        (["train", "nosuch", "--out", "x"], "invalid choice"),
        (["train", "vae", "--data", "toy:rings", "--out", "{tmp}/p", "--epochs", "1"], "holds points"),
        (["train", "vae", "--data", "{tmp}/missing", "--out", "{tmp}/q"], "missing"),
        (["train", "vae", "--data", "digits", "--epochs", "0", "--out", "{tmp}/z"], "--epochs"),
        (["train", "vae", "--data", "digits", "--lr", "abc", "--out", "{tmp}/z"], "invalid float"),
        (["train", "vae", "--data", "digits", "--latent", "0", "--out", "{tmp}/z"], "--latent"),
        (["train", "vae", "--data", "digits", "--colors", "1", "--out", "{tmp}/z"], "--colors"),
        (["sample", "{tmp}/nosuchrun", "--out", "{tmp}/s.png"], "does not exist"),
        (["sample", "{tmp}", "--out", "{tmp}/s.png"], "not a genlab run"),
        (["sample", "{run}", "--out", "{tmp}/s.jpg"], ".png"),
        (["sample", "{run}", "--n", "0", "--out", "{tmp}/s.png"], "--n"),
        (["interpolate", "{run}", "--from", "digits:test:0", "--out", "{tmp}/i.png"], "both --from and --to"),
        (
            ["interpolate", "{run}", "--from", "digits:test:9999", "--to", "digits:test:0", "--out", "{tmp}/i.png"],
            "outside",
        ),
        (
            ["interpolate", "{run}", "--from", "{tmp}/nofile.png", "--to", "digits:test:0", "--out", "{tmp}/i.png"],
            "neither an image file",
        ),
        (["evaluate", "{run}", "--out", "{tmp}/m.txt"], ".json"),
        (["evaluate", "{run}", "--data", "mnist5k", "--out", "{tmp}/m.json"], "shape"),
        (["train", "vae", "--out", "{run}", "--resume", "--lr", "0.5"], "cannot change"),
        (["train", "vae", "--data", "digits", "--out", "{run}"], "already holds a run"),
        (["data", "toy:nosuch"], "nosuch"),
    ],
)
def test_user_errors_exit_2_with_one_line(run, tmp_path, capsys, argv, needle):
    argv = [a.format(tmp=tmp_path, run=run) for a in argv]
    before = sorted(p.name for p in run.rglob("*"))
    assert needle in cli_error(capsys, argv)
    assert sorted(p.name for p in run.rglob("*")) == before


def test_damaged_run_file_is_exit_2(tmp_path, capsys):
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "config.json").write_text("{not json")
    assert "malformed" in cli_error(capsys, ["sample", str(bad), "--out", str(tmp_path / "x.png")])


def test_console_script_runs_as_a_process(run, tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "genlab", "sample", str(run), "--out", "/dev/null/x.png"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2 and done.stderr.startswith("genlab: error:") and "Traceback" not in done.stderr
    ok = subprocess.run(
        [sys.executable, "-m", "genlab", "sample", str(run), "--n", "4", "--out", str(tmp_path / "s.png")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert ok.returncode == 0, ok.stderr
    assert "wrote 4 samples" in ok.stdout


def test_tensorboard_flag_without_the_package_is_a_clear_error(tmp_path, capsys):
    try:
        import tensorboard  # noqa: F401
    except ImportError:
        line = cli_error(capsys, ["train", "vae", *TINY, "--tensorboard", "--out", str(tmp_path / "tb")])
        assert "pip install tensorboard" in line
        assert not (tmp_path / "tb").exists()  # refused before anything was written
    else:
        assert main(["train", "vae", *TINY, "--tensorboard", "--out", str(tmp_path / "tb")]) == 0
        assert any((tmp_path / "tb" / "tensorboard").iterdir())


def test_quiet_training_prints_no_progress_bar(tmp_path, capsys):
    assert main(["train", "vae", *TINY, "--epochs", "1", "--out", str(tmp_path / "q")]) == 0
    captured = capsys.readouterr()
    assert "it/s" not in captured.err and "epoch 1" not in captured.err
    assert "trained vae for 1 epochs" in captured.out
