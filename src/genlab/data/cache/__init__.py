"""Where genlab keeps what it builds or trains once and reuses: `$GENLAB_CACHE`, by default
`~/.cache/genlab` (feature networks, Inception weights, fetched data sets, the built-in speech and
emoji sets), and how downloaded files get there: download.py (verified, resumable downloads, which
metrics/ uses for the Inception weights) and fetch.py (the standard data sets of `genlab fetch`)."""

from __future__ import annotations

import os
from pathlib import Path


CACHE_ENV = "GENLAB_CACHE"


def cache_dir() -> Path:
    return Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "genlab")
