"""`genlab lecture`: the notes' claims as experiments, on one page (genlab.report.lecture)."""

from __future__ import annotations

import argparse

from genlab.cli.args import say
from genlab.core.errors import GenlabError


def cmd_lecture(ns: argparse.Namespace) -> None:
    from genlab.report.lecture import lecture
    from genlab.train.trainer import resolve_device

    if ns.jobs is not None and ns.jobs < 1:
        raise GenlabError(f"--jobs must be at least 1, not {ns.jobs}")
    lecture(
        ns.out,
        quick=ns.quick,
        only=ns.only,
        device=str(resolve_device(ns.device)),
        say=(lambda _: None) if ns.quiet else say,
        jobs=ns.jobs,
    )
