"""A compare's family in a child process of its own (started by report/families.py through
core/jobs.py): `python -m genlab.report.family_worker train|evaluate REQUEST`, REQUEST as JSON."""
from __future__ import annotations

import json
import os
import sys

from genlab.core.errors import GenlabError
from genlab.report.compare import evaluate_piece
from genlab.report.families import TrainRequest, train_family


def main(argv: list[str]) -> int:
    """A child: `train REQUEST` or `evaluate REQUEST` (JSON); exit 0, 2 (a user error, its line
    printed), 130 (Ctrl-C) or 1 (a bug, its traceback printed)."""
    from genlab.core import threads

    stage, request = argv[0], json.loads(argv[1])
    threads.apply(request.get("threads"))  # this process's share of the cores (GENLAB_SHARING: the jobs beside it)
    say = lambda line: print(line, flush=True)  # noqa: E731
    try:
        if stage == "train":
            train_family(TrainRequest(**request), say)
        else:
            evaluate_piece(request, say)
    except GenlabError as exc:
        print(f"genlab: error: {exc}", flush=True)
        return 2
    except OSError as exc:  # a file that cannot be read or written, as the command line says it
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"genlab: error: {where}{exc.strerror or exc}", flush=True)
        return 2
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    code = main(sys.argv[1:])
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)  # every file is written and closed: skip the interpreter's teardown (seconds with torch loaded)
