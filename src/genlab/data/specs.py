"""`load_dataset(spec)`: a spec name or a path -> Dataset, then --image-size / --channels.

`SPECS` is the one table of the names genlab knows: each built-in set (data/builtin/) and each set
`genlab fetch NAME` downloads (data/cache/fetch.py), with its loader. The error that lists them and
the dispatch both read it. A path is read by its format (data/formats/, data/sound/wav.py).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from genlab.core.errors import GenlabError
from genlab.data.dataset import Dataset, check_options, finish_images


# Loaders: (spec, image_size, sample_rate) -> Dataset; each imports its module when first called.
def _digits(spec: str, image_size: int | None, sample_rate: int | None) -> Dataset:
    from genlab.data.builtin.images import load_digits_spec

    return load_digits_spec()


def _mnist5k(spec: str, image_size: int | None, sample_rate: int | None) -> Dataset:
    from genlab.data.builtin.images import load_mnist5k_spec

    return load_mnist5k_spec()


def _patches(spec: str, image_size: int | None, sample_rate: int | None) -> Dataset:
    from genlab.data.builtin.images import load_patches_spec

    return load_patches_spec(spec[len("patches:") :], image_size)


def _toy(spec: str, image_size: int | None, sample_rate: int | None) -> Dataset:
    from genlab.data.builtin.toy import load_toy_spec

    return load_toy_spec(spec[len("toy:") :])


def _emoji(spec: str, image_size: int | None, sample_rate: int | None) -> Dataset:
    from genlab.data.builtin.emoji import load_emoji

    return load_emoji(image_size)


def _tones(spec: str, image_size: int | None, sample_rate: int | None) -> Dataset:
    from genlab.data.builtin.tones import load_tones

    return load_tones(sample_rate)


def _speech(spec: str, image_size: int | None, sample_rate: int | None) -> Dataset:
    from genlab.data.builtin.speech import load_speech

    return load_speech(spec, sample_rate)


def _fetched(spec: str, image_size: int | None, sample_rate: int | None) -> Dataset:
    from genlab.data.cache.fetch import load_fetched

    return load_fetched(spec)


@dataclass(frozen=True)
class SpecEntry:
    """A name `load_dataset` knows: its loader (spec, image_size, sample_rate) -> Dataset."""

    load: Callable[[str, int | None, int | None], Dataset]
    fetched: bool = False  # its files come from `genlab fetch NAME` (data/cache/fetch.py's DATASETS)


SPECS: dict[str, SpecEntry] = {  # in the order the error lists them; docs/data.md describes each
    "digits": SpecEntry(_digits),
    "mnist5k": SpecEntry(_mnist5k),
    "toy:rings": SpecEntry(_toy),
    "toy:gmm8": SpecEntry(_toy),
    "toy:grid25": SpecEntry(_toy),
    "toy:spiral": SpecEntry(_toy),
    "toy:swissroll": SpecEntry(_toy),
    "patches:china": SpecEntry(_patches),
    "patches:flower": SpecEntry(_patches),
    "emoji": SpecEntry(_emoji),
    "tones": SpecEntry(_tones),
    "speech": SpecEntry(_speech),
    "speech:voice": SpecEntry(_speech),
    "mnist": SpecEntry(_fetched, fetched=True),
    "fashion-mnist": SpecEntry(_fetched, fetched=True),
    "binarized-mnist": SpecEntry(_fetched, fetched=True),
    "cifar10": SpecEntry(_fetched, fetched=True),
}
BUILTIN_SPECS = tuple(name for name, entry in SPECS.items() if not entry.fetched)
FETCHED_SPECS = tuple(name for name, entry in SPECS.items() if entry.fetched)
_FAMILIES = {name.partition(":")[0]: entry for name, entry in SPECS.items() if ":" in name}  # toy, patches, speech
ACCEPTED_PATHS = (
    "a folder of .png/.jpg/.jpeg/.bmp/.gif/.webp images, a .npz or .npy file, "
    "MNIST IDX files (-idx3-ubyte, .gz or not), a CIFAR-10/100 folder, or .wav sound (a file or a folder)"
)


def _unknown(spec: str, why: str) -> GenlabError:
    return GenlabError(
        f"{spec} {why}; use a built-in spec ({', '.join(BUILTIN_SPECS)}), a fetched one "
        f"({', '.join(FETCHED_SPECS)}: `genlab fetch NAME`) or {ACCEPTED_PATHS}"
    )


def _family(spec: str) -> SpecEntry | None:
    """The loader of FAMILY:NAME for a family the table lists (toy:, patches:, speech:), NAME listed
    or not: a name the table lacks is the family loader's to refuse, naming the choices."""
    head, colon, _ = spec.partition(":")
    return _FAMILIES.get(head) if colon else None


def is_known_spec(spec: str) -> bool:
    """True for a built-in or fetched spec name (toy:, patches: and speech: ones included) or an existing path."""
    if spec in SPECS:
        return True
    if _family(spec):
        return False  # their variants are listed in SPECS
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
    known = SPECS.get(spec) or _family(spec)
    if known is not None:
        return finish_images(known.load(spec, image_size, sample_rate), image_size, channels)
    path = Path(spec).expanduser()
    head, _, tail = spec.rpartition(":")
    if not path.exists() and head and is_known_spec(head):
        raise GenlabError(
            f"{spec}: {head} has no part {tail!r}; give {head} itself (the commands that read "
            f"one split take {head}:train or {head}:test)"
        )
    if not spec or not path.exists():
        raise _unknown(spec or "''", "is neither a built-in spec nor an existing path")
    return finish_images(_load_path(path, spec, image_size, channels, sample_rate), image_size, channels)
