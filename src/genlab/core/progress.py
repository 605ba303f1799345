"""Progress for people: a tqdm bar when stderr is a terminal, nothing (the trainer prints an epoch
line at most every few seconds instead, and the last epoch's) when it goes to a log or a pipe, where
a bar's redraws would fill the file."""

from __future__ import annotations

import sys
from typing import Any

from tqdm import tqdm


def interactive() -> bool:
    """Whether stderr is a terminal, where a bar redraws in place."""
    return sys.stderr.isatty()


def bar(iterable: Any = None, quiet: bool = False, **kw: Any) -> tqdm:
    """A tqdm bar on a terminal; a disabled one (same interface, no output) in a log or with --quiet."""
    return tqdm(iterable, disable=quiet or not interactive(), **kw)


def say(line: str) -> None:
    """A line that does not tear a bar that is running (stderr, like the bars)."""
    tqdm.write(line, file=sys.stderr)
