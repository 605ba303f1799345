"""`genlab fetch`: the only verb that downloads (the FID Inception weights, the data sets)."""

from __future__ import annotations

import argparse

from genlab.core.errors import GenlabError


def cmd_fetch(ns: argparse.Namespace) -> None:
    if ns.what == "inception":
        from genlab.metrics.inception_weights import fetch_inception

        path = fetch_inception(ns.source, mirror=ns.mirror, quiet=ns.quiet)
        print(f"stored the FID Inception weights in {path}")
        return
    from genlab.data.cache.fetch import DATASETS, fetch_dataset

    if ns.what not in DATASETS:
        raise GenlabError(f"cannot fetch {ns.what!r}: choose inception or one of {', '.join(DATASETS)}")
    if ns.source:
        raise GenlabError("--from imports the Inception weights only; data sets are downloaded (use --mirror)")
    folder = fetch_dataset(ns.what, mirror=ns.mirror, quiet=ns.quiet)
    print(f"{ns.what} is in {folder}; use it as the data spec `{ns.what}`")
