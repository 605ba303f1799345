"""Hostile files and flaky networks (issue 28): one test per class of failure. Every refusal is
exit 2 with one `genlab: error:` line naming the user's path, memory and disk stay bounded by what
a file really holds, caches and packs are verified rather than trusted, and nothing of the user's is
lost. Networks are loopback servers started here (tests/loopback.py), with timeouts made short."""

import gzip
import hashlib
import io
import json
import os
import struct
import subprocess
import sys
import tarfile
import textwrap
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch

import genlab
from genlab.cli import main
from genlab.core.errors import GenlabError
from genlab.data import load_dataset
from genlab.data.cache import download, fetch
from clihelp import cli_error
from crafted import npy_header, png_rows, wav_declaring
from fetchhelp import pinned, private_cache  # noqa: F401  (autouse fixture)
from loopback import serve

SRC = str(Path(genlab.__file__).resolve().parents[1])  # the genlab under test, for child processes


def peak_rss_of(cases: list[list[str]], warm_up: list[str], cache: Path) -> list[dict]:
    """Run `genlab` on each argv in one fresh process; for each: exit code, stderr lines and how far
    the process's peak RSS rose above its peak after `warm_up` (which imports what the cases need)."""
    script = textwrap.dedent("""
        import contextlib, io, json, resource, sys
        from genlab.cli import main
        warm, cases = json.loads(sys.argv[1])
        with contextlib.redirect_stderr(io.StringIO()):
            main(warm)
        base, out = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, []
        for argv in cases:
            err = io.StringIO()
            try:
                with contextlib.redirect_stderr(err):
                    code = main(argv)
            except BaseException as exc:  # a traceback (MemoryError, ...): recorded, the next case still runs
                code = type(exc).__name__
            peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            out.append({"code": code, "err": err.getvalue().strip().splitlines(), "grew_mb": (peak - base) / 1024})
        print(json.dumps(out))
    """)
    env = {**os.environ, "PYTHONPATH": SRC, "OMP_NUM_THREADS": "1", "GENLAB_CACHE": str(cache)}
    done = subprocess.run(
        [sys.executable, "-c", script, json.dumps([warm_up, cases])],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def assert_refused(result: dict, *words: str, most_mb: float = 100) -> None:
    assert result["code"] == 2 and len(result["err"]) == 1, result
    assert result["err"][0].startswith("genlab: error: ") and all(w in result["err"][0] for w in words), result
    assert result["grew_mb"] < most_mb, result


# --- memory and disk bounded by what the file declares, checked before allocating ----------------
def _hostile_files(root: Path) -> dict[str, list[str]]:
    """Crafted files (a few KB each) -> the `genlab` command that reads each."""
    files = {
        "tall/a.png": png_rows(1, 49_999_999),  # the 97 KB PNG
        "strip/a.png": png_rows(1, 3000),  # small, but 3000 times taller than wide
        "huge.npy": npy_header((10**6, 1000, 1000)) + b"\0" * 100,
        "train-images-idx3-ubyte": struct.pack(">IIII", 2051, 2**31, 28, 28) + b"\0" * 784,
        "t10k-images-idx3-ubyte.gz": gzip.compress(struct.pack(">IIII", 2051, 2**31, 28, 28) + b"\0" * 784),
        "long.wav": wav_declaring(2**31 - 100, 8000),
        "rate.wav": wav_declaring(32, 4_000_000_007 % 2**32),
        "slow.wav": wav_declaring(32, 1),
        "ok/0.png": png_rows(8, 8),
        "ok/1.png": png_rows(8, 8),
    }
    grow = b"\x80\x02c__builtin__\nbytearray\nJ" + struct.pack("<i", 10**9) + b"\x85R."  # bytearray(10**9)
    files.update({"cifar/data_batch_1": grow, "cifar/test_batch": grow})
    npz = io.BytesIO()
    with zipfile.ZipFile(npz, "w") as zf:
        zf.writestr("x.npy", files["huge.npy"])
    files["huge.npz"] = npz.getvalue()
    for name, data in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(data)
    commands = {name: ["data", str(root / name)] for name in files if "/" not in name}
    commands["cifar"] = ["data", str(root / "cifar")]
    commands.update(
        {
            name: ["data", str(root / name.split("/")[0]), "--image-size", "28"]
            for name in ("tall/a.png", "strip/a.png", "ok/0.png")
        }
    )
    return commands


@pytest.fixture(scope="module")
def refused(tmp_path_factory) -> dict[str, dict]:
    """Each crafted file read by `genlab` in one child process (after a harmless folder, which imports
    what the readers need): exit code, stderr lines and how far the peak RSS rose."""
    root = tmp_path_factory.mktemp("hostile")
    commands = _hostile_files(root)
    names = [n for n in commands if n != "ok/0.png"]
    results = peak_rss_of([commands[n] for n in names], commands["ok/0.png"], root / "cache")
    return {"root": root, **dict(zip(names, results))}


def test_images_are_refused_from_their_declared_size_before_a_pixel_is_decoded(refused):
    root = refused["root"]
    assert_refused(refused["tall/a.png"], str(root / "tall" / "a.png"), "1x49999999", "16384 pixels a side", most_mb=60)
    assert_refused(refused["strip/a.png"], str(root / "strip" / "a.png"), "1x3000", "64 times")

    from genlab.data.inputs.image import read_image  # what `complete --input` and the page's uploads read with

    with pytest.raises(GenlabError, match="1x3000 pixels"):
        read_image(root / "strip" / "a.png", (1, 8, 8), str(root / "strip" / "a.png"))


def test_headers_that_declare_sizes_are_checked_against_the_file_before_allocating(refused):
    root = refused["root"]
    for name in (
        "huge.npy",
        "huge.npz",
        "train-images-idx3-ubyte",
        "t10k-images-idx3-ubyte.gz",
        "long.wav",
        "rate.wav",
        "slow.wav",
    ):
        assert_refused(refused[name], str(root / name))
    assert "declares a uint8 array of shape (1000000, 1000, 1000)" in refused["huge.npy"]["err"][0]
    assert "header promises" in refused["train-images-idx3-ubyte"]["err"][0]
    assert "more than its" in refused["t10k-images-idx3-ubyte.gz"]["err"][0]
    assert "declares 2,147,483,548 frames" in refused["long.wav"]["err"][0]
    assert "at 4000000007 Hz" in refused["rate.wav"]["err"][0] and "at 1 Hz" in refused["slow.wav"]["err"][0]
    assert_refused(refused["cifar"], str(root / "cifar" / "data_batch_1"), "bytearray(1000000000)")


def test_fetch_never_stores_more_than_the_pinned_size(tmp_path):
    body = np.random.default_rng(0).integers(0, 256, 30_000, dtype=np.uint8).tobytes()
    target = tmp_path / "dl" / "f.bin"
    with serve({"f.bin": body}) as server:
        server.extra = b"\0" * (8 << 20)  # 8 MB more than the file
        download.download(pinned("f.bin", body, f"{server.url}/f.bin"), target)
        assert target.read_bytes() == body
        assert server.sent < (4 << 20)  # the client hung up at the file's size; the rest was never read
        server.files["g.bin"] = b"x" * len(body) + server.extra  # another, longer file
        with pytest.raises(GenlabError, match="tampered.*partial download was removed"):
            download.download(pinned("g.bin", body, f"{server.url}/g.bin"), tmp_path / "dl" / "g.bin")
    assert sorted(p.name for p in target.parent.iterdir()) == ["f.bin"]


def test_packs_killed_before_they_finished_leave_nothing_behind(tmp_path):
    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead = int(done.stdout)  # a process id that has ended
    tmp_path = tmp_path / "work"
    tmp_path.mkdir()
    stale = tmp_path / f".old.{dead}.tmp"
    stale.mkdir()
    np.save(stale / "train-00000.npy", np.zeros((3, 1, 8, 8), np.uint8))
    mine = tmp_path / f".notes.{dead}.tmp"  # the user's own folder that merely looks alike: kept
    mine.mkdir()
    (mine / "notes.txt").write_text("keep")
    running = tmp_path / f".other.{os.getpid()}.tmp"  # a pack still being written: kept
    running.mkdir()
    np.save(running / "train-00000.npy", np.zeros((3, 1, 8, 8), np.uint8))
    assert main(["data", "digits", "--pack", str(tmp_path / "new")]) == 0
    assert not stale.exists() and (mine / "notes.txt").read_text() == "keep" and running.is_dir()
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([mine.name, running.name, "new"])


# --- caches and packs are verified, not trusted ----------------------------------------------------
def idx_gz(array: np.ndarray, magic: int) -> bytes:
    header = struct.pack(">I", magic) + b"".join(struct.pack(">I", d) for d in array.shape)
    return gzip.compress(header + array.astype(np.uint8).tobytes())


def mnist_files(seed: int = 1) -> dict[str, bytes]:
    rng = np.random.default_rng(seed)
    return {
        "train-images-idx3-ubyte.gz": idx_gz(rng.integers(0, 256, (6, 28, 28)), 2051),
        "train-labels-idx1-ubyte.gz": idx_gz(rng.integers(0, 10, 6), 2049),
        "t10k-images-idx3-ubyte.gz": idx_gz(rng.integers(0, 256, (2, 28, 28)), 2051),
        "t10k-labels-idx1-ubyte.gz": idx_gz(rng.integers(0, 10, 2), 2049),
    }


def cifar_archive() -> tuple[bytes, np.ndarray]:
    rng = np.random.default_rng(3)
    records = {f"data_batch_{i}.bin": rng.integers(0, 10, (1, 3073)) for i in range(1, 6)}
    records["test_batch.bin"] = rng.integers(0, 10, (2, 3073))
    archive = io.BytesIO()
    with tarfile.open(fileobj=archive, mode="w:gz") as tar:
        for name, r in records.items():
            blob = r.astype(np.uint8).tobytes()
            info = tarfile.TarInfo(f"cifar-10-batches-bin/{name}")
            info.size = len(blob)
            tar.addfile(info, io.BytesIO(blob))
    return archive.getvalue(), records["test_batch.bin"]


def test_fetch_checks_the_files_already_in_place_and_replaces_planted_ones(monkeypatch, tmp_path, capsys):
    files = mnist_files()
    monkeypatch.setitem(
        fetch.DATASETS, "mnist", [pinned(n, b, "http://unreachable.invalid/" + n) for n, b in files.items()]
    )
    folder = fetch.dataset_dir("mnist")
    folder.mkdir(parents=True)
    for name in files:  # random bytes under the final names, and the marker: today's "complete" set
        (folder / name).write_bytes(os.urandom(64))
    (folder / fetch.MARKER).write_text("planted\n")
    assert "run `genlab fetch mnist` again" in cli_error(capsys, ["data", "mnist"])
    with serve(files) as server:
        assert main(["fetch", "mnist", "--mirror", server.url, "--quiet"]) == 0
        assert len(server.requests) == 4  # every planted file downloaded again
    assert load_dataset("mnist").train.shape == (6, 1, 28, 28)

    archive, test_batch = cifar_archive()
    monkeypatch.setitem(fetch.DATASETS, "cifar10", [pinned("cifar-10-binary.tar.gz", archive)])
    cifar = fetch.dataset_dir("cifar10")
    cifar.mkdir(parents=True)
    (cifar / "cifar-10-binary.tar.gz").write_bytes(archive[:1000])  # truncated
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "mine.txt").write_text("keep")
    (cifar / fetch.CIFAR_FOLDER).symlink_to(outside, target_is_directory=True)  # a planted link
    with serve({"cifar-10-binary.tar.gz": archive}) as server:
        assert main(["fetch", "cifar10", "--mirror", server.url, "--quiet"]) == 0
    assert not (cifar / fetch.CIFAR_FOLDER).is_symlink() and [p.name for p in outside.iterdir()] == ["mine.txt"]
    data = load_dataset("cifar10")
    assert torch.equal(data.test.flatten(1), torch.from_numpy(test_batch[:, 1:].astype(np.uint8)))
    bad = archive[:-40] + bytes(40)  # a pinned archive that cannot be unpacked: one line, not a ReadError
    monkeypatch.setitem(fetch.DATASETS, "cifar10", [pinned("cifar-10-binary.tar.gz", bad)])
    (cifar / "cifar-10-binary.tar.gz").write_bytes(bad)
    assert "cannot be unpacked" in cli_error(capsys, ["fetch", "cifar10"])


def test_damaged_caches_are_named_or_rebuilt_never_a_traceback(tmp_path, capsys, monkeypatch):
    from genlab.core.tensorfile import save_verified
    from genlab.metrics import features, inception_weights

    np.save(tmp_path / "a.npy", np.zeros((3, 1, 8, 8), np.uint8))
    store = inception_weights.weights_path()
    store.parent.mkdir(parents=True)
    store.write_bytes(os.urandom(2000))
    line = cli_error(capsys, ["fid", tmp_path / "a.npy", tmp_path / "a.npy", "--features", "inception"])
    assert "damaged" in line and "genlab fetch inception" in line
    save_verified(store, {"w": torch.ones(8)}, {})
    raw = bytearray(store.read_bytes())
    raw[-1] ^= 1  # one flipped bit in the weights: the header still parses
    store.write_bytes(bytes(raw))
    assert "recorded SHA-256" in cli_error(
        capsys, ["fid", tmp_path / "a.npy", tmp_path / "a.npy", "--features", "inception"]
    )

    monkeypatch.setattr(features, "STEPS", 3)
    data = load_dataset("digits")
    first = features.feature_space(data)
    cached = next((Path(os.environ["GENLAB_CACHE"]) / "features").glob("*.safetensors"))
    cached.write_bytes(cached.read_bytes()[:-100])  # a torn cache file
    trained = features.TRAININGS
    again = features.feature_space(data)  # rebuilt from the data, the same network
    assert features.TRAININGS == trained + 1
    assert torch.equal(first.embed(data.test[:5]), again.embed(data.test[:5]))


def _tampered_pack(tmp_path, name: str):
    from genlab.data.formats.pack_writer import write_pack

    pack = write_pack(load_dataset("digits"), tmp_path / name, colors=(2,))
    return pack, json.loads((pack / "pack.json").read_text())


def test_training_on_a_tampered_pack_stops_before_it_starts(tmp_path, capsys):
    common = [
        "train",
        "pixelrnn",
        "--arch",
        "pixelcnn",
        "--width",
        "4",
        "--layers",
        "1",
        "--colors",
        "2",
        "--epochs",
        "1",
        "--device",
        "cpu",
        "--quiet",
        "--data",
    ]
    flipped, _ = _tampered_pack(tmp_path, "flipped")
    shard = flipped / "train-00000.npy"
    raw = bytearray(shard.read_bytes())
    raw[-1] ^= 0xFF  # one image byte: same size, another hash
    shard.write_bytes(bytes(raw))
    assert "does not match its SHA-256" in cli_error(capsys, [*common, flipped, "--out", tmp_path / "r1"])

    indices, manifest = _tampered_pack(tmp_path, "indices")
    shard = indices / "train-00000-k2.npy"
    raw = bytearray(shard.read_bytes())
    raw[-1] = 7  # index 7 of a 2-colour palette, with the manifest's hash updated to match
    shard.write_bytes(bytes(raw))
    manifest["splits"]["train"]["indices"]["2"][0]["sha256"] = hashlib.sha256(bytes(raw)).hexdigest()
    (indices / "pack.json").write_text(json.dumps(manifest))
    assert "palette index 7" in cli_error(capsys, [*common, indices, "--out", tmp_path / "r2"])

    fields, manifest = _tampered_pack(tmp_path, "fields")

    def edited(edit) -> str:
        changed = json.loads(json.dumps(manifest))
        edit(changed)
        return json.dumps(changed)

    deep = json.dumps({**manifest, "label_names": None}).replace(
        '"label_names": null', '"label_names": ' + "[" * 5000 + "]" * 5000
    )
    for text, words in (
        (edited(lambda m: m.update(rows_per_shard="5000")), "rows_per_shard"),
        (edited(lambda m: m.update(item_shape=[1, True, 8])), "item_shape"),
        (edited(lambda m: m["splits"]["train"]["images"][0].update(file="../x.npy")), "../x.npy"),
        (edited(lambda m: m["palettes"]["2"].update(colors=[[0], [300]])), "palette 2"),
        (deep, "nest"),
    ):
        (fields / "pack.json").write_text(text)
        assert words in cli_error(capsys, [*common, fields, "--out", tmp_path / "r3"])
    assert not any((tmp_path / r).exists() for r in ("r1", "r2", "r3"))


def test_a_run_with_a_damaged_config_is_refused_in_one_line(tmp_path, capsys):
    from safetensors.torch import save_file

    from genlab.serve.catalog import RunCatalog

    good = {
        "model": "vae",
        "model_config": {"hidden": 8, "latent": 2},
        "item_shape": [1, 8, 8],
        "data": {"data": "digits", "image_size": None, "channels": None},
    }
    bad = {
        "types": {**good, "item_shape": ["8", 8, 8]},
        "option": {**good, "model_config": {"hidden": "wide"}},
        "spec": {**good, "data": {"data": 5}},
        "names": {**good, "label_names": [1, 2]},
        "data": {**good, "data": "digits"},
        "shape": {**good, "item_shape": 5},
    }
    for name, config in bad.items():
        (tmp_path / "runs" / name).mkdir(parents=True)
        (tmp_path / "runs" / name / "config.json").write_text(json.dumps(config))
        save_file({}, str(tmp_path / "runs" / name / "model.safetensors"))
    (tmp_path / "runs" / "deep").mkdir()
    (tmp_path / "runs" / "deep" / "config.json").write_text("[" * 100_000 + "]" * 100_000)
    for name in (*bad, "deep"):
        line = cli_error(capsys, ["sample", tmp_path / "runs" / name, "--out", tmp_path / "s.png"])
        assert str(tmp_path / "runs" / name / "config.json") in line
    listed = RunCatalog(tmp_path / "runs").listing()  # the page's list: each bad run named, none a 500
    assert sorted(r["name"] for r in listed) == sorted([*bad, "deep"])
    assert all(r["family"] == "broken" and "config.json" in r["error"] for r in listed)
    assert not (tmp_path / "s.png").exists()


# --- networks that stall or lie ----------------------------------------------------------------------
def test_a_stalling_or_silent_mirror_is_given_up_on(tmp_path, monkeypatch):
    monkeypatch.setattr(download, "STALL_S", 0.6)
    monkeypatch.setattr(download, "STALL_BYTES", 1000)
    body = bytes(range(256)) * 8
    with serve({"f.bin": body}) as server:
        server.trickle = 0.1  # ten bytes a second, for ever
        with pytest.raises(GenlabError, match=r"stalled \(under 0 KB in 0.6 s\); \d+ bytes kept"):
            download.download(pinned("f.bin", body, f"{server.url}/f.bin"), tmp_path / "f.bin")
        server.trickle = 30  # nothing at all
        (tmp_path / "f.bin.part").unlink()
        with pytest.raises(GenlabError, match=r"failed: no data for 0.6 s"):
            download.download(pinned("f.bin", body, f"{server.url}/f.bin"), tmp_path / "f.bin")


def test_a_mirror_that_announces_more_than_it_sends_still_completes(tmp_path):
    body = bytes(range(256)) * 20
    with serve({"f.bin": body}) as server:
        server.announce = 1000  # every byte of the file, but 1000 more announced
        download.download(pinned("f.bin", body, f"{server.url}/f.bin"), tmp_path / "f.bin")
    assert (tmp_path / "f.bin").read_bytes() == body and not (tmp_path / "f.bin.part").exists()


def test_mirrors_are_validated_and_local_folders_work(monkeypatch, tmp_path, capsys):
    for argv in (["--mirror", "notaurl"], ["--mirror", "http://[::1"], ["--mirror", "ftp://host/x"]):
        assert "--mirror" in cli_error(capsys, ["fetch", "mnist", *argv])
    monkeypatch.setenv("GENLAB_MIRROR", "xyz")
    assert "$GENLAB_MIRROR 'xyz' is neither a URL nor an existing folder" in cli_error(capsys, ["fetch", "mnist"])
    monkeypatch.delenv("GENLAB_MIRROR")
    files = mnist_files(2)
    monkeypatch.setitem(
        fetch.DATASETS, "mnist", [pinned(n, b, "http://unreachable.invalid/" + n) for n, b in files.items()]
    )
    offline = tmp_path / "usb"
    offline.mkdir()
    for name, data in files.items():
        (offline / name).write_bytes(data)
    assert main(["fetch", "mnist", "--mirror", offline.as_uri(), "--quiet"]) == 0  # file:///DIR
    assert load_dataset("mnist").test.shape == (2, 1, 28, 28)
    (fetch.dataset_dir("mnist") / "t10k-labels-idx1-ubyte.gz").unlink()
    assert main(["fetch", "mnist", "--mirror", str(offline), "--quiet"]) == 0  # a plain folder path
    (offline / "t10k-labels-idx1-ubyte.gz").unlink()
    (fetch.dataset_dir("mnist") / "t10k-labels-idx1-ubyte.gz").unlink()
    assert "has no t10k-labels-idx1-ubyte.gz" in cli_error(capsys, ["fetch", "mnist", "--mirror", str(offline)])


def test_a_redirect_loop_and_ctrl_c_get_one_true_line(monkeypatch, tmp_path, capsys):
    files = mnist_files()
    monkeypatch.setitem(fetch.DATASETS, "mnist", [pinned(n, b) for n, b in files.items()])
    with serve(files) as server:
        server.redirect = {name: f"{server.url}/{name}" for name in files}
        assert "redirect" in cli_error(capsys, ["fetch", "mnist", "--mirror", server.url])

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(download, "_fetch_http", interrupted)
    assert main(["fetch", "mnist", "--mirror", "http://127.0.0.1:9"]) == 130
    err = capsys.readouterr().err.strip()
    assert "run the same command again" in err and "--resume" not in err

    from genlab.data.formats.pack_writer import PackWriter

    monkeypatch.setattr(PackWriter, "add", interrupted)
    (tmp_path / "work").mkdir()
    assert main(["data", "digits", "--pack", str(tmp_path / "work" / "p")]) == 130
    err = capsys.readouterr().err.strip()
    assert "run the command again" in err and "--resume" not in err
    assert list((tmp_path / "work").iterdir()) == []  # no pack, no temporary folder


# --- nothing logged twice ----------------------------------------------------------------------------
class Killed(BaseException):
    """Stands for kill -9: nothing catches it, only `finally` blocks run."""


def test_a_kill_between_checkpoint_and_evaluation_row_logs_each_row_once(tmp_path, monkeypatch):
    from genlab import train, viz
    from genlab.core.config import DataConfig, TrainConfig
    from genlab.train.trainer import Trainer

    cfg = TrainConfig(epochs=1, batch_size=256, lr=3e-3, seed=0, device="cpu", log_every=2, save_every=0)
    train.start("vae", {"hidden": 8, "latent": 2}, DataConfig(data="digits"), cfg, tmp_path / "whole", quiet=True)
    real = Trainer.save_samples

    def kill_after_the_test_row(self, path):  # the checkpoint came at the epoch's last step, then the row
        raise Killed()

    monkeypatch.setattr(Trainer, "save_samples", kill_after_the_test_row)
    with pytest.raises(Killed):
        train.start("vae", {"hidden": 8, "latent": 2}, DataConfig(data="digits"), cfg, tmp_path / "killed", quiet=True)
    assert [r["split"] for r in viz.read_metrics(tmp_path / "killed" / "metrics.csv")].count("test") == 1
    monkeypatch.setattr(Trainer, "save_samples", real)
    train.resume(tmp_path / "killed", quiet=True)
    rows = [(r["step"], r["split"]) for r in viz.read_metrics(tmp_path / "killed" / "metrics.csv")]
    assert rows == [(r["step"], r["split"]) for r in viz.read_metrics(tmp_path / "whole" / "metrics.csv")]
    assert rows.count((rows[-1][0], "test")) == 1


# --- small validation gaps: each message names the user's path and the fix, before any long work ----
def test_small_gaps_name_the_path_and_the_fix(tmp_path, capsys, monkeypatch):
    from genlab.cli.fid import image_set

    same = np.full((2, 1, 8, 8), 7, np.uint8)  # two items with identical pixels: both are counted
    np.save(tmp_path / "a.npy", same)
    assert len(image_set(str(tmp_path / "a.npy"))) == 2
    one = tmp_path / "one"
    one.mkdir()
    (one / "x.png").write_bytes(png_rows(8, 8))  # one image is both its splits: counted once
    assert len(image_set(str(one))) == 1
    line = cli_error(capsys, ["fid", one, tmp_path / "a.npy", "--features", "domain:digits"])
    assert f"{one} holds 1 image(s)" in line

    (tmp_path / "out.json").mkdir()
    line = cli_error(capsys, ["fid", tmp_path / "a.npy", tmp_path / "a.npy", "--out", tmp_path / "out.json"])
    assert f"--out {tmp_path / 'out.json'} is a folder" in line and ".tmp" not in line
    line = cli_error(capsys, ["fid", "mnist5k:validation", tmp_path / "a.npy"])
    assert "mnist5k:train, mnist5k:test" in line
    line = cli_error(capsys, ["data", "mnist5k:validation"])
    assert "mnist5k:train or mnist5k:test" in line

    (tmp_path / "random.npz").write_bytes(os.urandom(300))
    line = cli_error(capsys, ["data", tmp_path / "random.npz"])
    assert str(tmp_path / "random.npz") in line and "Python objects" not in line

    import pathlib

    real_mkdir = pathlib.Path.mkdir

    def read_only(self, *args, **kwargs):  # the folder refuses new entries (root ignores chmod)
        if self.name.endswith(".tmp"):
            raise PermissionError(13, "Permission denied", str(self))
        return real_mkdir(self, *args, **kwargs)

    monkeypatch.setattr(pathlib.Path, "mkdir", read_only)
    line = cli_error(capsys, ["data", "digits", "--pack", tmp_path / "packed"])
    assert f"cannot create the pack {tmp_path / 'packed'}" in line and ".tmp" not in line
