"""Regenerate the README's demo section: run `genlab demo` (unless --demo names a finished one),
copy its key pictures to docs/demo/ and write its metrics table into README.md.

Run it as `scripts/dev.sh readme [--demo DIR]`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from genlab.cli import main as genlab
from genlab.core.errors import GenlabError
from genlab.report.readme import update_readme

ROOT = Path(__file__).resolve().parent.parent


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--demo", help="a finished demo folder to take the figures from (default: run the demo into demo/)")
    ns = p.parse_args()
    demo = Path(ns.demo) if ns.demo else ROOT / "demo"
    if ns.demo is None and genlab(["demo", "--out", str(demo)]) != 0:
        return 2
    try:
        update_readme(ROOT / "README.md", demo, ROOT / "docs" / "demo")
    except GenlabError as exc:
        print(f"readme: error: {exc}", file=sys.stderr)
        return 2
    print(f"README.md and docs/demo/ now show the demo in {demo}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
