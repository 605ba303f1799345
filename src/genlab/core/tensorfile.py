"""Cached tensors (safetensors files genlab writes for itself: feature networks, the FID Inception
weights) stored with a SHA-256 of their contents and checked when read: a damaged cache file is
reported as such (`DamagedFile`), never a parser traceback and never used."""

from __future__ import annotations

import hashlib
import os

import torch

from genlab.core.errors import GenlabError
from genlab.core.fsutil import atomic_write_with

DIGEST_KEY = "tensors_sha256"


class DamagedFile(GenlabError):
    """A cache file that cannot be parsed, or whose tensors do not match their recorded SHA-256."""


def tensors_digest(state: dict[str, torch.Tensor]) -> str:
    """SHA-256 over every tensor's name, dtype, shape and bytes, in name order."""
    digest = hashlib.sha256()
    for key in sorted(state):
        t = state[key].detach().cpu().contiguous()
        digest.update(f"{key}\0{t.dtype}\0{tuple(t.shape)}\0".encode())
        digest.update(t.reshape(-1).view(torch.uint8).numpy().data)
    return digest.hexdigest()


def save_verified(path: str | os.PathLike, state: dict[str, torch.Tensor], metadata: dict[str, str]) -> None:
    """Write `state` atomically with its digest in the metadata."""
    from safetensors.torch import save_file

    meta = {**metadata, DIGEST_KEY: tensors_digest(state)}
    atomic_write_with(path, lambda tmp: save_file(state, str(tmp), metadata=meta))


def read_metadata(path: str | os.PathLike) -> dict[str, str]:
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(str(path), "pt") as fh:
            return dict(fh.metadata() or {})
    except (SafetensorError, OSError, ValueError, RuntimeError) as exc:
        raise DamagedFile(f"{path} is not a readable safetensors file ({_one_line(exc)})") from None


def load_verified(path: str | os.PathLike) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """(tensors, metadata) of a file written by `save_verified`; DamagedFile when it cannot be read or
    its tensors differ from the digest (a file without a digest, from an older genlab, is read as it is)."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    meta = read_metadata(path)
    try:
        state = load_file(str(path))
    except (SafetensorError, OSError, ValueError, RuntimeError) as exc:
        raise DamagedFile(f"{path} is not a readable safetensors file ({_one_line(exc)})") from None
    if DIGEST_KEY in meta and tensors_digest(state) != meta[DIGEST_KEY]:
        raise DamagedFile(f"{path} does not match its recorded SHA-256 (the file is damaged)")
    return state, meta


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__
