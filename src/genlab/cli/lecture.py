"""`genlab lecture`: the notes' claims as experiments, on one page (genlab.report.lecture)."""
from __future__ import annotations

import argparse

from genlab.cli.args import say


def cmd_lecture(ns: argparse.Namespace) -> None:
    from genlab.report.lecture import lecture
    from genlab.train.trainer import resolve_device

    lecture(ns.out, quick=ns.quick, only=ns.only, device=str(resolve_device(ns.device)),
            say=(lambda _: None) if ns.quiet else say)
