"""The standard data sets, fetched on request (`genlab fetch NAME`) into genlab's cache.

Each file is pinned by its published size and SHA-256 (the values of tensorflow-datasets' checksum
tables) and verified before use; `data/cache/download.py` resumes and verifies. Once every file of a set
is in place a `.complete` marker is written, and the data spec of the same name reads the folder
with genlab's own loaders (IDX for MNIST and Fashion-MNIST, CIFAR binary batches, the `.amat` text
of binarized MNIST). A spec whose set is not fetched exits 2 with the fetch command: nothing is
ever downloaded at training or evaluation time.

binarized-mnist is Larochelle and Murray's (2011, "The Neural Autoregressive Distribution
Estimator") fixed binarization, the one the PixelRNN paper (van den Oord et al. 2016) and IWAE
(Burda et al. 2016) report nats on: 50,000 train / 10,000 validation / 10,000 test. The spec's
train split is the 50,000 and its test split the 10,000 test images (the validation file is kept).
"""

from __future__ import annotations

import os
import shutil
import tarfile
import tempfile
import zlib
from pathlib import Path

import numpy as np

from genlab.data.dataset import Dataset, image_dataset, one_line
from genlab.data.cache import cache_dir
from genlab.data.cache.download import Pinned, download
from genlab.core.errors import GenlabError
from genlab.core.fsutil import atomic_write_text


def _files(base: str, table: list[tuple[str, int, str]]) -> list[Pinned]:
    return [Pinned(name, size, sha, base + name) for name, size, sha in table]


IDX_FILES = (
    "train-images-idx3-ubyte.gz",
    "train-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
)


def _idx_files(base: str, pins: list[tuple[int, str]]) -> list[Pinned]:
    """The four IDX files of MNIST or Fashion-MNIST, each pinned by (size, SHA-256)."""
    return _files(base, [(name, size, sha) for name, (size, sha) in zip(IDX_FILES, pins, strict=True)])


MNIST_BASE = "https://storage.googleapis.com/cvdf-datasets/mnist/"  # the copy tensorflow-datasets pins
DATASETS: dict[str, list[Pinned]] = {
    "mnist": _idx_files(
        MNIST_BASE,
        [
            (9_912_422, "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609"),
            (28_881, "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c"),
            (1_648_877, "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6"),
            (4_542, "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6"),
        ],
    ),
    "fashion-mnist": _idx_files(
        "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
        [
            (26_421_880, "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84"),
            (29_515, "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845"),
            (4_422_102, "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073"),
            (5_148, "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5"),
        ],
    ),
    "binarized-mnist": _files(
        "http://www.cs.toronto.edu/~larocheh/public/datasets/binarized_mnist/",
        [
            (
                "binarized_mnist_train.amat",
                78_400_000,
                "ad693b29f94c14277b095f5238ddefbbdaaae0939789dd2f4f0205278cee3e4d",
            ),
            (
                "binarized_mnist_valid.amat",
                15_680_000,
                "1de3d397c40fe8eeb33dafd4099a1f665ec01e96d9be234aaeeac8a34930e2e2",
            ),
            (
                "binarized_mnist_test.amat",
                15_680_000,
                "e6687bfea3f820c174f33b7865140b2a2dd2930ef786f35d45795fc193b5ab2c",
            ),
        ],
    ),
    "cifar10": _files(
        "https://www.cs.toronto.edu/~kriz/",
        [("cifar-10-binary.tar.gz", 170_052_171, "c4a38c50a1bc5f3a1c5537f2155ab9d68f9f25eb1ed8d9ddda3db29a59bca1dd")],
    ),
}
CIFAR_FOLDER = "cifar-10-batches-bin"
MARKER = ".complete"


def dataset_dir(name: str) -> Path:
    return cache_dir() / "datasets" / name


def fetch_dataset(name: str, mirror: str | None = None, quiet: bool = True) -> Path:
    """Download every file of `name` (resuming, verifying), unpack CIFAR, mark the folder complete.

    Files already in place are checked against their pinned size and SHA-256 first, whatever the
    marker says: a damaged or planted file is removed (with the marker) and downloaded again."""
    from genlab.data.cache.download import matches_pinned, mirror_base

    mirror_base(mirror)  # a bad --mirror is refused before anything is touched
    folder = dataset_dir(name)
    for pinned in DATASETS[name]:
        target = folder / pinned.name
        if target.is_symlink() or target.exists() and not (target.is_file() and matches_pinned(target, pinned)):
            (folder / MARKER).unlink(missing_ok=True)
            _remove(target)
        if not target.exists():
            download(pinned, target, mirror=mirror, quiet=quiet)
    if name == "cifar10":  # unpacked afresh every time: the batches are not trusted either
        (folder / MARKER).unlink(missing_ok=True)
        _unpack_cifar(folder / DATASETS[name][0].name, folder)
    atomic_write_text(folder / MARKER, _marker_text(name))
    return folder


def _marker_text(name: str) -> str:
    return "\n".join(f"{p.sha256}  {p.name}" for p in DATASETS[name]) + "\n"


def _remove(path: Path) -> None:
    """Delete a file, a link or a folder in the cache (a link's target is left alone)."""
    if path.is_symlink() or path.is_file():
        path.unlink()
    elif path.is_dir():
        shutil.rmtree(path)


def _unpack_cifar(archive: Path, folder: Path) -> None:
    """Extract the regular files of cifar-10-batches-bin/ only (no links, nothing outside the folder)
    into a fresh temporary folder, then put that in place of whatever the cache held (a planted link
    is removed, never followed)."""
    tmp = Path(tempfile.mkdtemp(prefix=".unpack-", dir=folder))
    try:
        try:
            with tarfile.open(archive, "r:gz") as tar:
                members = [
                    m
                    for m in tar.getmembers()
                    if m.isfile() and m.name.startswith(CIFAR_FOLDER + "/") and ".." not in Path(m.name).parts
                ]
                if not members:
                    raise GenlabError(
                        f"{archive} holds no {CIFAR_FOLDER}/ folder; remove it and run `genlab fetch cifar10` again"
                    )
                safe = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}  # Python >= 3.10.12
                tar.extractall(tmp, members=members, **safe)
        except (tarfile.TarError, EOFError, zlib.error, OSError) as exc:
            raise GenlabError(
                f"{archive} cannot be unpacked ({one_line(exc)}); remove it and run `genlab fetch cifar10` again"
            ) from None
        _remove(folder / CIFAR_FOLDER)
        os.replace(tmp / CIFAR_FOLDER, folder / CIFAR_FOLDER)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def load_fetched(name: str) -> Dataset:
    """The data spec `name` from the cache; GenlabError with the fetch command when not fetched."""
    folder = dataset_dir(name)
    if not (folder / MARKER).is_file():
        mb = sum(p.size or 0 for p in DATASETS[name]) / 1e6
        raise GenlabError(
            f"{name} is not fetched yet: run `genlab fetch {name}` once ({mb:.0f} MB, verified by "
            f"SHA-256; `--mirror URL` for a local copy); genlab never downloads during training"
        )
    for pinned in DATASETS[name]:  # the sizes cost nothing to check (the hashes: `genlab fetch`)
        path = folder / pinned.name
        if not path.is_file() or pinned.size is not None and path.stat().st_size != pinned.size:
            raise GenlabError(
                f"{path} is missing or not the {pinned.size:,} bytes of {pinned.name}: the cache is "
                f"damaged; run `genlab fetch {name}` again (it checks every file and downloads what "
                f"is wrong)"
            )
    if name == "cifar10":
        from genlab.data.formats.cifar import load_cifar_folder

        return load_cifar_folder(folder / CIFAR_FOLDER, name)
    if name == "binarized-mnist":
        return _binarized_mnist(folder, name)
    from genlab.data.formats.idx import load_idx_folder

    return load_idx_folder(folder, name)


def read_amat(path: Path) -> np.ndarray:
    """A binarized-MNIST .amat file: lines of 784 '0'/'1' separated by single spaces -> uint8 (N, 1, 28, 28)
    with values 0 and 255 (every value is one character followed by one separator)."""
    raw = np.frombuffer(path.read_bytes(), np.uint8)
    if len(raw) % (2 * 784):
        raise GenlabError(f"{path}: not lines of 784 binary values")
    values, separators = raw[0::2].reshape(-1, 784), raw[1::2].reshape(-1, 784)
    if (
        not np.isin(values, (ord("0"), ord("1"))).all()
        or not (separators[:, :-1] == ord(" ")).all()
        or not (separators[:, -1] == ord("\n")).all()
    ):
        raise GenlabError(f"{path}: not lines of 784 binary values")
    return ((values - ord("0")) * 255).astype(np.uint8).reshape(-1, 1, 28, 28)  # (N, 1, 28, 28)


def _binarized_mnist(folder: Path, name: str) -> Dataset:
    train, test = read_amat(folder / "binarized_mnist_train.amat"), read_amat(folder / "binarized_mnist_test.amat")
    note = (
        f"{len(train)} train / {len(test)} test: Larochelle & Murray's fixed binarization (its "
        f"validation file is not used)"
    )
    return image_dataset(name, train, test, None, None, None, note)
