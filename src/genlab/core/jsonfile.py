"""JSON files genlab reads back (a run's config.json, a pack's manifest), bounded before they are
parsed: their size, and after parsing their nesting depth; every failure is one GenlabError line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from genlab.core.errors import GenlabError

MAX_BYTES = 64 * 2**20
MAX_DEPTH = 16  # genlab's own files nest 5 levels at most


def depth(obj: Any) -> int:
    """How deeply lists and dicts nest in `obj` (a scalar is 0), without recursion."""
    deepest, stack = 0, [(obj, 1)]
    while stack:
        item, level = stack.pop()
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else None
        if children is None:
            continue
        deepest = max(deepest, level)
        if level <= MAX_DEPTH:  # deeper than that is refused anyway: no need to walk it all
            stack.extend((child, level + 1) for child in children)
    return deepest


def read_json(path: Path, fix: str, max_bytes: int = MAX_BYTES) -> Any:
    """The parsed contents of `path`; GenlabError "PATH ...; FIX" when it is too large, unreadable,
    not JSON or nested deeper than MAX_DEPTH."""
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise GenlabError(
                f"{path} is {size:,} bytes, more than the {max_bytes // 2**20} MB such a file can be; {fix}"
            )
        obj = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError) as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        why = "nested too deeply" if isinstance(exc, RecursionError) else " ".join(str(exc).split())
        raise GenlabError(f"{path} is not readable JSON ({why}); {fix}") from None
    if depth(obj) > MAX_DEPTH:
        raise GenlabError(f"{path} nests lists or objects deeper than {MAX_DEPTH} levels; {fix}")
    return obj
