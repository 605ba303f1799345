"""`genlab complete` and the PixelRNN command line end to end on tiny configs, and their exit-2 errors."""

import csv
import json

import numpy as np
import pytest
from PIL import Image

from genlab.cli import main
from genlab.data import load_dataset
from genlab.core.errors import GenlabError
from genlab.data.inputs.masks import parse_mask
from clihelp import cli_error
from threads import one_thread  # noqa: F401  (autouse fixture)

TINY = [
    "--data",
    "digits",
    "--width",
    "4",
    "--layers",
    "1",
    "--head",
    "8",
    "--epochs",
    "1",
    "--batch-size",
    "256",
    "--device",
    "cpu",
    "--quiet",
]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("pixelrnn") / "run"
    assert main(["train", "pixelrnn", "--arch", "gated-pixelcnn", "--colors", "4", *TINY, "--out", str(out)]) == 0
    return out


@pytest.fixture(scope="module")
def digit():
    return load_dataset("digits").test[3]  # (1, 8, 8) uint8


def test_mask_kinds_hide_exactly_what_they_say(tmp_path):
    assert parse_mask("bottom", 7, 5).nonzero()[:, 0].unique().tolist() == [3, 4, 5, 6]
    assert parse_mask("right", 4, 6).nonzero()[:, 1].unique().tolist() == [3, 4, 5]
    box = parse_mask("box:1,2,4,3", 5, 6)  # columns 1..3 of row 2
    assert box.nonzero().tolist() == [[2, 1], [2, 2], [2, 3]]
    assert parse_mask("box:0,0,6,5", 5, 6).all()
    picture = np.zeros((5, 6), np.uint8)
    picture[1, 2], picture[4, 5] = 255, 200  # white (and light) = hidden
    Image.fromarray(picture).convert("RGBA").save(tmp_path / "m.png")
    assert parse_mask(str(tmp_path / "m.png"), 5, 6).nonzero().tolist() == [[1, 2], [4, 5]]


@pytest.mark.parametrize(
    "text,needle",
    [
        ("box:2,2,2,5", "empty"),
        ("box:3,1,1,4", "empty"),
        ("box:-1,0,3,3", "outside"),
        ("box:0,0,9,3", "outside"),
        ("box:1,2,3", "four whole numbers"),
        ("box:a,b,c,d", "four whole numbers"),
        ("top", "not bottom"),
        ("", "not bottom"),
        ("{tmp}/black.png", "hides no pixel"),
        ("{tmp}/small.png", "is 4x4 but the image is 8x8"),
        ("{tmp}/broken.png", "not a readable image"),
    ],
)
def test_bad_masks_are_user_errors(tmp_path, text, needle):
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(tmp_path / "black.png")
    Image.fromarray(np.full((4, 4), 255, np.uint8)).save(tmp_path / "small.png")
    (tmp_path / "broken.png").write_text("not a png")
    with pytest.raises(GenlabError, match=needle):
        parse_mask(text.format(tmp=tmp_path), 8, 8)


def test_complete_each_mask_kind_keeps_the_visible_pixels(run, digit, tmp_path):
    Image.fromarray(np.pad(np.full((3, 3), 255, np.uint8), ((5, 0), (0, 5)))).save(tmp_path / "mask.png")
    for mask, hidden_count in (("bottom", 32), ("right", 32), ("box:2,1,6,4", 12), (tmp_path / "mask.png", 9)):
        out = tmp_path / "c.npz"
        assert (
            main(["complete", str(run), "--input", "digits:test:3", "--mask", str(mask), "--n", "3", "--out", str(out)])
            == 0
        )
        arrays = np.load(out)
        assert np.array_equal(arrays["original"][0], digit.numpy())
        hidden = arrays["mask"]
        assert hidden.dtype == bool and hidden.sum() == hidden_count
        completions = arrays["completions"]
        assert completions.shape == (3, 1, 8, 8)
        assert (completions[:, 0][:, ~hidden] == digit.numpy()[0][~hidden]).all()  # kept exactly
        assert not np.array_equal(arrays["occluded"][0][:, hidden], digit.numpy()[:, hidden])
    grid = tmp_path / "c.png"
    assert (
        main(["complete", str(run), "--input", "digits:test:3", "--n", "4", "--temperature", "0.5", "--out", str(grid)])
        == 0
    )
    assert Image.open(grid).size[0] > 3 * Image.open(grid).size[1]  # one row: original, occluded, 4 completions
    folder = tmp_path / "cdir"
    assert (
        main(["complete", str(run), "--input", "digits:test:3", "--mask", "right", "--n", "2", "--out", str(folder)])
        == 0
    )
    names = sorted(p.name for p in folder.iterdir())
    assert names == ["0000.png", "0001.png", "mask.png", "occluded.png", "original.png"]
    assert np.array_equal(np.asarray(Image.open(folder / "original.png")), digit.numpy()[0])


def test_complete_an_image_file_with_a_seed(run, tmp_path):
    Image.fromarray(np.tile(np.array([0, 255], np.uint8), (16, 8))).save(tmp_path / "stripes.png")  # 16x16: resized
    for name in ("a", "b"):
        assert (
            main(
                [
                    "complete",
                    str(run),
                    "--input",
                    str(tmp_path / "stripes.png"),
                    "--mask",
                    "bottom",
                    "--seed",
                    "5",
                    "--out",
                    str(tmp_path / f"{name}.npz"),
                ]
            )
            == 0
        )
    a, b = np.load(tmp_path / "a.npz"), np.load(tmp_path / "b.npz")
    assert a["completions"].shape == (8, 1, 8, 8)
    assert np.array_equal(a["completions"], b["completions"])


def test_sample_with_temperature_and_seed_pixels_and_evaluate(run, tmp_path):
    for name in ("a", "b"):
        assert (
            main(
                [
                    "sample",
                    str(run),
                    "--n",
                    "6",
                    "--seed",
                    "1",
                    "--temperature",
                    "0.7",
                    "--seed-pixels",
                    "5",
                    "--out",
                    str(tmp_path / f"{name}.npz"),
                ]
            )
            == 0
        )
    a = np.load(tmp_path / "a.npz")["images"]
    assert a.shape == (6, 1, 8, 8) and a.dtype == np.uint8
    assert np.array_equal(a, np.load(tmp_path / "b.npz")["images"])
    colors = json.loads((run / "config.json").read_text())["model_config"]["colors"]
    assert len(np.unique(a)) <= colors
    out = tmp_path / "m.json"
    assert main(["evaluate", str(run), "--n", "0", "--out", str(out), "--quiet"]) == 0
    m = json.loads(out.read_text())
    assert m["images"] == 300 and m["dims_per_image"] == 64
    assert m["nll_bits_per_dim"] == pytest.approx(m["nll_nats"] / (64 * np.log(2)))
    test_rows = [r for r in csv.DictReader((run / "metrics.csv").open()) if r["split"] == "test"]
    assert float(test_rows[-1]["nll"]) == pytest.approx(m["nll_nats"], rel=1e-4)  # the epoch's test NLL, exactly
    assert float(test_rows[-1]["bits_per_dim"]) == pytest.approx(m["nll_bits_per_dim"], rel=1e-4)


@pytest.mark.parametrize("arch,extra", [("row-lstm", []), ("diagonal-bilstm", []), ("pixelcnn", ["--output", "raw"])])
def test_train_every_architecture_then_complete(arch, extra, tmp_path):
    out = tmp_path / arch
    assert main(["train", "pixelrnn", "--arch", arch, *extra, *TINY, "--out", str(out)]) == 0
    assert (out / "samples" / "epoch_0001.png").exists()
    assert (
        main(
            [
                "complete",
                str(out),
                "--input",
                "digits:test:0",
                "--mask",
                "box:0,4,8,8",
                "--n",
                "2",
                "--out",
                str(tmp_path / "c.npz"),
            ]
        )
        == 0
    )
    arrays = np.load(tmp_path / "c.npz")
    assert (arrays["completions"][:, :, :4] == arrays["original"][:, :, :4]).all()


@pytest.mark.parametrize(
    "argv,needle",
    [
        (["--mask", "box:0,0,9,9"], "outside"),
        (["--mask", "box:3,3,3,3"], "empty"),
        (["--mask", "{tmp}/black.png"], "hides no pixel"),
        (["--mask", "{tmp}/big.png"], "but the image is 8x8"),
        (["--mask", "{tmp}/nofile.png"], "not bottom"),
        (["--input", "digits:test:99999"], "outside"),
        (["--temperature", "0"], "--temperature"),
        (["--seconds", "2"], "--seconds is for sound"),
        (["--out", "{tmp}/c.wav"], "pictures"),
        (["--n", "0"], "--n"),
    ],
)
def test_complete_user_errors_exit_2(run, tmp_path, capsys, argv, needle):
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(tmp_path / "black.png")
    Image.fromarray(np.zeros((9, 9), np.uint8)).save(tmp_path / "big.png")
    base = {"--input": "digits:test:3", "--mask": "bottom", "--out": str(tmp_path / "c.png")}
    base.update(dict(zip(argv[::2], argv[1::2])))
    args = ["complete", str(run)] + [x.format(tmp=tmp_path) for kv in base.items() for x in kv]
    assert needle in cli_error(capsys, args)
    assert not (tmp_path / "c.png").exists()


def test_sample_errors_and_complete_on_a_vae_run(run, tmp_path, capsys):
    assert "seed pixels" in cli_error(capsys, ["sample", run, "--seed-pixels", "65", "--out", tmp_path / "s.png"])
    assert "temperature" in cli_error(capsys, ["sample", run, "--temperature", "-1", "--out", tmp_path / "s.png"])
    vae = tmp_path / "vae"
    assert (
        main(
            [
                "train",
                "vae",
                "--data",
                "digits",
                "--hidden",
                "8",
                "--latent",
                "2",
                "--epochs",
                "1",
                "--device",
                "cpu",
                "--quiet",
                "--out",
                str(vae),
            ]
        )
        == 0
    )
    assert "autoregressive" in cli_error(
        capsys, ["complete", vae, "--input", "digits:test:0", "--out", tmp_path / "c.png"]
    )
    assert "--seed-pixels" in cli_error(capsys, ["sample", vae, "--seed-pixels", "3", "--out", tmp_path / "s.png"])
