"""The built-in `emoji` set: rendered offline from Debian's colour emoji font, byte-identical on every
build, labelled by Unicode emoji group, split stratified; without the font (or the emoji list) a
one-line exit-2 error with the install command. Palette families default to colour palettes on it."""

import hashlib
import json
import socket

import numpy as np
import pytest
import torch

import genlab
from clihelp import cli_error
from genlab.cli import main
from genlab.core.errors import GenlabError
from genlab.data import load_dataset
from genlab.data.builtin import emoji

has_font = emoji.font_path().is_file() and emoji.emoji_test_path().is_file()
needs_font = pytest.mark.skipif(
    not has_font,
    reason="Debian's fonts-noto-color-emoji and unicode-data are not "
    "installed (scripts/dev.sh test installs them as root)",
)
INSTALL = "apt-get install fonts-noto-color-emoji unicode-data"


def no_network(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("the network was touched")

    for name in ("connect", "connect_ex"):
        monkeypatch.setattr(socket.socket, name, refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)


def digest(*arrays) -> str:
    h = hashlib.sha256()
    for a in arrays:
        h.update(np.ascontiguousarray(a).tobytes())
    return h.hexdigest()


@pytest.fixture(scope="module")
def emoji_set(tmp_path_factory):
    """The whole set at the default 32x32, built twice, each into a cache of its own, without network."""
    built, files = [], []
    with pytest.MonkeyPatch.context() as mp:
        no_network(mp)
        for name in ("a", "b"):
            cache = tmp_path_factory.mktemp(name)
            mp.setenv("GENLAB_CACHE", str(cache))
            built.append(load_dataset("emoji"))
            files.append(sorted((cache / "emoji").iterdir()))
    (a,), (b,) = files  # one cached file per build: the same name and the same bytes
    assert a.name == b.name and a.read_bytes() == b.read_bytes()
    return built


@needs_font
def test_two_builds_are_identical_in_count_shape_labels_and_split(emoji_set):
    a, b = emoji_set
    listed = emoji.parse_emoji_test(emoji.emoji_test_path().read_text(encoding="utf-8"))
    assert len(a.train) + len(a.test) == len(listed) >= 1800  # the font draws every emoji of the list
    assert a.item_shape == (3, 32, 32) and a.train.dtype == torch.uint8 and a.label_names == emoji.LABELS
    for ds in (a, b):
        assert len(set(ds.files)) == len(ds.files)  # every emoji once: no skin-tone variants, no duplicates
    assert digest(a.train, a.test, a.train_labels, a.test_labels) == digest(
        b.train, b.test, b.train_labels, b.test_labels
    )
    assert a.files == b.files and a.split_note == b.split_note
    # stratified: a fifth (rounded) of each group is test, every group in both splits
    train_counts, test_counts = (torch.bincount(y, minlength=9) for y in (a.train_labels, a.test_labels))
    assert ((train_counts + test_counts + 2) // 5 == test_counts).all() and (test_counts > 10).all()
    assert f"{len(a.train)} train / {len(a.test)} test, stratified" in a.split_note


@needs_font
def test_the_pictures_are_the_emoji_they_are_labelled_with(emoji_set):
    data = emoji_set[0]
    images, labels = torch.cat([data.train, data.test]), torch.cat([data.train_labels, data.test_labels])
    named = {f: i for i, f in enumerate(data.files)}
    face = next(i for f, i in named.items() if f.startswith("U+1F600 grinning face ("))
    assert data.label_names[labels[face]] == "smileys"
    pixel = images[face, :, 16, 16].tolist()  # the yellow face at the centre, white corners
    assert pixel[0] > 200 and pixel[1] > 150 and pixel[2] < 100, pixel
    assert (images[face, :, 0, 0] == 255).all() and (images[face, :, -1, -1] == 255).all()
    flag = next(
        i for f, i in named.items() if f.startswith("U+1F1E9 U+1F1EA flag: Germany (")
    )  # two code points, one glyph
    assert data.label_names[labels[flag]] == "flags"
    assert data.label_names[labels[next(i for f, i in named.items() if " dog face (" in f)]] == "animals"
    assert not any("skin tone" in f for f in data.files)
    # the mean colour differs between groups (flags are not yellow faces)
    means = torch.stack([images[labels == g].double().mean(0) for g in range(9)])  # (9, 3, 32, 32)
    assert (means[0] - means[8]).abs().mean() > 10


@needs_font
def test_a_cached_set_is_read_again_and_matches_a_fresh_rendering(tmp_path, monkeypatch):
    monkeypatch.setenv("GENLAB_CACHE", str(tmp_path))
    no_network(monkeypatch)
    listed = emoji.parse_emoji_test(emoji.emoji_test_path().read_text(encoding="utf-8"))[::97]  # 20 of them
    path, images, items = emoji.cached_set(8, listed)
    again_path, again, _ = emoji.cached_set(8, listed)
    assert again_path == path and np.array_equal(again, images) and images.shape == (len(listed), 3, 8, 8)
    kept, fresh = emoji.render_all(emoji._font(emoji.font_path()), items[5:6], 8)
    assert kept.tolist() == [0] and np.array_equal(images[5], fresh[0])  # the cache keeps the (C, H, W) layout
    path.write_bytes(b"damaged")  # a damaged cache is built again
    assert np.array_equal(emoji.cached_set(8, listed)[1], images)


def test_without_the_font_or_the_list_it_exits_2_with_the_install_command(tmp_path, monkeypatch, capsys):
    no_network(monkeypatch)
    monkeypatch.setenv("GENLAB_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv(emoji.FONT_ENV, str(tmp_path / "nowhere.ttf"))
    with pytest.raises(GenlabError, match=INSTALL):
        load_dataset("emoji")
    assert INSTALL in cli_error(capsys, ["data", "emoji"])
    assert INSTALL in cli_error(capsys, ["train", "vae", "--data", "emoji", "--steps", "1", "--out", tmp_path / "run"])
    assert not (tmp_path / "run").exists()
    not_a_font = tmp_path / "font.ttf"
    not_a_font.write_text("not a font")
    list_file = tmp_path / "emoji-test.txt"
    list_file.write_text(
        "# group: Smileys & Emotion\n1F600 ; fully-qualified # \U0001f600 E1.0 grinning face\n"
        "1F44B 1F3FB ; fully-qualified # x E1.0 waving hand: light skin tone\n",
        encoding="utf-8",
    )
    monkeypatch.setenv(emoji.EMOJI_TEST_ENV, str(list_file))
    monkeypatch.setenv(emoji.FONT_ENV, str(not_a_font))
    assert INSTALL in cli_error(capsys, ["data", "emoji"])  # a file that is no emoji font
    monkeypatch.setenv(emoji.EMOJI_TEST_ENV, str(tmp_path / "none.txt"))
    assert INSTALL in cli_error(capsys, ["data", "emoji"])
    (tmp_path / "bad.txt").write_bytes(b"# group: Flags\nXYZ ; fully-qualified # ?\n")
    monkeypatch.setenv(emoji.EMOJI_TEST_ENV, str(tmp_path / "bad.txt"))
    assert "lists no emoji" in cli_error(capsys, ["data", "emoji"])
    parsed = emoji.parse_emoji_test(list_file.read_text(encoding="utf-8"))
    assert [(e.text, e.name, e.group) for e in parsed] == [("\U0001f600", "grinning face", 0)]  # no skin tones


def test_palette_families_take_a_colour_palette_on_colour_images(tmp_path):
    from genlab.models import model_class

    for family in ("pixelrnn", "vae", "ae"):
        cls = model_class(family)
        assert cls.model_defaults_for("image", (3, 8, 8)) == {"colors": 32}
        assert cls.model_defaults_for("image", (1, 8, 8)) == {"colors": 2}
    assert model_class("gan").model_defaults_for("image", (3, 8, 8)) == {}
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (24, 6, 6, 3), dtype=np.uint8)
    np.save(tmp_path / "rgb.npy", rgb)
    tiny = {"pixelrnn": ["--layers", "0", "--width", "4", "--head", "4"], "vae": ["--hidden", "4", "--latent", "3"]}
    for family, typed, colours in (("pixelrnn", [], 32), ("vae", ["--colors", "4"], 4)):  # a typed --colors wins
        run = tmp_path / family
        assert (
            main(
                [
                    "train",
                    family,
                    "--data",
                    str(tmp_path / "rgb.npy"),
                    "--steps",
                    "1",
                    *tiny[family],
                    *typed,
                    "--out",
                    str(run),
                    "--quiet",
                ]
            )
            == 0
        )
        config = json.loads((run / "config.json").read_text())
        assert config["model_config"]["colors"] == colours, (family, typed)
        assert genlab.load(run).model.palette.k == colours  # fitted with that many colours (the data has more)
