"""`load_dataset(spec)`: a built-in name or a path -> Dataset, then --image-size / --channels."""

from __future__ import annotations

import os
from pathlib import Path

from genlab.core.errors import GenlabError
from genlab.data.dataset import Dataset, check_options, finish_images

BUILTIN_SPECS = (
    "digits",
    "mnist5k",
    "toy:rings",
    "toy:gmm8",
    "toy:grid25",
    "toy:spiral",
    "toy:swissroll",
    "patches:china",
    "patches:flower",
    "emoji",
    "tones",
    "speech",
    "speech:voice",
)
FETCHED_SPECS = ("mnist", "fashion-mnist", "binarized-mnist", "cifar10")  # after `genlab fetch NAME`
ACCEPTED_PATHS = (
    "a folder of .png/.jpg/.jpeg/.bmp/.gif/.webp images, a .npz or .npy file, "
    "MNIST IDX files (-idx3-ubyte, .gz or not), a CIFAR-10/100 folder, or .wav sound (a file or a folder)"
)


def _unknown(spec: str, why: str) -> GenlabError:
    return GenlabError(
        f"{spec} {why}; use a built-in spec ({', '.join(BUILTIN_SPECS)}), a fetched one "
        f"({', '.join(FETCHED_SPECS)}: `genlab fetch NAME`) or {ACCEPTED_PATHS}"
    )


def is_known_spec(spec: str) -> bool:
    """True for a built-in or fetched spec name (toy:, patches: and speech: ones included) or an existing path."""
    if spec in BUILTIN_SPECS or spec in FETCHED_SPECS:
        return True
    if spec.startswith(("toy:", "patches:", "speech:")):
        return False  # their variants are listed in BUILTIN_SPECS
    return bool(spec) and Path(spec).expanduser().exists()


def _load_path(
    path: Path, spec: str, image_size: int | None, channels: int | None, sample_rate: int | None = None
) -> Dataset:
    from genlab.data.formats import arrays, cifar, folder, idx, pack
    from genlab.data.sound import wav

    if path.is_dir():
        if pack.is_pack(path):
            return pack.load_pack(path, spec)
        if cifar.is_cifar_folder(path):
            return cifar.load_cifar_folder(path, spec)
        if idx.standard_idx_files(path):
            return idx.load_idx_folder(path, spec)
        if wav.is_audio_folder(path):
            return wav.load_wav_path(path, spec, sample_rate)
        return folder.load_image_folder(path, spec, image_size, channels)
    suffix = path.name.lower()
    if suffix.endswith((".npz", ".npy")):
        return arrays.load_array_file(path, spec)
    if idx.is_idx_name(path):
        return idx.load_idx_file(path, spec)
    if suffix.endswith(wav.AUDIO_EXTENSIONS):
        return wav.load_wav_path(path, spec, sample_rate)
    if suffix.endswith(folder.IMAGE_EXTENSIONS):
        raise GenlabError(f"{path} is a single image; put your images in a folder and pass the folder")
    raise _unknown(str(path), "is not a file type genlab reads")


def is_image_folder(path: Path) -> bool:
    """True for a folder `_load_path` reads as a folder of image files (not CIFAR, IDX, sound or a pack)."""
    from genlab.data.formats import cifar, idx, pack
    from genlab.data.sound import wav

    return (
        path.is_dir()
        and not pack.is_pack(path)
        and not cifar.is_cifar_folder(path)
        and not idx.standard_idx_files(path)
        and not wav.is_audio_folder(path)
    )


def load_dataset(
    spec: str, image_size: int | None = None, channels: int | None = None, sample_rate: int | None = None
) -> Dataset:
    """Load a data spec (see docs/data.md) with its fixed train/test split.

    image_size resizes every image to image_size x image_size (for patches:* it is the crop size,
    default 32; emoji are rendered at it, default 32); channels 1 or 3 converts grey <-> RGB. Both
    are ignored for 2-D point sets and sound; sample_rate (default 16000 Hz) is the rate every sound is converted to.
    """
    spec = os.fspath(spec)
    check_options(image_size, channels)
    if spec == "digits":
        from genlab.data.builtin.images import load_digits_spec

        ds = load_digits_spec()
    elif spec == "mnist5k":
        from genlab.data.builtin.images import load_mnist5k_spec

        ds = load_mnist5k_spec()
    elif spec in FETCHED_SPECS:
        from genlab.data.cache.fetch import load_fetched

        ds = load_fetched(spec)
    elif spec.startswith("toy:"):
        from genlab.data.builtin.toy import load_toy_spec

        return load_toy_spec(spec[len("toy:") :])
    elif spec == "tones":
        from genlab.data.builtin.tones import load_tones

        return load_tones(sample_rate)
    elif spec == "speech" or spec.startswith("speech:"):
        from genlab.data.builtin.speech import load_speech

        return load_speech(spec, sample_rate)
    elif spec == "emoji":
        from genlab.data.builtin.emoji import load_emoji

        ds = load_emoji(image_size)
    elif spec.startswith("patches:"):
        from genlab.data.builtin.images import load_patches_spec

        ds = load_patches_spec(spec[len("patches:") :], image_size)
    else:
        path = Path(spec).expanduser()
        head, _, tail = spec.rpartition(":")
        if not path.exists() and head and is_known_spec(head):
            raise GenlabError(
                f"{spec}: {head} has no part {tail!r}; give {head} itself (the commands that read "
                f"one split take {head}:train or {head}:test)"
            )
        if not spec or not path.exists():
            raise _unknown(spec or "''", "is neither a built-in spec nor an existing path")
        ds = _load_path(path, spec, image_size, channels, sample_rate)
    return finish_images(ds, image_size, channels)
