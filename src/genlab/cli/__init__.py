"""The `genlab` command: parse flags, call the library, turn GenlabError into exit code 2.

`parser.py` declares every verb, from the options several verbs share (`options.py`, each declared
once) and the config dataclasses as flags (`config_flags.py`); each group of verbs has its module,
imported only when used:
`train.py` (train, --resume), `use.py` (sample, complete, interpolate), `evaluate.py` (evaluate,
compare, demo), `data.py`, `serve.py`, `fetch.py` (the only verb that downloads), `fid.py`,
`lecture.py`; `args.py` holds what they share, `completion.py` and
`audio.py` what `complete` writes for images and for sound.
"""

from __future__ import annotations

import importlib
import os
import sys
from typing import Sequence

from genlab.cli.parser import build_parser
from genlab.core import threads
from genlab.core.errors import GenlabError

VERBS = {
    "train": "train",
    "sample": "use",
    "complete": "use",
    "interpolate": "use",
    "evaluate": "evaluate",
    "compare": "evaluate",
    "demo": "evaluate",
    "data": "data",
    "serve": "serve",
    "fetch": "fetch",
    "fid": "fid",
    "lecture": "lecture",
}  # verb -> its module
OWN_THREADS = ("train", "serve")  # verbs that choose their thread count from their own work (trainer, page jobs)
INTERRUPTED = {  # what Ctrl-C leaves behind, for the verbs that leave something to continue from
    "train": "the last checkpoint is kept (continue with --resume)",
    "fetch": "what was downloaded so far is kept: run the same command again to continue",
    "data": "nothing was written (a pack in progress is removed): run the command again",
    "compare": "the families that finished are kept in --out/runs, and the same command again keeps them and trains "
    "the others",
}


def one_line(message: object) -> str:
    """An error message as the one line the command line prints."""
    return " ".join(part.strip() for part in str(message).splitlines() if part.strip())


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    ns = None
    try:
        ns = build_parser().parse_args(argv)
        ns.argv = argv  # `train --nproc N` starts N copies of this very command
        if ns.command not in OWN_THREADS:
            threads.apply(getattr(ns, "threads", None))  # the policy: this process's share of the cores
        verb = importlib.import_module(f"genlab.cli.{VERBS[ns.command]}")  # only the verb's module is imported
        getattr(verb, f"cmd_{ns.command}")(ns)
        return 0
    except GenlabError as exc:
        if str(exc) and os.environ.get("RANK", "0") == "0":  # one line, from rank 0 of a distributed run
            print(f"genlab: error: {one_line(exc)}", file=sys.stderr)
        return exc.exit_code
    except OSError as exc:  # a file the user named cannot be read or written
        where = f"{exc.filename}: " if exc.filename else ""
        print(
            f"genlab: error: {where}{one_line(exc.strerror or exc)}; check the path and its permissions",
            file=sys.stderr,
        )
        return 2
    except KeyboardInterrupt:
        left = INTERRUPTED.get(getattr(ns, "command", None))
        print(f"genlab: interrupted{'; ' + left if left else ''}", file=sys.stderr)
        return 130
