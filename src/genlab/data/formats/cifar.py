"""CIFAR-10 / CIFAR-100 folders, python or binary version -> uint8 (N, 3, 32, 32) Dataset.

The python batches are pickles: they go through `SafeUnpickler`, which builds only builtin
containers and numpy arrays/dtypes and refuses every other global, so a crafted batch cannot run
code. The binary version is records of label byte(s) + 3072 pixel bytes (1024 R, 1024 G, 1024 B,
each a row-major 32x32 plane); CIFAR-100's records carry a coarse then a fine label byte.
"""

from __future__ import annotations

import builtins
import codecs
import io
import math
import pickle
import re
from pathlib import Path

import numpy as np

from genlab.core.errors import GenlabError
from genlab.data.dataset import Dataset, image_dataset, one_line

PIXELS = 3 * 32 * 32
_PY10_TRAIN = re.compile(r"^data_batch_(\d+)$")
_BIN10_TRAIN = re.compile(r"^data_batch_(\d+)\.bin$")
_SAFE_BUILTINS = {
    "dict",
    "list",
    "tuple",
    "set",
    "frozenset",
    "bytearray",
    "bytes",
    "str",
    "int",
    "float",
    "complex",
    "bool",
}


def _numpy_constructors() -> dict[tuple[str, str], object]:
    """The numpy callables an array or dtype pickle names, under numpy 1.x and 2.x module paths."""
    try:
        from numpy._core import multiarray, numeric
    except ImportError:  # numpy < 2
        from numpy.core import multiarray, numeric
    allowed = {("numpy", "ndarray"): _ndarray, ("numpy", "dtype"): np.dtype}
    for package in ("numpy.core", "numpy._core"):
        allowed[package + ".multiarray", "_reconstruct"] = multiarray._reconstruct
        allowed[package + ".multiarray", "scalar"] = multiarray.scalar
        allowed[package + ".numeric", "_frombuffer"] = numeric._frombuffer  # protocol 5 arrays
    return allowed


def _ndarray(*args, **kwargs):
    """What a pickle's `numpy.ndarray` becomes: only `_reconstruct`'s first argument. Called
    directly it would allocate whatever shape the pickle names, which no array pickle does."""
    raise pickle.UnpicklingError("numpy.ndarray is called directly, as no array pickle does")


class SafeUnpickler(pickle.Unpickler):
    """Admits builtin containers, numpy array/dtype reconstruction and `_codecs.encode` (which
    protocol-2 pickles use to spell bytes); any other global raises GenlabError. Nothing it builds
    may be larger than the file: the calls that allocate by a size (`bytes(n)`, `bytearray(n)`,
    `_reconstruct`'s shape) are checked against the file's size first."""

    def __init__(self, data: bytes, source: Path):
        # read from memory: a length that an opcode declares is never allocated before it is read
        super().__init__(io.BytesIO(data), encoding="bytes")
        self.source = source
        self.allowed = _numpy_constructors()
        self.most = max(len(data), 1 << 16)

    def _check_size(self, what: str, nbytes: int) -> None:
        if nbytes > self.most:
            raise GenlabError(
                f"{self.source} asks to build {what} of {nbytes:,} bytes, more than the file could "
                f"spell ({self.most:,}); it is not a CIFAR batch: use the real CIFAR files"
            )

    def _sized(self, build):
        def checked(*args):
            if args and isinstance(args[0], int) and not isinstance(args[0], bool):
                self._check_size(f"{build.__name__}({args[0]})", args[0])
            return build(*args)

        return checked

    def _reconstruct(self, real):
        def checked(subtype, shape, dtype):
            if subtype is not _ndarray:
                raise pickle.UnpicklingError(f"an array of type {subtype!r}")
            self._check_size(f"an array of shape {shape}", math.prod(shape) * np.dtype(dtype).itemsize)
            return real(np.ndarray, shape, dtype)

        return checked

    def find_class(self, module: str, name: str):
        module = {"__builtin__": "builtins"}.get(module, module)  # Python 2 pickles
        if module == "builtins" and name in _SAFE_BUILTINS:
            built = getattr(builtins, name)
            return self._sized(built) if name in ("bytes", "bytearray") else built
        if (module, name) == ("_codecs", "encode"):
            return codecs.encode
        if (module, name) in self.allowed:
            found = self.allowed[module, name]
            return self._reconstruct(found) if name == "_reconstruct" else found
        raise GenlabError(
            f"{self.source} asks to build '{module}.{name}', which a CIFAR batch never holds; "
            "genlab refuses to unpickle it: use the real CIFAR files or the binary version"
        )


def _unpickle(path: Path) -> dict:
    """A python batch -> its dict, keys as str (the files were pickled by Python 2 with bytes keys)."""
    try:
        obj = SafeUnpickler(path.read_bytes(), path).load()
    except GenlabError:
        raise
    except Exception as exc:  # a malformed pickle fails in many ways; each means "not a batch"
        raise GenlabError(f"{path} is not a readable CIFAR python batch ({one_line(exc)}); download it again") from exc
    if not isinstance(obj, dict):
        raise GenlabError(f"{path} holds a {type(obj).__name__}, not a CIFAR batch dict; download it again")
    return {k.decode("latin1") if isinstance(k, bytes) else k: v for k, v in obj.items()}


def _python_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """-> (uint8 (N, 3, 32, 32), int64 (N,)); CIFAR-100 batches give their fine labels."""
    batch = _unpickle(path)
    data = batch.get("data")
    labels = batch.get("labels", batch.get("fine_labels"))
    if not (isinstance(data, np.ndarray) and data.dtype == np.uint8 and data.ndim == 2 and data.shape[1] == PIXELS):
        got = f"{data.dtype} {data.shape}" if isinstance(data, np.ndarray) else type(data).__name__
        raise GenlabError(f"{path}: 'data' should be a uint8 (N, {PIXELS}) array but is {got}; download it again")
    labels = np.asarray(labels if labels is not None else [])
    if labels.shape != (len(data),) or labels.dtype.kind not in "iu" or (len(labels) and labels.min() < 0):
        raise GenlabError(
            f"{path}: 'labels' / 'fine_labels' should be {len(data)} integers 0, 1, ...; download it again"
        )
    return data.reshape(-1, 3, 32, 32), labels.astype(np.int64)  # (N, 3, 32, 32): R, G, B planes


def _binary_batch(path: Path, label_bytes: int) -> tuple[np.ndarray, np.ndarray]:
    """-> (uint8 (N, 3, 32, 32), int64 (N,)) from records of label byte(s) + 3072 pixel bytes."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise GenlabError(f"{path} cannot be read ({one_line(exc)}); check the file") from exc
    record = label_bytes + PIXELS
    if not data or len(data) % record:
        raise GenlabError(
            f"{path} holds {len(data)} bytes, not a whole number of {record}-byte CIFAR "
            "records; the file is truncated or of the other CIFAR version, download it again"
        )
    table = np.frombuffer(data, np.uint8).reshape(-1, record)  # (N, label bytes + 3072)
    labels = table[:, label_bytes - 1].astype(np.int64)  # CIFAR-100: the second byte, the fine label
    classes = 10 if label_bytes == 1 else 100
    if labels.max() >= classes:
        raise GenlabError(
            f"{path} holds label {labels.max()}, beyond CIFAR's {classes} classes; "
            "the file is corrupt or of the other CIFAR version, download it again"
        )
    return table[:, label_bytes:].reshape(-1, 3, 32, 32), labels  # (N, 3, 32, 32)


def _numbered(folder: Path, pattern: re.Pattern) -> list[Path]:
    found = [(int(m.group(1)), f) for f in folder.iterdir() if (m := pattern.match(f.name)) and f.is_file()]
    return [f for _, f in sorted(found)]


def _layout(folder: Path) -> tuple[str, list[Path], Path] | None:
    """(version, train files, test file) for a CIFAR folder, None when it looks like none."""
    layouts = [
        ("python", _numbered(folder, _PY10_TRAIN), folder / "test_batch"),
        ("binary", _numbered(folder, _BIN10_TRAIN), folder / "test_batch.bin"),
        ("python", [folder / "train"], folder / "test"),
        ("binary", [folder / "train.bin"], folder / "test.bin"),
    ]
    for version, train, test in layouts:
        if train and all(f.is_file() for f in train):
            return version, train, test
    return None


def is_cifar_folder(folder: Path) -> bool:
    return _layout(folder) is not None


def _label_names(folder: Path, version: str, n_classes: int) -> list[str]:
    """Class names from the folder's meta file when it has enough of them, else "0", "1", ..."""
    names: list = []
    if version == "python":
        for meta, key in (("batches.meta", "label_names"), ("meta", "fine_label_names")):
            if (folder / meta).is_file():
                names = list(_unpickle(folder / meta).get(key) or [])
                break
    else:
        for meta in ("batches.meta.txt", "fine_label_names.txt"):
            if (folder / meta).is_file():
                names = (folder / meta).read_bytes().split()
                break
    names = [n.decode("latin1") if isinstance(n, bytes) else str(n) for n in names]
    return names if len(names) >= n_classes else [str(i) for i in range(n_classes)]


def load_cifar_folder(folder: Path, spec: str) -> Dataset:
    version, train_files, test_file = _layout(folder)
    if not test_file.is_file():
        raise GenlabError(
            f"{folder} has CIFAR training batches but no {test_file.name}; copy the complete CIFAR folder"
        )
    label_bytes = 2 if test_file.name == "test.bin" else 1
    read = _python_batch if version == "python" else lambda f: _binary_batch(f, label_bytes)
    parts = [read(f) for f in train_files]
    x_test, y_test = read(test_file)
    x_train = np.concatenate([x for x, _ in parts])  # (N, 3, 32, 32)
    y_train = np.concatenate([y for _, y in parts])
    n_classes = int(max(y_train.max(), y_test.max())) + 1
    note = (
        f"{len(x_train)} train / {len(x_test)} test: CIFAR's own "
        f"{', '.join(f.name for f in train_files)} and {test_file.name}"
    )
    return image_dataset(spec, x_train, x_test, y_train, y_test, _label_names(folder, version, n_classes), note)
