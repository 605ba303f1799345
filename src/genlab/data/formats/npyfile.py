"""`.npy` arrays, alone or inside an `.npz`, read with the size their header declares checked first.

numpy's own reader allocates what a header declares before it reads a byte, so a 200-byte file
claiming shape (10**6, 1000, 1000) ends in a MemoryError. Here the header is parsed, object dtypes
are refused (nothing is ever unpickled), and the declared bytes are compared with what the file (or
the .npz member) really holds and with the machine's memory before anything is allocated.
"""

from __future__ import annotations

import math
import os
import zipfile
import zlib
from pathlib import Path
from typing import BinaryIO

import numpy as np

from genlab.core.errors import GenlabError

NPY_MAGIC, ZIP_MAGIC = b"\x93NUMPY", (b"PK\x03\x04", b"PK\x05\x06")


def memory_bytes() -> int:
    """This machine's physical memory: no array genlab loads whole can be larger."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):  # not a POSIX system
        return 1 << 40


def _header(fh: BinaryIO, where: str) -> tuple[tuple[int, ...], bool, np.dtype]:
    """(shape, fortran order, dtype) from an open .npy stream positioned at its start."""
    fmt = np.lib.format
    try:
        version = fmt.read_magic(fh)
        if version == (1, 0):
            shape, fortran, dtype = fmt.read_array_header_1_0(fh)
        elif version == (2, 0):
            shape, fortran, dtype = fmt.read_array_header_2_0(fh)
        else:
            raise ValueError(f"format version {version[0]}.{version[1]}")
    except (ValueError, EOFError, SyntaxError, TypeError) as exc:
        raise GenlabError(
            f"{where} is not a readable .npy array (its header: {' '.join(str(exc).split())}); "
            "save it again with numpy.save / numpy.savez"
        ) from None
    if dtype.hasobject:
        raise GenlabError(
            f"{where} holds Python objects ({dtype}), which genlab never unpickles; save a numeric "
            "(uint8 or float) array"
        )
    return tuple(int(d) for d in shape), bool(fortran), dtype


def check_declared(where: str, shape: tuple[int, ...], dtype: np.dtype, available: int) -> int:
    """The bytes a header declares, GenlabError unless the file holds exactly that many (and the
    machine's memory could)."""
    need = math.prod(shape) * dtype.itemsize
    if need != available:
        raise GenlabError(
            f"{where} declares a {dtype} array of shape {shape} ({need:,} bytes) but holds {available:,} "
            "bytes of data; the file is truncated or corrupt, save it again"
        )
    if need > memory_bytes():
        raise GenlabError(
            f"{where} holds a {need / 2**30:,.1f} GiB array, more than this machine's memory; "
            "pack it in parts (genlab data FOLDER --pack DIR streams image folders)"
        )
    return need


def _read_exact(fh: BinaryIO, shape: tuple[int, ...], fortran: bool, dtype: np.dtype, where: str) -> np.ndarray:
    flat = np.empty(math.prod(shape), dtype)
    view, got = memoryview(flat.view(np.uint8).reshape(-1)), 0
    while got < len(view):
        n = fh.readinto(view[got:])
        if not n:
            raise GenlabError(f"{where} ends before its data does; the file is truncated, save it again")
        got += n
    return flat.reshape(shape, order="F" if fortran else "C")


def npy_layout(path: Path) -> tuple[tuple[int, ...], np.dtype, bool, int]:
    """(shape, dtype, fortran order, data offset) of a .npy file, checked against its size (for memory maps)."""
    with open(path, "rb") as fh:
        shape, fortran, dtype = _header(fh, str(path))
        offset = fh.tell()
    check_declared(str(path), shape, dtype, path.stat().st_size - offset)
    return shape, dtype, fortran, offset


def read_npy(path: Path) -> np.ndarray:
    """A .npy file's array, its declared size checked before it is allocated."""
    with open(path, "rb") as fh:
        shape, fortran, dtype = _header(fh, str(path))
        check_declared(str(path), shape, dtype, path.stat().st_size - fh.tell())
        return _read_exact(fh, shape, fortran, dtype, str(path))


def read_npz(path: Path) -> dict[str, np.ndarray]:
    """Every array of an .npz by name, each member's header checked against the member's size (and
    all of them together against the machine's memory) before anything is allocated."""
    out, total = {}, 0
    try:
        with zipfile.ZipFile(path) as zf:
            for info in zf.infolist():
                if info.is_dir():
                    continue
                key, where = info.filename.removesuffix(".npy"), f"{path} array '{info.filename.removesuffix('.npy')}'"
                with zf.open(info) as fh:
                    shape, fortran, dtype = _header(fh, where)
                    header = fh.tell()
                total += check_declared(where, shape, dtype, info.file_size - header)
                if total > memory_bytes():
                    raise GenlabError(
                        f"{path} holds {total / 2**30:,.1f} GiB of arrays, more than this machine's "
                        "memory; pack the data in parts"
                    )
                with zf.open(info) as fh:
                    _header(fh, where)
                    out[key] = _read_exact(fh, shape, fortran, dtype, where)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, EOFError, OSError, zlib.error) as exc:
        raise GenlabError(
            f"{path} is not a readable .npz file ({' '.join(str(exc).split())}); the file is damaged, "
            "save it again with numpy.savez"
        ) from None
    return out


def read_arrays(path: Path) -> dict[str, np.ndarray]:
    """The arrays of a .npy (named "") or .npz file, told apart by their first bytes, not their name."""
    with open(path, "rb") as fh:
        start = fh.read(6)
    if start.startswith(NPY_MAGIC):
        return {"": read_npy(path)}
    if start[:4] in ZIP_MAGIC:
        return read_npz(path)
    what = "the file is empty" if not start else "it starts with neither the .npy nor the .npz (zip) signature"
    raise GenlabError(f"{path} is not a .npy or .npz file ({what}); save the arrays with numpy.save / numpy.savez")
