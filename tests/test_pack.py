"""Packs (genlab.data.formats.pack) and training that streams them (genlab.train.streaming): the shards hold
the spec's items, labels and palette indices, nothing in them needs unpickling, and a run on a pack
takes the very steps of the in-memory run (bit for bit on CPU), also when killed and resumed and
with two processes."""

import hashlib
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import torch
from clihelp import cli_error
from safetensors.torch import load_file
from test_distributed import DIGITS, PCNN, _cfg, _in_processes, _start
from threads import one_thread  # noqa: F401  (autouse: one thread here, as in the OMP_NUM_THREADS=1 subprocess, so a
#  killed run, its resume and the unbroken run do the same operations)

from genlab import train
from genlab.train import runs
from genlab.cli import main
from genlab.core.config import DataConfig
from genlab.data import Palette, load_dataset
from genlab.data.formats.pack import MANIFEST, verify
from genlab.data.formats.pack_writer import write_pack
from genlab.core.errors import GenlabError

ROW_BYTES = 64  # one 8x8 grey digit: shards of 100 rows (15 train shards) cross many batches


@pytest.fixture(scope="module")
def digits_pack(tmp_path_factory):
    return write_pack(
        load_dataset("digits"), tmp_path_factory.mktemp("pack") / "digits", colors=(2, 4), shard_bytes=100 * ROW_BYTES
    )


def test_a_pack_holds_the_items_labels_and_palette_indices_in_plain_npy_shards(tmp_path):
    data = load_dataset("patches:flower", image_size=8)  # RGB: the 4-colour palette is a k-means fit
    folder = write_pack(data, tmp_path / "flower", colors=(2, 4), shard_bytes=1000 * 3 * 8 * 8)
    manifest = json.loads((folder / MANIFEST).read_text())
    train = manifest["splits"]["train"]
    assert (train["n"], manifest["splits"]["test"]["n"]) == (len(data.train), len(data.test))
    assert [s["rows"] for s in train["images"]] == [1000, 1000, 1000, len(data.train) - 3000]
    for entry in train["images"] + train["indices"]["4"]:
        path = folder / entry["file"]
        assert hashlib.sha256(path.read_bytes()).hexdigest() == entry["sha256"]
        assert np.load(path, allow_pickle=False).dtype == np.uint8  # plain arrays: no pickle needed
    shards = [np.load(folder / s["file"], mmap_mode="r", allow_pickle=False) for s in train["images"]]
    assert torch.equal(torch.from_numpy(np.concatenate(shards)), data.train)
    palette = Palette.fit(data.train, 4, seed=0)
    assert manifest["palettes"]["4"] == {"colors": palette.colors.tolist(), "seed": 0}
    indices = np.concatenate([np.load(folder / s["file"], allow_pickle=False) for s in train["indices"]["4"]])
    assert torch.equal(torch.from_numpy(indices).long(), palette.encode(data.train))
    assert len(np.unique(indices)) == 4
    whole = load_dataset(str(folder))  # any command can read a pack whole, verified
    assert torch.equal(whole.train, data.train) and torch.equal(whole.test, data.test)

    damaged = folder / train["images"][2]["file"]
    raw = bytearray(damaged.read_bytes())
    raw[-1] ^= 1
    damaged.write_bytes(bytes(raw))
    with pytest.raises(GenlabError, match=f"{damaged.name} does not match its SHA-256"):
        verify(folder)


def _weights(run):
    return load_file(str(run / "model.safetensors"))


@pytest.mark.parametrize(
    "model, values, workers",
    [
        ("pixelrnn", {**PCNN, "colors": 4}, 2),
        ("pixelrnn", {**PCNN, "conditional": True}, 2),  # + labels
        ("gan", {"conv_channels": 4, "latent": 8}, 0),
    ],
)
@pytest.mark.numerics
def test_a_packed_run_takes_the_steps_of_the_in_memory_run(tmp_path, digits_pack, model, values, workers):
    """PixelRNN gets the packed palette indices, the GAN the images prepared per batch (and its noise
    from the same RNG stream: the loader draws no seeds from it); both equal the in-memory run bit
    for bit, and every training batch came through the DataLoader (with workers, or without)."""
    cfg = _cfg(epochs=2, batch_size=100, workers=workers)
    train.start(model, values, DIGITS, cfg, tmp_path / "memory", quiet=True)
    packed = train.start(model, values, DataConfig(data=str(digits_pack)), cfg, tmp_path / "packed", quiet=True)
    assert packed.train_data.read_ahead == packed.counters.step == 30
    if model == "pixelrnn":  # the packed palette indices
        k = values.get("colors", 2)
        assert packed.train_data.split.item_shape == (1, 8, 8) and f"k{k}" in packed.train_data.split.shards[0]["file"]
    a, b = _weights(tmp_path / "memory"), _weights(tmp_path / "packed")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    rows = [(r["step"], r["loss"]) for r in _metrics(tmp_path / "memory")]
    assert rows == [(r["step"], r["loss"]) for r in _metrics(tmp_path / "packed")] and len(rows) > 4
    names = [
        json.loads((tmp_path / run / "config.json").read_text()).get("label_names") for run in ("memory", "packed")
    ]
    assert names[0] == names[1] == ([str(d) for d in range(10)] if values.get("conditional") else None)  # --label 7


def _metrics(run):
    from genlab import viz

    return viz.read_metrics(run / "metrics.csv")


@pytest.mark.numerics
def test_a_killed_packed_run_resumes_to_the_unbroken_weights(tmp_path, digits_pack):
    run = tmp_path / "killed"
    flags = [
        "--data",
        str(digits_pack),
        "--arch",
        "pixelcnn",
        "--width",
        "8",
        "--layers",
        "2",
        "--colors",
        "4",
        "--batch-size",
        "64",
        "--lr",
        "3e-3",
        "--device",
        "cpu",
        "--log-every",
        "5",
        "--save-every",
        "0",
        "--quiet",
    ]
    argv = [sys.executable, "-m", "genlab", "train", "pixelrnn", *flags, "--epochs", "4", "--out", str(run)]
    proc = subprocess.Popen(
        argv,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 120
    while not (run / "checkpoint.safetensors").exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGKILL)  # the trainer and its DataLoader workers, mid-epoch
    proc.wait()
    _, _, counters, _ = runs.load_checkpoint(run)
    assert 0 < counters["step"] < 4 * 24 and counters["step_in_epoch"] > 0
    resumed = train.resume(run, {"epochs": 4}, quiet=True)
    assert resumed.train_data.read_ahead == 4 * 24 - counters["step"]
    whole = train.start(
        "pixelrnn",
        {**PCNN, "colors": 4},
        DataConfig(data=str(digits_pack)),
        _cfg(epochs=4),
        tmp_path / "whole",
        quiet=True,
    )
    assert whole.counters.step == 4 * 24
    a, b = _weights(tmp_path / "whole"), _weights(run)
    assert all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.numerics
def test_two_processes_on_a_pack_equal_two_processes_in_memory(tmp_path, digits_pack):
    cfg = _cfg(epochs=1, batch_size=100)  # each batch cut 50 / 50 (the last 49 / 48), read by each rank
    _in_processes(2, _start, "pixelrnn", PCNN, DataConfig(data=str(digits_pack)), cfg, tmp_path / "packed")
    _in_processes(2, _start, "pixelrnn", PCNN, DIGITS, cfg, tmp_path / "memory")
    a, b = _weights(tmp_path / "memory"), _weights(tmp_path / "packed")
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_pack_and_packed_training_errors(tmp_path, capsys, digits_pack):
    taken = tmp_path / "taken"
    taken.mkdir()
    (taken / "mine.txt").write_text("keep")
    assert "already exists and is not an empty folder" in cli_error(capsys, ["data", "digits", "--pack", taken])
    assert [p.name for p in taken.iterdir()] == ["mine.txt"] and not list(tmp_path.glob(".taken*"))

    common = ["train", "pixelrnn", "--epochs", "1", "--device", "cpu", "--quiet", "--data"]
    assert "pack the data again with `genlab data SOURCE --pack DIR --colors 8`" in cli_error(
        capsys, [*common, digits_pack, "--colors", "8", "--out", tmp_path / "a"]
    )
    assert "pack the source again with --image-size" in cli_error(
        capsys, [*common, digits_pack, "--image-size", "4", "--out", tmp_path / "b"]
    )

    kmeans = tmp_path / "kmeans"  # a 3-colour palette fitted with seed 0: a run with seed 1 would fit another
    assert main(["data", "digits", "--pack", str(kmeans), "--colors", "3", "--seed", "0"]) == 0
    assert "fitted with seed 0, not 1" in cli_error(
        capsys, [*common, kmeans, "--colors", "3", "--seed", "1", "--out", tmp_path / "d"]
    )
    manifest = json.loads((kmeans / MANIFEST).read_text())
    manifest["rows_per_shard"] = 1000  # the 1497 rows would no longer sit where reading looks for them
    (kmeans / MANIFEST).write_text(json.dumps(manifest))
    assert "is not a valid pack manifest (the train shards hold [1497] rows" in cli_error(
        capsys, [*common, kmeans, "--out", tmp_path / "e"]
    )

    broken = tmp_path / "broken"
    write_pack(load_dataset("digits"), broken, shard_bytes=100 * ROW_BYTES)
    shard = broken / "train-00003.npy"
    shard.write_bytes(shard.read_bytes()[:-10])
    assert "train-00003.npy is missing or not the" in cli_error(capsys, [*common, broken, "--out", tmp_path / "c"])
    assert not (tmp_path / "c").exists()


def _image_folder(root, rgb: bool):
    """Two labelled subfolders of 8x8 images; with rgb, a few are grey (the folder loads as RGB)."""
    from PIL import Image

    rng = np.random.default_rng(3)
    for i in range(45):
        shape = (8, 8, 3) if rgb and i % 4 else (8, 8)
        (root / f"class{i % 2}").mkdir(parents=True, exist_ok=True)
        Image.fromarray(rng.integers(0, 256, shape, dtype=np.uint8)).save(root / f"class{i % 2}" / f"{i:03d}.png")
    return root


@pytest.mark.parametrize("rgb, colors", [(True, (2, 5)), (False, (2, 3, 256))])
def test_a_folder_packed_a_chunk_at_a_time_equals_the_folder_packed_whole(tmp_path, monkeypatch, rgb, colors):
    """Seven files at a time, shards of 10 images; RGB k-means sees a seeded sample of 500 pixels
    (lowered from 100,000 so the sample is drawn across the chunks): the same bytes as the folder
    loaded whole and packed."""
    from genlab.data.formats import pack_writer as pack_module
    from genlab.data import palette as palette_module

    monkeypatch.setattr(palette_module, "MAX_FIT_PIXELS", 500)
    monkeypatch.setattr(pack_module, "MAX_FIT_PIXELS", 500)
    folder = _image_folder(tmp_path / "images", rgb)
    item = (3 if rgb else 1) * 8 * 8
    whole = write_pack(load_dataset(str(folder)), tmp_path / "whole", colors, shard_bytes=10 * item)
    chunked = pack_module.pack_image_folder(
        folder, tmp_path / "chunked", str(folder), None, None, colors, chunk=7, shard_bytes=10 * item
    )
    a, b = (json.loads((p / MANIFEST).read_text()) for p in (whole, chunked))
    assert a == b
    assert len(a["splits"]["train"]["images"]) == 4 and a["label_names"] == ["class0", "class1"]
    assert len(a["palettes"][str(colors[1])]["colors"]) == colors[1]
    if rgb:  # the command line packs a folder this way too
        assert main(["data", str(folder), "--pack", str(tmp_path / "cli"), "--colors", "5"]) == 0
        assert torch.equal(load_dataset(str(tmp_path / "cli")).train, load_dataset(str(folder)).train)
