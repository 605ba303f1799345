"""`genlab serve`: the web page."""

from __future__ import annotations

import argparse


def cmd_serve(ns: argparse.Namespace) -> None:
    from genlab.serve.server import serve

    serve(ns.runs, ns.host, ns.port, ns.allow_remote, say=print, threads=ns.threads)
