"""Verified, resumable downloads: the only code in genlab that opens a network connection, and only
`genlab fetch` calls it.

A download goes to `NAME.part` beside its target; a cut connection leaves the part, and the next
call asks the server for the rest (HTTP Range) and appends. The finished file is checked against
its pinned size and SHA-256 before it is renamed into place: on a mismatch the part is deleted and
nothing is kept. A mirror (`--mirror URL` or $GENLAB_MIRROR) replaces the host and folder of every
URL and keeps the file name.
"""
from __future__ import annotations

import hashlib
import os
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from genlab.core.errors import GenlabError

MIRROR_ENV = "GENLAB_MIRROR"
BLOCK = 1 << 20
TIMEOUT_S = 60


@dataclass(frozen=True)
class Pinned:
    """A file known by name, size in bytes (None: not published) and SHA-256."""

    name: str
    size: int | None
    sha256: str
    url: str = ""


def file_sha256(path: str | os.PathLike) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(BLOCK):
            digest.update(block)
    return digest.hexdigest()


def check_pinned(path: Path, pinned: Pinned) -> None:
    """GenlabError unless `path` has the pinned size and SHA-256 (the size first: no hashing of a
    file that cannot match)."""
    size = path.stat().st_size
    if pinned.size is not None and size != pinned.size:
        raise GenlabError(f"{path}: {size:,} bytes, but {pinned.name} has {pinned.size:,}; the file is "
                          f"incomplete or another file")
    found = file_sha256(path)
    if found != pinned.sha256:
        raise GenlabError(f"{path}: SHA-256 {found} is not the published {pinned.sha256} of {pinned.name}; "
                          f"the file is damaged or tampered with")


def source_url(pinned: Pinned, mirror: str | None = None) -> str:
    mirror = mirror or os.environ.get(MIRROR_ENV)
    return f"{mirror.rstrip('/')}/{pinned.name}" if mirror else pinned.url


def download(pinned: Pinned, target: Path, mirror: str | None = None, quiet: bool = True) -> Path:
    """Fetch `pinned` to `target` (resuming `target.part`), verify it, rename it into place."""
    from tqdm import tqdm

    url = source_url(pinned, mirror)
    target.parent.mkdir(parents=True, exist_ok=True)
    part = target.with_name(target.name + ".part")
    have = part.stat().st_size if part.exists() else 0
    if pinned.size is not None and have >= pinned.size:
        have = 0  # a complete (or too long) part that failed before: start again
    request = urllib.request.Request(url, headers={"Range": f"bytes={have}-"} if have else {})
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:
            if have and response.status != 206:  # the server ignored the range: take the whole file
                have = 0
            with open(part, "ab" if have else "wb") as out, \
                    tqdm(total=pinned.size, initial=have, unit="B", unit_scale=True, desc=pinned.name,
                         disable=quiet, leave=False) as bar:
                while block := response.read(BLOCK):
                    out.write(block)
                    bar.update(len(block))
                out.flush()
                os.fsync(out.fileno())
            if response.length:  # http.client's count of announced bytes never received: the server hung up
                raise ConnectionError(f"the connection closed {response.length:,} bytes before the end")
    except (urllib.error.URLError, OSError) as exc:  # HTTPError is a URLError; a cut connection an OSError
        kept = f"; {part.stat().st_size:,} bytes kept: run the same command again to resume" if part.exists() else ""
        raise GenlabError(f"download of {url} failed: {getattr(exc, 'reason', None) or exc}{kept}") from None
    try:
        check_pinned(part, pinned)
    except GenlabError as exc:
        part.unlink(missing_ok=True)
        raise GenlabError(f"{exc}; the partial download was removed (downloaded from {url})") from None
    os.replace(part, target)
    return target
