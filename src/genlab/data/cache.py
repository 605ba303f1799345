"""Where genlab keeps what it builds or trains once and reuses: `$GENLAB_CACHE`, by default
`~/.cache/genlab` (feature networks, the built-in speech set)."""
from __future__ import annotations

import os
from pathlib import Path


def cache_dir() -> Path:
    return Path(os.environ.get("GENLAB_CACHE") or Path.home() / ".cache" / "genlab")
