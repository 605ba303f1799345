"""`genlab fetch` and the fetched data specs, against a local HTTP server on 127.0.0.1 only:
verified downloads, resume after a cut connection, and no network access without `fetch`."""

import gzip
import io
import json
import socket
import struct
import tarfile

import numpy as np
import pytest
import torch

from genlab.cli import main
from genlab.data import load_dataset
from genlab.data.cache import fetch
from genlab.data.cache.download import download
from genlab.core.errors import GenlabError
from fetchhelp import pinned, private_cache  # noqa: F401  (autouse fixture)
from loopback import serve


def test_a_hash_mismatch_is_refused_and_the_partial_file_removed(tmp_path):
    body = bytes(range(256)) * 40
    with serve({"f.bin": body[:-1] + b"X"}) as server:  # same size, one byte changed
        target = tmp_path / "dl" / "f.bin"
        with pytest.raises(GenlabError, match="tampered.*partial download was removed"):
            download(pinned("f.bin", body, f"{server.url}/f.bin"), target)
    assert not target.exists() and list(target.parent.iterdir()) == []


def test_a_cut_connection_resumes_where_it_stopped(tmp_path):
    body = np.random.default_rng(0).integers(0, 256, 50_000, dtype=np.uint8).tobytes()
    target = tmp_path / "dl" / "f.bin"
    with serve({"f.bin": body}) as server:
        server.cut_after = 20_000
        with pytest.raises(GenlabError, match="20,000 bytes kept: run the same command again to resume"):
            download(pinned("f.bin", body, f"{server.url}/f.bin"), target)
        assert (tmp_path / "dl" / "f.bin.part").read_bytes() == body[:20_000] and not target.exists()
        download(pinned("f.bin", body, f"{server.url}/f.bin"), target)
        assert server.requests == [("/f.bin", None), ("/f.bin", "bytes=20000-")]
    assert target.read_bytes() == body and not (tmp_path / "dl" / "f.bin.part").exists()


def test_specs_that_are_not_fetched_exit_2_without_touching_the_network(monkeypatch, capsys):
    def no_network(*args):
        raise AssertionError("a connection was attempted")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    for name in fetch.DATASETS:
        with pytest.raises(GenlabError, match=f"run `genlab fetch {name}`"):
            load_dataset(name)
    assert main(["data", "cifar10"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("genlab: error: cifar10 is not fetched yet")


def idx_gz(array: np.ndarray, magic: int) -> bytes:
    header = struct.pack(">I", magic) + b"".join(struct.pack(">I", d) for d in array.shape)
    return gzip.compress(header + array.astype(np.uint8).tobytes())


def serve_fixture(monkeypatch, name: str, files: dict[str, bytes]):
    monkeypatch.setitem(
        fetch.DATASETS, name, [pinned(n, b, f"http://unreachable.invalid/{n}") for n, b in files.items()]
    )
    return serve(files)


def test_fetch_mnist_from_a_mirror_then_use_the_spec(monkeypatch, capsys):
    rng = np.random.default_rng(1)
    x_tr, x_te = rng.integers(0, 256, (12, 28, 28)), rng.integers(0, 256, (4, 28, 28))
    y_tr, y_te = rng.integers(0, 10, 12), rng.integers(0, 10, 4)
    files = {
        "train-images-idx3-ubyte.gz": idx_gz(x_tr, 2051),
        "train-labels-idx1-ubyte.gz": idx_gz(y_tr, 2049),
        "t10k-images-idx3-ubyte.gz": idx_gz(x_te, 2051),
        "t10k-labels-idx1-ubyte.gz": idx_gz(y_te, 2049),
    }
    with serve_fixture(monkeypatch, "mnist", files) as server:
        assert main(["fetch", "mnist", "--mirror", server.url + "/mnist/", "--quiet"]) == 0
        assert sorted(p for p, _ in server.requests) == sorted(f"/mnist/{n}" for n in files)
        assert main(["fetch", "mnist", "--mirror", server.url]) == 0  # already there: nothing downloaded again
        assert len(server.requests) == 4
    data = load_dataset("mnist")
    assert torch.equal(data.train[:, 0], torch.from_numpy(x_tr.astype(np.uint8)))
    assert torch.equal(data.test_labels, torch.from_numpy(y_te))
    assert "is in" in capsys.readouterr().out


def amat(images: np.ndarray) -> bytes:
    return b"".join(" ".join(map(str, row)).encode() + b"\n" for row in images.reshape(len(images), -1))


def test_fetch_binarized_mnist_through_the_mirror_variable(monkeypatch):
    rng = np.random.default_rng(2)
    sets = {part: rng.integers(0, 2, (n, 784)) for part, n in (("train", 5), ("valid", 2), ("test", 3))}
    files = {f"binarized_mnist_{part}.amat": amat(x) for part, x in sets.items()}
    with serve_fixture(monkeypatch, "binarized-mnist", files) as server:
        monkeypatch.setenv("GENLAB_MIRROR", server.url)
        assert main(["fetch", "binarized-mnist", "--quiet"]) == 0
    data = load_dataset("binarized-mnist")
    assert data.train.shape == (5, 1, 28, 28) and data.test.shape == (3, 1, 28, 28)
    assert torch.equal(data.test.flatten(1), torch.from_numpy(sets["test"] * 255).to(torch.uint8))


def test_fetch_cifar10_unpacks_only_the_batches(monkeypatch, tmp_path):
    rng = np.random.default_rng(3)
    records = {f"data_batch_{i}.bin": rng.integers(0, 256, (2, 3073)) for i in range(1, 6)}
    records["test_batch.bin"] = rng.integers(0, 256, (3, 3073))
    for r in records.values():
        r[:, 0] %= 10  # the label byte
    archive = io.BytesIO()
    with tarfile.open(fileobj=archive, mode="w:gz") as tar:
        for name, r in {**records, "../escape.bin": records["test_batch.bin"]}.items():
            blob = r.astype(np.uint8).tobytes()
            info = tarfile.TarInfo(f"cifar-10-batches-bin/{name}")
            info.size = len(blob)
            tar.addfile(info, io.BytesIO(blob))
    with serve_fixture(monkeypatch, "cifar10", {"cifar-10-binary.tar.gz": archive.getvalue()}) as server:
        assert main(["fetch", "cifar10", "--mirror", server.url, "--quiet"]) == 0
    data = load_dataset("cifar10")
    assert data.train.shape == (10, 3, 32, 32) and data.test.shape == (3, 3, 32, 32)
    assert torch.equal(data.test.flatten(1), torch.from_numpy(records["test_batch.bin"][:, 1:].astype(np.uint8)))
    assert not (fetch.dataset_dir("cifar10") / "escape.bin").exists()
    assert not any(p.name == "escape.bin" for p in (tmp_path / "cache").rglob("*"))


def test_fetch_refuses_unknown_names_and_from_for_data(capsys):
    assert main(["fetch", "imagenet"]) == 2
    assert main(["fetch", "mnist", "--from", "x.gz"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert "choose inception or one of mnist, fashion-mnist, binarized-mnist, cifar10" in err[0]
    assert "--from imports the Inception weights only" in err[1]


def test_fid_cli_between_two_array_files(tmp_path, capsys):
    rng = np.random.default_rng(4)
    a, b = rng.integers(0, 256, (40, 1, 8, 8), dtype=np.uint8), rng.integers(0, 120, (30, 1, 8, 8), dtype=np.uint8)
    np.save(tmp_path / "a.npy", a)
    np.savez(tmp_path / "b.npz", x=b)
    out = tmp_path / "fid.json"
    args = ["fid", str(tmp_path / "a.npy"), str(tmp_path / "b.npz"), "--features", "domain:digits", "--kid"]
    assert main([*args, "--out", str(out)]) == 0
    line = capsys.readouterr().out.strip()
    result = json.loads(out.read_text())
    assert result["features"].startswith("genlab-classifier:digits:") and (result["n_a"], result["n_b"]) == (40, 30)
    assert line.startswith(f"FID: {result['fid']:.4f}  KID: ") and "subsets of 15" in line and result["fid"] > 0
    assert main(["fid", str(tmp_path / "a.npy"), str(tmp_path / "a.npy"), "--features", "domain:digits"]) == 0
    assert capsys.readouterr().out.startswith("FID: 0.0000")  # a set against itself
    assert main(["fid", str(tmp_path / "a.npy"), "digits:test", "--features", "inception"]) == 2  # no weights
    assert "genlab fetch inception" in capsys.readouterr().err
