"""Verified, resumable downloads: the only code in genlab that opens a network connection, and only
`genlab fetch` calls it.

A download goes to `NAME.part` beside its target; a cut connection leaves the part, and the next
call asks the server for the rest (HTTP Range) and appends. Nothing past the pinned size is ever
written: a server that sends more is cut off there. A part that has reached the pinned size is
checked against the pinned size and SHA-256 and renamed into place, or deleted on a mismatch: a
server that lies about lengths cannot make the same download fail forever. A server that stalls
(fewer than STALL_BYTES in STALL_S seconds, or silence) is given up on with the part kept.

A mirror (`--mirror` or $GENLAB_MIRROR) replaces the host and folder of every URL and keeps the
file name: an http(s):// URL, a file:// URL or a plain folder path (an offline copy of the files).
"""

from __future__ import annotations

import hashlib
import http.client
import os
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from genlab.core.errors import GenlabError

MIRROR_ENV = "GENLAB_MIRROR"
BLOCK = 1 << 20
STALL_S = 60.0  # a connection that delivers fewer than STALL_BYTES in this many seconds has stalled
STALL_BYTES = 64 * 1024


@dataclass(frozen=True)
class Pinned:
    """A file known by name, size in bytes (None: not published) and SHA-256."""

    name: str
    size: int | None
    sha256: str
    url: str = ""


def _one_line(text: object) -> str:
    return " ".join(str(text).split())


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
        raise GenlabError(
            f"{path}: {size:,} bytes, but {pinned.name} has {pinned.size:,}; the file is incomplete or another file"
        )
    found = file_sha256(path)
    if found != pinned.sha256:
        raise GenlabError(
            f"{path}: SHA-256 {found} is not the published {pinned.sha256} of {pinned.name}; "
            f"the file is damaged or tampered with"
        )


def matches_pinned(path: Path, pinned: Pinned) -> bool:
    try:
        check_pinned(path, pinned)
    except GenlabError:
        return False
    return True


def mirror_base(mirror: str | None = None) -> str | Path | None:
    """The mirror to use (`mirror`, else $GENLAB_MIRROR): an http(s) URL without its trailing slash,
    a local folder (from file:// or a plain path), or None; GenlabError naming it when it is neither."""
    where = "--mirror"
    if not mirror:
        mirror, where = os.environ.get(MIRROR_ENV), f"${MIRROR_ENV}"
    if not mirror:
        return None
    fix = (
        f"give an http:// or https:// URL, a file:// URL or a folder holding the files "
        f"(e.g. {where} https://host/datasets/ or {where} /media/usb/genlab-files)"
    )
    try:
        parts = urllib.parse.urlsplit(mirror)
        if parts.scheme in ("http", "https"):
            if not parts.hostname:
                raise ValueError("no host")
            parts.port  # noqa: B018  (raises ValueError for a port that is not a number)
            return mirror.rstrip("/")
    except ValueError as exc:
        raise GenlabError(f"{where} {mirror!r} is not a valid URL ({_one_line(exc)}); {fix}") from None
    if parts.scheme == "file":
        if parts.netloc not in ("", "localhost"):
            raise GenlabError(f"{where} {mirror!r} names another machine; a file:// mirror is a local folder: {fix}")
        folder = Path(urllib.request.url2pathname(parts.path))
    elif parts.scheme:
        raise GenlabError(f"{where} {mirror!r} uses {parts.scheme}://, which genlab does not fetch from; {fix}")
    else:
        folder = Path(mirror).expanduser()
    if not folder.is_dir():
        raise GenlabError(f"{where} {mirror!r} is neither a URL nor an existing folder; {fix}")
    return folder


def source_url(pinned: Pinned, mirror: str | None = None) -> str:
    base = mirror_base(mirror)
    if base is None:
        return pinned.url
    return (base / pinned.name).as_uri() if isinstance(base, Path) else f"{base}/{pinned.name}"


def download(pinned: Pinned, target: Path, mirror: str | None = None, quiet: bool = True) -> Path:
    """Fetch `pinned` to `target` (resuming `target.part`), verify it, rename it into place."""
    base = mirror_base(mirror)
    target.parent.mkdir(parents=True, exist_ok=True)
    part = target.with_name(target.name + ".part")
    if isinstance(base, Path):
        where = str(base / pinned.name)
        _copy_local(base / pinned.name, part, pinned)
    else:
        where = f"{base}/{pinned.name}" if base else pinned.url
        if not _part_is_whole(part, pinned):
            _fetch_http(where, part, pinned, quiet)
    try:
        check_pinned(part, pinned)
    except GenlabError as exc:
        part.unlink(missing_ok=True)
        raise GenlabError(f"{exc}; the partial download was removed (downloaded from {where})") from None
    os.replace(part, target)
    return target


def _part_is_whole(part: Path, pinned: Pinned) -> bool:
    """True when a part left by an earlier call already holds the whole file (a server that
    announced more than it sent); a part as long as the file but wrong, or longer, is removed."""
    if pinned.size is None or not part.exists() or part.stat().st_size < pinned.size:
        return False
    if part.stat().st_size == pinned.size and matches_pinned(part, pinned):
        return True
    part.unlink()
    return False


def _copy_local(source: Path, part: Path, pinned: Pinned) -> None:
    """Copy a mirror folder's file (at most the pinned size) into the part."""
    if not source.is_file():
        raise GenlabError(
            f"the mirror folder {source.parent} has no {pinned.name}; copy the file there "
            f"(it is published at {pinned.url or 'its source'})"
        )
    size = source.stat().st_size
    if pinned.size is not None and size != pinned.size:
        raise GenlabError(
            f"{source}: {size:,} bytes, but {pinned.name} has {pinned.size:,}; the mirror's copy is "
            f"incomplete or another file"
        )
    with open(source, "rb") as src, open(part, "wb") as out:
        while block := src.read(BLOCK):
            out.write(block)
        out.flush()
        os.fsync(out.fileno())


class _Stalled(Exception):
    pass


def _fetch_http(url: str, part: Path, pinned: Pinned, quiet: bool) -> None:
    """Append what the server sends to `part`, never past the pinned size; GenlabError (the part
    kept) when the connection fails, stalls or closes early."""
    from tqdm import tqdm

    have = part.stat().st_size if part.exists() else 0
    request = urllib.request.Request(url, headers={"Range": f"bytes={have}-"} if have else {})
    try:
        with urllib.request.urlopen(request, timeout=STALL_S) as response:
            if have and (
                response.status != 206 or not (response.headers.get("Content-Range") or "").startswith(f"bytes {have}-")
            ):  # the server ignored the range: take the whole file
                have = 0
            with (
                open(part, "ab" if have else "wb") as out,
                tqdm(
                    total=pinned.size,
                    initial=have,
                    unit="B",
                    unit_scale=True,
                    desc=pinned.name,
                    disable=quiet,
                    leave=False,
                ) as bar,
            ):
                written, window_start, window_bytes = have, time.monotonic(), 0
                while block := response.read1(BLOCK):
                    if pinned.size is not None and written + len(block) >= pinned.size:
                        out.write(block[: pinned.size - written])  # the rest is not the file: never stored
                        written = pinned.size
                        break
                    out.write(block)
                    written += len(block)
                    bar.update(len(block))
                    window_bytes += len(block)
                    if time.monotonic() - window_start >= STALL_S:
                        if window_bytes < STALL_BYTES:
                            raise _Stalled()
                        window_start, window_bytes = time.monotonic(), 0
                out.flush()
                os.fsync(out.fileno())
            if written != pinned.size and response.length:  # announced bytes never received: the server hung up
                raise ConnectionError(f"the connection closed {response.length:,} bytes before the end")
    except _Stalled:
        raise GenlabError(
            f"download of {url} stalled (under {STALL_BYTES // 1024} KB in {STALL_S:g} s){_kept(part)}; "
            f"a faster mirror (--mirror) may help"
        ) from None
    except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:  # HTTPError is a URLError
        why = getattr(exc, "reason", None) or exc
        if isinstance(why, TimeoutError) or "timed out" in str(why):
            why = f"no data for {STALL_S:g} s"
        raise GenlabError(f"download of {url} failed: {_one_line(why)}{_kept(part)}") from None


def _kept(part: Path) -> str:
    if not part.exists() or not part.stat().st_size:
        return ""
    return f"; {part.stat().st_size:,} bytes kept: run the same command again to resume"
